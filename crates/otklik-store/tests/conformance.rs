//! Runs the storage conformance suite on the embedded SQLite database and on PostgreSQL.

use std::sync::Arc;

use otklik_core::store::Store;
use otklik_store::conformance;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_file_database_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let store = otklik_store::open(dir.path().join("otklik.db").to_str().unwrap()).await.unwrap();
    conformance::run_all(Arc::new(store) as Arc<dyn Store>).await;
}

/// PostgreSQL is required where `OTKLIK_TEST_PG` names a server (the test script sets it);
/// each run gets a database of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_conforms() {
    let Ok(base) = std::env::var("OTKLIK_TEST_PG") else {
        eprintln!("OTKLIK_TEST_PG is not set: PostgreSQL conformance not run");
        return;
    };
    let url = otklik_store::testing::fresh_postgres_database(&base).await.unwrap();
    let store = otklik_store::open(&url).await.unwrap();
    conformance::run_all(Arc::new(store) as Arc<dyn Store>).await;
}
