//! Bad input gets a clear 4xx JSON error with a stable code, and nothing stored changes.

mod common;

use common::{PASSWORD, TestApp, message};
use reqwest::header::{CONTENT_TYPE, COOKIE, SET_COOKIE};
use serde_json::{Value, json};

async fn raw(
    app: &TestApp,
    token: &str,
    method: reqwest::Method,
    path: &str,
    ctype: Option<&str>,
    body: Vec<u8>,
) -> (u16, Value) {
    let mut req = app.client.request(method, format!("{}{path}", app.base)).bearer_auth(token).body(body);
    if let Some(c) = ctype {
        req = req.header(CONTENT_TYPE, c);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// What is sent, and the status and code expected back.
type Case = (&'static str, reqwest::Method, String, Option<&'static str>, Vec<u8>, u16, &'static str);

/// Everything a client can read back, to prove nothing changed.
async fn snapshot(app: &TestApp, admin: &str) -> Value {
    let (_, list) = app.get(admin, "/api/v1/incidents?limit=500&count=true").await;
    let mut cards = vec![];
    for i in list["items"].as_array().unwrap() {
        cards.push(app.get(admin, &format!("/api/v1/incidents/{}", i["id"])).await.1);
    }
    json!({"list": list, "cards": cards, "users": app.get(admin, "/api/v1/users").await.1})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_stable_codes_and_change_nothing() {
    let app = TestApp::start_with_limit(16 * 1024).await;
    let admin = app.token("admin").await;
    let executor = app.token("executor-gryazi").await;
    let id = app.ingest(&admin, "keep-1", Some("gryazinsky")).await;
    let before = snapshot(&app, &admin).await;
    let post = reqwest::Method::POST;
    let json_ct = Some("application/json");

    let cases: Vec<Case> = vec![
        ("malformed JSON", post.clone(), "/api/v1/messages".into(), json_ct, b"{\"channel\": \"vk\",".to_vec(), 400, "malformed_json"),
        ("missing fields", post.clone(), "/api/v1/messages".into(), json_ct, br#"{"channel": "vk"}"#.to_vec(), 422, "invalid_body"),
        ("wrong type", post.clone(), "/api/v1/messages".into(), json_ct, serde_json::to_vec(&json!({"channel": "vk", "source": 5, "external_id": "x", "author": {"id": "a"}, "text": "t", "published_at": "2026-01-01T00:00:00Z"})).unwrap(), 422, "invalid_body"),
        ("unknown channel", post.clone(), "/api/v1/messages".into(), json_ct, serde_json::to_vec(&json!({"channel": "myspace", "source": "s", "external_id": "x", "author": {"id": "a"}, "text": "t", "published_at": "2026-01-01T00:00:00Z"})).unwrap(), 422, "invalid_body"),
        ("bad instant", post.clone(), "/api/v1/messages".into(), json_ct, serde_json::to_vec(&json!({"channel": "vk", "source": "s", "external_id": "x", "author": {"id": "a"}, "text": "t", "published_at": "yesterday"})).unwrap(), 422, "invalid_body"),
        ("empty text", post.clone(), "/api/v1/messages".into(), json_ct, serde_json::to_vec(&{ let mut m = message("e", None); m["text"] = json!("  "); m["attachments"] = json!([]); m }).unwrap(), 422, "validation_failed"),
        ("unknown territory", post.clone(), "/api/v1/messages".into(), json_ct, serde_json::to_vec(&message("u", Some("atlantis"))).unwrap(), 422, "validation_failed"),
        ("oversized body", post.clone(), "/api/v1/messages".into(), json_ct, serde_json::to_vec(&{ let mut m = message("big", None); m["text"] = json!("я".repeat(20_000)); m }).unwrap(), 413, "payload_too_large"),
        ("invalid UTF-8", post.clone(), "/api/v1/messages".into(), json_ct, b"{\"channel\": \"vk\", \"text\": \"\xff\xfe\"}".to_vec(), 400, "malformed_json"),
        ("no content type", post.clone(), "/api/v1/messages".into(), None, serde_json::to_vec(&message("ct", None)).unwrap(), 415, "unsupported_media_type"),
        ("unknown incident", reqwest::Method::GET, "/api/v1/incidents/999999".into(), None, vec![], 404, "not_found"),
        ("non-numeric id", reqwest::Method::GET, "/api/v1/incidents/abc".into(), None, vec![], 400, "invalid_path"),
        ("bad status filter", reqwest::Method::GET, "/api/v1/incidents?status=lost".into(), None, vec![], 400, "invalid_query"),
        ("bad cursor", reqwest::Method::GET, "/api/v1/incidents?cursor=zzz".into(), None, vec![], 400, "invalid_cursor"),
        ("bad limit", reqwest::Method::GET, "/api/v1/incidents?limit=100000".into(), None, vec![], 400, "invalid_query"),
        ("unknown query field", reqwest::Method::GET, "/api/v1/incidents?colour=red".into(), None, vec![], 400, "invalid_query"),
        ("forbidden transition", post.clone(), format!("/api/v1/incidents/{id}/actions"), json_ct, br#"{"action": "close"}"#.to_vec(), 409, "invalid_transition"),
        ("unknown action", post.clone(), format!("/api/v1/incidents/{id}/actions"), json_ct, br#"{"action": "explode"}"#.to_vec(), 422, "invalid_body"),
        ("unknown organisation", post.clone(), format!("/api/v1/incidents/{id}/actions"), json_ct, br#"{"action": "assign", "org": "nobody"}"#.to_vec(), 422, "validation_failed"),
        ("unknown category", post.clone(), format!("/api/v1/incidents/{id}/actions"), json_ct, br#"{"action": "moderate", "category": "roads.flying"}"#.to_vec(), 422, "validation_failed"),
        ("action on unknown incident", post.clone(), "/api/v1/incidents/424242/actions".into(), json_ct, br#"{"action": "moderate"}"#.to_vec(), 404, "not_found"),
        ("unknown endpoint", reqwest::Method::GET, "/api/v1/nothing".into(), None, vec![], 404, "not_found"),
        ("short password", post.clone(), "/api/v1/users".into(), json_ct, br#"{"login": "x1", "display_name": "x", "password": "123"}"#.to_vec(), 422, "validation_failed"),
        ("taken login", post.clone(), "/api/v1/users".into(), json_ct, br#"{"login": "admin", "display_name": "x", "password": "long enough pw"}"#.to_vec(), 409, "conflict"),
    ];
    for (what, method, path, ctype, body, status, code) in cases {
        let (s, v) = raw(&app, &admin, method, &path, ctype, body).await;
        assert_eq!(s, status, "{what}: {v}");
        assert_eq!(v["error"]["code"], code, "{what}: {v}");
        assert!(v["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{what}");
        let text = v.to_string();
        assert!(
            !text.contains("sqlx") && !text.contains("SELECT") && !text.contains(".rs:"),
            "{what} leaks internals: {text}"
        );
    }
    // A role that may not act gets 403 with the action named.
    let (s, v) = app.act(&executor, id, json!({"action": "take"})).await;
    assert_eq!((s.as_u16(), v["error"]["code"].as_str()), (404, Some("not_found")), "not assigned to them yet");
    // A stale If-Match is a conflict.
    let res = app
        .client
        .post(format!("{}/api/v1/incidents/{id}/actions", app.base))
        .bearer_auth(&admin)
        .header("If-Match", "99")
        .json(&json!({"action": "moderate"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 409);
    assert_eq!(res.json::<Value>().await.unwrap()["error"]["code"], "concurrent_modification");

    assert_eq!(snapshot(&app, &admin).await, before, "nothing stored changed");
}

fn session_cookie(res: &reqwest::Response) -> String {
    let c = res.headers().get(SET_COOKIE).unwrap().to_str().unwrap();
    assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict"), "{c}");
    c.split(';').next().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_need_csrf_tokens_and_expire() {
    let app = TestApp::start().await;
    let admin = app.token("admin").await;
    let id = app.ingest(&admin, "s-1", Some("gryazinsky")).await;
    let url = |p: &str| format!("{}{p}", app.base);

    let res = app
        .client
        .post(url("/api/v1/auth/login"))
        .json(&json!({"login": "operator-gryazi", "password": "wrong"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(res.json::<Value>().await.unwrap()["error"]["code"], "invalid_credentials");
    let res = app
        .client
        .post(url("/api/v1/auth/login"))
        .json(&json!({"login": "nobody", "password": "wrong"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);

    let res = app
        .client
        .post(url("/api/v1/auth/login"))
        .json(&json!({"login": "operator-gryazi", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let cookie = session_cookie(&res);
    let login: Value = res.json().await.unwrap();
    let csrf = login["csrf_token"].as_str().unwrap().to_string();

    // Reads need only the cookie.
    let res = app.client.get(url(&format!("/api/v1/incidents/{id}"))).header(COOKIE, &cookie).send().await.unwrap();
    assert_eq!(res.status(), 200);
    // Writes without the CSRF header, or with a wrong one, are refused.
    for header in [None, Some("forged")] {
        let mut req = app
            .client
            .post(url(&format!("/api/v1/incidents/{id}/actions")))
            .header(COOKIE, &cookie)
            .json(&json!({"action": "moderate"}));
        if let Some(h) = header {
            req = req.header("X-CSRF-Token", h);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 403);
        assert_eq!(res.json::<Value>().await.unwrap()["error"]["code"], "csrf_failed");
    }
    let res = app
        .client
        .post(url(&format!("/api/v1/incidents/{id}/actions")))
        .header(COOKIE, &cookie)
        .header("X-CSRF-Token", &csrf)
        .json(&json!({"action": "moderate"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    // Sessions end after their lifetime.
    app.clock.advance(chrono::Duration::hours(13));
    let res = app.client.get(url("/api/v1/auth/me")).header(COOKIE, &cookie).send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(res.json::<Value>().await.unwrap()["error"]["code"], "session_expired");

    // Logout ends a session at once.
    let res = app
        .client
        .post(url("/api/v1/auth/login"))
        .json(&json!({"login": "operator-gryazi", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let cookie = session_cookie(&res);
    let csrf = res.json::<Value>().await.unwrap()["csrf_token"].as_str().unwrap().to_string();
    let res = app
        .client
        .post(url("/api/v1/auth/logout"))
        .header(COOKIE, &cookie)
        .header("X-CSRF-Token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let res = app.client.get(url("/api/v1/auth/me")).header(COOKIE, &cookie).send().await.unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_describes_every_route() {
    let app = TestApp::start().await;
    let doc: Value = reqwest::get(format!("{}/api/v1/openapi.json", app.base)).await.unwrap().json().await.unwrap();
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/api/v1/auth/login",
        "/api/v1/auth/logout",
        "/api/v1/auth/me",
        "/api/v1/messages",
        "/api/v1/messages/revisions",
        "/api/v1/incidents",
        "/api/v1/incidents/{id}",
        "/api/v1/incidents/{id}/actions",
        "/api/v1/notifications",
        "/api/v1/territories",
        "/api/v1/territories/{code}",
        "/api/v1/organisations",
        "/api/v1/organisations/{code}",
        "/api/v1/categories",
        "/api/v1/categories/{code}",
        "/api/v1/sources",
        "/api/v1/sources/{channel}/{key}",
        "/api/v1/routing-rules",
        "/api/v1/routing-rules/{code}",
        "/api/v1/users",
        "/api/v1/users/{id}",
        "/api/v1/users/{id}/tokens",
    ] {
        assert!(paths.contains_key(p), "{p} missing from OpenAPI");
    }
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for s in ["Command", "Incident", "IncidentCard", "ErrorBody", "Status"] {
        assert!(schemas.contains_key(s), "schema {s} missing");
    }
    let health = reqwest::get(format!("{}/healthz", app.base)).await.unwrap();
    assert_eq!(health.status(), 200);
}
