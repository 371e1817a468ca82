//! The incident workflow: intake of messages and commands on incidents, checked against the status
//! machine and the actor's scope, recorded with their history in one store transaction.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::access::{Actor, Hierarchy};
use crate::error::{DomainError, SplitRefusal, StoreError};
use crate::model::{
    Answer, AnswerKind, AnswerState, Attachment, Category, Channel, Classification, FieldChange, Id, Incident,
    IncidentSeed, IngestOutcome, Kind, MessageRevision, NewEvent, NewMessage, NewNotification, Publication,
    PublicationState, RejectReason, ReworkReason, Source,
};
use crate::reference::ReferenceData;
use crate::status::{self, Action, Status};
use crate::store::{AnswerWrite, Change, MergeInto, NEW_INCIDENT, SplitOff, SplitOutcome, Store};

/// Where time comes from; injectable so tests never sleep.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to.
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn new(at: DateTime<Utc>) -> Self {
        ManualClock(Mutex::new(at))
    }

    pub fn advance(&self, by: chrono::Duration) {
        let mut t = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *t += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Decides kind, category, territory, tonality and urgency of a message text.
pub trait Classifier: Send + Sync + std::fmt::Debug {
    fn classify(&self, text: &str, channel: Channel, source: Option<&Source>) -> Classification;
}

/// The policy that applies to an incident and the due instants it gives from a start.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InitialDeadlines {
    pub policy: Option<String>,
    pub first: Option<DateTime<Utc>>,
    pub resolution: Option<DateTime<Utc>>,
    /// Formal appeals: registration and redirect to the competent body.
    pub registration: Option<DateTime<Utc>>,
    pub redirect: Option<DateTime<Utc>>,
}

/// Tells an organisation it now co-executes an incident.
fn co_executor_notice(id: Id, org: &str) -> NewNotification {
    NewNotification {
        kind: "co_executor_added".into(),
        org: Some(org.to_string()),
        text: format!("№ {id}: вашу организацию привлекли соисполнителем"),
    }
}

/// The new due instants of one unfinished incident, or `None` when nothing moves.
fn recomputed(catalog: &Catalog, r: &crate::store::DeadlineRow) -> Option<crate::store::DeadlineUpdate> {
    let due = |start| {
        catalog.initial_deadlines(
            r.channel,
            r.category.as_deref(),
            r.kind,
            r.urgent,
            r.territory.as_deref(),
            r.org.as_deref(),
            start,
        )
    };
    let from_capture = due(r.created_at);
    let restarted = r.clock_started_at.map(due);
    let d = restarted.as_ref().unwrap_or(&from_capture);
    let policy = catalog.policy(r.deadline_policy.as_deref().or(d.policy.as_deref()));
    let clock = catalog.clockwork(r.territory.as_deref(), r.org.as_deref());
    let mut resolution = d.resolution;
    let mut first = d.first;
    if let Some(answered) = r.first_answered_at {
        // An answered incident keeps the first-answer deadline it had.
        first = r.first_answer_due;
        if let Some(after) = policy.and_then(|p| p.after_intermediate(answered, &clock)) {
            resolution = Some(after);
        }
    }
    // Waiting for the citizen since the clock started does not count, as when resuming.
    let paused = chrono::Duration::seconds(r.paused_seconds.max(0));
    if r.first_answered_at.is_none() {
        first = first.map(|d| d + paused);
    }
    resolution = resolution.map(|d| d + paused);
    if r.extended
        && let (Some(res), Some(ext)) = (resolution, policy.and_then(|p| p.extension))
    {
        resolution = Some(ext.after(res, &clock));
    }
    let (registration, redirect) = (from_capture.registration, from_capture.redirect);
    // Most incidents do not move when the calendar changes: write only those that do.
    if first == r.first_answer_due
        && resolution == r.resolution_due
        && registration == r.registration_due
        && redirect == r.redirect_due
    {
        return None;
    }
    let next_due = crate::model::current_due(r.is_new, registration, r.first_answered_at, first, resolution);
    let start = r.first_answered_at.or(r.clock_started_at).unwrap_or(r.created_at);
    Some(crate::store::DeadlineUpdate {
        id: r.id,
        version: r.version,
        first_answer_due: first,
        resolution_due: resolution,
        registration_due: registration,
        redirect_due: redirect,
        next_due,
        next_warn: next_due
            .filter(|d| r.warned_due != Some(*d) && r.breached_due != Some(*d))
            .map(|d| start.min(d) + (d - start.min(d)) * 4 / 5),
        next_breach: next_due.filter(|d| r.breached_due != Some(*d)),
    })
}

/// Reference data indexed for the workflow; replaced whole when reference data changes.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    pub hierarchy: Hierarchy,
    pub categories: HashMap<String, Category>,
    pub sources: HashMap<(Channel, String), Source>,
    pub routing: Vec<crate::routing::RoutingRule>,
    pub deadlines: Vec<crate::deadlines::DeadlinePolicy>,
    /// Organisations' own working hours.
    pub hours: HashMap<String, crate::calendar::WorkingHours>,
    /// The production calendar: the embedded files overridden by the years stored in the database.
    pub calendar: Arc<crate::calendar::ProductionCalendar>,
}

/// Working hours used where an organisation sets none.
static DEFAULT_HOURS: std::sync::LazyLock<crate::calendar::WorkingHours> =
    std::sync::LazyLock::new(crate::calendar::WorkingHours::default);

impl Catalog {
    /// The time zone of a territory (inherited down the tree; Moscow where nothing is known).
    pub fn zone_of(&self, territory: Option<&str>) -> chrono_tz::Tz {
        territory
            .and_then(|t| self.hierarchy.territory(t))
            .and_then(|t| t.zone.parse().ok())
            .unwrap_or(chrono_tz::Europe::Moscow)
    }

    /// How time is counted for an incident in this territory with this organisation (its working
    /// hours, else the default).
    pub fn clockwork(&self, territory: Option<&str>, org: Option<&str>) -> crate::deadlines::Clockwork<'_> {
        crate::deadlines::Clockwork {
            zone: self.zone_of(territory),
            hours: org.and_then(|o| self.hours.get(o)).unwrap_or(&DEFAULT_HOURS),
            calendar: &self.calendar,
        }
    }

    /// The deadline policy and the due instants of an incident that starts (or restarts) at `start`.
    // One argument per classification field: callers hold them in three different shapes
    // (a new message, an incident, a recomputation row).
    #[allow(clippy::too_many_arguments)]
    pub fn initial_deadlines(
        &self,
        channel: Channel,
        category: Option<&str>,
        kind: Option<Kind>,
        urgent: bool,
        territory: Option<&str>,
        org: Option<&str>,
        start: DateTime<Utc>,
    ) -> InitialDeadlines {
        let q = crate::deadlines::PolicyQuery { channel: Some(channel), category, kind, urgent };
        let Some(p) = crate::deadlines::select(&self.deadlines, &q) else {
            return InitialDeadlines::default();
        };
        let form_days = category.and_then(|c| self.categories.get(c)).and_then(|c| c.form_days);
        let clock = self.clockwork(territory, org);
        let (first, resolution) = p.initial(start, form_days, &clock);
        let (registration, redirect) = p.formal(start, &clock);
        InitialDeadlines { policy: Some(p.code.clone()), first, resolution, registration, redirect }
    }

    /// The new due instants of the rows whose deadlines move under this catalog.
    pub fn deadline_updates(&self, rows: &[crate::store::DeadlineRow]) -> Vec<crate::store::DeadlineUpdate> {
        rows.iter().filter_map(|r| recomputed(self, r)).collect()
    }

    /// The organisation routing proposes; none for a non-incident (it waits for moderation).
    pub fn suggest_route(
        &self,
        category: Option<&str>,
        territory: Option<&str>,
        channel: Channel,
        kind: Option<Kind>,
    ) -> Option<crate::routing::RouteDecision> {
        if kind == Some(Kind::Other) {
            return None;
        }
        let q = crate::routing::RouteQuery { category, territory, channel: Some(channel), kind };
        crate::routing::route(&self.routing, &q, &self.hierarchy)
    }

    /// `initial_deadlines` for an incident's current classification.
    fn incident_deadlines(&self, i: &Incident, start: DateTime<Utc>) -> InitialDeadlines {
        // A non-incident has no clock.
        if i.kind == Some(Kind::Other) {
            return InitialDeadlines::default();
        }
        self.initial_deadlines(
            i.channel,
            i.category.as_deref(),
            i.kind,
            i.urgent,
            i.territory.as_deref(),
            i.org.as_deref(),
            start,
        )
    }

    fn policy(&self, code: Option<&str>) -> Option<&crate::deadlines::DeadlinePolicy> {
        code.and_then(|c| self.deadlines.iter().find(|p| p.code == c))
    }

    pub fn new(data: &ReferenceData) -> Self {
        Catalog {
            hierarchy: Hierarchy::new(&data.territories, &data.organisations),
            categories: data.categories.iter().map(|c| (c.code.clone(), c.clone())).collect(),
            sources: data.sources.iter().map(|s| ((s.channel, s.key.clone()), s.clone())).collect(),
            routing: data.routing.clone(),
            deadlines: data.deadlines.clone(),
            hours: data
                .organisations
                .iter()
                .filter_map(|o| {
                    let h = crate::calendar::WorkingHours::parse(o.working_hours.as_deref()?).ok()?;
                    Some((o.code.clone(), h))
                })
                .collect(),
            calendar: Default::default(),
        }
    }

    /// The same catalog counting working time on this calendar.
    pub fn with_calendar(mut self, calendar: Arc<crate::calendar::ProductionCalendar>) -> Self {
        self.calendar = calendar;
        self
    }
}

/// A command on an incident, as sent by a user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum Command {
    /// Confirm the incident and correct its classification.
    Moderate {
        #[serde(default)]
        kind: Option<Kind>,
        #[serde(default)]
        category: Option<String>,
        #[serde(default)]
        territory: Option<String>,
        #[serde(default)]
        urgent: Option<bool>,
        #[serde(default)]
        note: Option<String>,
    },
    /// Route to the responsible organisation (routing's suggestion when none is given).
    Assign {
        #[serde(default)]
        org: Option<String>,
        #[serde(default)]
        note: Option<String>,
    },
    /// An executor takes the incident into work.
    Take {
        #[serde(default)]
        note: Option<String>,
    },
    /// Send to another organisation, with a reason.
    Redirect {
        org: String,
        reason: String,
    },
    /// Write or rewrite the current answer draft.
    DraftAnswer {
        kind: AnswerKind,
        text: String,
        #[serde(default)]
        attachments: Vec<Attachment>,
    },
    SubmitForReview {
        #[serde(default)]
        note: Option<String>,
    },
    Approve {
        #[serde(default)]
        note: Option<String>,
    },
    ReturnForRework {
        reason: ReworkReason,
        #[serde(default)]
        comment: Option<String>,
    },
    /// Publish the approved answer where the citizen wrote.
    Publish {
        #[serde(default)]
        note: Option<String>,
    },
    Close {
        #[serde(default)]
        note: Option<String>,
    },
    Reopen {
        reason: String,
    },
    Reject {
        reason: RejectReason,
        #[serde(default)]
        comment: Option<String>,
    },
    Defer {
        reason: String,
    },
    Resume {
        #[serde(default)]
        note: Option<String>,
    },
    /// Replace the incident's tags.
    Tag {
        tags: Vec<String>,
    },
    /// Ask the citizen a clarifying question; deadlines pause until `resume`.
    AskCitizen {
        question: String,
    },
    /// This incident duplicates `into`: its messages move there (so the answer reaches every
    /// citizen who wrote), and it is closed as rejected.
    Merge {
        into: Id,
        #[serde(default)]
        note: Option<String>,
    },
    /// One of the incident's messages is about something else: it leaves for a new incident,
    /// classified and routed as a fresh intake of it (deadlines from now). The response's
    /// `Location` names the new incident.
    Split {
        message: Id,
        #[serde(default)]
        note: Option<String>,
    },
    /// The citizen's rating of the answer, 1 (bad) to 5 (good).
    Rate {
        score: u8,
        #[serde(default)]
        comment: Option<String>,
    },
    /// Extends the answer deadline by the policy's `extension`, once (formal appeals).
    Extend {
        reason: String,
    },
    /// Adds an organisation that co-executes; it sees the incident and contributes, the lead answers.
    AddCoExecutor {
        org: String,
        #[serde(default)]
        note: Option<String>,
    },
    RemoveCoExecutor {
        org: String,
    },
    /// A contribution to the answer (what a co-executor did or found), kept in the history.
    Contribute {
        text: String,
    },
}

/// What one deadline sweep announced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    pub warned: usize,
    pub breached: usize,
    /// Breaches raised one more level up the escalation chain.
    pub escalated: usize,
    /// Closed because the citizen did not answer a clarifying question in time.
    pub auto_closed: usize,
}

/// A clarifying question unanswered for this long closes the incident (the domain's rule).
pub const AUTO_CLOSE_AFTER: chrono::Duration = chrono::Duration::days(3);

/// Limits on what intake accepts.
pub const MAX_TEXT_CHARS: usize = 100_000;
const MAX_KEY_LEN: usize = 256;
const SUMMARY_CHARS: usize = 200;
const MAX_NOTE_CHARS: usize = 4_000;
/// Co-executors on one incident (a lead and a few others is the practice).
const MAX_CO_EXECUTORS: usize = 10;

/// What a sender may say about a message beyond the message itself.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct IntakeHints {
    /// A territory code, e.g. from a map point or a form field.
    #[serde(default)]
    pub territory: Option<String>,
    /// A category code chosen by the citizen (web form, Open311).
    #[serde(default)]
    pub category: Option<String>,
}

/// The workflow engine shared by the API, channels and command-line tools.
#[derive(Debug)]
pub struct Workflow {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    catalog: RwLock<Arc<Catalog>>,
    classifier: Option<Arc<dyn Classifier>>,
}

fn json<T: Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

/// Field-by-field difference of two incidents, for the history.
pub fn diff_incidents(before: &Incident, after: &Incident) -> Vec<FieldChange> {
    let (serde_json::Value::Object(b), serde_json::Value::Object(a)) = (json(before), json(after)) else {
        return vec![];
    };
    a.iter()
        .filter(|(k, _)| !matches!(k.as_str(), "version" | "updated_at"))
        .filter_map(|(k, av)| {
            let bv = b.get(k).cloned().unwrap_or(serde_json::Value::Null);
            (bv != *av).then(|| FieldChange { field: k.clone(), before: bv, after: av.clone() })
        })
        .collect()
}

fn check_len(what: &str, s: &str, max: usize) -> Result<(), DomainError> {
    if s.chars().count() > max {
        return Err(DomainError::Validation(format!("{what} is longer than {max} characters")));
    }
    Ok(())
}

fn required(what: &str, s: &str) -> Result<(), DomainError> {
    if s.trim().is_empty() {
        return Err(DomainError::Validation(format!("{what} must not be empty")));
    }
    check_len(what, s, MAX_NOTE_CHARS)
}

/// The opening of a text for lists: whitespace collapsed, cut at a character boundary.
pub fn summarise(text: &str) -> String {
    let mut out = String::new();
    for (i, w) in text.split_whitespace().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(w);
        if out.chars().count() >= SUMMARY_CHARS {
            break;
        }
    }
    if out.chars().count() > SUMMARY_CHARS {
        out = out.chars().take(SUMMARY_CHARS - 1).collect::<String>() + "…";
    }
    out
}

impl Workflow {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, catalog: Catalog) -> Self {
        Workflow { store, clock, catalog: RwLock::new(Arc::new(catalog)), classifier: None }
    }

    pub fn with_classifier(mut self, c: Arc<dyn Classifier>) -> Self {
        self.classifier = Some(c);
        self
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The current reference snapshot.
    pub fn catalog(&self) -> Arc<Catalog> {
        self.catalog.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Rebuilds the snapshot from the store after reference data changed.
    pub async fn reload_catalog(&self) -> Result<(), DomainError> {
        let data = ReferenceData {
            territories: self.store.territories().await?,
            organisations: self.store.organisations().await?,
            categories: self.store.categories().await?,
            sources: self.store.sources().await?,
            routing: self.store.routing_rules().await?,
            deadlines: self.store.deadline_policies().await?,
        };
        let calendar = Arc::new(self.stored_calendar().await?);
        *self.catalog.write().unwrap_or_else(|e| e.into_inner()) =
            Arc::new(Catalog::new(&data).with_calendar(calendar));
        Ok(())
    }

    /// Validates a message and stores it with its new incident (idempotent on channel, source, external id).
    pub async fn ingest(&self, msg: &NewMessage, hints: &IntakeHints) -> Result<IngestOutcome, DomainError> {
        self.ingest_as(&Actor::system(), msg, hints).await
    }

    /// Intake on behalf of an actor: a message that names no place takes the actor's own territory,
    /// and one that lands outside the actor's scope is refused.
    pub async fn ingest_as(
        &self,
        actor: &Actor,
        msg: &NewMessage,
        hints: &IntakeHints,
    ) -> Result<IngestOutcome, DomainError> {
        let now = self.now();
        let seed = self.intake_seed(actor, msg, hints, None, now)?;
        Ok(self.store.ingest(msg, &seed, now).await?)
    }

    /// What intake decides for a message: validation, classification, the territory (a hint, the
    /// text, the source, then `fallback_territory`, then the actor's own), the scope check, the
    /// routing suggestion and the deadlines from `now`.
    fn intake_seed(
        &self,
        actor: &Actor,
        msg: &NewMessage,
        hints: &IntakeHints,
        fallback_territory: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<IncidentSeed, DomainError> {
        required("source", &msg.source)?;
        required("external_id", &msg.external_id)?;
        check_len("source", &msg.source, MAX_KEY_LEN)?;
        check_len("external_id", &msg.external_id, MAX_KEY_LEN)?;
        check_len("author.id", &msg.author.id, MAX_KEY_LEN)?;
        check_len("text", &msg.text, MAX_TEXT_CHARS)?;
        if msg.text.trim().is_empty() && msg.attachments.is_empty() {
            return Err(DomainError::Validation("a message needs text or attachments".into()));
        }
        let catalog = self.catalog();
        let source = catalog.sources.get(&(msg.channel, msg.source.clone()));
        let mut class = match &self.classifier {
            Some(c) => c.classify(&msg.text, msg.channel, source),
            None => Classification::default(),
        };
        if let Some(t) = &hints.territory {
            if catalog.hierarchy.territory(t).is_none() {
                return Err(DomainError::Validation(format!("unknown territory `{t}`")));
            }
            class.territory = Some(t.clone());
        }
        if let Some(c) = &hints.category {
            if !catalog.categories.contains_key(c) {
                return Err(DomainError::Validation(format!("unknown category `{c}`")));
            }
            class.category = Some(c.clone());
        }
        if class.territory.is_none() {
            class.territory = source.and_then(|s| s.territory.clone());
        }
        if class.territory.is_none() {
            class.territory = fallback_territory.map(str::to_string);
        }
        if class.territory.is_none() && !actor.is_admin() {
            class.territory =
                actor.grants.iter().find(|g| !g.role.bound_to_organisation()).and_then(|g| g.node.clone());
        }
        let (region, municipality) = match &class.territory {
            Some(t) => catalog.hierarchy.region_and_municipality(t),
            None => (None, None),
        };
        if !actor.is_admin() {
            let reachable = actor.grants.iter().any(|g| {
                !g.role.bound_to_organisation()
                    && g.node.as_deref().is_some_and(|n| {
                        class.territory.as_deref() == Some(n)
                            || region.as_deref() == Some(n)
                            || municipality.as_deref() == Some(n)
                    })
            });
            if !reachable {
                return Err(DomainError::Validation("the message's territory is outside your scope".into()));
            }
        }
        // Not an incident (chatter, ads, spam): nobody is routed and no clock runs until an
        // operator says otherwise in moderation.
        let incident = class.kind != Some(Kind::Other);
        let decision =
            catalog.suggest_route(class.category.as_deref(), class.territory.as_deref(), msg.channel, class.kind);
        // Counted in the working hours of the organisation routing proposes.
        let due = if incident {
            catalog.initial_deadlines(
                msg.channel,
                class.category.as_deref(),
                class.kind,
                class.urgent,
                class.territory.as_deref(),
                decision.as_ref().map(|d| d.org.as_str()),
                now,
            )
        } else {
            InitialDeadlines::default()
        };
        Ok(IncidentSeed {
            first_answer_due: due.first,
            resolution_due: due.resolution,
            registration_due: due.registration,
            redirect_due: due.redirect,
            deadline_policy: due.policy,
            summary: summarise(&msg.text),
            classification: class,
            region,
            municipality,
            org: None,
            suggested_org: decision.as_ref().map(|d| d.org.clone()),
            route_note: decision.map(|d| d.explanation),
            tags: vec![],
        })
    }

    /// Splits one message out of an incident into a new incident, opened as a fresh intake of
    /// that message would be (classification, routing suggestion, deadlines from now); a message
    /// that names no place keeps the incident's territory. The message's thread then gets the new
    /// incident's answers, not the old one's. Control centres only, never the only message, never
    /// from a finished incident.
    pub async fn split(
        &self,
        actor: &Actor,
        id: Id,
        expected_version: Option<i64>,
        message: Id,
        note: Option<String>,
    ) -> Result<SplitOutcome, DomainError> {
        let before = self.visible_incident(actor, id).await?;
        if let Some(v) = expected_version
            && v != before.version
        {
            return Err(DomainError::Concurrent);
        }
        if before.status.is_terminal() {
            return Err(DomainError::Split(SplitRefusal::Finished));
        }
        self.permitted(actor, &before, Action::Split)?;
        if let Some(n) = &note {
            check_len("note", n, MAX_NOTE_CHARS)?;
        }
        let detail = self.store.incident_detail(id).await?.ok_or(DomainError::NotFound("incident"))?;
        let moved =
            detail.messages.iter().find(|m| m.id == message).ok_or(DomainError::Split(SplitRefusal::NotInIncident))?;
        if detail.messages.len() < 2 {
            return Err(DomainError::Split(SplitRefusal::OnlyMessage));
        }
        let now = self.now();
        let seed = self.intake_seed(actor, &moved.body, &IntakeHints::default(), before.territory.as_deref(), now)?;
        let who = moved.body.author.name.clone().unwrap_or_else(|| moved.body.author.id.clone());
        // The list shows an incident by its first message: when that one leaves, the next speaks.
        let summary = match detail.messages.iter().find(|m| m.id != message) {
            Some(first) if detail.messages.first().is_some_and(|m| m.id == message) => summarise(&first.body.text),
            _ => before.summary.clone(),
        };
        let mut source_changes = vec![];
        if summary != before.summary {
            source_changes.push(FieldChange {
                field: "summary".into(),
                before: json(&before.summary),
                after: json(&summary),
            });
        }
        let extra =
            note.as_deref().map(str::trim).filter(|n| !n.is_empty()).map(|n| format!(": {n}")).unwrap_or_default();
        let event = |action: &str, changes: Vec<FieldChange>, note: String| NewEvent {
            at: now,
            actor_id: actor.user_id,
            actor: actor.name.clone(),
            action: action.into(),
            changes,
            note: Some(note),
        };
        let split = SplitOff {
            incident: id,
            expected_version: before.version,
            message,
            summary,
            at: now,
            event: event(
                Action::Split.as_str(),
                source_changes,
                format!("сообщение {message} ({who}) выделено в обращение № {NEW_INCIDENT}{extra}"),
            ),
            new_event: event(
                "split_from",
                vec![FieldChange {
                    field: "status".into(),
                    before: serde_json::Value::Null,
                    after: json(&Status::New),
                }],
                format!("выделено из обращения № {id}{extra}"),
            ),
            seed,
        };
        self.store.split(&split).await.map_err(|e| match e {
            StoreError::Concurrent => DomainError::Concurrent,
            other => other.into(),
        })
    }

    /// Whether one of the actor's roles over the incident may take the action now.
    fn permitted(&self, actor: &Actor, inc: &Incident, action: Action) -> Result<Status, DomainError> {
        let h = &self.catalog().hierarchy;
        let mut roles = actor.roles_over(inc, h);
        // A co-executor only contributes.
        if roles.is_empty() && action == Action::Contribute && actor.co_executes(inc, h) {
            roles = vec![crate::model::Role::OrgExecutor];
        }
        if roles.is_empty() {
            return Err(match status::transition(inc.status, action) {
                Some(_) => DomainError::ForbiddenAction(action),
                None => DomainError::InvalidTransition { action, from: inc.status },
            });
        }
        let mut outcome = Err(DomainError::ForbiddenAction(action));
        for role in &roles {
            match status::check(inc.status, action, *role) {
                Ok(s) => return Ok(s),
                Err(e @ DomainError::InvalidTransition { .. }) => return Err(e),
                Err(e) => outcome = Err(e),
            }
        }
        outcome
    }

    /// Records a later edit or deletion of a captured message; the original stays.
    pub async fn record_revision(
        &self,
        actor: &Actor,
        channel: Channel,
        source: &str,
        external_id: &str,
        rev: &MessageRevision,
    ) -> Result<Id, DomainError> {
        let (_, incident) =
            self.store.message_by_key(channel, source, external_id).await?.ok_or(DomainError::NotFound("message"))?;
        self.visible_incident(actor, incident).await.map_err(|_| DomainError::NotFound("message"))?;
        if let Some(t) = &rev.text {
            check_len("text", t, MAX_TEXT_CHARS)?;
        }
        self.store.record_revision(channel, source, external_id, rev).await?.ok_or(DomainError::NotFound("message"))
    }

    /// Applies a change the system makes (a sweep's finding) with its notification; `false` when
    /// the incident changed meanwhile (the next sweep looks again).
    async fn apply_system(
        &self,
        before: &Incident,
        after: Incident,
        action: &str,
        note: String,
        notify: Option<String>,
        notice: String,
    ) -> Result<bool, DomainError> {
        let change = Change {
            expected_version: before.version,
            event: NewEvent {
                at: self.now(),
                actor_id: None,
                actor: "system".into(),
                action: action.into(),
                changes: diff_incidents(before, &after),
                note: Some(note),
            },
            notifications: vec![crate::model::NewNotification { kind: action.into(), org: notify, text: notice }],
            incident: after,
            answer: None,
            merge: None,
        };
        match self.store.apply(&change).await {
            Ok(_) => Ok(true),
            Err(StoreError::Concurrent) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Records the deadline warnings (80 % of the allowed time) and breaches that are due now, each
    /// once, as history events. Run periodically; safe to run from several workers at once.
    pub async fn sweep_deadlines(&self, limit: u32) -> Result<SweepReport, DomainError> {
        let now = self.now();
        let mut report = SweepReport::default();
        for (breach, list) in
            [(true, self.store.due_breaches(now, limit).await?), (false, self.store.due_warnings(now, limit).await?)]
        {
            for inc in list {
                let Some(due) = inc.next_due() else { continue };
                let which = if inc.status == crate::status::Status::New && inc.registration_due == Some(due) {
                    "the registration"
                } else if inc.first_answered_at.is_none() {
                    "the first answer"
                } else {
                    "the final answer"
                };
                let mut after = inc.clone();
                after.warned_due = Some(due);
                let (action, note) = if breach {
                    after.breached_due = Some(due);
                    after.escalation_level = 1;
                    // The first step of the escalation chain: the organisation's head.
                    let to = match &inc.org {
                        Some(o) => format!("the head of `{o}`"),
                        None => "the control centre".to_string(),
                    };
                    ("deadline_breached", format!("{which} was due {}; escalated to {to}", due.to_rfc3339()))
                } else {
                    ("deadline_warning", format!("{which} is due {}", due.to_rfc3339()))
                };
                let notice = format!("№ {}: {note}", inc.id);
                if self.apply_system(&inc, after, action, note, inc.org.clone(), notice).await? {
                    if breach {
                        report.breached += 1;
                    } else {
                        report.warned += 1;
                    }
                }
            }
        }
        for inc in self.store.due_escalations(now, limit).await? {
            let catalog = self.catalog();
            let h = &catalog.hierarchy;
            let mut after = inc.clone();
            after.escalation_level = (inc.escalation_level + 1).min(3);
            // Level 2: the municipal centre (or the administration) of the municipality; level 3:
            // the regional centre.
            let to = match after.escalation_level {
                2 => inc.municipality.as_deref().and_then(|m| {
                    let orgs = h.orgs_at(m);
                    orgs.iter()
                        .find(|o| o.kind == crate::model::OrgKind::MunicipalCentre)
                        .or_else(|| orgs.iter().find(|o| o.kind == crate::model::OrgKind::Administration))
                        .map(|o| o.code.clone())
                }),
                _ => inc
                    .region
                    .as_deref()
                    .and_then(|r| h.orgs_at(r).into_iter().find(|o| o.kind == crate::model::OrgKind::RegionalCentre))
                    .map(|o| o.code.clone()),
            };
            let level = if after.escalation_level == 2 { "the municipal centre" } else { "the regional centre" };
            let note = format!(
                "still overdue; escalated to {level}{}",
                to.as_deref().map(|o| format!(" `{o}`")).unwrap_or_default()
            );
            let notice = format!("№ {}: {note}", inc.id);
            let org = to.or_else(|| inc.org.clone());
            if self.apply_system(&inc, after, "deadline_escalated", note, org, notice).await? {
                report.escalated += 1;
            }
        }
        for inc in self.store.waiting_since(now - AUTO_CLOSE_AFTER, limit).await? {
            let status = status::check(inc.status, Action::AutoClose, crate::model::Role::Admin)?;
            let catalog = self.catalog();
            let clock = catalog.clockwork(inc.territory.as_deref(), inc.org.as_deref());
            let mut after = inc.clone();
            after.status = status;
            after.closed_at = Some(now);
            after.updated_at = now;
            after.closure_seconds = Some((now - inc.created_at).num_seconds());
            after.closure_working_seconds = Some(clock.working_seconds(inc.created_at, now));
            let days = AUTO_CLOSE_AFTER.num_days();
            let note = format!("no reply from the citizen for {days} days");
            let notice = format!("№ {}: closed, no reply from the citizen for {days} days", inc.id);
            if self.apply_system(&inc, after, Action::AutoClose.as_str(), note, inc.org.clone(), notice).await? {
                report.auto_closed += 1;
            }
        }
        Ok(report)
    }

    /// Recomputes the due instants of every unfinished incident from its clock start (after a change
    /// of the calendar or of the policies): the capture, or the redirect that restarted the clock;
    /// the first answer for the final one; a granted extension is added again. Returns how many
    /// incidents were updated. Each page is written while the next is read and computed.
    pub async fn recompute_deadlines(&self, batch: u32) -> Result<u64, DomainError> {
        let catalog = self.catalog();
        let mut written = 0;
        let rows = self.store.open_deadline_rows(0, batch).await?;
        let (mut last, mut updates) = (rows.last().map(|r| r.id), catalog.deadline_updates(&rows));
        while let Some(after) = last {
            // The next page is read and computed while this one is written: the store's write
            // runs on its own, so writing, the slowest part, never waits for the computing.
            let write = async { if updates.is_empty() { Ok(0) } else { self.store.update_deadlines(&updates).await } };
            let next = async {
                let rows = self.store.open_deadline_rows(after, batch).await?;
                Ok::<_, StoreError>((rows.last().map(|r| r.id), catalog.deadline_updates(&rows)))
            };
            let (w, next) = futures_util::future::join(write, next).await;
            written += w?;
            (last, updates) = next?;
        }
        Ok(written)
    }

    /// Loads an incident the actor may see; anything else is "not found".
    pub async fn visible_incident(&self, actor: &Actor, id: Id) -> Result<Incident, DomainError> {
        let inc = self.store.incident(id).await?.ok_or(DomainError::NotFound("incident"))?;
        if !actor.can_see(&inc, &self.catalog().hierarchy) {
            return Err(DomainError::NotFound("incident"));
        }
        Ok(inc)
    }

    /// Actions the actor may take on the incident now.
    pub fn allowed_actions(&self, actor: &Actor, inc: &Incident) -> Vec<Action> {
        let h = &self.catalog().hierarchy;
        let roles = actor.roles_over(inc, h);
        if roles.is_empty() && actor.co_executes(inc, h) {
            // A co-executor only contributes.
            return status::allowed_actions(inc.status, &[crate::model::Role::OrgExecutor])
                .into_iter()
                .filter(|a| *a == Action::Contribute)
                .collect();
        }
        status::allowed_actions(inc.status, &roles)
    }

    /// Executes a command: scope, status machine and role checks, then one transactional change.
    pub async fn execute(
        &self,
        actor: &Actor,
        id: Id,
        expected_version: Option<i64>,
        cmd: Command,
    ) -> Result<Incident, DomainError> {
        let catalog = self.catalog();
        let h = &catalog.hierarchy;
        let before = self.visible_incident(actor, id).await?;
        if let Some(v) = expected_version
            && v != before.version
        {
            return Err(DomainError::Concurrent);
        }
        if let Command::Split { message, note } = cmd {
            return Ok(self.split(actor, id, expected_version, message, note).await?.source);
        }
        let answers = self.store.answers(id).await?;
        let current = answers.iter().rev().find(|a| a.is_open()).cloned();
        let action = match &cmd {
            Command::Moderate { .. } => Action::Moderate,
            Command::Assign { .. } => Action::Assign,
            Command::Take { .. } => Action::Take,
            Command::Redirect { .. } => Action::Redirect,
            Command::DraftAnswer { .. } => Action::DraftAnswer,
            Command::SubmitForReview { .. } => Action::SubmitForReview,
            Command::Approve { .. } => Action::Approve,
            Command::ReturnForRework { .. } => Action::ReturnForRework,
            Command::Publish { .. } => match current.as_ref().map(|a| a.kind) {
                Some(AnswerKind::Intermediate) => Action::PublishIntermediate,
                _ => Action::PublishFinal,
            },
            Command::Close { .. } => Action::Close,
            Command::Reopen { .. } => Action::Reopen,
            Command::Reject { .. } => Action::Reject,
            Command::Defer { .. } => Action::Defer,
            Command::Resume { .. } => Action::Resume,
            Command::Tag { .. } => Action::Tag,
            Command::AskCitizen { .. } => Action::AskCitizen,
            Command::Rate { .. } => Action::Rate,
            Command::Extend { .. } => Action::Extend,
            Command::AddCoExecutor { .. } => Action::AddCoExecutor,
            Command::RemoveCoExecutor { .. } => Action::RemoveCoExecutor,
            Command::Contribute { .. } => Action::Contribute,
            Command::Merge { .. } => Action::Merge,
            Command::Split { .. } => Action::Split,
        };
        let next_status = self.permitted(actor, &before, action)?;

        let now = self.now();
        let mut after = before.clone();
        after.status = next_status;
        after.updated_at = now;
        let mut note = None;
        let mut answer_write = None;
        let mut extra_changes = Vec::new();
        let mut merge: Option<MergeInto> = None;
        let mut notifications: Vec<NewNotification> = Vec::new();

        let open_answer = |wanted: &[AnswerState]| -> Result<Answer, DomainError> {
            match &current {
                Some(a) if wanted.contains(&a.state) => Ok(a.clone()),
                Some(a) => Err(DomainError::Conflict(format!("the current answer is {}", a.state))),
                None => Err(DomainError::Conflict("there is no answer to act on".into())),
            }
        };
        let answer_change = |a: &Answer, b: &Answer| FieldChange {
            field: format!("answer.{}.state", b.id),
            before: json(&a.state),
            after: json(&b.state),
        };

        match cmd {
            Command::Moderate { kind, category, territory, urgent, note: n } => {
                if let Some(k) = kind {
                    after.kind = Some(k);
                    if k == Kind::Other {
                        after.category = None;
                    }
                }
                if let Some(c) = category {
                    if !catalog.categories.contains_key(&c) {
                        return Err(DomainError::Validation(format!("unknown category `{c}`")));
                    }
                    after.category = Some(c);
                }
                if let Some(t) = territory {
                    if h.territory(&t).is_none() {
                        return Err(DomainError::Validation(format!("unknown territory `{t}`")));
                    }
                    let (r, m) = h.region_and_municipality(&t);
                    after.territory = Some(t);
                    after.region = r;
                    after.municipality = m;
                }
                if let Some(u) = urgent {
                    after.urgent = u;
                }
                // A corrected classification may change the deadlines, while nothing is answered yet.
                if after.first_answered_at.is_none()
                    && (after.category != before.category
                        || after.urgent != before.urgent
                        || after.kind != before.kind
                        || after.territory != before.territory)
                {
                    let d = catalog.incident_deadlines(&after, after.clock_start());
                    after.deadline_policy = d.policy;
                    after.first_answer_due = d.first;
                    after.resolution_due = d.resolution;
                    // Registration and redirect run from the capture, whatever restarted later.
                    let d = catalog.incident_deadlines(&after, after.created_at);
                    after.registration_due = d.registration;
                    after.redirect_due = d.redirect;
                }
                // A corrected classification may change who should answer.
                if after.org.is_none()
                    && (after.category != before.category
                        || after.territory != before.territory
                        || after.kind != before.kind)
                {
                    let d = catalog.suggest_route(
                        after.category.as_deref(),
                        after.territory.as_deref(),
                        after.channel,
                        after.kind,
                    );
                    after.suggested_org = d.as_ref().map(|d| d.org.clone());
                    after.route_note = d.map(|d| d.explanation);
                }
                // A moderated incident must stay within the moderator's reach.
                if !actor.can_see(&after, h) {
                    return Err(DomainError::Validation("the new territory is outside your scope".into()));
                }
                note = n;
            }
            Command::Assign { org, note: n } => {
                let (org, from_routing) = match org {
                    Some(o) => (o, false),
                    None => (
                        before.suggested_org.clone().ok_or_else(|| {
                            DomainError::Validation("no organisation given and routing suggests none".into())
                        })?,
                        true,
                    ),
                };
                self.route_to(actor, &catalog, &mut after, &org)?;
                // Taking routing's suggestion takes the rule's co-executors with it.
                if from_routing
                    && let Some(d) = catalog.suggest_route(
                        after.category.as_deref(),
                        after.territory.as_deref(),
                        after.channel,
                        after.kind,
                    )
                    && d.org == org
                {
                    for co in d.co_executors.into_iter().filter(|c| *c != org) {
                        if !after.co_orgs.contains(&co) && after.co_orgs.len() < MAX_CO_EXECUTORS {
                            notifications.push(co_executor_notice(id, &co));
                            after.co_orgs.push(co);
                        }
                    }
                }
                note = match (from_routing, n, &before.route_note) {
                    (true, None, Some(why)) => Some(format!("routing: {why}")),
                    (_, n, _) => n,
                };
            }
            Command::Redirect { org, reason } => {
                required("reason", &reason)?;
                if before.org.as_deref() == Some(org.as_str()) {
                    return Err(DomainError::Validation("the incident is already with this organisation".into()));
                }
                self.route_to(actor, &catalog, &mut after, &org)?;
                after.assignee = None;
                // The policy says whether a redirect starts the clock again.
                if after.first_answered_at.is_none()
                    && catalog.policy(after.deadline_policy.as_deref()).is_some_and(|p| p.restart_on_redirect)
                {
                    let d = catalog.incident_deadlines(&after, now);
                    after.first_answer_due = d.first;
                    after.resolution_due = d.resolution;
                    after.clock_started_at = Some(now);
                    after.paused_seconds = 0;
                }
                // A formal appeal must reach the competent body within its term (59-ФЗ): a late
                // redirect is still made, and the history says it was late.
                note = Some(match before.redirect_due {
                    Some(due) if now > due => format!("{reason} (срок переадресации истёк {})", due.format("%d.%m.%Y")),
                    _ => reason,
                });
            }
            Command::Take { note: n } => {
                after.assignee = actor.user_id;
                note = n;
            }
            Command::DraftAnswer { kind, text, attachments } => {
                required("text", &text)?;
                check_len("text", &text, MAX_TEXT_CHARS)?;
                let a = match &current {
                    Some(a) if matches!(a.state, AnswerState::Draft | AnswerState::Returned) => {
                        let mut b = a.clone();
                        b.kind = kind;
                        b.text = text;
                        b.attachments = attachments;
                        b.state = AnswerState::Draft;
                        b.updated_at = now;
                        extra_changes.push(answer_change(a, &b));
                        AnswerWrite::Update { answer: b, new_publications: vec![] }
                    }
                    Some(a) => return Err(DomainError::Conflict(format!("the current answer is {}", a.state))),
                    None => AnswerWrite::Insert(Answer {
                        id: 0,
                        incident_id: id,
                        kind,
                        text,
                        state: AnswerState::Draft,
                        author_id: actor.user_id,
                        reviewer_id: None,
                        return_reason: None,
                        return_comment: None,
                        attachments,
                        created_at: now,
                        updated_at: now,
                        published_at: None,
                        publications: vec![],
                    }),
                };
                answer_write = Some(a);
            }
            Command::SubmitForReview { note: n } => {
                let a = open_answer(&[AnswerState::Draft, AnswerState::Returned])?;
                let mut b = a.clone();
                b.state = AnswerState::Review;
                b.updated_at = now;
                extra_changes.push(answer_change(&a, &b));
                answer_write = Some(AnswerWrite::Update { answer: b, new_publications: vec![] });
                note = n;
            }
            Command::Approve { note: n } => {
                let a = open_answer(&[AnswerState::Review])?;
                let mut b = a.clone();
                b.state = AnswerState::Approved;
                b.reviewer_id = actor.user_id;
                // The last return reason stays on the answer for rework statistics.
                b.updated_at = now;
                extra_changes.push(answer_change(&a, &b));
                answer_write = Some(AnswerWrite::Update { answer: b, new_publications: vec![] });
                note = n;
            }
            Command::ReturnForRework { reason, comment } => {
                if let Some(c) = &comment {
                    check_len("comment", c, MAX_NOTE_CHARS)?;
                }
                if reason == ReworkReason::Other && comment.as_deref().is_none_or(|c| c.trim().is_empty()) {
                    return Err(DomainError::Validation("reason `other` needs a comment".into()));
                }
                let a = open_answer(&[AnswerState::Review, AnswerState::Approved])?;
                let mut b = a.clone();
                b.state = AnswerState::Returned;
                b.reviewer_id = actor.user_id;
                b.return_reason = Some(reason);
                b.return_comment = comment.clone();
                b.updated_at = now;
                extra_changes.push(answer_change(&a, &b));
                answer_write = Some(AnswerWrite::Update { answer: b, new_publications: vec![] });
                note = Some(match comment {
                    Some(c) => format!("{reason}: {c}"),
                    None => reason.to_string(),
                });
            }
            Command::Publish { note: n } => {
                let a = open_answer(&[AnswerState::Approved])?;
                let mut b = a.clone();
                b.state = AnswerState::Published;
                b.published_at = Some(now);
                b.updated_at = now;
                extra_changes.push(answer_change(&a, &b));
                // One outbox entry per channel thread the incident's messages came from.
                let detail = self.store.incident_detail(id).await?.ok_or(DomainError::NotFound("incident"))?;
                let mut pubs: Vec<Publication> = Vec::new();
                for m in &detail.messages {
                    let target = format!("{}:{}", m.body.source, m.body.external_id);
                    if !pubs.iter().any(|p| p.channel == m.body.channel && p.target == target) {
                        pubs.push(Publication {
                            id: 0,
                            channel: m.body.channel,
                            target,
                            message_id: Some(m.id),
                            state: PublicationState::Pending,
                            attempts: 0,
                            last_error: None,
                            next_attempt_at: Some(now),
                            external_id: None,
                            updated_at: now,
                        });
                    }
                }
                answer_write = Some(AnswerWrite::Update { answer: b, new_publications: pubs });
                let clock = catalog.clockwork(after.territory.as_deref(), after.org.as_deref());
                if after.first_answered_at.is_none() {
                    after.first_answered_at = Some(now);
                    // The final answer's clock starts now: earlier waiting no longer shifts it.
                    after.paused_seconds = 0;
                    after.first_answer_seconds = Some((now - after.created_at).num_seconds());
                    after.first_answer_working_seconds = Some(clock.working_seconds(after.created_at, now));
                }
                if action == Action::PublishIntermediate
                    && let Some(due) =
                        catalog.policy(after.deadline_policy.as_deref()).and_then(|p| p.after_intermediate(now, &clock))
                {
                    after.resolution_due = Some(due);
                }
                note = n;
            }
            Command::Close { note: n } => {
                after.closed_at = Some(now);
                let clock = catalog.clockwork(after.territory.as_deref(), after.org.as_deref());
                after.closure_seconds = Some((now - after.created_at).num_seconds());
                after.closure_working_seconds = Some(clock.working_seconds(after.created_at, now));
                note = n;
            }
            Command::Reopen { reason } => {
                required("reason", &reason)?;
                after.closed_at = None;
                note = Some(reason);
            }
            Command::Reject { reason, comment } => {
                if let Some(c) = &comment {
                    check_len("comment", c, MAX_NOTE_CHARS)?;
                }
                after.closed_at = Some(now);
                note = Some(match comment {
                    Some(c) => format!("{reason}: {c}"),
                    None => reason.to_string(),
                });
            }
            Command::Defer { reason } => {
                required("reason", &reason)?;
                note = Some(reason);
            }
            Command::Resume { note: n } => {
                // Time spent waiting for the citizen does not count against the deadlines.
                if let Some(paused) = before.paused_at {
                    let waited = now - paused;
                    after.first_answer_due = after.first_answer_due.map(|d| d + waited);
                    after.resolution_due = after.resolution_due.map(|d| d + waited);
                    after.paused_at = None;
                    after.paused_seconds += waited.num_seconds();
                }
                note = n;
            }
            Command::AskCitizen { question } => {
                required("question", &question)?;
                after.paused_at = Some(now);
                note = Some(question);
            }
            Command::Tag { tags } => {
                let mut clean: Vec<String> =
                    tags.iter().map(|t| t.trim().to_lowercase()).filter(|t| !t.is_empty()).collect();
                clean.sort();
                clean.dedup();
                if clean.len() > 32 || clean.iter().any(|t| t.chars().count() > 64) {
                    return Err(DomainError::Validation("at most 32 tags of at most 64 characters".into()));
                }
                after.tags = clean;
            }
            Command::Merge { into, note: n } => {
                if into == id {
                    return Err(DomainError::Validation("an incident cannot be merged into itself".into()));
                }
                let target = self.visible_incident(actor, into).await?;
                if target.status.is_terminal() {
                    return Err(DomainError::Validation(format!("incident {into} is finished")));
                }
                after.closed_at = Some(now);
                note = Some(match n.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
                    Some(c) => format!("объединено с № {into}: {c}"),
                    None => format!("объединено с № {into}"),
                });
                merge = Some(MergeInto {
                    into,
                    event: NewEvent {
                        at: now,
                        actor_id: actor.user_id,
                        actor: actor.name.clone(),
                        action: "merged".into(),
                        changes: vec![],
                        note: Some(format!("присоединено обращение № {id}")),
                    },
                });
            }
            Command::Extend { reason } => {
                required("reason", &reason)?;
                if let Some(at) = before.extended_at {
                    return Err(DomainError::Conflict(format!(
                        "the deadline was already extended on {}",
                        at.format("%Y-%m-%d")
                    )));
                }
                let ext = catalog
                    .policy(before.deadline_policy.as_deref())
                    .and_then(|p| p.extension)
                    .ok_or_else(|| DomainError::Validation("the deadline policy allows no extension".into()))?;
                let due = before
                    .resolution_due
                    .ok_or_else(|| DomainError::Validation("the incident has no answer deadline to extend".into()))?;
                let clock = catalog.clockwork(after.territory.as_deref(), after.org.as_deref());
                after.resolution_due = Some(ext.after(due, &clock));
                after.extended_at = Some(now);
                note = Some(reason);
            }
            Command::AddCoExecutor { org, note: n } => {
                let o = catalog
                    .hierarchy
                    .org(&org)
                    .ok_or_else(|| DomainError::Validation(format!("unknown organisation `{org}`")))?;
                if !actor.may_route_to(o, h) {
                    return Err(DomainError::Validation(format!("organisation `{org}` is outside your region")));
                }
                if before.org.as_deref() == Some(org.as_str()) {
                    return Err(DomainError::Validation("this organisation already leads the incident".into()));
                }
                if before.co_orgs.contains(&org) {
                    return Err(DomainError::Conflict(format!("`{org}` already co-executes")));
                }
                if before.co_orgs.len() >= MAX_CO_EXECUTORS {
                    return Err(DomainError::Validation(format!("at most {MAX_CO_EXECUTORS} co-executors")));
                }
                notifications.push(co_executor_notice(id, &org));
                after.co_orgs.push(org);
                note = n;
            }
            Command::RemoveCoExecutor { org } => {
                if !before.co_orgs.contains(&org) {
                    return Err(DomainError::Validation(format!("`{org}` does not co-execute")));
                }
                after.co_orgs.retain(|o| *o != org);
            }
            Command::Contribute { text } => {
                required("text", &text)?;
                check_len("text", &text, MAX_NOTE_CHARS)?;
                note = Some(text);
            }
            // Handled by `split` above, which opens an incident besides changing this one.
            Command::Split { .. } => {
                return Err(DomainError::Conflict("a split is not a change of one incident".into()));
            }
            Command::Rate { score, comment } => {
                if !(1..=5).contains(&score) {
                    return Err(DomainError::Validation("score must be from 1 to 5".into()));
                }
                after.rating = Some(score);
                note = Some(match comment.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
                    Some(c) => format!("{score}: {c}"),
                    None => score.to_string(),
                });
            }
        }
        if let Some(n) = &note {
            check_len("note", n, MAX_NOTE_CHARS)?;
        }
        let mut changes = diff_incidents(&before, &after);
        changes.extend(extra_changes);
        let change = Change {
            expected_version: before.version,
            incident: after,
            answer: answer_write,
            notifications,
            merge,
            event: NewEvent {
                at: now,
                actor_id: actor.user_id,
                actor: actor.name.clone(),
                action: action.to_string(),
                changes,
                note,
            },
        };
        self.store.apply(&change).await.map_err(|e| match e {
            StoreError::Concurrent => DomainError::Concurrent,
            other => other.into(),
        })
    }

    fn route_to(&self, actor: &Actor, catalog: &Catalog, after: &mut Incident, org: &str) -> Result<(), DomainError> {
        let o = catalog
            .hierarchy
            .org(org)
            .ok_or_else(|| DomainError::Validation(format!("unknown organisation `{org}`")))?;
        if !actor.may_route_to(o, &catalog.hierarchy) {
            return Err(DomainError::Validation(format!("organisation `{org}` is outside your region")));
        }
        after.org = Some(o.code.clone());
        // The new lead no longer co-executes.
        after.co_orgs.retain(|c| *c != o.code);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_are_short_and_cut_on_characters() {
        let long = "ямы ".repeat(200);
        let s = summarise(&long);
        assert_eq!(s.chars().count(), SUMMARY_CHARS);
        assert!(s.ends_with('…'));
        assert_eq!(summarise("  Яма \n\n на   Ленина "), "Яма на Ленина");
    }
}
