//! `otklik demo`: the full server on an embedded database with demo reference data and accounts,
//! fed by simulated citizen messages that enter through the real HTTP intake.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use otklik_core::Store;
use otklik_core::model::{Grant, NewUser, Role};
use otklik_core::workflow::SystemClock;
use rand::seq::IndexedRandom;
use serde::Deserialize;

use crate::app::{AppState, Settings};
use crate::{auth, refdata, setup};

/// The demo's simulated messages (texts written for the text-analysis corpus).
const MESSAGES: &str = include_str!("../../../data/demo/messages.jsonl");

/// Demo accounts: login, name, grants. All use the password `demo`.
pub const ACCOUNTS: &[(&str, &str, Role, Option<&str>)] = &[
    ("admin", "Администратор", Role::Admin, None),
    ("curator-lipetsk", "Куратор ЦУР Липецкой области", Role::RegionalCurator, Some("lipetsk-oblast")),
    ("operator-gryazi", "Оператор МЦУ Грязинского округа", Role::MunicipalOperator, Some("gryazinsky")),
    ("head-gryazi", "Глава администрации Грязинского округа", Role::OrgHead, Some("adm-gryazinsky")),
    ("executor-gryazi", "Исполнитель администрации Грязинского округа", Role::OrgExecutor, Some("adm-gryazinsky")),
    ("curator-spb", "Куратор ЦУР Санкт-Петербурга", Role::RegionalCurator, Some("spb")),
    ("viewer-lipetsk", "Наблюдатель по Липецкой области", Role::Viewer, Some("lipetsk-oblast")),
];

/// The demo password of every demo account.
pub const PASSWORD: &str = "demo";

#[derive(Debug, Deserialize)]
struct DemoMessage {
    channel: String,
    source: String,
    text: String,
}

/// Creates the demo accounts that do not exist yet.
pub async fn ensure_accounts(store: &dyn Store) -> anyhow::Result<()> {
    let hash = auth::hash_password(PASSWORD).map_err(|e| anyhow::anyhow!(e.message))?;
    for (login, name, role, node) in ACCOUNTS {
        if store.user_by_login(login).await?.is_none() {
            let grants = vec![Grant { role: *role, node: node.map(str::to_string) }];
            store
                .create_user(
                    &NewUser {
                        login: (*login).into(),
                        display_name: (*name).into(),
                        password_hash: Some(hash.clone()),
                        grants,
                    },
                    Utc::now(),
                )
                .await?;
        }
    }
    Ok(())
}

/// Runs the demo until stopped.
pub async fn run(addr: SocketAddr, data: &Path, interval: f64) -> anyhow::Result<()> {
    std::fs::create_dir_all(data).with_context(|| format!("cannot create {}", data.display()))?;
    let url = format!("sqlite://{}", data.join("otklik.db").display());
    let reference = refdata::builtin()?;
    let store = setup::open_store(&url, &reference).await?;
    ensure_accounts(&*store).await?;
    // The feed is a machine account whose fresh token is used for this run only.
    let feed = match store.user_by_login("demo-feed").await? {
        Some((u, _)) => u,
        None => {
            store
                .create_user(
                    &NewUser {
                        login: "demo-feed".into(),
                        display_name: "Демо-поток сообщений".into(),
                        password_hash: None,
                        grants: vec![Grant { role: Role::Admin, node: None }],
                    },
                    Utc::now(),
                )
                .await?
        }
    };
    let secret = format!("otk_{}", auth::random_token());
    store
        .create_token(
            feed.id,
            "demo feed",
            &auth::token_hash(&secret),
            Utc::now(),
            Some(Utc::now() + chrono::Duration::days(1)),
        )
        .await?;
    let analyzer = crate::nlp::analyzer(None, &reference)?;
    let wf = setup::workflow(store.clone(), Arc::new(SystemClock), Some(analyzer)).await?;
    let state = AppState::new(
        wf,
        Settings {
            secure_cookies: false,
            session_hours: 12,
            body_limit: 2 * 1024 * 1024,
            demo: true,
            open311: crate::app::Open311Settings { api_keys: vec!["demo".into()], jurisdiction_id: None },
        },
        crate::app::metrics_handle(),
    );
    crate::app::spawn_deadline_sweeper(state.workflow.clone(), Duration::from_secs(10));
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    print_banner(local, data);
    let sources = store.sources().await?;
    tokio::spawn(feed_messages(local, secret, interval, sources));
    crate::app::serve(listener, state).await?;
    store.close().await;
    Ok(())
}

fn print_banner(addr: SocketAddr, data: &Path) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "Otklik demo at http://{addr}/  (data in {})", data.display());
    let _ = writeln!(out, "API description: http://{addr}/api/v1/openapi.json");
    let _ = writeln!(out, "Demo accounts (password `{PASSWORD}` for each):");
    for (login, name, role, node) in ACCOUNTS {
        let _ = writeln!(out, "  {login:<18} {role}{} — {name}", node.map(|n| format!(":{n}")).unwrap_or_default());
    }
    let _ = writeln!(out, "Simulated citizen messages are arriving through POST /api/v1/messages. Stop with Ctrl-C.");
    let _ = out.flush();
}

/// Posts simulated messages to the server's own intake endpoint, like a channel integration would.
async fn feed_messages(addr: SocketAddr, secret: String, interval: f64, sources: Vec<otklik_core::model::Source>) {
    let messages: Vec<DemoMessage> = MESSAGES.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let client = reqwest::Client::new();
    let url = format!("http://{addr}/api/v1/messages");
    let mut n: u64 = 0;
    loop {
        let (body, pause) = {
            let mut rng = rand::rng();
            let Some(m) = messages.choose(&mut rng) else { return };
            // A page registered as a source is addressed by its key, as the channel would.
            let source = sources
                .iter()
                .find(|s| s.name == m.source && s.channel.as_str() == m.channel)
                .map(|s| s.key.clone())
                .unwrap_or_else(|| m.source.clone());
            n += 1;
            let body = serde_json::json!({
                "channel": m.channel,
                "source": source,
                "external_id": format!("demo-{}-{n}", Utc::now().timestamp_millis()),
                "author": {"id": format!("{}:{}", m.channel, rand::random_range(1000..99999)), "name": "Житель"},
                "text": m.text,
                "published_at": Utc::now(),
            });
            let pause = interval.max(0.05) * rand::random_range(0.3..1.7);
            (body, pause)
        };
        match client.post(&url).bearer_auth(&secret).json(&body).send().await {
            Ok(r) if r.status().is_success() => {}
            Ok(r) => tracing::warn!(status = %r.status(), "demo message refused"),
            Err(e) => tracing::warn!(error = %e, "demo feed cannot reach the server"),
        }
        tokio::time::sleep(Duration::from_secs_f64(pause)).await;
    }
}
