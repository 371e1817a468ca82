//! Splitting a message out of an incident, over the API and from the console's card: the new
//! incident is opened as intake would open it, each history says where the message went, later
//! answers reach the message's thread from its new incident, and refusals carry stable codes.

mod common;

use common::{Browser, TestApp, message};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Two messages in one incident (the second merged in as a duplicate); returns (main, dup).
async fn two_messages(app: &TestApp, admin: &str, a: &str, b: &str) -> (i64, i64) {
    let main = app.ingest(admin, a, Some("gryazinsky")).await;
    let mut m = message(b, Some("gryazinsky"));
    m["text"] = json!("Во дворе на Советской переполнены мусорные контейнеры");
    m["thread_id"] = json!("wall-1_200");
    let (s, v) = app.post(admin, "/api/v1/messages", m).await;
    assert_eq!(s, 201, "{v}");
    let dup = v["incident_id"].as_i64().unwrap();
    let (s, v) = app.act(admin, dup, json!({"action": "merge", "into": main})).await;
    assert_eq!(s, 200, "{v}");
    (main, dup)
}

fn message_id(card: &Value, external_id: &str) -> i64 {
    card["messages"].as_array().unwrap().iter().find(|m| m["external_id"] == external_id).unwrap()["id"]
        .as_i64()
        .unwrap()
}

async fn publish(app: &TestApp, admin: &str, id: i64, text: &str) -> Vec<String> {
    for body in [
        json!({"action": "assign", "org": "adm-gryazinsky"}),
        json!({"action": "take"}),
        json!({"action": "draft_answer", "kind": "final", "text": text}),
        json!({"action": "submit_for_review"}),
        json!({"action": "approve"}),
        json!({"action": "publish"}),
    ] {
        let (s, v) = app.act(admin, id, body).await;
        assert_eq!(s, 200, "{v}");
    }
    let (_, card) = app.get(admin, &format!("/api/v1/incidents/{id}")).await;
    card["answers"][0]["publications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["target"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_is_split_into_a_new_incident_and_its_answers_follow_it() {
    let app = TestApp::start().await;
    let admin = app.token("admin").await;
    let operator = app.token("operator-gryazi").await;
    let (main, _) = two_messages(&app, &admin, "s-1", "s-2").await;
    let (_, card) = app.get(&operator, &format!("/api/v1/incidents/{main}")).await;
    let version = card["incident"]["version"].as_i64().unwrap();
    assert!(card["allowed_actions"].as_array().unwrap().contains(&json!("split")));
    let moved = message_id(&card, "s-2");

    let res = app
        .client
        .post(format!("{}/api/v1/incidents/{main}/actions", app.base))
        .bearer_auth(&operator)
        .header("If-Match", version.to_string())
        .json(&json!({"action": "split", "message": moved, "note": "другая проблема"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let location = res.headers()["location"].to_str().unwrap().to_string();
    let source: Value = res.json().await.unwrap();
    assert_eq!(source["id"], main);
    assert_eq!(source["version"].as_i64().unwrap(), version + 1, "the source's version moves");
    let new_id: i64 = location.trim_start_matches("/api/v1/incidents/").parse().unwrap();
    assert_ne!(new_id, main);

    let (_, created) = app.get(&operator, &location).await;
    assert_eq!(created["incident"]["status"], "new");
    assert_eq!(created["incident"]["version"], 1);
    assert_eq!(created["incident"]["municipality"], "gryazinsky", "no place named: the incident's territory");
    assert_eq!(created["incident"]["summary"], "Во дворе на Советской переполнены мусорные контейнеры");
    assert!(created["incident"]["first_answer_due"].is_string(), "deadlines as at intake: {created}");
    assert!(created["incident"]["suggested_org"].is_string(), "routing as at intake: {created}");
    assert_eq!(created["messages"].as_array().unwrap().len(), 1);
    assert_eq!(created["messages"][0]["id"], moved);
    let first = &created["history"][0];
    assert_eq!(first["action"], "split_from");
    assert_eq!(first["note"], format!("выделено из обращения № {main}: другая проблема"));

    let (_, left) = app.get(&operator, &format!("/api/v1/incidents/{main}")).await;
    assert_eq!(left["messages"].as_array().unwrap().len(), 1);
    let last = left["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["action"], "split");
    assert!(last["note"].as_str().unwrap().contains(&format!("выделено в обращение № {new_id}")), "{last}");

    // Each incident's answer goes to its own citizen's thread only.
    assert_eq!(publish(&app, &admin, main, "Яма заделана.").await, vec!["club-test:s-1".to_string()]);
    assert_eq!(publish(&app, &admin, new_id, "Контейнеры вывезены.").await, vec!["club-test:s-2".to_string()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_first_message_leaves_the_incident_is_summarised_by_the_next() {
    let app = TestApp::start().await;
    let admin = app.token("admin").await;
    let (main, _) = two_messages(&app, &admin, "f-1", "f-2").await;
    let (_, card) = app.get(&admin, &format!("/api/v1/incidents/{main}")).await;
    let before = card["incident"]["summary"].as_str().unwrap().to_string();
    assert!(before.starts_with("На улице Правды"), "{before}");
    let (s, v) = app.act(&admin, main, json!({"action": "split", "message": message_id(&card, "f-1")})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["summary"], "Во дворе на Советской переполнены мусорные контейнеры");
    let (_, card) = app.get(&admin, &format!("/api/v1/incidents/{main}")).await;
    let change = &card["history"].as_array().unwrap().last().unwrap()["changes"][0];
    assert_eq!((change["field"].as_str(), change["before"].as_str()), (Some("summary"), Some(before.as_str())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn splits_are_refused_with_stable_codes() {
    let app = TestApp::start().await;
    let admin = app.token("admin").await;
    let operator = app.token("operator-gryazi").await;
    let executor = app.token("executor-gryazi").await;
    let (main, _) = two_messages(&app, &admin, "r-1", "r-2").await;
    let lonely = app.ingest(&admin, "r-3", Some("gryazinsky")).await;
    let (_, card) = app.get(&admin, &format!("/api/v1/incidents/{main}")).await;
    let (first, second) = (message_id(&card, "r-1"), message_id(&card, "r-2"));
    let (_, lonely_card) = app.get(&admin, &format!("/api/v1/incidents/{lonely}")).await;
    let only = lonely_card["messages"][0]["id"].as_i64().unwrap();
    assert!(!lonely_card["allowed_actions"].as_array().unwrap().contains(&json!("split")), "nothing to spare");

    let (s, v) = app.act(&operator, lonely, json!({"action": "split", "message": only})).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("only_message")), "{v}");
    let (s, v) = app.act(&operator, lonely, json!({"action": "split", "message": first})).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("message_not_in_incident")));
    let (s, v) = app.act(&operator, main, json!({"action": "split", "message": 999_999})).await;
    assert_eq!(v["error"]["code"], "message_not_in_incident", "{s} {v}");
    // Organisations work on incidents; splitting them is the control centre's.
    let (s, v) = app.act(&admin, main, json!({"action": "assign", "org": "adm-gryazinsky"})).await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = app.act(&executor, main, json!({"action": "split", "message": second})).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden_action")), "{v}");
    let res = app
        .client
        .post(format!("{}/api/v1/incidents/{main}/actions", app.base))
        .bearer_auth(&operator)
        .header("If-Match", "1")
        .json(&json!({"action": "split", "message": second}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(res.json::<Value>().await.unwrap()["error"]["code"], "concurrent_modification");
    let (s, v) = app.act(&admin, main, json!({"action": "reject", "reason": "spam"})).await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = app.act(&operator, main, json!({"action": "split", "message": second})).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("incident_finished")), "{v}");
    // Nothing moved.
    let (_, card) = app.get(&admin, &format!("/api/v1/incidents/{main}")).await;
    assert_eq!(card["messages"].as_array().unwrap().len(), 2);
    assert!(card["history"].as_array().unwrap().iter().all(|e| e["action"] != "split"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_card_splits_a_message_behind_the_csrf_token() {
    let app = TestApp::start().await;
    let admin = app.token("admin").await;
    let (main, _) = two_messages(&app, &admin, "c-1", "c-2").await;
    let lonely = app.ingest(&admin, "c-3", Some("gryazinsky")).await;
    let (_, card) = app.get(&admin, &format!("/api/v1/incidents/{main}")).await;
    let moved = message_id(&card, "c-2").to_string();
    let version = card["incident"]["version"].to_string();

    let operator = Browser::login(&app, "operator-gryazi").await;
    let (_, page) = operator.get(&format!("/incidents/{main}")).await;
    assert_eq!(page.matches("Выделить в отдельное обращение</button>").count(), 2, "one per message");
    let (_, lonely_page) = operator.get(&format!("/incidents/{lonely}")).await;
    assert!(!lonely_page.contains("Выделить в отдельное обращение"), "not for the only message");
    let executor = Browser::login(&app, "executor-gryazi").await;
    let (_, exec_page) = executor.get(&format!("/incidents/{main}")).await;
    assert!(!exec_page.contains("Выделить в отдельное обращение"), "control centres only");

    let csrf = Browser::csrf(&page);
    let fields = [("action", "split"), ("message", moved.as_str()), ("version", version.as_str())];
    let (s, body) = operator.act(main, "forged", &fields).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("Форма устарела"));
    let (_, still) = app.get(&admin, &format!("/api/v1/incidents/{main}")).await;
    assert_eq!(still["messages"].as_array().unwrap().len(), 2, "a forged form changes nothing");

    let res = operator
        .client
        .post(format!("{}/incidents/{main}/act", operator.base))
        .multipart(
            reqwest::multipart::Form::new()
                .text("_csrf", csrf.clone())
                .text("action", "split")
                .text("message", moved.clone())
                .text("version", version.clone()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let location = res.headers()["location"].to_str().unwrap().to_string();
    let new_id: i64 = location.trim_start_matches("/incidents/").parse().unwrap();
    let (s, new_page) = operator.get(&location).await;
    assert_eq!(s, 200);
    assert!(new_page.contains("Выделено из другого обращения"));
    assert!(new_page.contains(&format!("выделено из обращения № {main}")));
    let (_, old_page) = operator.get(&format!("/incidents/{main}")).await;
    assert!(old_page.contains(&format!("выделено в обращение № {new_id}")));
    assert!(!old_page.contains("Выделить в отдельное обращение</button>"), "one message is left");

    // The same form again (a stale version, the message gone): refused in Russian.
    let (s, body) = operator.act(main, &csrf, &fields).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("Обращение изменил кто-то другой"), "{body}");
    let (_, fresh) = app.get(&admin, &format!("/api/v1/incidents/{main}")).await;
    let v = fresh["incident"]["version"].to_string();
    let (s, body) =
        operator.act(main, &csrf, &[("action", "split"), ("message", moved.as_str()), ("version", v.as_str())]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("Это сообщение не относится к обращению."), "{body}");
}
