//! Builders of platform-shaped webhook payloads (VK Callback API events, Telegram updates, OK Bot
//! API deliveries), following the documented shapes. The demo and the benchmarks send them as
//! realistic traffic; tests use them too. Dates are "now" unless a builder takes one.

use chrono::Utc;
use serde_json::{Value, json};

use crate::util::fnv1a;

fn now() -> i64 {
    Utc::now().timestamp()
}

/// VK Callback API / Bots Long Poll events (API 5.199 shapes).
pub mod vk {
    use super::*;

    fn event(group_id: i64, ty: &str, object: Value, secret: &str) -> Value {
        let mut e = json!({
            "group_id": group_id,
            "type": ty,
            "event_id": format!("{:016x}", fnv1a(&format!("{group_id}/{ty}/{object}"))),
            "v": "5.199",
            "object": object,
        });
        // An empty secret means "no secret" (a long-poll event, or a forged delivery).
        if !secret.is_empty()
            && let Some(o) = e.as_object_mut()
        {
            o.insert("secret".into(), json!(secret));
        }
        e
    }

    /// The server confirmation request.
    pub fn confirmation(group_id: i64) -> Value {
        json!({ "type": "confirmation", "group_id": group_id })
    }

    fn comment(group_id: i64, post_id: i64, comment_id: i64, from_id: i64, text: &str) -> Value {
        json!({
            "id": comment_id,
            "from_id": from_id,
            "date": now(),
            "text": text,
            "post_owner_id": -group_id,
            "post_id": post_id,
            "parents_stack": [],
            "thread": { "count": 0 },
        })
    }

    /// A new comment under a post of the community wall.
    pub fn wall_reply_new(
        group_id: i64,
        post_id: i64,
        comment_id: i64,
        from_id: i64,
        text: &str,
        secret: &str,
    ) -> Value {
        event(group_id, "wall_reply_new", comment(group_id, post_id, comment_id, from_id, text), secret)
    }

    /// A reply to another comment (`reply_to_comment`), in that comment's branch.
    pub fn wall_reply_to(
        group_id: i64,
        post_id: i64,
        comment_id: i64,
        reply_to_comment: i64,
        from_id: i64,
        text: &str,
        secret: &str,
    ) -> Value {
        let mut c = comment(group_id, post_id, comment_id, from_id, text);
        if let Some(o) = c.as_object_mut() {
            o.insert("reply_to_comment".into(), json!(reply_to_comment));
            o.insert("reply_to_user".into(), json!(from_id));
            o.insert("parents_stack".into(), json!([reply_to_comment]));
        }
        event(group_id, "wall_reply_new", c, secret)
    }

    /// An edited comment.
    pub fn wall_reply_edit(
        group_id: i64,
        post_id: i64,
        comment_id: i64,
        from_id: i64,
        text: &str,
        secret: &str,
    ) -> Value {
        event(group_id, "wall_reply_edit", comment(group_id, post_id, comment_id, from_id, text), secret)
    }

    /// A deleted comment.
    pub fn wall_reply_delete(group_id: i64, post_id: i64, comment_id: i64, deleter_id: i64, secret: &str) -> Value {
        let object = json!({ "owner_id": -group_id, "id": comment_id, "deleter_id": deleter_id, "post_id": post_id });
        event(group_id, "wall_reply_delete", object, secret)
    }

    /// A post on the community wall by `from_id` (the community itself is `-group_id`).
    pub fn wall_post_new(group_id: i64, post_id: i64, from_id: i64, text: &str, secret: &str) -> Value {
        let object = json!({
            "id": post_id,
            "owner_id": -group_id,
            "from_id": from_id,
            "created_by": from_id.max(0),
            "date": now(),
            "text": text,
            "post_type": if from_id > 0 { "suggest" } else { "post" },
            "attachments": [],
        });
        event(group_id, "wall_post_new", object, secret)
    }

    fn board(group_id: i64, topic_id: i64, comment_id: i64, from_id: i64, text: &str) -> Value {
        json!({
            "id": comment_id,
            "from_id": from_id,
            "date": now(),
            "text": text,
            "topic_id": topic_id,
            "topic_owner_id": -group_id,
        })
    }

    /// A new comment in a discussion board topic.
    pub fn board_post_new(
        group_id: i64,
        topic_id: i64,
        comment_id: i64,
        from_id: i64,
        text: &str,
        secret: &str,
    ) -> Value {
        event(group_id, "board_post_new", board(group_id, topic_id, comment_id, from_id, text), secret)
    }

    /// An edited board comment.
    pub fn board_post_edit(
        group_id: i64,
        topic_id: i64,
        comment_id: i64,
        from_id: i64,
        text: &str,
        secret: &str,
    ) -> Value {
        event(group_id, "board_post_edit", board(group_id, topic_id, comment_id, from_id, text), secret)
    }

    /// A deleted board comment.
    pub fn board_post_delete(group_id: i64, topic_id: i64, comment_id: i64, secret: &str) -> Value {
        let object = json!({ "topic_owner_id": -group_id, "topic_id": topic_id, "id": comment_id });
        event(group_id, "board_post_delete", object, secret)
    }

    fn message(peer_id: i64, cmid: i64, from_id: i64, text: &str) -> Value {
        json!({
            "date": now(),
            "from_id": from_id,
            // Community bots see id 0 for messages in chats.
            "id": if peer_id >= 2_000_000_000 { 0 } else { cmid + 1000 },
            "out": 0,
            "peer_id": peer_id,
            "text": text,
            "conversation_message_id": cmid,
            "fwd_messages": [],
            "important": false,
            "random_id": 0,
            "attachments": [],
            "is_hidden": false,
        })
    }

    /// A message to the community (API ≥ 5.103: `object.message` and `object.client_info`).
    pub fn message_new(group_id: i64, peer_id: i64, cmid: i64, from_id: i64, text: &str, secret: &str) -> Value {
        let object = json!({
            "message": message(peer_id, cmid, from_id, text),
            "client_info": { "button_actions": ["text"], "keyboard": true, "inline_keyboard": true, "lang_id": 0 },
        });
        event(group_id, "message_new", object, secret)
    }

    /// An edited message (the object is the message itself).
    pub fn message_edit(group_id: i64, peer_id: i64, cmid: i64, from_id: i64, text: &str, secret: &str) -> Value {
        event(group_id, "message_edit", message(peer_id, cmid, from_id, text), secret)
    }

    /// A photo attachment with several sizes (the largest is `w`×`h` at `url`).
    pub fn photo_attachment(url: &str, w: i64, h: i64) -> Value {
        json!({
            "type": "photo",
            "photo": {
                "id": 457239017, "owner_id": 1, "album_id": -3, "date": now(),
                "sizes": [
                    { "type": "s", "url": format!("{url}?size=s"), "width": w / 8, "height": h / 8 },
                    { "type": "w", "url": url, "width": w, "height": h },
                    { "type": "m", "url": format!("{url}?size=m"), "width": w / 4, "height": h / 4 },
                ],
            },
        })
    }

    /// Adds attachments to an event built above (to `object` or `object.message`).
    pub fn with_attachments(mut event: Value, attachments: Vec<Value>) -> Value {
        let target = if event.pointer("/object/message").is_some() { "/object/message" } else { "/object" };
        if let Some(o) = event.pointer_mut(target).and_then(Value::as_object_mut) {
            o.insert("attachments".into(), Value::Array(attachments));
        }
        event
    }
}

/// Telegram Bot API updates.
pub mod telegram {
    use super::*;

    fn user(from_id: i64) -> Value {
        json!({ "id": from_id, "is_bot": false, "first_name": "Иван", "last_name": "Петров", "username": format!("user{from_id}"), "language_code": "ru" })
    }

    /// A text message in a private chat with the bot.
    pub fn message_update(update_id: i64, chat_id: i64, message_id: i64, from_id: i64, text: &str) -> Value {
        json!({
            "update_id": update_id,
            "message": {
                "message_id": message_id,
                "from": user(from_id),
                "chat": { "id": chat_id, "first_name": "Иван", "last_name": "Петров", "username": format!("user{from_id}"), "type": "private" },
                "date": now(),
                "text": text,
            }
        })
    }

    /// A comment in a channel's linked discussion group: in the thread opened by the automatic
    /// forward `thread_id`, replying to `reply_to`.
    pub fn discussion_comment_update(
        update_id: i64,
        chat_id: i64,
        message_id: i64,
        thread_id: i64,
        reply_to: i64,
        from_id: i64,
        text: &str,
    ) -> Value {
        json!({
            "update_id": update_id,
            "message": {
                "message_id": message_id,
                "message_thread_id": thread_id,
                "from": user(from_id),
                "chat": { "id": chat_id, "title": "Обсуждение новостей", "type": "supergroup" },
                "date": now(),
                "reply_to_message": {
                    "message_id": reply_to,
                    "sender_chat": { "id": -1001000000001i64, "title": "Администрация", "type": "channel" },
                    "chat": { "id": chat_id, "title": "Обсуждение новостей", "type": "supergroup" },
                    "date": now(),
                    "is_automatic_forward": true,
                    "text": "Новость",
                },
                "text": text,
            }
        })
    }

    /// The automatic forward of a channel post into its discussion group.
    pub fn automatic_forward_update(
        update_id: i64,
        chat_id: i64,
        message_id: i64,
        channel_id: i64,
        channel_title: &str,
        text: &str,
    ) -> Value {
        json!({
            "update_id": update_id,
            "message": {
                "message_id": message_id,
                "from": { "id": 777000, "is_bot": false, "first_name": "Telegram" },
                "sender_chat": { "id": channel_id, "title": channel_title, "type": "channel" },
                "chat": { "id": chat_id, "title": "Обсуждение новостей", "type": "supergroup" },
                "date": now(),
                "is_automatic_forward": true,
                "forward_origin": { "type": "channel", "chat": { "id": channel_id, "title": channel_title, "type": "channel" }, "message_id": 5, "date": now() },
                "text": text,
            }
        })
    }

    /// An edited private message.
    pub fn edited_message_update(update_id: i64, chat_id: i64, message_id: i64, from_id: i64, text: &str) -> Value {
        let mut u = message_update(update_id, chat_id, message_id, from_id, text);
        if let Some(o) = u.as_object_mut()
            && let Some(mut m) = o.remove("message")
        {
            if let Some(mo) = m.as_object_mut() {
                mo.insert("edit_date".into(), json!(now()));
            }
            o.insert("edited_message".into(), m);
        }
        u
    }

    /// A post in a channel where the bot is an administrator.
    pub fn channel_post_update(
        update_id: i64,
        channel_id: i64,
        message_id: i64,
        username: Option<&str>,
        text: &str,
    ) -> Value {
        let mut chat = json!({ "id": channel_id, "title": "Администрация района", "type": "channel" });
        if let (Some(u), Some(o)) = (username, chat.as_object_mut()) {
            o.insert("username".into(), json!(u));
        }
        json!({
            "update_id": update_id,
            "channel_post": { "message_id": message_id, "sender_chat": chat.clone(), "chat": chat, "date": now(), "text": text }
        })
    }

    /// An edited channel post.
    pub fn edited_channel_post_update(update_id: i64, channel_id: i64, message_id: i64, text: &str) -> Value {
        let chat = json!({ "id": channel_id, "title": "Администрация района", "type": "channel" });
        json!({
            "update_id": update_id,
            "edited_channel_post": { "message_id": message_id, "chat": chat, "date": now() - 60, "edit_date": now(), "text": text }
        })
    }

    /// A private photo message with a caption (sizes smallest first, as Telegram sends them).
    pub fn photo_message_update(update_id: i64, chat_id: i64, message_id: i64, from_id: i64, caption: &str) -> Value {
        json!({
            "update_id": update_id,
            "message": {
                "message_id": message_id,
                "from": user(from_id),
                "chat": { "id": chat_id, "first_name": "Иван", "type": "private" },
                "date": now(),
                "photo": [
                    { "file_id": "AgACAgIAAxkBAAIBsmall", "file_unique_id": "s1", "file_size": 1200, "width": 90, "height": 68 },
                    { "file_id": "AgACAgIAAxkBAAIBlarge", "file_unique_id": "l1", "file_size": 81200, "width": 1280, "height": 960 },
                    { "file_id": "AgACAgIAAxkBAAIBmedium", "file_unique_id": "m1", "file_size": 21200, "width": 320, "height": 240 },
                ],
                "caption": caption,
            }
        })
    }
}

/// OK Bot API webhook deliveries.
pub mod ok {
    use super::*;

    /// A new message to the group (`webhookType: MESSAGE_CREATED`).
    pub fn message_created(group_id: &str, chat_id: &str, user_id: &str, mid: &str, text: &str) -> Value {
        json!({
            "webhookType": "MESSAGE_CREATED",
            "group_id": group_id,
            "sender": { "user_id": user_id, "name": "Мария Иванова" },
            "recipient": { "chat_id": chat_id },
            "message": { "text": text, "seq": 98211023614189660i64, "mid": mid },
            "timestamp": Utc::now().timestamp_millis(),
        })
    }

    /// The same with an attachment of `kind` (`IMAGE`, `SHARE`, `VIDEO`, `FILE`) at `url`.
    pub fn message_with_attachment(
        group_id: &str,
        chat_id: &str,
        user_id: &str,
        mid: &str,
        text: &str,
        kind: &str,
        url: &str,
    ) -> Value {
        let mut m = message_created(group_id, chat_id, user_id, mid, text);
        if let Some(o) = m.pointer_mut("/message").and_then(Value::as_object_mut) {
            o.insert("attachments".into(), json!([{ "type": kind, "payload": { "url": url } }]));
        }
        m
    }

    /// A callback-button press (acknowledged, not a message).
    pub fn message_callback(group_id: &str, chat_id: &str, user_id: &str) -> Value {
        json!({
            "webhookType": "MESSAGE_CALLBACK",
            "group_id": group_id,
            "sender": { "user_id": user_id },
            "recipient": { "chat_id": chat_id },
            "callbackId": "cb:1",
            "payload": "yes",
            "timestamp": Utc::now().timestamp_millis(),
        })
    }
}
