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
async fn checkpoints_stop_when_the_store_is_dropped_without_close() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("otklik.db");
    let store = otklik_store::open(path.to_str().unwrap()).await.unwrap();
    store.ingest(&message("ckpt", "d-1", "яма"), &seed(Some("lip"), Some("yelets")), Utc::now()).await.unwrap();
    // A connection of the test's own that never checkpoints. Open before the store goes, it also
    // keeps the store's closing connections from checkpointing as the database's last one.
    let mut own = sqlx::ConnectOptions::connect(
        &sqlx::sqlite::SqliteConnectOptions::new().filename(&path).journal_mode(sqlx::sqlite::SqliteJournalMode::Wal),
    )
    .await
    .unwrap();
    sqlx::query("PRAGMA wal_autocheckpoint = 0").execute(&mut own).await.unwrap();
    drop(store);
    tokio::time::sleep(Duration::from_millis(300)).await;
    sqlx::query("CREATE TABLE probe (x INTEGER)").execute(&mut own).await.unwrap();
    // Six periods of the checkpoint task: had it outlived the store, it would have copied the new
    // table into the database file by now.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let file = sqlx::sqlite::SqliteConnectOptions::new().filename(&path).immutable(true).read_only(true);
    let mut reader = sqlx::ConnectOptions::connect(&file).await.unwrap();
    let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM sqlite_master WHERE name = 'probe'")
        .fetch_one(&mut reader)
        .await
        .map(|r| r.get("n"))
        .unwrap();
    assert_eq!(n, 0, "a checkpoint ran after the store was dropped");
    // The table is there for the log's readers: the write itself went through.
    let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM probe").fetch_one(&mut own).await.map(|r| r.get("n")).unwrap();
    assert_eq!(n, 0);
}
