//! VK adapter against documented Callback API payloads and the fake VK API: parsing, verification,
//! malformed input, publication parameters, error classification, idempotency, long poll, health.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use otklik_channels::testing::vk::{self as fake, VkFake};
use otklik_channels::testing::{Fault, Publication};
use otklik_channels::{
    ChannelAdapter, Inbound, IntakeError, IntakeMode, NewMessage, PublishError, RevisionKind, WebhookAck, adapter,
};
use serde_json::{Value, json};

const G: i64 = 123;
const TOKEN: &str = "vk1.a.community-token-xyz";
const SECRET: &str = "s3cr3t-callback";

async fn setup(mode: IntakeMode) -> (VkFake, Arc<dyn ChannelAdapter>) {
    let vk = VkFake::start(G, TOKEN).await.expect("fake VK starts");
    let a = adapter(vk.config("club-adm", SECRET, mode), reqwest::Client::new()).expect("adapter builds");
    (vk, a)
}

fn hook(a: &dyn ChannelAdapter, body: &Value) -> Result<otklik_channels::WebhookResult, IntakeError> {
    a.handle_webhook(body.to_string().as_bytes(), None, Utc::now())
}

fn one_message(a: &dyn ChannelAdapter, body: &Value) -> NewMessage {
    let r = hook(a, body).expect("accepted");
    assert_eq!(r.ack, WebhookAck::Text("ok".into()));
    match r.items.as_slice() {
        [Inbound::Message(m)] => m.clone(),
        other => panic!("expected one message, got {other:?}"),
    }
}

fn one_revision(a: &dyn ChannelAdapter, body: &Value) -> (String, otklik_channels::MessageRevision) {
    match hook(a, body).expect("accepted").items.as_slice() {
        [Inbound::Revision { external_id, revision }] => (external_id.clone(), revision.clone()),
        other => panic!("expected one revision, got {other:?}"),
    }
}

#[tokio::test]
async fn confirmation_answers_the_configured_string_for_our_community_only() {
    let (_vk, a) = setup(IntakeMode::Webhook).await;
    let r = hook(a.as_ref(), &fake::confirmation(G)).unwrap();
    assert_eq!(r.ack, WebhookAck::Text("a1b2c3d4".into()));
    assert!(r.items.is_empty());
    assert!(matches!(hook(a.as_ref(), &fake::confirmation(999)), Err(IntakeError::Forbidden(_))));
}

#[tokio::test]
async fn wall_comment_becomes_a_message_in_the_post_thread() {
    let (_vk, a) = setup(IntakeMode::Webhook).await;
    let m = one_message(a.as_ref(), &fake::wall_reply_new(G, 45, 67, 1001, "Яма на Ленина", SECRET));
    assert_eq!(m.external_id, "wall:-123_45_67");
    assert_eq!(m.thread_id.as_deref(), Some("wall:-123_45"));
    assert_eq!(m.parent_id.as_deref(), Some("post:-123_45"));
    assert_eq!(m.author.id, "1001");
    assert_eq!(m.text, "Яма на Ленина");
    assert_eq!(m.source, "club-adm");
    assert_eq!(m.url.as_deref(), Some("https://vk.com/wall-123_45?reply=67"));
    assert_eq!(m.raw["type"], "wall_reply_new");
    assert!(m.raw.get("secret").is_none(), "the secret must not be stored with the raw event");

    let reply = one_message(a.as_ref(), &fake::wall_reply_to(G, 45, 68, 67, 1002, "Поддерживаю", SECRET));
    assert_eq!(reply.parent_id.as_deref(), Some("wall:-123_45_67"));
    assert_eq!(reply.url.as_deref(), Some("https://vk.com/wall-123_45?reply=68&thread=67"));
}

#[tokio::test]
async fn own_comments_and_posts_are_not_citizens_messages() {
    let (_vk, a) = setup(IntakeMode::Webhook).await;
    assert!(
        hook(a.as_ref(), &fake::wall_reply_new(G, 45, 70, -G, "Ответ администрации", SECRET)).unwrap().items.is_empty()
    );
    assert!(hook(a.as_ref(), &fake::wall_post_new(G, 46, -G, "Новость", SECRET)).unwrap().items.is_empty());
    assert!(hook(a.as_ref(), &fake::board_post_new(G, 9, 90, -G, "Ответ", SECRET)).unwrap().items.is_empty());
}

#[tokio::test]
async fn edits_and_deletions_become_revisions() {
    let (_vk, a) = setup(IntakeMode::Webhook).await;
    let (id, rev) = one_revision(a.as_ref(), &fake::wall_reply_edit(G, 45, 67, 1001, "Яма на Ленина, 5", SECRET));
    assert_eq!(id, "wall:-123_45_67");
    assert_eq!(rev.kind, RevisionKind::Edit);
    assert_eq!(rev.text.as_deref(), Some("Яма на Ленина, 5"));
    let (id, rev) = one_revision(a.as_ref(), &fake::wall_reply_delete(G, 45, 67, 1001, SECRET));
    assert_eq!(id, "wall:-123_45_67");
    assert_eq!(rev.kind, RevisionKind::Delete);
    assert_eq!(rev.text, None);
    let (id, rev) = one_revision(a.as_ref(), &fake::board_post_edit(G, 9, 88, 1001, "исправлено", SECRET));
    assert_eq!((id.as_str(), rev.kind), ("board:123_9_88", RevisionKind::Edit));
    let (id, rev) = one_revision(a.as_ref(), &fake::board_post_delete(G, 9, 88, SECRET));
    assert_eq!((id.as_str(), rev.kind), ("board:123_9_88", RevisionKind::Delete));
    let (id, rev) = one_revision(a.as_ref(), &fake::message_edit(G, 2000000001, 555, 1001, "новый текст", SECRET));
    assert_eq!((id.as_str(), rev.kind), ("msg:2000000001_555", RevisionKind::Edit));
    assert_eq!(rev.text.as_deref(), Some("новый текст"));
}

#[tokio::test]
async fn user_posts_board_comments_and_messages_are_parsed() {
    let (_vk, a) = setup(IntakeMode::Webhook).await;
    let post = one_message(a.as_ref(), &fake::wall_post_new(G, 46, 1001, "Предлагаю поставить скамейки", SECRET));
    assert_eq!(post.external_id, "post:-123_46");
    assert_eq!(post.thread_id.as_deref(), Some("wall:-123_46"));
    assert_eq!(post.url.as_deref(), Some("https://vk.com/wall-123_46"));

    let board = one_message(a.as_ref(), &fake::board_post_new(G, 9, 88, 1003, "Когда починят свет?", SECRET));
    assert_eq!(board.external_id, "board:123_9_88");
    assert_eq!(board.thread_id.as_deref(), Some("board:123_9"));
    assert_eq!(board.url.as_deref(), Some("https://vk.com/topic-123_9?post=88"));

    let chat = one_message(a.as_ref(), &fake::message_new(G, 2000000001, 555, 1004, "В беседе вопрос", SECRET));
    assert_eq!(chat.external_id, "msg:2000000001_555");
    assert_eq!(chat.thread_id.as_deref(), Some("msg:2000000001"));
    assert_eq!(chat.url, None);
    let dialog = one_message(a.as_ref(), &fake::message_new(G, 1004, 12, 1004, "Личное сообщение", SECRET));
    assert_eq!(dialog.external_id, "msg:1004_12");
    assert_eq!(dialog.url.as_deref(), Some("https://vk.com/gim123?sel=1004"));
}

#[tokio::test]
async fn attachments_take_the_largest_photo_and_keep_links_and_documents() {
    let (_vk, a) = setup(IntakeMode::Webhook).await;
    let event = fake::with_attachments(
        fake::wall_reply_new(G, 45, 71, 1001, "Фото ямы", SECRET),
        vec![
            fake::photo_attachment("https://sun9-1.userapi.com/big.jpg", 1280, 960),
            json!({ "type": "link", "link": { "url": "https://gosuslugi.ru/", "title": "Госуслуги" } }),
            json!({ "type": "doc", "doc": { "url": "https://vk.com/doc1_2", "title": "акт.pdf" } }),
            json!({ "type": "sticker", "sticker": { "sticker_id": 1 } }),
        ],
    );
    let m = one_message(a.as_ref(), &event);
    let kinds: Vec<(&str, &str)> = m.attachments.iter().map(|x| (x.kind.as_str(), x.url.as_str())).collect();
    assert_eq!(
        kinds,
        vec![
            ("photo", "https://sun9-1.userapi.com/big.jpg"),
            ("link", "https://gosuslugi.ru/"),
            ("document", "https://vk.com/doc1_2"),
        ]
    );
    assert_eq!(m.attachments[2].name.as_deref(), Some("акт.pdf"));
}

#[tokio::test]
async fn forged_deliveries_are_forbidden() {
    let (_vk, a) = setup(IntakeMode::Webhook).await;
    let wrong = fake::wall_reply_new(G, 45, 67, 1001, "x", "guess");
    assert_eq!(hook(a.as_ref(), &wrong), Err(IntakeError::Forbidden("secret does not match".into())));
    let missing = fake::wall_reply_new(G, 45, 67, 1001, "x", "");
    assert_eq!(hook(a.as_ref(), &missing), Err(IntakeError::Forbidden("secret missing".into())));
    let other = fake::wall_reply_new(777, 45, 67, 1001, "x", SECRET);
    assert!(matches!(hook(a.as_ref(), &other), Err(IntakeError::Forbidden(r)) if r.contains("777")));
    // Unknown types are verified too.
    let forged_unknown = json!({ "type": "group_join", "group_id": G, "object": {}, "secret": "nope" });
    assert!(matches!(hook(a.as_ref(), &forged_unknown), Err(IntakeError::Forbidden(_))));
}

#[tokio::test]
async fn unknown_events_are_acknowledged_without_items() {
    let (_vk, a) = setup(IntakeMode::Webhook).await;
    let e = json!({ "type": "group_join", "group_id": G, "event_id": "e1", "v": "5.199",
                     "object": { "user_id": 1, "join_type": "join" }, "secret": SECRET });
    let r = hook(a.as_ref(), &e).unwrap();
    assert_eq!(r.ack, WebhookAck::Text("ok".into()));
    assert!(r.items.is_empty());
}

#[tokio::test]
async fn malformed_payloads_name_the_field() {
    let (_vk, a) = setup(IntakeMode::Webhook).await;
    let mut e = fake::wall_reply_new(G, 45, 67, 1001, "x", SECRET);
    e["object"].as_object_mut().unwrap().remove("date");
    assert_eq!(hook(a.as_ref(), &e), Err(IntakeError::Malformed("object.date: missing".into())));
    let mut e = fake::wall_reply_new(G, 45, 67, 1001, "x", SECRET);
    e["object"]["post_id"] = json!("forty-five");
    assert_eq!(
        hook(a.as_ref(), &e),
        Err(IntakeError::Malformed("object.post_id: expected integer, found string".into()))
    );
    let mut e = fake::message_new(G, 1004, 12, 1004, "x", SECRET);
    e["object"]["message"]["conversation_message_id"] = Value::Null;
    assert_eq!(
        hook(a.as_ref(), &e),
        Err(IntakeError::Malformed("object.message.conversation_message_id: missing".into()))
    );
    let old = json!({ "type": "message_new", "group_id": G, "secret": SECRET,
                      "object": { "id": 1, "peer_id": 5, "from_id": 5, "date": 1, "text": "old" } });
    assert!(matches!(hook(a.as_ref(), &old), Err(IntakeError::Malformed(r)) if r.contains("5.103")));
    assert_eq!(
        a.handle_webhook(b"[1,2]", None, Utc::now()),
        Err(IntakeError::Malformed("body: expected object, found array".into()))
    );
    assert_eq!(a.handle_webhook(b"", None, Utc::now()), Err(IntakeError::Malformed("body: empty".into())));
    assert!(matches!(a.handle_webhook(b"{\"type\":", None, Utc::now()),
        Err(IntakeError::Malformed(r)) if r.starts_with("body: invalid JSON at line 1")));
}

#[tokio::test]
async fn truncated_and_garbage_inputs_never_panic() {
    let (_vk, a) = setup(IntakeMode::Webhook).await;
    let samples = [
        fake::wall_reply_new(G, 45, 67, 1001, "Яма", SECRET),
        fake::message_new(G, 2000000001, 555, 1004, "Вопрос", SECRET),
        fake::board_post_delete(G, 9, 88, SECRET),
    ];
    for s in &samples {
        let bytes = s.to_string().into_bytes();
        for cut in 0..bytes.len() {
            match a.handle_webhook(&bytes[..cut], None, Utc::now()) {
                Err(IntakeError::Malformed(reason)) => assert!(!reason.is_empty()),
                other => panic!("prefix of {cut} bytes gave {other:?}"),
            }
        }
    }
    // Deterministic pseudo-random garbage, including JSON-looking noise.
    let alphabet: &[u8] = b"{}[]\":,0123456789-typeobjectgroup_id \xff\x00";
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for round in 0..500 {
        let len = (round % 64) + 1;
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                alphabet[(x % alphabet.len() as u64) as usize]
            })
            .collect();
        let _ = a.handle_webhook(&bytes, None, Utc::now());
    }
    // Well-formed JSON with hostile values.
    for v in [
        json!({"type": "wall_reply_new", "group_id": G, "secret": SECRET, "object": {"post_owner_id": i64::MIN, "post_id": u64::MAX, "id": -1, "from_id": i64::MIN, "date": i64::MAX}}),
        json!({"type": "board_post_new", "group_id": G, "secret": SECRET, "object": {"topic_owner_id": i64::MIN, "topic_id": 1, "id": 1, "from_id": 1, "date": 1}}),
        json!({"type": 5, "group_id": G}),
        json!({"type": "message_new", "group_id": G, "secret": SECRET, "object": {"message": []}}),
    ] {
        assert!(matches!(hook(a.as_ref(), &v), Err(IntakeError::Malformed(_)) | Ok(_)));
    }
}

fn original(a: &dyn ChannelAdapter, event: &Value) -> NewMessage {
    one_message(a, event)
}

fn params(p: &Publication) -> &serde_json::Map<String, Value> {
    p.params.as_object().expect("params object")
}

#[tokio::test]
async fn wall_reply_is_published_with_documented_parameters() {
    let (vk, a) = setup(IntakeMode::Webhook).await;
    let o = original(a.as_ref(), &fake::wall_reply_new(G, 45, 67, 1001, "Яма", SECRET));
    let p = a.publish(&o, "Спасибо, передали в ЖКХ", "answer-1").await.expect("published");
    let published = vk.published();
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].method, "wall.createComment");
    let got = params(&published[0]);
    assert_eq!(got["owner_id"], "-123");
    assert_eq!(got["post_id"], "45");
    assert_eq!(got["from_group"], "123");
    assert_eq!(got["reply_to_comment"], "67");
    assert_eq!(got["message"], "Спасибо, передали в ЖКХ");
    assert_eq!(got["guid"], "answer-1");
    assert_eq!(got["v"], "5.199");
    assert!(!got.contains_key("access_token"), "the fake logs no credentials");
    assert_eq!(p.external_id, format!("wall:-123_45_{}", published[0].id));

    let post = original(a.as_ref(), &fake::wall_post_new(G, 46, 1001, "Пост", SECRET));
    a.publish(&post, "Ответ на пост", "answer-2").await.unwrap();
    let last = vk.published().pop().unwrap();
    assert_eq!(params(&last)["post_id"], "46");
    assert!(!params(&last).contains_key("reply_to_comment"));
}

#[tokio::test]
async fn board_and_message_replies_use_their_methods() {
    let (vk, a) = setup(IntakeMode::Webhook).await;
    let board = original(a.as_ref(), &fake::board_post_new(G, 9, 88, 1003, "Свет", SECRET));
    let p = a.publish(&board, "Починят к пятнице", "answer-3").await.unwrap();
    let b = vk.published().pop().unwrap();
    assert_eq!(b.method, "board.createComment");
    assert_eq!((params(&b)["group_id"].as_str(), params(&b)["topic_id"].as_str()), (Some("123"), Some("9")));
    assert_eq!(params(&b)["from_group"], "1");
    assert_eq!(params(&b)["guid"], "answer-3");
    assert_eq!(p.external_id, format!("board:123_9_{}", b.id));

    let msg = original(a.as_ref(), &fake::message_new(G, 2000000001, 555, 1004, "Вопрос", SECRET));
    let p = a.publish(&msg, "Ответ в беседу", "answer-4").await.unwrap();
    let m = vk.published().pop().unwrap();
    assert_eq!(m.method, "messages.send");
    assert_eq!(params(&m)["peer_id"], "2000000001");
    assert_eq!(params(&m)["random_id"], otklik_channels::vk::vk_random_id("answer-4").to_string());
    let forward: Value = serde_json::from_str(params(&m)["forward"].as_str().unwrap()).unwrap();
    assert_eq!(forward, json!({ "peer_id": 2000000001, "conversation_message_ids": [555], "is_reply": true }));
    assert_eq!(p.external_id, format!("msgsent:2000000001_{}", m.id));
}

#[tokio::test]
async fn retried_publication_with_the_same_key_appears_once() {
    let (vk, a) = setup(IntakeMode::Webhook).await;
    let o = original(a.as_ref(), &fake::wall_reply_new(G, 45, 67, 1001, "Яма", SECRET));
    let first = a.publish(&o, "Ответ", "key-1").await.unwrap();
    let again = a.publish(&o, "Ответ", "key-1").await.unwrap();
    assert_eq!(first, again);
    assert_eq!(vk.published().len(), 1);
    assert_eq!(vk.calls_of("wall.createComment").len(), 2);
    a.publish(&o, "Другой ответ", "key-2").await.unwrap();
    assert_eq!(vk.published().len(), 2);

    let msg = original(a.as_ref(), &fake::message_new(G, 1004, 12, 1004, "Вопрос", SECRET));
    let m1 = a.publish(&msg, "Ответ", "key-3").await.unwrap();
    let m2 = a.publish(&msg, "Ответ", "key-3").await.unwrap();
    assert_eq!(m1, m2);
    assert_eq!(vk.published().len(), 3);
}

#[tokio::test]
async fn flood_control_then_success_publishes_exactly_once() {
    let (vk, a) = setup(IntakeMode::Webhook).await;
    let o = original(a.as_ref(), &fake::wall_reply_new(G, 45, 67, 1001, "Яма", SECRET));
    vk.fail_next(Fault::Code(9), 1);
    match a.publish(&o, "Ответ", "k").await {
        Err(PublishError::Retry { code, after, .. }) => {
            assert_eq!(code, "vk_9");
            assert_eq!(after, Some(Duration::from_secs(60)));
        }
        other => panic!("expected retry, got {other:?}"),
    }
    assert!(vk.published().is_empty());
    a.publish(&o, "Ответ", "k").await.expect("second attempt succeeds");
    assert_eq!(vk.published().len(), 1);
}

#[tokio::test]
async fn vk_errors_are_classified() {
    let (vk, a) = setup(IntakeMode::Webhook).await;
    let o = original(a.as_ref(), &fake::wall_reply_new(G, 45, 67, 1001, "Яма", SECRET));
    for code in [6, 9, 10, 29] {
        vk.fail_next(Fault::Code(code), 1);
        assert!(
            matches!(a.publish(&o, "x", "k").await, Err(PublishError::Retry { code: c, .. }) if c == format!("vk_{code}")),
            "code {code} should be retried"
        );
    }
    vk.fail_next(Fault::Code(14), 1);
    match a.publish(&o, "x", "k").await {
        Err(PublishError::Retry { reason, after: Some(after), .. }) => {
            assert!(reason.starts_with("captcha required"));
            assert!(after >= Duration::from_secs(600));
        }
        other => panic!("captcha should be a long retry, got {other:?}"),
    }
    for code in [5, 7, 15, 18, 30, 100, 203, 211, 212, 213, 901] {
        vk.fail_next(Fault::Code(code), 1);
        assert!(
            matches!(a.publish(&o, "x", "k").await, Err(PublishError::Permanent { code: c, .. }) if c == format!("vk_{code}")),
            "code {code} should be permanent"
        );
    }
    vk.set_outage(true);
    assert!(matches!(a.publish(&o, "x", "k").await, Err(PublishError::Retry { code, .. }) if code == "http_503"));
    vk.clear_faults();
    assert!(vk.published().is_empty());
    a.publish(&o, "x", "k").await.unwrap();
    assert_eq!(vk.published().len(), 1);
}

#[tokio::test]
async fn unreachable_api_is_a_network_retry_without_secrets_in_the_reason() {
    let (vk, a) = setup(IntakeMode::Webhook).await;
    let o = original(a.as_ref(), &fake::wall_reply_new(G, 45, 67, 1001, "Яма", SECRET));
    drop(vk);
    tokio::time::sleep(Duration::from_millis(50)).await;
    match a.publish(&o, "x", "k").await {
        Err(PublishError::Retry { code, reason, .. }) => {
            assert_eq!(code, "network");
            assert!(!reason.contains(TOKEN));
        }
        other => panic!("expected a network retry, got {other:?}"),
    }
}

#[tokio::test]
async fn foreign_external_ids_are_permanent_failures() {
    let (_vk, a) = setup(IntakeMode::Webhook).await;
    let mut o = original(a.as_ref(), &fake::wall_reply_new(G, 45, 67, 1001, "Яма", SECRET));
    o.external_id = "photo:1_2".into();
    assert!(
        matches!(a.publish(&o, "x", "k").await, Err(PublishError::Permanent { code, .. }) if code == "unsupported_target")
    );
}

#[tokio::test]
async fn long_poll_cycle_handles_failed_1_2_and_3() {
    let (vk, a) = setup(IntakeMode::Poll).await;
    let wait = Duration::from_secs(0);
    // Start: the server's ts; nothing yet.
    let b = a.poll(None, wait).await.unwrap();
    assert!(b.items.is_empty());
    assert_eq!(b.cursor.as_deref(), Some("0"));
    assert_eq!(vk.long_poll_server_requests(), 1);

    vk.push_event(fake::wall_reply_new(G, 45, 67, 1001, "Первый", ""));
    vk.push_event(fake::message_new(G, 1004, 12, 1004, "Второй", ""));
    let b = a.poll(b.cursor.as_deref(), wait).await.unwrap();
    let ids: Vec<String> = b
        .items
        .iter()
        .map(|i| match i {
            Inbound::Message(m) => m.external_id.clone(),
            Inbound::Revision { external_id, .. } => external_id.clone(),
        })
        .collect();
    assert_eq!(ids, vec!["wall:-123_45_67", "msg:1004_12"]);
    assert_eq!(b.cursor.as_deref(), Some("2"));

    // failed 1: continue from the ts given, no items.
    vk.fail_long_poll(1);
    let b = a.poll(b.cursor.as_deref(), wait).await.unwrap();
    assert!(b.items.is_empty());
    assert_eq!(b.cursor.as_deref(), Some("2"));

    // failed 2: refresh the key, keep ts, still deliver what came meanwhile.
    vk.push_event(fake::board_post_new(G, 9, 88, 1003, "Третий", ""));
    vk.fail_long_poll(2);
    let b = a.poll(b.cursor.as_deref(), wait).await.unwrap();
    assert_eq!(b.items.len(), 1);
    assert_eq!(b.cursor.as_deref(), Some("3"));
    assert_eq!(vk.long_poll_server_requests(), 2);

    // An expired key is the same as failed 2.
    vk.expire_long_poll_key();
    vk.push_event(fake::wall_reply_delete(G, 45, 67, 1001, ""));
    let b = a.poll(b.cursor.as_deref(), wait).await.unwrap();
    assert!(
        matches!(b.items.as_slice(), [Inbound::Revision { revision, .. }] if revision.kind == RevisionKind::Delete)
    );
    assert_eq!(vk.long_poll_server_requests(), 3);

    // failed 3: new key and ts; events in between are lost, as VK documents.
    vk.push_event(fake::wall_reply_new(G, 45, 69, 1001, "Потерянный", ""));
    vk.fail_long_poll(3);
    let b = a.poll(b.cursor.as_deref(), wait).await.unwrap();
    assert!(b.items.is_empty());
    assert_eq!(b.cursor.as_deref(), Some("5"));
    assert_eq!(vk.long_poll_server_requests(), 4);

    // A restart with a persisted cursor fetches a key but keeps the cursor's ts.
    let restarted = adapter(vk.config("club-adm", SECRET, IntakeMode::Poll), reqwest::Client::new()).unwrap();
    vk.push_event(fake::wall_reply_new(G, 45, 70, 1001, "После перезапуска", ""));
    let b = restarted.poll(b.cursor.as_deref(), wait).await.unwrap();
    assert_eq!(b.items.len(), 1);
    assert_eq!(b.cursor.as_deref(), Some("6"));
}

#[tokio::test]
async fn long_poll_waits_for_events_and_reports_outages() {
    let (vk, a) = setup(IntakeMode::Poll).await;
    let b = a.poll(None, Duration::from_secs(0)).await.unwrap();
    let started = std::time::Instant::now();
    let b = a.poll(b.cursor.as_deref(), Duration::from_secs(1)).await.unwrap();
    assert!(b.items.is_empty());
    assert!(started.elapsed() >= Duration::from_millis(900), "the long poll waits");
    vk.set_outage(true);
    let fresh = adapter(vk.config("club-adm", SECRET, IntakeMode::Poll), reqwest::Client::new()).unwrap();
    assert!(matches!(fresh.poll(None, Duration::from_secs(0)).await, Err(otklik_channels::ChannelError::Transport(_))));
    vk.clear_faults();
    vk.fail_next(Fault::Code(5), 1);
    assert!(matches!(fresh.poll(None, Duration::from_secs(0)).await,
        Err(otklik_channels::ChannelError::Platform { code, .. }) if code == "vk_5"));
}

#[tokio::test]
async fn health_reports_the_community_or_the_failure() {
    let (vk, a) = setup(IntakeMode::Webhook).await;
    let h = a.health().await;
    assert!(h.ok, "{h:?}");
    assert!(h.detail.contains("123"));
    vk.set_outage(true);
    let h = a.health().await;
    assert!(!h.ok);
    assert!(h.detail.contains("503"));
    vk.clear_faults();
    let mut bad = vk.config("club-adm", SECRET, IntakeMode::Webhook);
    bad.token = Some(otklik_channels::Secret::new("revoked-token"));
    let h = adapter(bad, reqwest::Client::new()).unwrap().health().await;
    assert!(!h.ok);
    assert!(h.detail.contains("VK error 5"), "{}", h.detail);
    assert!(!h.detail.contains("revoked-token"));
}

#[tokio::test]
async fn debug_output_hides_credentials() {
    let (vk, a) = setup(IntakeMode::Webhook).await;
    let shown = format!("{a:?} {:?}", vk.config("club-adm", SECRET, IntakeMode::Webhook));
    assert!(!shown.contains(TOKEN) && !shown.contains(SECRET), "{shown}");
    assert!(shown.contains("<redacted>"));
}
