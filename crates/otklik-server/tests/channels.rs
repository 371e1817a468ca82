//! Channels end to end against local fake platforms: webhook intake with verification and
//! idempotency, rejected deliveries kept, polling, and answers published exactly once through the
//! outbox across an outage, with dead letters resent by hand.

mod common;

use std::time::Duration;

use common::TestApp;
use otklik_channels::payloads;
use otklik_channels::testing::Fault;
use otklik_channels::testing::ok::OkFake;
use otklik_channels::testing::telegram::TelegramFake;
use otklik_channels::testing::vk::VkFake;
use otklik_channels::{IntakeMode, SourceConfig};
use otklik_server::channels::poll_once;
use otklik_server::outbox::{OutboxReport, deliver_due};
use serde_json::{Value, json};

const GROUP: i64 = 1001;
const VK_SOURCE: &str = "club-adm-gryazi";

async fn vk_app() -> (TestApp, VkFake) {
    let fake = VkFake::start(GROUP, "vk-community-token").await.unwrap();
    let app = TestApp::start_with_channels(&[fake.config(VK_SOURCE, "s3cret", IntakeMode::Webhook)]).await;
    (app, fake)
}

async fn hook(app: &TestApp, path: &str, body: String, header: Option<&str>) -> (u16, String) {
    let mut req = app.client.post(format!("{}{path}", app.base)).body(body);
    if let Some(h) = header {
        req = req.header("X-Telegram-Bot-Api-Secret-Token", h);
    }
    let res = req.send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

async fn vk_hook(app: &TestApp, event: Value) -> (u16, String) {
    hook(app, &format!("/hooks/vk/{VK_SOURCE}"), event.to_string(), None).await
}

async fn incident_ids(app: &TestApp, admin: &str) -> Vec<i64> {
    let (_, list) = app.get(admin, "/api/v1/incidents?limit=100&sort=created_asc").await;
    list["items"].as_array().unwrap().iter().map(|i| i["id"].as_i64().unwrap()).collect()
}

/// Takes an incident from intake to a published final answer.
async fn answer(app: &TestApp, admin: &str, id: i64, text: &str) {
    for body in [
        json!({"action": "assign", "org": "adm-gryazinsky"}),
        json!({"action": "take"}),
        json!({"action": "draft_answer", "kind": "final", "text": text}),
        json!({"action": "submit_for_review"}),
        json!({"action": "approve"}),
        json!({"action": "publish"}),
    ] {
        let (s, v) = app.act(admin, id, body.clone()).await;
        assert_eq!(s, 200, "{body}: {v}");
    }
}

async fn outbox_round(app: &TestApp) -> OutboxReport {
    deliver_due(&app.workflow, &app.channels, 100).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vk_callbacks_are_verified_idempotent_and_keep_edits_beside_the_original() {
    let (app, _fake) = vk_app().await;
    let admin = app.token("admin").await;

    let (s, body) = vk_hook(&app, payloads::vk::confirmation(GROUP)).await;
    assert_eq!((s, body.as_str()), (200, "a1b2c3d4"), "the confirmation handshake");

    let comment = payloads::vk::wall_reply_new(GROUP, 55, 777, 12345, "Яма на дороге у школы", "s3cret");
    for _ in 0..3 {
        let (s, body) = vk_hook(&app, comment.clone()).await;
        assert_eq!((s, body.as_str()), (200, "ok"));
    }
    let ids = incident_ids(&app, &admin).await;
    assert_eq!(ids.len(), 1, "a retried delivery makes one incident");
    let (_, card) = app.get(&admin, &format!("/api/v1/incidents/{}", ids[0])).await;
    let m = &card["messages"][0];
    assert_eq!(m["channel"], "vk");
    assert_eq!(m["text"], "Яма на дороге у школы");
    assert_eq!(card["incident"]["municipality"], "gryazinsky", "the source's territory");
    assert!(m["url"].as_str().unwrap().starts_with("https://vk.com/wall-1001_55"));
    assert!(!m["raw"].to_string().contains("s3cret"), "the secret is not stored");

    let edit = payloads::vk::wall_reply_edit(GROUP, 55, 777, 12345, "Яма на дороге у школы, уже две", "s3cret");
    assert_eq!(vk_hook(&app, edit).await.0, 200);
    let delete = payloads::vk::wall_reply_delete(GROUP, 55, 777, 12345, "s3cret");
    assert_eq!(vk_hook(&app, delete).await.0, 200);
    let (_, card) = app.get(&admin, &format!("/api/v1/incidents/{}", ids[0])).await;
    let m = &card["messages"][0];
    assert_eq!(m["text"], "Яма на дороге у школы", "the original text stays");
    let kinds: Vec<&str> = m["revisions"].as_array().unwrap().iter().map(|r| r["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, vec!["edit", "delete"]);
    assert_eq!(m["revisions"][0]["text"], "Яма на дороге у школы, уже две");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_malformed_and_unknown_deliveries_are_refused_kept_and_block_nothing() {
    let (app, _fake) = vk_app().await;
    let admin = app.token("admin").await;
    let forged = payloads::vk::wall_reply_new(GROUP, 55, 778, 12345, "Купите окна", "wrong-secret");
    let (s, body) = vk_hook(&app, forged).await;
    assert_eq!(s, 403);
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["error"]["code"], "forbidden_webhook");
    let (s, body) = hook(&app, &format!("/hooks/vk/{VK_SOURCE}"), "{\"type\": \"wall_reply_new\", ".into(), None).await;
    assert_eq!(s, 400);
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["error"]["code"], "malformed_payload");
    let missing = json!({"type": "wall_reply_new", "group_id": GROUP, "secret": "s3cret", "object": {"id": 5}});
    let (s, body) = vk_hook(&app, missing).await;
    assert_eq!(s, 400, "{body}");
    assert_eq!(hook(&app, "/hooks/vk/no-such-club", "{}".into(), None).await.0, 404);
    assert_eq!(hook(&app, "/hooks/fax/x", "{}".into(), None).await.0, 404);
    // The intake of others goes on.
    let good = payloads::vk::wall_reply_new(GROUP, 55, 779, 12346, "Не горят фонари во дворе", "s3cret");
    assert_eq!(vk_hook(&app, good).await.0, 200);
    assert_eq!(incident_ids(&app, &admin).await.len(), 1);

    let (s, rejects) = app.get(&admin, "/api/v1/intake-rejects").await;
    assert_eq!(s, 200);
    let reasons: Vec<&str> = rejects.as_array().unwrap().iter().map(|r| r["reason"].as_str().unwrap()).collect();
    assert_eq!(reasons.len(), 4, "{reasons:?}");
    assert!(reasons[3].starts_with("forbidden_webhook"));
    assert!(reasons[2].starts_with("malformed_payload"));
    assert!(reasons[1].starts_with("malformed_payload") && reasons[1].contains("object"), "{}", reasons[1]);
    assert!(reasons[0].starts_with("unknown_source"));
    assert_eq!(rejects[2]["body"], "{\"type\": \"wall_reply_new\", ", "the body is kept as received");
    let operator = app.token("operator-gryazi").await;
    assert_eq!(app.get(&operator, "/api/v1/intake-rejects").await.0, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telegram_and_ok_webhooks_are_checked_and_taken() {
    let tg = TelegramFake::start("123456:bot-token").await.unwrap();
    let ok = OkFake::start("5500", "ok-token", "app-key", "app-secret").await.unwrap();
    let app = TestApp::start_with_channels(&[
        tg.config("tg-cur-lipetsk", "hdr-secret", IntakeMode::Webhook),
        ok.config("group-adm-lebedyan", &[]),
    ])
    .await;
    let admin = app.token("admin").await;
    let update =
        payloads::telegram::message_update(1, 777, 10, 777, "Когда дадут отопление на Гагарина 5?").to_string();
    assert_eq!(hook(&app, "/hooks/telegram/tg-cur-lipetsk", update.clone(), None).await.0, 403);
    assert_eq!(hook(&app, "/hooks/telegram/tg-cur-lipetsk", update.clone(), Some("nope")).await.0, 403);
    assert_eq!(hook(&app, "/hooks/telegram/tg-cur-lipetsk", update.clone(), Some("hdr-secret")).await.0, 200);
    assert_eq!(hook(&app, "/hooks/telegram/tg-cur-lipetsk", update, Some("hdr-secret")).await.0, 200);
    let msg = payloads::ok::message_created("5500", "chat:C1", "user:U1", "mid:1", "Во дворе не вывозят мусор");
    assert_eq!(hook(&app, "/hooks/ok/group-adm-lebedyan", msg.to_string(), None).await.0, 200);
    let foreign = payloads::ok::message_created("9999", "chat:C1", "user:U1", "mid:2", "чужая группа");
    assert_eq!(hook(&app, "/hooks/ok/group-adm-lebedyan", foreign.to_string(), None).await.0, 403);
    let ids = incident_ids(&app, &admin).await;
    assert_eq!(ids.len(), 2);
    let (_, card) = app.get(&admin, &format!("/api/v1/incidents/{}", ids[1])).await;
    assert_eq!(card["messages"][0]["channel"], "ok");
    assert_eq!(card["incident"]["municipality"], "lebedyansky");

    // The health of both, without their credentials.
    let (s, health) = app.get(&admin, "/api/v1/channels").await;
    assert_eq!(s, 200);
    assert_eq!(health.as_array().unwrap().len(), 2);
    assert!(health.as_array().unwrap().iter().all(|h| h["ok"] == true), "{health}");
    let text = health.to_string();
    assert!(!text.contains("bot-token") && !text.contains("ok-token") && !text.contains("hdr-secret"));
    assert_eq!(health[1]["webhook_path"], "/hooks/telegram/tg-cur-lipetsk");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_survive_an_outage_and_are_published_exactly_once() {
    let (app, fake) = vk_app().await;
    let admin = app.token("admin").await;
    for (i, text) in ["Яма у школы", "Нет света на Правды", "Не вывозят мусор"].iter().enumerate()
    {
        let c = payloads::vk::wall_reply_new(GROUP, 55, 800 + i as i64, 20000 + i as i64, text, "s3cret");
        assert_eq!(vk_hook(&app, c).await.0, 200);
    }
    let ids = incident_ids(&app, &admin).await;
    assert_eq!(ids.len(), 3);
    fake.set_outage(true);
    for (i, id) in ids.iter().enumerate() {
        answer(&app, &admin, *id, &format!("Ответ номер {i}: работы запланированы.")).await;
    }
    let r = outbox_round(&app).await;
    assert_eq!(r, OutboxReport { sent: 0, failed: 3, dead: 0 });
    assert_eq!(outbox_round(&app).await, OutboxReport::default(), "not retried before the backoff");
    let (_, failed) = app.get(&admin, "/api/v1/outbox?state=failed").await;
    assert_eq!(failed.as_array().unwrap().len(), 3);
    assert_eq!(failed[0]["attempts"], 1);
    assert!(failed[0]["last_error"].as_str().unwrap().contains("503"), "{failed}");
    assert!(failed[0]["next_attempt_at"].is_string());

    app.clock.advance(chrono::Duration::seconds(31));
    assert_eq!(outbox_round(&app).await.failed, 3, "still down");
    fake.clear_faults();
    app.clock.advance(chrono::Duration::seconds(59));
    assert_eq!(outbox_round(&app).await, OutboxReport::default(), "the second backoff is 60 s");
    app.clock.advance(chrono::Duration::seconds(2));
    assert_eq!(outbox_round(&app).await.sent, 3);
    for _ in 0..3 {
        app.clock.advance(chrono::Duration::hours(2));
        assert_eq!(outbox_round(&app).await, OutboxReport::default());
    }
    let published = fake.published();
    assert_eq!(published.len(), 3, "each answer once");
    let mut replied: Vec<i64> =
        published.iter().map(|p| p.params["reply_to_comment"].as_str().unwrap().parse().unwrap()).collect();
    replied.sort();
    assert_eq!(replied, vec![800, 801, 802], "in the citizen's thread");
    assert!(published.iter().all(|p| p.method == "wall.createComment" && p.params["post_id"] == "55"));
    let (_, sent) = app.get(&admin, "/api/v1/outbox?state=sent").await;
    assert_eq!(sent.as_array().unwrap().len(), 3);
    assert!(sent.as_array().unwrap().iter().all(|e| e["external_id"].is_string() && e["attempts"] == 3));
    let (_, card) = app.get(&admin, &format!("/api/v1/incidents/{}", ids[0])).await;
    assert_eq!(card["answers"][0]["publications"][0]["state"], "sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_refusal_is_a_dead_letter_that_a_control_centre_can_resend() {
    let (app, fake) = vk_app().await;
    let admin = app.token("admin").await;
    let c = payloads::vk::wall_reply_new(GROUP, 56, 900, 30000, "Сломана скамейка", "s3cret");
    assert_eq!(vk_hook(&app, c).await.0, 200);
    let id = incident_ids(&app, &admin).await[0];
    answer(&app, &admin, id, "Скамейку починят.").await;
    fake.fail_always(Fault::Code(15));
    assert_eq!(outbox_round(&app).await.dead, 1);
    let (_, dead) = app.get(&admin, "/api/v1/outbox?state=dead").await;
    assert_eq!(dead.as_array().unwrap().len(), 1);
    let reason = dead[0]["last_error"].as_str().unwrap();
    assert!(reason.starts_with("vk_15"), "{reason}");
    let entry = dead[0]["id"].as_i64().unwrap();
    app.clock.advance(chrono::Duration::days(1));
    assert_eq!(outbox_round(&app).await, OutboxReport::default(), "dead letters stay dead");

    let executor = app.token("executor-gryazi").await;
    let (s, _) = app.post(&executor, &format!("/api/v1/outbox/{entry}/retry"), json!({})).await;
    assert_eq!(s, 403);
    let operator = app.token("operator-gryazi").await;
    let (s, e) = app.post(&operator, &format!("/api/v1/outbox/{entry}/retry"), json!({})).await;
    assert_eq!(s, 200, "{e}");
    assert_eq!(e["state"], "pending");
    fake.clear_faults();
    assert_eq!(outbox_round(&app).await.sent, 1);
    assert_eq!(fake.published().len(), 1);
    let (s, _) = app.post(&operator, &format!("/api/v1/outbox/{entry}/retry"), json!({})).await;
    assert_eq!(s, 409, "a sent answer is not sent again");
    let outsider = app.token("operator-yelets").await;
    assert_eq!(app.post(&outsider, &format!("/api/v1/outbox/{entry}/retry"), json!({})).await.0, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_polling_takes_events_once_and_keeps_its_place() {
    let fake = VkFake::start(GROUP, "vk-community-token").await.unwrap();
    let cfg: SourceConfig = fake.config(VK_SOURCE, "", IntakeMode::Poll);
    let app = TestApp::start_with_channels(std::slice::from_ref(&cfg)).await;
    let admin = app.token("admin").await;
    let adapter = app.channels.get(otklik_core::model::Channel::Vk, VK_SOURCE).unwrap().clone();
    // The first round learns where the stream is now, as VK's long poll starts from the present.
    let first = poll_once(&app.workflow, adapter.as_ref(), Duration::from_millis(200)).await.unwrap();
    assert_eq!(first.created, 0);
    fake.push_event(payloads::vk::wall_reply_new(GROUP, 60, 1, 500, "Разбита остановка на Советской", ""));
    fake.push_event(payloads::vk::message_new(GROUP, 500, 7, 500, "Когда починят остановку?", ""));
    let taken = poll_once(&app.workflow, adapter.as_ref(), Duration::from_millis(200)).await.unwrap();
    assert_eq!(taken.created, 2);
    assert!(app.store.channel_cursor(otklik_core::model::Channel::Vk, VK_SOURCE).await.unwrap().is_some());
    let again = poll_once(&app.workflow, adapter.as_ref(), Duration::from_millis(200)).await.unwrap();
    assert_eq!(again.created, 0);
    assert_eq!(incident_ids(&app, &admin).await.len(), 2);
}
