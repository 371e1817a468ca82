//! Open311 GeoReport v2 over real HTTP: discovery, services, creating and reading requests in JSON
//! and XML, status mapping through the workflow, the update feed, privacy and jurisdiction.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use otklik_core::Store;
use otklik_core::access::{Actor, ScopeFilter};
use otklik_core::model::{AnswerKind, Attachment, Author, Channel, NewMessage};
use otklik_core::store::IncidentQuery;
use otklik_core::workflow::{Command, IntakeHints, ManualClock, Workflow};
use otklik_server::app::{AppState, Open311Settings, Settings};
use otklik_server::{refdata, setup};
use quick_xml::events::Event;
use reqwest::StatusCode;
use serde_json::Value;

const KEY: &str = "test-open311-key";

/// A server with the built-in reference data, an Open311 key and, optionally, a jurisdiction.
struct App {
    base: String,
    client: reqwest::Client,
    clock: Arc<ManualClock>,
    workflow: Arc<Workflow>,
    store: Arc<dyn Store>,
    _dir: tempfile::TempDir,
}

/// A response: status, content type and body.
struct Reply {
    status: StatusCode,
    content_type: String,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        assert_eq!(self.content_type, "application/json; charset=utf-8", "{}", self.body);
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    fn xml(&self) -> Node {
        assert_eq!(self.content_type, "text/xml; charset=utf-8", "{}", self.body);
        parse_xml(&self.body)
    }
}

impl App {
    async fn start(jurisdiction: Option<&str>) -> App {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let reference = refdata::builtin().unwrap();
        let store = setup::open_store(&url, &reference).await.unwrap();
        let clock = Arc::new(ManualClock::new(Utc.with_ymd_and_hms(2026, 3, 2, 6, 0, 0).unwrap()));
        let workflow = setup::workflow(store.clone(), clock.clone(), None).await.unwrap();
        let settings = Settings {
            body_limit: 64 * 1024,
            session_hours: 12,
            open311: Open311Settings {
                api_keys: vec![KEY.to_string()],
                jurisdiction_id: jurisdiction.map(str::to_string),
            },
            ..Default::default()
        };
        let state = AppState::new(workflow.clone(), settings, None);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(otklik_server::app::serve(listener, state));
        App {
            base: format!("http://{addr}"),
            client: reqwest::Client::new(),
            clock,
            workflow,
            store: store as Arc<dyn Store>,
            _dir: dir,
        }
    }

    async fn reply(res: reqwest::Response) -> Reply {
        let status = res.status();
        let content_type =
            res.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
        Reply { status, content_type, body: res.text().await.unwrap() }
    }

    async fn get(&self, path: &str) -> Reply {
        Self::reply(self.client.get(format!("{}/open311/v2/{path}", self.base)).send().await.unwrap()).await
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> Reply {
        Self::reply(self.client.post(format!("{}/open311/v2/{path}", self.base)).form(form).send().await.unwrap()).await
    }

    /// Creates a request with a key and returns its id.
    async fn create(&self, form: &[(&str, &str)]) -> String {
        let mut f = vec![("api_key", KEY)];
        f.extend_from_slice(form);
        let r = self.post("requests.json", &f).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let v = r.json();
        v[0]["service_request_id"].as_str().expect("the id is a string").to_string()
    }

    async fn incident_count(&self) -> u64 {
        let all = ScopeFilter { all: true, ..Default::default() };
        self.store.count_incidents(&IncidentQuery::default(), &all).await.unwrap()
    }

    async fn run(&self, id: &str, cmd: Command) {
        self.clock.advance(chrono::Duration::minutes(10));
        self.workflow.execute(&Actor::system(), id.parse().unwrap(), None, cmd).await.unwrap();
    }
}

/// An element of a parsed XML document.
#[derive(Debug, Default)]
struct Node {
    name: String,
    text: String,
    children: Vec<Node>,
}

impl Node {
    fn all(&self, name: &str) -> Vec<&Node> {
        self.children.iter().filter(|c| c.name == name).collect()
    }

    fn child(&self, name: &str) -> &Node {
        let found = self.all(name);
        assert_eq!(found.len(), 1, "exactly one <{name}> in <{}>: {self:?}", self.name);
        found[0]
    }

    fn text_of(&self, name: &str) -> &str {
        &self.child(name).text
    }
}

/// Parses a whole document with a real XML parser; panics unless it is well-formed with one root.
fn parse_xml(s: &str) -> Node {
    assert!(s.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>"), "XML declaration: {s}");
    let mut reader = quick_xml::Reader::from_str(s);
    let mut stack = vec![Node::default()];
    loop {
        match reader.read_event().unwrap_or_else(|e| panic!("ill-formed XML ({e}): {s}")) {
            Event::Start(e) => stack.push(Node { name: e.name().as_ref().to_string(), ..Default::default() }),
            Event::Empty(e) => {
                let node = Node { name: e.name().as_ref().to_string(), ..Default::default() };
                stack.last_mut().unwrap().children.push(node);
            }
            Event::End(_) => {
                let node = stack.pop().unwrap();
                stack.last_mut().expect("balanced elements").children.push(node);
            }
            Event::Text(t) => {
                let text = t.xml10_content();
                if stack.len() == 1 {
                    assert!(text.trim().is_empty(), "text outside the root: {text:?}");
                } else {
                    stack.last_mut().unwrap().text.push_str(&text);
                }
            }
            Event::GeneralRef(r) => {
                let c = match &*r {
                    "amp" => '&',
                    "lt" => '<',
                    "gt" => '>',
                    "quot" => '"',
                    "apos" => '\'',
                    other => r.resolve_char_ref().unwrap().unwrap_or_else(|| panic!("unknown entity &{other};")),
                };
                stack.last_mut().unwrap().text.push(c);
            }
            Event::CData(_) | Event::DocType(_) => panic!("unexpected CDATA or DOCTYPE"),
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
            Event::Eof => break,
        }
    }
    let mut doc = stack.pop().unwrap();
    assert!(stack.is_empty(), "unclosed elements in {s}");
    assert_eq!(doc.children.len(), 1, "one root element");
    doc.children.pop().unwrap()
}

fn assert_w3c(s: &Value) {
    let s = s.as_str().unwrap_or_else(|| panic!("a date string, got {s}"));
    assert!(chrono::DateTime::parse_from_rfc3339(s).is_ok(), "W3C date-time: {s}");
    assert!(s.ends_with('Z') || s.ends_with("+03:00") || s.ends_with("+00:00"), "a zone: {s}");
}

fn assert_error(r: &Reply, status: u16, json: bool) -> String {
    assert_eq!(r.status.as_u16(), status, "{}", r.body);
    if json {
        let v = r.json();
        let errors = v.as_array().expect("errors are a list");
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0]["code"], status);
        errors[0]["description"].as_str().unwrap().to_string()
    } else {
        let x = r.xml();
        assert_eq!(x.name, "errors");
        let e = x.child("error");
        assert_eq!(e.text_of("code"), status.to_string());
        e.text_of("description").to_string()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_and_services_in_both_formats() {
    let app = App::start(None).await;

    let d = app.get("discovery.json").await.json();
    assert!(d["changeset"].is_string() && d["contact"].is_string() && d["key_service"].is_string());
    let e = &d["endpoints"][0];
    assert_eq!(e["specification"], "http://wiki.open311.org/GeoReport_v2");
    assert_eq!(e["type"], "production");
    assert_eq!(e["formats"], serde_json::json!(["text/xml", "application/json"]));
    assert!(e["url"].as_str().unwrap().ends_with("/open311/v2"), "{e}");
    let x = app.get("discovery.xml").await.xml();
    assert_eq!(x.name, "discovery");
    let endpoint = x.child("endpoints").child("endpoint");
    assert_eq!(endpoint.text_of("specification"), "http://wiki.open311.org/GeoReport_v2");
    let formats: Vec<&str> = endpoint.child("formats").all("format").iter().map(|f| f.text.as_str()).collect();
    assert_eq!(formats, vec!["text/xml", "application/json"]);

    let services = app.get("services.json").await.json();
    let list = services.as_array().unwrap();
    assert!(list.len() > 40, "every group of the taxonomy is a service");
    let potholes = list.iter().find(|s| s["service_code"] == "roads.surface").expect("roads.surface");
    assert_eq!(potholes["service_name"], "Дорожное покрытие");
    assert_eq!(potholes["group"], "Дороги");
    assert_eq!(potholes["metadata"], true);
    assert_eq!(potholes["type"], "realtime");
    assert!(potholes["keywords"].as_str().unwrap().contains("Ямы и выбоины на дорогах"));
    assert!(list.iter().all(|s| s["service_code"].as_str().unwrap().split('.').count() == 2));

    let x = app.get("services.xml").await.xml();
    assert_eq!(x.name, "services");
    let all = x.all("service");
    assert_eq!(all.len(), list.len());
    let s = all.iter().find(|s| s.text_of("service_code") == "roads.surface").unwrap();
    assert_eq!(s.text_of("metadata"), "true");
    assert_eq!(s.text_of("group"), "Дороги");

    let def = app.get("services/roads.surface.json").await.json();
    assert_eq!(def["service_code"], "roads.surface");
    let attr = &def["attributes"][0];
    assert_eq!((attr["code"].as_str(), attr["datatype"].as_str()), (Some("subtopic"), Some("singlevaluelist")));
    assert_eq!(
        (attr["variable"].as_bool(), attr["required"].as_bool(), attr["order"].as_i64()),
        (Some(true), Some(false), Some(1))
    );
    assert!(attr["values"].as_array().unwrap().iter().any(|v| v["key"] == "roads.surface.potholes"));
    let x = app.get("services/roads.surface.xml").await.xml();
    assert_eq!(x.name, "service_definition");
    let values = x.child("attributes").child("attribute").child("values").all("value");
    assert!(values.iter().any(|v| v.text_of("key") == "roads.surface.potholes"));

    for (path, json) in [("services/roads.json", true), ("services/nope.nope.xml", false)] {
        let r = app.get(path).await;
        let d = assert_error(&r, 404, json);
        assert!(d.contains("not found"), "{d}");
    }
    assert_error(&app.get("services.html").await, 400, false);
    assert_error(&app.get("services").await, 400, false);
    assert_error(&app.get("unknown.json").await, 404, true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_posts_are_refused_and_store_nothing() {
    let app = App::start(None).await;
    let ok: Vec<(&str, &str)> = vec![("service_code", "roads.surface"), ("lat", "52.6"), ("long", "39.57")];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut f = ok.clone();
        f.extend_from_slice(extra);
        f
    };

    let d = assert_error(&app.post("requests.json", &ok).await, 403, true);
    assert!(d.contains("api_key"), "{d}");
    assert_error(&app.post("requests.xml", &with(&[("api_key", "wrong")])).await, 403, false);
    assert_error(&app.post("requests.json", &with(&[("api_key", "")])).await, 403, true);

    let keyed = |f: &[(&'static str, &'static str)]| {
        let mut v = vec![("api_key", KEY)];
        v.extend_from_slice(f);
        v
    };
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (keyed(&[("lat", "52.6"), ("long", "39.57")]), "service_code was not provided"),
        (keyed(&[("service_code", "roads.nothing"), ("lat", "52.6"), ("long", "39.57")]), "not found"),
        (keyed(&[("service_code", "roads"), ("lat", "52.6"), ("long", "39.57")]), "not found"),
        (keyed(&[("service_code", "roads.surface")]), "location is required"),
        (keyed(&[("service_code", "roads.surface"), ("lat", "52.6")]), "together"),
        (keyed(&[("service_code", "roads.surface"), ("lat", "abc"), ("long", "39")]), "lat must be a number"),
        (keyed(&[("service_code", "roads.surface"), ("lat", "91"), ("long", "39")]), "lat must be a number"),
        (keyed(&[("service_code", "roads.surface"), ("lat", "52"), ("long", "NaN")]), "long must be a number"),
        (
            keyed(&[("service_code", "roads.surface"), ("address_string", "Елец"), ("media_url", "javascript:x")]),
            "media_url",
        ),
        (keyed(&[("service_code", "roads.surface"), ("address_string", "Елец"), ("email", "not-an-address")]), "email"),
        (keyed(&[("service_code", "roads.surface"), ("address_string", "Елец\u{0}")]), "control characters"),
        (
            keyed(&[("service_code", "roads.surface"), ("address_string", "Елец"), ("attribute[subtopic]", "waste.x")]),
            "not a sub-topic",
        ),
    ];
    for (form, expected) in cases {
        let d = assert_error(&app.post("requests.json", &form).await, 400, true);
        assert!(d.contains(expected), "{form:?}: {d}");
    }
    let long = "я".repeat(4001);
    let form = keyed(&[("service_code", "roads.surface"), ("address_string", "Елец")]);
    let mut form: Vec<(&str, &str)> = form;
    form.push(("description", &long));
    let d = assert_error(&app.post("requests.xml", &form).await, 400, false);
    assert!(d.contains("description is longer than 4000"), "{d}");
    // Not a form at all.
    let r = App::reply(
        app.client
            .post(format!("{}/open311/v2/requests.json", app.base))
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(&r, 400, true);
    assert_eq!(app.incident_count().await, 0, "nothing was stored");
    // Refused requests are kept for inspection, without their key.
    let rejects = app.store.rejects(None, 500).await.unwrap();
    assert!(!rejects.is_empty());
    assert!(rejects.iter().all(|r| r.reject.channel == otklik_core::model::Channel::Open311));
    assert!(rejects.iter().all(|r| r.reject.reason.starts_with("malformed_payload: ")));
    assert!(rejects.iter().all(|r| !r.reject.body.contains("api_key")), "the key is never kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_is_created_and_read_back_without_personal_data() {
    let app = App::start(None).await;
    let personal = [
        ("email", "ivan.petrov@example.org"),
        ("phone", "+79001234567"),
        ("first_name", "Иван"),
        ("last_name", "Петровский"),
        ("account_id", "acc-4242"),
        ("device_id", "device-777"),
    ];
    let mut form = vec![
        ("api_key", KEY),
        ("service_code", "roads.surface"),
        ("attribute[subtopic]", "roads.surface.potholes"),
        ("lat", "52.6031"),
        ("long", "39.5708"),
        ("address_string", "Липецк, ул. Ленина, 10"),
        ("description", "Глубокая яма у остановки"),
        ("media_url", "https://example.org/yama.jpg"),
    ];
    form.extend_from_slice(&personal);
    let r = app.post("requests.json", &form).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let created = r.json();
    let id = created[0]["service_request_id"].as_str().expect("a string id").to_string();
    assert!(created[0]["service_notice"].as_str().unwrap().contains(&format!("№ {id}")));
    assert_eq!(created[0]["account_id"], "acc-4242", "the submitter's own account id comes back to them");

    // The message went through intake with everything but the key.
    let detail = app.store.incident_detail(id.parse().unwrap()).await.unwrap().unwrap();
    assert_eq!(detail.incident.channel, Channel::Open311);
    assert_eq!(detail.incident.category.as_deref(), Some("roads.surface.potholes"));
    let m = &detail.messages[0];
    assert_eq!(m.body.source, "open311");
    assert!(m.body.text.contains("Глубокая яма у остановки") && m.body.text.contains("ул. Ленина, 10"));
    assert_eq!(m.body.author.id, "account:acc-4242");
    assert_eq!(m.body.author.name.as_deref(), Some("Иван Петровский"));
    assert_eq!(m.body.attachments[0].url, "https://example.org/yama.jpg");
    assert_eq!(m.body.attachments[0].kind, "photo");
    assert_eq!(m.body.raw["email"], "ivan.petrov@example.org");
    assert!(m.body.raw.get("api_key").is_none(), "the key is not stored");

    // A second request from the same client is a new one.
    let other = app.create(&[("service_code", "waste.collection"), ("address_string", "Елец")]).await;
    assert_ne!(other, id);

    let one = app.get(&format!("requests/{id}.json")).await.json();
    let req = &one.as_array().unwrap()[0];
    assert_eq!(one.as_array().unwrap().len(), 1);
    assert_eq!(req["service_request_id"], Value::String(id.clone()));
    assert_eq!(req["status"], "open");
    assert_eq!(req["status_notes"], "Обращение зарегистрировано");
    assert_eq!(req["service_code"], "roads.surface");
    assert_eq!(req["service_name"], "Дорожное покрытие");
    assert_eq!(req["description"], "Глубокая яма у остановки");
    assert_eq!(req["address"], "Липецк, ул. Ленина, 10");
    assert_eq!(req["lat"].as_f64(), Some(52.6031), "lat is a number");
    assert_eq!(req["long"].as_f64(), Some(39.5708), "long is a number");
    assert_eq!(req["media_url"], "https://example.org/yama.jpg");
    assert_eq!(req["agency_responsible"], Value::Null);
    assert_w3c(&req["requested_datetime"]);
    assert_w3c(&req["updated_datetime"]);
    assert_w3c(&req["expected_datetime"]);
    assert_eq!(req["requested_datetime"], "2026-03-02T06:00:00Z", "no territory yet: UTC");

    let list = app.get("requests.json").await.json();
    let ids: Vec<&str> = list.as_array().unwrap().iter().map(|r| r["service_request_id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec![other.as_str(), id.as_str()], "newest first");
    let by_ids = app.get(&format!("requests.json?service_request_id={id},{other},999999")).await.json();
    assert_eq!(by_ids.as_array().unwrap().len(), 2);
    let by_code = app.get("requests.json?service_code=waste.collection").await.json();
    assert_eq!(by_code.as_array().unwrap().len(), 1);
    assert_eq!(by_code[0]["service_request_id"], Value::String(other.clone()));
    let earlier = app.get("requests.json?start_date=2026-01-01T00:00:00Z&end_date=2026-03-01T00:00:00Z").await.json();
    assert_eq!(earlier, serde_json::json!([]));
    let around =
        app.get("requests.json?start_date=2026-03-02T08:00:00%2B03:00&end_date=2026-03-02T10:00:00%2B03:00").await;
    assert_eq!(around.json().as_array().unwrap().len(), 2, "offsets are honoured");

    let x = app.get(&format!("requests/{id}.xml")).await.xml();
    assert_eq!(x.name, "service_requests");
    let r = x.child("request");
    assert_eq!(r.text_of("service_request_id"), id);
    assert_eq!(r.text_of("lat"), "52.6031");
    assert_eq!(r.text_of("agency_responsible"), "");

    // No public answer carries author data.
    for path in ["requests.json", "requests.xml", &format!("requests/{id}.json"), &format!("requests/{id}.xml")] {
        let body = app.get(path).await.body;
        for (field, value) in personal {
            assert!(!body.contains(value), "{path} shows {field}");
        }
    }

    for (path, expected) in [
        ("requests.json?start_date=yesterday", "start_date is not a W3C date-time"),
        ("requests.json?start_date=2025-01-01T00:00:00Z&end_date=2026-01-01T00:00:00Z", "90 days"),
        ("requests.json?start_date=2026-03-02T00:00:00Z&end_date=2026-03-01T00:00:00Z", "after end_date"),
        ("requests.json?status=pending", "neither open nor closed"),
        ("requests.json?service_request_id=abc", "not an id"),
        ("requests.json?service_code=nothing.here", "not found"),
    ] {
        let d = assert_error(&app.get(path).await, 400, true);
        assert!(d.contains(expected), "{path}: {d}");
    }
    assert_error(&app.get("requests/999999.json").await, 404, true);
    assert_error(&app.get("requests/abc.xml").await, 404, false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_text_is_escaped_in_xml() {
    let app = App::start(None).await;
    let hostile = "<script>alert('x')</script> & \"кавычки\" ]]> &amp;";
    let r = app
        .post(
            "requests.xml",
            &[
                ("api_key", KEY),
                ("service_code", "roads.surface"),
                ("address_string", "<b>Елец</b> & Co"),
                ("description", hostile),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let created = r.xml();
    let id = created.child("request").text_of("service_request_id").to_string();
    assert!(created.child("request").all("account_id").len() == 1, "account_id is present, empty");

    for path in [format!("requests/{id}.xml"), "requests.xml".to_string()] {
        let r = app.get(&path).await;
        assert!(!r.body.contains("<script>") && !r.body.contains("<b>"), "{}", r.body);
        let x = r.xml();
        let req = x.child("request");
        assert_eq!(req.text_of("description"), hostile, "the text survives escaping unchanged");
        assert_eq!(req.text_of("address"), "<b>Елец</b> & Co");
    }
    let j = app.get(&format!("requests/{id}.json")).await.json();
    assert_eq!(j[0]["description"], hostile);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statuses_follow_the_workflow_and_updates_list_the_changes() {
    let app = App::start(None).await;
    let id = app
        .create(&[
            ("service_code", "roads.surface"),
            ("address_string", "Грязи, ул. Правды"),
            ("description", "Яма на дороге"),
        ])
        .await;

    app.run(
        &id,
        Command::Moderate {
            kind: Some(otklik_core::model::Kind::Complaint),
            category: None,
            territory: Some("gryazinsky-gryazi".into()),
            urgent: None,
            note: None,
        },
    )
    .await;
    let v = app.get(&format!("requests/{id}.json")).await.json();
    assert_eq!(v[0]["status"], "open");
    assert!(v[0]["requested_datetime"].as_str().unwrap().ends_with("+03:00"), "the territory's zone: {v}");
    assert_eq!(v[0]["requested_datetime"], "2026-03-02T09:00:00+03:00");

    app.run(&id, Command::Assign { org: Some("adm-gryazinsky".into()), note: None }).await;
    let v = app.get(&format!("requests/{id}.json")).await.json();
    assert_eq!(v[0]["status"], "open");
    assert_eq!(v[0]["status_notes"], "Обращение передано ответственной организации");
    let agency = v[0]["agency_responsible"].as_str().unwrap();
    assert!(!agency.is_empty() && agency != "adm-gryazinsky", "the organisation's name: {agency}");

    app.run(&id, Command::Take { note: None }).await;
    app.run(
        &id,
        Command::DraftAnswer {
            kind: AnswerKind::Final,
            text: "Яма заделана 5 марта.".into(),
            attachments: vec![Attachment {
                kind: "photo".into(),
                url: "https://example.org/done.jpg".into(),
                name: None,
            }],
        },
    )
    .await;
    app.run(&id, Command::SubmitForReview { note: None }).await;
    let v = app.get(&format!("requests/{id}.json")).await.json();
    assert_eq!(
        (v[0]["status"].as_str(), v[0]["status_notes"].as_str()),
        (Some("open"), Some("Подготовлен ответ, он проходит проверку"))
    );
    app.run(&id, Command::Approve { note: None }).await;
    app.run(&id, Command::Publish { note: None }).await;

    let v = app.get(&format!("requests/{id}.json")).await.json();
    assert_eq!(v[0]["status"], "closed", "a published final answer closes the request");
    assert_eq!(v[0]["status_notes"], "Ответ опубликован\n\nЯма заделана 5 марта.");
    assert_eq!(v[0]["updated_datetime"], "2026-03-02T10:10:00+03:00", "the last status change");
    assert_eq!(v[0]["service_notice"], Value::Null);
    assert_eq!(app.get("requests.json?status=open").await.json(), serde_json::json!([]));
    assert_eq!(app.get("requests.json?status=closed").await.json().as_array().unwrap().len(), 1);
    assert_eq!(app.get("requests.json?status=open,closed").await.json().as_array().unwrap().len(), 1);

    app.run(&id, Command::Close { note: Some("внутренняя заметка".into()) }).await;
    let x = app.get(&format!("requests/{id}.xml")).await.xml();
    let r = x.child("request");
    assert_eq!(r.text_of("status"), "closed");
    assert!(r.text_of("status_notes").starts_with("Обращение закрыто\n\nЯма заделана"), "{r:?}");

    let updates = app.get("servicerequestupdates.json").await.json();
    let list = updates.as_array().unwrap();
    let statuses: Vec<&str> = list.iter().map(|u| u["status"].as_str().unwrap()).collect();
    // moderate, assign, take, submit, approve, publish, close (drafting changes no status).
    assert_eq!(statuses, vec!["open", "open", "open", "open", "open", "closed", "closed"]);
    for u in list {
        assert_eq!(u["service_request_id"], Value::String(id.clone()));
        assert!(u["update_id"].is_string());
        assert_w3c(&u["updated_datetime"]);
    }
    let published = &list[5];
    assert_eq!(published["description"], "Ответ опубликован\n\nЯма заделана 5 марта.");
    assert_eq!(published["media_url"], "https://example.org/done.jpg");
    assert_eq!(list[1]["description"], "Обращение передано ответственной организации");
    assert!(!updates.to_string().contains("внутренняя заметка"), "operators' notes stay internal");
    let ids: std::collections::HashSet<&str> = list.iter().map(|u| u["update_id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), list.len(), "update ids are unique");

    let x = app.get("servicerequestupdates.xml?start_date=2026-03-02T09:35:00%2B03:00").await.xml();
    assert_eq!(x.name, "service_request_updates");
    let late: Vec<&str> = x.all("request_update").iter().map(|u| u.text_of("status")).collect();
    assert_eq!(late, vec!["open", "open", "closed", "closed"], "submit, approve, publish and close are after 09:35");
    let none = app
        .get(&format!("servicerequestupdates.json?service_request_id={id}&end_date=2026-03-02T09:05:00%2B03:00"))
        .await;
    assert_eq!(none.json(), serde_json::json!([]));

    // Reopening makes it open again, and that is an update too.
    app.run(&id, Command::Reopen { reason: "яма снова появилась".into() }).await;
    let v = app.get(&format!("requests/{id}.json")).await.json();
    assert_eq!(v[0]["status"], "open");
    let updates = app.get("servicerequestupdates.json").await.json();
    assert_eq!(updates.as_array().unwrap().last().unwrap()["status"], "open");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_requests_hide_their_text() {
    let app = App::start(None).await;
    let id = app
        .create(&[("service_code", "roads.surface"), ("address_string", "Елец"), ("description", "купите наши окна")])
        .await;
    app.run(
        &id,
        Command::Reject {
            reason: otklik_core::model::RejectReason::Spam, comment: Some("реклама окон".into())
        },
    )
    .await;
    let v = app.get(&format!("requests/{id}.json")).await.json();
    assert_eq!(v[0]["status"], "closed");
    assert_eq!(v[0]["status_notes"], "Обращение отклонено: спам или реклама");
    assert_eq!(v[0]["description"], Value::Null);
    let u = app.get("servicerequestupdates.json").await.json();
    assert_eq!(u[0]["description"], "Обращение отклонено: спам или реклама");
    assert!(!u.to_string().contains("реклама окон"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn social_network_incidents_are_not_public() {
    let app = App::start(None).await;
    let public = app.create(&[("service_code", "roads.surface"), ("address_string", "Елец")]).await;
    let vk = app
        .workflow
        .ingest(
            &NewMessage {
                channel: Channel::Vk,
                source: "club-test".into(),
                external_id: "wall-1_1".into(),
                thread_id: None,
                parent_id: None,
                author: Author { id: "vk:1001".into(), name: Some("Мария Секретная".into()) },
                text: "В Ельце на Коммунаров яма, пишу из ВК".into(),
                attachments: vec![],
                published_at: Utc::now(),
                url: None,
                raw: serde_json::json!({"lat": 52.6, "long": 38.5}),
            },
            &IntakeHints { territory: None, category: Some("roads.surface.potholes".into()) },
        )
        .await
        .unwrap()
        .incident_id;
    app.run(&vk.to_string(), Command::Assign { org: Some("adm-gryazinsky".into()), note: None }).await;

    assert_error(&app.get(&format!("requests/{vk}.json")).await, 404, true);
    assert_error(&app.get(&format!("requests/{vk}.xml")).await, 404, false);
    for path in ["requests.json", "requests.xml", "servicerequestupdates.json"] {
        let body = app.get(path).await.body;
        assert!(!body.contains("Коммунаров") && !body.contains("Мария"), "{path}: {body}");
    }
    let list = app.get("requests.json").await.json();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["service_request_id"], Value::String(public));
    let by_id = app.get(&format!("requests.json?service_request_id={vk}")).await.json();
    assert_eq!(by_id, serde_json::json!([]));
    assert_eq!(app.get("servicerequestupdates.json").await.json(), serde_json::json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_jurisdiction_is_not_found() {
    let app = App::start(Some("lipetsk-oblast")).await;
    let form = [
        ("api_key", KEY),
        ("jurisdiction_id", "moscow"),
        ("service_code", "roads.surface"),
        ("address_string", "Елец"),
    ];
    let d = assert_error(&app.post("requests.json", &form).await, 404, true);
    assert!(d.contains("jurisdiction_id"), "{d}");
    assert_error(&app.post("requests.xml", &form).await, 404, false);
    assert_eq!(app.incident_count().await, 0);
    assert_error(&app.get("services.json?jurisdiction_id=moscow").await, 404, true);
    assert_error(&app.get("requests.xml?jurisdiction_id=moscow").await, 404, false);
    assert_error(&app.get("services/roads.surface.json?jurisdiction_id=moscow").await, 404, true);

    // Ours, or none (one jurisdiction per server), is fine.
    assert_eq!(app.get("services.json?jurisdiction_id=lipetsk-oblast").await.status, 200);
    let id = app
        .create(&[("jurisdiction_id", "lipetsk-oblast"), ("service_code", "roads.surface"), ("address_string", "Елец")])
        .await;
    let v = app.get(&format!("requests/{id}.json?jurisdiction_id=lipetsk-oblast")).await.json();
    assert_eq!(v[0]["service_request_id"], Value::String(id));
    assert!(!app.create(&[("service_code", "waste.collection"), ("lat", "52.6"), ("long", "39.6")]).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_form_messages_are_public_without_the_contact() {
    let app = App::start(None).await;
    let id = app
        .workflow
        .ingest(
            &NewMessage {
                channel: Channel::Web,
                source: "form".into(),
                external_id: "tok-1".into(),
                thread_id: None,
                parent_id: None,
                author: Author { id: "web:tok-1".into(), name: Some("Ольга Закрытая".into()) },
                text: "Не горят фонари во дворе\n\nАдрес: Елец, ул. Мира, 5".into(),
                attachments: vec![Attachment { kind: "photo".into(), url: "/files/abc.jpg".into(), name: None }],
                published_at: Utc::now(),
                url: None,
                raw: serde_json::json!({
                    "category": "landscaping.lighting",
                    "address": "Елец, ул. Мира, 5",
                    "point": {"lat": 52.62, "lon": 38.5},
                    "contact": "+79995554433",
                    "consent": true,
                }),
            },
            &IntakeHints { territory: Some("yelets-city".into()), category: None },
        )
        .await
        .unwrap()
        .incident_id;
    let r = app.get("requests.json").await;
    assert!(!r.body.contains("+79995554433") && !r.body.contains("Ольга"), "{}", r.body);
    let v = r.json();
    assert_eq!(v.as_array().unwrap().len(), 1);
    let req = &v[0];
    assert_eq!(req["service_request_id"], Value::String(id.to_string()));
    assert_eq!(req["description"], "Не горят фонари во дворе", "the address has a field of its own");
    assert_eq!(req["address"], "Елец, ул. Мира, 5");
    assert_eq!((req["lat"].as_f64(), req["long"].as_f64()), (Some(52.62), Some(38.5)));
    assert_eq!(req["media_url"], Value::String(format!("{}/files/abc.jpg", app.base)));
    assert_eq!(req["service_code"], Value::Null, "no category yet");
    assert!(req["requested_datetime"].as_str().unwrap().ends_with("+03:00"), "Елец is on Moscow time");
}
