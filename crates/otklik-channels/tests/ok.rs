//! OK adapter against documented Bot API deliveries and the fake OK API: message parsing, group
//! check, malformed input, replies to chats and to topic comments, REST signatures, errors,
//! topic-comment polling, health.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::Utc;
use otklik_channels::ok::rest_signature;
use otklik_channels::testing::Fault;
use otklik_channels::testing::ok::{self as fake, OkFake};
use otklik_channels::{ChannelAdapter, ChannelError, Inbound, IntakeError, PublishError, WebhookAck, adapter};
use serde_json::{Value, json};

const GROUP: &str = "70000001234567";
const TOKEN: &str = "tkn1okgrouptoken";
const APP_KEY: &str = "CBAABCDEF";
const APP_SECRET: &str = "app-secret-key";

async fn setup(topics: &[&str]) -> (OkFake, Arc<dyn ChannelAdapter>) {
    let ok = OkFake::start(GROUP, TOKEN, APP_KEY, APP_SECRET).await.expect("fake starts");
    let a = adapter(ok.config("ok-adm", topics), reqwest::Client::new()).expect("adapter builds");
    (ok, a)
}

fn hook(a: &dyn ChannelAdapter, v: &Value) -> Result<otklik_channels::WebhookResult, IntakeError> {
    a.handle_webhook(v.to_string().as_bytes(), None, Utc::now())
}

#[test]
fn rest_signature_follows_the_documented_rule() {
    let mut p = BTreeMap::new();
    p.insert("method".to_string(), "discussions.getComments".to_string());
    p.insert("application_key".to_string(), "CBAABCDEF".to_string());
    p.insert("format".to_string(), "json".to_string());
    p.insert("access_token".to_string(), "ignored".to_string());
    // md5("application_key=CBAABCDEFformat=jsonmethod=discussions.getComments" + md5("tkn1" + "secret"))
    assert_eq!(rest_signature(&p, "tkn1", "secret"), "51fbaa4bd24edaf3fbf1ed0de633f501");
}

#[tokio::test]
async fn group_message_is_parsed() {
    let (_ok, a) = setup(&[]).await;
    let r = hook(
        a.as_ref(),
        &fake::message_created(
            &format!("group:{GROUP}"),
            "chat:C3ecb9d02a600",
            "user:123456789012",
            "mid:C3ecb9d02a600.15cea67d78d2059",
            "Нет света в подъезде",
        ),
    )
    .unwrap();
    assert_eq!(r.ack, WebhookAck::Empty);
    let [Inbound::Message(m)] = r.items.as_slice() else { panic!("{:?}", r.items) };
    assert_eq!(m.external_id, "mid:C3ecb9d02a600.15cea67d78d2059");
    assert_eq!(m.thread_id.as_deref(), Some("chat:C3ecb9d02a600"));
    assert_eq!(m.author.id, "user:123456789012");
    assert_eq!(m.author.name.as_deref(), Some("Мария Иванова"));
    assert_eq!(m.text, "Нет света в подъезде");

    let r = hook(
        a.as_ref(),
        &fake::message_with_attachment(
            GROUP,
            "chat:C1",
            "user:1",
            "mid:C1.1",
            "фото",
            "IMAGE",
            "https://i.mycdn.me/i?r=1",
        ),
    )
    .unwrap();
    let [Inbound::Message(m)] = r.items.as_slice() else { panic!() };
    assert_eq!((m.attachments[0].kind.as_str(), m.attachments[0].url.as_str()), ("photo", "https://i.mycdn.me/i?r=1"));

    // The documented v1 example has neither webhookType nor group_id: still a message.
    let v1 = json!({ "sender": { "user_id": "user:1" }, "recipient": { "chat_id": "chat:C2" },
                     "message": { "text": "text", "seq": 1, "mid": "mid:C2.1" }, "timestamp": 1498581292941i64 });
    assert_eq!(hook(a.as_ref(), &v1).unwrap().items.len(), 1);
}

#[tokio::test]
async fn other_groups_are_forbidden_and_other_webhook_types_acknowledged() {
    let (_ok, a) = setup(&[]).await;
    let foreign = fake::message_created("group:1", "chat:C1", "user:1", "mid:C1.1", "x");
    assert!(matches!(hook(a.as_ref(), &foreign), Err(IntakeError::Forbidden(r)) if r.contains("group:1")));
    let r = hook(a.as_ref(), &fake::message_callback(GROUP, "chat:C1", "user:1")).unwrap();
    assert!(r.items.is_empty());
}

#[tokio::test]
async fn malformed_deliveries_name_the_field_and_never_panic() {
    let (_ok, a) = setup(&[]).await;
    let mut m = fake::message_created(GROUP, "chat:C1", "user:1", "mid:C1.1", "x");
    m["message"].as_object_mut().unwrap().remove("mid");
    assert_eq!(hook(a.as_ref(), &m), Err(IntakeError::Malformed("message.mid: missing".into())));
    let mut m = fake::message_created(GROUP, "chat:C1", "user:1", "mid:C1.1", "x");
    m["timestamp"] = json!("yesterday");
    assert_eq!(hook(a.as_ref(), &m), Err(IntakeError::Malformed("timestamp: expected integer, found string".into())));
    let bytes = fake::message_created(GROUP, "chat:C1", "user:1", "mid:C1.1", "текст").to_string().into_bytes();
    for cut in 0..bytes.len() {
        assert!(matches!(a.handle_webhook(&bytes[..cut], None, Utc::now()), Err(IntakeError::Malformed(_))));
    }
}

#[tokio::test]
async fn chat_reply_goes_to_the_bot_api_with_reply_to() {
    let (ok, a) = setup(&[]).await;
    let r = hook(a.as_ref(), &fake::message_created(GROUP, "chat:C3ecb9d02a600", "user:1", "mid:C3ecb9d02a600.1", "x"))
        .unwrap();
    let [Inbound::Message(o)] = r.items.as_slice() else { panic!() };
    let p = a.publish(o, "Ответ администрации", "k1").await.unwrap();
    let published = ok.published();
    assert_eq!(published.len(), 1);
    assert_eq!(
        published[0].params,
        json!({ "recipient": { "chat_id": "chat:C3ecb9d02a600" }, "message": { "text": "Ответ администрации", "reply_to": "mid:C3ecb9d02a600.1" } })
    );
    assert_eq!(p.external_id, published[0].id);
}

#[tokio::test]
async fn topic_comments_are_polled_and_answered_in_the_topic() {
    let (ok, a) = setup(&["155012345"]).await;
    ok.add_comment("155012345", "c1", "571234567890", "Пётр", "Когда отремонтируют дорогу?", "2026-03-01 09:30:00");
    let b = a.poll(None, std::time::Duration::from_secs(0)).await.unwrap();
    let [Inbound::Message(m)] = b.items.as_slice() else { panic!("{:?}", b.items) };
    assert_eq!(m.external_id, "topic:155012345:c1");
    assert_eq!(m.thread_id.as_deref(), Some("topic:155012345"));
    assert_eq!(m.author.id, "571234567890");
    assert_eq!(m.published_at.to_rfc3339(), "2026-03-01T06:30:00+00:00");
    assert_eq!(b.cursor.as_deref(), Some(r#"{"155012345":"1"}"#));
    let get = ok.calls_of("discussions.getComments").pop().unwrap();
    assert_eq!(get.params["discussionType"], "GROUP_TOPIC");
    assert_eq!(get.params["discussionId"], "155012345");

    let p = a.publish(m, "Весной", "k1").await.unwrap();
    let pubd = ok.published().pop().unwrap();
    assert_eq!(pubd.method, "discussions.addDiscussionComment");
    for (k, v) in [
        ("entityId", "155012345"),
        ("entityType", "GROUP_TOPIC"),
        ("comment", "Весной"),
        ("reply_to_comment_id", "c1"),
        ("as_admin", "true"),
        ("application_key", APP_KEY),
    ] {
        assert_eq!(pubd.params[k], v, "{k}");
    }
    assert_eq!(p.external_id, format!("topic:155012345:{}", pubd.id));

    // Our own answer is not read back as a citizen's comment; a new one is.
    ok.add_comment("155012345", "c2", "571234567891", "Анна", "Спасибо", "2026-03-02 11:00:00");
    let b = a.poll(b.cursor.as_deref(), std::time::Duration::from_secs(0)).await.unwrap();
    let ids: Vec<&str> = b
        .items
        .iter()
        .filter_map(|i| match i {
            Inbound::Message(m) => Some(m.external_id.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(ids, vec!["topic:155012345:c2"]);
}

#[tokio::test]
async fn ok_errors_are_classified_and_signatures_checked() {
    let (ok, a) = setup(&["1"]).await;
    ok.add_comment("1", "c1", "5", "П", "вопрос", "2026-03-01 09:30:00");
    let b = a.poll(None, std::time::Duration::from_secs(0)).await.unwrap();
    let [Inbound::Message(o)] = b.items.as_slice() else { panic!() };
    ok.fail_next(Fault::Code(8), 1);
    assert!(
        matches!(a.publish(o, "x", "k").await, Err(PublishError::Retry { code, after: Some(_), .. }) if code == "ok_8")
    );
    ok.fail_next(Fault::Code(102), 1);
    assert!(matches!(a.publish(o, "x", "k").await, Err(PublishError::Permanent { code, .. }) if code == "ok_102"));
    ok.fail_next(Fault::Code(300), 1);
    assert!(matches!(a.publish(o, "x", "k").await, Err(PublishError::Permanent { code, .. }) if code == "ok_300"));
    ok.set_outage(true);
    assert!(matches!(a.publish(o, "x", "k").await, Err(PublishError::Retry { code, .. }) if code == "http_503"));
    assert!(matches!(a.poll(None, std::time::Duration::from_secs(0)).await, Err(ChannelError::Transport(_))));
    ok.clear_faults();
    assert!(ok.published().is_empty());

    let mut wrong = ok.config("ok-adm", &["1"]);
    wrong.app_secret = Some(otklik_channels::Secret::new("not-the-secret"));
    let wrong = adapter(wrong, reqwest::Client::new()).unwrap();
    assert!(matches!(wrong.publish(o, "x", "k").await, Err(PublishError::Permanent { code, .. }) if code == "ok_104"));
    assert!(ok.published().is_empty());
}

#[tokio::test]
async fn poll_without_topics_is_a_configuration_error() {
    let (_ok, a) = setup(&[]).await;
    assert!(matches!(a.poll(None, std::time::Duration::from_secs(0)).await, Err(ChannelError::Config(_))));
}

#[tokio::test]
async fn health_uses_graph_me_info() {
    let (ok, a) = setup(&[]).await;
    assert!(a.health().await.ok);
    let mut bad = ok.config("ok-adm", &[]);
    bad.token = Some(otklik_channels::Secret::new("expired"));
    let h = adapter(bad, reqwest::Client::new()).unwrap().health().await;
    assert!(!h.ok);
    assert!(h.detail.contains("102"), "{}", h.detail);
    ok.set_outage(true);
    assert!(!a.health().await.ok);
    assert!(!format!("{a:?}").contains(TOKEN));
}
