//! Administration from the console and the API: reference data created and edited through the
//! same whole-reference checks as the API (refusals in Russian, nothing changed), routing rules
//! and deadline policies deleted, role bindings added and removed, answer templates kept in the
//! store and used by the answer editor; only administrators, only with the CSRF token.

mod common;

use common::{Browser, TestApp, message};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn admin_browser(app: &TestApp) -> (Browser, String) {
    let b = Browser::login(app, "admin").await;
    let (s, page) = b.get("/admin").await;
    assert_eq!(s, 200);
    let csrf = Browser::csrf(&page);
    (b, csrf)
}

fn find<'a>(list: &'a Value, key: &str, code: &str) -> Option<&'a Value> {
    list.as_array().unwrap().iter().find(|x| x[key] == code)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organisation_is_edited_and_a_refused_edit_changes_nothing() {
    let app = TestApp::start().await;
    let token = app.token("admin").await;
    let (b, csrf) = admin_browser(&app).await;
    let (s, form) = b.get("/admin/edit/organisations?code=adm-gryazinsky").await;
    assert_eq!(s, 200);
    assert!(form.contains(r#"value="adm-gryazinsky" readonly"#), "the code of an existing record stays");
    assert!(form.contains("Администрация Грязинского муниципального округа Липецкой области"));
    assert!(form.contains(r#"<option value="gryazinsky" selected>"#));

    let fields = |name: &'static str, territory: &'static str| {
        vec![
            ("_csrf", csrf.clone()),
            ("_existing", "1".to_string()),
            ("_code", "adm-gryazinsky".to_string()),
            ("code", "adm-gryazinsky".to_string()),
            ("name", name.to_string()),
            ("kind", "administration".to_string()),
            ("territory", territory.to_string()),
            ("sectors", "roads, waste".to_string()),
            ("working_hours", "08:00-12:00,13:00-17:00".to_string()),
        ]
    };
    let send = |f: Vec<(&'static str, String)>| {
        let b = &b;
        async move {
            let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
            b.form("/admin/edit/organisations", &pairs).await
        }
    };
    // An unknown sector fails the whole-reference check: a Russian reason, nothing stored.
    let mut bad = fields("Новое имя", "gryazinsky");
    bad[7].1 = "roads, mars".into();
    let (s, _, page) = send(bad).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("Изменение не сохранено. Нет направления «mars» в классификаторе."), "{page}");
    assert!(page.contains(r#"value="Новое имя""#), "the form keeps what was typed");
    let (_, orgs) = app.get(&token, "/api/v1/organisations").await;
    let stored = find(&orgs, "code", "adm-gryazinsky").unwrap();
    assert_eq!(stored["name"], "Администрация Грязинского муниципального округа Липецкой области");
    let mut bad = fields("Новое имя", "gryazinsky");
    bad[8].1 = "9-6".into();
    let (s, _, page) = send(bad).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("Неверные часы работы «9-6»: пишите как 08:30-12:30,13:15-17:30."), "{page}");
    // A territory not in the list is refused by the form itself.
    let (s, _, page) = send(fields("Новое имя", "atlantis")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("«Территория»: выберите значение из списка."));
    // Forged or foreign posts change nothing.
    let mut forged = fields("Подделка", "gryazinsky");
    forged[0].1 = "forged".into();
    assert_eq!(send(forged).await.0, StatusCode::FORBIDDEN);
    let operator = Browser::login(&app, "operator-gryazi").await;
    let (_, op_page) = operator.get("/queue").await;
    let op_csrf = Browser::csrf(&op_page);
    assert_eq!(operator.get("/admin/edit/organisations?code=adm-gryazinsky").await.0, StatusCode::FORBIDDEN);
    let (s, _, _) = operator
        .form("/admin/edit/organisations", &[("_csrf", &op_csrf), ("code", "adm-gryazinsky"), ("name", "x")])
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    let (s, location, _) = send(fields("Администрация Грязинского округа", "gryazinsky")).await;
    assert_eq!((s, location.as_str()), (StatusCode::SEE_OTHER, "/admin?saved=organisations#orgs"));
    let (_, orgs) = app.get(&token, "/api/v1/organisations").await;
    let stored = find(&orgs, "code", "adm-gryazinsky").unwrap();
    assert_eq!(stored["name"], "Администрация Грязинского округа");
    assert_eq!(stored["sectors"], json!(["roads", "waste"]));
    assert_eq!(stored["working_hours"], "08:00-12:00,13:00-17:00");
    // The catalog was reloaded: the console names the organisation anew at once.
    let (_, page) = b.get("/admin?saved=organisations").await;
    assert!(page.contains("Изменения сохранены."));
    assert!(page.contains("Администрация Грязинского округа"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routing_rules_are_created_edited_and_deleted_and_routing_follows() {
    let app = TestApp::start().await;
    let token = app.token("admin").await;
    let (b, csrf) = admin_browser(&app).await;
    let suggested = |ext: &'static str| {
        let app = &app;
        let token = &token;
        async move {
            let mut m = message(ext, Some("gryazinsky"));
            m["category"] = json!("waste");
            let (s, v) = app.post(token, "/api/v1/messages", m).await;
            assert_eq!(s, 201, "{v}");
            let (_, card) = app.get(token, &format!("/api/v1/incidents/{}", v["incident_id"])).await;
            card["incident"]["suggested_org"].as_str().unwrap_or_default().to_string()
        }
    };
    assert_eq!(suggested("r-1").await, "lipetsk-waste-operator");
    let (s, page) = b.get("/admin/edit/routing-rules").await;
    assert_eq!(s, 200);
    assert!(page.contains("Правило маршрутизации — новая запись"));
    let rule = |org: &'static str| {
        [
            ("_csrf", csrf.as_str()),
            ("code", "gryazi-waste"),
            ("category", "waste"),
            ("territory", "gryazinsky"),
            ("org", org),
            ("priority", "5"),
        ]
    };
    let (s, _, page) = b.form("/admin/edit/routing-rules", &rule("ghost-org")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("«Исполнитель»: выберите значение из списка."), "{page}");
    let (s, _, _) = b.form("/admin/edit/routing-rules", &rule("adm-gryazinsky")).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert_eq!(suggested("r-2").await, "adm-gryazinsky", "intake routes by the new rule at once");
    let (_, rules) = app.get(&token, "/api/v1/routing-rules").await;
    assert_eq!(find(&rules, "code", "gryazi-waste").unwrap()["priority"], 5);

    let (s, page) = b.get("/admin/edit/routing-rules?code=gryazi-waste").await;
    assert_eq!(s, 200);
    assert!(page.contains("Удалить «gryazi-waste»"));
    assert!(page.contains(r#"<option value="adm-gryazinsky" selected>"#));
    let mut edited = rule("adm-gryazinsky").to_vec();
    edited.extend([("_existing", "1"), ("_code", "gryazi-waste")]);
    edited[5].1 = "7";
    assert_eq!(b.form("/admin/edit/routing-rules", &edited).await.0, StatusCode::SEE_OTHER);
    let (_, rules) = app.get(&token, "/api/v1/routing-rules").await;
    assert_eq!(find(&rules, "code", "gryazi-waste").unwrap()["priority"], 7);
    let (s, _, _) =
        b.form("/admin/edit/routing-rules/delete", &[("_csrf", csrf.as_str()), ("code", "gryazi-waste")]).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert_eq!(suggested("r-3").await, "lipetsk-waste-operator");
    let (s, _, page) =
        b.form("/admin/edit/routing-rules/delete", &[("_csrf", csrf.as_str()), ("code", "gryazi-waste")]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("Не удалено. Запись не найдена."));
    let (s, _, _) =
        b.form("/admin/edit/routing-rules/delete", &[("_csrf", "forged"), ("code", "lipetsk-oblast-waste")]).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(find(&app.get(&token, "/api/v1/routing-rules").await.1, "code", "lipetsk-oblast-waste").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policies_territories_topics_and_sources_are_edited_from_the_console() {
    let app = TestApp::start().await;
    let token = app.token("admin").await;
    let (b, csrf) = admin_browser(&app).await;
    let c = csrf.as_str();
    // A deadline policy: a bad span is refused by the form, one with no deadline by the check.
    let (s, _, page) =
        b.form("/admin/edit/deadline-policies", &[("_csrf", c), ("code", "quick"), ("first_answer", "два часа")]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("«Первый ответ»: срок записывается как 9wh"));
    let (s, _, page) = b.form("/admin/edit/deadline-policies", &[("_csrf", c), ("code", "quick")]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("Политика «quick» не задаёт ни одного срока."), "{page}");
    let policy = [
        ("_csrf", c),
        ("code", "quick"),
        ("channels", "vk, telegram"),
        ("urgent", "true"),
        ("priority", "50"),
        ("first_answer", "2wh"),
        ("restart_on_redirect", "1"),
    ];
    assert_eq!(b.form("/admin/edit/deadline-policies", &policy).await.0, StatusCode::SEE_OTHER);
    let (_, policies) = app.get(&token, "/api/v1/deadline-policies").await;
    let p = find(&policies, "code", "quick").unwrap();
    assert_eq!((p["channels"].clone(), p["urgent"].clone()), (json!(["vk", "telegram"]), json!(true)));
    assert_eq!((p["first_answer"].as_str(), p["restart_on_redirect"].as_bool()), (Some("2wh"), Some(true)));
    let (_, page) = b.get("/admin/edit/deadline-policies?code=quick").await;
    assert!(page.contains(r#"value="vk, telegram""#) && page.contains(r#"<option value="true" selected>"#));
    assert_eq!(
        b.form("/admin/edit/deadline-policies/delete", &[("_csrf", c), ("code", "quick")]).await.0,
        StatusCode::SEE_OTHER
    );
    assert!(find(&app.get(&token, "/api/v1/deadline-policies").await.1, "code", "quick").is_none());

    // A settlement, a sub-topic and a source.
    let settlement = [
        ("_csrf", c),
        ("code", "gryazinsky-novoe"),
        ("name", "Новое"),
        ("full_name", "село Новое"),
        ("level", "settlement"),
        ("parent", "gryazinsky"),
        ("zone", "Europe/Moscow"),
        ("aliases", "в Новом, Новое"),
    ];
    assert_eq!(b.form("/admin/edit/territories", &settlement).await.0, StatusCode::SEE_OTHER);
    let (_, ts) = app.get(&token, "/api/v1/territories").await;
    assert_eq!(find(&ts, "code", "gryazinsky-novoe").unwrap()["aliases"], json!(["в Новом", "Новое"]));
    let mut bad_zone = settlement;
    bad_zone[6].1 = "Mars/Olympus";
    let (s, _, page) = b.form("/admin/edit/territories", &bad_zone).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("Неизвестный часовой пояс «Mars/Olympus»"), "{page}");
    let topic = [("_csrf", c), ("code", "roads.surface.ruts"), ("name", "Колея"), ("form_days", "12")];
    assert_eq!(b.form("/admin/edit/categories", &topic).await.0, StatusCode::SEE_OTHER);
    let (_, cats) = app.get(&token, "/api/v1/categories").await;
    assert_eq!(find(&cats, "code", "roads.surface.ruts").unwrap()["form_days"], 12);
    let orphan = [("_csrf", c), ("code", "roads.nothing.ruts"), ("name", "Сирота")];
    let (s, _, page) = b.form("/admin/edit/categories", &orphan).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("Нет родительской темы «roads.nothing»."), "{page}");
    let source = [
        ("_csrf", c),
        ("channel", "telegram"),
        ("key", "gryazi-chat"),
        ("name", "Чат Грязей"),
        ("territory", "gryazinsky"),
        ("org", "adm-gryazinsky"),
    ];
    assert_eq!(b.form("/admin/edit/sources", &source).await.0, StatusCode::SEE_OTHER);
    let (_, sources) = app.get(&token, "/api/v1/sources").await;
    assert_eq!(find(&sources, "key", "gryazi-chat").unwrap()["territory"], "gryazinsky");
    let (s, page) = b.get("/admin/edit/sources?code=telegram:gryazi-chat").await;
    assert_eq!(s, 200);
    assert!(page.contains("Чат Грязей"));
    assert_eq!(b.get("/admin/edit/sources?code=telegram:nothing").await.0, StatusCode::NOT_FOUND);
    assert_eq!(b.get("/admin/edit/planets").await.0, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn role_bindings_are_added_and_removed() {
    let app = TestApp::start().await;
    let token = app.token("admin").await;
    let gryazi = app.ingest(&token, "g-1", Some("gryazinsky")).await;
    let (b, csrf) = admin_browser(&app).await;
    let (yelets, _) = app.store.user_by_login("operator-yelets").await.unwrap().unwrap();
    let path = format!("/admin/users/{}/grants", yelets.id);
    let operator = Browser::login(&app, "operator-yelets").await;
    assert_eq!(operator.get(&format!("/incidents/{gryazi}")).await.0, StatusCode::NOT_FOUND);

    let (s, _, page) =
        b.form(&path, &[("_csrf", &csrf), ("op", "add"), ("role", "municipal_operator"), ("node", "atlantis")]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("Роли operator-yelets не изменены. Нет территории «atlantis» для роли оператор МЦУ."));
    let add = [("_csrf", csrf.as_str()), ("op", "add"), ("role", "municipal_operator"), ("node", "gryazinsky")];
    let (s, location, _) = b.form(&path, &add).await;
    assert_eq!((s, location.as_str()), (StatusCode::SEE_OTHER, "/admin?saved=users#users"));
    assert_eq!(operator.get(&format!("/incidents/{gryazi}")).await.0, StatusCode::OK, "the new role counts at once");
    let (s, _, page) = b.form(&path, &add).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("уже есть эта роль"));
    let (_, user) = app.get(&token, &format!("/api/v1/users/{}", yelets.id)).await;
    assert_eq!(user["grants"].as_array().unwrap().len(), 2);

    let remove = [("_csrf", csrf.as_str()), ("op", "remove"), ("role", "municipal_operator"), ("node", "gryazinsky")];
    assert_eq!(b.form(&path, &remove).await.0, StatusCode::SEE_OTHER);
    assert_eq!(operator.get(&format!("/incidents/{gryazi}")).await.0, StatusCode::NOT_FOUND);
    let (s, _, page) = b.form(&path, &remove).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("У operator-yelets нет этой роли."));
    let (_, user) = app.get(&token, &format!("/api/v1/users/{}", yelets.id)).await;
    assert_eq!(user["grants"], json!([{"role": "municipal_operator", "node": "yelets-city"}]));

    let (me, _) = app.store.user_by_login("admin").await.unwrap().unwrap();
    let (s, _, page) = b
        .form(&format!("/admin/users/{}/grants", me.id), &[("_csrf", &csrf), ("op", "remove"), ("role", "admin")])
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("Свою роль администратора снять нельзя."));
    let (s, _, _) = b.form(&path, &[("_csrf", "forged"), ("op", "add"), ("role", "admin")]).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (_, user) = app.get(&token, &format!("/api/v1/users/{}", yelets.id)).await;
    assert_eq!(user["grants"].as_array().unwrap().len(), 1, "refused changes change nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answer_templates_are_managed_over_the_api() {
    let app = TestApp::start().await;
    let admin = app.token("admin").await;
    let executor = app.token("executor-gryazi").await;
    let (s, list) = app.get(&executor, "/api/v1/answer-templates").await;
    assert_eq!(s, 200);
    let names: Vec<&str> = list.as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["Принято в работу", "Работы запланированы", "Работы выполнены", "Уточнение"]);

    let body = json!({"name": "Отказ", "text": "По обращению № {номер}: вопрос не в компетенции «{организация}».", "position": 5});
    let (s, v) = app.post(&executor, "/api/v1/answer-templates", body.clone()).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")));
    let (s, created) = app.post(&admin, "/api/v1/answer-templates", body.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    assert_eq!((created["name"].as_str(), created["position"].as_i64()), (Some("Отказ"), Some(5)));
    let (s, v) = app.post(&admin, "/api/v1/answer-templates", body).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("conflict")));
    let (s, v) = app.post(&admin, "/api/v1/answer-templates", json!({"name": "Плохой", "text": "Дата: {дата}"})).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed")));
    assert!(v["error"]["message"].as_str().unwrap().contains("{дата}"));
    let (s, v) = app.post(&admin, "/api/v1/answer-templates", json!({"name": " ", "text": "x"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");

    let id = created["id"].as_i64().unwrap();
    let (s, v) = app
        .call(
            &admin,
            reqwest::Method::PUT,
            &format!("/api/v1/answer-templates/{id}"),
            Some(json!({"name": "Не в компетенции", "text": "№ {номер}", "position": 50})),
        )
        .await;
    assert_eq!((s, v["name"].as_str()), (StatusCode::OK, Some("Не в компетенции")));
    let (s, _) = app
        .call(&admin, reqwest::Method::PUT, "/api/v1/answer-templates/99999", Some(json!({"name": "x", "text": "y"})))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, list) = app.get(&admin, "/api/v1/answer-templates").await;
    assert_eq!(list.as_array().unwrap().last().unwrap()["id"], id, "ordered by position");
    let (s, _) = app.call(&executor, reqwest::Method::DELETE, &format!("/api/v1/answer-templates/{id}"), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = app.call(&admin, reqwest::Method::DELETE, &format!("/api/v1/answer-templates/{id}"), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = app.call(&admin, reqwest::Method::DELETE, &format!("/api/v1/answer-templates/{id}"), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, doc) = app.get(&admin, "/api/v1/openapi.json").await;
    assert!(doc["paths"]["/api/v1/answer-templates/{id}"]["put"].is_object());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_answer_editor_uses_templates_administrators_keep() {
    let app = TestApp::start().await;
    let admin = app.token("admin").await;
    let id = app.ingest(&admin, "t-1", Some("gryazinsky")).await;
    for body in [json!({"action": "assign", "org": "adm-gryazinsky"}), json!({"action": "take"})] {
        let (s, v) = app.act(&admin, id, body).await;
        assert_eq!(s, 200, "{v}");
    }
    let (b, csrf) = admin_browser(&app).await;
    let (s, _, page) =
        b.form("/admin/templates", &[("_csrf", &csrf), ("name", "Свой"), ("text", "№ {номер}, дата {дата}")]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("Шаблон не сохранён. Неизвестная подстановка «{дата}»"), "{page}");
    assert!(page.contains("№ {номер}, дата {дата}</textarea>"), "the new template's form keeps what was typed");
    let (s, _, _) = b.form("/admin/templates", &[("_csrf", "forged"), ("name", "Свой"), ("text", "№ {номер}")]).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, location, _) = b
        .form(
            "/admin/templates",
            &[("_csrf", &csrf), ("name", "Свой"), ("text", "Ответ по № {номер} от «{организация}»"), ("position", "1")],
        )
        .await;
    assert_eq!((s, location.as_str()), (StatusCode::SEE_OTHER, "/admin?saved=templates#templates"));
    let (_, list) = app.get(&admin, "/api/v1/answer-templates").await;
    let mine = find(&list, "name", "Свой").unwrap()["id"].as_i64().unwrap();
    let (s, _, page) =
        b.form(&format!("/admin/templates/{mine}"), &[("_csrf", &csrf), ("name", "Уточнение"), ("text", "x")]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("Шаблон не сохранён. Шаблон с таким названием уже есть."));

    let executor = Browser::login(&app, "executor-gryazi").await;
    let (_, card) = executor.get(&format!("/incidents/{id}")).await;
    let filled = format!(
        r#"<option value="Ответ по № {id} от «Администрация Грязинского муниципального округа Липецкой области»">Свой</option>"#
    );
    assert!(card.contains(&filled), "the editor offers the template filled in for the incident");
    let (s, _, _) = b.form(&format!("/admin/templates/{mine}/delete"), &[("_csrf", &csrf)]).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let (_, card) = executor.get(&format!("/incidents/{id}")).await;
    assert!(!card.contains("Свой</option>"), "a deleted template is gone from the editor");
    assert!(card.contains("Принято в работу</option>"));
}
