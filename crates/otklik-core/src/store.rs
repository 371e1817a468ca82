//! The storage trait every backend implements, with its query and change types.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::access::ScopeFilter;
use crate::error::StoreError;
use crate::model::{
    Answer, AnswerTemplate, ApiToken, Category, Channel, Correction, Event, Grant, Id, Incident, IncidentDetail,
    IncidentSeed, IngestOutcome, Kind, Message, MessageRevision, NewAnswerTemplate, NewEvent, NewMessage, NewUser,
    Organisation, Publication, PublicationState, Session, Source, Territory, TerritoryLevel, User,
};
use crate::status::Status;

/// An outbox entry with what delivering it needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OutboxEntry {
    #[serde(flatten)]
    pub publication: Publication,
    pub answer_id: Id,
    pub incident_id: Id,
    /// The answer's text, as approved.
    pub text: String,
}

/// The outcome of one delivery attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct PublicationUpdate {
    pub state: PublicationState,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub external_id: Option<String>,
    pub at: DateTime<Utc>,
}

/// A delivery kept because it could not be read or was refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct NewIntakeReject {
    pub channel: Channel,
    pub source: String,
    pub received_at: DateTime<Utc>,
    /// Why it was not taken, e.g. `malformed_payload: object.text: missing`.
    pub reason: String,
    /// The body as received (decoded as UTF-8 with replacement, truncated to a bounded size).
    pub body: String,
}

/// Counts for the heads' overview.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct Overview {
    pub total: u64,
    /// Of them, not finished and past their deadline now.
    pub overdue: u64,
    pub by_status: Vec<(Status, u64)>,
    /// (municipality code, incidents, overdue), most first.
    pub by_municipality: Vec<(Option<String>, u64, u64)>,
    /// (category code, incidents), most first.
    pub by_category: Vec<(Option<String>, u64)>,
    /// Seconds from capture to the first published answer, each incident that has one.
    pub first_answer_seconds: Vec<i64>,
    /// Seconds from capture to closure.
    pub closure_seconds: Vec<i64>,
}

/// An uploaded file (a citizen's photo).
#[derive(Clone, PartialEq)]
pub struct StoredFile {
    pub name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Debug for StoredFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredFile")
            .field("name", &self.name)
            .field("content_type", &self.content_type)
            .field("size", &self.bytes.len())
            .finish()
    }
}

/// A stored rejected delivery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct IntakeReject {
    pub id: Id,
    #[serde(flatten)]
    pub reject: NewIntakeReject,
}

/// Order of an incident list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SortKey {
    /// Newest first.
    #[default]
    CreatedDesc,
    CreatedAsc,
    /// The deadline that matters now, soonest first; incidents without one last.
    DueAsc,
    UpdatedDesc,
}

/// A position in a sorted list: the sort value and the id of the last row seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub key: i64,
    pub id: Id,
}

impl Cursor {
    /// Opaque text form for APIs.
    pub fn encode(self) -> String {
        format!("{}_{}", self.key, self.id)
    }

    pub fn decode(s: &str) -> Option<Self> {
        let (k, i) = s.split_once('_')?;
        Some(Cursor { key: k.parse().ok()?, id: i.parse().ok()? })
    }
}

/// A territory node and its level, which names the incident column it is matched on — so a
/// filter is one indexed equality, not an OR over three columns.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TerritoryRef {
    pub level: TerritoryLevel,
    pub code: String,
}

impl TerritoryRef {
    pub fn new(level: TerritoryLevel, code: impl Into<String>) -> Self {
        TerritoryRef { level, code: code.into() }
    }

    /// The incident column holding territories of this level.
    pub fn column(&self) -> &'static str {
        match self.level {
            TerritoryLevel::Region => "region",
            TerritoryLevel::Municipality => "municipality",
            TerritoryLevel::Settlement => "territory",
        }
    }
}

/// What deadline recomputation needs of an unfinished incident.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadlineRow {
    pub id: Id,
    /// The version of the incident its stored deadlines were computed from: it moves with every
    /// change that may move them (a store may leave it behind changes that cannot, such as a
    /// split's new summary).
    pub version: i64,
    pub channel: Channel,
    pub category: Option<String>,
    pub kind: Option<Kind>,
    pub urgent: bool,
    pub territory: Option<String>,
    pub org: Option<String>,
    pub created_at: DateTime<Utc>,
    /// Still `new` (registration pending).
    pub is_new: bool,
    /// When a redirect restarted the clock.
    pub clock_started_at: Option<DateTime<Utc>>,
    pub first_answered_at: Option<DateTime<Utc>>,
    pub first_answer_due: Option<DateTime<Utc>>,
    pub resolution_due: Option<DateTime<Utc>>,
    pub registration_due: Option<DateTime<Utc>>,
    pub redirect_due: Option<DateTime<Utc>>,
    /// Whether the one extension was granted.
    pub extended: bool,
    /// Time waited for the citizen since the current clock started.
    pub paused_seconds: i64,
    pub deadline_policy: Option<String>,
    pub warned_due: Option<DateTime<Utc>>,
    pub breached_due: Option<DateTime<Utc>>,
}

/// New due instants for one incident, applied if its version has not moved.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadlineUpdate {
    pub id: Id,
    pub version: i64,
    pub first_answer_due: Option<DateTime<Utc>>,
    pub resolution_due: Option<DateTime<Utc>>,
    pub registration_due: Option<DateTime<Utc>>,
    pub redirect_due: Option<DateTime<Utc>>,
    pub next_due: Option<DateTime<Utc>>,
    pub next_warn: Option<DateTime<Utc>>,
    pub next_breach: Option<DateTime<Utc>>,
}

/// Filters and paging of an incident list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IncidentQuery {
    pub statuses: Vec<Status>,
    /// Incidents in this territory (at any level below it).
    pub territory: Option<TerritoryRef>,
    /// A category code; a direction or group also matches everything below it.
    pub category: Option<String>,
    pub org: Option<String>,
    pub channel: Option<Channel>,
    pub kind: Option<Kind>,
    pub urgent: Option<bool>,
    /// Only (or never) incidents whose current deadline passed before `now`.
    pub overdue: Option<bool>,
    /// Incidents whose summary contains this text (exact characters, case as written).
    pub text: Option<String>,
    pub now: Option<DateTime<Utc>>,
    pub sort: SortKey,
    pub after: Option<Cursor>,
    pub limit: u32,
}

/// One page of a list and where the next starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<Cursor>,
}

/// What to do with an answer inside a change.
#[derive(Debug, Clone, PartialEq)]
pub enum AnswerWrite {
    /// Insert a new answer (its id is ignored).
    Insert(Answer),
    /// Overwrite the answer with this id, and add these publications to its outbox.
    Update { answer: Answer, new_publications: Vec<Publication> },
}

/// One transactional change of an incident: the new state, an answer write, a history event.
/// Applied only if the stored version is still `expected_version`.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub expected_version: i64,
    pub incident: Incident,
    pub answer: Option<AnswerWrite>,
    pub event: NewEvent,
    /// Notifications the change raises, stored in the same transaction.
    pub notifications: Vec<crate::model::NewNotification>,
    /// Moves this incident's messages into another, unfinished one (merging a duplicate), with
    /// an event in the other's history; refused as a conflict if the other is finished.
    pub merge: Option<MergeInto>,
}

/// Where a merged duplicate's messages go.
#[derive(Debug, Clone, PartialEq)]
pub struct MergeInto {
    pub into: Id,
    pub event: NewEvent,
}

/// One year of the production calendar stored in the database: the year's file as TOML text (the
/// format of `data/calendar/ru-*.toml`), replacing the embedded file of that year.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StoredCalendarYear {
    pub year: i32,
    /// The TOML text, as given.
    pub text: String,
    pub updated_at: DateTime<Utc>,
    /// Who stored it: an account's login, or `reference reload` for a file.
    pub updated_by: Option<String>,
}

/// One message moved out of an incident into a new incident of its own (the inverse of a merge).
#[derive(Debug, Clone, PartialEq)]
pub struct SplitOff {
    /// The incident the message leaves, applied only if its version is still `expected_version`.
    pub incident: Id,
    pub expected_version: i64,
    pub message: Id,
    /// The summary the incident keeps: its first remaining message's, which differs from the one
    /// it had when its first message leaves.
    pub summary: String,
    /// The new incident, as intake would open it for this message.
    pub seed: IncidentSeed,
    pub at: DateTime<Utc>,
    /// The event of the incident the message leaves; [`NEW_INCIDENT`] in its note stands for the
    /// new incident's number, known only inside the transaction.
    pub event: NewEvent,
    /// The first event of the new incident.
    pub new_event: NewEvent,
}

/// Stands for the new incident's number in the note of [`SplitOff::event`].
pub const NEW_INCIDENT: &str = "{new_incident}";

/// Both incidents after a split.
#[derive(Debug, Clone, PartialEq)]
pub struct SplitOutcome {
    /// The incident the message left.
    pub source: Incident,
    /// The new incident holding the message.
    pub created: Incident,
}

/// Storage of everything Otklik keeps. Writes that belong together are one transaction.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug + 'static {
    // Reference data: upserts by code.
    async fn upsert_territory(&self, t: &Territory) -> Result<(), StoreError>;
    async fn territories(&self) -> Result<Vec<Territory>, StoreError>;
    async fn upsert_organisation(&self, o: &Organisation) -> Result<(), StoreError>;
    async fn organisations(&self) -> Result<Vec<Organisation>, StoreError>;
    async fn upsert_category(&self, c: &Category) -> Result<(), StoreError>;
    async fn categories(&self) -> Result<Vec<Category>, StoreError>;
    async fn upsert_source(&self, s: &Source) -> Result<(), StoreError>;
    async fn sources(&self) -> Result<Vec<Source>, StoreError>;
    async fn upsert_routing_rule(&self, r: &crate::routing::RoutingRule) -> Result<(), StoreError>;
    async fn routing_rules(&self) -> Result<Vec<crate::routing::RoutingRule>, StoreError>;
    /// False when there was no such rule.
    async fn delete_routing_rule(&self, code: &str) -> Result<bool, StoreError>;
    async fn upsert_deadline_policy(&self, p: &crate::deadlines::DeadlinePolicy) -> Result<(), StoreError>;
    async fn deadline_policies(&self) -> Result<Vec<crate::deadlines::DeadlinePolicy>, StoreError>;
    /// False when there was no such policy.
    async fn delete_deadline_policy(&self, code: &str) -> Result<bool, StoreError>;
    /// Replaces all reference data with `data` in one transaction (rows not in `data` go), and,
    /// when `calendar` is given, the stored calendar years with exactly those.
    async fn replace_reference(
        &self,
        data: &crate::reference::ReferenceData,
        calendar: Option<&[StoredCalendarYear]>,
    ) -> Result<(), StoreError>;

    // The production calendar: stored years override the embedded files.
    /// Stored years, ascending.
    async fn calendar_years(&self) -> Result<Vec<StoredCalendarYear>, StoreError>;
    async fn calendar_year(&self, year: i32) -> Result<Option<StoredCalendarYear>, StoreError>;
    /// Inserts or replaces the year.
    async fn put_calendar_year(&self, y: &StoredCalendarYear) -> Result<(), StoreError>;
    /// False when the year was not stored.
    async fn delete_calendar_year(&self, year: i32) -> Result<bool, StoreError>;

    // Answer templates.
    /// All templates, by position, then id.
    async fn answer_templates(&self) -> Result<Vec<AnswerTemplate>, StoreError>;
    /// `Conflict` when the name is taken.
    async fn create_answer_template(&self, t: &NewAnswerTemplate) -> Result<AnswerTemplate, StoreError>;
    /// `NotFound` when there is no such template, `Conflict` when the name is another's.
    async fn update_answer_template(&self, id: Id, t: &NewAnswerTemplate) -> Result<AnswerTemplate, StoreError>;
    /// False when there was no such template.
    async fn delete_answer_template(&self, id: Id) -> Result<bool, StoreError>;

    // Users, sessions and machine tokens.
    async fn create_user(&self, u: &NewUser, now: DateTime<Utc>) -> Result<User, StoreError>;
    async fn user(&self, id: Id) -> Result<Option<User>, StoreError>;
    /// The user and their password hash.
    async fn user_by_login(&self, login: &str) -> Result<Option<(User, Option<String>)>, StoreError>;
    async fn users(&self) -> Result<Vec<User>, StoreError>;
    async fn update_user(
        &self,
        id: Id,
        display_name: Option<&str>,
        active: Option<bool>,
        password_hash: Option<&str>,
        grants: Option<&[Grant]>,
    ) -> Result<User, StoreError>;
    async fn create_session(&self, s: &Session) -> Result<(), StoreError>;
    async fn session(&self, token_hash: &str) -> Result<Option<Session>, StoreError>;
    async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError>;
    async fn create_token(
        &self,
        user_id: Id,
        name: &str,
        token_hash: &str,
        now: DateTime<Utc>,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<ApiToken, StoreError>;
    async fn token(&self, token_hash: &str) -> Result<Option<ApiToken>, StoreError>;

    // Intake.
    /// Stores a message and opens its incident, idempotently on (channel, source, external id):
    /// a repeated delivery returns the first outcome with `created = false` and changes nothing.
    async fn ingest(
        &self,
        msg: &NewMessage,
        seed: &IncidentSeed,
        now: DateTime<Utc>,
    ) -> Result<IngestOutcome, StoreError>;
    /// The message and incident ids of a captured message.
    async fn message_by_key(
        &self,
        channel: Channel,
        source: &str,
        external_id: &str,
    ) -> Result<Option<(Id, Id)>, StoreError>;
    /// Records an edit or deletion of a captured message; `None` if the message is unknown.
    async fn record_revision(
        &self,
        channel: Channel,
        source: &str,
        external_id: &str,
        rev: &MessageRevision,
    ) -> Result<Option<Id>, StoreError>;
    /// One stored message by id.
    async fn message(&self, id: Id) -> Result<Option<Message>, StoreError>;
    /// Keeps a delivery that could not be read or was refused, for inspection.
    async fn record_reject(&self, reject: &NewIntakeReject) -> Result<Id, StoreError>;
    /// Kept rejected deliveries, newest first, with ids below `before` when given.
    async fn rejects(&self, before: Option<Id>, limit: u32) -> Result<Vec<IntakeReject>, StoreError>;
    /// Where polling of a source stopped (an opaque cursor of its channel).
    async fn channel_cursor(&self, channel: Channel, source: &str) -> Result<Option<String>, StoreError>;
    async fn set_channel_cursor(
        &self,
        channel: Channel,
        source: &str,
        cursor: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Keeps an uploaded file under its (random) name.
    async fn put_file(&self, file: &StoredFile) -> Result<(), StoreError>;
    async fn file(&self, name: &str) -> Result<Option<StoredFile>, StoreError>;

    /// Figures for the heads' overview: incidents created since `since` in the scope, and the
    /// times to first answer and to closure of those that have them.
    async fn overview(
        &self,
        scope: &ScopeFilter,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Overview, StoreError>;

    // The outbox.
    /// Claims up to `limit` entries due at `now` (pending or failed, not leased by another
    /// worker) until `lease_until`, oldest due first. A claim is taken row by row with a
    /// compare-and-set, so two workers never hold the same entry.
    async fn claim_publications(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<OutboxEntry>, StoreError>;
    /// Records the outcome of an attempt and releases the claim.
    async fn finish_publication(&self, id: Id, update: &PublicationUpdate) -> Result<(), StoreError>;
    /// Outbox entries in these states, newest first (all states when empty), with ids below
    /// `before` when given, within a scope.
    async fn outbox(
        &self,
        scope: &ScopeFilter,
        states: &[PublicationState],
        before: Option<Id>,
        limit: u32,
    ) -> Result<Vec<OutboxEntry>, StoreError>;
    /// One outbox entry.
    async fn outbox_entry(&self, id: Id) -> Result<Option<OutboxEntry>, StoreError>;

    // Incidents.
    async fn incident(&self, id: Id) -> Result<Option<Incident>, StoreError>;
    async fn incident_detail(&self, id: Id) -> Result<Option<IncidentDetail>, StoreError>;
    async fn list_incidents(&self, q: &IncidentQuery, scope: &ScopeFilter) -> Result<Page<Incident>, StoreError>;
    async fn count_incidents(&self, q: &IncidentQuery, scope: &ScopeFilter) -> Result<u64, StoreError>;
    async fn answers(&self, incident_id: Id) -> Result<Vec<Answer>, StoreError>;
    async fn history(&self, incident_id: Id) -> Result<Vec<Event>, StoreError>;
    /// Labels operators set or confirmed by moderating incidents, oldest first.
    async fn corrections(&self) -> Result<Vec<Correction>, StoreError>;
    /// Unfinished incidents whose deadline warning (80 %) is due at `now`, soonest first.
    async fn due_warnings(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<Incident>, StoreError>;
    /// Unfinished incidents whose current deadline passed before `now` without a recorded breach.
    async fn due_breaches(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<Incident>, StoreError>;
    /// Unfinished incidents (not answered, closed or rejected) with ids above `after_id`, by id.
    async fn open_deadline_rows(&self, after_id: Id, limit: u32) -> Result<Vec<DeadlineRow>, StoreError>;
    /// Writes recomputed due instants; rows whose version (as `DeadlineRow::version`) moved are skipped. Each row is written
    /// whole or not at all; a store may split the page into transactions (recomputation is
    /// repeatable, so a failed page is simply computed again). Returns how many were written.
    async fn update_deadlines(&self, updates: &[DeadlineUpdate]) -> Result<u64, StoreError>;
    /// Notifications addressed within a scope (by organisation or territory), newest first,
    /// with ids below `before` when given.
    async fn notifications(
        &self,
        scope: &ScopeFilter,
        before: Option<Id>,
        limit: u32,
    ) -> Result<Vec<crate::model::Notification>, StoreError>;
    /// Notifications whose webhook delivery is pending, oldest first.
    async fn pending_webhooks(&self, limit: u32) -> Result<Vec<crate::model::Notification>, StoreError>;
    async fn mark_webhook(
        &self,
        id: Id,
        state: crate::model::PublicationState,
        attempts: i32,
    ) -> Result<(), StoreError>;
    /// Notifications whose e-mail is pending or failed, oldest first.
    async fn pending_emails(&self, limit: u32) -> Result<Vec<crate::model::Notification>, StoreError>;
    async fn mark_email(&self, id: Id, state: crate::model::PublicationState, attempts: i32) -> Result<(), StoreError>;
    /// Breached incidents whose escalation is due to climb at `now`.
    async fn due_escalations(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<Incident>, StoreError>;
    /// Incidents waiting for the citizen since before `since`.
    async fn waiting_since(&self, since: DateTime<Utc>, limit: u32) -> Result<Vec<Incident>, StoreError>;
    /// Applies a change in one transaction; `Concurrent` if the version moved.
    async fn apply(&self, change: &Change) -> Result<Incident, StoreError>;
    /// Opens a new incident for one message of another and moves the message there, with an
    /// event in each history, in one transaction; both incidents' versions move. `Concurrent` if
    /// the source's version moved, `Conflict` if it is finished, the message is not one of its
    /// messages, or it is its only message.
    async fn split(&self, split: &SplitOff) -> Result<SplitOutcome, StoreError>;
}
