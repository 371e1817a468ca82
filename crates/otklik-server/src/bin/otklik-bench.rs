//! Benchmarks printed as figures for docs/benchmarks.md: intake through the HTTP API into SQLite,
//! and listing a queue page with many incidents stored.

#![allow(clippy::print_stdout)] // A benchmark prints its figures.

use std::sync::Arc;
use std::time::{Duration, Instant};

// The same allocator as the `otklik` binary, so the figures are the server's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use anyhow::Context;
use chrono::Utc;
use clap::{Parser, Subcommand};
use otklik_core::Store;
use otklik_core::model::{Author, Channel, Grant, NewMessage, NewUser, Role};
use otklik_core::workflow::{IntakeHints, SystemClock};
use otklik_server::app::{AppState, Settings};
use otklik_server::reload::RECOMPUTE_BATCH;
use otklik_server::{auth, refdata, setup};

#[derive(Debug, Parser)]
#[command(name = "otklik-bench", about = "Otklik benchmarks")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Messages per second through POST /api/v1/messages into a fresh SQLite database.
    Intake {
        #[arg(long, default_value_t = 20_000)]
        messages: usize,
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        /// Database URL; a fresh SQLite file in a temporary folder when absent.
        #[arg(long)]
        database: Option<String>,
    },
    /// Deliveries per second through the channel webhooks (VK Callback API and Telegram Bot API
    /// payloads, half each) into a fresh SQLite database.
    Webhooks {
        #[arg(long, default_value_t = 20_000)]
        messages: usize,
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        /// Database URL; a fresh SQLite file in a temporary folder when absent.
        #[arg(long)]
        database: Option<String>,
    },
    /// Render time of the console's queue and card pages (HTML, with a session) with N incidents stored.
    Console {
        #[arg(long, default_value_t = 1_000_000)]
        incidents: usize,
        /// Reuse (or create and keep) the database at this SQLite path.
        #[arg(long)]
        db: Option<std::path::PathBuf>,
        #[arg(long, default_value_t = 200)]
        requests: usize,
    },
    /// Time to recompute the deadlines of N unfinished incidents (after a calendar change).
    Recompute {
        #[arg(long, default_value_t = 1_000_000)]
        incidents: usize,
        /// Reuse (or create and keep) the database at this SQLite path.
        #[arg(long, conflicts_with = "database")]
        db: Option<std::path::PathBuf>,
        /// Reuse (or fill) the database at this URL instead (`postgres://…`).
        #[arg(long)]
        database: Option<String>,
    },
    /// Latency of GET /api/v1/incidents pages with N incidents stored.
    Queue {
        #[arg(long, default_value_t = 1_000_000)]
        incidents: usize,
        /// Reuse (or create and keep) the database at this SQLite path.
        #[arg(long)]
        db: Option<std::path::PathBuf>,
        #[arg(long, default_value_t = 200)]
        requests: usize,
    },
}

struct Server {
    base: String,
    token: String,
    store: Arc<dyn Store>,
    _dir: Option<tempfile::TempDir>,
}

async fn start(url: Option<String>) -> anyhow::Result<Server> {
    start_with(url, Default::default()).await
}

async fn start_with(url: Option<String>, channels: Arc<otklik_server::channels::Channels>) -> anyhow::Result<Server> {
    let (url, dir) = match url {
        Some(u) => (u, None),
        None => {
            let d = tempfile::tempdir()?;
            (format!("sqlite://{}", d.path().join("bench.db").display()), Some(d))
        }
    };
    let reference = refdata::builtin()?;
    let store = setup::open_store(&url, &reference).await?;
    let analyzer = otklik_server::nlp::analyzer(None, &reference)?;
    let wf = setup::workflow(store.clone(), Arc::new(SystemClock), Some(analyzer)).await?;
    let token = token_for(&*store, "bench", Grant { role: Role::Admin, node: None }).await?;
    let state = AppState::new(
        wf,
        Settings { secure_cookies: false, session_hours: 1, body_limit: 1 << 20, demo: false, ..Default::default() },
        None,
    )
    .with_channels(channels);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(otklik_server::app::serve(listener, state));
    Ok(Server { base, token, store: store as Arc<dyn Store>, _dir: dir })
}

/// An API token for a bench user holding one grant (created on first use).
async fn token_for(store: &dyn Store, login: &str, grant: Grant) -> anyhow::Result<String> {
    let user = match store.user_by_login(login).await? {
        Some((u, _)) => u,
        None => {
            let new =
                NewUser { login: login.into(), display_name: login.into(), password_hash: None, grants: vec![grant] };
            store.create_user(&new, Utc::now()).await?
        }
    };
    let token = format!("otk_{}", auth::random_token());
    store.create_token(user.id, "bench", &auth::token_hash(&token), Utc::now(), None).await?;
    Ok(token)
}

const TEXTS: &[&str] = &[
    "На улице Правды в Грязях огромная яма, машины бьют колёса",
    "Третий день нет горячей воды в доме 12 по Советской, управляющая компания молчит",
    "Когда уберут контейнерную площадку у школы? Мусор не вывозят неделю",
    "Спасибо за новую детскую площадку во дворе!",
    "Стая собак у остановки бросается на детей, примите меры",
];

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

async fn intake(messages: usize, concurrency: usize, database: Option<String>) -> anyhow::Result<()> {
    let server = start(database).await?;
    let client = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build()?;
    let url = format!("{}/api/v1/messages", server.base);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    // Fresh external ids each run, so a reused database sees new messages, not duplicates.
    let run = Utc::now().timestamp_millis();
    let started = Instant::now();
    let mut tasks = vec![];
    for _ in 0..concurrency {
        let (client, url, token, next) = (client.clone(), url.clone(), server.token.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = vec![];
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= messages {
                    return Ok::<_, anyhow::Error>(lat);
                }
                let body = serde_json::json!({
                    "channel": "vk", "source": "club-bench", "external_id": format!("m-{run}-{i}"),
                    "author": {"id": format!("vk:{}", i % 5000), "name": "Житель"},
                    "text": TEXTS[i % TEXTS.len()], "published_at": Utc::now(),
                });
                let t = Instant::now();
                let res = client.post(&url).bearer_auth(&token).json(&body).send().await?;
                anyhow::ensure!(res.status().as_u16() == 201, "intake answered {}", res.status());
                lat.push(t.elapsed());
            }
        }));
    }
    let mut lat = vec![];
    for t in tasks {
        lat.extend(t.await??);
    }
    let secs = started.elapsed().as_secs_f64();
    lat.sort();
    println!(
        "intake: {messages} messages, concurrency {concurrency}: {:.0} messages/s; latency p50 {:.2} ms, p99 {:.2} ms",
        messages as f64 / secs,
        percentile(&lat, 0.5),
        percentile(&lat, 0.99)
    );
    Ok(())
}

const VK_GROUP: i64 = 4242;
const SECRET: &str = "bench-secret";

async fn webhooks(messages: usize, concurrency: usize, database: Option<String>) -> anyhow::Result<()> {
    use otklik_channels::{IntakeMode, Secret, SourceConfig, payloads};
    let mut vk = SourceConfig::new(Channel::Vk, "club-adm-gryazi");
    vk.group_id = Some(VK_GROUP.to_string());
    vk.token = Some(Secret::new("unused"));
    vk.secret = Some(Secret::new(SECRET));
    vk.confirmation = Some("c0nf1rm".into());
    vk.mode = IntakeMode::Webhook;
    let mut tg = SourceConfig::new(Channel::Telegram, "bot-cur");
    tg.token = Some(Secret::new("1:unused"));
    tg.secret = Some(Secret::new(SECRET));
    let channels = Arc::new(otklik_server::channels::Channels::build(&[vk, tg])?);
    let server = start_with(database, channels).await?;
    let client = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build()?;
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    // Fresh ids each run, so a reused database sees new messages, not duplicates.
    let run = (Utc::now().timestamp() % 100_000) * 10_000_000;
    // The platforms' bodies are built before the clock starts: the load generator shares the cores.
    let bodies: Arc<Vec<(bool, String)>> = Arc::new(
        (0..messages)
            .map(|i| {
                let n = run + i as i64;
                let text = TEXTS[i % TEXTS.len()];
                if i % 2 == 0 {
                    (
                        true,
                        payloads::vk::wall_reply_new(VK_GROUP, 1 + n % 50, n, 1000 + n % 5000, text, SECRET)
                            .to_string(),
                    )
                } else {
                    (
                        false,
                        payloads::telegram::message_update(n, 5000 + n % 5000, n, 5000 + n % 5000, text).to_string(),
                    )
                }
            })
            .collect(),
    );
    let (vk_url, tg_url) =
        (format!("{}/hooks/vk/club-adm-gryazi", server.base), format!("{}/hooks/telegram/bot-cur", server.base));
    let started = Instant::now();
    let mut tasks = vec![];
    for _ in 0..concurrency {
        let (client, next, bodies) = (client.clone(), next.clone(), bodies.clone());
        let (vk_url, tg_url) = (vk_url.clone(), tg_url.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = vec![];
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= messages {
                    return Ok::<_, anyhow::Error>(lat);
                }
                let (is_vk, body) = &bodies[i];
                let req = if *is_vk {
                    client.post(&vk_url).body(body.clone())
                } else {
                    client.post(&tg_url).header("X-Telegram-Bot-Api-Secret-Token", SECRET).body(body.clone())
                };
                let t = Instant::now();
                let res = req.send().await?;
                anyhow::ensure!(res.status().is_success(), "webhook answered {}", res.status());
                lat.push(t.elapsed());
            }
        }));
    }
    let mut lat = vec![];
    for t in tasks {
        lat.extend(t.await??);
    }
    let secs = started.elapsed().as_secs_f64();
    lat.sort();
    let stored = server
        .store
        .count_incidents(&Default::default(), &otklik_core::access::ScopeFilter { all: true, ..Default::default() })
        .await?;
    println!(
        "webhooks: {messages} deliveries (VK and Telegram), concurrency {concurrency}: {:.0} requests/s; \
         latency p50 {:.2} ms, p99 {:.2} ms; {stored} incidents stored",
        messages as f64 / secs,
        percentile(&lat, 0.5),
        percentile(&lat, 0.99)
    );
    Ok(())
}

async fn queue(incidents: usize, db: Option<std::path::PathBuf>, requests: usize) -> anyhow::Result<()> {
    let (server, _tmp) = loaded(incidents, db).await?;
    queue_pages(&server, incidents, requests).await
}

async fn recompute(incidents: usize, url: Option<String>) -> anyhow::Result<()> {
    let (server, _tmp) = loaded_at(incidents, url).await?;
    let wf = setup::workflow(server.store.clone(), Arc::new(SystemClock), None).await?;
    // First nothing changed: every unfinished incident is read and recomputed, none written.
    let t = Instant::now();
    let n = wf.recompute_deadlines(RECOMPUTE_BATCH).await?;
    println!(
        "recompute deadlines, nothing changed: {incidents} incidents checked, {n} written, in {:.2} s",
        t.elapsed().as_secs_f64()
    );
    // A calendar change: the first working day after the newest incident's capture becomes a day
    // off (as a region's extra day off would), which moves every deadline counted in working time
    // whose window spans it (here the social networks' 9 working hours of the evening's messages).
    let all = otklik_core::access::ScopeFilter { all: true, ..Default::default() };
    let newest = otklik_core::store::IncidentQuery {
        sort: otklik_core::store::SortKey::CreatedDesc,
        limit: 1,
        ..Default::default()
    };
    let newest = server.store.list_incidents(&newest, &all).await?.items.pop().context("no incidents")?;
    let mut day = newest.created_at.date_naive() + chrono::Duration::days(1);
    while wf.catalog().calendar.day_kind(day) != otklik_core::calendar::DayKind::Working {
        day += chrono::Duration::days(1);
    }
    let year = chrono::Datelike::year(&day);
    let (info, original) = wf.calendar_year(year).await?.context("no calendar for that year")?;
    let changed = original.replacen(
        "transferred_days_off = [",
        &format!("transferred_days_off = [\n    \"{day}\", # the bench's extra day off"),
        1,
    );
    wf.put_calendar_year(year, &changed, "bench").await?;
    timed_pass(&server, &wf, &format!("a calendar change ({day} a day off)"), incidents).await?;
    match info.origin {
        otklik_core::reload::CalendarOrigin::Embedded => {
            wf.delete_calendar_year(year).await?;
        }
        otklik_core::reload::CalendarOrigin::Stored => {
            wf.put_calendar_year(year, &original, "bench").await?;
        }
    }
    let t = Instant::now();
    let n = wf.recompute_deadlines(RECOMPUTE_BATCH).await?;
    println!("the calendar put back: {n} written in {:.2} s", t.elapsed().as_secs_f64());
    // Then a change that moves most deadlines: social networks get 8 working hours instead of 9.
    let mut social = wf.catalog().deadlines.iter().find(|p| p.code == "social").cloned().context("no social policy")?;
    social.first_answer = Some(otklik_core::deadlines::Span::WorkingHours(8));
    server.store.upsert_deadline_policy(&social).await?;
    wf.reload_catalog().await?;
    timed_pass(&server, &wf, "a policy change", incidents).await?;
    // Writing alone: the preset back (which also leaves a reused database as it was), its moved
    // deadlines computed first and then written in the recomputation's pages.
    social.first_answer = Some(otklik_core::deadlines::Span::WorkingHours(9));
    server.store.upsert_deadline_policy(&social).await?;
    wf.reload_catalog().await?;
    let updates = wf.catalog().deadline_updates(&deadline_rows(&*server.store).await?);
    let t = Instant::now();
    let mut written = 0;
    for page in updates.chunks(RECOMPUTE_BATCH as usize) {
        written += server.store.update_deadlines(page).await?;
    }
    println!("writing alone: {written} moved deadlines in {:.2} s", t.elapsed().as_secs_f64());
    Ok(())
}

/// Every unfinished incident's deadline row, read in the recomputation's pages.
async fn deadline_rows(store: &dyn Store) -> anyhow::Result<Vec<otklik_core::store::DeadlineRow>> {
    let (mut rows, mut after) = (Vec::new(), 0);
    loop {
        let page = store.open_deadline_rows(after, RECOMPUTE_BATCH).await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        rows.extend(page);
    }
    Ok(rows)
}

/// Times a recomputation after `change`, and where its time goes: reading every page alone and
/// computing them alone first.
async fn timed_pass(
    server: &Server,
    wf: &otklik_core::workflow::Workflow,
    change: &str,
    incidents: usize,
) -> anyhow::Result<()> {
    let t = Instant::now();
    let rows = deadline_rows(&*server.store).await?;
    let read = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let moving = wf.catalog().deadline_updates(&rows).len();
    let compute = t.elapsed().as_secs_f64();
    drop(rows);
    let t = Instant::now();
    let n = wf.recompute_deadlines(RECOMPUTE_BATCH).await?;
    println!(
        "recompute deadlines after {change}: {incidents} incidents checked, {n} written, in {:.2} s \
         (alone: reading {read:.2} s, computing {compute:.2} s for {moving} moving)",
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

/// A server over a database holding at least `incidents` incidents (loaded through intake).
async fn loaded(
    incidents: usize,
    db: Option<std::path::PathBuf>,
) -> anyhow::Result<(Server, Option<tempfile::TempDir>)> {
    loaded_at(incidents, db.map(|p| format!("sqlite://{}", p.display()))).await
}

/// A server over the database at `url` (a fresh SQLite file when absent) holding at least
/// `incidents` incidents.
async fn loaded_at(incidents: usize, url: Option<String>) -> anyhow::Result<(Server, Option<tempfile::TempDir>)> {
    let (url, tmp) = match url {
        Some(u) => (u, None),
        None => {
            let d = tempfile::tempdir()?;
            (format!("sqlite://{}", d.path().join("queue.db").display()), Some(d))
        }
    };
    let server = start(Some(url)).await?;
    let have = server
        .store
        .count_incidents(&Default::default(), &otklik_core::access::ScopeFilter { all: true, ..Default::default() })
        .await? as usize;
    if have < incidents {
        let t = Instant::now();
        let clock = Arc::new(EveningClock::new(&otklik_core::calendar::ProductionCalendar::with_overrides(&[])?, have));
        let wf = setup::workflow(server.store.clone(), clock, None).await?;
        let catalog = wf.catalog();
        let territories: Vec<String> = catalog.hierarchy.territory_codes();
        let mut categories: Vec<String> =
            catalog.categories.keys().filter(|c| c.matches('.').count() == 2).cloned().collect();
        categories.sort();
        let next = Arc::new(std::sync::atomic::AtomicUsize::new(have));
        let mut tasks = vec![];
        // Many concurrent writers fill the intake's group commits.
        for _ in 0..128 {
            let (wf, next, territories, categories) =
                (wf.clone(), next.clone(), territories.clone(), categories.clone());
            tasks.push(tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= incidents {
                        return Ok::<_, anyhow::Error>(());
                    }
                    let msg = NewMessage {
                        channel: Channel::ALL[i % 4],
                        source: "club-bench".into(),
                        external_id: format!("q-{i}"),
                        thread_id: None,
                        parent_id: None,
                        author: Author { id: format!("vk:{}", i % 9973), name: None },
                        text: TEXTS[i % TEXTS.len()].into(),
                        attachments: vec![],
                        published_at: wf.now(),
                        url: None,
                        raw: serde_json::Value::Null,
                    };
                    let hints = IntakeHints {
                        territory: Some(territories[i % territories.len()].clone()),
                        category: Some(categories[(i / 7) % categories.len()].clone()),
                    };
                    wf.ingest(&msg, &hints).await.context("ingest")?;
                    if i % 100_000 == 0 {
                        eprintln!("loaded {i}");
                    }
                }
            }));
        }
        for t in tasks {
            t.await??;
        }
        eprintln!("loaded {} incidents in {:.0} s", incidents - have, t.elapsed().as_secs_f64());
    }
    Ok((server, tmp))
}

/// The capture times of the loaded incidents: an evening's stream, from 19:00 Moscow time on the
/// latest day before today that is followed by a working day on the built-in calendar, 14 ms apart (a million messages
/// fill the evening to about 23:00).
///
/// Out of working hours on purpose. A social-network message captured in working hours gets its
/// first-answer deadline from the 24-hour cap (9 working hours of a 9-hour day end exactly a day
/// later), which no calendar change moves; one captured in the evening gets it from the working
/// hours of the next working day, so that day becoming a day off moves it. With captures at the
/// time of the run, the calendar pass moved nothing or three quarters depending on the hour.
#[derive(Debug)]
struct EveningClock {
    start: chrono::DateTime<Utc>,
    next: std::sync::atomic::AtomicI64,
}

impl EveningClock {
    fn new(calendar: &otklik_core::calendar::ProductionCalendar, have: usize) -> Self {
        let moscow = chrono::FixedOffset::east_opt(3 * 3600).expect("a valid offset");
        let mut day = Utc::now().with_timezone(&moscow).date_naive() - chrono::Duration::days(1);
        while calendar.day_kind(day + chrono::Duration::days(1)) != otklik_core::calendar::DayKind::Working {
            day -= chrono::Duration::days(1);
        }
        let evening = day.and_hms_opt(19, 0, 0).expect("a valid time").and_local_timezone(moscow).unwrap();
        EveningClock { start: evening.with_timezone(&Utc), next: std::sync::atomic::AtomicI64::new(have as i64) }
    }
}

impl otklik_core::workflow::Clock for EveningClock {
    fn now(&self) -> chrono::DateTime<Utc> {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.start + chrono::Duration::milliseconds(n * 14)
    }
}

/// The organisation whose executor's queue is timed.
const BENCH_ORG: &str = "adm-zadonsky";

/// Gives [`BENCH_ORG`] a share of the incidents, through the API as the centre would: 2,000
/// assigned to it and 200 assigned elsewhere with it as a co-executor, spread evenly over the
/// whole set (skipped when it has them).
async fn organisation_share(server: &Server, incidents: usize) -> anyhow::Result<()> {
    use otklik_core::access::ScopeFilter;
    let (led, co) = (2_000, 200);
    let scope = ScopeFilter { orgs: vec![BENCH_ORG.into()], ..Default::default() };
    if server.store.count_incidents(&Default::default(), &scope).await? >= (led + co) as u64 {
        return Ok(());
    }
    let mut ids = vec![];
    for id in (1..=incidents as i64).step_by(incidents / (led + co)) {
        match server.store.incident(id).await? {
            Some(i) if i.status == otklik_core::status::Status::New => ids.push(id),
            _ => {}
        }
    }
    let client = reqwest::Client::new();
    let act = |id: i64, body: serde_json::Value| {
        let req = client.post(format!("{}/api/v1/incidents/{id}/actions", server.base)).bearer_auth(&server.token);
        async move {
            let res = req.json(&body).send().await?;
            anyhow::ensure!(res.status().is_success(), "{} for {body} on {id}: {}", res.status(), res.text().await?);
            anyhow::Ok(())
        }
    };
    for (n, &id) in ids.iter().take(led + co).enumerate() {
        if n < led {
            act(id, serde_json::json!({"action": "assign", "org": BENCH_ORG})).await?;
        } else {
            act(id, serde_json::json!({"action": "assign", "org": "adm-dankovsky"})).await?;
            act(id, serde_json::json!({"action": "add_co_executor", "org": BENCH_ORG})).await?;
        }
    }
    Ok(())
}

async fn queue_pages(server: &Server, incidents: usize, requests: usize) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    organisation_share(server, incidents).await?;
    let operator = token_for(
        &*server.store,
        "bench-operator",
        Grant { role: Role::MunicipalOperator, node: Some("zadonsky".into()) },
    )
    .await?;
    let executor =
        token_for(&*server.store, "bench-executor", Grant { role: Role::OrgExecutor, node: Some(BENCH_ORG.into()) })
            .await?;
    let admin = &server.token;
    let pages = [
        ("newest 50, administrator", admin, "/api/v1/incidents?limit=50"),
        ("newest 50 of one municipality", admin, "/api/v1/incidents?limit=50&territory=gryazinsky"),
        (
            "new in one region, by deadline",
            admin,
            "/api/v1/incidents?limit=50&territory=lipetsk-oblast&status=new&sort=due_asc",
        ),
        ("one category direction", admin, "/api/v1/incidents?limit=50&category=roads"),
        (
            "by deadline, a municipal operator (scope: one municipality)",
            &operator,
            "/api/v1/incidents?limit=50&sort=due_asc",
        ),
        (
            "by deadline, an organisation's executor (2,000 led, 200 co-executed)",
            &executor,
            "/api/v1/incidents?limit=50&sort=due_asc",
        ),
    ];
    for (name, token, path) in pages {
        let mut lat = vec![];
        let mut cursor: Option<String> = None;
        for i in 0..requests {
            // Half the requests follow the cursor into deeper pages.
            let p = match (&cursor, i % 2) {
                (Some(c), 1) => format!("{path}&cursor={c}"),
                _ => path.to_string(),
            };
            let t = Instant::now();
            let res = client.get(format!("{}{p}", server.base)).bearer_auth(token).send().await?;
            anyhow::ensure!(res.status().is_success(), "{} for {p}", res.status());
            let v: serde_json::Value = res.json().await?;
            lat.push(t.elapsed());
            cursor = v["next_cursor"].as_str().map(str::to_string);
        }
        lat.sort();
        println!(
            "queue page with {incidents} incidents — {name}: p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms",
            percentile(&lat, 0.5),
            percentile(&lat, 0.95),
            percentile(&lat, 0.99)
        );
    }
    Ok(())
}

async fn console(incidents: usize, db: Option<std::path::PathBuf>, requests: usize) -> anyhow::Result<()> {
    let (server, _tmp) = loaded(incidents, db).await?;
    // A console session for the bench account (the console takes no API tokens).
    let (user, _) = server.store.user_by_login("bench").await?.context("the bench account")?;
    let token = auth::random_token();
    let now = Utc::now();
    server
        .store
        .create_session(&otklik_core::model::Session {
            token_hash: auth::token_hash(&token),
            user_id: user.id,
            csrf_token: auth::random_token(),
            created_at: now,
            expires_at: now + chrono::Duration::hours(1),
        })
        .await?;
    let cookie = format!("{}={token}", auth::SESSION_COOKIE);
    let client = reqwest::Client::new();
    let max_id = incidents.max(1) as u64;
    type PathOf = Box<dyn Fn(usize) -> String>;
    let pages: [(&str, PathOf); 4] = [
        ("queue page, open incidents by deadline", Box::new(|_| "/queue".to_string())),
        ("queue page of one municipality", Box::new(|_| "/queue?territory=gryazinsky".to_string())),
        (
            "queue rows (htmx), one region and channel",
            Box::new(|_| "/queue/rows?territory=lipetsk-oblast&channel=telegram".to_string()),
        ),
        ("incident card", Box::new(move |i| format!("/incidents/{}", 1 + (i as u64 * 7_919 + 13) % max_id))),
    ];
    for (name, path) in pages {
        let mut lat = vec![];
        for i in 0..requests {
            let p = path(i);
            let t = Instant::now();
            let res = client.get(format!("{}{p}", server.base)).header("cookie", &cookie).send().await?;
            anyhow::ensure!(res.status().is_success(), "{} for {p}", res.status());
            let body = res.text().await?;
            anyhow::ensure!(body.contains("</html>") || body.contains("</table>"), "not a page: {p}");
            lat.push(t.elapsed());
        }
        lat.sort();
        println!(
            "console with {incidents} incidents — {name}: p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms",
            percentile(&lat, 0.5),
            percentile(&lat, 0.95),
            percentile(&lat, 0.99)
        );
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Intake { messages, concurrency, database } => intake(messages, concurrency, database).await,
        Cmd::Webhooks { messages, concurrency, database } => webhooks(messages, concurrency, database).await,
        Cmd::Queue { incidents, db, requests } => queue(incidents, db, requests).await,
        Cmd::Console { incidents, db, requests } => console(incidents, db, requests).await,
        Cmd::Recompute { incidents, db, database } => {
            recompute(incidents, db.map(|p| format!("sqlite://{}", p.display())).or(database)).await
        }
    }
}
