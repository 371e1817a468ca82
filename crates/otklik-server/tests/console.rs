//! The operator console over real HTTP (without a browser): login and logout, the scoped queue
//! with filters and counters, the card with its actions guarded by the CSRF token, the review
//! queue, and hostile citizen text shown inert.

mod common;

use common::{Browser, PASSWORD, TestApp, message};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_is_required_and_wrong_passwords_are_refused() {
    let app = TestApp::start().await;
    let b = Browser::new(&app);
    let (s, _) = b.get("/queue?status=new").await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let res = b.client.get(format!("{}/queue?status=new", b.base)).send().await.unwrap();
    assert_eq!(res.headers()["location"], "/login?next=%2Fqueue%3Fstatus%3Dnew");
    let (s, page) = b.get("/login?next=//evil.example").await;
    assert_eq!(s, 200);
    assert!(page.contains(r#"name="next" value="/queue""#), "no open redirect");
    assert!(page.contains(r#"<label for="login">Логин</label>"#));
    let res = b
        .client
        .post(format!("{}/login", b.base))
        .form(&[("login", "admin"), ("password", "wrong")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(res.text().await.unwrap().contains("Неверный логин или пароль"));

    let b = Browser::login(&app, "operator-gryazi").await;
    let (s, page) = b.get("/queue").await;
    assert_eq!(s, 200);
    assert!(page.contains("Очередь обращений"));
    assert!(page.contains("User operator-gryazi"));
    assert!(page.contains(r#"href="/review""#), "control centres review answers");
    assert!(!page.contains(r#"href="/admin""#), "only administrators administer");
    let csrf = Browser::csrf(&page);
    let res = b.client.post(format!("{}/logout", b.base)).form(&[("_csrf", csrf.as_str())]).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(b.get("/queue").await.0, StatusCode::SEE_OTHER, "the session is over");

    let executor = Browser::login(&app, "executor-gryazi").await;
    let (_, page) = executor.get("/queue").await;
    assert!(!page.contains(r#"href="/review""#), "executors do not review");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_is_scoped_filtered_and_counted() {
    let app = TestApp::start().await;
    let admin = app.token("admin").await;
    let gryazi = app.ingest(&admin, "q-1", Some("gryazinsky")).await;
    let yelets = app.ingest(&admin, "q-2", Some("yelets-city")).await;
    let mut urgent = message("q-3", Some("gryazinsky"));
    urgent["text"] = json!("Провод оборван и лежит на тротуаре у школы");
    let (s, v) = app.post(&admin, "/api/v1/messages", urgent).await;
    assert_eq!(s, 201);
    let third = v["incident_id"].as_i64().unwrap();
    app.act(&admin, third, json!({"action": "moderate", "urgent": true, "category": "energy"})).await;

    let b = Browser::login(&app, "operator-gryazi").await;
    let (_, page) = b.get("/queue").await;
    assert!(page.contains(&format!(r#"href="/incidents/{gryazi}""#)));
    assert!(!page.contains(&format!(r#"href="/incidents/{yelets}""#)), "another municipality is out of scope");
    let (_, rows) = b.get("/queue/rows?urgent=true").await;
    assert!(rows.contains(&format!(r#"href="/incidents/{third}""#)));
    assert!(!rows.contains(&format!(r#"href="/incidents/{gryazi}""#)));
    let (_, rows) = b.get("/queue/rows?status=moderated").await;
    assert!(
        rows.contains(&format!(r#"href="/incidents/{third}""#)) && !rows.contains(&format!("/incidents/{gryazi}\""))
    );
    let (_, rows) = b.get("/queue/rows?q=%D0%BE%D0%B1%D0%BE%D1%80%D0%B2%D0%B0%D0%BD").await; // «оборван»
    assert!(rows.contains(&format!("/incidents/{third}\"")) && !rows.contains(&format!("/incidents/{gryazi}\"")));
    let (_, counts) = b.get("/queue/counts").await;
    assert!(counts.contains("<span class=\"n\">2</span> Открыто"), "{counts}");
    assert!(counts.contains("<span class=\"n\">1</span> Срочных"), "{counts}");
    let (s, _) = b.get("/queue/rows?territory=nowhere").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // Out of scope reads as not found.
    assert_eq!(b.get(&format!("/incidents/{yelets}")).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_is_worked_from_intake_to_a_published_answer() {
    let app = TestApp::start().await;
    let admin = app.token("admin").await;
    let mut m = message("c-1", Some("gryazinsky"));
    m["text"] = json!("Яма <script>alert(1)</script> на Правды & \"кавычки\"");
    let (_, v) = app.post(&admin, "/api/v1/messages", m).await;
    let id = v["incident_id"].as_i64().unwrap();

    let operator = Browser::login(&app, "operator-gryazi").await;
    let (s, page) = operator.get(&format!("/incidents/{id}")).await;
    assert_eq!(s, 200);
    assert!(!page.contains("<script>alert(1)</script>"), "citizen text is escaped");
    assert!(page.contains("Яма &#60;script&#62;alert(1)&#60;/script&#62; на Правды &#38; &#34;кавычки&#34;"));
    assert!(page.contains("Подтвердить классификацию"));
    let csrf = Browser::csrf(&page);

    // Without the token, nothing happens.
    let (s, page) = operator.act(id, "forged", &[("action", "assign"), ("org", "adm-gryazinsky")]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("Форма устарела"));
    let (_, card) = app.get(&admin, &format!("/api/v1/incidents/{id}")).await;
    assert_eq!(card["incident"]["status"], "new");

    let (s, _) = operator.act(id, &csrf, &[("action", "assign"), ("org", "adm-gryazinsky")]).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    // A stale version is refused with an explanation.
    let (s, page) = operator.act(id, &csrf, &[("action", "reject"), ("reason", "spam"), ("version", "1")]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("изменил кто-то другой"), "{page}");

    let executor = Browser::login(&app, "executor-gryazi").await;
    let (_, page) = executor.get(&format!("/incidents/{id}")).await;
    assert!(page.contains("Взять в работу"));
    assert!(!page.contains("Согласовать ответ"));
    let ecsrf = Browser::csrf(&page);
    assert_eq!(executor.act(id, &ecsrf, &[("action", "take")]).await.0, StatusCode::SEE_OTHER);
    let (_, page) = executor.get(&format!("/incidents/{id}")).await;
    assert!(page.contains("Работы выполнены"), "answer templates are offered");
    let draft = [("action", "draft_answer"), ("kind", "final"), ("text", "Яма заделана 5 марта.")];
    assert_eq!(executor.act(id, &ecsrf, &draft).await.0, StatusCode::SEE_OTHER);
    assert_eq!(executor.act(id, &ecsrf, &[("action", "submit_for_review")]).await.0, StatusCode::SEE_OTHER);

    let (_, review) = operator.get("/review").await;
    assert!(review.contains(&format!("№ {id}")) && review.contains("Яма заделана 5 марта."));
    let back = [("action", "return_for_rework"), ("reason", "no_proof"), ("comment", "Приложите фото")];
    assert_eq!(operator.act(id, &csrf, &back).await.0, StatusCode::SEE_OTHER);
    let (_, page) = executor.get(&format!("/incidents/{id}")).await;
    assert!(page.contains("Нет подтверждения (фото): Приложите фото"));
    assert_eq!(executor.act(id, &ecsrf, &draft).await.0, StatusCode::SEE_OTHER);
    assert_eq!(executor.act(id, &ecsrf, &[("action", "submit_for_review")]).await.0, StatusCode::SEE_OTHER);
    assert_eq!(operator.act(id, &csrf, &[("action", "approve")]).await.0, StatusCode::SEE_OTHER);
    assert_eq!(operator.act(id, &csrf, &[("action", "publish")]).await.0, StatusCode::SEE_OTHER);
    let (_, page) = operator.get(&format!("/incidents/{id}")).await;
    assert!(page.contains("Дан ответ"));
    assert!(page.contains("опубликован"));
    assert!(page.contains("ВК: ожидает отправки"), "the delivery is shown");
    let (_, card) = app.get(&admin, &format!("/api/v1/incidents/{id}")).await;
    assert_eq!(card["incident"]["status"], "answered");
    let actions: Vec<&str> =
        card["history"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert!(actions.contains(&"return_for_rework") && actions.contains(&"publish_final"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_serve_their_own_assets_under_a_strict_policy() {
    let app = TestApp::start().await;
    let b = Browser::login(&app, "admin").await;
    let res = b.client.get(format!("{}/queue", b.base)).send().await.unwrap();
    let csp = res.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
    let page = res.text().await.unwrap();
    assert!(!page.contains("https://") && !page.contains("http://"), "no outside asset");
    for path in ["/assets/console.css", "/assets/console.js", "/assets/vendor/htmx.min.js"] {
        let r = b.client.get(format!("{}{path}", b.base)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
    let r = b.client.get(format!("{}/events", b.base)).send().await.unwrap();
    assert_eq!(r.headers()["content-type"], "text/event-stream");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overview_counts_the_scope_and_links_to_its_queues() {
    let app = TestApp::start().await;
    let admin = app.token("admin").await;
    for i in 0..3 {
        app.ingest(&admin, &format!("o-{i}"), Some("gryazinsky")).await;
    }
    app.ingest(&admin, "o-y", Some("yelets-city")).await;
    let b = Browser::login(&app, "operator-gryazi").await;
    let (s, page) = b.get("/overview?period=today").await;
    assert_eq!(s, 200);
    assert!(page.contains(r#"<span class="n">3</span> поступило"#), "only the scope counts: {page}");
    assert!(page.contains(r#"href="/queue?status=all&amp;territory=gryazinsky""#), "each number links to its queue");
    assert!(page.contains("Грязинский"));
    assert!(!page.contains("Елец"));
    let (_, all) = Browser::login(&app, "admin").await.get("/overview?period=30").await;
    assert!(all.contains(r#"<span class="n">4</span> поступило"#));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn administrators_see_the_reference_data_users_and_channels() {
    let app = TestApp::start().await;
    let b = Browser::login(&app, "admin").await;
    let (s, page) = b.get("/admin").await;
    assert_eq!(s, 200);
    for part in [
        "Каналы и их состояние",
        "operator-gryazi",
        "municipal_operator: gryazinsky",
        "Администрация Грязинского",
        "Правила маршрутизации",
        "Политики сроков",
        "2025, 2026, 2027",
        "Все годы — из встроенных файлов.",
    ] {
        assert!(page.contains(part), "{part}");
    }
    let operator = Browser::login(&app, "operator-gryazi").await;
    assert_eq!(operator.get("/admin").await.0, StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn administrators_create_and_disable_accounts() {
    let app = TestApp::start().await;
    let admin = Browser::login(&app, "admin").await;
    let (_, page) = admin.get("/admin").await;
    let csrf = Browser::csrf(&page);
    let post = |path: &'static str, fields: Vec<(&'static str, String)>| {
        let c = admin.client.clone();
        let url = format!("{}{path}", admin.base);
        async move { c.post(url).form(&fields).send().await.unwrap() }
    };
    let mut fields = vec![
        ("_csrf", csrf.clone()),
        ("login", "ivanova".to_string()),
        ("name", "Иванова А. П.".to_string()),
        ("password", PASSWORD.to_string()),
        ("role", "municipal_operator".to_string()),
        ("node", "nowhere".to_string()),
    ];
    let res = post("/admin/users", fields.clone()).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.text().await.unwrap().contains("Пользователь не создан. Нет территории «nowhere» для роли оператор МЦУ.")
    );
    fields[5].1 = "gryazinsky".into();
    let mut forged = fields.clone();
    forged[0].1 = "forged".into();
    assert_eq!(post("/admin/users", forged).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(post("/admin/users", fields.clone()).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(post("/admin/users", fields).await.status(), StatusCode::UNPROCESSABLE_ENTITY, "a login is taken once");
    let ivanova = Browser::login(&app, "ivanova").await;
    assert_eq!(ivanova.get("/queue").await.0, StatusCode::OK);

    let (id, _) = app.store.user_by_login("ivanova").await.unwrap().unwrap();
    let res = admin
        .client
        .post(format!("{}/admin/users/{}/active", admin.base, id.id))
        .form(&[("_csrf", csrf.as_str()), ("active", "0")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(ivanova.get("/queue").await.0, StatusCode::SEE_OTHER, "a disabled account is logged out");
    let operator = Browser::login(&app, "operator-gryazi").await;
    let (_, op_page) = operator.get("/queue").await;
    let res = operator
        .client
        .post(format!("{}/admin/users", operator.base))
        .form(&[
            ("_csrf", Browser::csrf(&op_page).as_str()),
            ("login", "x1"),
            ("name", "x"),
            ("password", PASSWORD),
            ("role", "admin"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "only administrators create accounts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_is_merged_and_the_answer_goes_to_every_citizen() {
    let app = TestApp::start().await;
    let admin = app.token("admin").await;
    let main = app.ingest(&admin, "dup-1", Some("gryazinsky")).await;
    let dup = app.ingest(&admin, "dup-2", Some("gryazinsky")).await;
    let other = app.ingest(&admin, "dup-3", Some("yelets-city")).await;
    let operator = Browser::login(&app, "operator-gryazi").await;
    let (_, page) = operator.get(&format!("/incidents/{dup}")).await;
    assert!(page.contains("Объединить как дубликат"));
    let csrf = Browser::csrf(&page);
    // Not into itself, nor into an incident out of the operator's scope.
    let (s, page) = operator.act(dup, &csrf, &[("action", "merge"), ("into", &dup.to_string())]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    let (s, _) = operator.act(dup, &csrf, &[("action", "merge"), ("into", &other.to_string())]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _) = operator.act(dup, &csrf, &[("action", "merge"), ("into", &format!("№ {main}"))]).await;
    assert_eq!(s, StatusCode::SEE_OTHER);

    let (_, card) = app.get(&admin, &format!("/api/v1/incidents/{main}")).await;
    assert_eq!(card["messages"].as_array().unwrap().len(), 2, "the duplicate's message joined");
    assert_eq!(card["history"].as_array().unwrap().last().unwrap()["action"], "merged");
    let (_, gone) = app.get(&admin, &format!("/api/v1/incidents/{dup}")).await;
    assert_eq!(gone["incident"]["status"], "rejected");
    assert!(
        gone["history"].as_array().unwrap().last().unwrap()["note"].as_str().unwrap().contains(&format!("№ {main}"))
    );
    for body in [
        json!({"action": "assign", "org": "adm-gryazinsky"}),
        json!({"action": "take"}),
        json!({"action": "draft_answer", "kind": "final", "text": "Яма заделана."}),
        json!({"action": "submit_for_review"}),
        json!({"action": "approve"}),
        json!({"action": "publish"}),
    ] {
        let (s, v) = app.act(&admin, main, body).await;
        assert_eq!(s, 200, "{v}");
    }
    let (_, card) = app.get(&admin, &format!("/api/v1/incidents/{main}")).await;
    let targets: Vec<&str> =
        card["answers"][0]["publications"].as_array().unwrap().iter().map(|p| p["target"].as_str().unwrap()).collect();
    assert_eq!(targets.len(), 2, "one delivery per citizen's thread: {targets:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn co_executors_are_added_on_the_card_and_contribute_there() {
    let app = TestApp::start().await;
    let admin = app.token("admin").await;
    let id = app.ingest(&admin, "co-card-1", Some("gryazinsky")).await;
    app.act(&admin, id, json!({"action": "assign", "org": "adm-gryazinsky"})).await;
    let curator = Browser::login(&app, "curator-lipetsk").await;
    let (_, page) = curator.get(&format!("/incidents/{id}")).await;
    assert!(page.contains("Привлечь соисполнителя"), "the form is offered");
    assert!(!page.contains("Снять соисполнителя"), "nobody to remove yet");
    let csrf = Browser::csrf(&page);
    let (s, _) = curator.act(id, &csrf, &[("action", "add_co_executor"), ("org", "adm-yelets-city")]).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let (_, page) = curator.get(&format!("/incidents/{id}")).await;
    assert!(page.contains("<dt>Соисполнители</dt>"), "{page}");
    assert!(page.contains("соисполнители: — →"), "the history names the change in words");
    // The co-executor's card offers only the contribution; what it writes is shown inert.
    let co = Browser::login(&app, "executor-yelets").await;
    let (s, page) = co.get(&format!("/incidents/{id}")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("Добавить вклад в ответ") && !page.contains("Взять в работу"), "{page}");
    let csrf = Browser::csrf(&page);
    let (s, _) =
        co.act(id, &csrf, &[("action", "contribute"), ("text", "Участок наш <script>alert(1)</script>")]).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let (_, page) = co.get(&format!("/incidents/{id}")).await;
    assert!(page.contains("Участок наш &#60;script&#62;") && !page.contains("<script>alert(1)"));
    // Without the form's token nothing happens.
    let (s, _) = co.act(id, "wrong", &[("action", "contribute"), ("text", "ещё")]).await;
    assert_ne!(s, StatusCode::SEE_OTHER);
}
