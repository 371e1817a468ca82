//! Group commit for intake: concurrent `ingest` calls are queued to one writer task that stores
//! each batch with a handful of multi-row statements in one transaction, so throughput does not
//! pay a database round trip per row.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use otklik_core::StoreError;
use otklik_core::model::{FieldChange, IncidentSeed, IngestOutcome, NewMessage};
use otklik_core::status::Status;
use sqlx::{AnyPool, Row};
use tokio::sync::{mpsc, oneshot};

use crate::Backend;
use crate::sql::{Bind, DeadlineValues, Sql, backend_error, direction, ms, to_json};

/// Largest batch; keeps every statement well under SQLite's bound-parameter limit.
const MAX_BATCH: usize = 256;

/// One queued intake.
#[derive(Debug)]
pub(crate) struct Job {
    pub msg: NewMessage,
    pub seed: IncidentSeed,
    pub now: DateTime<Utc>,
    pub reply: oneshot::Sender<Result<IngestOutcome, StoreError>>,
}

/// Starts the writer task and returns its queue.
pub(crate) fn spawn(
    pool: AnyPool,
    backend: Backend,
    write_lock: Option<std::sync::Arc<tokio::sync::Mutex<()>>>,
) -> mpsc::Sender<Job> {
    let (tx, mut rx) = mpsc::channel::<Job>(4 * MAX_BATCH);
    tokio::spawn(async move {
        while let Some(first) = rx.recv().await {
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(j) => batch.push(j),
                    Err(_) => break,
                }
            }
            let result = {
                let _writer = crate::sql::writer_slot(&write_lock).await;
                store_batch(&pool, backend, &batch).await
            };
            match result {
                Ok(outcomes) => {
                    for (job, out) in batch.into_iter().zip(outcomes) {
                        let _ = job.reply.send(Ok(out));
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, size = batch.len(), "intake batch failed");
                    for job in batch {
                        let _ = job.reply.send(Err(StoreError::Backend(e.to_string())));
                    }
                }
            }
        }
    });
    tx
}

type Key = (String, String, String);

fn key(m: &NewMessage) -> Key {
    (m.channel.as_str().to_string(), m.source.clone(), m.external_id.clone())
}

async fn store_batch(pool: &AnyPool, backend: Backend, batch: &[Job]) -> Result<Vec<IngestOutcome>, StoreError> {
    let begin = match backend {
        Backend::Sqlite => "BEGIN IMMEDIATE",
        Backend::Postgres => "BEGIN",
    };
    let mut tx = pool.begin_with(begin).await.map_err(backend_error)?;

    // Which messages were taken before (by an earlier batch or another process)?
    let mut known: HashMap<Key, (i64, i64)> = HashMap::new();
    let mut sql = Sql::for_backend(backend);
    // A join from the keys (not a row-value IN, which SQLite answers with a table scan) so each
    // key is one probe of the unique index.
    sql.push("SELECT m.channel, m.source, m.external_id, m.id, m.incident_id FROM (VALUES ");
    for (i, j) in batch.iter().enumerate() {
        let (c, s, e) = key(&j.msg);
        sql.push(if i == 0 { "(" } else { ", (" });
        sql.bind(Bind::S(c)).push(", ").bind(Bind::S(s)).push(", ").bind(Bind::S(e)).push(")");
    }
    sql.push(") AS k JOIN messages m ON m.channel = k.column1 AND m.source = k.column2 AND m.external_id = k.column3");
    for r in sql.query().fetch_all(&mut *tx).await.map_err(backend_error)? {
        let k = (
            r.try_get("channel").map_err(backend_error)?,
            r.try_get("source").map_err(backend_error)?,
            r.try_get("external_id").map_err(backend_error)?,
        );
        known.insert(k, (r.try_get("id").map_err(backend_error)?, r.try_get("incident_id").map_err(backend_error)?));
    }
    // The first job of each new key creates; repeats inside the batch share its outcome.
    let mut fresh: Vec<usize> = vec![];
    let mut first_of: HashMap<Key, usize> = HashMap::new();
    for (i, j) in batch.iter().enumerate() {
        let k = key(&j.msg);
        if !known.contains_key(&k) && !first_of.contains_key(&k) {
            first_of.insert(k, i);
            fresh.push(i);
        }
    }
    let mut created: HashMap<usize, (i64, i64)> = HashMap::new();
    if !fresh.is_empty() {
        let incident_ids = match backend {
            Backend::Sqlite => crate::sqlite::allocate_ids(&mut tx, "incidents", fresh.len()).await?,
            Backend::Postgres => crate::postgres::allocate_ids(&mut tx, "incidents", fresh.len()).await?,
        };
        let message_ids = match backend {
            Backend::Sqlite => crate::sqlite::allocate_ids(&mut tx, "messages", fresh.len()).await?,
            Backend::Postgres => crate::postgres::allocate_ids(&mut tx, "messages", fresh.len()).await?,
        };
        let mut inc = Sql::for_backend(backend);
        inc.push(
            "INSERT INTO incidents (id, status, kind, category, direction, territory, region, municipality, org, \
             suggested_org, route_note, urgent, sentiment, confidence, channel, source, summary, created_at, \
             updated_at, deadline_policy, tags, version) VALUES ",
        );
        let mut msg = Sql::for_backend(backend);
        msg.push(
            "INSERT INTO messages (id, incident_id, channel, source, external_id, thread_id, parent_id, author_id, \
             author_name, text, attachments, url, published_at, captured_at, raw) VALUES ",
        );
        let changes = to_json(&vec![FieldChange {
            field: "status".into(),
            before: serde_json::Value::Null,
            after: serde_json::json!("new"),
        }]);
        let opt = |v: Option<String>| v.map(Bind::S).unwrap_or(Bind::Null);
        for (n, &i) in fresh.iter().enumerate() {
            let j = &batch[i];
            let (m, c) = (&j.msg, &j.seed.classification);
            let (iid, mid) = (incident_ids[n], message_ids[n]);
            let now = ms(j.now);
            let sep = if n == 0 { "(" } else { ", (" };
            inc.push(sep);
            inc.bind(Bind::I(iid)).push(", ").bind(Bind::S(Status::New.as_str().into())).push(", ");
            inc.bind(opt(c.kind.map(|k| k.as_str().to_string()))).push(", ");
            inc.bind(opt(c.category.clone())).push(", ").bind(opt(direction(&c.category))).push(", ");
            inc.bind(opt(c.territory.clone())).push(", ").bind(opt(j.seed.region.clone())).push(", ");
            inc.bind(opt(j.seed.municipality.clone())).push(", ").bind(opt(j.seed.org.clone())).push(", ");
            inc.bind(opt(j.seed.suggested_org.clone())).push(", ").bind(opt(j.seed.route_note.clone())).push(", ");
            inc.bind(Bind::I(c.urgent as i64)).push(", ");
            inc.bind(opt(c.sentiment.map(|s| s.as_str().to_string()))).push(", ");
            inc.bind(opt(c.confidence.map(|x| to_json(&x)))).push(", ");
            inc.bind(Bind::S(m.channel.as_str().into())).push(", ").bind(Bind::S(m.source.clone())).push(", ");
            inc.bind(Bind::S(j.seed.summary.clone())).push(", ").bind(Bind::I(now)).push(", ").bind(Bind::I(now));
            inc.push(", ").bind(opt(j.seed.deadline_policy.clone()));
            inc.push(", ").bind(Bind::S(to_json(&j.seed.tags))).push(", 1)");

            msg.push(sep);
            msg.bind(Bind::I(mid)).push(", ").bind(Bind::I(iid)).push(", ");
            msg.bind(Bind::S(m.channel.as_str().into())).push(", ").bind(Bind::S(m.source.clone())).push(", ");
            msg.bind(Bind::S(m.external_id.clone())).push(", ").bind(opt(m.thread_id.clone())).push(", ");
            msg.bind(opt(m.parent_id.clone())).push(", ").bind(Bind::S(m.author.id.clone())).push(", ");
            msg.bind(opt(m.author.name.clone())).push(", ").bind(Bind::S(m.text.clone())).push(", ");
            msg.bind(Bind::S(to_json(&m.attachments))).push(", ").bind(opt(m.url.clone())).push(", ");
            msg.bind(Bind::I(ms(m.published_at))).push(", ").bind(Bind::I(now)).push(", ");
            msg.bind(Bind::S(to_json(&m.raw))).push(")");
            created.insert(i, (mid, iid));
        }
        // Another worker may have taken the same message since we looked: those rows lose.
        msg.push(" ON CONFLICT (channel, source, external_id) DO NOTHING RETURNING id");
        inc.query().execute(&mut *tx).await.map_err(backend_error)?;
        let won: std::collections::HashSet<i64> = msg
            .query()
            .fetch_all(&mut *tx)
            .await
            .map_err(backend_error)?
            .iter()
            .map(|r| r.try_get::<i64, _>("id"))
            .collect::<Result<_, _>>()
            .map_err(backend_error)?;
        let lost: Vec<usize> = fresh.iter().copied().filter(|i| !won.contains(&created[i].0)).collect();
        if !lost.is_empty() {
            let mut del = Sql::for_backend(backend);
            del.push("DELETE FROM incidents WHERE id IN (");
            for (n, i) in lost.iter().enumerate() {
                del.push(if n == 0 { "" } else { ", " }).bind(Bind::I(created[i].1));
            }
            del.push(")").query().execute(&mut *tx).await.map_err(backend_error)?;
            for i in &lost {
                let (c, s, e) = key(&batch[*i].msg);
                let r = sqlx::query(
                    "SELECT id, incident_id FROM messages WHERE channel = $1 AND source = $2 AND external_id = $3",
                )
                .bind(c.clone())
                .bind(s.clone())
                .bind(e.clone())
                .fetch_one(&mut *tx)
                .await
                .map_err(backend_error)?;
                known.insert(
                    (c, s, e),
                    (r.try_get("id").map_err(backend_error)?, r.try_get("incident_id").map_err(backend_error)?),
                );
                created.remove(i);
            }
        }
        if !created.is_empty() {
            // Each new incident's deadline row (those that lost above have none).
            let mut deadlines = Sql::for_backend(backend);
            deadlines.push(&format!("INSERT INTO incident_deadlines ({}) VALUES ", crate::sql::DEADLINE_COLS));
            for (n, i) in fresh.iter().filter(|i| created.contains_key(i)).enumerate() {
                let j = &batch[*i];
                deadlines.push(if n == 0 { "" } else { ", " });
                deadlines.deadline_values(&DeadlineValues::new_incident(created[i].1, &j.seed, j.now));
            }
            deadlines.query().execute(&mut *tx).await.map_err(backend_error)?;
            let mut ev = Sql::for_backend(backend);
            ev.push("INSERT INTO events (incident_id, at, actor_id, actor, action, changes, note) VALUES ");
            for (n, i) in fresh.iter().filter(|i| created.contains_key(i)).enumerate() {
                let j = &batch[*i];
                ev.push(if n == 0 { "(" } else { ", (" });
                ev.bind(Bind::I(created[i].1)).push(", ").bind(Bind::I(ms(j.now))).push(", NULL, 'system', 'intake', ");
                ev.bind(Bind::S(changes.clone())).push(", ");
                ev.bind(Bind::S(format!("{} · {}", j.msg.channel, j.msg.source))).push(")");
            }
            ev.query().execute(&mut *tx).await.map_err(backend_error)?;
        }
    }
    tx.commit().await.map_err(backend_error)?;

    Ok(batch
        .iter()
        .enumerate()
        .map(|(i, j)| {
            if let Some(&(message_id, incident_id)) = created.get(&i) {
                return IngestOutcome { message_id, incident_id, created: true };
            }
            let k = key(&j.msg);
            let (message_id, incident_id) = known
                .get(&k)
                .copied()
                .or_else(|| first_of.get(&k).and_then(|f| created.get(f).copied()))
                .unwrap_or((0, 0));
            IngestOutcome { message_id, incident_id, created: false }
        })
        .collect())
}
