//! Otklik storage: one `Store` implementation over sqlx's runtime-generic driver, with one set of
//! portable SQL for the embedded SQLite database and for PostgreSQL.

pub mod conformance;
mod intake;
mod postgres;
mod sql;
mod sqlite;

pub use sql::SqlStore;

/// Which engine a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Opens (creating if needed) and migrates the database at `url`:
/// `sqlite://PATH` (or a bare file path) for the embedded database, `postgres://…` for PostgreSQL.
pub async fn open(url: &str) -> Result<SqlStore, otklik_core::StoreError> {
    sqlx::any::install_default_drivers();
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        postgres::open(url).await
    } else {
        let path = url.strip_prefix("sqlite://").unwrap_or(url);
        sqlite::open(path).await
    }
}

/// Helpers for tests and benchmarks.
pub mod testing {
    /// A new, empty PostgreSQL database on the server of `base_url`.
    pub async fn fresh_postgres_database(base_url: &str) -> Result<String, otklik_core::StoreError> {
        sqlx::any::install_default_drivers();
        crate::postgres::fresh_database(base_url).await
    }
}
