//! `otklik demo`: the full server on an embedded database with demo reference data and accounts,
//! fed by simulated citizen messages that enter through the channels' real webhook endpoints.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use otklik_channels::testing::ok::OkFake;
use otklik_channels::testing::telegram::TelegramFake;
use otklik_channels::testing::vk::VkFake;
use otklik_channels::{IntakeMode, SourceConfig, payloads};
use otklik_core::Store;
use otklik_core::model::{Channel, Grant, NewUser, Role, Source};
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
    let sandbox = start_sandbox(&store.sources().await?).await?;
    let channels = Arc::new(crate::channels::Channels::build(&sandbox.configs)?);
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
            // The demo's reference data is built in: a reload re-reads the embedded files.
            reference: Default::default(),
        },
        crate::app::metrics_handle(),
    )
    .with_channels(channels.clone());
    crate::app::spawn_deadline_sweeper(state.workflow.clone(), Duration::from_secs(10));
    crate::outbox::spawn_outbox(state.workflow.clone(), channels, Duration::from_secs(2));
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    print_banner(local, data);
    tokio::spawn(feed_messages(local, interval, sandbox.routes.clone()));
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
    let _ = writeln!(out, "Web form for citizens: http://{addr}/form");
    let _ = writeln!(out, "Open311 GeoReport v2: http://{addr}/open311/v2/discovery.json (api_key `demo`)");
    let _ = writeln!(
        out,
        "Simulated citizens write to VK, OK and Telegram sandboxes; their deliveries arrive at /hooks/… and \
         published answers go back through the same adapters. Stop with Ctrl-C."
    );
    let _ = out.flush();
}

/// Local stand-ins for VK, Одноклассники and Telegram: the demo's sources are configured
/// against them, so intake and publication run through the real adapters and HTTP.
struct Sandbox {
    configs: Vec<SourceConfig>,
    /// Per source: how the simulated citizen reaches it.
    routes: Vec<Route>,
    _vk: Vec<VkFake>,
    _ok: Vec<OkFake>,
    _tg: Vec<TelegramFake>,
}

#[derive(Debug, Clone)]
struct Route {
    channel: Channel,
    source: String,
    name: String,
    /// VK community id or OK group id.
    group: String,
    secret: String,
}

async fn start_sandbox(sources: &[Source]) -> anyhow::Result<Sandbox> {
    let mut sb = Sandbox { configs: vec![], routes: vec![], _vk: vec![], _ok: vec![], _tg: vec![] };
    for (i, s) in sources.iter().enumerate() {
        let secret = auth::random_token();
        let (config, group) = match s.channel {
            Channel::Vk => {
                let group = 200_001 + i as i64;
                let fake = VkFake::start(group, &auth::random_token()).await?;
                let c = fake.config(&s.key, &secret, IntakeMode::Webhook);
                sb._vk.push(fake);
                (c, group.to_string())
            }
            Channel::Ok => {
                let group = (550_000 + i).to_string();
                let fake = OkFake::start(&group, &auth::random_token(), "demo-app", &auth::random_token()).await?;
                let c = fake.config(&s.key, &[]);
                sb._ok.push(fake);
                (c, group)
            }
            Channel::Telegram => {
                let fake = TelegramFake::start(&format!("{}:{}", 700 + i, auth::random_token())).await?;
                let c = fake.config(&s.key, &secret, IntakeMode::Webhook);
                sb._tg.push(fake);
                (c, String::new())
            }
            _ => continue,
        };
        sb.configs.push(config);
        sb.routes.push(Route { channel: s.channel, source: s.key.clone(), name: s.name.clone(), group, secret });
    }
    Ok(sb)
}

/// The delivery a platform would make for a citizen writing `text` to `route`.
fn platform_payload(route: &Route, n: i64, text: &str) -> (String, Option<String>) {
    let author = rand::random_range(10_000..9_999_999i64);
    match route.channel {
        Channel::Vk => {
            let group: i64 = route.group.parse().unwrap_or(1);
            let body = if n % 4 == 0 {
                payloads::vk::message_new(group, author, n, author, text, &route.secret)
            } else {
                payloads::vk::wall_reply_new(group, 1 + n % 40, n, author, text, &route.secret)
            };
            (body.to_string(), None)
        }
        Channel::Ok => {
            let chat = format!("chat:C{author:X}");
            let body = payloads::ok::message_created(
                &route.group,
                &chat,
                &format!("user:U{author}"),
                &format!("mid:{n}"),
                text,
            );
            (body.to_string(), None)
        }
        _ => {
            let body = if route.source.starts_with("chat") {
                payloads::telegram::discussion_comment_update(
                    n,
                    -100_200_300,
                    n,
                    10 + n % 30,
                    10 + n % 30,
                    author,
                    text,
                )
            } else {
                payloads::telegram::message_update(n, author, n, author, text)
            };
            (body.to_string(), Some(route.secret.clone()))
        }
    }
}

/// Sends simulated citizens' messages to the server's own webhook endpoints, shaped as each
/// platform delivers them, for as long as the demo runs.
async fn feed_messages(addr: SocketAddr, interval: f64, routes: Vec<Route>) {
    let messages: Vec<DemoMessage> = MESSAGES.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let client = reqwest::Client::new();
    let fallback = |ch: Channel| routes.iter().find(|r| r.channel == ch && !r.source.starts_with("club-adm")).cloned();
    let start = Utc::now().timestamp() % 1_000_000;
    let mut n: i64 = 0;
    loop {
        let (route, text, pause) = {
            let mut rng = rand::rng();
            let Some(m) = messages.choose(&mut rng) else { return };
            let channel = Channel::parse(&m.channel).filter(|c| *c != Channel::Web).unwrap_or(Channel::Telegram);
            // A page registered as a source is addressed by its key, as the channel would;
            // the others are communities and chats without a territory of their own.
            let route = routes
                .iter()
                .find(|r| r.name == m.source && r.channel == channel)
                .cloned()
                .or_else(|| {
                    if channel == Channel::Telegram {
                        routes.iter().find(|r| r.source == "chat-city").cloned()
                    } else {
                        None
                    }
                })
                .or_else(|| {
                    if channel == Channel::Vk {
                        routes.iter().find(|r| r.source == "club-communities").cloned()
                    } else {
                        None
                    }
                })
                .or_else(|| fallback(channel));
            let pause = interval.max(0.05) * rand::random_range(0.3..1.7);
            (route, m.text.clone(), pause)
        };
        n += 1;
        if let Some(route) = route {
            let (body, secret) = platform_payload(&route, start * 1000 + n, &text);
            let mut req = client.post(format!("http://{addr}/hooks/{}/{}", route.channel, route.source)).body(body);
            if let Some(s) = secret {
                req = req.header("X-Telegram-Bot-Api-Secret-Token", s);
            }
            match req.send().await {
                Ok(r) if r.status().is_success() => {}
                Ok(r) => tracing::warn!(status = %r.status(), source = %route.source, "demo delivery refused"),
                Err(e) => tracing::warn!(error = %e, "demo feed cannot reach the server"),
            }
        }
        tokio::time::sleep(Duration::from_secs_f64(pause)).await;
    }
}
