//! The embedded database copies its write-ahead log into the database file in the background,
//! so the single writer never waits for a checkpoint.

use std::time::{Duration, Instant};

use chrono::Utc;
use otklik_core::store::Store;
use otklik_store::conformance::{message, seed};
use sqlx::Row;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_rows_reach_the_database_file_without_a_writer_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("otklik.db");
    let store = otklik_store::open(path.to_str().unwrap()).await.unwrap();
    // A few small transactions: far below the writer's own checkpoint threshold of 10,000 pages.
    for n in 0..5 {
        store
            .ingest(&message("ckpt", &format!("c-{n}"), "яма"), &seed(Some("lip"), Some("yelets")), Utc::now())
            .await
            .unwrap();
    }
    // `immutable` reads the database file alone, ignoring the log: the rows are there only once a
    // checkpoint has copied them.
    let file = sqlx::sqlite::SqliteConnectOptions::new().filename(&path).immutable(true).read_only(true);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut conn = sqlx::ConnectOptions::connect(&file).await.unwrap();
        let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM incidents")
            .fetch_one(&mut conn)
            .await
            .map(|r| r.get("n"))
            .unwrap_or(0);
        if n == 5 {
            break;
        }
        assert!(Instant::now() < deadline, "the database file holds {n} of 5 incidents after 10 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_dropped_without_close_lets_its_database_go() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("otklik.db");
    let store = otklik_store::open(path.to_str().unwrap()).await.unwrap();
    store.ingest(&message("ckpt", "d-1", "яма"), &seed(Some("lip"), Some("yelets")), Utc::now()).await.unwrap();
    let log = dir.path().join("otklik.db-wal");
    assert!(log.exists(), "a file database in WAL mode keeps a log while open");
    drop(store);
    // SQLite removes the log when its last connection closes, which happens only once no
    // background task holds the pool any more.
    let deadline = Instant::now() + Duration::from_secs(10);
    while log.exists() {
        assert!(Instant::now() < deadline, "the log is still there 10 s after the store was dropped");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
