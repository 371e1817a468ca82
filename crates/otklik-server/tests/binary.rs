//! The binary as an operator starts it: `otklik serve` with a configuration, and `otklik demo`
//! with its accounts and its stream of simulated messages through the real intake.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Kills the child when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn wait_healthy(base: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = reqwest::get(format!("{base}/healthz")).await
            && r.status() == 200
        {
            return;
        }
        assert!(Instant::now() < deadline, "{base} never became healthy");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn login(base: &str, login: &str, password: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"login": login, "password": password}))
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_runs_from_a_configuration_without_demo_accounts() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let cfg = dir.path().join("otklik.toml");
    std::fs::write(
        &cfg,
        format!(
            "[server]\naddr = \"127.0.0.1:{port}\"\nsecure_cookies = false\n[database]\nurl = \"sqlite://{}\"\n",
            dir.path().join("db.sqlite").display()
        ),
    )
    .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_otklik"))
        .args(["serve", "--config", cfg.to_str().unwrap()])
        .env("OTKLIK_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _guard = Running(child);
    let base = format!("http://127.0.0.1:{port}");
    wait_healthy(&base).await;
    assert_eq!(login(&base, "admin", "demo").await.status(), 401, "no demo accounts under serve");
    let metrics = reqwest::get(format!("{base}/metrics")).await.unwrap().text().await.unwrap();
    assert!(metrics.contains("otklik_http_requests_total"), "{metrics}");
    let console = reqwest::get(format!("{base}/")).await.unwrap();
    assert_eq!(console.status(), 200);
    let doc: Value = reqwest::get(format!("{base}/api/v1/openapi.json")).await.unwrap().json().await.unwrap();
    assert_eq!(doc["info"]["title"], "Otklik API");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_prints_accounts_and_feeds_messages_through_the_channels() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_otklik"))
        .args([
            "demo",
            "--addr",
            &format!("127.0.0.1:{port}"),
            "--data",
            dir.path().to_str().unwrap(),
            "--interval",
            "0.05",
        ])
        .env("OTKLIK_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _guard = Running(child);
    let mut banner = String::new();
    let mut lines = BufReader::new(stdout).lines();
    while let Some(Ok(line)) = lines.next() {
        banner.push_str(&line);
        banner.push('\n');
        if line.contains("Stop with Ctrl-C") {
            break;
        }
    }
    for needle in
        ["admin", "curator-lipetsk", "operator-gryazi", "executor-gryazi", "viewer-lipetsk", "password `demo`"]
    {
        assert!(banner.contains(needle), "{needle} missing from the banner:\n{banner}");
    }
    let base = format!("http://127.0.0.1:{port}");
    wait_healthy(&base).await;
    let res = login(&base, "admin", "demo").await;
    assert_eq!(res.status(), 200);
    let cookie = res.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    let client = reqwest::Client::new();
    let count = || async {
        let v: Value = client
            .get(format!("{base}/api/v1/incidents?count=true&limit=1"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["total"].as_u64().unwrap()
    };
    let first = count().await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        if count().await >= first + 5 {
            break;
        }
        assert!(Instant::now() < deadline, "the demo stream is not arriving");
    }
    // The stream goes through the classifier: demo incidents carry a kind.
    let v: Value = client
        .get(format!("{base}/api/v1/incidents?limit=20"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(v["items"].as_array().unwrap().iter().any(|i| i["kind"].is_string()), "{v}");
    // It arrives through the channels' webhooks, from sandboxes of the platforms, all healthy.
    let channels: Value = client
        .get(format!("{base}/api/v1/channels"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let list = channels.as_array().unwrap();
    assert!(list.len() >= 8, "{channels}");
    assert!(list.iter().all(|c| c["ok"] == true), "{channels}");
    for ch in ["vk", "ok", "telegram"] {
        assert!(list.iter().any(|c| c["channel"] == ch), "{ch}");
    }
    let rejects: Value = client
        .get(format!("{base}/api/v1/intake-rejects"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rejects.as_array().unwrap().len(), 0, "every simulated delivery is taken: {rejects}");
}
