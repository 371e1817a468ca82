//! The citizen's web form and tracking page over real HTTP: submission with photos, checks of bad
//! input, the honeypot, rate limits, escaping of hostile text, and the citizen's rating and return.

mod common;

use common::TestApp;
use reqwest::multipart::{Form, Part};
use reqwest::{StatusCode, redirect};
use serde_json::json;

const JPEG: &[u8] = &[0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0, 1, 1, 0, 0, 1];

fn form(text: &str) -> Form {
    Form::new()
        .text("source", "form")
        .text("category", "roads.surface.potholes")
        .text("territory", "gryazinsky")
        .text("address", "Грязи, ул. Правды, 5")
        .text("lat", "52,4968")
        .text("lon", "39.9339")
        .text("text", text.to_string())
        .text("name", "Анна")
        .text("contact", "anna@example.org")
        .text("consent", "1")
        .text("website", "")
}

fn photo(bytes: &[u8], name: &str) -> Part {
    Part::bytes(bytes.to_vec()).file_name(name.to_string()).mime_str("image/jpeg").unwrap()
}

async fn submit(app: &TestApp, f: Form) -> (StatusCode, String) {
    let res = app.client.post(format!("{}/form", app.base)).multipart(f).send().await.unwrap();
    (res.status(), res.text().await.unwrap())
}

/// The tracking path from the confirmation page.
fn track_path(page: &str) -> String {
    let start = page.find("/track/").expect("a tracking link");
    page[start..].split('"').next().unwrap().to_string()
}

async fn incidents(app: &TestApp, admin: &str) -> usize {
    let (_, list) = app.get(admin, "/api/v1/incidents?limit=100").await;
    list["items"].as_array().unwrap().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_form_lists_topics_and_places_in_russian_with_its_own_assets() {
    let app = TestApp::start().await;
    let res = app.client.get(format!("{}/form", app.base)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let csp = res.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    let html = res.text().await.unwrap();
    assert!(html.contains("Сообщить о проблеме"));
    assert!(html.contains(r#"value="roads.surface.potholes""#), "sub-topics are offered");
    assert!(html.contains("Ямы и выбоины на дорогах"));
    assert!(html.contains(r#"value="gryazinsky""#), "municipalities are offered");
    assert!(html.contains(r#"<label for="text">"#), "fields have labels");
    assert!(!html.contains("http://") && !html.contains("https://"), "no external asset");
    let embedded = app.client.get(format!("{}/form?embed=1", app.base)).send().await.unwrap();
    assert!(embedded.headers()["content-security-policy"].to_str().unwrap().contains("frame-ancestors *"));
    for path in ["/assets/public.css", "/assets/form.js", "/widget.js"] {
        let r = app.client.get(format!("{}{path}", app.base)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submission_becomes_an_incident_with_photos_and_a_tracking_link() {
    let app = TestApp::start().await;
    let admin = app.token("admin").await;
    let hostile = "Яма у дома <script>alert('x')</script> & \"кавычки\" — машины бьют колёса";
    let f = form(hostile).part("photos", photo(JPEG, "yama.jpg"));
    let (s, page) = submit(&app, f).await;
    assert_eq!(s, 201, "{page}");
    assert!(page.contains("Сообщение принято"));
    let track = track_path(&page);

    let (_, list) = app.get(&admin, "/api/v1/incidents?limit=10").await;
    let id = list["items"][0]["id"].as_i64().unwrap();
    let (_, card) = app.get(&admin, &format!("/api/v1/incidents/{id}")).await;
    let m = &card["messages"][0];
    assert_eq!(m["channel"], "web");
    assert_eq!(m["source"], "form");
    assert!(m["text"].as_str().unwrap().starts_with(hostile), "the citizen's text is kept as written");
    assert!(m["text"].as_str().unwrap().contains("Адрес: Грязи, ул. Правды, 5"));
    assert_eq!(m["raw"]["point"], json!({"lat": 52.4968, "lon": 39.9339}));
    assert_eq!(m["raw"]["contact"], "anna@example.org");
    assert_eq!(card["incident"]["category"], "roads.surface.potholes", "the citizen's topic is taken");
    assert_eq!(card["incident"]["municipality"], "gryazinsky");
    let photo_url = m["attachments"][0]["url"].as_str().unwrap().to_string();
    let got = app.client.get(format!("{}{photo_url}", app.base)).send().await.unwrap();
    assert_eq!(got.headers()["content-type"], "image/jpeg");
    assert_eq!(got.bytes().await.unwrap().as_ref(), JPEG);

    let res = app.client.get(format!("{}{track}", app.base)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(html.contains(&format!("Обращение № {id}")));
    assert!(html.contains("Принято"));
    assert!(!html.contains("<script>alert"), "citizen text is escaped");
    assert!(html.contains("&#60;script&#62;alert("));
    assert!(html.contains(&photo_url));
    // A made-up link shows nothing.
    let fake = track.replace(&track[track.len() - 4..], "0000");
    let res = app.client.get(format!("{}{fake}", app.base)).send().await.unwrap();
    assert_eq!(res.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_explained_and_nothing_is_stored() {
    let app = TestApp::start().await;
    let admin = app.token("admin").await;
    let before = incidents(&app, &admin).await;
    let cases: Vec<(Form, &str)> = vec![
        (form("коротко"), "не меньше 10 символов"),
        (form("Яма на дороге уже месяц").text("category", "nonsense"), "Выберите тему"),
        (Form::new().text("category", "roads.surface.potholes").text("text", "Яма на дороге уже месяц"), "согласие"),
        (form("Яма на дороге уже месяц").text("lat", "100"), "обе координаты"),
        (
            form("Яма на дороге уже месяц").part("photos", photo(b"<svg onload=alert(1)>", "x.jpg")),
            "JPEG, PNG или WebP",
        ),
        (
            (0..6).fold(form("Яма на дороге уже месяц"), |f, i| {
                f.part("photos", photo(JPEG, &format!("{i}.jpg")))
            }),
            "не больше 5 фотографий",
        ),
    ];
    for (f, expected) in cases {
        let (s, page) = submit(&app, f).await;
        assert_eq!(s, 422, "{expected}");
        assert!(page.contains(expected), "{expected}: {page}");
        assert!(page.contains(r#"role="alert""#));
    }
    let big = vec![0xFFu8; 5 * 1024 * 1024 + 10];
    let (s, page) = submit(&app, form("Яма на дороге уже месяц").part("photos", photo(&big, "big.jpg"))).await;
    assert_eq!(s, 422);
    assert!(page.contains("не больше 5 МБ"));
    assert_eq!(incidents(&app, &admin).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn robots_filling_the_honeypot_are_refused_and_kept_for_inspection() {
    let app = TestApp::start().await;
    let admin = app.token("admin").await;
    let (s, _) = submit(&app, form("Купите недорого окна ПВХ").text("website", "http://spam.example")).await;
    assert_eq!(s, 400);
    assert_eq!(incidents(&app, &admin).await, 0);
    let rejects = app.store.rejects(None, 10).await.unwrap();
    assert_eq!(rejects.len(), 1);
    assert!(rejects[0].reject.reason.contains("honeypot"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_cannot_flood_the_form() {
    let app = TestApp::start().await;
    let mut codes = vec![];
    for _ in 0..11 {
        codes.push(submit(&app, form("коротко")).await.0);
    }
    assert!(codes[..10].iter().all(|c| *c == 422), "{codes:?}");
    assert_eq!(codes[10], StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_citizen_reads_the_answer_rates_it_and_returns_it_for_rework() {
    let app = TestApp::start().await;
    let operator = app.token("operator-gryazi").await;
    let executor = app.token("executor-gryazi").await;
    let (s, page) = submit(&app, form("На улице Правды огромная яма, третий месяц не заделывают")).await;
    assert_eq!(s, 201);
    let track = track_path(&page);
    let (_, list) = app.get(&operator, "/api/v1/incidents?limit=10").await;
    let id = list["items"][0]["id"].as_i64().unwrap();
    for (token, body) in [
        (&operator, json!({"action": "assign", "org": "adm-gryazinsky"})),
        (&executor, json!({"action": "take"})),
        (&executor, json!({"action": "ask_citizen", "question": "Уточните номер дома"})),
    ] {
        let (s, v) = app.act(token, id, body).await;
        assert_eq!(s, 200, "{v}");
    }
    let html = app.client.get(format!("{}{track}", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("Уточните номер дома"), "the question is shown");
    let res = app
        .client
        .post(format!("{}{track}/reply", app.base))
        .form(&[("text", "Дом 5, напротив аптеки")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let (_, card) = app.get(&operator, &format!("/api/v1/incidents/{id}")).await;
    assert_eq!(card["incident"]["status"], "in_work", "the reply resumes the work");
    for (token, body) in [
        (&executor, json!({"action": "draft_answer", "kind": "final", "text": "Яма <b>заделана</b> 5 марта."})),
        (&executor, json!({"action": "submit_for_review"})),
        (&operator, json!({"action": "approve"})),
        (&operator, json!({"action": "publish"})),
    ] {
        let (s, v) = app.act(token, id, body).await;
        assert_eq!(s, 200, "{v}");
    }
    let html = app.client.get(format!("{}{track}", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("Дан ответ"));
    assert!(html.contains("Яма &#60;b&#62;заделана&#60;/b&#62; 5 марта."), "the answer is shown, escaped");
    assert!(html.contains("Оцените ответ"));

    // A rating outside 1..5 is refused; a good one is recorded once.
    let no_redirect = reqwest::Client::builder().redirect(redirect::Policy::none()).build().unwrap();
    let res = no_redirect.post(format!("{}{track}/rate", app.base)).form(&[("score", "9")]).send().await.unwrap();
    assert_eq!(res.status(), 422);
    let res = no_redirect
        .post(format!("{}{track}/rate", app.base))
        .form(&[("score", "2"), ("comment", "Заделали плохо")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let html = app.client.get(format!("{}{track}", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("Ваша оценка: 2"));
    assert!(!html.contains("Оцените ответ"));
    let (_, card) = app.get(&operator, &format!("/api/v1/incidents/{id}")).await;
    let rate = card["history"].as_array().unwrap().iter().find(|e| e["action"] == "rate").unwrap();
    assert_eq!(rate["note"], "2: Заделали плохо");
    assert_eq!(rate["actor"], "citizen");

    let res = no_redirect
        .post(format!("{}{track}/rework", app.base))
        .form(&[("comment", "Яма снова появилась после дождя")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let (_, card) = app.get(&operator, &format!("/api/v1/incidents/{id}")).await;
    assert_eq!(card["incident"]["status"], "assigned", "returned to work");
    let reopen = card["history"].as_array().unwrap().iter().rev().find(|e| e["action"] == "reopen").unwrap();
    assert!(reopen["note"].as_str().unwrap().contains("Яма снова появилась"));
    // Nothing more to rate or return while it is being worked again.
    let res = no_redirect
        .post(format!("{}{track}/rework", app.base))
        .form(&[("comment", "Ещё раз возвращаю")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 409);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_form_body_is_refused_and_kept_for_inspection() {
    let app = TestApp::start().await;
    let res = app
        .client
        .post(format!("{}/form", app.base))
        .header("content-type", "multipart/form-data; boundary=XYZ")
        .body("--XYZ\r\nContent-Disposition: form-data; name=\"text\"\r\n\r\nобрыв без конца")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("Форма не прочитана"));
    let rejects = app.store.rejects(None, 10).await.unwrap();
    assert_eq!(rejects.len(), 1);
    assert!(rejects[0].reject.reason.starts_with("malformed_payload: "), "{}", rejects[0].reject.reason);
}
