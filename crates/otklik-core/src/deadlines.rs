//! Deadline policies: which targets apply to an incident (by channel, category or sub-topic,
//! urgency, kind) and the due instants they give, counted on the working-time calendar.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::calendar::{ProductionCalendar, WorkingHours, add_working_time};
use crate::model::{Channel, Kind};
use crate::reference::validate_code;

/// An amount of time in a policy: `24h` and `30d` are calendar time, `9wh` working hours, `7wd`
/// working days (of the organisation's full daily working time), `90m` calendar minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Span {
    Minutes(i64),
    Hours(i64),
    Days(i64),
    WorkingHours(i64),
    WorkingDays(i64),
}

impl TryFrom<String> for Span {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        let t = s.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (n, unit) = t.split_at(split);
        let n: i64 = n.parse().map_err(|_| format!("`{s}` is not an amount like 24h, 30d, 9wh or 7wd"))?;
        if n <= 0 || n > 100_000 {
            return Err(format!("`{s}`: the amount must be between 1 and 100000"));
        }
        Ok(match unit {
            "m" => Span::Minutes(n),
            "h" => Span::Hours(n),
            "d" => Span::Days(n),
            "wh" => Span::WorkingHours(n),
            "wd" => Span::WorkingDays(n),
            _ => return Err(format!("`{s}`: the unit must be m, h, d, wh or wd")),
        })
    }
}

impl From<Span> for String {
    fn from(s: Span) -> String {
        match s {
            Span::Minutes(n) => format!("{n}m"),
            Span::Hours(n) => format!("{n}h"),
            Span::Days(n) => format!("{n}d"),
            Span::WorkingHours(n) => format!("{n}wh"),
            Span::WorkingDays(n) => format!("{n}wd"),
        }
    }
}

/// Where and how time is counted for one incident.
#[derive(Debug, Clone, Copy)]
pub struct Clockwork<'a> {
    pub zone: chrono_tz::Tz,
    pub hours: &'a WorkingHours,
    pub calendar: &'a ProductionCalendar,
}

impl Clockwork<'_> {
    /// Working time between two instants, in whole seconds.
    pub fn working_seconds(&self, a: DateTime<Utc>, b: DateTime<Utc>) -> i64 {
        crate::calendar::working_time_between(a, b, self.zone, self.hours, self.calendar).num_seconds()
    }
}

impl Span {
    /// The instant this span after `t`.
    pub fn after(&self, t: DateTime<Utc>, c: &Clockwork<'_>) -> DateTime<Utc> {
        match *self {
            Span::Minutes(n) => t + Duration::minutes(n),
            Span::Hours(n) => t + Duration::hours(n),
            Span::Days(n) => t + Duration::days(n),
            Span::WorkingHours(n) => add_working_time(t, Duration::hours(n), c.zone, c.hours, c.calendar),
            Span::WorkingDays(n) => add_working_time(t, c.hours.daily_total() * n as i32, c.zone, c.hours, c.calendar),
        }
    }
}

/// A deadline policy; the most specific matching one applies, ties broken by priority.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeadlinePolicy {
    pub code: String,
    /// Conditions: each given list must contain the incident's value.
    #[serde(default)]
    pub channels: Vec<Channel>,
    /// Category codes; each matches itself and everything below it.
    #[serde(default)]
    pub categories: Vec<String>,
    #[serde(default)]
    pub kinds: Vec<Kind>,
    #[serde(default)]
    pub urgent: Option<bool>,
    #[serde(default)]
    pub priority: i32,
    /// Time to the first answer (intermediate or final).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub first_answer: Option<Span>,
    /// An absolute cap on the first answer, whatever the working time (e.g. 24h).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub first_answer_cap: Option<Span>,
    /// Time to the final answer after an intermediate one was published.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub final_after_intermediate: Option<Span>,
    /// Time to resolution from the incident's start.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub resolution: Option<Span>,
    /// Take the first answer and resolution from the sub-topic's `form_days` (web forms).
    #[serde(default)]
    pub form_days: bool,
    /// Time the curator has to review a submitted answer.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub review: Option<Span>,
    /// Formal appeals (59-ФЗ): registration, redirect to the competent body, one extension.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub registration: Option<Span>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub redirect_within: Option<Span>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub extension: Option<Span>,
    /// Whether a redirect to another organisation starts the clock again.
    #[serde(default = "yes")]
    pub restart_on_redirect: bool,
}

fn yes() -> bool {
    true
}

/// What selection looks at.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PolicyQuery<'a> {
    pub channel: Option<Channel>,
    pub category: Option<&'a str>,
    pub kind: Option<Kind>,
    pub urgent: bool,
}

fn category_matches(rule: &str, incident: &str) -> bool {
    incident == rule || incident.strip_prefix(rule).is_some_and(|rest| rest.starts_with('.'))
}

impl DeadlinePolicy {
    fn matches(&self, q: &PolicyQuery<'_>) -> bool {
        (self.channels.is_empty() || q.channel.is_some_and(|c| self.channels.contains(&c)))
            && (self.categories.is_empty()
                || q.category.is_some_and(|ic| self.categories.iter().any(|c| category_matches(c, ic))))
            && (self.kinds.is_empty() || q.kind.is_some_and(|k| self.kinds.contains(&k)))
            && self.urgent.is_none_or(|u| u == q.urgent)
    }

    fn specificity(&self) -> u32 {
        let depth = self.categories.iter().map(|c| c.split('.').count() as u32).max().unwrap_or(0);
        depth * 10
            + u32::from(!self.channels.is_empty())
            + u32::from(!self.kinds.is_empty())
            + u32::from(self.urgent.is_some())
    }

    /// Due instants of a new incident: (first answer, resolution).
    pub fn initial(
        &self,
        start: DateTime<Utc>,
        form_days: Option<u32>,
        c: &Clockwork<'_>,
    ) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
        if self.form_days
            && let Some(d) = form_days
        {
            let due = start + Duration::days(i64::from(d));
            return (Some(due), Some(due));
        }
        let first = self.first_answer.map(|s| s.after(start, c));
        let cap = self.first_answer_cap.map(|s| s.after(start, c));
        let first = match (first, cap) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        (first, self.resolution.map(|s| s.after(start, c)))
    }

    /// Formal appeals (59-ФЗ): the registration and the redirect deadlines from the start.
    pub fn formal(&self, start: DateTime<Utc>, c: &Clockwork<'_>) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
        (self.registration.map(|s| s.after(start, c)), self.redirect_within.map(|s| s.after(start, c)))
    }

    /// Due instant of the final answer once an intermediate answer went out at `at`.
    pub fn after_intermediate(&self, at: DateTime<Utc>, c: &Clockwork<'_>) -> Option<DateTime<Utc>> {
        self.final_after_intermediate.map(|s| s.after(at, c))
    }
}

/// The policy that applies: the most specific match, then the higher priority, then the first.
pub fn select<'p>(policies: &'p [DeadlinePolicy], q: &PolicyQuery<'_>) -> Option<&'p DeadlinePolicy> {
    policies
        .iter()
        .enumerate()
        .filter(|(_, p)| p.matches(q))
        .max_by(|(i, a), (j, b)| a.specificity().cmp(&b.specificity()).then(a.priority.cmp(&b.priority)).then(j.cmp(i)))
        .map(|(_, p)| p)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[serde(default)]
    policy: Vec<DeadlinePolicy>,
}

/// Parses a policies file (references are checked with the rest of the reference data).
pub fn parse_policy_file(file: &str, text: &str) -> Result<Vec<DeadlinePolicy>, crate::reference::ReferenceError> {
    Ok(toml::from_str::<PolicyFile>(text)
        .map_err(|e| crate::reference::ReferenceError {
            file: file.into(),
            line: e.span().map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1),
            message: e.message().to_string(),
        })?
        .policy)
}

/// Checks codes and category references; the error carries the offending policy's code.
pub fn validate_policies(
    policies: &[DeadlinePolicy],
    category_exists: impl Fn(&str) -> bool,
) -> Result<(), (String, String)> {
    let mut seen = std::collections::HashSet::new();
    for p in policies {
        let fail = |m: String| Err((p.code.clone(), m));
        if let Err(m) = validate_code(&p.code) {
            return fail(m);
        }
        if !seen.insert(p.code.as_str()) {
            return fail(format!("duplicate deadline policy `{}`", p.code));
        }
        if let Some(c) = p.categories.iter().find(|c| !category_exists(c)) {
            return fail(format!("policy `{}` names the unknown category `{c}`", p.code));
        }
        if p.first_answer.is_none() && p.first_answer_cap.is_none() && p.resolution.is_none() && !p.form_days {
            return fail(format!("policy `{}` sets no deadline", p.code));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const PRESETS: &str = include_str!("../../../data/reference/deadlines.toml");

    fn clock(hours: &WorkingHours) -> Clockwork<'_> {
        Clockwork { zone: chrono_tz::Europe::Moscow, hours, calendar: ProductionCalendar::russia() }
    }

    fn msk(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        chrono_tz::Europe::Moscow.with_ymd_and_hms(y, m, d, h, min, 0).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn spans_parse_and_print() {
        for s in ["24h", "30d", "9wh", "7wd", "90m"] {
            assert_eq!(String::from(Span::try_from(s.to_string()).unwrap()), s);
        }
        for bad in ["", "h", "0h", "-3h", "9x", "1.5h", "9 wh"] {
            assert!(Span::try_from(bad.to_string()).is_err(), "{bad}");
        }
    }

    #[test]
    fn presets_follow_the_regulations() {
        let ps = parse_policy_file("deadlines.toml", PRESETS).unwrap();
        validate_policies(&ps, |_| true).unwrap();
        let hours = WorkingHours::default();
        let c = clock(&hours);
        let vk = PolicyQuery {
            channel: Some(Channel::Vk),
            category: Some("roads"),
            kind: Some(Kind::Complaint),
            urgent: false,
        };
        let social = select(&ps, &vk).unwrap();
        // Friday 16:00: 9 working hours run to Monday 16:00, but the 24-hour cap comes first.
        let (first, _) = social.initial(msk(2026, 3, 6, 16, 0), None, &c);
        assert_eq!(first, Some(msk(2026, 3, 7, 16, 0)));
        // Tuesday 09:00: nine working hours end at 18:00, within the cap.
        assert_eq!(social.initial(msk(2026, 3, 3, 9, 0), None, &c).0, Some(msk(2026, 3, 3, 18, 0)));
        // After an intermediate answer: a final one within 7 working days (9 March 2026 is a
        // day off: 8 March fell on a Sunday).
        assert_eq!(social.after_intermediate(msk(2026, 3, 3, 10, 0), &c), Some(msk(2026, 3, 13, 10, 0)));
        // Urgent: 4 hours.
        let urgent = select(&ps, &PolicyQuery { urgent: true, ..vk }).unwrap();
        assert_eq!(urgent.initial(msk(2026, 3, 6, 23, 0), None, &c).0, Some(msk(2026, 3, 7, 3, 0)));
        // Web form: the sub-topic's days.
        let web = select(&ps, &PolicyQuery { channel: Some(Channel::Web), ..vk }).unwrap();
        assert_eq!(
            web.initial(msk(2026, 3, 3, 9, 0), Some(10), &c),
            (Some(msk(2026, 3, 13, 9, 0)), Some(msk(2026, 3, 13, 9, 0)))
        );
        // Formal appeals: 30 days, extendable once by 30.
        let formal = select(&ps, &PolicyQuery { channel: Some(Channel::Email), ..vk }).unwrap();
        assert_eq!(formal.initial(msk(2026, 3, 3, 9, 0), None, &c).1, Some(msk(2026, 4, 2, 9, 0)));
        assert_eq!(formal.extension, Some(Span::Days(30)));
        assert_eq!(formal.registration, Some(Span::Days(3)));
    }

    #[test]
    fn the_most_specific_policy_wins() {
        let text = r#"
[[policy]]
code = "any"
first_answer = "10d"

[[policy]]
code = "roads"
categories = ["roads"]
first_answer = "5d"

[[policy]]
code = "potholes"
categories = ["roads.surface.potholes"]
first_answer = "2d"

[[policy]]
code = "potholes-b"
categories = ["roads.surface.potholes"]
first_answer = "1d"
priority = 3
"#;
        let ps = parse_policy_file("p.toml", text).unwrap();
        let q = |c| PolicyQuery { category: Some(c), ..Default::default() };
        assert_eq!(select(&ps, &q("housing")).unwrap().code, "any");
        assert_eq!(select(&ps, &q("roads.bridges")).unwrap().code, "roads");
        assert_eq!(select(&ps, &q("roads.surface.potholes")).unwrap().code, "potholes-b");
        let e = parse_policy_file("p.toml", "[[policy]]\ncode = \"x\"\nfirst_answer = \"9 hours\"\n").unwrap_err();
        assert_eq!(e.line, Some(3), "{e}");
        let none = parse_policy_file("p.toml", "[[policy]]\ncode = \"x\"\n").unwrap();
        assert!(validate_policies(&none, |_| true).unwrap_err().1.contains("sets no deadline"));
        let bad =
            parse_policy_file("p.toml", "[[policy]]\ncode = \"x\"\ncategories = [\"nope\"]\nresolution = \"1d\"\n")
                .unwrap();
        assert!(validate_policies(&bad, |c| c == "roads").unwrap_err().1.contains("unknown category"));
    }
}
