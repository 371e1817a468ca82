//! What the public sees of an incident: the GeoReport request and its updates, built from the
//! incident card without any author data.

use chrono::{DateTime, SecondsFormat, Utc};
use otklik_core::model::{
    Answer, AnswerKind, AnswerState, Channel, Event, IncidentDetail, Message, RejectReason, RevisionKind,
};
use otklik_core::status::Status;
use otklik_core::workflow::Catalog;

use super::render::Val;
use super::services;

/// Channels whose messages the public may track: the citizen wrote to us directly, through a
/// form meant for public tracking. Social-network posts are never republished here.
pub const PUBLIC_CHANNELS: [Channel; 2] = [Channel::Open311, Channel::Web];

pub fn is_public(channel: Channel) -> bool {
    PUBLIC_CHANNELS.contains(&channel)
}

/// GeoReport's two states. A published final answer settles the request for the citizen, so
/// `answered` is closed as well as `closed` and `rejected`.
pub fn is_closed(status: Status) -> bool {
    matches!(status, Status::Answered | Status::Closed | Status::Rejected)
}

pub fn open_closed(status: Status) -> &'static str {
    if is_closed(status) { "closed" } else { "open" }
}

/// The statuses behind `open` or `closed`.
pub fn statuses_of(closed: bool) -> Vec<Status> {
    Status::ALL.iter().copied().filter(|s| is_closed(*s) == closed).collect()
}

/// The Russian note for a status, as shown to the citizen.
pub fn status_note(status: Status, reject: Option<RejectReason>) -> String {
    let s = match status {
        Status::New => "Обращение зарегистрировано",
        Status::Moderated => "Обращение проверено оператором и ожидает передачи исполнителю",
        Status::Assigned => "Обращение передано ответственной организации",
        Status::InWork => "Обращение в работе у ответственной организации",
        Status::Review => "Подготовлен ответ, он проходит проверку",
        Status::Rework => "Ответ дорабатывается",
        Status::Approved => "Ответ утверждён и готовится к публикации",
        Status::Answered => "Ответ опубликован",
        Status::Closed => "Обращение закрыто",
        Status::Deferred => "Рассмотрение отложено",
        Status::WaitingCitizen => "Заявителю направлен уточняющий вопрос",
        Status::Rejected => {
            let why = match reject {
                Some(RejectReason::NotIncident) => ": не является обращением",
                Some(RejectReason::Spam) => ": спам или реклама",
                Some(RejectReason::Obscene) => ": недопустимое содержание",
                Some(RejectReason::NotCompetent) => ": вопрос вне компетенции органов власти",
                Some(RejectReason::Duplicate) => ": повторное обращение",
                Some(RejectReason::Other) | None => "",
            };
            return format!("Обращение отклонено{why}");
        }
    };
    s.to_string()
}

/// The reason of a `reject` event: its note starts with the reason code (the comment after it is
/// the operator's and stays internal).
fn reject_reason(e: &Event) -> Option<RejectReason> {
    let note = e.note.as_deref()?;
    RejectReason::parse(note.split(':').next().unwrap_or(note).trim())
}

/// The status an event moved the incident to, if it changed the status.
pub fn status_change(e: &Event) -> Option<(Option<Status>, Status)> {
    let c = e.changes.iter().find(|c| c.field == "status")?;
    let after = Status::parse(c.after.as_str()?)?;
    let before = c.before.as_str().and_then(Status::parse);
    Some((before, after))
}

/// Formats an instant as a W3C date-time in the zone of the incident's territory, or in UTC.
pub fn w3c(at: DateTime<Utc>, zone: Option<chrono_tz::Tz>) -> String {
    match zone {
        Some(z) => at.with_timezone(&z).to_rfc3339_opts(SecondsFormat::Secs, false),
        None => at.to_rfc3339_opts(SecondsFormat::Secs, true),
    }
}

/// The zone of a known territory; none when the territory is unknown (then dates are in UTC).
pub fn zone_of(catalog: &Catalog, territory: Option<&str>) -> Option<chrono_tz::Tz> {
    let t = catalog.hierarchy.territory(territory?)?;
    t.zone.parse().ok()
}

/// The message the public request shows: the first one from the incident's own public channel.
fn public_message(d: &IncidentDetail) -> Option<&Message> {
    d.messages.iter().find(|m| m.body.channel == d.incident.channel)
}

/// The citizen's text as it stands now: a deleted message shows nothing, an edited one its edit.
/// For Open311 the submitted `description` field, without the location we appended for analysis.
fn public_text(m: &Message) -> Option<String> {
    if let Some(rev) = m.revisions.last() {
        return match rev.kind {
            RevisionKind::Delete => None,
            RevisionKind::Edit => rev.text.clone(),
        };
    }
    if m.body.channel == Channel::Open311 {
        return raw_str(&m.body.raw, &["description"]);
    }
    // The web form appends the address to the text; it has a field of its own here.
    let mut text = m.body.text.as_str();
    if let Some(a) = raw_str(&m.body.raw, &["address"]) {
        text = text.strip_suffix(a.as_str()).and_then(|t| t.strip_suffix("\n\nАдрес: ")).unwrap_or(text);
    }
    Some(text.trim().to_string()).filter(|t| !t.is_empty())
}

fn raw_str(raw: &serde_json::Value, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| match raw.get(*k)? {
        serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

/// A coordinate from the top level of the payload (Open311) or its `point` (the web form).
fn raw_coordinate(raw: &serde_json::Value, keys: &[&str], limit: f64) -> Option<f64> {
    let text = raw_str(raw, keys).or_else(|| raw.get("point").and_then(|p| raw_str(p, keys)))?;
    let v: f64 = text.trim().parse().ok()?;
    (v.is_finite() && v.abs() <= limit).then_some(v)
}

/// A link the public can follow: absolute http(s) as is, a path of this server (uploaded photos)
/// made absolute with `base`; anything else is not shown.
fn public_url(url: &str, base: &str) -> Option<String> {
    if url.starts_with("https://") || url.starts_with("http://") {
        Some(url.to_string())
    } else if url.starts_with('/') && !url.starts_with("//") {
        Some(format!("{base}{url}"))
    } else {
        None
    }
}

/// The latest published answer.
fn published_answer(answers: &[Answer]) -> Option<&Answer> {
    answers.iter().filter(|a| a.state == AnswerState::Published).max_by_key(|a| (a.published_at, a.id))
}

/// `status_notes`: the status in Russian, then the text of the latest published answer.
fn notes(status: Status, reject: Option<RejectReason>, answer: Option<&Answer>) -> String {
    let mut n = status_note(status, reject);
    if let Some(a) = answer {
        n.push_str("\n\n");
        if a.kind == AnswerKind::Intermediate {
            n.push_str("Промежуточный ответ: ");
        }
        n.push_str(&a.text);
    }
    n
}

fn date_ru(at: DateTime<Utc>, zone: Option<chrono_tz::Tz>) -> String {
    match zone {
        Some(z) => at.with_timezone(&z).format("%d.%m.%Y").to_string(),
        None => at.format("%d.%m.%Y").to_string(),
    }
}

/// The deadline the citizen may expect: resolution, else the first answer.
pub fn expected(d: &IncidentDetail) -> Option<DateTime<Utc>> {
    d.incident.resolution_due.or(d.incident.first_answer_due)
}

/// What the organisation promises, in Russian, when a deadline runs.
pub fn service_notice(due: Option<DateTime<Utc>>, zone: Option<chrono_tz::Tz>) -> Option<String> {
    due.map(|d| format!("Срок рассмотрения обращения — до {}", date_ru(d, zone)))
}

/// One GeoReport request. Author fields (names, e-mail, phone, account) are never part of it.
/// `base` (scheme and host) makes this server's own file links absolute.
pub fn request(catalog: &Catalog, d: &IncidentDetail, base: &str) -> Val {
    let inc = &d.incident;
    let zone = zone_of(catalog, inc.territory.as_deref());
    let service = inc.category.as_deref().and_then(|c| services::service_of(&catalog.categories, c));
    let service_name = service
        .as_ref()
        .map(|s| s.node.name.clone())
        .or_else(|| inc.category.as_deref().and_then(|c| catalog.categories.get(c)).map(|c| c.name.clone()));
    let reject = d.history.iter().rev().find(|e| e.action == "reject").and_then(reject_reason);
    let updated = d.history.iter().filter(|e| status_change(e).is_some()).map(|e| e.at).max().unwrap_or(inc.created_at);
    let agency = inc.org.as_deref().map(|o| catalog.hierarchy.org(o).map(|o| o.name.clone()).unwrap_or(o.to_string()));
    let msg = public_message(d);
    let raw = msg.map(|m| &m.body.raw).unwrap_or(&serde_json::Value::Null);
    // A rejected message may be spam or abuse: its content is not republished.
    let hidden = inc.status == Status::Rejected;
    let description = if hidden { None } else { msg.and_then(public_text) };
    let media =
        if hidden { None } else { msg.and_then(|m| m.body.attachments.iter().find_map(|a| public_url(&a.url, base))) };
    let due = expected(d);
    Val::Obj(vec![
        ("service_request_id", Val::str(inc.id.to_string())),
        ("status", Val::str(open_closed(inc.status))),
        ("status_notes", Val::str(notes(inc.status, reject, published_answer(&d.answers)))),
        ("service_name", Val::opt_str(service_name)),
        ("service_code", Val::opt_str(service.map(|s| s.node.code.clone()))),
        ("description", Val::opt_str(description)),
        ("agency_responsible", Val::opt_str(agency)),
        ("service_notice", Val::opt_str(if is_closed(inc.status) { None } else { service_notice(due, zone) })),
        ("requested_datetime", Val::str(w3c(inc.created_at, zone))),
        ("updated_datetime", Val::str(w3c(updated, zone))),
        ("expected_datetime", Val::opt_str(due.map(|d| w3c(d, zone)))),
        ("address", Val::opt_str(raw_str(raw, &["address_string", "address"]))),
        ("address_id", Val::opt_str(raw_str(raw, &["address_id"]))),
        ("zipcode", Val::opt_str(raw_str(raw, &["zipcode"]))),
        ("lat", Val::opt_float(raw_coordinate(raw, &["lat"], 90.0))),
        ("long", Val::opt_float(raw_coordinate(raw, &["long", "lon"], 180.0))),
        ("media_url", Val::opt_str(media)),
    ])
}

/// One update of the servicerequestupdates extension, with the instant it sorts by.
#[derive(Debug, Clone)]
pub struct Update {
    pub at: DateTime<Utc>,
    pub event_id: i64,
    pub val: Val,
}

/// The public updates of an incident: one per status change after intake, within `[from, to]`.
pub fn updates(
    catalog: &Catalog,
    d: &IncidentDetail,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    base: &str,
) -> Vec<Update> {
    let inc = &d.incident;
    let zone = zone_of(catalog, inc.territory.as_deref());
    d.history
        .iter()
        .filter(|e| e.at >= from && e.at <= to)
        .filter_map(|e| {
            let (before, after) = status_change(e)?;
            // Intake is the request itself, not an update of it.
            before?;
            let reject = if after == Status::Rejected { reject_reason(e) } else { None };
            // The answer this event published, if it published one.
            let answer = e
                .changes
                .iter()
                .filter(|c| c.after.as_str() == Some(AnswerState::Published.as_str()))
                .filter_map(|c| c.field.strip_prefix("answer.")?.strip_suffix(".state")?.parse::<i64>().ok())
                .find_map(|id| d.answers.iter().find(|a| a.id == id));
            let media = answer.and_then(|a| a.attachments.iter().find_map(|x| public_url(&x.url, base)));
            Some(Update {
                at: e.at,
                event_id: e.id,
                val: Val::Obj(vec![
                    ("update_id", Val::str(e.id.to_string())),
                    ("service_request_id", Val::str(inc.id.to_string())),
                    ("status", Val::str(open_closed(after))),
                    ("updated_datetime", Val::str(w3c(e.at, zone))),
                    ("description", Val::str(notes(after, reject, answer))),
                    ("media_url", Val::opt_str(media)),
                ]),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answered_closed_and_rejected_are_closed() {
        let closed: Vec<&str> = statuses_of(true).iter().map(|s| s.as_str()).collect();
        assert_eq!(closed, vec!["answered", "closed", "rejected"]);
        assert_eq!(statuses_of(false).len() + 3, Status::ALL.len());
        assert_eq!(open_closed(Status::WaitingCitizen), "open");
    }

    #[test]
    fn dates_carry_their_offset() {
        let at = DateTime::parse_from_rfc3339("2026-03-02T06:00:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(w3c(at, Some(chrono_tz::Europe::Moscow)), "2026-03-02T09:00:00+03:00");
        assert_eq!(w3c(at, None), "2026-03-02T06:00:00Z");
    }

    #[test]
    fn rejection_names_its_reason_but_not_the_comment() {
        assert_eq!(status_note(Status::Rejected, Some(RejectReason::Spam)), "Обращение отклонено: спам или реклама");
        let e = Event {
            id: 1,
            incident_id: 1,
            at: Utc::now(),
            actor_id: None,
            actor: "x".into(),
            action: "reject".into(),
            changes: vec![],
            note: Some("duplicate: см. № 12, звонил Иванов".into()),
        };
        assert_eq!(reject_reason(&e), Some(RejectReason::Duplicate));
    }
}
