//! End to end over HTTP: a citizen's message becomes an incident, is worked, answered, reviewed,
//! returned, approved, published and closed, with every step in its history.

mod common;

use common::{TestApp, message};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_walks_through_every_state_to_closed() {
    let app = TestApp::start().await;
    let admin = app.token("admin").await;
    let operator = app.token("operator-gryazi").await;
    let executor = app.token("executor-gryazi").await;
    let head = app.token("head-gryazi").await;

    // Intake, and the same delivery again.
    let (s, first) = app.post(&admin, "/api/v1/messages", message("wall-1_101", Some("gryazinsky-gryazi"))).await;
    assert_eq!(s, 201, "{first}");
    let (s, again) = app.post(&admin, "/api/v1/messages", message("wall-1_101", Some("gryazinsky-gryazi"))).await;
    assert_eq!(s, 200);
    assert_eq!(again["created"], false);
    assert_eq!(again["incident_id"], first["incident_id"]);
    let id = first["incident_id"].as_i64().unwrap();

    let (_, card) = app.get(&operator, &format!("/api/v1/incidents/{id}")).await;
    assert_eq!(card["incident"]["status"], "new");
    assert_eq!(card["incident"]["municipality"], "gryazinsky");
    assert_eq!(card["incident"]["region"], "lipetsk-oblast");
    assert_eq!(card["messages"][0]["text"], "На улице Правды в Грязях огромная яма, машины бьют колёса");
    assert_eq!(card["messages"][0]["raw"]["external_id"], "wall-1_101", "the raw payload is kept");
    assert_eq!(card["allowed_actions"], json!(["moderate", "assign", "reject", "tag", "merge"]));

    let step = |who: &'static str, body: serde_json::Value, status: &'static str| (who, body, status);
    let steps = vec![
        step(
            "operator",
            json!({"action": "moderate", "kind": "complaint", "category": "roads.surface.potholes", "urgent": false}),
            "moderated",
        ),
        step("operator", json!({"action": "assign", "org": "adm-gryazinsky", "note": "дороги округа"}), "assigned"),
        step("executor", json!({"action": "take"}), "in_work"),
        step("executor", json!({"action": "tag", "tags": ["Ямы", "ул. Правды", "ямы"]}), "in_work"),
        step(
            "executor",
            json!({"action": "draft_answer", "kind": "intermediate", "text": "Заявка принята, выезд бригады завтра."}),
            "in_work",
        ),
        step("executor", json!({"action": "submit_for_review"}), "review"),
        step("operator", json!({"action": "approve"}), "approved"),
        step("operator", json!({"action": "publish"}), "in_work"),
        step("executor", json!({"action": "draft_answer", "kind": "final", "text": "Яма будет заделана."}), "in_work"),
        step("executor", json!({"action": "submit_for_review"}), "review"),
        step(
            "operator",
            json!({"action": "return_for_rework", "reason": "no_deadline", "comment": "Укажите срок и приложите фото."}),
            "rework",
        ),
        step(
            "head",
            json!({"action": "draft_answer", "kind": "final", "text": "Яма заделана 3 марта, фото во вложении.", "attachments": [{"kind": "photo", "url": "https://example.org/done.jpg"}]}),
            "rework",
        ),
        step("head", json!({"action": "submit_for_review"}), "review"),
        step("operator", json!({"action": "approve", "note": "ок"}), "approved"),
        step("operator", json!({"action": "publish"}), "answered"),
        step("operator", json!({"action": "close"}), "closed"),
    ];
    for (who, body, expected) in steps {
        let token = match who {
            "operator" => &operator,
            "executor" => &executor,
            _ => &head,
        };
        app.clock.advance(chrono::Duration::minutes(7));
        let (s, inc) = app.act(token, id, body.clone()).await;
        assert_eq!(s, 200, "{who} {body}: {inc}");
        assert_eq!(inc["status"], expected, "{who} {body}");
    }

    let (_, card) = app.get(&admin, &format!("/api/v1/incidents/{id}")).await;
    let inc = &card["incident"];
    assert_eq!(inc["status"], "closed");
    assert_eq!(inc["org"], "adm-gryazinsky");
    assert_eq!(inc["category"], "roads.surface.potholes");
    assert_eq!(inc["tags"], json!(["ул. правды", "ямы"]));
    assert!(inc["first_answered_at"].is_string(), "the intermediate answer counts as the first answer");
    assert!(inc["closed_at"].is_string());
    assert_eq!(card["allowed_actions"], json!(["reopen"]));

    let actions: Vec<&str> =
        card["history"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        vec![
            "intake",
            "moderate",
            "assign",
            "take",
            "tag",
            "draft_answer",
            "submit_for_review",
            "approve",
            "publish_intermediate",
            "draft_answer",
            "submit_for_review",
            "return_for_rework",
            "draft_answer",
            "submit_for_review",
            "approve",
            "publish_final",
            "close"
        ]
    );
    let history = card["history"].as_array().unwrap();
    let moderate = &history[1];
    assert_eq!(moderate["actor"], "User operator-gryazi");
    let change = moderate["changes"].as_array().unwrap().iter().find(|c| c["field"] == "category").unwrap();
    assert_eq!(change["before"], serde_json::Value::Null);
    assert_eq!(change["after"], "roads.surface.potholes");
    let ret = &history[11];
    assert_eq!(ret["note"], "no_deadline: Укажите срок и приложите фото.");
    let status_change = ret["changes"].as_array().unwrap().iter().find(|c| c["field"] == "status").unwrap();
    assert_eq!((status_change["before"].as_str(), status_change["after"].as_str()), (Some("review"), Some("rework")));
    // History instants never go backwards.
    let ats: Vec<&str> = history.iter().map(|e| e["at"].as_str().unwrap()).collect();
    assert!(ats.windows(2).all(|w| w[0] <= w[1]));

    let answers = card["answers"].as_array().unwrap();
    assert_eq!(answers.len(), 2);
    assert_eq!(answers[0]["kind"], "intermediate");
    assert_eq!(answers[1]["state"], "published");
    assert_eq!(answers[1]["return_reason"], "no_deadline");
    assert_eq!(answers[1]["text"], "Яма заделана 3 марта, фото во вложении.");
    let pubs = answers[1]["publications"].as_array().unwrap();
    assert_eq!(pubs.len(), 1);
    assert_eq!(pubs[0]["channel"], "vk");
    assert_eq!(pubs[0]["target"], "club-test:wall-1_101");
    assert_eq!(pubs[0]["state"], "pending");

    // Reopening goes back to the organisation, with the reason recorded.
    let (s, inc) =
        app.act(&operator, id, json!({"action": "reopen", "reason": "Житель пишет, что яма снова появилась"})).await;
    assert_eq!(s, 200);
    assert_eq!(inc["status"], "assigned");
    assert_eq!(inc["closed_at"], serde_json::Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejection_redirect_and_deferral() {
    let app = TestApp::start().await;
    let admin = app.token("admin").await;
    let curator = app.token("curator-lipetsk").await;
    let head = app.token("head-gryazi").await;

    let spam = app.ingest(&admin, "spam-1", Some("gryazinsky")).await;
    let (s, inc) = app.act(&curator, spam, json!({"action": "reject", "reason": "spam", "comment": "реклама"})).await;
    assert_eq!((s.as_u16(), inc["status"].as_str()), (200, Some("rejected")));
    let (s, inc) = app.act(&curator, spam, json!({"action": "reopen", "reason": "не спам"})).await;
    assert_eq!((s.as_u16(), inc["status"].as_str()), (200, Some("moderated")));

    let id = app.ingest(&admin, "redir-1", Some("gryazinsky")).await;
    app.act(&curator, id, json!({"action": "assign", "org": "adm-gryazinsky"})).await;
    let (s, _) = app.act(&head, id, json!({"action": "redirect", "org": "adm-gryazinsky", "reason": "x"})).await;
    assert_eq!(s, 422, "redirecting to the same organisation is refused");
    let (s, inc) = app
        .act(&head, id, json!({"action": "redirect", "org": "lipetsk-gzhi", "reason": "Вопрос жилищной инспекции"}))
        .await;
    assert_eq!(s, 200, "{inc}");
    assert_eq!((inc["status"].as_str(), inc["org"].as_str()), (Some("assigned"), Some("lipetsk-gzhi")));
    // The head of the former organisation no longer sees it.
    let (s, _) = app.get(&head, &format!("/api/v1/incidents/{id}")).await;
    assert_eq!(s, 404);
    let (s, inc) = app.act(&curator, id, json!({"action": "defer", "reason": "Работы запланированы на весну"})).await;
    assert_eq!((s.as_u16(), inc["status"].as_str()), (200, Some("deferred")));
    let (s, inc) = app.act(&curator, id, json!({"action": "resume"})).await;
    assert_eq!((s.as_u16(), inc["status"].as_str()), (200, Some("in_work")));
    // A redirect to an organisation of another region is refused for a regional curator.
    let (s, e) = app.act(&curator, id, json!({"action": "redirect", "org": "adm-spb-frunzensky", "reason": "x"})).await;
    assert_eq!(s, 422, "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_duplicate_deliveries_make_one_incident() {
    let app = std::sync::Arc::new(TestApp::start().await);
    let admin = app.token("admin").await;
    let mut tasks = vec![];
    for _ in 0..24 {
        let (app, admin) = (app.clone(), admin.clone());
        tasks.push(tokio::spawn(async move { app.post(&admin, "/api/v1/messages", message("dup-1", None)).await }));
    }
    let mut created = 0;
    let mut ids = std::collections::HashSet::new();
    for t in tasks {
        let (s, v) = t.await.unwrap();
        assert!(s == 201 || s == 200, "{s} {v}");
        created += (s == 201) as usize;
        ids.insert(v["incident_id"].as_i64().unwrap());
    }
    assert_eq!(created, 1);
    assert_eq!(ids.len(), 1);
    let (_, list) = app.get(&admin, "/api/v1/incidents?count=true").await;
    assert_eq!(list["total"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_filter_and_page_by_cursor() {
    let app = TestApp::start().await;
    let admin = app.token("admin").await;
    for i in 0..12 {
        let t = if i % 2 == 0 { "gryazinsky" } else { "yelets-city" };
        app.clock.advance(chrono::Duration::seconds(30));
        app.ingest(&admin, &format!("l-{i}"), Some(t)).await;
    }
    let mut seen = vec![];
    let mut path = "/api/v1/incidents?limit=5&territory=gryazinsky".to_string();
    loop {
        let (s, page) = app.get(&admin, &path).await;
        assert_eq!(s, 200, "{page}");
        seen.extend(page["items"].as_array().unwrap().iter().map(|i| i["id"].as_i64().unwrap()));
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v1/incidents?limit=5&territory=gryazinsky&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 6);
    assert!(seen.windows(2).all(|w| w[0] > w[1]), "newest first: {seen:?}");
    let (_, asc) = app.get(&admin, "/api/v1/incidents?sort=created_asc&limit=3&status=new,moderated&channel=vk").await;
    let ids: Vec<i64> = asc["items"].as_array().unwrap().iter().map(|i| i["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
    let (_, none) = app.get(&admin, "/api/v1/incidents?status=closed&count=true").await;
    assert_eq!(none["total"], 0);
    let (_, overdue) = app.get(&admin, "/api/v1/incidents?overdue=true&count=true").await;
    assert_eq!(overdue["total"], 0, "no deadlines are set yet");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_and_deletions_are_recorded_and_the_original_stays() {
    let app = TestApp::start().await;
    let admin = app.token("admin").await;
    let operator = app.token("operator-gryazi").await;
    let other = app.token("operator-yelets").await;
    let id = app.ingest(&admin, "wall-1_300", Some("gryazinsky")).await;
    let edit = json!({"channel": "vk", "source": "club-test", "external_id": "wall-1_300", "kind": "edit",
        "text": "Яму уже засыпали, спасибо", "at": "2026-03-02T07:00:00Z"});
    let (s, _) = app.post(&other, "/api/v1/messages/revisions", edit.clone()).await;
    assert_eq!(s, 404, "outside the operator's scope the message does not exist");
    let (s, v) = app.post(&operator, "/api/v1/messages/revisions", edit).await;
    assert_eq!(s, 200, "{v}");
    let delete = json!({"channel": "vk", "source": "club-test", "external_id": "wall-1_300", "kind": "delete", "at": "2026-03-02T08:00:00Z"});
    let (s, _) = app.post(&operator, "/api/v1/messages/revisions", delete).await;
    assert_eq!(s, 200);
    let missing = json!({"channel": "vk", "source": "club-test", "external_id": "nope", "kind": "delete", "at": "2026-03-02T08:00:00Z"});
    assert_eq!(app.post(&admin, "/api/v1/messages/revisions", missing).await.0, 404);
    let no_text = json!({"channel": "vk", "source": "club-test", "external_id": "wall-1_300", "kind": "edit", "at": "2026-03-02T08:00:00Z"});
    assert_eq!(app.post(&admin, "/api/v1/messages/revisions", no_text).await.0, 422);

    let (_, card) = app.get(&operator, &format!("/api/v1/incidents/{id}")).await;
    let m = &card["messages"][0];
    assert_eq!(m["text"], "На улице Правды в Грязях огромная яма, машины бьют колёса");
    assert_eq!(m["revisions"][0]["kind"], "edit");
    assert_eq!(m["revisions"][0]["text"], "Яму уже засыпали, спасибо");
    assert_eq!(m["revisions"][1]["kind"], "delete");
    let actions: Vec<&str> =
        card["history"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, vec!["intake", "message_edited", "message_deleted"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intake_classifies_new_messages() {
    let app = TestApp::start_with_analysis().await;
    let admin = app.token("admin").await;
    let mut m = message("classified-1", None);
    m["text"] = json!("в Ельце на Коммунаров яма на яме, колёса бьём каждый день");
    m["source"] = json!("Подслушано Елец");
    let (s, v) = app.post(&admin, "/api/v1/messages", m).await;
    assert_eq!(s, 201, "{v}");
    let (_, card) = app.get(&admin, &format!("/api/v1/incidents/{}", v["incident_id"])).await;
    let inc = &card["incident"];
    assert_eq!(inc["kind"], "complaint");
    assert_eq!(inc["category"], "roads");
    assert_eq!(inc["municipality"], "yelets-city");
    assert_eq!(inc["region"], "lipetsk-oblast");
    assert_eq!(inc["sentiment"], "negative");
    assert!(inc["confidence"]["kind"].as_f64().unwrap() > 0.0);
    assert_eq!(inc["deadline_policy"], "social");
    // An advert is not an incident: no route and no clock until an operator decides.
    let mut ad = message("classified-2", None);
    ad["text"] = json!("Продам гараж недорого, звоните");
    let (_, v) = app.post(&admin, "/api/v1/messages", ad).await;
    let (_, card) = app.get(&admin, &format!("/api/v1/incidents/{}", v["incident_id"])).await;
    let inc = &card["incident"];
    assert_eq!(inc["kind"], "other");
    assert_eq!((&inc["suggested_org"], &inc["first_answer_due"]), (&serde_json::Value::Null, &serde_json::Value::Null));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routing_suggests_an_organisation_and_assign_takes_it() {
    let app = TestApp::start().await;
    let admin = app.token("admin").await;
    let operator = app.token("operator-gryazi").await;

    // No rule for roads: the municipality's administration, explained.
    let id = app.ingest(&admin, "route-1", Some("gryazinsky-gryazi")).await;
    let (_, card) = app.get(&operator, &format!("/api/v1/incidents/{id}")).await;
    assert_eq!(card["incident"]["suggested_org"], "adm-gryazinsky");
    assert!(card["incident"]["route_note"].as_str().unwrap().contains("администрация"), "{card}");
    let (s, inc) = app.act(&operator, id, json!({"action": "assign"})).await;
    assert_eq!(s, 200, "{inc}");
    assert_eq!(inc["org"], "adm-gryazinsky");
    let (_, card) = app.get(&operator, &format!("/api/v1/incidents/{id}")).await;
    let assign = card["history"].as_array().unwrap().iter().find(|e| e["action"] == "assign").unwrap();
    assert!(assign["note"].as_str().unwrap().starts_with("routing: "), "{assign}");

    // A regional rule: waste goes to the regional operator.
    let mut m = message("route-2", Some("gryazinsky"));
    m["category"] = json!("waste");
    let (_, v) = app.post(&admin, "/api/v1/messages", m).await;
    let (_, card) = app.get(&admin, &format!("/api/v1/incidents/{}", v["incident_id"])).await;
    assert_eq!(card["incident"]["suggested_org"], "lipetsk-waste-operator");
    assert!(card["incident"]["route_note"].as_str().unwrap().contains("lipetsk-oblast-waste"));

    // Moderation that corrects the category re-routes the suggestion.
    let id3 = app.ingest(&admin, "route-3", Some("gryazinsky")).await;
    let (s, inc) = app.act(&operator, id3, json!({"action": "moderate", "category": "healthcare"})).await;
    assert_eq!(s, 200);
    assert_eq!(inc["suggested_org"], "lipetsk-min-health");

    // Rules are editable: a more specific rule wins from now on.
    let rule =
        json!({"code": "gryazi-roads", "category": "roads", "territory": "gryazinsky", "org": "lipetsk-roads-agency"});
    let (s, v) = app.call(&admin, reqwest::Method::PUT, "/api/v1/routing-rules/gryazi-roads", Some(rule)).await;
    assert_eq!(s, 200, "{v}");
    let mut m = message("route-4", Some("gryazinsky"));
    m["category"] = json!("roads.surface.potholes");
    let (_, v) = app.post(&admin, "/api/v1/messages", m).await;
    let (_, card) = app.get(&admin, &format!("/api/v1/incidents/{}", v["incident_id"])).await;
    assert_eq!(card["incident"]["suggested_org"], "lipetsk-roads-agency");
    // A rule's co-executors come with its organisation when assign takes the suggestion.
    let rule = json!({"code": "gryazi-roads", "category": "roads", "territory": "gryazinsky",
        "org": "lipetsk-roads-agency", "co_executors": ["adm-gryazinsky"]});
    let (s, v) = app.call(&admin, reqwest::Method::PUT, "/api/v1/routing-rules/gryazi-roads", Some(rule)).await;
    assert_eq!(s, 200, "{v}");
    let mut m = message("route-5", Some("gryazinsky"));
    m["category"] = json!("roads.surface.potholes");
    let (_, v) = app.post(&admin, "/api/v1/messages", m).await;
    let (s, inc) = app.act(&admin, v["incident_id"].as_i64().unwrap(), json!({"action": "assign"})).await;
    assert_eq!(s, 200, "{inc}");
    assert_eq!(
        (inc["org"].as_str(), inc["co_orgs"].clone()),
        (Some("lipetsk-roads-agency"), json!(["adm-gryazinsky"]))
    );
    let head = app.token("head-gryazi").await;
    let (_, notes) = app.get(&head, "/api/v1/notifications").await;
    assert!(notes.as_array().unwrap().iter().any(|n| n["kind"] == "co_executor_added"), "{notes}");
    let bad = json!({"code": "bad", "org": "nobody"});
    let (s, e) = app.call(&admin, reqwest::Method::PUT, "/api/v1/routing-rules/bad", Some(bad)).await;
    assert_eq!((s.as_u16(), e["error"]["code"].as_str()), (422, Some("invalid_reference")));
    let (s, _) = app.call(&admin, reqwest::Method::DELETE, "/api/v1/routing-rules/gryazi-roads", None).await;
    assert_eq!(s, 204);
    let (s, _) = app.call(&admin, reqwest::Method::DELETE, "/api/v1/routing-rules/gryazi-roads", None).await;
    assert_eq!(s, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadlines_are_set_by_policy_and_metrics_recorded() {
    let app = TestApp::start().await;
    let admin = app.token("admin").await;
    let operator = app.token("operator-gryazi").await;
    let executor = app.token("executor-gryazi").await;

    // Monday 2 March 2026, 09:00 in Moscow: a VK complaint gets nine working hours (18:00 MSK).
    let id = app.ingest(&admin, "due-1", Some("gryazinsky")).await;
    let (_, card) = app.get(&admin, &format!("/api/v1/incidents/{id}")).await;
    let inc = &card["incident"];
    assert_eq!(inc["deadline_policy"], "social");
    assert_eq!(inc["first_answer_due"], "2026-03-02T15:00:00Z");
    let (_, list) = app.get(&admin, "/api/v1/incidents?overdue=true&count=true").await;
    assert_eq!(list["total"], 0);
    // At 19:00 it is overdue, and the deadline sort puts it first.
    app.clock.advance(chrono::Duration::hours(10));
    let (_, list) = app.get(&admin, "/api/v1/incidents?overdue=true&count=true").await;
    assert_eq!(list["total"], 1);

    // An intermediate answer: the final one is due within 7 working days (9 March is a holiday).
    for body in [
        json!({"action": "assign", "org": "adm-gryazinsky"}),
        json!({"action": "take"}),
        json!({"action": "draft_answer", "kind": "intermediate", "text": "Приняли, выезд завтра."}),
        json!({"action": "submit_for_review"}),
        json!({"action": "approve"}),
        json!({"action": "publish"}),
    ] {
        let token = if matches!(body["action"].as_str(), Some("take" | "draft_answer" | "submit_for_review")) {
            &executor
        } else {
            &operator
        };
        let (s, v) = app.act(token, id, body).await;
        assert_eq!(s, 200, "{v}");
    }
    let (_, card) = app.get(&admin, &format!("/api/v1/incidents/{id}")).await;
    let inc = &card["incident"];
    // Published Monday 19:00 MSK, after hours: 63 working hours from Tuesday 09:00 end on Thursday
    // 12 March at 18:00 MSK (Monday 9 March is a holiday).
    assert_eq!(inc["resolution_due"], "2026-03-12T15:00:00Z");
    assert_eq!(inc["first_answer_seconds"], 10 * 3600);
    assert_eq!(inc["first_answer_working_seconds"], 9 * 3600);
    let (_, list) = app.get(&admin, "/api/v1/incidents?overdue=true&count=true").await;
    assert_eq!(list["total"], 0, "the final answer's deadline has not passed");

    // A web-form message on a sub-topic with its own days.
    let cats: serde_json::Value = app.get(&admin, "/api/v1/categories").await.1;
    let topic =
        cats.as_array().unwrap().iter().find(|c| c["form_days"].as_u64() == Some(10)).expect("a 10-day sub-topic");
    let mut m = message("web-1", Some("gryazinsky"));
    m["channel"] = json!("web");
    m["source"] = json!("form");
    m["category"] = topic["code"].clone();
    let (_, v) = app.post(&admin, "/api/v1/messages", m).await;
    let (_, card) = app.get(&admin, &format!("/api/v1/incidents/{}", v["incident_id"])).await;
    assert_eq!(card["incident"]["deadline_policy"], "web-form");
    assert_eq!(card["incident"]["first_answer_due"], "2026-03-12T16:00:00Z");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadline_warnings_and_breaches_are_recorded_once() {
    let app = TestApp::start().await;
    let admin = app.token("admin").await;
    // Monday 09:00 MSK; the first answer is due at 18:00, the warning comes at 80 % (16:12).
    let id = app.ingest(&admin, "sweep-1", Some("gryazinsky")).await;
    app.act(&admin, id, json!({"action": "assign", "org": "adm-gryazinsky"})).await;
    app.clock.advance(chrono::Duration::hours(7));
    assert_eq!(app.workflow.sweep_deadlines(100).await.unwrap().warned, 0, "16:00 is before the warning");
    app.clock.advance(chrono::Duration::minutes(15));
    let r = app.workflow.sweep_deadlines(100).await.unwrap();
    assert_eq!((r.warned, r.breached), (1, 0));
    assert_eq!(app.workflow.sweep_deadlines(100).await.unwrap().warned, 0, "a warning is given once");
    app.clock.advance(chrono::Duration::hours(2));
    let r = app.workflow.sweep_deadlines(100).await.unwrap();
    assert_eq!((r.warned, r.breached), (0, 1));
    let r = app.workflow.sweep_deadlines(100).await.unwrap();
    assert_eq!((r.warned, r.breached), (0, 0), "a breach is recorded once");
    let (_, card) = app.get(&admin, &format!("/api/v1/incidents/{id}")).await;
    let events: Vec<&serde_json::Value> = card["history"].as_array().unwrap().iter().collect();
    let warning = events.iter().find(|e| e["action"] == "deadline_warning").unwrap();
    assert!(warning["note"].as_str().unwrap().contains("the first answer is due 2026-03-02T15:00:00"), "{warning}");
    let breach = events.iter().find(|e| e["action"] == "deadline_breached").unwrap();
    assert!(breach["note"].as_str().unwrap().contains("escalated to the head of `adm-gryazinsky`"), "{breach}");
    assert_eq!(breach["actor"], "system");
    // Still listed as overdue: recording the breach does not hide it.
    let (_, list) = app.get(&admin, "/api/v1/incidents?overdue=true&count=true").await;
    assert_eq!(list["total"], 1);
    // Each further span of the allowed time (9 h) overdue climbs one level of the chain.
    app.clock.advance(chrono::Duration::hours(8)); // 02:15 next day: not yet
    assert_eq!(app.workflow.sweep_deadlines(100).await.unwrap().escalated, 0);
    app.clock.advance(chrono::Duration::hours(1)); // 03:15: the municipal centre
    assert_eq!(app.workflow.sweep_deadlines(100).await.unwrap().escalated, 1);
    assert_eq!(app.workflow.sweep_deadlines(100).await.unwrap().escalated, 0);
    app.clock.advance(chrono::Duration::hours(9)); // 12:15: the regional centre
    assert_eq!(app.workflow.sweep_deadlines(100).await.unwrap().escalated, 1);
    app.clock.advance(chrono::Duration::hours(48));
    assert_eq!(app.workflow.sweep_deadlines(100).await.unwrap().escalated, 0, "the chain ends at the region");
    let (_, card) = app.get(&admin, &format!("/api/v1/incidents/{id}")).await;
    assert_eq!(card["incident"]["escalation_level"], 3);
    let notes: Vec<&str> = card["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "deadline_escalated")
        .map(|e| e["note"].as_str().unwrap())
        .collect();
    assert_eq!(notes.len(), 2);
    assert!(notes[0].contains("the municipal centre `adm-gryazinsky`"), "{notes:?}");
    assert!(notes[1].contains("the regional centre `lipetsk-cur`"), "{notes:?}");
    let curator = app.token("curator-lipetsk").await;
    let (_, list) = app.get(&curator, "/api/v1/notifications").await;
    assert!(list.as_array().unwrap().iter().any(|n| n["kind"] == "deadline_escalated" && n["org"] == "lipetsk-cur"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadlines_are_recomputed_after_a_policy_change() {
    let app = TestApp::start().await;
    let admin = app.token("admin").await;
    let a = app.ingest(&admin, "re-1", Some("gryazinsky")).await;
    let b = app.ingest(&admin, "re-2", Some("yelets-city")).await;
    app.act(&admin, b, json!({"action": "reject", "reason": "spam"})).await;
    let social = json!({"code": "social", "channels": ["vk", "ok", "telegram", "max"], "first_answer": "4wh",
        "final_after_intermediate": "7wd"});
    let (s, v) = app.call(&admin, reqwest::Method::PUT, "/api/v1/deadline-policies/social", Some(social)).await;
    assert_eq!(s, 200, "{v}");
    let n = app.workflow.recompute_deadlines(1).await.unwrap();
    assert_eq!(n, 1, "only unfinished incidents are recomputed");
    let (_, card) = app.get(&admin, &format!("/api/v1/incidents/{a}")).await;
    assert_eq!(card["incident"]["first_answer_due"], "2026-03-02T10:00:00Z", "09:00 MSK + 4 working hours");
    let (_, card) = app.get(&admin, &format!("/api/v1/incidents/{b}")).await;
    assert_eq!(card["incident"]["first_answer_due"], "2026-03-02T15:00:00Z", "a rejected incident keeps its deadline");
    // The deadline sort and the overdue filter follow the new instants.
    app.clock.advance(chrono::Duration::hours(5));
    let (_, list) = app.get(&admin, "/api/v1/incidents?overdue=true&count=true").await;
    assert_eq!(list["total"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadlines_count_the_responsible_organisations_working_hours() {
    let app = TestApp::start().await;
    let admin = app.token("admin").await;
    let social = json!({"code": "social", "channels": ["vk"], "first_answer": "3wh"});
    app.call(&admin, reqwest::Method::PUT, "/api/v1/deadline-policies/social", Some(social)).await;
    // Default hours: Monday 09:00 MSK + 3 working hours = 12:00 MSK.
    let a = app.ingest(&admin, "hours-1", Some("gryazinsky")).await;
    let (_, card) = app.get(&admin, &format!("/api/v1/incidents/{a}")).await;
    assert_eq!(card["incident"]["first_answer_due"], "2026-03-02T09:00:00Z");
    // The administration routing proposes works 10:00–14:00.
    let (_, orgs) = app.get(&admin, "/api/v1/organisations").await;
    let mut org = orgs.as_array().unwrap().iter().find(|o| o["code"] == "adm-gryazinsky").unwrap().clone();
    org["working_hours"] = json!("14:00-10:00");
    let (s, e) =
        app.call(&admin, reqwest::Method::PUT, "/api/v1/organisations/adm-gryazinsky", Some(org.clone())).await;
    assert_eq!(s, 422, "{e}");
    org["working_hours"] = json!("10:00-14:00");
    let (s, e) = app.call(&admin, reqwest::Method::PUT, "/api/v1/organisations/adm-gryazinsky", Some(org)).await;
    assert_eq!(s, 200, "{e}");
    let b = app.ingest(&admin, "hours-2", Some("gryazinsky")).await;
    let (_, card) = app.get(&admin, &format!("/api/v1/incidents/{b}")).await;
    assert_eq!(card["incident"]["first_answer_due"], "2026-03-02T10:00:00Z", "10:00 + 3 h = 13:00 MSK");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_for_the_citizen_pauses_deadlines_and_closes_after_three_days() {
    let app = TestApp::start().await;
    let admin = app.token("admin").await;
    let executor = app.token("executor-gryazi").await;
    let id = app.ingest(&admin, "wait-1", Some("gryazinsky")).await;
    app.act(&admin, id, json!({"action": "assign", "org": "adm-gryazinsky"})).await;
    app.act(&executor, id, json!({"action": "take"})).await;
    let (_, card) = app.get(&admin, &format!("/api/v1/incidents/{id}")).await;
    let due = card["incident"]["first_answer_due"].as_str().unwrap().to_string();
    assert_eq!(due, "2026-03-02T15:00:00Z");

    // A clarifying question pauses the clock; nothing is overdue while waiting.
    let (s, inc) =
        app.act(&executor, id, json!({"action": "ask_citizen", "question": "Уточните номер дома, пожалуйста"})).await;
    assert_eq!((s.as_u16(), inc["status"].as_str()), (200, Some("waiting_citizen")));
    app.clock.advance(chrono::Duration::hours(24));
    let (_, list) = app.get(&admin, "/api/v1/incidents?overdue=true&count=true").await;
    assert_eq!(list["total"], 0);
    assert_eq!(app.workflow.sweep_deadlines(100).await.unwrap().breached, 0);
    // The citizen answered: the deadline moves by the time spent waiting.
    let (s, inc) = app.act(&executor, id, json!({"action": "resume", "note": "житель ответил"})).await;
    assert_eq!((s.as_u16(), inc["status"].as_str()), (200, Some("in_work")));
    assert_eq!(inc["first_answer_due"], "2026-03-03T15:00:00Z");
    assert_eq!(inc["paused_seconds"], 24 * 3600);
    // Recomputing keeps the pause: nothing moves, and after a policy change the new deadline
    // is shifted by the same day.
    assert_eq!(app.workflow.recompute_deadlines(10).await.unwrap(), 0);
    let social = json!({"code": "social", "channels": ["vk", "ok", "telegram", "max"], "first_answer": "4wh",
        "final_after_intermediate": "7wd"});
    app.call(&admin, reqwest::Method::PUT, "/api/v1/deadline-policies/social", Some(social)).await;
    assert_eq!(app.workflow.recompute_deadlines(10).await.unwrap(), 1);
    let (_, card) = app.get(&admin, &format!("/api/v1/incidents/{id}")).await;
    assert_eq!(card["incident"]["first_answer_due"], "2026-03-03T10:00:00Z", "13:00 MSK + the day waited");

    // Asked again and no reply for three days: closed by the sweep.
    app.act(&executor, id, json!({"action": "ask_citizen", "question": "Пришлите фото"})).await;
    app.clock.advance(chrono::Duration::hours(71));
    assert_eq!(app.workflow.sweep_deadlines(100).await.unwrap().auto_closed, 0);
    app.clock.advance(chrono::Duration::hours(2));
    assert_eq!(app.workflow.sweep_deadlines(100).await.unwrap().auto_closed, 1);
    let (_, card) = app.get(&admin, &format!("/api/v1/incidents/{id}")).await;
    assert_eq!(card["incident"]["status"], "closed");
    let last = card["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!((last["action"].as_str(), last["actor"].as_str()), (Some("auto_close"), Some("system")));
    assert!(card["incident"]["closure_seconds"].as_i64().unwrap() > 0);
    assert_eq!(app.workflow.sweep_deadlines(100).await.unwrap().auto_closed, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn breaches_notify_the_organisation_and_the_signed_webhook() {
    use axum::body::Bytes;
    use axum::http::HeaderMap;
    let app = TestApp::start().await;
    let admin = app.token("admin").await;
    let head = app.token("head-gryazi").await;
    let executor = app.token("executor-gryazi").await;
    let yelets = app.token("operator-yelets").await;
    let id = app.ingest(&admin, "notify-1", Some("gryazinsky")).await;
    app.act(&admin, id, json!({"action": "assign", "org": "adm-gryazinsky"})).await;
    app.clock.advance(chrono::Duration::hours(10));
    let r = app.workflow.sweep_deadlines(100).await.unwrap();
    assert_eq!(r.breached, 1);
    let (s, list) = app.get(&head, "/api/v1/notifications").await;
    assert_eq!(s, 200);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["kind"], "deadline_breached");
    assert_eq!(list[0]["incident_id"], id);
    assert!(list[0]["text"].as_str().unwrap().contains("escalated"));
    assert_eq!(app.get(&executor, "/api/v1/notifications").await.1.as_array().unwrap().len(), 1);
    assert!(app.get(&yelets, "/api/v1/notifications").await.1.as_array().unwrap().is_empty(), "out of scope");

    // The webhook receives it signed; a failing receiver is retried, then succeeds once.
    // (signature header, body) of each delivery.
    type Received = std::sync::Arc<std::sync::Mutex<Vec<(String, Vec<u8>)>>>;
    let got: Received = Default::default();
    let fail_first = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let (g, f) = (got.clone(), fail_first.clone());
    let receiver = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let (g, f) = (g.clone(), f.clone());
            async move {
                if f.swap(false, std::sync::atomic::Ordering::SeqCst) {
                    return axum::http::StatusCode::SERVICE_UNAVAILABLE;
                }
                let sig = headers["x-otklik-signature"].to_str().unwrap().to_string();
                g.lock().unwrap().push((sig, body.to_vec()));
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, receiver).await });
    let client = reqwest::Client::new();
    let store = app.store.clone();
    let n = otklik_server::webhook::deliver_pending(&*store, &client, &url, "s3cret").await.unwrap();
    assert_eq!(n, 0, "the receiver failed the first time");
    let n = otklik_server::webhook::deliver_pending(&*store, &client, &url, "s3cret").await.unwrap();
    assert_eq!(n, 1);
    let n = otklik_server::webhook::deliver_pending(&*store, &client, &url, "s3cret").await.unwrap();
    assert_eq!(n, 0, "delivered exactly once");
    let got = got.lock().unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, otklik_server::webhook::signature("s3cret", &got[0].1));
    let body: serde_json::Value = serde_json::from_slice(&got[0].1).unwrap();
    assert_eq!(body["kind"], "deadline_breached");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_restarts_the_clock_and_recomputation_counts_from_it() {
    let app = TestApp::start().await;
    let admin = app.token("admin").await;
    let curator = app.token("curator-lipetsk").await;
    // Monday 2 March 2026, 09:00 MSK; nine working hours end at 18:00.
    let id = app.ingest(&admin, "restart-1", Some("gryazinsky")).await;
    app.act(&curator, id, json!({"action": "assign", "org": "adm-gryazinsky"})).await;
    app.clock.advance(chrono::Duration::hours(2));
    let (s, inc) = app
        .act(&curator, id, json!({"action": "redirect", "org": "lipetsk-gzhi", "reason": "Вопрос жилищной инспекции"}))
        .await;
    assert_eq!(s, 200, "{inc}");
    // Restarted at 11:00: 9 working hours run to Tuesday 11:00 MSK.
    assert_eq!(inc["clock_started_at"], "2026-03-02T08:00:00Z");
    assert_eq!(inc["first_answer_due"], "2026-03-03T08:00:00Z");
    // After a policy change the deadline counts from the redirect, not from the capture.
    let social = json!({"code": "social", "channels": ["vk", "ok", "telegram", "max"], "first_answer": "4wh",
        "final_after_intermediate": "7wd"});
    let (s, v) = app.call(&admin, reqwest::Method::PUT, "/api/v1/deadline-policies/social", Some(social)).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(app.workflow.recompute_deadlines(10).await.unwrap(), 1);
    let (_, card) = app.get(&admin, &format!("/api/v1/incidents/{id}")).await;
    assert_eq!(card["incident"]["first_answer_due"], "2026-03-02T12:00:00Z", "11:00 MSK + 4 working hours");
    // Nothing moves on a second pass.
    assert_eq!(app.workflow.recompute_deadlines(10).await.unwrap(), 0);
}

/// A formal appeal (59-ФЗ) arriving by e-mail.
fn formal_appeal(ext: &str) -> serde_json::Value {
    let mut m = message(ext, Some("gryazinsky"));
    m["channel"] = json!("email");
    m["source"] = json!("mail");
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn formal_appeals_have_registration_redirect_and_one_extension() {
    let app = TestApp::start().await;
    let admin = app.token("admin").await;
    let curator = app.token("curator-lipetsk").await;
    let head = app.token("head-gryazi").await;
    let (s, v) = app.post(&admin, "/api/v1/messages", formal_appeal("fz-1")).await;
    assert_eq!(s, 201, "{v}");
    let id = v["incident_id"].as_i64().unwrap();
    let (_, card) = app.get(&admin, &format!("/api/v1/incidents/{id}")).await;
    let inc = &card["incident"];
    assert_eq!(inc["deadline_policy"], "formal-59fz");
    // Registration within 3 days, redirect within 7, an answer within 30 (from 09:00 MSK, 2 March).
    assert_eq!(inc["registration_due"], "2026-03-05T06:00:00Z");
    assert_eq!(inc["redirect_due"], "2026-03-09T06:00:00Z");
    assert_eq!(inc["resolution_due"], "2026-04-01T06:00:00Z");
    // Unregistered after three days: overdue, and the sweep records the breach of registration.
    app.clock.advance(chrono::Duration::days(3) + chrono::Duration::hours(1));
    let (_, list) = app.get(&admin, "/api/v1/incidents?overdue=true&count=true").await;
    assert_eq!(list["total"], 1, "registration is late");
    assert_eq!(app.workflow.sweep_deadlines(100).await.unwrap().breached, 1);
    let (_, card) = app.get(&admin, &format!("/api/v1/incidents/{id}")).await;
    let breach =
        card["history"].as_array().unwrap().iter().find(|e| e["action"] == "deadline_breached").unwrap().clone();
    assert!(breach["note"].as_str().unwrap().starts_with("the registration was due 2026-03-05T06:00:00"), "{breach}");
    // Registered (moderated and assigned): the answer deadline is what runs now.
    for body in [
        json!({"action": "moderate", "kind": "complaint", "category": "roads.surface.potholes"}),
        json!({"action": "assign", "org": "adm-gryazinsky"}),
    ] {
        let (s, v) = app.act(&curator, id, body).await;
        assert_eq!(s, 200, "{v}");
    }
    let (_, list) = app.get(&admin, "/api/v1/incidents?overdue=true&count=true").await;
    assert_eq!(list["total"], 0, "registered; the answer is due in April");
    // One extension of 30 days, with a reason; a second is refused and changes nothing.
    let (s, _) = app.act(&head, id, json!({"action": "extend", "reason": " "})).await;
    assert_eq!(s, 422, "a reason is required");
    let (s, inc) = app.act(&head, id, json!({"action": "extend", "reason": "Нужна экспертиза покрытия"})).await;
    assert_eq!(s, 200, "{inc}");
    assert_eq!(inc["resolution_due"], "2026-05-01T06:00:00Z");
    let (s, e) = app.act(&head, id, json!({"action": "extend", "reason": "ещё раз"})).await;
    assert_eq!(s, 409, "{e}");
    let (_, card) = app.get(&admin, &format!("/api/v1/incidents/{id}")).await;
    assert_eq!(card["incident"]["resolution_due"], "2026-05-01T06:00:00Z");
    // Recomputation keeps the extension.
    assert_eq!(app.workflow.recompute_deadlines(10).await.unwrap(), 0);
    // A redirect after the 7-day term is made, and the history says it was late.
    app.clock.advance(chrono::Duration::days(5));
    let (s, inc) =
        app.act(&head, id, json!({"action": "redirect", "org": "lipetsk-gzhi", "reason": "По компетенции"})).await;
    assert_eq!(s, 200, "{inc}");
    assert_eq!(inc["resolution_due"], "2026-05-01T06:00:00Z", "a formal appeal's clock does not restart");
    let (_, card) = app.get(&admin, &format!("/api/v1/incidents/{id}")).await;
    let redirect = card["history"].as_array().unwrap().iter().find(|e| e["action"] == "redirect").unwrap().clone();
    assert!(redirect["note"].as_str().unwrap().contains("срок переадресации истёк 09.03.2026"), "{redirect}");
    // A social-network incident has no extension.
    let other = app.ingest(&admin, "fz-social", Some("gryazinsky")).await;
    app.act(&curator, other, json!({"action": "assign", "org": "adm-gryazinsky"})).await;
    let (s, e) = app.act(&head, other, json!({"action": "extend", "reason": "x"})).await;
    assert_eq!(s, 422, "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn co_executors_see_the_incident_and_contribute_while_the_lead_answers() {
    let app = TestApp::start().await;
    let admin = app.token("admin").await;
    let curator = app.token("curator-lipetsk").await;
    let lead = app.token("executor-gryazi").await;
    let co = app.token("executor-yelets").await;
    let id = app.ingest(&admin, "co-1", Some("gryazinsky")).await;
    app.act(&curator, id, json!({"action": "assign", "org": "adm-gryazinsky"})).await;
    let (s, _) = app.get(&co, &format!("/api/v1/incidents/{id}")).await;
    assert_eq!(s, 404, "not yet a co-executor");
    let (s, e) = app.act(&curator, id, json!({"action": "add_co_executor", "org": "adm-gryazinsky"})).await;
    assert_eq!(s, 422, "the lead is not its own co-executor: {e}");
    let (s, e) = app.act(&curator, id, json!({"action": "add_co_executor", "org": "adm-spb-frunzensky"})).await;
    assert_eq!(s, 422, "another region's organisation is out of reach: {e}");
    let (s, inc) = app
        .act(&curator, id, json!({"action": "add_co_executor", "org": "adm-yelets-city", "note": "смежный участок"}))
        .await;
    assert_eq!(s, 200, "{inc}");
    assert_eq!(inc["co_orgs"], json!(["adm-yelets-city"]));
    let (s, e) = app.act(&curator, id, json!({"action": "add_co_executor", "org": "adm-yelets-city"})).await;
    assert_eq!(s, 409, "{e}");
    // The co-executor sees it, in its queue too, is told, and may only contribute.
    let (s, card) = app.get(&co, &format!("/api/v1/incidents/{id}")).await;
    assert_eq!(s, 200, "{card}");
    assert_eq!(card["allowed_actions"], json!(["contribute"]));
    let (_, list) = app.get(&co, "/api/v1/incidents").await;
    assert!(list["items"].as_array().unwrap().iter().any(|i| i["id"] == id), "{list}");
    let (_, notes) = app.get(&co, "/api/v1/notifications").await;
    assert!(notes.as_array().unwrap().iter().any(|n| n["kind"] == "co_executor_added" && n["incident_id"] == id));
    let (s, _) = app.act(&co, id, json!({"action": "take"})).await;
    assert_eq!(s, 403, "a co-executor does not take the lead's work");
    let (s, inc) =
        app.act(&co, id, json!({"action": "contribute", "text": "Наш участок дороги отремонтируем до пятницы"})).await;
    assert_eq!(s, 200, "{inc}");
    let (s, _) = app.act(&lead, id, json!({"action": "take"})).await;
    assert_eq!(s, 200);
    let (_, card) = app.get(&lead, &format!("/api/v1/incidents/{id}")).await;
    let contribution = card["history"].as_array().unwrap().iter().find(|e| e["action"] == "contribute").unwrap();
    assert_eq!(contribution["note"], "Наш участок дороги отремонтируем до пятницы");
    // Removed: the co-executor no longer sees it.
    let (s, e) = app.act(&curator, id, json!({"action": "remove_co_executor", "org": "adm-yelets-city"})).await;
    assert_eq!(s, 200, "{e}");
    let (s, _) = app.get(&co, &format!("/api/v1/incidents/{id}")).await;
    assert_eq!(s, 404);
    // Redirecting to a co-executor makes it the lead and no longer a co-executor.
    app.act(&curator, id, json!({"action": "add_co_executor", "org": "adm-yelets-city"})).await;
    let (s, inc) =
        app.act(&curator, id, json!({"action": "redirect", "org": "adm-yelets-city", "reason": "их участок"})).await;
    assert_eq!(s, 200, "{inc}");
    assert_eq!((inc["org"].as_str(), inc["co_orgs"].clone()), (Some("adm-yelets-city"), json!([])));
}
