//! SQLite specifics: file creation, WAL and pragmas on every connection, embedded migrations.

use std::time::Duration;

use otklik_core::StoreError;
use sqlx::Executor;
use sqlx::any::AnyPoolOptions;

use crate::Backend;
use crate::sql::{SqlStore, backend_error};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

pub(crate) async fn open(path: &str) -> Result<SqlStore, StoreError> {
    let url = if path == ":memory:" {
        // One shared in-memory database for the whole pool.
        "sqlite:file:otklik-mem?mode=memory&cache=shared".to_string()
    } else {
        format!("sqlite://{path}?mode=rwc")
    };
    let memory = path == ":memory:";
    let pool = AnyPoolOptions::new()
        .max_connections(if memory { 1 } else { 8 })
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(|conn, _| {
            Box::pin(async move {
                // WAL lets readers run beside the writer; NORMAL sync is durable at checkpoints.
                conn.execute("PRAGMA journal_mode = WAL").await?;
                conn.execute("PRAGMA synchronous = NORMAL").await?;
                conn.execute("PRAGMA foreign_keys = ON").await?;
                conn.execute("PRAGMA busy_timeout = 10000").await?;
                conn.execute("PRAGMA cache_size = -65536").await?;
                // Checkpoints run beside the writers (`checkpoints`); a writer checkpoints itself
                // only if the log grows past 40 MB, should that task fall behind.
                conn.execute("PRAGMA wal_autocheckpoint = 10000").await?;
                Ok(())
            })
        })
        .connect(&url)
        .await
        .map_err(backend_error)?;
    MIGRATOR.run(&pool).await.map_err(|e| StoreError::Backend(e.to_string()))?;
    // Keep the planner's statistics fresh (bounded work; a no-op when nothing changed much).
    pool.execute("PRAGMA analysis_limit = 1000").await.map_err(backend_error)?;
    pool.execute("PRAGMA optimize").await.map_err(backend_error)?;
    let store = SqlStore::new(pool.clone(), Backend::Sqlite);
    if memory {
        return Ok(store);
    }
    let (stop, stopped) = tokio::sync::mpsc::channel(1);
    tokio::spawn(checkpoints(pool, stopped));
    Ok(store.with_checkpoints(stop))
}

/// How often the write-ahead log is copied into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// Copies the write-ahead log into the database file from a connection of its own, until the pool
/// closes or every clone of the store is dropped (`stopped` then yields nothing). Left to the
/// committing writer (SQLite's default, every 4 MB), each checkpoint's two
/// fsyncs held the single writer: a fifth of the time of writing 750,000 recomputed deadlines.
/// A passive checkpoint waits for no reader or writer; it is as durable as the writer's own.
async fn checkpoints(pool: sqlx::AnyPool, mut stopped: tokio::sync::mpsc::Receiver<()>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(CHECKPOINT_EVERY) => {}
            _ = stopped.recv() => return,
        }
        if pool.is_closed() {
            return;
        }
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").fetch_all(&pool).await {
            if pool.is_closed() {
                return;
            }
            tracing::warn!(error = %e, "SQLite checkpoint failed; the writer checkpoints past 40 MB of log");
        }
    }
}

/// Ids for `n` new rows of `table`; callers hold SQLite's write lock (BEGIN IMMEDIATE).
pub(crate) async fn allocate_ids(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    table: &str,
    n: usize,
) -> Result<Vec<i64>, StoreError> {
    use sqlx::Row;
    let sql = match table {
        "incidents" => "SELECT COALESCE(MAX(id), 0) AS m FROM incidents",
        "messages" => "SELECT COALESCE(MAX(id), 0) AS m FROM messages",
        other => return Err(StoreError::Backend(format!("no id allocation for {other}"))),
    };
    let row = sqlx::query(sql).fetch_one(&mut **tx).await.map_err(backend_error)?;
    let max: i64 = row.try_get("m").map_err(backend_error)?;
    Ok((1..=n as i64).map(|k| max + k).collect())
}
