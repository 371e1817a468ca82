//! PostgreSQL specifics: pool sizing and embedded migrations.

use std::time::Duration;

use otklik_core::StoreError;
use sqlx::any::AnyPoolOptions;

use crate::Backend;
use crate::sql::{SqlStore, backend_error};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

pub(crate) async fn open(url: &str) -> Result<SqlStore, StoreError> {
    let pool = AnyPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(Duration::from_secs(30))
        .connect(url)
        .await
        .map_err(backend_error)?;
    MIGRATOR.run(&pool).await.map_err(|e| StoreError::Backend(e.to_string()))?;
    Ok(SqlStore::new(pool, Backend::Postgres))
}

/// Creates an empty database next to `base_url` (a server URL with a maintenance database) and
/// returns its URL; for tests and benchmarks.
pub async fn fresh_database(base_url: &str) -> Result<String, StoreError> {
    use sqlx::{Connection, Executor};
    let mut conn = sqlx::AnyConnection::connect(base_url).await.map_err(backend_error)?;
    let name = format!(
        "otklik_test_{}_{}",
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
    );
    (&mut conn).execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).await.map_err(backend_error)?;
    let (server, _) = base_url.rsplit_once('/').ok_or_else(|| StoreError::Backend("bad PostgreSQL URL".into()))?;
    Ok(format!("{server}/{name}"))
}

/// Ids for `n` new rows of `table`, drawn from its identity sequence (safe across workers).
pub(crate) async fn allocate_ids(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    table: &str,
    n: usize,
) -> Result<Vec<i64>, StoreError> {
    use sqlx::Row;
    let sql = match table {
        "incidents" => "SELECT nextval(pg_get_serial_sequence('incidents', 'id')) AS id FROM generate_series(1, $1)",
        "messages" => "SELECT nextval(pg_get_serial_sequence('messages', 'id')) AS id FROM generate_series(1, $1)",
        other => return Err(StoreError::Backend(format!("no id allocation for {other}"))),
    };
    let rows = sqlx::query(sql).bind(n as i64).fetch_all(&mut **tx).await.map_err(backend_error)?;
    let mut ids =
        rows.iter().map(|r| r.try_get::<i64, _>("id").map_err(backend_error)).collect::<Result<Vec<_>, _>>()?;
    ids.sort_unstable();
    Ok(ids)
}
