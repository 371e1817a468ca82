//! Domain types: messages, incidents, answers, history events, reference data and users.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::status::Status;

/// Database identifier of messages, incidents, answers, events and users.
pub type Id = i64;

/// Defines a closed string enum with a stable snake_case wire form.
macro_rules! wire_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vm])* $variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable wire name.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Parses the wire name.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use wire_enum;

wire_enum!(
    /// Where a message came from.
    Channel {
        Vk = "vk",
        Ok = "ok",
        Telegram = "telegram",
        Web = "web",
        Open311 = "open311",
        Email = "email",
        Max = "max",
        Api = "api",
    }
);

wire_enum!(
    /// What a message is; `Other` means it is not an incident.
    Kind {
        Complaint = "complaint",
        Question = "question",
        Suggestion = "suggestion",
        Gratitude = "gratitude",
        Other = "other",
    }
);

wire_enum!(
    /// Tonality of a message.
    Sentiment {
        Negative = "negative",
        Neutral = "neutral",
        Positive = "positive",
    }
);

wire_enum!(
    /// A role in the hierarchy; each grant binds one role to one node.
    Role {
        Admin = "admin",
        RegionalCurator = "regional_curator",
        MunicipalOperator = "municipal_operator",
        OrgHead = "org_head",
        OrgExecutor = "org_executor",
        Viewer = "viewer",
    }
);

impl Role {
    /// Whether the node of this role is an organisation (otherwise a territory or nothing).
    pub fn bound_to_organisation(self) -> bool {
        matches!(self, Role::OrgHead | Role::OrgExecutor)
    }
}

wire_enum!(
    /// Level of a territory in the region → municipality → settlement hierarchy.
    TerritoryLevel {
        Region = "region",
        Municipality = "municipality",
        Settlement = "settlement",
    }
);

wire_enum!(
    /// What sort of body an organisation is.
    OrgKind {
        RegionalCentre = "regional_centre",
        MunicipalCentre = "municipal_centre",
        Administration = "administration",
        Ministry = "ministry",
        Agency = "agency",
        Utility = "utility",
        Operator = "operator",
        Healthcare = "healthcare",
        Education = "education",
        Other = "other",
    }
);

wire_enum!(
    /// Intermediate answers promise; final answers settle the incident.
    AnswerKind {
        Intermediate = "intermediate",
        Final = "final",
    }
);

wire_enum!(
    /// Life of an answer: draft → review → approved or returned → published.
    AnswerState {
        Draft = "draft",
        Review = "review",
        Returned = "returned",
        Approved = "approved",
        Published = "published",
    }
);

wire_enum!(
    /// Why a curator returns an answer for rework (the reasons of the domain brief).
    ReworkReason {
        Formal = "formal",
        NoDeadline = "no_deadline",
        NoProof = "no_proof",
        LegalReferences = "legal_references",
        Contradictory = "contradictory",
        Other = "other",
    }
);

wire_enum!(
    /// Why an incident is rejected.
    RejectReason {
        NotIncident = "not_incident",
        Spam = "spam",
        Obscene = "obscene",
        NotCompetent = "not_competent",
        Duplicate = "duplicate",
        Other = "other",
    }
);

wire_enum!(
    /// Delivery state of an answer to one channel (the outbox).
    PublicationState {
        Pending = "pending",
        Sent = "sent",
        Failed = "failed",
        Dead = "dead",
    }
);

wire_enum!(
    /// A later fact about a captured message.
    RevisionKind {
        Edit = "edit",
        Delete = "delete",
    }
);

/// The author of a message, pseudonymous: `id` is stable per channel, `name` is what was shown.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Author {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
}

/// A file or link attached to a message or an answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Attachment {
    /// `photo`, `video`, `document`, `link`, …
    pub kind: String,
    pub url: String,
    #[serde(default)]
    pub name: Option<String>,
}

/// A raw item as received from a channel, before it is stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct NewMessage {
    pub channel: Channel,
    /// The page, group, chat or form it came through (a source key).
    pub source: String,
    /// The channel's own id of the item; unique within (channel, source).
    pub external_id: String,
    #[serde(default)]
    pub thread_id: Option<String>,
    #[serde(default)]
    pub parent_id: Option<String>,
    pub author: Author,
    pub text: String,
    #[serde(default)]
    pub attachments: Vec<Attachment>,
    pub published_at: DateTime<Utc>,
    /// Link to the original, where the channel has one.
    #[serde(default)]
    pub url: Option<String>,
    /// The payload exactly as received.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub raw: serde_json::Value,
}

/// A stored, immutable message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Message {
    pub id: Id,
    pub incident_id: Id,
    #[serde(flatten)]
    pub body: NewMessage,
    pub captured_at: DateTime<Utc>,
    /// Edits and deletions recorded after capture; the original text above never changes.
    pub revisions: Vec<MessageRevision>,
}

/// An edit or deletion of a message, recorded as a new fact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MessageRevision {
    pub kind: RevisionKind,
    #[serde(default)]
    pub text: Option<String>,
    pub at: DateTime<Utc>,
}

/// Confidences of an automatic classification, each in 0..=1.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Confidence {
    pub kind: f32,
    pub category: f32,
    pub territory: f32,
}

/// The classification an incident starts with (from text analysis, the source, or the sender).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Classification {
    pub kind: Option<Kind>,
    pub category: Option<String>,
    pub territory: Option<String>,
    pub sentiment: Option<Sentiment>,
    pub urgent: bool,
    pub confidence: Option<Confidence>,
}

/// What intake knows about the incident a new message opens.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentSeed {
    pub classification: Classification,
    pub region: Option<String>,
    pub municipality: Option<String>,
    pub org: Option<String>,
    /// What routing proposes, and why.
    pub suggested_org: Option<String>,
    pub route_note: Option<String>,
    pub first_answer_due: Option<DateTime<Utc>>,
    pub resolution_due: Option<DateTime<Utc>>,
    /// Formal appeals: registration and redirect deadlines.
    pub registration_due: Option<DateTime<Utc>>,
    pub redirect_due: Option<DateTime<Utc>>,
    pub deadline_policy: Option<String>,
    pub summary: String,
    pub tags: Vec<String>,
}

/// What intake did with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct IngestOutcome {
    pub message_id: Id,
    pub incident_id: Id,
    /// False when the same (channel, source, external id) had been taken before.
    pub created: bool,
}

/// An incident: one or more merged messages and the work on them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Incident {
    pub id: Id,
    pub status: Status,
    pub kind: Option<Kind>,
    pub category: Option<String>,
    pub territory: Option<String>,
    pub region: Option<String>,
    pub municipality: Option<String>,
    /// The responsible (lead) organisation.
    pub org: Option<String>,
    /// The organisation routing proposes, and why; `assign` without an organisation takes it.
    pub suggested_org: Option<String>,
    pub route_note: Option<String>,
    /// The executor who took it.
    pub assignee: Option<Id>,
    pub urgent: bool,
    pub sentiment: Option<Sentiment>,
    pub confidence: Option<Confidence>,
    pub channel: Channel,
    pub source: String,
    /// The opening of the first message, for lists.
    pub summary: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub first_answer_due: Option<DateTime<Utc>>,
    pub resolution_due: Option<DateTime<Utc>>,
    pub first_answered_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    /// The citizen's rating, 1..=5.
    pub rating: Option<u8>,
    /// The national metrics, stored when they happen: seconds from capture to the first answer
    /// and to closure, in calendar and in working time.
    pub first_answer_seconds: Option<i64>,
    pub first_answer_working_seconds: Option<i64>,
    pub closure_seconds: Option<i64>,
    pub closure_working_seconds: Option<i64>,
    /// The deadline policy in force.
    pub deadline_policy: Option<String>,
    /// Since when the deadlines are paused (waiting for the citizen's clarification).
    pub paused_at: Option<DateTime<Utc>>,
    /// The due instant whose approach (80 % of the allowed time) was already announced.
    pub warned_due: Option<DateTime<Utc>>,
    /// The due instant whose breach was already recorded.
    pub breached_due: Option<DateTime<Utc>>,
    /// How far a breach has been escalated: 1 the organisation's head, 2 the municipal centre,
    /// 3 the regional centre.
    pub escalation_level: i32,
    /// When a redirect started the clock again (the policy's `restart_on_redirect`); the
    /// capture when absent.
    #[serde(default)]
    pub clock_started_at: Option<DateTime<Utc>>,
    /// Formal appeals (59-ФЗ): the registration deadline (met when the incident leaves `new`)
    /// and the deadline for redirecting it to the competent body.
    #[serde(default)]
    pub registration_due: Option<DateTime<Utc>>,
    #[serde(default)]
    pub redirect_due: Option<DateTime<Utc>>,
    /// When the one extension of the answer deadline was granted.
    #[serde(default)]
    pub extended_at: Option<DateTime<Utc>>,
    /// Seconds spent waiting for the citizen since the current clock started; recomputation adds
    /// them to the due instants, as resuming did.
    #[serde(default)]
    pub paused_seconds: i64,
    /// Organisations that co-execute (the lead is `org`): they see the incident and add their
    /// contributions; the lead answers.
    #[serde(default)]
    pub co_orgs: Vec<String>,
    pub tags: Vec<String>,
    /// Bumped on every change; used for optimistic concurrency.
    pub version: i64,
}

impl Incident {
    /// The deadline that matters now: the first answer until it is given, then resolution.
    pub fn next_due(&self) -> Option<DateTime<Utc>> {
        // Once the final answer is out (or the incident is finished) no deadline runs.
        if matches!(self.status, Status::Answered | Status::Closed | Status::Rejected | Status::WaitingCitizen) {
            return None;
        }
        current_due(
            self.status == Status::New,
            self.registration_due,
            self.first_answered_at,
            self.first_answer_due,
            self.resolution_due,
        )
    }

    /// When the clock of the current deadline started: capture (or the redirect that restarted
    /// it) for the first answer, the first answer for the final one.
    pub fn clock_start(&self) -> DateTime<Utc> {
        self.first_answered_at.or(self.clock_started_at).unwrap_or(self.created_at)
    }

    /// When to warn that the current deadline approaches (at 80 % of the allowed time), unless
    /// that warning was given.
    pub fn next_warning(&self) -> Option<DateTime<Utc>> {
        let due = self.next_due()?;
        if self.warned_due == Some(due) || self.breached_due == Some(due) {
            return None;
        }
        let start = self.clock_start().min(due);
        Some(start + (due - start) * 4 / 5)
    }

    /// When a recorded breach climbs to the next level of the escalation chain: each further span
    /// of the allowed time overdue raises it one level, up to the regional centre.
    pub fn next_escalation(&self) -> Option<DateTime<Utc>> {
        let due = self.next_due()?;
        if self.breached_due != Some(due) || !(1..3).contains(&self.escalation_level) {
            return None;
        }
        let allowed = (due - self.clock_start().min(due)).max(chrono::Duration::minutes(1));
        Some(due + allowed * self.escalation_level)
    }

    /// The current deadline, unless its breach was recorded.
    pub fn next_breach(&self) -> Option<DateTime<Utc>> {
        self.next_due().filter(|d| self.breached_due != Some(*d))
    }

    /// Whether the deadline that matters now has passed at `now` for an unfinished incident.
    pub fn is_overdue(&self, now: DateTime<Utc>) -> bool {
        !self.status.is_terminal() && self.next_due().is_some_and(|d| d < now)
    }
}

/// The deadline that matters for an unfinished incident: registration while it is new (formal
/// appeals), the first answer until it is given, then resolution — whichever comes first.
pub fn current_due(
    is_new: bool,
    registration_due: Option<DateTime<Utc>>,
    first_answered_at: Option<DateTime<Utc>>,
    first_answer_due: Option<DateTime<Utc>>,
    resolution_due: Option<DateTime<Utc>>,
) -> Option<DateTime<Utc>> {
    let work = if first_answered_at.is_none() { first_answer_due.or(resolution_due) } else { resolution_due };
    match (registration_due.filter(|_| is_new), work) {
        (Some(r), Some(w)) => Some(r.min(w)),
        (r, w) => r.or(w),
    }
}

/// Delivery of a published answer to one channel target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Publication {
    /// The outbox entry's id (0 before it is stored).
    #[serde(default)]
    pub id: Id,
    pub channel: Channel,
    /// Where the answer goes: the message it replies to, or a conversation.
    pub target: String,
    /// The stored message the answer replies to.
    #[serde(default)]
    pub message_id: Option<Id>,
    pub state: PublicationState,
    pub attempts: i32,
    /// Why the last attempt failed; for a dead entry, why delivery was given up.
    pub last_error: Option<String>,
    /// When the next attempt is due (pending and failed entries).
    #[serde(default)]
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The reply's id on the platform, once sent.
    #[serde(default)]
    pub external_id: Option<String>,
    pub updated_at: DateTime<Utc>,
}

/// An answer to an incident, written by an executor and reviewed by a curator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Answer {
    pub id: Id,
    pub incident_id: Id,
    pub kind: AnswerKind,
    pub text: String,
    pub state: AnswerState,
    pub author_id: Option<Id>,
    pub reviewer_id: Option<Id>,
    pub return_reason: Option<ReworkReason>,
    pub return_comment: Option<String>,
    pub attachments: Vec<Attachment>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub published_at: Option<DateTime<Utc>>,
    pub publications: Vec<Publication>,
}

impl Answer {
    /// Whether the answer is still being worked (not yet published).
    pub fn is_open(&self) -> bool {
        self.state != AnswerState::Published
    }
}

/// One changed field in a history event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FieldChange {
    pub field: String,
    #[schema(value_type = Object)]
    pub before: serde_json::Value,
    #[schema(value_type = Object)]
    pub after: serde_json::Value,
}

/// An append-only history entry: who did what, when, with the before and after of each field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Event {
    pub id: Id,
    pub incident_id: Id,
    pub at: DateTime<Utc>,
    /// The user, or none for the system.
    pub actor_id: Option<Id>,
    pub actor: String,
    pub action: String,
    pub changes: Vec<FieldChange>,
    pub note: Option<String>,
}

/// An event before it is stored.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub at: DateTime<Utc>,
    pub actor_id: Option<Id>,
    pub actor: String,
    pub action: String,
    pub changes: Vec<FieldChange>,
    pub note: Option<String>,
}

/// Something people must learn about an incident (a deadline approaching or missed, an
/// escalation, an automatic closure), addressed to an organisation and a territory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Notification {
    pub id: Id,
    pub at: DateTime<Utc>,
    pub incident_id: Id,
    pub kind: String,
    pub org: Option<String>,
    pub region: Option<String>,
    pub municipality: Option<String>,
    pub text: String,
    /// Delivery to the outgoing webhook, when one is configured.
    pub webhook_state: PublicationState,
    pub webhook_attempts: i32,
    /// Delivery by e-mail, when e-mail is configured (`none` for notifications older than it).
    #[serde(default)]
    pub email_state: Option<PublicationState>,
    #[serde(default)]
    pub email_attempts: i32,
}

/// A notification before it is stored (with its incident's change).
#[derive(Debug, Clone, PartialEq)]
pub struct NewNotification {
    pub kind: String,
    pub org: Option<String>,
    pub text: String,
}

/// An incident with everything on its card.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct IncidentDetail {
    pub incident: Incident,
    pub messages: Vec<Message>,
    pub answers: Vec<Answer>,
    pub history: Vec<Event>,
}

/// An operator's judgement of a message, for retraining text analysis: the labels an incident
/// carries after moderation (what the operator set or confirmed), with its first message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Correction {
    pub incident_id: Id,
    pub text: String,
    pub channel: Channel,
    pub source: String,
    pub kind: Option<Kind>,
    pub category: Option<String>,
    /// A territory code.
    pub territory: Option<String>,
    pub at: DateTime<Utc>,
}

/// A node of the territory hierarchy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Territory {
    pub code: String,
    pub name: String,
    pub full_name: String,
    pub level: TerritoryLevel,
    #[serde(default)]
    pub parent: Option<String>,
    /// IANA time zone; inherited from the parent when absent in files.
    pub zone: String,
    /// ОКТМО, only where verified.
    #[serde(default)]
    pub oktmo: Option<String>,
    #[serde(default)]
    pub aliases: Vec<String>,
}

/// An organisation that answers incidents, or a control centre.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Organisation {
    pub code: String,
    pub name: String,
    pub kind: OrgKind,
    pub territory: String,
    #[serde(default)]
    pub parent: Option<String>,
    /// Category codes it usually handles.
    #[serde(default)]
    pub sectors: Vec<String>,
    /// Daily working intervals for deadlines, e.g. `08:30-12:30,13:15-17:30`; 09:00-18:00 when absent.
    #[serde(default)]
    pub working_hours: Option<String>,
}

/// A node of the three-level taxonomy (direction → group → sub-topic).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Category {
    /// Dotted path, e.g. `roads.surface.potholes`; the first segment is a contract category.
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub photo_required: bool,
    /// Answer deadline in calendar days for web-form messages on this sub-topic.
    #[serde(default)]
    pub form_days: Option<u32>,
}

impl Category {
    /// The parent's code, derived from the dotted path.
    pub fn parent(&self) -> Option<&str> {
        self.code.rsplit_once('.').map(|(p, _)| p)
    }

    /// Depth: 1 for directions, 2 for groups, 3 for sub-topics.
    pub fn level(&self) -> usize {
        self.code.split('.').count()
    }

    /// The top-level (contract) category.
    pub fn direction(&self) -> &str {
        self.code.split('.').next().unwrap_or(&self.code)
    }
}

/// A page, group, chat or form that messages come through, with the territory it speaks for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Source {
    pub channel: Channel,
    /// The channel's key of the source (a group id, a chat id, a form name).
    pub key: String,
    pub name: String,
    #[serde(default)]
    pub territory: Option<String>,
    #[serde(default)]
    pub org: Option<String>,
}

/// One role bound to one node: a territory code, or an organisation code for organisation roles;
/// no node for a global administrator.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub struct Grant {
    pub role: Role,
    #[serde(default)]
    pub node: Option<String>,
}

/// A person or machine account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct User {
    pub id: Id,
    pub login: String,
    pub display_name: String,
    pub active: bool,
    pub grants: Vec<Grant>,
    pub created_at: DateTime<Utc>,
}

/// A user before it is stored; the password is already hashed.
#[derive(Debug, Clone, PartialEq)]
pub struct NewUser {
    pub login: String,
    pub display_name: String,
    pub password_hash: Option<String>,
    pub grants: Vec<Grant>,
}

/// A console session, stored under the hash of its cookie token.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub token_hash: String,
    pub user_id: Id,
    pub csrf_token: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A machine token, stored under its hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ApiToken {
    pub id: Id,
    pub user_id: Id,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// The placeholders an answer template may hold, filled in for the incident by the answer editor.
pub const TEMPLATE_PLACEHOLDERS: &[&str] = &["{номер}", "{организация}", "{срок}", "{адрес}"];

/// A reply text administrators keep for the answer editor (see [`TEMPLATE_PLACEHOLDERS`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AnswerTemplate {
    pub id: Id,
    #[serde(flatten)]
    pub body: NewAnswerTemplate,
}

/// What an administrator writes of a template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAnswerTemplate {
    /// Shown in the editor's list; unique.
    pub name: String,
    pub text: String,
    /// Place in the editor's list, smallest first.
    #[serde(default)]
    pub position: i32,
}
