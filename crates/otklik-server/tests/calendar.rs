//! The editable production calendar and the reload of reference files, through the API and the
//! command line: a good change moves due instants; a bad one is refused with its file and line and
//! leaves the stored and the running configuration as they were.

mod common;

use std::path::Path;

use common::TestApp;
use otklik_server::app::{AppState, Settings};
use otklik_server::reload::ReferenceSources;
use reqwest::{Method, StatusCode};
use serde_json::Value;

const EMBEDDED_2026: &str = include_str!("../../../data/calendar/ru-2026.toml");

/// The official 2026 with Monday 2 March made a day off by transfer.
fn edited_2026() -> String {
    let edited =
        EMBEDDED_2026.replace("    \"2026-03-09\", # from Sun", "    \"2026-03-02\",\n    \"2026-03-09\", # from Sun");
    assert_ne!(edited, EMBEDDED_2026);
    edited
}

fn line_of(text: &str, needle: &str) -> u64 {
    text.lines().position(|l| l.contains(needle)).unwrap() as u64 + 1
}

async fn put_text(app: &TestApp, token: &str, path: &str, text: &str) -> (StatusCode, Value) {
    let res = app
        .client
        .put(format!("{}{path}", app.base))
        .bearer_auth(token)
        .header("content-type", "application/toml")
        .body(text.to_string())
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Waits for the background recomputation numbered `seq` to finish and returns its state.
async fn recomputed(app: &TestApp, base: &str, token: &str, seq: u64) -> Value {
    for _ in 0..400 {
        let res = app.client.get(format!("{base}/api/v1/calendar")).bearer_auth(token).send().await.unwrap();
        let cal: Value = res.json().await.unwrap();
        let r = &cal["recompute"];
        if r["seq"].as_u64().is_some_and(|s| s >= seq) && !r["finished_at"].is_null() {
            return r.clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("the recomputation {seq} did not finish");
}

async fn first_answer_due(app: &TestApp, token: &str, id: i64) -> Value {
    app.get(token, &format!("/api/v1/incidents/{id}")).await.1["incident"]["first_answer_due"].clone()
}

fn origins(cal: &Value) -> Vec<(i64, String)> {
    cal["years"]
        .as_array()
        .unwrap()
        .iter()
        .map(|y| (y["year"].as_i64().unwrap(), y["origin"].as_str().unwrap().to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_year_moves_due_instants_and_deleting_it_restores_them() {
    let app = TestApp::start().await;
    let admin = app.token("admin").await;
    // Monday 2 March 2026, 09:00 in Moscow: nine working hours end at 18:00 MSK.
    let id = app.ingest(&admin, "cal-1", Some("gryazinsky")).await;
    assert_eq!(first_answer_due(&app, &admin, id).await, "2026-03-02T15:00:00Z");

    let (s, cal) = app.get(&admin, "/api/v1/calendar").await;
    assert_eq!(s, 200);
    let embedded: Vec<(i64, String)> = (2025..=2027).map(|y| (y, "embedded".to_string())).collect();
    assert_eq!(origins(&cal), embedded);
    assert_eq!(cal["years"][1]["working_days"], 247);
    assert!(cal["recompute"].is_null());

    let text = edited_2026();
    let (s, put) = put_text(&app, &admin, "/api/v1/calendar/2026", &text).await;
    assert_eq!(s, 200, "{put}");
    assert_eq!((put["origin"].as_str(), put["updated_by"].as_str()), (Some("stored"), Some("admin")));
    assert_eq!(put["working_days"], 246);
    let r = recomputed(&app, &app.base, &admin, put["recompute_seq"].as_u64().unwrap()).await;
    assert_eq!(r["moved"], 1, "{r}");
    // The day is off: counting starts on Tuesday, and the 24-hour cap of the policy applies.
    assert_eq!(first_answer_due(&app, &admin, id).await, "2026-03-03T06:00:00Z");

    let (s, year) = app.get(&admin, "/api/v1/calendar/2026").await;
    assert_eq!(s, 200);
    assert_eq!((year["origin"].as_str(), year["text"].as_str()), (Some("stored"), Some(text.as_str())));
    assert!(year["transferred_days_off"].as_array().unwrap().contains(&Value::from("2026-03-02")));
    let (_, cal) = app.get(&admin, "/api/v1/calendar").await;
    assert_eq!(origins(&cal)[1], (2026, "stored".to_string()));
    // A new incident is counted on the stored year too.
    let later = app.ingest(&admin, "cal-2", Some("gryazinsky")).await;
    assert_eq!(first_answer_due(&app, &admin, later).await, "2026-03-03T06:00:00Z");

    let (s, _) = app.call(&admin, Method::DELETE, "/api/v1/calendar/2026", None).await;
    assert_eq!(s, 204);
    let (_, cal) = app.get(&admin, "/api/v1/calendar").await;
    assert_eq!(origins(&cal), embedded);
    let seq = cal["recompute"]["seq"].as_u64().unwrap_or(0).max(2);
    let r = recomputed(&app, &app.base, &admin, seq).await;
    assert_eq!(r["moved"], 2, "{r}");
    assert_eq!(first_answer_due(&app, &admin, id).await, "2026-03-02T15:00:00Z");
    let (_, year) = app.get(&admin, "/api/v1/calendar/2026").await;
    assert_eq!((year["origin"].as_str(), year["text"].as_str()), (Some("embedded"), Some(EMBEDDED_2026)));
    let (s, e) = app.call(&admin, Method::DELETE, "/api/v1/calendar/2026", None).await;
    assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
    // A year without a file follows the plain rule and has nothing to show.
    assert_eq!(app.get(&admin, "/api/v1/calendar/2031").await.0, 404);

    let operator = app.token("operator-gryazi").await;
    assert_eq!(app.get(&operator, "/api/v1/calendar").await.0, 403);
    assert_eq!(put_text(&app, &operator, "/api/v1/calendar/2026", &text).await.0, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_year_is_refused_with_its_line_and_nothing_changes() {
    let app = TestApp::start().await;
    let admin = app.token("admin").await;
    let id = app.ingest(&admin, "cal-bad", Some("gryazinsky")).await;
    let saturday = edited_2026().replace("\"2026-03-02\"", "\"2026-03-07\"");
    let not_toml = format!("{}\nholidays = [\n", EMBEDDED_2026);
    let cases = [
        (saturday.as_str(), "/api/v1/calendar/2026", line_of(&saturday, "2026-03-07"), "not Mon–Fri"),
        (EMBEDDED_2026, "/api/v1/calendar/2027", line_of(EMBEDDED_2026, "year = 2026"), "not 2027"),
        (not_toml.as_str(), "/api/v1/calendar/2026", not_toml.lines().count() as u64, ""),
    ];
    for (text, path, line, needle) in cases {
        let (s, e) = put_text(&app, &admin, path, text).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        let err = &e["error"];
        assert_eq!(err["code"], "invalid_calendar", "{e}");
        assert_eq!(err["line"], line, "{e}");
        assert!(err["file"].as_str().unwrap().starts_with("ru-20"), "{e}");
        assert!(err["message"].as_str().unwrap().contains(needle), "{e}");
        assert!(err["message"].as_str().unwrap().contains(&format!(":{line}:")), "{e}");
    }
    let (s, e) = app.call(&admin, Method::PUT, "/api/v1/calendar/twenty", None).await;
    assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_path")));

    assert!(app.store.calendar_years().await.unwrap().is_empty());
    let (_, cal) = app.get(&admin, "/api/v1/calendar").await;
    assert!(origins(&cal).iter().all(|(_, o)| o == "embedded"));
    assert!(cal["recompute"].is_null(), "nothing to recompute");
    assert_eq!(*app.workflow.catalog().calendar, *otklik_core::calendar::ProductionCalendar::russia());
    assert_eq!(first_answer_due(&app, &admin, id).await, "2026-03-02T15:00:00Z");
}

// ---------------------------------------------------------------- reload of reference files

/// A server over the test app's workflow that reloads from these folders.
async fn serve_with(app: &TestApp, sources: ReferenceSources) -> String {
    let state = AppState::new(
        app.workflow.clone(),
        Settings {
            secure_cookies: false,
            session_hours: 12,
            body_limit: 1 << 20,
            reference: sources,
            ..Default::default()
        },
        None,
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(otklik_server::app::serve(listener, state));
    format!("http://{addr}")
}

async fn post_reload(app: &TestApp, base: &str, token: &str) -> (StatusCode, Value) {
    let res = app.client.post(format!("{base}/api/v1/reference/reload")).bearer_auth(token).send().await.unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

fn copy_reference(to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/reference");
    for f in ["territories", "organisations", "taxonomy", "sources", "routing", "deadlines"] {
        std::fs::copy(from.join(format!("{f}.toml")), to.join(format!("{f}.toml"))).unwrap();
    }
}

fn edit(dir: &Path, file: &str, from: &str, to: &str) -> String {
    let p = dir.join(file);
    let text = std::fs::read_to_string(&p).unwrap();
    assert!(text.contains(from), "{from}");
    let edited = text.replacen(from, to, 1);
    std::fs::write(&p, &edited).unwrap();
    edited
}

/// What the running configuration is: the stored reference data and the catalog's view of it.
async fn snapshot(app: &TestApp) -> String {
    let s = &app.store;
    let c = app.workflow.catalog();
    format!(
        "{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{}|{:?}",
        s.territories().await.unwrap(),
        s.organisations().await.unwrap(),
        s.categories().await.unwrap(),
        s.sources().await.unwrap(),
        s.routing_rules().await.unwrap(),
        s.deadline_policies().await.unwrap(),
        s.calendar_years().await.unwrap(),
        c.routing,
        c.hierarchy.org("lipetsk-gov").map(|o| o.name.clone()).unwrap_or_default(),
        c.calendar.years().collect::<Vec<_>>(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_replaces_reference_data_and_a_bad_set_changes_nothing() {
    let app = TestApp::start().await;
    let admin = app.token("admin").await;
    let tmp = tempfile::tempdir().unwrap();
    let good = tmp.path().join("good");
    copy_reference(&good);
    edit(&good, "organisations.toml", "name = \"Правительство Липецкой области\"", "name = \"Правительство (v1)\"");
    let base = serve_with(&app, ReferenceSources { dir: Some(good.clone()), calendar_dir: None }).await;

    // An edit through the API is replaced on an explicit reload: the files are the source of truth.
    let rule = serde_json::json!({"code": "api-rule", "category": "roads", "org": "lipetsk-gov"});
    assert_eq!(app.call(&admin, Method::PUT, "/api/v1/routing-rules/api-rule", Some(rule)).await.0, 200);
    let (s, report) = post_reload(&app, &base, &admin).await;
    assert_eq!(s, 200, "{report}");
    assert_eq!(report["territories"], 517);
    assert!(report["calendar_years"].is_null(), "no calendar folder: the stored years stay");
    assert!(report["recompute_seq"].as_u64().is_some());
    assert!(app.store.routing_rules().await.unwrap().iter().all(|r| r.code != "api-rule"));
    assert_eq!(app.workflow.catalog().hierarchy.org("lipetsk-gov").unwrap().name, "Правительство (v1)");
    let before = snapshot(&app).await;

    let cases: [(&str, &str, &str, &str, &str); 4] = [
        // Overlapping working-hour intervals of an organisation.
        (
            "organisations.toml",
            "territory = \"lipetsk-oblast\"\n\n[[organisation]]\ncode = \"lipetsk-min-roads\"",
            "territory = \"lipetsk-oblast\"\nworking_hours = \"09:00-13:00,12:00-18:00\"\n\n[[organisation]]\ncode = \"lipetsk-min-roads\"",
            "code = \"lipetsk-gov\"",
            "overlap",
        ),
        (
            "territories.toml",
            "zone = \"Europe/Moscow\"",
            "zone = \"Europe/Atlantis\"",
            "code = \"lipetsk-oblast\"",
            "unknown time zone",
        ),
        (
            "routing.toml",
            "org = \"lipetsk-waste-operator\"",
            "org = \"nowhere\"",
            "code = \"lipetsk-oblast-waste\"",
            "missing organisation",
        ),
        // The escalation chain climbs organisations' parents: a cycle is refused.
        (
            "organisations.toml",
            "code = \"lipetsk-gov\"\nname = \"Правительство (v1)\"\nkind = \"administration\"\nterritory = \"lipetsk-oblast\"\n",
            "code = \"lipetsk-gov\"\nname = \"Правительство (v1)\"\nkind = \"administration\"\nterritory = \"lipetsk-oblast\"\nparent = \"lipetsk-min-roads\"\n",
            "code = \"lipetsk-gov\"",
            "own ancestor",
        ),
    ];
    for (n, (file, from, to, at, needle)) in cases.into_iter().enumerate() {
        let bad = tmp.path().join(format!("bad-{n}"));
        copy_reference(&bad);
        std::fs::copy(good.join("organisations.toml"), bad.join("organisations.toml")).unwrap();
        // Other changes in the same set must not slip through either.
        edit(&bad, "taxonomy.toml", "name = \"Дороги\"", "name = \"Дороги (v2)\"");
        let text = edit(&bad, file, from, to);
        let line = line_of(&text, at);
        let bad_base = serve_with(&app, ReferenceSources { dir: Some(bad.clone()), calendar_dir: None }).await;
        let (s, e) = post_reload(&app, &bad_base, &admin).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{file}: {e}");
        let err = &e["error"];
        assert_eq!(err["code"], "invalid_reference", "{e}");
        assert_eq!(err["file"], bad.join(file).display().to_string(), "{e}");
        assert_eq!(err["line"], line, "{e}");
        assert!(err["message"].as_str().unwrap().contains(needle), "{e}");
        assert!(err["message"].as_str().unwrap().starts_with(&format!("{}:{line}: ", bad.join(file).display())));
        assert_eq!(snapshot(&app).await, before, "{file}: the running configuration stays");
    }
    let operator = app.token("operator-gryazi").await;
    assert_eq!(post_reload(&app, &base, &operator).await.0, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_takes_the_calendar_folder_and_refuses_a_bad_file() {
    let app = TestApp::start().await;
    let admin = app.token("admin").await;
    let id = app.ingest(&admin, "reload-cal", Some("gryazinsky")).await;
    let tmp = tempfile::tempdir().unwrap();
    let reference = tmp.path().join("reference");
    copy_reference(&reference);
    let calendar = tmp.path().join("calendar");
    std::fs::create_dir_all(&calendar).unwrap();
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/calendar");
    for y in [2025, 2027] {
        std::fs::copy(from.join(format!("ru-{y}.toml")), calendar.join(format!("ru-{y}.toml"))).unwrap();
    }
    std::fs::write(calendar.join("ru-2026.toml"), edited_2026()).unwrap();
    let sources = ReferenceSources { dir: Some(reference.clone()), calendar_dir: Some(calendar.clone()) };
    let base = serve_with(&app, sources).await;

    let (s, report) = post_reload(&app, &base, &admin).await;
    assert_eq!(s, 200, "{report}");
    assert_eq!(report["calendar_years"], 1, "only the year that differs from the embedded one is stored");
    let r = recomputed(&app, &base, &admin, report["recompute_seq"].as_u64().unwrap()).await;
    assert_eq!(r["moved"], 1);
    assert_eq!(first_answer_due(&app, &admin, id).await, "2026-03-03T06:00:00Z");
    let years: Vec<i32> = app.store.calendar_years().await.unwrap().iter().map(|y| y.year).collect();
    assert_eq!(years, vec![2026]);
    let before = snapshot(&app).await;

    // A second file for 2026, with a bad date: the whole set is refused.
    let bad = edited_2026().replace("\"2026-03-02\"", "\"2026-02-30\"");
    std::fs::write(calendar.join("ru-2026.toml"), &bad).unwrap();
    let (s, e) = post_reload(&app, &base, &admin).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert_eq!(e["error"]["file"], calendar.join("ru-2026.toml").display().to_string());
    assert_eq!(e["error"]["line"], line_of(&bad, "2026-02-30"));
    assert_eq!(snapshot(&app).await, before);
    assert_eq!(first_answer_due(&app, &admin, id).await, "2026-03-03T06:00:00Z");

    // Without the edited year the embedded one applies again.
    std::fs::remove_file(calendar.join("ru-2026.toml")).unwrap();
    let (s, report) = post_reload(&app, &base, &admin).await;
    assert_eq!((s, &report["calendar_years"]), (StatusCode::OK, &Value::from(0)));
    recomputed(&app, &base, &admin, report["recompute_seq"].as_u64().unwrap()).await;
    assert_eq!(first_answer_due(&app, &admin, id).await, "2026-03-02T15:00:00Z");
}

// ---------------------------------------------------------------- the command line

fn otklik(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_otklik")).args(args).env("OTKLIK_LOG", "error").output().unwrap()
}

#[test]
fn reference_reload_on_the_command_line() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("reference");
    copy_reference(&dir);
    let cfg = tmp.path().join("otklik.toml");
    std::fs::write(
        &cfg,
        format!(
            "[database]\nurl = \"sqlite://{}\"\n[reference]\ndir = \"{}\"\n",
            tmp.path().join("db.sqlite").display(),
            dir.display()
        ),
    )
    .unwrap();
    let cfg = cfg.to_str().unwrap();
    let out = otklik(&["reference", "reload", "--config", cfg]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("reference data replaced (517 territories"), "{stderr}");

    let text = edit(&dir, "routing.toml", "org = \"lipetsk-waste-operator\"", "org = \"nowhere\"");
    let out = otklik(&["reference", "reload", "--config", cfg]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success());
    let line = line_of(&text, "code = \"lipetsk-oblast-waste\"");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with(&format!("otklik: {}:{line}: ", dir.join("routing.toml").display())), "{stderr}");
    assert!(stderr.contains("missing organisation `nowhere`"), "{stderr}");
    assert!(otklik(&["reference", "reload", "--help"]).status.success());
}

/// `SIGHUP` to `otklik serve` reloads the files; a bad set is logged with its file and line and
/// the server keeps its configuration.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_a_running_server() {
    use std::time::{Duration, Instant};
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("reference");
    copy_reference(&dir);
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let cfg = tmp.path().join("otklik.toml");
    std::fs::write(
        &cfg,
        format!(
            "[server]\naddr = \"127.0.0.1:{port}\"\nsecure_cookies = false\n[database]\nurl = \"sqlite://{}\"\n\
             [reference]\ndir = \"{}\"\n",
            tmp.path().join("db.sqlite").display(),
            dir.display()
        ),
    )
    .unwrap();
    let cfg = cfg.to_str().unwrap();
    let added = std::process::Command::new(env!("CARGO_BIN_EXE_otklik"))
        .args(["user", "add", "--config", cfg, "--login", "root", "--name", "Root", "--role", "admin"])
        .env("OTKLIK_PASSWORD", "a long password")
        .env("OTKLIK_LOG", "error")
        .output()
        .unwrap();
    assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
    let log = tmp.path().join("serve.log");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_otklik"))
        .args(["serve", "--config", cfg])
        .env("OTKLIK_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let server = Kill(child);
    let hup = || {
        let sent = std::process::Command::new("kill").args(["-HUP", &server.0.id().to_string()]).status().unwrap();
        assert!(sent.success());
    };
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder().cookie_store(true).build().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while client.get(format!("{base}/healthz")).send().await.map(|r| r.status()).ok() != Some(StatusCode::OK) {
        assert!(Instant::now() < deadline, "the server never became healthy");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let login = serde_json::json!({"login": "root", "password": "a long password"});
    assert_eq!(client.post(format!("{base}/api/v1/auth/login")).json(&login).send().await.unwrap().status(), 200);
    let gov_name = || async {
        let orgs: Value =
            client.get(format!("{base}/api/v1/organisations")).send().await.unwrap().json().await.unwrap();
        orgs.as_array().unwrap().iter().find(|o| o["code"] == "lipetsk-gov").unwrap()["name"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(gov_name().await, "Правительство Липецкой области");

    edit(&dir, "organisations.toml", "name = \"Правительство Липецкой области\"", "name = \"Правительство (HUP)\"");
    hup();
    let deadline = Instant::now() + Duration::from_secs(20);
    while gov_name().await != "Правительство (HUP)" {
        assert!(Instant::now() < deadline, "SIGHUP did not reload");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let text = edit(&dir, "territories.toml", "zone = \"Europe/Moscow\"", "zone = \"Europe/Atlantis\"");
    edit(&dir, "organisations.toml", "name = \"Правительство (HUP)\"", "name = \"Правительство (bad)\"");
    hup();
    let expected = format!(
        "{}:{}: unknown time zone",
        dir.join("territories.toml").display(),
        line_of(&text, "code = \"lipetsk-oblast\"")
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while !std::fs::read_to_string(&log).unwrap().contains(&expected) {
        assert!(Instant::now() < deadline, "no refusal logged: {}", std::fs::read_to_string(&log).unwrap());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(gov_name().await, "Правительство (HUP)", "the running configuration stays");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_calendar_and_reload_are_described_in_openapi() {
    let app = TestApp::start().await;
    let doc: Value = reqwest::get(format!("{}/api/v1/openapi.json", app.base)).await.unwrap().json().await.unwrap();
    let paths = doc["paths"].as_object().unwrap();
    for p in ["/api/v1/calendar", "/api/v1/calendar/{year}", "/api/v1/reference/reload"] {
        assert!(paths.contains_key(p), "{p} missing from OpenAPI");
    }
    for method in ["get", "put", "delete"] {
        assert!(paths["/api/v1/calendar/{year}"][method].is_object(), "{method}");
    }
    // Every schema these paths refer to is in the document.
    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    out.push(r.clone());
                }
                m.values().for_each(|x| refs(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    for p in ["/api/v1/calendar", "/api/v1/calendar/{year}", "/api/v1/reference/reload"] {
        refs(&paths[p], &mut found);
    }
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    assert!(!found.is_empty());
    for r in found {
        let name = r.trim_start_matches("#/components/schemas/");
        assert!(schemas.contains_key(name), "{r} does not resolve");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_edits_a_calendar_year_in_the_console() {
    let app = TestApp::start().await;
    let admin = app.token("admin").await;
    let id = app.ingest(&admin, "cal-console-1", Some("gryazinsky")).await;
    assert_eq!(first_answer_due(&app, &admin, id).await, "2026-03-02T15:00:00Z");
    let b = common::Browser::login(&app, "admin").await;
    let (s, page) = b.get("/admin").await;
    assert_eq!(s, 200);
    assert!(page.contains(r#"<a href="/admin/calendar/2026">2026</a>"#), "the admin page links each year");
    let (s, form) = b.get("/admin/calendar/2026").await;
    assert_eq!(s, 200);
    assert!(form.contains("Сейчас действует встроенный календарь") && form.contains("year = 2026"));
    let csrf = common::Browser::csrf(&form);
    // A broken text is refused with its line, and nothing is stored.
    let broken = EMBEDDED_2026.replace("    \"2026-03-09\", # from Sun", "    \"2026-03-32\", # from Sun");
    let (s, _, page) = b.form("/admin/calendar/2026", &[("_csrf", &csrf), ("text", &broken)]).await;
    assert_eq!(s, 422);
    let line = line_of(&broken, "2026-03-32");
    assert!(
        page.contains(&format!(
            "Календарь не сохранён: ошибка в тексте (строка {line}): «2026-03-32» в списке transferred_days_off — не дата вида ГГГГ-ММ-ДД"
        )),
        "{page}"
    );
    // A valid date on the wrong day of the week is worded in Russian too, with the weekday.
    let saturday = EMBEDDED_2026.replace("    \"2026-03-09\", # from Sun", "    \"2026-03-07\", # from Sun");
    let (s, _, page) = b.form("/admin/calendar/2026", &[("_csrf", &csrf), ("text", &saturday)]).await;
    assert_eq!(s, 422);
    let line = line_of(&saturday, "2026-03-07");
    assert!(page.contains(&format!("(строка {line}): 07.03.2026 в списке transferred_days_off — суббота")), "{page}");
    assert_eq!(origins(&app.get(&admin, "/api/v1/calendar").await.1)[1], (2026, "embedded".to_string()));
    // Without the session's token: refused.
    let (s, _, _) = b.form("/admin/calendar/2026", &[("_csrf", "forged"), ("text", &edited_2026())]).await;
    assert_eq!(s, 403);
    // Saved: stored, the deadlines are recomputed, and the built-in year can be restored.
    let (s, location, _) = b.form("/admin/calendar/2026", &[("_csrf", &csrf), ("text", &edited_2026())]).await;
    assert_eq!((s.as_u16(), location.as_str()), (303, "/admin?saved=calendar#calendar"));
    let r = recomputed(&app, &app.base, &admin, 1).await;
    assert_eq!(r["moved"], 1, "{r}");
    assert_eq!(first_answer_due(&app, &admin, id).await, "2026-03-03T06:00:00Z");
    let (_, form) = b.get("/admin/calendar/2026").await;
    assert!(form.contains("хранится в базе") && form.contains("Вернуть встроенный календарь"));
    let (s, _, _) = b.form("/admin/calendar/2026/restore", &[("_csrf", &csrf)]).await;
    assert_eq!(s, 303);
    assert_eq!(origins(&app.get(&admin, "/api/v1/calendar").await.1)[1], (2026, "embedded".to_string()));
    // Only administrators.
    let curator = common::Browser::login(&app, "curator-lipetsk").await;
    assert_eq!(curator.get("/admin/calendar/2026").await.0, 403);
}
