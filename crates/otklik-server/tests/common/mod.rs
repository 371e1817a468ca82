//! Test harness: a real server on a loopback port over a fresh embedded database, with users of
//! every role and a manual clock.

#![allow(dead_code)]

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use otklik_core::Store;
use otklik_core::model::{Grant, NewUser, Role};
use otklik_core::workflow::{ManualClock, Workflow};
use otklik_server::app::{AppState, Settings};
use otklik_server::{auth, refdata, setup};
use reqwest::multipart::Form;
use reqwest::{Client, Method, StatusCode, redirect};
use serde_json::{Value, json};

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub clock: Arc<ManualClock>,
    pub workflow: Arc<Workflow>,
    pub store: Arc<dyn Store>,
    pub channels: Arc<otklik_server::channels::Channels>,
    _dir: tempfile::TempDir,
}

/// Test accounts: login, grants.
pub const USERS: &[(&str, Role, Option<&str>)] = &[
    ("admin", Role::Admin, None),
    ("curator-lipetsk", Role::RegionalCurator, Some("lipetsk-oblast")),
    ("operator-gryazi", Role::MunicipalOperator, Some("gryazinsky")),
    ("operator-yelets", Role::MunicipalOperator, Some("yelets-city")),
    ("head-gryazi", Role::OrgHead, Some("adm-gryazinsky")),
    ("executor-gryazi", Role::OrgExecutor, Some("adm-gryazinsky")),
    ("executor-yelets", Role::OrgExecutor, Some("adm-yelets-city")),
    ("curator-spb", Role::RegionalCurator, Some("spb")),
    ("viewer-lipetsk", Role::Viewer, Some("lipetsk-oblast")),
];

pub const PASSWORD: &str = "correct horse battery";

impl TestApp {
    pub async fn start() -> TestApp {
        Self::start_with_limit(64 * 1024).await
    }

    /// With the built-in text analysis classifying intake.
    pub async fn start_with_analysis() -> TestApp {
        Self::build(64 * 1024, true).await
    }

    pub async fn start_with_limit(body_limit: usize) -> TestApp {
        Self::build(body_limit, false).await
    }

    /// With these channel sources configured (usually fake platforms).
    pub async fn start_with_channels(configs: &[otklik_channels::SourceConfig]) -> TestApp {
        let channels = otklik_server::channels::Channels::build(configs).unwrap();
        Self::build_with(64 * 1024, false, Arc::new(channels)).await
    }

    async fn build(body_limit: usize, analysis: bool) -> TestApp {
        Self::build_with(body_limit, analysis, Default::default()).await
    }

    async fn build_with(
        body_limit: usize,
        analysis: bool,
        channels: Arc<otklik_server::channels::Channels>,
    ) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let reference = refdata::builtin().unwrap();
        let store = setup::open_store(&url, &reference).await.unwrap();
        let clock = Arc::new(ManualClock::new(Utc.with_ymd_and_hms(2026, 3, 2, 6, 0, 0).unwrap()));
        let classifier: Option<Arc<dyn otklik_core::workflow::Classifier>> =
            if analysis { Some(otklik_server::nlp::analyzer(None, &reference).unwrap()) } else { None };
        let workflow = setup::workflow(store.clone(), clock.clone(), classifier).await.unwrap();
        let hash = auth::hash_password(PASSWORD).unwrap();
        for (login, role, node) in USERS {
            store
                .create_user(
                    &NewUser {
                        login: (*login).into(),
                        display_name: format!("User {login}"),
                        password_hash: Some(hash.clone()),
                        grants: vec![Grant { role: *role, node: node.map(Into::into) }],
                    },
                    clock.now_for_tests(),
                )
                .await
                .unwrap();
        }
        let state = AppState::new(
            workflow.clone(),
            Settings { secure_cookies: false, session_hours: 12, body_limit, demo: false, ..Default::default() },
            None,
        )
        .with_channels(channels.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(otklik_server::app::serve(listener, state));
        TestApp {
            base: format!("http://{addr}"),
            client: reqwest::Client::new(),
            clock,
            workflow,
            store: store as Arc<dyn Store>,
            channels,
            _dir: dir,
        }
    }

    /// Issues an API token for a test user.
    pub async fn token(&self, login: &str) -> String {
        let (u, _) = self.store.user_by_login(login).await.unwrap().unwrap();
        let secret = format!("otk_{}", auth::random_token());
        self.store.create_token(u.id, "test", &auth::token_hash(&secret), Utc::now(), None).await.unwrap();
        secret
    }

    /// Sends a request with a bearer token; returns status and JSON (Null when empty).
    pub async fn call(&self, token: &str, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut req = self.client.request(method, format!("{}{path}", self.base)).bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        let text = res.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn get(&self, token: &str, path: &str) -> (StatusCode, Value) {
        self.call(token, Method::GET, path, None).await
    }

    pub async fn post(&self, token: &str, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(token, Method::POST, path, Some(body)).await
    }

    pub async fn act(&self, token: &str, id: i64, body: Value) -> (StatusCode, Value) {
        self.post(token, &format!("/api/v1/incidents/{id}/actions"), body).await
    }

    /// Submits a message as the admin's integration and returns the incident id.
    pub async fn ingest(&self, admin: &str, ext: &str, territory: Option<&str>) -> i64 {
        let (s, v) = self.post(admin, "/api/v1/messages", message(ext, territory)).await;
        assert!(s.is_success(), "{s} {v}");
        v["incident_id"].as_i64().unwrap()
    }
}

pub fn message(ext: &str, territory: Option<&str>) -> Value {
    let mut m = json!({
        "channel": "vk",
        "source": "club-test",
        "external_id": ext,
        "thread_id": "wall-1_100",
        "author": {"id": "vk:1001", "name": "Мария"},
        "text": "На улице Правды в Грязях огромная яма, машины бьют колёса",
        "attachments": [{"kind": "photo", "url": "https://example.org/yama.jpg"}],
        "published_at": "2026-03-02T05:55:00Z"
    });
    if let Some(t) = territory {
        m["territory"] = json!(t);
    }
    m
}

pub trait NowForTests {
    fn now_for_tests(&self) -> chrono::DateTime<Utc>;
}

impl NowForTests for ManualClock {
    fn now_for_tests(&self) -> chrono::DateTime<Utc> {
        use otklik_core::workflow::Clock;
        self.now()
    }
}

/// A person in the console: a cookie jar that does not follow redirects.
pub struct Browser {
    pub client: Client,
    pub base: String,
}

impl Browser {
    pub fn new(app: &TestApp) -> Browser {
        let client = Client::builder().cookie_store(true).redirect(redirect::Policy::none()).build().unwrap();
        Browser { client, base: app.base.clone() }
    }

    pub async fn login(app: &TestApp, login: &str) -> Browser {
        let b = Browser::new(app);
        let res = b
            .client
            .post(format!("{}/login", b.base))
            .form(&[("login", login), ("password", PASSWORD), ("next", "/queue")])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{login} logs in");
        assert_eq!(res.headers()["location"], "/queue");
        b
    }

    pub async fn get(&self, path: &str) -> (StatusCode, String) {
        let res = self.client.get(format!("{}{path}", self.base)).send().await.unwrap();
        (res.status(), res.text().await.unwrap())
    }

    /// The CSRF token the page carries for its forms.
    pub fn csrf(page: &str) -> String {
        let at = page.find("data-csrf=\"").expect("the layout carries the token") + 11;
        page[at..].split('"').next().unwrap().to_string()
    }

    pub async fn act(&self, id: i64, csrf: &str, fields: &[(&str, &str)]) -> (StatusCode, String) {
        let mut form = Form::new().text("_csrf", csrf.to_string());
        for (k, v) in fields {
            form = form.text(k.to_string(), v.to_string());
        }
        let res = self.client.post(format!("{}/incidents/{id}/act", self.base)).multipart(form).send().await.unwrap();
        let status = res.status();
        (status, res.text().await.unwrap())
    }

    /// Posts an ordinary (urlencoded) form; returns the status, the `Location` and the body.
    pub async fn form(&self, path: &str, fields: &[(&str, &str)]) -> (StatusCode, String, String) {
        let res = self.client.post(format!("{}{path}", self.base)).form(fields).send().await.unwrap();
        let status = res.status();
        let location = res.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        (status, location, res.text().await.unwrap())
    }
}
