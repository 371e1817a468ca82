//! The portable implementation: one set of SQL that SQLite and PostgreSQL both run.
//! Placeholders are `$1…$n` in order of first use; instants are Unix milliseconds.

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use otklik_core::StoreError;
use otklik_core::access::ScopeFilter;
use otklik_core::model::*;
use otklik_core::status::Status;
use otklik_core::store::{
    AnswerWrite, Change, Cursor, DeadlineRow, DeadlineUpdate, IncidentQuery, IntakeReject, NewIntakeReject,
    OutboxEntry, Overview, Page, PublicationUpdate, SortKey, SplitOff, SplitOutcome, Store, StoredFile,
};
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, AnyPool, AssertSqlSafe, Row};

use crate::Backend;

mod replace;

/// The store over a pool of either engine.
#[derive(Debug, Clone)]
pub struct SqlStore {
    pool: AnyPool,
    backend: Backend,
    /// SQLite has one writer at a time; queueing writers here instead of in SQLite's busy
    /// handler (which sleeps) keeps write throughput high under concurrency.
    write_lock: Option<std::sync::Arc<tokio::sync::Mutex<()>>>,
    /// The group-commit queue of intake.
    intake: tokio::sync::mpsc::Sender<crate::intake::Job>,
    /// Never sent on: the background checkpoints of a SQLite file stop when the last clone of the
    /// store is dropped and this closes, so a store dropped without `close` lets its pool go.
    _checkpoints: Option<tokio::sync::mpsc::Sender<()>>,
}

/// Which rows of a scope a statement reads.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ScopePart {
    /// Everything the scope covers.
    Whole,
    /// Incidents in its territories or led by its organisations.
    Direct,
    /// Incidents its organisations co-execute and `Direct` does not hold.
    CoExecutedOnly,
}

/// The alias to read a scope column from: `keys` (`i.` or `d.`) for region, municipality and
/// organisation, which the deadline table copies; `i.` for the rest.
fn scope_table<'a>(col: &str, keys: &'a str) -> &'a str {
    if col == "territory" { "i." } else { keys }
}

/// Takes the in-process writer slot, if there is one (SQLite), until the guard is dropped.
pub(crate) async fn writer_slot(
    lock: &Option<std::sync::Arc<tokio::sync::Mutex<()>>>,
) -> Option<tokio::sync::MutexGuard<'_, ()>> {
    match lock {
        Some(l) => Some(l.lock().await),
        None => None,
    }
}

pub(crate) fn backend_error(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::RowNotFound => StoreError::NotFound,
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict("already exists".into()),
        sqlx::Error::Database(d) if d.is_foreign_key_violation() => {
            StoreError::InvalidReference("a referenced record does not exist".into())
        }
        _ => StoreError::Backend(e.to_string()),
    }
}

pub(crate) fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn at(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

fn opt_at(v: Option<i64>) -> Option<DateTime<Utc>> {
    v.map(at)
}

pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

fn from_json<T: serde::de::DeserializeOwned + Default>(s: &str) -> T {
    serde_json::from_str(s).unwrap_or_default()
}

/// One column of a row, with decoding failures as storage errors.
pub(crate) fn get<'r, T>(row: &'r AnyRow, column: &str) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, Any> + sqlx::Type<Any>,
{
    row.try_get(column).map_err(|e| StoreError::Backend(e.to_string()))
}

/// A due instant as an index key: never (`None`) sorts last.
pub(crate) fn key_ms(t: Option<DateTime<Utc>>) -> i64 {
    t.map(ms).unwrap_or(i64::MAX)
}

/// The deadline keys of a new incident opened at `at` (`next_due`, `next_warn`): its first due
/// instant, and the warning at 80 % of the time to it.
fn new_incident_keys(seed: &IncidentSeed, at: DateTime<Utc>) -> (i64, i64) {
    let due =
        otklik_core::model::current_due(true, seed.registration_due, None, seed.first_answer_due, seed.resolution_due);
    (key_ms(due), key_ms(due.map(|d| at + (d - at.min(d)) * 4 / 5)))
}

/// The sweeps' one indexed instant (`next_alarm`): the earlier of the warning and the breach.
pub(crate) fn alarm(warn: i64, breach: i64) -> i64 {
    warn.min(breach)
}

fn corrupt(what: &str, v: &str) -> StoreError {
    StoreError::Backend(format!("unreadable {what} `{v}` in the database"))
}

/// The columns of an `incident_deadlines` row, in the order `Sql::deadline_values` binds them.
pub(crate) const DEADLINE_COLS: &str = "id, version, region, municipality, org, first_answer_due, resolution_due, \
     registration_due, redirect_due, next_due, next_warn, next_breach, next_alarm";

/// One incident's row of `incident_deadlines`: its due instants and the keys they sort by.
pub(crate) struct DeadlineValues<'a> {
    pub id: i64,
    /// The incident's version these were computed from.
    pub version: i64,
    pub region: &'a Option<String>,
    pub municipality: &'a Option<String>,
    pub org: &'a Option<String>,
    pub first_answer_due: Option<DateTime<Utc>>,
    pub resolution_due: Option<DateTime<Utc>>,
    pub registration_due: Option<DateTime<Utc>>,
    pub redirect_due: Option<DateTime<Utc>>,
    /// Index keys (`i64::MAX` for none): the current deadline, its warning and its breach.
    pub next_due: i64,
    pub warn: i64,
    pub breach: i64,
}

impl<'a> DeadlineValues<'a> {
    /// The row of a new incident opened at `at`.
    pub(crate) fn new_incident(id: i64, seed: &'a IncidentSeed, at: DateTime<Utc>) -> Self {
        let (next_due, warn) = new_incident_keys(seed, at);
        DeadlineValues {
            id,
            version: 1,
            region: &seed.region,
            municipality: &seed.municipality,
            org: &seed.org,
            first_answer_due: seed.first_answer_due,
            resolution_due: seed.resolution_due,
            registration_due: seed.registration_due,
            redirect_due: seed.redirect_due,
            next_due,
            warn,
            breach: next_due,
        }
    }
}

/// A bound value of a dynamically built query.
#[derive(Debug, Clone)]
pub(crate) enum Bind {
    I(i64),
    S(String),
    /// A NULL text value.
    Null,
    /// A NULL integer value.
    NullInt,
}

impl Bind {
    /// A text value, or NULL.
    pub(crate) fn text(t: &Option<String>) -> Self {
        t.clone().map(Bind::S).unwrap_or(Bind::Null)
    }

    /// An instant as Unix milliseconds, or NULL.
    pub(crate) fn instant(t: Option<DateTime<Utc>>) -> Self {
        t.map(|t| Bind::I(ms(t))).unwrap_or(Bind::NullInt)
    }
}

/// Builds SQL with numbered placeholders and the values to bind.
#[derive(Debug, Default)]
pub(crate) struct Sql {
    text: String,
    binds: Vec<Bind>,
    /// Anonymous `?` placeholders: SQLite resolves named ones (`$n`) by a linear search per
    /// parameter, which makes statements with thousands of values quadratic.
    positional: bool,
}

impl Sql {
    pub(crate) fn push(&mut self, s: &str) -> &mut Self {
        self.text.push_str(s);
        self
    }

    /// A builder with the placeholders the engine handles best for long statements.
    pub(crate) fn for_backend(backend: Backend) -> Self {
        Sql { positional: backend == Backend::Sqlite, ..Default::default() }
    }

    pub(crate) fn bind(&mut self, b: Bind) -> &mut Self {
        self.binds.push(b);
        if self.positional {
            self.text.push('?');
        } else {
            self.text.push_str(&format!("${}", self.binds.len()));
        }
        self
    }

    fn bind_list(&mut self, items: &[String]) -> &mut Self {
        self.push("(");
        for (i, s) in items.iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.bind(Bind::S(s.clone()));
        }
        self.push(")")
    }

    /// One parenthesised `incident_deadlines` row, in `DEADLINE_COLS` order.
    pub(crate) fn deadline_values(&mut self, v: &DeadlineValues<'_>) -> &mut Self {
        let values = [
            Bind::I(v.id),
            Bind::I(v.version),
            Bind::text(v.region),
            Bind::text(v.municipality),
            Bind::text(v.org),
            Bind::instant(v.first_answer_due),
            Bind::instant(v.resolution_due),
            Bind::instant(v.registration_due),
            Bind::instant(v.redirect_due),
            Bind::I(v.next_due),
            Bind::I(v.warn),
            Bind::I(v.breach),
            Bind::I(alarm(v.warn, v.breach)),
        ];
        for (n, b) in values.into_iter().enumerate() {
            self.push(if n == 0 { "(" } else { ", " }).bind(b);
        }
        self.push(")")
    }

    pub(crate) fn query(&self) -> Query<'_, Any, AnyArguments> {
        // Only fixed fragments and placeholders are pushed as text; every value is bound.
        let mut q = sqlx::query(AssertSqlSafe(self.text.clone()));
        for b in &self.binds {
            q = match b {
                Bind::I(i) => q.bind(*i),
                Bind::S(s) => q.bind(s.clone()),
                Bind::Null => q.bind(None::<String>),
                Bind::NullInt => q.bind(None::<i64>),
            };
        }
        q
    }
}

/// Incidents with their deadline row (migration 0009): read with `INCIDENT_COLS`.
const INCIDENT_FROM: &str = "incidents i JOIN incident_deadlines d ON d.id = i.id";

const INCIDENT_COLS: &str = "i.id, i.status, i.kind, i.category, i.territory, i.region, i.municipality, i.org, i.suggested_org, \
     i.route_note, i.assignee, i.urgent, i.sentiment, i.confidence, i.channel, i.source, i.summary, \
     i.created_at, i.updated_at, d.first_answer_due, d.resolution_due, i.first_answered_at, i.closed_at, \
     i.rating, i.first_answer_seconds, i.first_answer_working_seconds, i.closure_seconds, \
     i.closure_working_seconds, i.deadline_policy, i.paused_at, i.warned_due, i.breached_due, \
     i.escalation_level, i.tags, i.clock_started_at, d.registration_due, d.redirect_due, i.extended_at, \
     i.co_orgs, i.paused_seconds, i.version";

fn incident_row(r: &AnyRow) -> Result<Incident, StoreError> {
    let status: String = get(r, "status")?;
    let channel: String = get(r, "channel")?;
    let kind: Option<String> = get(r, "kind")?;
    let sentiment: Option<String> = get(r, "sentiment")?;
    let confidence: Option<String> = get(r, "confidence")?;
    let tags: String = get(r, "tags")?;
    Ok(Incident {
        id: get(r, "id")?,
        status: Status::parse(&status).ok_or_else(|| corrupt("status", &status))?,
        kind: kind.as_deref().and_then(Kind::parse),
        category: get(r, "category")?,
        territory: get(r, "territory")?,
        region: get(r, "region")?,
        municipality: get(r, "municipality")?,
        org: get(r, "org")?,
        suggested_org: get(r, "suggested_org")?,
        route_note: get(r, "route_note")?,
        assignee: get(r, "assignee")?,
        urgent: get::<i64>(r, "urgent")? != 0,
        sentiment: sentiment.as_deref().and_then(Sentiment::parse),
        confidence: confidence.and_then(|c| serde_json::from_str(&c).ok()),
        channel: Channel::parse(&channel).ok_or_else(|| corrupt("channel", &channel))?,
        source: get(r, "source")?,
        summary: get(r, "summary")?,
        created_at: at(get(r, "created_at")?),
        updated_at: at(get(r, "updated_at")?),
        first_answer_due: opt_at(get(r, "first_answer_due")?),
        resolution_due: opt_at(get(r, "resolution_due")?),
        first_answered_at: opt_at(get(r, "first_answered_at")?),
        closed_at: opt_at(get(r, "closed_at")?),
        rating: get::<Option<i64>>(r, "rating")?.map(|v| v.clamp(0, 255) as u8),
        first_answer_seconds: get(r, "first_answer_seconds")?,
        first_answer_working_seconds: get(r, "first_answer_working_seconds")?,
        closure_seconds: get(r, "closure_seconds")?,
        closure_working_seconds: get(r, "closure_working_seconds")?,
        deadline_policy: get(r, "deadline_policy")?,
        paused_at: opt_at(get(r, "paused_at")?),
        warned_due: opt_at(get(r, "warned_due")?),
        breached_due: opt_at(get(r, "breached_due")?),
        escalation_level: get::<i64>(r, "escalation_level")?.clamp(0, 3) as i32,
        clock_started_at: opt_at(get(r, "clock_started_at")?),
        registration_due: opt_at(get(r, "registration_due")?),
        redirect_due: opt_at(get(r, "redirect_due")?),
        extended_at: opt_at(get(r, "extended_at")?),
        co_orgs: from_json(&get::<String>(r, "co_orgs")?),
        paused_seconds: get(r, "paused_seconds")?,
        tags: from_json(&tags),
        version: get(r, "version")?,
    })
}

/// The columns deadline recomputation reads, packed into one text value (see `deadline_row`).
const DEADLINE_PACK: &str = "CAST(i.id AS TEXT) || '|' || CAST(d.version AS TEXT) || '|' || i.status \
     || '|' || i.channel || '|' || COALESCE(i.category, '') || '|' || COALESCE(i.kind, '') \
     || '|' || CAST(i.urgent AS TEXT) || '|' || COALESCE(i.territory, '') || '|' || COALESCE(i.org, '') \
     || '|' || CAST(i.created_at AS TEXT) || '|' || COALESCE(CAST(i.clock_started_at AS TEXT), '') \
     || '|' || COALESCE(CAST(i.first_answered_at AS TEXT), '') || '|' || COALESCE(CAST(d.first_answer_due AS TEXT), '') \
     || '|' || COALESCE(CAST(d.resolution_due AS TEXT), '') || '|' || COALESCE(CAST(d.registration_due AS TEXT), '') \
     || '|' || COALESCE(CAST(d.redirect_due AS TEXT), '') || '|' || COALESCE(CAST(i.extended_at AS TEXT), '') \
     || '|' || COALESCE(i.deadline_policy, '') || '|' || COALESCE(CAST(i.warned_due AS TEXT), '') \
     || '|' || COALESCE(CAST(i.breached_due AS TEXT), '') || '|' || CAST(i.paused_seconds AS TEXT)";

/// Unpacks one `DEADLINE_PACK` value.
fn deadline_row(p: &str) -> Result<DeadlineRow, StoreError> {
    let bad = || corrupt("deadline row", p);
    let f: Vec<&str> = p.split('|').collect();
    if f.len() != 21 {
        return Err(bad());
    }
    let int = |s: &str| s.parse::<i64>().map_err(|_| bad());
    let opt_int = |s: &str| if s.is_empty() { Ok(None) } else { int(s).map(Some) };
    let opt_ms = |s: &str| opt_int(s).map(opt_at);
    let text = |s: &str| (!s.is_empty()).then(|| s.to_string());
    Ok(DeadlineRow {
        id: int(f[0])?,
        version: int(f[1])?,
        is_new: f[2] == Status::New.as_str(),
        channel: Channel::parse(f[3]).ok_or_else(bad)?,
        category: text(f[4]),
        kind: Kind::parse(f[5]),
        urgent: int(f[6])? != 0,
        territory: text(f[7]),
        org: text(f[8]),
        created_at: at(int(f[9])?),
        clock_started_at: opt_ms(f[10])?,
        first_answered_at: opt_ms(f[11])?,
        first_answer_due: opt_ms(f[12])?,
        resolution_due: opt_ms(f[13])?,
        registration_due: opt_ms(f[14])?,
        redirect_due: opt_ms(f[15])?,
        extended: !f[16].is_empty(),
        deadline_policy: text(f[17]),
        warned_due: opt_ms(f[18])?,
        breached_due: opt_ms(f[19])?,
        paused_seconds: int(f[20])?,
    })
}

const PUBLICATION_COLS: &str = "p.id, p.channel, p.target, p.message_id, p.state, p.attempts, p.last_error, \
     p.next_attempt_at, p.external_id, p.updated_at";

fn publication_row(r: &AnyRow) -> Result<Publication, StoreError> {
    let channel: String = get(r, "channel")?;
    let state: String = get(r, "state")?;
    let next: i64 = get(r, "next_attempt_at")?;
    let state = PublicationState::parse(&state).ok_or_else(|| corrupt("publication state", &state))?;
    Ok(Publication {
        id: get(r, "id")?,
        channel: Channel::parse(&channel).ok_or_else(|| corrupt("channel", &channel))?,
        target: get(r, "target")?,
        message_id: get(r, "message_id")?,
        next_attempt_at: matches!(state, PublicationState::Pending | PublicationState::Failed).then(|| at(next)),
        state,
        attempts: get::<i64>(r, "attempts")? as i32,
        last_error: get(r, "last_error")?,
        external_id: get(r, "external_id")?,
        updated_at: at(get(r, "updated_at")?),
    })
}

fn outbox_row(r: &AnyRow) -> Result<OutboxEntry, StoreError> {
    Ok(OutboxEntry {
        publication: publication_row(r)?,
        answer_id: get(r, "answer_id")?,
        incident_id: get(r, "incident_id")?,
        text: get(r, "text")?,
    })
}

const OUTBOX_FROM: &str = "FROM publications p JOIN answers a ON a.id = p.answer_id";

const NOTIFICATION_COLS: &str = "id, at, incident_id, kind, org, region, municipality, text, webhook_state, webhook_attempts, email_state, \
     email_attempts";

fn notification_row(r: &AnyRow) -> Result<Notification, StoreError> {
    let state: String = get(r, "webhook_state")?;
    Ok(Notification {
        id: get(r, "id")?,
        at: at(get(r, "at")?),
        incident_id: get(r, "incident_id")?,
        kind: get(r, "kind")?,
        org: get(r, "org")?,
        region: get(r, "region")?,
        municipality: get(r, "municipality")?,
        text: get(r, "text")?,
        webhook_state: PublicationState::parse(&state).ok_or_else(|| corrupt("webhook state", &state))?,
        webhook_attempts: get::<i64>(r, "webhook_attempts")? as i32,
        email_state: PublicationState::parse(&get::<String>(r, "email_state")?),
        email_attempts: get::<i64>(r, "email_attempts")? as i32,
    })
}

fn answer_row(r: &AnyRow) -> Result<Answer, StoreError> {
    let kind: String = get(r, "kind")?;
    let state: String = get(r, "state")?;
    let reason: Option<String> = get(r, "return_reason")?;
    let attachments: String = get(r, "attachments")?;
    Ok(Answer {
        id: get(r, "id")?,
        incident_id: get(r, "incident_id")?,
        kind: AnswerKind::parse(&kind).ok_or_else(|| corrupt("answer kind", &kind))?,
        text: get(r, "text")?,
        state: AnswerState::parse(&state).ok_or_else(|| corrupt("answer state", &state))?,
        author_id: get(r, "author_id")?,
        reviewer_id: get(r, "reviewer_id")?,
        return_reason: reason.as_deref().and_then(ReworkReason::parse),
        return_comment: get(r, "return_comment")?,
        attachments: from_json(&attachments),
        created_at: at(get(r, "created_at")?),
        updated_at: at(get(r, "updated_at")?),
        published_at: opt_at(get(r, "published_at")?),
        publications: vec![],
    })
}

fn template_row(r: &AnyRow) -> Result<AnswerTemplate, StoreError> {
    Ok(AnswerTemplate {
        id: get(r, "id")?,
        body: NewAnswerTemplate {
            name: get(r, "name")?,
            text: get(r, "text")?,
            position: get::<i64>(r, "position")?.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32,
        },
    })
}

fn user_row(r: &AnyRow) -> Result<User, StoreError> {
    let grants: String = get(r, "grants")?;
    Ok(User {
        id: get(r, "id")?,
        login: get(r, "login")?,
        display_name: get(r, "display_name")?,
        active: get::<i64>(r, "active")? != 0,
        grants: from_json(&grants),
        created_at: at(get(r, "created_at")?),
    })
}

/// Finished incidents and those without a deadline sort last by deadline.
fn next_due_key(i: &Incident) -> i64 {
    unfinished_key(i, i.next_due())
}

/// An instant as an index key; finished incidents and missing instants sort last.
fn unfinished_key(i: &Incident, t: Option<DateTime<Utc>>) -> i64 {
    if i.status.is_terminal() { i64::MAX } else { t.map(ms).unwrap_or(i64::MAX) }
}

pub(crate) fn direction(category: &Option<String>) -> Option<String> {
    category.as_deref().map(|c| c.split('.').next().unwrap_or(c).to_string())
}

impl SqlStore {
    pub(crate) fn new(pool: AnyPool, backend: Backend) -> Self {
        let write_lock = (backend == Backend::Sqlite).then(|| std::sync::Arc::new(tokio::sync::Mutex::new(())));
        let intake = crate::intake::spawn(pool.clone(), backend, write_lock.clone());
        SqlStore { pool, backend, write_lock, intake, _checkpoints: None }
    }

    /// Ties the life of a background checkpoint task to this store (see `checkpoints`).
    pub(crate) fn with_checkpoints(self, stop: tokio::sync::mpsc::Sender<()>) -> Self {
        SqlStore { _checkpoints: Some(stop), ..self }
    }

    /// Takes the in-process writer slot (SQLite only) for the duration of a write transaction.
    async fn writer(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        writer_slot(&self.write_lock).await
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes the pool (flushing SQLite's WAL).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Builds the WHERE clause shared by list and count.
    /// Notifications whose delivery by one route (`webhook_state` or `email_state`) is due.
    async fn pending_notifications(&self, state_column: &str, limit: u32) -> Result<Vec<Notification>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {NOTIFICATION_COLS} FROM notifications WHERE {state_column} IN ('pending', 'failed') \
             ORDER BY id LIMIT $1"
        )))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(backend_error)?;
        rows.iter().map(notification_row).collect()
    }

    /// Records a delivery attempt by one route (`webhook` or `email`).
    async fn mark_notification(
        &self,
        route: &str,
        id: Id,
        state: PublicationState,
        attempts: i32,
    ) -> Result<(), StoreError> {
        sqlx::query(AssertSqlSafe(format!(
            "UPDATE notifications SET {route}_state = $1, {route}_attempts = $2 WHERE id = $3"
        )))
        .bind(state.as_str())
        .bind(i64::from(attempts))
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(backend_error)?;
        Ok(())
    }

    /// Restricts rows of `incidents i` to a scope.
    fn scope(scope: &ScopeFilter, sql: &mut Sql) {
        Self::scope_part(scope, "i.", sql, ScopePart::Whole);
    }

    /// Restricts rows of `incidents i` to a part of a scope. Region, municipality, organisation and
    /// id are read from `keys` (`i.`, or `d.` for `incident_deadlines d` when the rows are walked
    /// by deadline, so its indexes serve). A lone condition is written bare: the planner walks its
    /// column's index (`municipality, next_due`, …) only when no `OR` wraps it.
    fn scope_part(scope: &ScopeFilter, keys: &str, sql: &mut Sql, part: ScopePart) {
        if scope.all {
            return;
        }
        if scope.is_empty() {
            sql.push(" AND 1=0");
            return;
        }
        // The scope's direct conditions: a column and its codes each.
        let mut direct: Vec<(&str, Vec<String>)> = vec![];
        for col in ["region", "municipality", "territory"] {
            let codes: Vec<String> =
                scope.territories.iter().filter(|t| t.column() == col).map(|t| t.code.clone()).collect();
            if !codes.is_empty() {
                direct.push((col, codes));
            }
        }
        if !scope.orgs.is_empty() {
            direct.push(("org", scope.orgs.clone()));
        }
        let co_executed = |sql: &mut Sql| {
            sql.push(&format!(" {keys}id IN (SELECT incident_id FROM incident_orgs WHERE org IN "))
                .bind_list(&scope.orgs)
                .push(")");
        };
        let terms = |sql: &mut Sql| {
            for (n, (col, codes)) in direct.iter().enumerate() {
                sql.push(if n == 0 { " " } else { " OR " });
                sql.push(&format!("{}{col} IN ", scope_table(col, keys))).bind_list(codes);
            }
        };
        match part {
            ScopePart::Whole if !scope.orgs.is_empty() => {
                sql.push(" AND (");
                terms(sql);
                sql.push(" OR");
                co_executed(sql);
                sql.push(")");
            }
            ScopePart::Whole | ScopePart::Direct if direct.len() == 1 => {
                sql.push(" AND");
                terms(sql);
            }
            ScopePart::Whole | ScopePart::Direct => {
                sql.push(" AND (");
                terms(sql);
                sql.push(")");
            }
            ScopePart::CoExecutedOnly => {
                // Co-executed incidents the direct part does not already hold (a NULL column
                // matches nothing there).
                sql.push(" AND");
                co_executed(sql);
                sql.push(" AND NOT COALESCE((");
                terms(sql);
                sql.push("), FALSE)");
            }
        }
    }

    /// The conditions of a list or count on `incidents i` joined with `incident_deadlines d`;
    /// `keys` as for `scope_part`.
    fn filter_part(q: &IncidentQuery, scope: &ScopeFilter, sql: &mut Sql, part: ScopePart, keys: &str) {
        sql.push(" WHERE 1=1");
        Self::scope_part(scope, keys, sql, part);
        if !q.statuses.is_empty() {
            // A long list ("everything open") is written as the short list it excludes: the
            // planner then walks the sort order's index instead of sorting every match.
            let others: Vec<String> =
                Status::ALL.iter().filter(|s| !q.statuses.contains(s)).map(|s| s.as_str().to_string()).collect();
            if others.len() < q.statuses.len() {
                if !others.is_empty() {
                    sql.push(" AND i.status NOT IN ").bind_list(&others);
                }
            } else {
                let s: Vec<String> = q.statuses.iter().map(|s| s.as_str().to_string()).collect();
                sql.push(" AND i.status IN ").bind_list(&s);
            }
        }
        if let Some(t) = &q.territory {
            let col = t.column();
            sql.push(&format!(" AND {}{col} = ", scope_table(col, keys))).bind(Bind::S(t.code.clone()));
        }
        if let Some(c) = &q.category {
            if c.contains('.') {
                sql.push(" AND (i.category = ").bind(Bind::S(c.clone()));
                sql.push(" OR i.category LIKE ").bind(Bind::S(format!("{c}.%"))).push(")");
            } else {
                sql.push(" AND i.direction = ").bind(Bind::S(c.clone()));
            }
        }
        if let Some(o) = &q.org {
            sql.push(&format!(" AND {keys}org = ")).bind(Bind::S(o.clone()));
        }
        if let Some(c) = q.channel {
            sql.push(" AND i.channel = ").bind(Bind::S(c.as_str().into()));
        }
        if let Some(k) = q.kind {
            sql.push(" AND i.kind = ").bind(Bind::S(k.as_str().into()));
        }
        if let Some(u) = q.urgent {
            sql.push(" AND i.urgent = ").bind(Bind::I(u as i64));
        }
        if let Some(t) = q.text.as_deref().filter(|t| !t.is_empty()) {
            let escaped: String =
                t.chars().flat_map(|c| if matches!(c, '%' | '_' | '\\') { vec!['\\', c] } else { vec![c] }).collect();
            sql.push(" AND i.summary LIKE ").bind(Bind::S(format!("%{escaped}%"))).push(" ESCAPE '\\'");
        }
        if let Some(overdue) = q.overdue {
            let now = ms(q.now.unwrap_or_else(Utc::now));
            if overdue {
                sql.push(" AND d.next_due < ").bind(Bind::I(now));
                sql.push(" AND i.status NOT IN ('closed', 'rejected')");
            } else {
                sql.push(" AND (d.next_due >= ").bind(Bind::I(now));
                sql.push(" OR i.status IN ('closed', 'rejected'))");
            }
        }
    }

    async fn publications(&self, answer_id: Id) -> Result<Vec<Publication>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {PUBLICATION_COLS} FROM publications p WHERE answer_id = $1 ORDER BY id"
        )))
        .bind(answer_id)
        .fetch_all(&self.pool)
        .await
        .map_err(backend_error)?;
        rows.iter().map(publication_row).collect()
    }

    /// Messages matching `cond` (a condition on `messages` with one placeholder), with revisions.
    async fn load_messages(&self, cond: &str, value: Id) -> Result<Vec<Message>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT id, incident_id, channel, source, external_id, thread_id, parent_id, author_id, author_name, \
             text, attachments, url, published_at, captured_at, raw FROM messages WHERE {cond} ORDER BY id"
        )))
        .bind(value)
        .fetch_all(&self.pool)
        .await
        .map_err(backend_error)?;
        let mut messages = Vec::with_capacity(rows.len());
        for r in &rows {
            let channel: String = get(r, "channel")?;
            let attachments: String = get(r, "attachments")?;
            let raw: String = get(r, "raw")?;
            let mid: i64 = get(r, "id")?;
            let revs = sqlx::query("SELECT kind, text, at FROM message_revisions WHERE message_id = $1 ORDER BY id")
                .bind(mid)
                .fetch_all(&self.pool)
                .await
                .map_err(backend_error)?;
            let revisions = revs
                .iter()
                .map(|v| {
                    let kind: String = get(v, "kind")?;
                    Ok(MessageRevision {
                        kind: RevisionKind::parse(&kind).ok_or_else(|| corrupt("revision kind", &kind))?,
                        text: get(v, "text")?,
                        at: at(get(v, "at")?),
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            messages.push(Message {
                id: mid,
                incident_id: get(r, "incident_id")?,
                body: NewMessage {
                    channel: Channel::parse(&channel).ok_or_else(|| corrupt("channel", &channel))?,
                    source: get(r, "source")?,
                    external_id: get(r, "external_id")?,
                    thread_id: get(r, "thread_id")?,
                    parent_id: get(r, "parent_id")?,
                    author: Author { id: get(r, "author_id")?, name: get(r, "author_name")? },
                    text: get(r, "text")?,
                    attachments: from_json(&attachments),
                    published_at: at(get(r, "published_at")?),
                    url: get(r, "url")?,
                    raw: serde_json::from_str(&raw).unwrap_or(serde_json::Value::Null),
                },
                captured_at: at(get(r, "captured_at")?),
                revisions,
            });
        }
        Ok(messages)
    }
}

/// An insert statement and the same statement as an upsert (`ON CONFLICT …`), both literals.
macro_rules! insert_or_upsert {
    ($insert:literal, $conflict:literal) => {
        ($insert, concat!($insert, " ", $conflict))
    };
}

/// The insert of one territory, and the same as an upsert.
const TERRITORY_SQL: (&str, &str) = insert_or_upsert!(
    "INSERT INTO territories (code, name, full_name, level, parent, zone, oktmo, aliases) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    "ON CONFLICT (code) DO UPDATE SET name = excluded.name, \
         full_name = excluded.full_name, level = excluded.level, parent = excluded.parent, \
         zone = excluded.zone, oktmo = excluded.oktmo, aliases = excluded.aliases"
);

/// Writes one territory: an insert, or with `upsert` one that replaces the record with its key.
pub(crate) fn territory_write(t: &Territory, upsert: bool) -> Query<'_, Any, AnyArguments> {
    sqlx::query(if upsert { TERRITORY_SQL.1 } else { TERRITORY_SQL.0 })
        .bind(&t.code)
        .bind(&t.name)
        .bind(&t.full_name)
        .bind(t.level.as_str())
        .bind(t.parent.clone())
        .bind(&t.zone)
        .bind(t.oktmo.clone())
        .bind(to_json(&t.aliases))
}

/// The insert of one organisation, and the same as an upsert.
const ORGANISATION_SQL: (&str, &str) = insert_or_upsert!(
    "INSERT INTO organisations (code, name, kind, territory, parent, sectors, working_hours) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    "ON CONFLICT (code) DO UPDATE SET name = excluded.name, \
         kind = excluded.kind, territory = excluded.territory, parent = excluded.parent, \
         sectors = excluded.sectors, working_hours = excluded.working_hours"
);

/// Writes one organisation: an insert, or with `upsert` one that replaces the record with its key.
pub(crate) fn organisation_write(o: &Organisation, upsert: bool) -> Query<'_, Any, AnyArguments> {
    sqlx::query(if upsert { ORGANISATION_SQL.1 } else { ORGANISATION_SQL.0 })
        .bind(&o.code)
        .bind(&o.name)
        .bind(o.kind.as_str())
        .bind(&o.territory)
        .bind(o.parent.clone())
        .bind(to_json(&o.sectors))
        .bind(o.working_hours.clone())
}

/// The insert of one category, and the same as an upsert.
const CATEGORY_SQL: (&str, &str) = insert_or_upsert!(
    "INSERT INTO categories (code, name, photo_required, form_days) VALUES ($1, $2, $3, $4) \
        ",
    "ON CONFLICT (code) DO UPDATE SET name = excluded.name, photo_required = excluded.photo_required, \
         form_days = excluded.form_days"
);

/// Writes one category: an insert, or with `upsert` one that replaces the record with its key.
pub(crate) fn category_write(c: &Category, upsert: bool) -> Query<'_, Any, AnyArguments> {
    sqlx::query(if upsert { CATEGORY_SQL.1 } else { CATEGORY_SQL.0 })
        .bind(&c.code)
        .bind(&c.name)
        .bind(c.photo_required as i64)
        .bind(c.form_days.map(i64::from))
}

/// The insert of one source, and the same as an upsert.
const SOURCE_SQL: (&str, &str) = insert_or_upsert!(
    "INSERT INTO sources (channel, key, name, territory, org) VALUES ($1, $2, $3, $4, $5) \
        ",
    "ON CONFLICT (channel, key) DO UPDATE SET name = excluded.name, territory = excluded.territory, \
         org = excluded.org"
);

/// Writes one source: an insert, or with `upsert` one that replaces the record with its key.
pub(crate) fn source_write(s: &Source, upsert: bool) -> Query<'_, Any, AnyArguments> {
    sqlx::query(if upsert { SOURCE_SQL.1 } else { SOURCE_SQL.0 })
        .bind(s.channel.as_str())
        .bind(&s.key)
        .bind(&s.name)
        .bind(s.territory.clone())
        .bind(s.org.clone())
}

/// The insert of one routing rule, and the same as an upsert.
const ROUTING_RULE_SQL: (&str, &str) = insert_or_upsert!(
    "INSERT INTO routing_rules (code, category, territory, channel, kind, org, co_executors, priority) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    "ON CONFLICT (code) DO UPDATE SET category = excluded.category, \
         territory = excluded.territory, channel = excluded.channel, kind = excluded.kind, org = excluded.org, \
         co_executors = excluded.co_executors, priority = excluded.priority"
);

/// Writes one routing rule: an insert, or with `upsert` one that replaces the record with its key.
pub(crate) fn routing_rule_write(r: &otklik_core::routing::RoutingRule, upsert: bool) -> Query<'_, Any, AnyArguments> {
    sqlx::query(if upsert { ROUTING_RULE_SQL.1 } else { ROUTING_RULE_SQL.0 })
        .bind(&r.code)
        .bind(r.category.clone())
        .bind(r.territory.clone())
        .bind(r.channel.map(|c| c.as_str()))
        .bind(r.kind.map(|k| k.as_str()))
        .bind(&r.org)
        .bind(to_json(&r.co_executors))
        .bind(i64::from(r.priority))
}

/// The insert of one deadline policy, and the same as an upsert.
const DEADLINE_POLICY_SQL: (&str, &str) = insert_or_upsert!(
    "INSERT INTO deadline_policies (code, body) VALUES ($1, $2)",
    "ON CONFLICT (code) DO UPDATE SET body = excluded.body"
);

/// Writes one deadline policy: an insert, or with `upsert` one that replaces the record with its key.
pub(crate) fn deadline_policy_write(
    p: &otklik_core::deadlines::DeadlinePolicy,
    upsert: bool,
) -> Query<'_, Any, AnyArguments> {
    sqlx::query(if upsert { DEADLINE_POLICY_SQL.1 } else { DEADLINE_POLICY_SQL.0 }).bind(&p.code).bind(to_json(p))
}

#[async_trait]
impl Store for SqlStore {
    async fn upsert_territory(&self, t: &Territory) -> Result<(), StoreError> {
        territory_write(t, true).execute(&self.pool).await.map_err(backend_error)?;
        Ok(())
    }

    async fn territories(&self) -> Result<Vec<Territory>, StoreError> {
        let rows = sqlx::query(
            "SELECT code, name, full_name, level, parent, zone, oktmo, aliases FROM territories ORDER BY code",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(backend_error)?;
        rows.iter()
            .map(|r| {
                let level: String = get(r, "level")?;
                let aliases: String = get(r, "aliases")?;
                Ok(Territory {
                    code: get(r, "code")?,
                    name: get(r, "name")?,
                    full_name: get(r, "full_name")?,
                    level: TerritoryLevel::parse(&level).ok_or_else(|| corrupt("level", &level))?,
                    parent: get(r, "parent")?,
                    zone: get(r, "zone")?,
                    oktmo: get(r, "oktmo")?,
                    aliases: from_json(&aliases),
                })
            })
            .collect()
    }

    async fn upsert_organisation(&self, o: &Organisation) -> Result<(), StoreError> {
        organisation_write(o, true).execute(&self.pool).await.map_err(backend_error)?;
        Ok(())
    }

    async fn organisations(&self) -> Result<Vec<Organisation>, StoreError> {
        let rows = sqlx::query(
            "SELECT code, name, kind, territory, parent, sectors, working_hours FROM organisations ORDER BY code",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(backend_error)?;
        rows.iter()
            .map(|r| {
                let kind: String = get(r, "kind")?;
                let sectors: String = get(r, "sectors")?;
                Ok(Organisation {
                    code: get(r, "code")?,
                    name: get(r, "name")?,
                    kind: OrgKind::parse(&kind).ok_or_else(|| corrupt("organisation kind", &kind))?,
                    territory: get(r, "territory")?,
                    parent: get(r, "parent")?,
                    sectors: from_json(&sectors),
                    working_hours: get(r, "working_hours")?,
                })
            })
            .collect()
    }

    async fn upsert_category(&self, c: &Category) -> Result<(), StoreError> {
        category_write(c, true).execute(&self.pool).await.map_err(backend_error)?;
        Ok(())
    }

    async fn categories(&self) -> Result<Vec<Category>, StoreError> {
        let rows = sqlx::query("SELECT code, name, photo_required, form_days FROM categories ORDER BY code")
            .fetch_all(&self.pool)
            .await
            .map_err(backend_error)?;
        rows.iter()
            .map(|r| {
                Ok(Category {
                    code: get(r, "code")?,
                    name: get(r, "name")?,
                    photo_required: get::<i64>(r, "photo_required")? != 0,
                    form_days: get::<Option<i64>>(r, "form_days")?.map(|d| d.max(0) as u32),
                })
            })
            .collect()
    }

    async fn upsert_source(&self, s: &Source) -> Result<(), StoreError> {
        source_write(s, true).execute(&self.pool).await.map_err(backend_error)?;
        Ok(())
    }

    async fn sources(&self) -> Result<Vec<Source>, StoreError> {
        let rows = sqlx::query("SELECT channel, key, name, territory, org FROM sources ORDER BY channel, key")
            .fetch_all(&self.pool)
            .await
            .map_err(backend_error)?;
        rows.iter()
            .map(|r| {
                let channel: String = get(r, "channel")?;
                Ok(Source {
                    channel: Channel::parse(&channel).ok_or_else(|| corrupt("channel", &channel))?,
                    key: get(r, "key")?,
                    name: get(r, "name")?,
                    territory: get(r, "territory")?,
                    org: get(r, "org")?,
                })
            })
            .collect()
    }

    async fn upsert_routing_rule(&self, r: &otklik_core::routing::RoutingRule) -> Result<(), StoreError> {
        routing_rule_write(r, true).execute(&self.pool).await.map_err(backend_error)?;
        Ok(())
    }

    async fn routing_rules(&self) -> Result<Vec<otklik_core::routing::RoutingRule>, StoreError> {
        let rows = sqlx::query(
            "SELECT code, category, territory, channel, kind, org, co_executors, priority FROM routing_rules ORDER BY code",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(backend_error)?;
        rows.iter()
            .map(|r| {
                let channel: Option<String> = get(r, "channel")?;
                let kind: Option<String> = get(r, "kind")?;
                let co: String = get(r, "co_executors")?;
                Ok(otklik_core::routing::RoutingRule {
                    code: get(r, "code")?,
                    category: get(r, "category")?,
                    territory: get(r, "territory")?,
                    channel: channel.as_deref().and_then(Channel::parse),
                    kind: kind.as_deref().and_then(Kind::parse),
                    org: get(r, "org")?,
                    co_executors: from_json(&co),
                    priority: get::<i64>(r, "priority")?.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32,
                })
            })
            .collect()
    }

    async fn delete_routing_rule(&self, code: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM routing_rules WHERE code = $1")
            .bind(code)
            .execute(&self.pool)
            .await
            .map_err(backend_error)?;
        Ok(done.rows_affected() > 0)
    }

    async fn upsert_deadline_policy(&self, p: &otklik_core::deadlines::DeadlinePolicy) -> Result<(), StoreError> {
        deadline_policy_write(p, true).execute(&self.pool).await.map_err(backend_error)?;
        Ok(())
    }

    async fn deadline_policies(&self) -> Result<Vec<otklik_core::deadlines::DeadlinePolicy>, StoreError> {
        let rows = sqlx::query("SELECT code, body FROM deadline_policies ORDER BY code")
            .fetch_all(&self.pool)
            .await
            .map_err(backend_error)?;
        rows.iter()
            .map(|r| {
                let body: String = get(r, "body")?;
                serde_json::from_str(&body).map_err(|e| corrupt("deadline policy", &e.to_string()))
            })
            .collect()
    }

    async fn delete_deadline_policy(&self, code: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM deadline_policies WHERE code = $1")
            .bind(code)
            .execute(&self.pool)
            .await
            .map_err(backend_error)?;
        Ok(done.rows_affected() > 0)
    }

    async fn replace_reference(
        &self,
        data: &otklik_core::reference::ReferenceData,
        calendar: Option<&[otklik_core::store::StoredCalendarYear]>,
    ) -> Result<(), StoreError> {
        self.replace_reference_data(data, calendar).await
    }

    async fn calendar_years(&self) -> Result<Vec<otklik_core::store::StoredCalendarYear>, StoreError> {
        self.list_calendar_years().await
    }

    async fn calendar_year(&self, year: i32) -> Result<Option<otklik_core::store::StoredCalendarYear>, StoreError> {
        self.one_calendar_year(year).await
    }

    async fn put_calendar_year(&self, y: &otklik_core::store::StoredCalendarYear) -> Result<(), StoreError> {
        self.store_calendar_year(y).await
    }

    async fn delete_calendar_year(&self, year: i32) -> Result<bool, StoreError> {
        self.remove_calendar_year(year).await
    }

    async fn answer_templates(&self) -> Result<Vec<AnswerTemplate>, StoreError> {
        let rows = sqlx::query("SELECT id, name, text, position FROM answer_templates ORDER BY position, id")
            .fetch_all(&self.pool)
            .await
            .map_err(backend_error)?;
        rows.iter().map(template_row).collect()
    }

    async fn create_answer_template(&self, t: &NewAnswerTemplate) -> Result<AnswerTemplate, StoreError> {
        let row = sqlx::query(
            "INSERT INTO answer_templates (name, text, position) VALUES ($1, $2, $3) \
             RETURNING id, name, text, position",
        )
        .bind(&t.name)
        .bind(&t.text)
        .bind(i64::from(t.position))
        .fetch_one(&self.pool)
        .await
        .map_err(backend_error)?;
        template_row(&row)
    }

    async fn update_answer_template(&self, id: Id, t: &NewAnswerTemplate) -> Result<AnswerTemplate, StoreError> {
        let row = sqlx::query(
            "UPDATE answer_templates SET name = $1, text = $2, position = $3 WHERE id = $4 \
             RETURNING id, name, text, position",
        )
        .bind(&t.name)
        .bind(&t.text)
        .bind(i64::from(t.position))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend_error)?
        .ok_or(StoreError::NotFound)?;
        template_row(&row)
    }

    async fn delete_answer_template(&self, id: Id) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM answer_templates WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(backend_error)?;
        Ok(done.rows_affected() > 0)
    }

    async fn create_user(&self, u: &NewUser, now: DateTime<Utc>) -> Result<User, StoreError> {
        let row = sqlx::query(
            "INSERT INTO users (login, display_name, password_hash, active, grants, created_at) \
             VALUES ($1, $2, $3, 1, $4, $5) RETURNING id",
        )
        .bind(&u.login)
        .bind(&u.display_name)
        .bind(u.password_hash.clone())
        .bind(to_json(&u.grants))
        .bind(ms(now))
        .fetch_one(&self.pool)
        .await
        .map_err(|e| match backend_error(e) {
            StoreError::Conflict(_) => StoreError::Conflict(format!("login `{}` is taken", u.login)),
            other => other,
        })?;
        let id: i64 = row.try_get("id").map_err(backend_error)?;
        self.user(id).await?.ok_or(StoreError::NotFound)
    }

    async fn user(&self, id: Id) -> Result<Option<User>, StoreError> {
        let row = sqlx::query("SELECT id, login, display_name, active, grants, created_at FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend_error)?;
        row.as_ref().map(user_row).transpose()
    }

    async fn user_by_login(&self, login: &str) -> Result<Option<(User, Option<String>)>, StoreError> {
        let row = sqlx::query(
            "SELECT id, login, display_name, active, grants, created_at, password_hash FROM users WHERE login = $1",
        )
        .bind(login)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend_error)?;
        match row {
            None => Ok(None),
            Some(r) => {
                let hash: Option<String> = r.try_get("password_hash").map_err(backend_error)?;
                Ok(Some((user_row(&r)?, hash)))
            }
        }
    }

    async fn users(&self) -> Result<Vec<User>, StoreError> {
        let rows = sqlx::query("SELECT id, login, display_name, active, grants, created_at FROM users ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .map_err(backend_error)?;
        rows.iter().map(user_row).collect()
    }

    async fn update_user(
        &self,
        id: Id,
        display_name: Option<&str>,
        active: Option<bool>,
        password_hash: Option<&str>,
        grants: Option<&[Grant]>,
    ) -> Result<User, StoreError> {
        let done = sqlx::query(
            "UPDATE users SET display_name = COALESCE($1, display_name), active = COALESCE($2, active), \
             password_hash = COALESCE($3, password_hash), grants = COALESCE($4, grants) WHERE id = $5",
        )
        .bind(display_name.map(str::to_string))
        .bind(active.map(i64::from))
        .bind(password_hash.map(str::to_string))
        .bind(grants.map(|g| to_json(&g)))
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(backend_error)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        if active == Some(false) {
            // A deactivated user loses every session at once.
            sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(id)
                .execute(&self.pool)
                .await
                .map_err(backend_error)?;
        }
        self.user(id).await?.ok_or(StoreError::NotFound)
    }

    async fn create_session(&self, s: &Session) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&s.token_hash)
        .bind(s.user_id)
        .bind(&s.csrf_token)
        .bind(ms(s.created_at))
        .bind(ms(s.expires_at))
        .execute(&self.pool)
        .await
        .map_err(backend_error)?;
        Ok(())
    }

    async fn session(&self, token_hash: &str) -> Result<Option<Session>, StoreError> {
        let row = sqlx::query(
            "SELECT token_hash, user_id, csrf_token, created_at, expires_at FROM sessions WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend_error)?;
        row.as_ref()
            .map(|r| {
                Ok(Session {
                    token_hash: get(r, "token_hash")?,
                    user_id: get(r, "user_id")?,
                    csrf_token: get(r, "csrf_token")?,
                    created_at: at(get(r, "created_at")?),
                    expires_at: at(get(r, "expires_at")?),
                })
            })
            .transpose()
    }

    async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await
            .map_err(backend_error)?;
        Ok(())
    }

    async fn create_token(
        &self,
        user_id: Id,
        name: &str,
        token_hash: &str,
        now: DateTime<Utc>,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<ApiToken, StoreError> {
        let row = sqlx::query(
            "INSERT INTO api_tokens (user_id, name, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5) \
             RETURNING id",
        )
        .bind(user_id)
        .bind(name)
        .bind(token_hash)
        .bind(ms(now))
        .bind(expires_at.map(ms))
        .fetch_one(&self.pool)
        .await
        .map_err(backend_error)?;
        Ok(ApiToken {
            id: row.try_get("id").map_err(backend_error)?,
            user_id,
            name: name.to_string(),
            created_at: at(ms(now)),
            expires_at: expires_at.map(|e| at(ms(e))),
        })
    }

    async fn token(&self, token_hash: &str) -> Result<Option<ApiToken>, StoreError> {
        let row = sqlx::query("SELECT id, user_id, name, created_at, expires_at FROM api_tokens WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend_error)?;
        row.as_ref()
            .map(|r| {
                Ok(ApiToken {
                    id: get(r, "id")?,
                    user_id: get(r, "user_id")?,
                    name: get(r, "name")?,
                    created_at: at(get(r, "created_at")?),
                    expires_at: opt_at(get(r, "expires_at")?),
                })
            })
            .transpose()
    }

    async fn ingest(
        &self,
        msg: &NewMessage,
        seed: &IncidentSeed,
        now: DateTime<Utc>,
    ) -> Result<IngestOutcome, StoreError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job = crate::intake::Job { msg: msg.clone(), seed: seed.clone(), now, reply };
        self.intake.send(job).await.map_err(|_| StoreError::Backend("the intake writer has stopped".into()))?;
        answer.await.map_err(|_| StoreError::Backend("the intake writer has stopped".into()))?
    }

    async fn message_by_key(
        &self,
        channel: Channel,
        source: &str,
        external_id: &str,
    ) -> Result<Option<(Id, Id)>, StoreError> {
        let row =
            sqlx::query("SELECT id, incident_id FROM messages WHERE channel = $1 AND source = $2 AND external_id = $3")
                .bind(channel.as_str())
                .bind(source)
                .bind(external_id)
                .fetch_optional(&self.pool)
                .await
                .map_err(backend_error)?;
        row.as_ref()
            .map(|r| Ok((r.try_get("id").map_err(backend_error)?, r.try_get("incident_id").map_err(backend_error)?)))
            .transpose()
    }

    async fn record_revision(
        &self,
        channel: Channel,
        source: &str,
        external_id: &str,
        rev: &MessageRevision,
    ) -> Result<Option<Id>, StoreError> {
        let _writer = self.writer().await;
        let mut tx = self.pool.begin().await.map_err(backend_error)?;
        let row = sqlx::query(
            "INSERT INTO message_revisions (message_id, kind, text, at) \
             SELECT id, $1, $2, $3 FROM messages WHERE channel = $4 AND source = $5 AND external_id = $6 \
             RETURNING message_id",
        )
        .bind(rev.kind.as_str())
        .bind(rev.text.clone())
        .bind(ms(rev.at))
        .bind(channel.as_str())
        .bind(source)
        .bind(external_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend_error)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let message_id: i64 = row.try_get("message_id").map_err(backend_error)?;
        let incident: i64 = sqlx::query("SELECT incident_id FROM messages WHERE id = $1")
            .bind(message_id)
            .fetch_one(&mut *tx)
            .await
            .map_err(backend_error)?
            .try_get("incident_id")
            .map_err(backend_error)?;
        let action = match rev.kind {
            RevisionKind::Edit => "message_edited",
            RevisionKind::Delete => "message_deleted",
        };
        let changes = vec![FieldChange {
            field: format!("message.{message_id}.text"),
            before: serde_json::Value::Null,
            after: serde_json::json!(rev.text),
        }];
        sqlx::query(
            "INSERT INTO events (incident_id, at, actor_id, actor, action, changes, note) \
             VALUES ($1, $2, NULL, 'system', $3, $4, NULL)",
        )
        .bind(incident)
        .bind(ms(rev.at))
        .bind(action)
        .bind(to_json(&changes))
        .execute(&mut *tx)
        .await
        .map_err(backend_error)?;
        tx.commit().await.map_err(backend_error)?;
        Ok(Some(message_id))
    }

    async fn incident(&self, id: Id) -> Result<Option<Incident>, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!("SELECT {INCIDENT_COLS} FROM {INCIDENT_FROM} WHERE i.id = $1")))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend_error)?;
        row.as_ref().map(incident_row).transpose()
    }

    async fn incident_detail(&self, id: Id) -> Result<Option<IncidentDetail>, StoreError> {
        let Some(incident) = self.incident(id).await? else {
            return Ok(None);
        };
        let messages = self.load_messages("incident_id = $1", id).await?;
        let answers = self.answers(id).await?;
        let history = self.history(id).await?;
        Ok(Some(IncidentDetail { incident, messages, answers, history }))
    }

    async fn list_incidents(&self, q: &IncidentQuery, scope: &ScopeFilter) -> Result<Page<Incident>, StoreError> {
        let (col, desc) = match q.sort {
            SortKey::CreatedDesc => ("i.created_at", true),
            SortKey::CreatedAsc => ("i.created_at", false),
            SortKey::DueAsc => ("d.next_due", false),
            SortKey::UpdatedDesc => ("i.updated_at", true),
        };
        // Walked by deadline, the rows come from the deadline table's indexes, which hold its
        // own copies of the scope's columns.
        let keys = if q.sort == SortKey::DueAsc { "d." } else { "i." };
        let dir = if desc { "DESC" } else { "ASC" };
        let limit = q.limit.clamp(1, 500) as i64;
        let select = |sql: &mut Sql, part: ScopePart| {
            sql.push(&format!("SELECT {INCIDENT_COLS}, {col} AS sort_key FROM {INCIDENT_FROM}"));
            Self::filter_part(q, scope, sql, part, keys);
            if let Some(c) = q.after {
                let op = if desc { "<" } else { ">" };
                sql.push(&format!(" AND ({col}, {keys}id) {op} (")).bind(Bind::I(c.key));
                sql.push(", ").bind(Bind::I(c.id)).push(")");
            }
            sql.push(&format!(" ORDER BY {col} {dir}, {keys}id {dir} LIMIT ")).bind(Bind::I(limit + 1));
        };
        let mut sql = Sql::default();
        if !scope.all && !scope.orgs.is_empty() {
            // An organisation's incidents and those it co-executes are two ordered reads merged:
            // under one `OR` the planner would walk the whole sort index, filtering.
            sql.push("SELECT * FROM (");
            select(&mut sql, ScopePart::Direct);
            sql.push(") AS direct_rows UNION ALL SELECT * FROM (");
            select(&mut sql, ScopePart::CoExecutedOnly);
            sql.push(&format!(") AS co_rows ORDER BY sort_key {dir}, id {dir} LIMIT ")).bind(Bind::I(limit + 1));
        } else {
            select(&mut sql, ScopePart::Whole);
        }
        let rows = sql.query().fetch_all(&self.pool).await.map_err(backend_error)?;
        let mut items = Vec::with_capacity(rows.len());
        let mut keys = Vec::with_capacity(rows.len());
        for r in &rows {
            items.push(incident_row(r)?);
            keys.push(r.try_get::<i64, _>("sort_key").map_err(backend_error)?);
        }
        let next = if items.len() as i64 > limit {
            items.truncate(limit as usize);
            items.last().map(|i| Cursor { key: keys[limit as usize - 1], id: i.id })
        } else {
            None
        };
        Ok(Page { items, next })
    }

    async fn count_incidents(&self, q: &IncidentQuery, scope: &ScopeFilter) -> Result<u64, StoreError> {
        let mut sql = Sql::default();
        // The deadline table is joined only when a condition needs it.
        let from = if q.overdue.is_some() { INCIDENT_FROM } else { "incidents i" };
        sql.push(&format!("SELECT COUNT(*) AS n FROM {from}"));
        Self::filter_part(q, scope, &mut sql, ScopePart::Whole, "i.");
        let row = sql.query().fetch_one(&self.pool).await.map_err(backend_error)?;
        Ok(row.try_get::<i64, _>("n").map_err(backend_error)?.max(0) as u64)
    }

    async fn answers(&self, incident_id: Id) -> Result<Vec<Answer>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, incident_id, kind, text, state, author_id, reviewer_id, return_reason, return_comment, \
             attachments, created_at, updated_at, published_at FROM answers WHERE incident_id = $1 ORDER BY id",
        )
        .bind(incident_id)
        .fetch_all(&self.pool)
        .await
        .map_err(backend_error)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let mut a = answer_row(r)?;
            a.publications = self.publications(a.id).await?;
            out.push(a);
        }
        Ok(out)
    }

    async fn history(&self, incident_id: Id) -> Result<Vec<Event>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, incident_id, at, actor_id, actor, action, changes, note FROM events \
             WHERE incident_id = $1 ORDER BY id",
        )
        .bind(incident_id)
        .fetch_all(&self.pool)
        .await
        .map_err(backend_error)?;
        rows.iter()
            .map(|r| {
                let changes: String = get(r, "changes")?;
                Ok(Event {
                    id: get(r, "id")?,
                    incident_id: get(r, "incident_id")?,
                    at: at(get(r, "at")?),
                    actor_id: get(r, "actor_id")?,
                    actor: get(r, "actor")?,
                    action: get(r, "action")?,
                    changes: from_json(&changes),
                    note: get(r, "note")?,
                })
            })
            .collect()
    }

    async fn corrections(&self) -> Result<Vec<Correction>, StoreError> {
        let rows = sqlx::query(
            "SELECT i.id, i.kind, i.category, i.territory, MAX(e.at) AS at, \
             (SELECT m.text FROM messages m WHERE m.incident_id = i.id ORDER BY m.id LIMIT 1) AS text \
             FROM incidents i JOIN events e ON e.incident_id = i.id AND e.action = 'moderate' \
             GROUP BY i.id, i.kind, i.category, i.territory ORDER BY at, i.id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(backend_error)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let id: i64 = get(r, "id")?;
            let kind: Option<String> = get(r, "kind")?;
            let Some(inc) = self.incident(id).await? else { continue };
            out.push(Correction {
                incident_id: id,
                text: get::<Option<String>>(r, "text")?.unwrap_or_default(),
                channel: inc.channel,
                source: inc.source,
                kind: kind.as_deref().and_then(Kind::parse),
                category: get(r, "category")?,
                territory: get(r, "territory")?,
                at: at(get(r, "at")?),
            });
        }
        Ok(out)
    }

    async fn due_warnings(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<Incident>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {INCIDENT_COLS} FROM {INCIDENT_FROM} WHERE d.next_alarm <= $1 AND d.next_warn <= $1 \
             ORDER BY d.next_alarm, d.id LIMIT $2"
        )))
        .bind(ms(now))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(backend_error)?;
        rows.iter().map(incident_row).collect()
    }

    async fn notifications(
        &self,
        scope: &ScopeFilter,
        before: Option<Id>,
        limit: u32,
    ) -> Result<Vec<Notification>, StoreError> {
        let mut sql = Sql::default();
        sql.push(&format!("SELECT {NOTIFICATION_COLS} FROM notifications WHERE 1=1"));
        if !scope.all {
            sql.push(" AND (1=0");
            if !scope.orgs.is_empty() {
                sql.push(" OR org IN ").bind_list(&scope.orgs);
            }
            for col in ["region", "municipality"] {
                let codes: Vec<String> =
                    scope.territories.iter().filter(|t| t.column() == col).map(|t| t.code.clone()).collect();
                if !codes.is_empty() {
                    sql.push(&format!(" OR {col} IN ")).bind_list(&codes);
                }
            }
            sql.push(")");
        }
        if let Some(b) = before {
            sql.push(" AND id < ").bind(Bind::I(b));
        }
        sql.push(" ORDER BY id DESC LIMIT ").bind(Bind::I(i64::from(limit.clamp(1, 500))));
        let rows = sql.query().fetch_all(&self.pool).await.map_err(backend_error)?;
        rows.iter().map(notification_row).collect()
    }

    async fn pending_webhooks(&self, limit: u32) -> Result<Vec<Notification>, StoreError> {
        self.pending_notifications("webhook_state", limit).await
    }

    async fn overview(
        &self,
        scope: &ScopeFilter,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Overview, StoreError> {
        // Only the figures by municipality (with the overdue) read the deadline table.
        let base = |select: &str, group: &str, deadlines: bool| {
            let from = if deadlines { INCIDENT_FROM } else { "incidents i" };
            let mut sql = Sql::default();
            sql.push(&format!("SELECT {select} FROM {from} WHERE i.created_at >= ")).bind(Bind::I(ms(since)));
            Self::scope(scope, &mut sql);
            sql.push(group);
            sql
        };
        let overdue_expr = format!(
            "SUM(CASE WHEN d.next_due < {} AND i.status NOT IN ('closed', 'rejected', 'answered') THEN 1 ELSE 0 END)",
            ms(now)
        );
        let mut o = Overview::default();
        let rows = base("i.status, COUNT(*) AS n", " GROUP BY i.status", false)
            .query()
            .fetch_all(&self.pool)
            .await
            .map_err(backend_error)?;
        for r in &rows {
            let st: String = get(r, "status")?;
            let n = get::<i64>(r, "n")?.max(0) as u64;
            o.total += n;
            o.by_status.push((Status::parse(&st).ok_or_else(|| corrupt("status", &st))?, n));
        }
        let rows =
            base(&format!("i.municipality, COUNT(*) AS n, {overdue_expr} AS late"), " GROUP BY i.municipality", true)
                .query()
                .fetch_all(&self.pool)
                .await
                .map_err(backend_error)?;
        for r in &rows {
            let late = get::<Option<i64>>(r, "late")?.unwrap_or(0).max(0) as u64;
            o.overdue += late;
            o.by_municipality.push((get(r, "municipality")?, get::<i64>(r, "n")?.max(0) as u64, late));
        }
        o.by_municipality.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let rows = base("i.category, COUNT(*) AS n", " GROUP BY i.category", false)
            .query()
            .fetch_all(&self.pool)
            .await
            .map_err(backend_error)?;
        for r in &rows {
            o.by_category.push((get(r, "category")?, get::<i64>(r, "n")?.max(0) as u64));
        }
        o.by_category.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let rows = base("i.first_answer_seconds, i.closure_seconds", "", false)
            .query()
            .fetch_all(&self.pool)
            .await
            .map_err(backend_error)?;
        for r in &rows {
            if let Some(v) = get::<Option<i64>>(r, "first_answer_seconds")? {
                o.first_answer_seconds.push(v);
            }
            if let Some(v) = get::<Option<i64>>(r, "closure_seconds")? {
                o.closure_seconds.push(v);
            }
        }
        Ok(o)
    }

    async fn put_file(&self, f: &StoredFile) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO files (name, content_type, size, bytes, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(&f.name)
            .bind(&f.content_type)
            .bind(f.bytes.len() as i64)
            .bind(f.bytes.clone())
            .bind(ms(f.created_at))
            .execute(&self.pool)
            .await
            .map_err(backend_error)?;
        Ok(())
    }

    async fn file(&self, name: &str) -> Result<Option<StoredFile>, StoreError> {
        let row = sqlx::query("SELECT name, content_type, bytes, created_at FROM files WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend_error)?;
        row.map(|r| {
            Ok(StoredFile {
                name: get(&r, "name")?,
                content_type: get(&r, "content_type")?,
                bytes: get(&r, "bytes")?,
                created_at: at(get(&r, "created_at")?),
            })
        })
        .transpose()
    }

    async fn message(&self, id: Id) -> Result<Option<Message>, StoreError> {
        Ok(self.load_messages("id = $1", id).await?.pop())
    }

    async fn record_reject(&self, r: &NewIntakeReject) -> Result<Id, StoreError> {
        let row = sqlx::query(
            "INSERT INTO intake_rejects (channel, source, received_at, reason, body) VALUES ($1, $2, $3, $4, $5) \
             RETURNING id",
        )
        .bind(r.channel.as_str())
        .bind(&r.source)
        .bind(ms(r.received_at))
        .bind(&r.reason)
        .bind(&r.body)
        .fetch_one(&self.pool)
        .await
        .map_err(backend_error)?;
        get(&row, "id")
    }

    async fn rejects(&self, before: Option<Id>, limit: u32) -> Result<Vec<IntakeReject>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, channel, source, received_at, reason, body FROM intake_rejects WHERE id < $1 \
             ORDER BY id DESC LIMIT $2",
        )
        .bind(before.unwrap_or(i64::MAX))
        .bind(i64::from(limit.clamp(1, 500)))
        .fetch_all(&self.pool)
        .await
        .map_err(backend_error)?;
        rows.iter()
            .map(|r| {
                let channel: String = get(r, "channel")?;
                Ok(IntakeReject {
                    id: get(r, "id")?,
                    reject: NewIntakeReject {
                        channel: Channel::parse(&channel).ok_or_else(|| corrupt("channel", &channel))?,
                        source: get(r, "source")?,
                        received_at: at(get(r, "received_at")?),
                        reason: get(r, "reason")?,
                        body: get(r, "body")?,
                    },
                })
            })
            .collect()
    }

    async fn channel_cursor(&self, channel: Channel, source: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT cursor FROM channel_cursors WHERE channel = $1 AND source = $2")
            .bind(channel.as_str())
            .bind(source)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend_error)?;
        row.map(|r| get(&r, "cursor")).transpose()
    }

    async fn set_channel_cursor(
        &self,
        channel: Channel,
        source: &str,
        cursor: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO channel_cursors (channel, source, cursor, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (channel, source) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at",
        )
        .bind(channel.as_str())
        .bind(source)
        .bind(cursor)
        .bind(ms(at))
        .execute(&self.pool)
        .await
        .map_err(backend_error)?;
        Ok(())
    }

    async fn claim_publications(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {PUBLICATION_COLS}, p.answer_id, a.incident_id, a.text {OUTBOX_FROM} \
             WHERE p.state IN ('pending', 'failed') AND p.next_attempt_at <= $1 \
             AND (p.lease_until IS NULL OR p.lease_until < $1) ORDER BY p.next_attempt_at, p.id LIMIT $2"
        )))
        .bind(ms(now))
        .bind(i64::from(limit.clamp(1, 500)))
        .fetch_all(&self.pool)
        .await
        .map_err(backend_error)?;
        let mut claimed = Vec::with_capacity(rows.len());
        for r in &rows {
            let entry = outbox_row(r)?;
            // Compare-and-set: only one worker's update matches an unleased row.
            let done = sqlx::query(
                "UPDATE publications SET lease_until = $1 WHERE id = $2 AND state IN ('pending', 'failed') \
                 AND (lease_until IS NULL OR lease_until < $3)",
            )
            .bind(ms(lease_until))
            .bind(entry.publication.id)
            .bind(ms(now))
            .execute(&self.pool)
            .await
            .map_err(backend_error)?;
            if done.rows_affected() == 1 {
                claimed.push(entry);
            }
        }
        Ok(claimed)
    }

    async fn finish_publication(&self, id: Id, u: &PublicationUpdate) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE publications SET state = $1, attempts = $2, last_error = $3, next_attempt_at = $4, \
             external_id = COALESCE($5, external_id), updated_at = $6, lease_until = NULL WHERE id = $7",
        )
        .bind(u.state.as_str())
        .bind(i64::from(u.attempts))
        .bind(u.last_error.clone())
        .bind(u.next_attempt_at.map(ms).unwrap_or(0))
        .bind(u.external_id.clone())
        .bind(ms(u.at))
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(backend_error)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn outbox(
        &self,
        scope: &ScopeFilter,
        states: &[PublicationState],
        before: Option<Id>,
        limit: u32,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        let mut sql = Sql::default();
        sql.push(&format!(
            "SELECT {PUBLICATION_COLS}, p.answer_id, a.incident_id, a.text {OUTBOX_FROM} \
             JOIN incidents i ON i.id = a.incident_id WHERE 1=1"
        ));
        Self::scope(scope, &mut sql);
        if !states.is_empty() {
            let s: Vec<String> = states.iter().map(|s| s.as_str().to_string()).collect();
            sql.push(" AND p.state IN ").bind_list(&s);
        }
        if let Some(b) = before {
            sql.push(" AND p.id < ").bind(Bind::I(b));
        }
        sql.push(" ORDER BY p.id DESC LIMIT ").bind(Bind::I(i64::from(limit.clamp(1, 500))));
        let rows = sql.query().fetch_all(&self.pool).await.map_err(backend_error)?;
        rows.iter().map(outbox_row).collect()
    }

    async fn outbox_entry(&self, id: Id) -> Result<Option<OutboxEntry>, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {PUBLICATION_COLS}, p.answer_id, a.incident_id, a.text {OUTBOX_FROM} WHERE p.id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend_error)?;
        row.as_ref().map(outbox_row).transpose()
    }

    async fn pending_emails(&self, limit: u32) -> Result<Vec<Notification>, StoreError> {
        self.pending_notifications("email_state", limit).await
    }

    async fn mark_email(&self, id: Id, state: PublicationState, attempts: i32) -> Result<(), StoreError> {
        self.mark_notification("email", id, state, attempts).await
    }

    async fn mark_webhook(&self, id: Id, state: PublicationState, attempts: i32) -> Result<(), StoreError> {
        self.mark_notification("webhook", id, state, attempts).await
    }

    async fn due_escalations(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<Incident>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {INCIDENT_COLS} FROM {INCIDENT_FROM} WHERE i.next_escalation <= $1 \
             ORDER BY i.next_escalation, i.id LIMIT $2"
        )))
        .bind(ms(now))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(backend_error)?;
        rows.iter().map(incident_row).collect()
    }

    async fn waiting_since(&self, since: DateTime<Utc>, limit: u32) -> Result<Vec<Incident>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {INCIDENT_COLS} FROM {INCIDENT_FROM} WHERE i.status = 'waiting_citizen' AND i.paused_at < $1 \
             ORDER BY i.paused_at, i.id LIMIT $2"
        )))
        .bind(ms(since))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(backend_error)?;
        rows.iter().map(incident_row).collect()
    }

    async fn due_breaches(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<Incident>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {INCIDENT_COLS} FROM {INCIDENT_FROM} WHERE d.next_alarm < $1 AND d.next_breach < $1 \
             ORDER BY d.next_alarm, d.id LIMIT $2"
        )))
        .bind(ms(now))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(backend_error)?;
        rows.iter().map(incident_row).collect()
    }

    async fn open_deadline_rows(&self, after_id: Id, limit: u32) -> Result<Vec<DeadlineRow>, StoreError> {
        // A million rows are read after a calendar change. The driver's cost is per row and per
        // column, so a page comes back as one text value: each incident packed into one field
        // list (`DEADLINE_PACK`), the incidents joined in id order. Codes never hold `|` or `;`.
        // Both tables are bounded by id: PostgreSQL does not carry `i.id > $1` across the join, and
        // its merge join would otherwise walk the deadline table from the start for every page.
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT string_agg(p, ';' ORDER BY id) AS page FROM (SELECT i.id AS id, {DEADLINE_PACK} AS p FROM {INCIDENT_FROM} \
             WHERE i.id > $1 AND d.id > $1 AND i.status NOT IN ('answered', 'closed', 'rejected', 'waiting_citizen') \
             ORDER BY i.id LIMIT $2) AS q"
        )))
        .bind(after_id)
        .bind(i64::from(limit))
        .fetch_one(&self.pool)
        .await
        .map_err(backend_error)?;
        match get::<Option<String>>(&row, "page")? {
            None => Ok(Vec::new()),
            Some(page) => page.split(';').map(deadline_row).collect(),
        }
    }

    async fn update_deadlines(&self, updates: &[DeadlineUpdate]) -> Result<u64, StoreError> {
        // The write runs as tasks of their own: a recomputation computes its next page meanwhile,
        // and that must not hold back this page's statements. PostgreSQL writes the page in two
        // halves side by side (rows are independent: each is checked by its version); SQLite has
        // one writer.
        let parts = if self.backend == Backend::Postgres { 2 } else { 1 };
        let tasks: Vec<_> = updates
            .chunks(updates.len().div_ceil(parts).max(1))
            .map(|part| {
                let (pool, backend, lock, part) =
                    (self.pool.clone(), self.backend, self.write_lock.clone(), part.to_vec());
                tokio::spawn(async move {
                    let _writer = writer_slot(&lock).await;
                    write_deadlines(&pool, backend, &part).await
                })
            })
            .collect();
        let mut written = 0;
        for task in tasks {
            written += task.await.map_err(|e| StoreError::Backend(format!("deadline write task: {e}")))??;
        }
        Ok(written)
    }

    async fn apply(&self, change: &Change) -> Result<Incident, StoreError> {
        let i = &change.incident;
        let _writer = self.writer().await;
        let mut tx = self.pool.begin().await.map_err(backend_error)?;
        let done = sqlx::query(
            "UPDATE incidents SET status = $1, kind = $2, category = $3, direction = $4, territory = $5, region = $6, \
             municipality = $7, org = $8, assignee = $9, urgent = $10, sentiment = $11, confidence = $12, \
             summary = $13, updated_at = $14, first_answered_at = $15, closed_at = $16, rating = $17, tags = $18, \
             suggested_org = $19, route_note = $20, first_answer_seconds = $21, first_answer_working_seconds = $22, \
             closure_seconds = $23, closure_working_seconds = $24, deadline_policy = $25, warned_due = $26, \
             breached_due = $27, paused_at = $28, escalation_level = $29, next_escalation = $30, \
             clock_started_at = $31, extended_at = $32, co_orgs = $33, paused_seconds = $34, \
             version = version + 1 WHERE id = $35 AND version = $36",
        )
        .bind(i.status.as_str())
        .bind(i.kind.map(|k| k.as_str()))
        .bind(i.category.clone())
        .bind(direction(&i.category))
        .bind(i.territory.clone())
        .bind(i.region.clone())
        .bind(i.municipality.clone())
        .bind(i.org.clone())
        .bind(i.assignee)
        .bind(i.urgent as i64)
        .bind(i.sentiment.map(|s| s.as_str()))
        .bind(i.confidence.map(|c| to_json(&c)))
        .bind(&i.summary)
        .bind(ms(i.updated_at))
        .bind(i.first_answered_at.map(ms))
        .bind(i.closed_at.map(ms))
        .bind(i.rating.map(i64::from))
        .bind(to_json(&i.tags))
        .bind(i.suggested_org.clone())
        .bind(i.route_note.clone())
        .bind(i.first_answer_seconds)
        .bind(i.first_answer_working_seconds)
        .bind(i.closure_seconds)
        .bind(i.closure_working_seconds)
        .bind(i.deadline_policy.clone())
        .bind(i.warned_due.map(ms))
        .bind(i.breached_due.map(ms))
        .bind(i.paused_at.map(ms))
        .bind(i64::from(i.escalation_level))
        .bind(unfinished_key(i, i.next_escalation()))
        .bind(i.clock_started_at.map(ms))
        .bind(i.extended_at.map(ms))
        .bind(to_json(&i.co_orgs))
        .bind(i.paused_seconds)
        .bind(i.id)
        .bind(change.expected_version)
        .execute(&mut *tx)
        .await
        .map_err(backend_error)?;
        if done.rows_affected() == 0 {
            let exists = sqlx::query("SELECT id FROM incidents WHERE id = $1")
                .bind(i.id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend_error)?
                .is_some();
            return Err(if exists { StoreError::Concurrent } else { StoreError::NotFound });
        }
        // The deadline row follows, with the version it was computed from.
        let (warn, breach) = (unfinished_key(i, i.next_warning()), unfinished_key(i, i.next_breach()));
        let row = DeadlineValues {
            id: i.id,
            version: change.expected_version + 1,
            region: &i.region,
            municipality: &i.municipality,
            org: &i.org,
            first_answer_due: i.first_answer_due,
            resolution_due: i.resolution_due,
            registration_due: i.registration_due,
            redirect_due: i.redirect_due,
            next_due: next_due_key(i),
            warn,
            breach,
        };
        let mut deadlines = Sql::for_backend(self.backend);
        deadlines.push(&format!("UPDATE incident_deadlines SET ({DEADLINE_COLS}) = "));
        deadlines.deadline_values(&row).push(" WHERE id = ").bind(Bind::I(i.id));
        deadlines.query().execute(&mut *tx).await.map_err(backend_error)?;
        // The co-executors' table follows the row (it serves the scope filter).
        if change.event.changes.iter().any(|c| c.field == "co_orgs") {
            sqlx::query("DELETE FROM incident_orgs WHERE incident_id = $1")
                .bind(i.id)
                .execute(&mut *tx)
                .await
                .map_err(backend_error)?;
            for org in &i.co_orgs {
                sqlx::query("INSERT INTO incident_orgs (incident_id, org) VALUES ($1, $2)")
                    .bind(i.id)
                    .bind(org.clone())
                    .execute(&mut *tx)
                    .await
                    .map_err(backend_error)?;
            }
        }
        let write_answer = |a: &Answer| {
            (
                a.kind.as_str(),
                a.text.clone(),
                a.state.as_str(),
                a.return_reason.map(|r| r.as_str()),
                to_json(&a.attachments),
            )
        };
        match &change.answer {
            None => {}
            Some(AnswerWrite::Insert(a)) => {
                let (kind, text, state, reason, att) = write_answer(a);
                sqlx::query(
                    "INSERT INTO answers (incident_id, kind, text, state, author_id, reviewer_id, return_reason, \
                     return_comment, attachments, created_at, updated_at, published_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                )
                .bind(i.id)
                .bind(kind)
                .bind(text)
                .bind(state)
                .bind(a.author_id)
                .bind(a.reviewer_id)
                .bind(reason)
                .bind(a.return_comment.clone())
                .bind(att)
                .bind(ms(a.created_at))
                .bind(ms(a.updated_at))
                .bind(a.published_at.map(ms))
                .execute(&mut *tx)
                .await
                .map_err(backend_error)?;
            }
            Some(AnswerWrite::Update { answer: a, new_publications }) => {
                let (kind, text, state, reason, att) = write_answer(a);
                let done = sqlx::query(
                    "UPDATE answers SET kind = $1, text = $2, state = $3, reviewer_id = $4, return_reason = $5, \
                     return_comment = $6, attachments = $7, updated_at = $8, published_at = $9 \
                     WHERE id = $10 AND incident_id = $11",
                )
                .bind(kind)
                .bind(text)
                .bind(state)
                .bind(a.reviewer_id)
                .bind(reason)
                .bind(a.return_comment.clone())
                .bind(att)
                .bind(ms(a.updated_at))
                .bind(a.published_at.map(ms))
                .bind(a.id)
                .bind(i.id)
                .execute(&mut *tx)
                .await
                .map_err(backend_error)?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                for p in new_publications {
                    sqlx::query(
                        "INSERT INTO publications (answer_id, channel, target, message_id, state, attempts, last_error, \
                         next_attempt_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                         ON CONFLICT (answer_id, channel, target) DO NOTHING",
                    )
                    .bind(a.id)
                    .bind(p.channel.as_str())
                    .bind(&p.target)
                    .bind(p.message_id)
                    .bind(p.state.as_str())
                    .bind(i64::from(p.attempts))
                    .bind(p.last_error.clone())
                    .bind(ms(p.next_attempt_at.unwrap_or(p.updated_at)))
                    .bind(ms(p.updated_at))
                    .execute(&mut *tx)
                    .await
                    .map_err(backend_error)?;
                }
            }
        }
        let e = &change.event;
        sqlx::query(
            "INSERT INTO events (incident_id, at, actor_id, actor, action, changes, note) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(i.id)
        .bind(ms(e.at))
        .bind(e.actor_id)
        .bind(&e.actor)
        .bind(&e.action)
        .bind(to_json(&e.changes))
        .bind(e.note.clone())
        .execute(&mut *tx)
        .await
        .map_err(backend_error)?;
        if let Some(m) = &change.merge {
            // The duplicate's messages join the other incident, which must still be open.
            let done = sqlx::query(
                "UPDATE incidents SET version = version + 1, updated_at = $1 WHERE id = $2 \
                 AND status NOT IN ('closed', 'rejected')",
            )
            .bind(ms(m.event.at))
            .bind(m.into)
            .execute(&mut *tx)
            .await
            .map_err(backend_error)?;
            if done.rows_affected() == 0 {
                return Err(StoreError::Conflict("the incident to merge into is finished or gone".into()));
            }
            sqlx::query("UPDATE messages SET incident_id = $1 WHERE incident_id = $2")
                .bind(m.into)
                .bind(i.id)
                .execute(&mut *tx)
                .await
                .map_err(backend_error)?;
            sqlx::query(
                "INSERT INTO events (incident_id, at, actor_id, actor, action, changes, note) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(m.into)
            .bind(ms(m.event.at))
            .bind(m.event.actor_id)
            .bind(&m.event.actor)
            .bind(&m.event.action)
            .bind(to_json(&m.event.changes))
            .bind(m.event.note.clone())
            .execute(&mut *tx)
            .await
            .map_err(backend_error)?;
        }
        for n in &change.notifications {
            sqlx::query(
                "INSERT INTO notifications (at, incident_id, kind, org, region, municipality, text, webhook_state, \
                 webhook_attempts, email_state) VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', 0, 'pending')",
            )
            .bind(ms(e.at))
            .bind(i.id)
            .bind(&n.kind)
            .bind(n.org.clone())
            .bind(i.region.clone())
            .bind(i.municipality.clone())
            .bind(&n.text)
            .execute(&mut *tx)
            .await
            .map_err(backend_error)?;
        }
        let row = sqlx::query(AssertSqlSafe(format!("SELECT {INCIDENT_COLS} FROM {INCIDENT_FROM} WHERE i.id = $1")))
            .bind(i.id)
            .fetch_one(&mut *tx)
            .await
            .map_err(backend_error)?;
        let out = incident_row(&row)?;
        tx.commit().await.map_err(backend_error)?;
        Ok(out)
    }

    async fn split(&self, sp: &SplitOff) -> Result<SplitOutcome, StoreError> {
        let _writer = self.writer().await;
        let begin = match self.backend {
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::Postgres => "BEGIN",
        };
        let mut tx = self.pool.begin_with(begin).await.map_err(backend_error)?;
        let done = sqlx::query(
            "UPDATE incidents SET version = version + 1, updated_at = $1, summary = $2 WHERE id = $3 AND version = $4 \
             AND status NOT IN ('closed', 'rejected')",
        )
        .bind(ms(sp.at))
        .bind(&sp.summary)
        .bind(sp.incident)
        .bind(sp.expected_version)
        .execute(&mut *tx)
        .await
        .map_err(backend_error)?;
        if done.rows_affected() == 0 {
            let row = sqlx::query("SELECT status, version FROM incidents WHERE id = $1")
                .bind(sp.incident)
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend_error)?;
            let Some(row) = row else { return Err(StoreError::NotFound) };
            let version: i64 = get(&row, "version")?;
            return Err(if version != sp.expected_version {
                StoreError::Concurrent
            } else {
                StoreError::Conflict("the incident is finished".into())
            });
        }
        let msg = sqlx::query("SELECT incident_id, channel, source FROM messages WHERE id = $1")
            .bind(sp.message)
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend_error)?;
        let Some(msg) = msg.filter(|m| get::<i64>(m, "incident_id").ok() == Some(sp.incident)) else {
            return Err(StoreError::Conflict("the message is not one of the incident's".into()));
        };
        let (channel, source): (String, String) = (get(&msg, "channel")?, get(&msg, "source")?);
        let count = sqlx::query("SELECT COUNT(*) AS n FROM messages WHERE incident_id = $1")
            .bind(sp.incident)
            .fetch_one(&mut *tx)
            .await
            .map_err(backend_error)?;
        if get::<i64>(&count, "n")? < 2 {
            return Err(StoreError::Conflict("the message is the incident's only one".into()));
        }
        let (seed, c) = (&sp.seed, &sp.seed.classification);
        let row = sqlx::query(
            "INSERT INTO incidents (status, kind, category, direction, territory, region, municipality, org, \
             suggested_org, route_note, urgent, sentiment, confidence, channel, source, summary, created_at, \
             updated_at, deadline_policy, tags, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, \
             $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, 1) RETURNING id",
        )
        .bind(Status::New.as_str())
        .bind(c.kind.map(|k| k.as_str()))
        .bind(c.category.clone())
        .bind(direction(&c.category))
        .bind(c.territory.clone())
        .bind(seed.region.clone())
        .bind(seed.municipality.clone())
        .bind(seed.org.clone())
        .bind(seed.suggested_org.clone())
        .bind(seed.route_note.clone())
        .bind(c.urgent as i64)
        .bind(c.sentiment.map(|x| x.as_str()))
        .bind(c.confidence.map(|x| to_json(&x)))
        .bind(channel)
        .bind(source)
        .bind(&seed.summary)
        .bind(ms(sp.at))
        .bind(ms(sp.at))
        .bind(seed.deadline_policy.clone())
        .bind(to_json(&seed.tags))
        .fetch_one(&mut *tx)
        .await
        .map_err(backend_error)?;
        let new_id: i64 = get(&row, "id")?;
        // Timed from the split, as intake times from capture.
        let mut deadlines = Sql::for_backend(self.backend);
        deadlines.push(&format!("INSERT INTO incident_deadlines ({DEADLINE_COLS}) VALUES "));
        deadlines.deadline_values(&DeadlineValues::new_incident(new_id, seed, sp.at));
        deadlines.query().execute(&mut *tx).await.map_err(backend_error)?;
        sqlx::query("UPDATE messages SET incident_id = $1 WHERE id = $2")
            .bind(new_id)
            .bind(sp.message)
            .execute(&mut *tx)
            .await
            .map_err(backend_error)?;
        let source_note =
            sp.event.note.as_ref().map(|n| n.replace(otklik_core::store::NEW_INCIDENT, &new_id.to_string()));
        for (incident, e, note) in
            [(sp.incident, &sp.event, source_note), (new_id, &sp.new_event, sp.new_event.note.clone())]
        {
            sqlx::query(
                "INSERT INTO events (incident_id, at, actor_id, actor, action, changes, note) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(incident)
            .bind(ms(e.at))
            .bind(e.actor_id)
            .bind(&e.actor)
            .bind(&e.action)
            .bind(to_json(&e.changes))
            .bind(note)
            .execute(&mut *tx)
            .await
            .map_err(backend_error)?;
        }
        let mut out = Vec::with_capacity(2);
        for id in [sp.incident, new_id] {
            let row =
                sqlx::query(AssertSqlSafe(format!("SELECT {INCIDENT_COLS} FROM {INCIDENT_FROM} WHERE i.id = $1")))
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(backend_error)?;
            out.push(incident_row(&row)?);
        }
        tx.commit().await.map_err(backend_error)?;
        let created = out.pop().ok_or(StoreError::NotFound)?;
        let source = out.pop().ok_or(StoreError::NotFound)?;
        Ok(SplitOutcome { source, created })
    }
}

/// Writes recomputed due instants in one transaction, skipping rows whose version moved: on SQLite
/// 400 rows per statement (`UPDATE … FROM` a VALUES list), on PostgreSQL all in one statement
/// (`write_deadlines_packed`).
async fn write_deadlines(pool: &AnyPool, backend: Backend, updates: &[DeadlineUpdate]) -> Result<u64, StoreError> {
    if backend == Backend::Postgres {
        return write_deadlines_packed(pool, updates).await;
    }
    let mut tx = pool.begin().await.map_err(backend_error)?;
    let mut written = 0;
    for chunk in updates.chunks(400) {
        let mut sql = Sql::for_backend(backend);
        // On SQLite, a statement that may fail halfway keeps a journal of every page it touches so
        // it can undo itself (about a fifth of the write's time here). A failure rolls back the
        // whole transaction anyway, so the statement says so and needs no journal.
        sql.push(if backend == Backend::Sqlite { "UPDATE OR ROLLBACK" } else { "UPDATE" });
        sql.push(
            " incident_deadlines SET first_answer_due = v.column3, resolution_due = v.column4, \
             next_due = v.column5, next_warn = v.column6, next_breach = v.column7, registration_due = v.column8, \
             redirect_due = v.column9, next_alarm = v.column10 FROM (VALUES ",
        );
        let key = |t: Option<DateTime<Utc>>| Bind::I(key_ms(t));
        for (n, u) in chunk.iter().enumerate() {
            sql.push(if n == 0 { "(" } else { ", (" });
            sql.bind(Bind::I(u.id)).push(", ").bind(Bind::I(u.version)).push(", ");
            sql.bind(Bind::instant(u.first_answer_due)).push(", ").bind(Bind::instant(u.resolution_due)).push(", ");
            sql.bind(key(u.next_due)).push(", ").bind(key(u.next_warn)).push(", ").bind(key(u.next_breach));
            sql.push(", ").bind(Bind::instant(u.registration_due)).push(", ").bind(Bind::instant(u.redirect_due));
            sql.push(", ").bind(Bind::I(alarm(key_ms(u.next_warn), key_ms(u.next_breach))));
            sql.push(")");
        }
        sql.push(") AS v WHERE incident_deadlines.id = v.column1 AND incident_deadlines.version = v.column2");
        written += sql.query().execute(&mut *tx).await.map_err(backend_error)?.rows_affected();
    }
    tx.commit().await.map_err(backend_error)?;
    Ok(written)
}

/// PostgreSQL's write of moved deadlines: one statement for the whole part, each column bound as
/// one comma-separated text that the server splits into an array (`unnest` zips them into rows).
/// Planning and binding a statement of 400 rows cost more than updating them: ten values per
/// row through the driver and a new plan for every list of `VALUES`.
async fn write_deadlines_packed(pool: &AnyPool, updates: &[DeadlineUpdate]) -> Result<u64, StoreError> {
    use std::fmt::Write as _;
    if updates.is_empty() {
        return Ok(0);
    }
    // An absent instant is an empty field, which `string_to_array(…, ',', '')` reads as NULL.
    let columns: [fn(&DeadlineUpdate) -> Option<i64>; 10] = [
        |u| Some(u.id),
        |u| Some(u.version),
        |u| u.first_answer_due.map(ms),
        |u| u.resolution_due.map(ms),
        |u| Some(key_ms(u.next_due)),
        |u| Some(key_ms(u.next_warn)),
        |u| Some(key_ms(u.next_breach)),
        |u| u.registration_due.map(ms),
        |u| u.redirect_due.map(ms),
        |u| Some(alarm(key_ms(u.next_warn), key_ms(u.next_breach))),
    ];
    let mut query = sqlx::query(
        "UPDATE incident_deadlines AS d SET first_answer_due = v.fa, resolution_due = v.res, next_due = v.nd, \
         next_warn = v.nw, next_breach = v.nb, registration_due = v.reg, redirect_due = v.red, next_alarm = v.al \
         FROM unnest(string_to_array($1, ',')::bigint[], string_to_array($2, ',')::bigint[], \
         string_to_array($3, ',', '')::bigint[], string_to_array($4, ',', '')::bigint[], \
         string_to_array($5, ',')::bigint[], string_to_array($6, ',')::bigint[], string_to_array($7, ',')::bigint[], \
         string_to_array($8, ',', '')::bigint[], string_to_array($9, ',', '')::bigint[], \
         string_to_array($10, ',')::bigint[]) AS v(id, version, fa, res, nd, nw, nb, reg, red, al) \
         WHERE d.id = v.id AND d.version = v.version",
    );
    for column in columns {
        let mut text = String::with_capacity(updates.len() * 14);
        for (n, u) in updates.iter().enumerate() {
            if n > 0 {
                text.push(',');
            }
            if let Some(v) = column(u) {
                let _ = write!(text, "{v}");
            }
        }
        query = query.bind(text);
    }
    Ok(query.execute(pool).await.map_err(backend_error)?.rows_affected())
}
