//! Scope: for every endpoint and every role, a user sees and changes only their part of the
//! hierarchy; out-of-scope incidents do not exist for them and stay unchanged.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{TestApp, USERS, message};
use reqwest::Method;
use serde_json::{Value, json};

struct World {
    app: TestApp,
    tokens: BTreeMap<&'static str, String>,
    ids: BTreeMap<&'static str, i64>,
}

async fn world() -> World {
    let app = TestApp::start().await;
    let mut tokens = BTreeMap::new();
    for (login, _, _) in USERS {
        tokens.insert(*login, app.token(login).await);
    }
    let admin = tokens["admin"].clone();
    let mut ids = BTreeMap::new();
    ids.insert("G", app.ingest(&admin, "g", Some("gryazinsky")).await);
    ids.insert("Y", app.ingest(&admin, "y", Some("yelets-city")).await);
    ids.insert("S", app.ingest(&admin, "s", Some("spb-frunzensky")).await);
    ids.insert("N", app.ingest(&admin, "n", None).await);
    let (s, _) = app.act(&admin, ids["G"], json!({"action": "assign", "org": "adm-gryazinsky"})).await;
    assert_eq!(s, 200);
    World { app, tokens, ids }
}

fn expected_visible(login: &str) -> BTreeSet<&'static str> {
    let v: &[&str] = match login {
        "admin" => &["G", "Y", "S", "N"],
        "curator-lipetsk" | "viewer-lipetsk" => &["G", "Y"],
        "operator-gryazi" | "head-gryazi" | "executor-gryazi" => &["G"],
        "operator-yelets" => &["Y"],
        "executor-yelets" => &[],
        "curator-spb" => &["S"],
        other => panic!("no expectation for {other}"),
    };
    v.iter().copied().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incident_reads_are_scoped_for_every_role() {
    let w = world().await;
    for (login, _, _) in USERS {
        let token = &w.tokens[login];
        let (s, list) = w.app.get(token, "/api/v1/incidents?limit=100&count=true").await;
        assert_eq!(s, 200);
        let got: BTreeSet<i64> = list["items"].as_array().unwrap().iter().map(|i| i["id"].as_i64().unwrap()).collect();
        let want: BTreeSet<i64> = expected_visible(login).iter().map(|k| w.ids[k]).collect();
        assert_eq!(got, want, "list for {login}");
        assert_eq!(list["total"].as_u64().unwrap() as usize, want.len(), "count for {login}");
        for (name, id) in &w.ids {
            let (s, _) = w.app.get(token, &format!("/api/v1/incidents/{id}")).await;
            let visible = expected_visible(login).contains(name);
            assert_eq!(s.as_u16(), if visible { 200 } else { 404 }, "{login} reading {name}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incident_writes_are_scoped_for_every_role() {
    let w = world().await;
    let admin = &w.tokens["admin"];
    for (login, _, _) in USERS {
        let token = &w.tokens[login];
        for (name, id) in &w.ids {
            let before = w.app.get(admin, &format!("/api/v1/incidents/{id}")).await.1;
            // A harmless-looking action every role might try: reject as spam.
            let (s, body) = w.app.act(token, *id, json!({"action": "reject", "reason": "spam"})).await;
            let visible = expected_visible(login).contains(name);
            let centre =
                matches!(*login, "admin" | "curator-lipetsk" | "operator-gryazi" | "operator-yelets" | "curator-spb");
            let expected = match (visible, centre) {
                (false, _) => 404,
                (true, false) => 403,
                (true, true) => 200,
            };
            assert_eq!(s.as_u16(), expected, "{login} rejecting {name}: {body}");
            if expected != 200 {
                let after = w.app.get(admin, &format!("/api/v1/incidents/{id}")).await.1;
                assert_eq!(before, after, "{login} changed {name}");
            } else {
                let (s, _) = w.app.act(admin, *id, json!({"action": "reopen", "reason": "проверка"})).await;
                assert_eq!(s, 200);
                if *name == "G" {
                    w.app.act(admin, *id, json!({"action": "assign", "org": "adm-gryazinsky"})).await;
                }
            }
        }
    }
    // Organisation roles work the incidents of their organisation.
    let g = w.ids["G"];
    let (s, _) = w.app.act(&w.tokens["executor-yelets"], g, json!({"action": "take"})).await;
    assert_eq!(s, 404);
    let (s, inc) = w.app.act(&w.tokens["executor-gryazi"], g, json!({"action": "take"})).await;
    assert_eq!(s, 200, "{inc}");
    let (s, e) = w
        .app
        .act(&w.tokens["viewer-lipetsk"], g, json!({"action": "draft_answer", "kind": "final", "text": "x"}))
        .await;
    assert_eq!((s.as_u16(), e["error"]["code"].as_str()), (403, Some("forbidden_action")));
    // A moderator cannot move an incident out of their own reach.
    let y = w.app.ingest(admin, "y2", Some("yelets-city")).await;
    let (s, e) =
        w.app.act(&w.tokens["operator-yelets"], y, json!({"action": "moderate", "territory": "gryazinsky"})).await;
    assert_eq!(s, 422, "{e}");
    let (s, _) = w.app.act(&w.tokens["operator-yelets"], y, json!({"action": "moderate", "kind": "question"})).await;
    assert_eq!(s, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intake_is_scoped() {
    let w = world().await;
    for (login, _, _) in USERS {
        let (s, v) =
            w.app.post(&w.tokens[login], "/api/v1/messages", message(&format!("in-{login}"), Some("gryazinsky"))).await;
        let expected = match *login {
            "admin" | "curator-lipetsk" | "operator-gryazi" => 201,
            "operator-yelets" | "curator-spb" => 422,
            _ => 403,
        };
        assert_eq!(s.as_u16(), expected, "{login} submitting to gryazinsky: {v}");
    }
    // A message that names no place takes the operator's own territory.
    let op = &w.tokens["operator-yelets"];
    let (s, v) = w.app.post(op, "/api/v1/messages", message("yelets-own", None)).await;
    assert_eq!(s, 201, "{v}");
    let (s, card) = w.app.get(op, &format!("/api/v1/incidents/{}", v["incident_id"])).await;
    assert_eq!(s, 200);
    assert_eq!(card["incident"]["municipality"], "yelets-city");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reference_data_is_readable_by_all_and_editable_by_admins() {
    let w = world().await;
    let territory = json!({"code": "gryazinsky-new", "name": "село Новое", "full_name": "село Новое", "level": "settlement", "parent": "gryazinsky", "zone": "Europe/Moscow"});
    let org = json!({"code": "new-org", "name": "Новая организация", "kind": "agency", "territory": "gryazinsky"});
    let category = json!({"code": "roads.surface.cracks", "name": "Трещины", "photo_required": true, "form_days": 20});
    let source = json!({"channel": "ok", "key": "group-1", "name": "Группа", "territory": "gryazinsky"});
    let rule = json!({"code": "gryazi-health", "category": "healthcare", "territory": "gryazinsky", "org": "new-org"});
    let puts = [
        ("/api/v1/territories/gryazinsky-new", territory, "/api/v1/territories"),
        ("/api/v1/organisations/new-org", org, "/api/v1/organisations"),
        ("/api/v1/categories/roads.surface.cracks", category, "/api/v1/categories"),
        ("/api/v1/sources/ok/group-1", source, "/api/v1/sources"),
        ("/api/v1/routing-rules/gryazi-health", rule, "/api/v1/routing-rules"),
    ];
    for (login, _, _) in USERS {
        let token = &w.tokens[login];
        for (put, body, list) in &puts {
            let (s, items) = w.app.get(token, list).await;
            assert_eq!(s, 200, "{login} reading {list}");
            assert!(!items.as_array().unwrap().is_empty() || *list == "/api/v1/sources");
            if *login != "admin" {
                let (s, _) = w.app.call(token, Method::PUT, put, Some(body.clone())).await;
                assert_eq!(s, 403, "{login} writing {put}");
            }
        }
    }
    let admin = &w.tokens["admin"];
    for (put, body, list) in &puts {
        let (s, v) = w.app.call(admin, Method::PUT, put, Some(body.clone())).await;
        assert_eq!(s, 200, "{put}: {v}");
        let (_, items) = w.app.get(admin, list).await;
        let key = if body["code"].is_string() { "code" } else { "key" };
        let stored = items.as_array().unwrap().iter().find(|i| i[key] == body[key]).expect("stored");
        for (k, v) in body.as_object().unwrap() {
            assert_eq!(&stored[k], v, "{put}: {k}");
        }
    }
    // Invalid edits are refused with the reason, and nothing changes.
    let (s, e) = w
        .app
        .call(
            admin,
            Method::PUT,
            "/api/v1/organisations/bad-org",
            Some(json!({"code": "bad-org", "name": "X", "kind": "agency", "territory": "atlantis"})),
        )
        .await;
    assert_eq!((s.as_u16(), e["error"]["code"].as_str()), (422, Some("invalid_reference")));
    let (s, e) = w.app.call(admin, Method::PUT, "/api/v1/territories/x-y", Some(json!({"code": "x-y", "name": "X", "full_name": "X", "level": "municipality", "parent": "lipetsk-oblast", "zone": "Mars/Olympus"}))).await;
    assert_eq!(s, 422, "{e}");
    let (_, orgs) = w.app.get(admin, "/api/v1/organisations").await;
    assert!(!orgs.as_array().unwrap().iter().any(|o| o["code"] == "bad-org"));
    // Unauthenticated callers get nothing.
    let res = reqwest::get(format!("{}/api/v1/territories", w.app.base)).await.unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_are_managed_by_admins_and_seen_by_their_owner() {
    let w = world().await;
    let admin = &w.tokens["admin"];
    let (_, users) = w.app.get(admin, "/api/v1/users").await;
    let id_of =
        |login: &str| users.as_array().unwrap().iter().find(|u| u["login"] == login).unwrap()["id"].as_i64().unwrap();
    for (login, _, _) in USERS {
        let token = &w.tokens[login];
        let me = id_of(login);
        let other = id_of(if *login == "admin" { "viewer-lipetsk" } else { "admin" });
        let (s, v) = w.app.get(token, "/api/v1/auth/me").await;
        assert_eq!((s.as_u16(), v["user"]["login"].as_str()), (200, Some(*login)));
        let (s, _) = w.app.get(token, &format!("/api/v1/users/{me}")).await;
        assert_eq!(s, 200);
        let is_admin = *login == "admin";
        let (s, _) = w.app.get(token, &format!("/api/v1/users/{other}")).await;
        assert_eq!(s.as_u16(), if is_admin { 200 } else { 404 }, "{login}");
        let (s, _) = w.app.get(token, "/api/v1/users").await;
        assert_eq!(s.as_u16(), if is_admin { 200 } else { 403 }, "{login}");
        let new_user = json!({"login": format!("new-{login}"), "display_name": "Новый", "password": "long enough pw", "grants": [{"role": "viewer", "node": "spb"}]});
        let (s, _) = w.app.post(token, "/api/v1/users", new_user).await;
        assert_eq!(s.as_u16(), if is_admin { 201 } else { 403 }, "{login}");
        let (s, _) = w.app.post(token, &format!("/api/v1/users/{me}/tokens"), json!({"name": "t"})).await;
        assert_eq!(s.as_u16(), if is_admin { 201 } else { 403 }, "{login}");
        let (s, _) = w
            .app
            .call(
                token,
                Method::PATCH,
                &format!("/api/v1/users/{me}"),
                Some(json!({"display_name": format!("Имя {login}")})),
            )
            .await;
        assert_eq!(s, 200, "{login} renaming themself");
        let (s, _) = w
            .app
            .call(token, Method::PATCH, &format!("/api/v1/users/{me}"), Some(json!({"grants": [{"role": "admin"}]})))
            .await;
        assert_eq!(s.as_u16(), if is_admin { 200 } else { 403 }, "{login} granting themself admin");
        let (s, _) = w
            .app
            .call(token, Method::PATCH, &format!("/api/v1/users/{other}"), Some(json!({"display_name": "x"})))
            .await;
        assert_eq!(s.as_u16(), if is_admin { 200 } else { 404 }, "{login} renaming another");
    }
    // Grants must name real nodes of the right kind.
    let bad = json!({"login": "bad", "display_name": "x", "password": "long enough pw", "grants": [{"role": "org_head", "node": "gryazinsky"}]});
    let (s, _) = w.app.post(admin, "/api/v1/users", bad).await;
    assert_eq!(s, 422);
    // A disabled account is refused at once.
    let viewer = id_of("viewer-lipetsk");
    w.app.call(admin, Method::PATCH, &format!("/api/v1/users/{viewer}"), Some(json!({"active": false}))).await;
    let (s, e) = w.app.get(&w.tokens["viewer-lipetsk"], "/api/v1/incidents").await;
    assert_eq!((s.as_u16(), e["error"]["code"].as_str()), (401, Some("account_disabled")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_needs_authentication() {
    let w = world().await;
    let id = w.ids["G"];
    let calls: Vec<(Method, String)> = vec![
        (Method::GET, "/api/v1/auth/me".into()),
        (Method::POST, "/api/v1/auth/logout".into()),
        (Method::POST, "/api/v1/messages".into()),
        (Method::POST, "/api/v1/messages/revisions".into()),
        (Method::GET, "/api/v1/incidents".into()),
        (Method::GET, format!("/api/v1/incidents/{id}")),
        (Method::POST, format!("/api/v1/incidents/{id}/actions")),
        (Method::GET, "/api/v1/notifications".into()),
        (Method::GET, "/api/v1/territories".into()),
        (Method::PUT, "/api/v1/territories/x".into()),
        (Method::GET, "/api/v1/organisations".into()),
        (Method::PUT, "/api/v1/organisations/x".into()),
        (Method::GET, "/api/v1/categories".into()),
        (Method::PUT, "/api/v1/categories/x".into()),
        (Method::GET, "/api/v1/sources".into()),
        (Method::PUT, "/api/v1/sources/vk/x".into()),
        (Method::GET, "/api/v1/routing-rules".into()),
        (Method::PUT, "/api/v1/routing-rules/x".into()),
        (Method::DELETE, "/api/v1/routing-rules/x".into()),
        (Method::GET, "/api/v1/users".into()),
        (Method::POST, "/api/v1/users".into()),
        (Method::GET, "/api/v1/users/1".into()),
        (Method::PATCH, "/api/v1/users/1".into()),
        (Method::POST, "/api/v1/users/1/tokens".into()),
    ];
    for (m, path) in calls {
        for token in ["", "otk_forged"] {
            let mut req = w
                .app
                .client
                .request(m.clone(), format!("{}{path}", w.app.base))
                .json(&Value::Object(Default::default()));
            if !token.is_empty() {
                req = req.bearer_auth(token);
            }
            let res = req.send().await.unwrap();
            assert_eq!(res.status(), 401, "{m} {path} with `{token}`");
            let body: Value = res.json().await.unwrap();
            assert!(body["error"]["code"].is_string());
        }
    }
}
