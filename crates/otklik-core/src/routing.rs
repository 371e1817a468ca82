//! Routing rules: which organisation answers an incident, chosen by the most specific matching rule
//! (category or sub-topic, territory, channel, kind), ties broken by priority, with fallbacks to the
//! municipality's administration and then the regional control centre — every decision explained.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::access::Hierarchy;
use crate::model::{Channel, Kind, OrgKind, TerritoryLevel};
use crate::reference::{ReferenceError, validate_code};
use crate::workflow::Catalog;

/// One rule: when every condition given holds, `org` is responsible (with `co_executors`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoutingRule {
    pub code: String,
    /// A category code; matches it and everything below it.
    #[serde(default)]
    pub category: Option<String>,
    /// A territory code; matches it and everything below it.
    #[serde(default)]
    pub territory: Option<String>,
    #[serde(default)]
    pub channel: Option<Channel>,
    #[serde(default)]
    pub kind: Option<Kind>,
    pub org: String,
    #[serde(default)]
    pub co_executors: Vec<String>,
    /// Breaks ties between equally specific rules; higher wins.
    #[serde(default)]
    pub priority: i32,
}

/// What routing looks at.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RouteQuery<'a> {
    pub category: Option<&'a str>,
    pub territory: Option<&'a str>,
    pub channel: Option<Channel>,
    pub kind: Option<Kind>,
}

/// The decision and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RouteDecision {
    pub org: String,
    pub co_executors: Vec<String>,
    /// The rule that decided, if a rule did (fallbacks have none).
    pub rule: Option<String>,
    /// A sentence for the incident's history.
    pub explanation: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    #[serde(default)]
    rule: Vec<RoutingRule>,
}

/// Parses a rules file without checking its references.
pub fn parse_rule_file(file: &str, text: &str) -> Result<Vec<RoutingRule>, ReferenceError> {
    Ok(toml::from_str::<RuleFile>(text)
        .map_err(|e| ReferenceError {
            file: file.into(),
            line: e.span().map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1),
            message: e.message().to_string(),
        })?
        .rule)
}

/// Parses and validates a rules file against the reference data; errors name the file and line.
pub fn parse_rules(file: &str, text: &str, catalog: &Catalog) -> Result<Vec<RoutingRule>, ReferenceError> {
    let rules = parse_rule_file(file, text)?;
    validate_rules(&rules, catalog).map_err(|(code, message)| ReferenceError {
        file: file.into(),
        line: text
            .lines()
            .position(|l| l.trim_start().starts_with("code") && l.contains(&format!("\"{code}\"")))
            .map(|i| i + 1),
        message,
    })?;
    Ok(rules)
}

/// Checks codes and references; the error carries the offending rule's code.
pub fn validate_rules(rules: &[RoutingRule], catalog: &Catalog) -> Result<(), (String, String)> {
    let mut seen = std::collections::HashSet::new();
    for r in rules {
        let fail = |m: String| Err((r.code.clone(), m));
        if let Err(m) = validate_code(&r.code) {
            return fail(m);
        }
        if !seen.insert(r.code.as_str()) {
            return fail(format!("duplicate rule `{}`", r.code));
        }
        for o in std::iter::once(&r.org).chain(&r.co_executors) {
            if catalog.hierarchy.org(o).is_none() {
                return fail(format!("rule `{}` points at the missing organisation `{o}`", r.code));
            }
        }
        if r.co_executors.contains(&r.org) {
            return fail(format!("rule `{}` names `{}` as lead and co-executor", r.code, r.org));
        }
        if let Some(t) = &r.territory
            && catalog.hierarchy.territory(t).is_none()
        {
            return fail(format!("rule `{}` names the unknown territory `{t}`", r.code));
        }
        if let Some(c) = &r.category
            && !catalog.categories.contains_key(c)
        {
            return fail(format!("rule `{}` names the unknown category `{c}`", r.code));
        }
    }
    Ok(())
}

fn category_matches(rule: &str, incident: &str) -> bool {
    incident == rule || incident.strip_prefix(rule).is_some_and(|rest| rest.starts_with('.'))
}

/// How specific a rule is: deeper categories and territories, and each extra condition, count.
fn specificity(r: &RoutingRule, h: &Hierarchy) -> u32 {
    let category = r.category.as_deref().map_or(0, |c| c.split('.').count() as u32);
    let territory = r.territory.as_deref().and_then(|t| h.territory(t)).map_or(0, |t| match t.level {
        TerritoryLevel::Region => 1,
        TerritoryLevel::Municipality => 2,
        TerritoryLevel::Settlement => 3,
    });
    // Category and territory weigh most; channel and kind refine within them.
    category * 10 + territory * 10 + u32::from(r.channel.is_some()) + u32::from(r.kind.is_some())
}

fn describe(r: &RoutingRule) -> String {
    let mut parts = vec![];
    if let Some(c) = &r.category {
        parts.push(format!("тема {c}"));
    }
    if let Some(t) = &r.territory {
        parts.push(format!("территория {t}"));
    }
    if let Some(c) = r.channel {
        parts.push(format!("канал {c}"));
    }
    if let Some(k) = r.kind {
        parts.push(format!("вид {k}"));
    }
    if parts.is_empty() { "любое обращение".into() } else { parts.join(", ") }
}

/// Chooses the responsible organisation.
pub fn route(rules: &[RoutingRule], q: &RouteQuery<'_>, h: &Hierarchy) -> Option<RouteDecision> {
    let matching: Vec<&RoutingRule> = rules
        .iter()
        .filter(|r| r.category.as_deref().is_none_or(|c| q.category.is_some_and(|ic| category_matches(c, ic))))
        .filter(|r| r.territory.as_deref().is_none_or(|t| q.territory.is_some_and(|it| h.territory_within(it, t))))
        .filter(|r| r.channel.is_none_or(|c| q.channel == Some(c)))
        .filter(|r| r.kind.is_none_or(|k| q.kind == Some(k)))
        .collect();
    if let Some(best) = matching.iter().copied().max_by(|a, b| {
        specificity(a, h)
            .cmp(&specificity(b, h))
            .then(a.priority.cmp(&b.priority))
            // Equal in everything: the first rule in the file wins (max_by keeps the last maximum).
            .then(b.code.cmp(&a.code))
    }) {
        let others = matching.len() - 1;
        return Some(RouteDecision {
            org: best.org.clone(),
            co_executors: best.co_executors.clone(),
            rule: Some(best.code.clone()),
            // Shown to operators, so in Russian.
            explanation: format!(
                "правило «{}» ({}), самое точное из подходящих: {}",
                best.code,
                describe(best),
                others + 1
            ),
        });
    }
    let (region, municipality) = q.territory.map(|t| h.region_and_municipality(t)).unwrap_or_default();
    if let Some(m) = &municipality
        && let Some(o) = h.orgs_at(m).into_iter().find(|o| o.kind == OrgKind::Administration)
    {
        return Some(RouteDecision {
            org: o.code.clone(),
            co_executors: vec![],
            rule: None,
            explanation: format!("ни одно правило не подошло: администрация муниципального образования «{m}»"),
        });
    }
    if let Some(r) = &region
        && let Some(o) = h.orgs_at(r).into_iter().find(|o| o.kind == OrgKind::RegionalCentre)
    {
        return Some(RouteDecision {
            org: o.code.clone(),
            co_executors: vec![],
            rule: None,
            explanation: format!("ни одно правило не подошло, администрации нет: региональный центр «{r}»"),
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Category, Organisation, Territory};
    use crate::reference::ReferenceData;

    fn catalog() -> Catalog {
        let t = |code: &str, level, parent: Option<&str>| Territory {
            code: code.into(),
            name: code.into(),
            full_name: code.into(),
            level,
            parent: parent.map(Into::into),
            zone: "Europe/Moscow".into(),
            oktmo: None,
            aliases: vec![],
        };
        let o = |code: &str, kind, territory: &str| Organisation {
            code: code.into(),
            name: code.into(),
            kind,
            territory: territory.into(),
            parent: None,
            sectors: vec![],
            working_hours: None,
        };
        let c = |code: &str| Category { code: code.into(), name: code.into(), photo_required: false, form_days: None };
        Catalog::new(&ReferenceData {
            territories: vec![
                t("lip", TerritoryLevel::Region, None),
                t("gryazi", TerritoryLevel::Municipality, Some("lip")),
                t("gryazi-town", TerritoryLevel::Settlement, Some("gryazi")),
                t("yelets", TerritoryLevel::Municipality, Some("lip")),
            ],
            organisations: vec![
                o("cur", OrgKind::RegionalCentre, "lip"),
                o("adm-gryazi", OrgKind::Administration, "gryazi"),
                o("roads", OrgKind::Ministry, "lip"),
                o("roads-gryazi", OrgKind::Agency, "gryazi"),
                o("gzhi", OrgKind::Agency, "lip"),
                o("ok-smm", OrgKind::Agency, "lip"),
            ],
            categories: vec![c("roads"), c("roads.surface"), c("roads.surface.potholes"), c("housing")],
            sources: vec![],
            routing: vec![],
            deadlines: vec![],
        })
    }

    const RULES: &str = r#"
[[rule]]
code = "roads-region"
category = "roads"
territory = "lip"
org = "roads"

[[rule]]
code = "potholes-gryazi"
category = "roads.surface.potholes"
territory = "gryazi"
org = "roads-gryazi"
co_executors = ["adm-gryazi"]

[[rule]]
code = "housing-a"
category = "housing"
org = "gzhi"

[[rule]]
code = "housing-b"
category = "housing"
org = "adm-gryazi"
priority = 5

[[rule]]
code = "ok-channel"
category = "housing"
channel = "ok"
org = "ok-smm"
"#;

    fn q<'a>(category: &'a str, territory: &'a str) -> RouteQuery<'a> {
        RouteQuery { category: Some(category), territory: Some(territory), channel: Some(Channel::Vk), kind: None }
    }

    #[test]
    fn the_most_specific_rule_wins_and_priority_breaks_ties() {
        let cat = catalog();
        let rules = parse_rules("routing.toml", RULES, &cat).unwrap();
        let h = &cat.hierarchy;
        let d = route(&rules, &q("roads.surface.potholes", "gryazi-town"), h).unwrap();
        assert_eq!((d.org.as_str(), d.rule.as_deref()), ("roads-gryazi", Some("potholes-gryazi")));
        assert_eq!(d.co_executors, vec!["adm-gryazi".to_string()]);
        assert!(d.explanation.contains("самое точное из подходящих: 2"), "{}", d.explanation);
        assert_eq!(route(&rules, &q("roads.surface", "gryazi"), h).unwrap().org, "roads");
        assert_eq!(route(&rules, &q("roads.surface.potholes", "yelets"), h).unwrap().org, "roads");
        assert_eq!(route(&rules, &q("housing", "yelets"), h).unwrap().rule.as_deref(), Some("housing-b"));
        let ok = RouteQuery { channel: Some(Channel::Ok), ..q("housing", "yelets") };
        assert_eq!(route(&rules, &ok, h).unwrap().org, "ok-smm", "a channel condition is more specific");
    }

    #[test]
    fn fallbacks_go_to_the_administration_then_the_regional_centre() {
        let cat = catalog();
        let h = &cat.hierarchy;
        let d = route(&[], &q("roads", "gryazi-town"), h).unwrap();
        assert_eq!((d.org.as_str(), d.rule.as_deref()), ("adm-gryazi", None));
        assert!(d.explanation.contains("администрация"));
        assert_eq!(route(&[], &q("roads", "yelets"), h).unwrap().org, "cur");
        assert_eq!(route(&[], &q("roads", "lip"), h).unwrap().org, "cur");
        assert_eq!(route(&[], &RouteQuery::default(), h), None, "no territory, no rule: no guess");
    }

    #[test]
    fn bad_rules_are_refused_with_file_and_line() {
        let cat = catalog();
        let bad = RULES.replace("org = \"gzhi\"", "org = \"nobody\"");
        let e = parse_rules("routing.toml", &bad, &cat).unwrap_err();
        assert_eq!(e.line, Some(16), "{e}");
        assert!(e.message.contains("missing organisation `nobody`"), "{e}");
        let e = parse_rules("routing.toml", &RULES.replace("territory = \"gryazi\"", "territory = \"mars\""), &cat)
            .unwrap_err();
        assert!(e.message.contains("unknown territory"), "{e}");
        let e = parse_rules("routing.toml", "[[rule]]\ncode = \"x\"\norg = 5\n", &cat).unwrap_err();
        assert_eq!(e.line, Some(3));
        let dup = format!("{RULES}\n[[rule]]\ncode = \"housing-a\"\norg = \"gzhi\"\n");
        assert!(parse_rules("routing.toml", &dup, &cat).unwrap_err().message.contains("duplicate"));
    }
}
