//! Telegram adapter against documented Bot API updates and the fake Bot API: parsing, the
//! secret-token check, malformed input, sendMessage parameters, error classification, getUpdates
//! offsets, health via getWebhookInfo.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use otklik_channels::testing::Fault;
use otklik_channels::testing::telegram::{self as fake, TelegramFake};
use otklik_channels::{
    ChannelAdapter, ChannelError, Inbound, IntakeError, IntakeMode, NewMessage, PublishError, RevisionKind, WebhookAck,
    WebhookResult, adapter,
};
use serde_json::{Value, json};

const TOKEN: &str = "7000000001:AAHfake-bot-token";
const SECRET: &str = "tg_secret-Token_1";

async fn setup(mode: IntakeMode) -> (TelegramFake, Arc<dyn ChannelAdapter>) {
    let tg = TelegramFake::start(TOKEN).await.expect("fake starts");
    let a = adapter(tg.config("tg-adm", SECRET, mode), reqwest::Client::new()).expect("adapter builds");
    (tg, a)
}

fn hook(a: &dyn ChannelAdapter, body: &Value) -> Result<WebhookResult, IntakeError> {
    a.handle_webhook(body.to_string().as_bytes(), Some(SECRET), Utc::now())
}

fn one_message(a: &dyn ChannelAdapter, body: &Value) -> NewMessage {
    let r = hook(a, body).expect("accepted");
    assert_eq!(r.ack, WebhookAck::Empty);
    match r.items.as_slice() {
        [Inbound::Message(m)] => m.clone(),
        other => panic!("expected one message, got {other:?}"),
    }
}

#[tokio::test]
async fn private_message_is_parsed() {
    let (_tg, a) = setup(IntakeMode::Webhook).await;
    let m = one_message(a.as_ref(), &fake::message_update(10, 555, 42, 555, "Не вывозят мусор"));
    assert_eq!(m.external_id, "555:42");
    assert_eq!(m.thread_id.as_deref(), Some("555"));
    assert_eq!(m.parent_id, None);
    assert_eq!(m.author.id, "555");
    assert_eq!(m.author.name.as_deref(), Some("Иван Петров"));
    assert_eq!(m.text, "Не вывозят мусор");
    assert_eq!(m.url, None);
    assert_eq!(m.raw["update_id"], 10);
}

#[tokio::test]
async fn discussion_comments_keep_thread_and_parent_and_the_forward_is_context() {
    let (_tg, a) = setup(IntakeMode::Webhook).await;
    let chat = -1001234567890i64;
    let fwd = one_message(
        a.as_ref(),
        &fake::automatic_forward_update(11, chat, 300, -1001000000001, "Администрация", "Новость о ремонте"),
    );
    assert_eq!(fwd.external_id, "-1001234567890:300");
    assert_eq!(fwd.thread_id.as_deref(), Some("-1001234567890:300"));
    assert_eq!(fwd.author.id, "chat:-1001000000001");
    assert_eq!(fwd.author.name.as_deref(), Some("Администрация"));
    assert_eq!(fwd.url.as_deref(), Some("https://t.me/c/1234567890/300"));

    let c =
        one_message(a.as_ref(), &fake::discussion_comment_update(12, chat, 301, 300, 300, 777, "А когда закончат?"));
    assert_eq!(c.external_id, "-1001234567890:301");
    assert_eq!(c.thread_id.as_deref(), Some("-1001234567890:300"));
    assert_eq!(c.parent_id.as_deref(), Some("-1001234567890:300"));
    assert_eq!(c.author.id, "777");
}

#[tokio::test]
async fn channel_posts_edits_and_photos() {
    let (_tg, a) = setup(IntakeMode::Webhook).await;
    let p = one_message(
        a.as_ref(),
        &fake::channel_post_update(13, -1001000000001, 5, Some("adm_gryazi"), "Отключение воды"),
    );
    assert_eq!(p.author.id, "chat:-1001000000001");
    assert_eq!(p.url.as_deref(), Some("https://t.me/adm_gryazi/5"));

    let r = hook(a.as_ref(), &fake::edited_message_update(14, 555, 42, 555, "Не вывозят мусор третий день")).unwrap();
    match r.items.as_slice() {
        [Inbound::Revision { external_id, revision }] => {
            assert_eq!(external_id, "555:42");
            assert_eq!(revision.kind, RevisionKind::Edit);
            assert_eq!(revision.text.as_deref(), Some("Не вывозят мусор третий день"));
        }
        other => panic!("{other:?}"),
    }
    let r =
        hook(a.as_ref(), &fake::edited_channel_post_update(15, -1001000000001, 5, "Отключение воды отменено")).unwrap();
    assert!(matches!(r.items.as_slice(), [Inbound::Revision { external_id, .. }] if external_id == "-1001000000001:5"));

    let ph = one_message(a.as_ref(), &fake::photo_message_update(16, 555, 43, 555, "Вот фото"));
    assert_eq!(ph.text, "Вот фото");
    assert_eq!(ph.attachments.len(), 1);
    assert_eq!(ph.attachments[0].kind, "photo");
    assert_eq!(ph.attachments[0].url, "tg-file:AgACAgIAAxkBAAIBlarge");
}

#[tokio::test]
async fn unknown_updates_are_acknowledged_without_items() {
    let (_tg, a) = setup(IntakeMode::Webhook).await;
    let u = json!({ "update_id": 17, "callback_query": { "id": "1", "from": { "id": 1, "is_bot": false, "first_name": "A" }, "data": "x" } });
    let r = hook(a.as_ref(), &u).unwrap();
    assert_eq!(r, WebhookResult { ack: WebhookAck::Empty, items: vec![] });
}

#[tokio::test]
async fn wrong_or_missing_secret_header_is_forbidden_before_parsing() {
    let (_tg, a) = setup(IntakeMode::Webhook).await;
    let body = fake::message_update(10, 555, 42, 555, "x").to_string();
    assert!(matches!(
        a.handle_webhook(body.as_bytes(), Some("tg_secret-Token_2"), Utc::now()),
        Err(IntakeError::Forbidden(_))
    ));
    assert!(
        matches!(a.handle_webhook(body.as_bytes(), None, Utc::now()), Err(IntakeError::Forbidden(r)) if r.contains("missing"))
    );
    assert!(matches!(a.handle_webhook(b"garbage", Some("nope"), Utc::now()), Err(IntakeError::Forbidden(_))));
}

#[tokio::test]
async fn malformed_updates_name_the_field_and_never_panic() {
    let (_tg, a) = setup(IntakeMode::Webhook).await;
    let mut u = fake::message_update(10, 555, 42, 555, "x");
    u["message"].as_object_mut().unwrap().remove("chat");
    assert_eq!(hook(a.as_ref(), &u), Err(IntakeError::Malformed("message.chat: missing".into())));
    let mut u = fake::message_update(10, 555, 42, 555, "x");
    u["message"]["message_id"] = json!("42");
    // Numeric strings are tolerated; objects are not.
    assert!(hook(a.as_ref(), &u).is_ok());
    u["message"]["message_id"] = json!({});
    assert_eq!(
        hook(a.as_ref(), &u),
        Err(IntakeError::Malformed("message.message_id: expected integer, found object".into()))
    );
    assert_eq!(hook(a.as_ref(), &json!({ "message": {} })), Err(IntakeError::Malformed("update_id: missing".into())));

    for sample in [
        fake::discussion_comment_update(12, -100123, 301, 300, 300, 777, "x"),
        fake::photo_message_update(1, 2, 3, 4, "y"),
    ] {
        let bytes = sample.to_string().into_bytes();
        for cut in 0..bytes.len() {
            assert!(matches!(
                a.handle_webhook(&bytes[..cut], Some(SECRET), Utc::now()),
                Err(IntakeError::Malformed(_))
            ));
        }
    }
    let mut x: u32 = 12345;
    for _ in 0..300 {
        let bytes: Vec<u8> = (0..40)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                (x >> 16) as u8
            })
            .collect();
        let _ = a.handle_webhook(&bytes, Some(SECRET), Utc::now());
    }
}

#[tokio::test]
async fn replies_use_send_message_with_reply_parameters() {
    let (tg, a) = setup(IntakeMode::Webhook).await;
    let o = one_message(a.as_ref(), &fake::message_update(10, 555, 42, 555, "Вопрос"));
    let p = a.publish(&o, "Ответ", "k1").await.unwrap();
    let published = tg.published();
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].method, "sendMessage");
    assert_eq!(
        published[0].params,
        json!({ "chat_id": 555, "text": "Ответ", "reply_parameters": { "message_id": 42, "allow_sending_without_reply": true } })
    );
    assert_eq!(p.external_id, format!("555:{}", published[0].id));

    // A forum topic message: the reply goes to the same topic.
    let mut topic = fake::discussion_comment_update(20, -100777, 900, 850, 850, 1, "В теме");
    topic["message"]["is_topic_message"] = json!(true);
    let o = one_message(a.as_ref(), &topic);
    a.publish(&o, "Ответ в теме", "k2").await.unwrap();
    let last = tg.published().pop().unwrap();
    assert_eq!(last.params["message_thread_id"], 850);
    assert_eq!(last.params["reply_parameters"]["message_id"], 900);
}

#[tokio::test]
async fn telegram_errors_are_classified() {
    let (tg, a) = setup(IntakeMode::Webhook).await;
    let o = one_message(a.as_ref(), &fake::message_update(10, 555, 42, 555, "Вопрос"));
    tg.fail_next(Fault::FloodWait(7), 1);
    assert_eq!(
        a.publish(&o, "x", "k").await,
        Err(PublishError::Retry {
            code: "telegram_429".into(),
            reason: "flood limit: Too Many Requests: retry after 7".into(),
            after: Some(Duration::from_secs(7)),
        })
    );
    for code in [403, 400, 401] {
        tg.fail_next(Fault::Code(code), 1);
        assert!(
            matches!(a.publish(&o, "x", "k").await, Err(PublishError::Permanent { code: c, .. }) if c == format!("telegram_{code}")),
            "{code}"
        );
    }
    tg.fail_next(Fault::Code(502), 1);
    assert!(matches!(a.publish(&o, "x", "k").await, Err(PublishError::Retry { .. })));
    tg.set_outage(true);
    assert!(matches!(a.publish(&o, "x", "k").await, Err(PublishError::Retry { code, .. }) if code == "telegram_503"));
    tg.clear_faults();
    assert!(tg.published().is_empty());
    a.publish(&o, "x", "k").await.unwrap();
    assert_eq!(tg.published().len(), 1);

    let mut bad = tg.config("tg-adm", SECRET, IntakeMode::Webhook);
    bad.token = Some(otklik_channels::Secret::new("1:revoked"));
    let bad = adapter(bad, reqwest::Client::new()).unwrap();
    assert!(
        matches!(bad.publish(&o, "x", "k").await, Err(PublishError::Permanent { code, .. }) if code == "telegram_401")
    );
}

#[tokio::test]
async fn network_errors_do_not_leak_the_token() {
    let (tg, a) = setup(IntakeMode::Webhook).await;
    let o = one_message(a.as_ref(), &fake::message_update(10, 555, 42, 555, "Вопрос"));
    drop(tg);
    tokio::time::sleep(Duration::from_millis(50)).await;
    match a.publish(&o, "x", "k").await {
        Err(PublishError::Retry { code, reason, .. }) => {
            assert_eq!(code, "network");
            assert!(!reason.contains("AAHfake"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    let shown = format!("{a:?}");
    assert!(!shown.contains("AAHfake") && !shown.contains(SECRET));
}

#[tokio::test]
async fn get_updates_moves_the_offset() {
    let (tg, a) = setup(IntakeMode::Poll).await;
    tg.push_update(fake::message_update(100, 555, 1, 555, "первое"));
    tg.push_update(json!({ "update_id": 101, "my_chat_member": {} }));
    tg.push_update(fake::message_update(102, 555, 2, 555, "второе"));
    let b = a.poll(None, Duration::from_secs(0)).await.unwrap();
    assert_eq!(b.items.len(), 2);
    assert_eq!(b.cursor.as_deref(), Some("103"));
    let call = tg.calls_of("getUpdates").pop().unwrap();
    assert_eq!(call.params["timeout"], 0);
    assert!(call.params.get("offset").is_none());

    tg.push_update(fake::message_update(103, 555, 3, 555, "третье"));
    let b = a.poll(b.cursor.as_deref(), Duration::from_secs(0)).await.unwrap();
    assert!(matches!(b.items.as_slice(), [Inbound::Message(m)] if m.text == "третье"));
    assert_eq!(b.cursor.as_deref(), Some("104"));
    assert_eq!(tg.calls_of("getUpdates").pop().unwrap().params["offset"], 103);

    let b = a.poll(b.cursor.as_deref(), Duration::from_secs(0)).await.unwrap();
    assert!(b.items.is_empty());
    assert_eq!(b.cursor.as_deref(), Some("104"));

    tg.fail_next(Fault::Code(409), 1);
    assert!(
        matches!(a.poll(Some("104"), Duration::from_secs(0)).await, Err(ChannelError::Platform { code, .. }) if code == "telegram_409")
    );
    assert!(matches!(a.poll(Some("abc"), Duration::from_secs(0)).await, Err(ChannelError::Config(_))));
}

#[tokio::test]
async fn health_reads_get_webhook_info() {
    let (tg, a) = setup(IntakeMode::Webhook).await;
    let h = a.health().await;
    assert!(h.ok, "{h:?}");
    assert!(h.detail.contains("pending_update_count 0"));
    tg.set_webhook_info(json!({
        "url": "https://otklik.example.org/hook", "has_custom_certificate": false, "pending_update_count": 12,
        "last_error_date": Utc::now().timestamp() - 30, "last_error_message": "Connection timed out",
    }));
    let h = a.health().await;
    assert!(!h.ok);
    assert!(h.detail.contains("pending_update_count 12") && h.detail.contains("Connection timed out"), "{}", h.detail);
    tg.set_outage(true);
    assert!(!a.health().await.ok);
}
