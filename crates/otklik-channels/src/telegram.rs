//! Telegram Bot API adapter: webhook updates verified by `X-Telegram-Bot-Api-Secret-Token`,
//! `getUpdates` long polling, replies through `sendMessage`, health through `getWebhookInfo`.
//!
//! # Identifiers
//!
//! | item | `external_id` | `thread_id` | `parent_id` |
//! |---|---|---|---|
//! | any message | `{chat_id}:{message_id}` | see below | `{chat_id}:{reply_to_message.message_id}` |
//!
//! `thread_id` is `{chat_id}:{message_thread_id}` when the message belongs to a thread (forum
//! topic, or comments under a channel post in the linked discussion group); the automatic forward
//! of a channel post into the discussion group opens that thread, so its thread is
//! `{chat_id}:{message_id}`; any other message's thread is the chat, `{chat_id}`.
//!
//! `url` is `https://t.me/{username}/{message_id}` for public chats and
//! `https://t.me/c/{id without -100}/{message_id}` for private supergroups and channels; private
//! dialogs have none. Photos become attachments `photo` with url `tg-file:{file_id}` (largest
//! size); documents `document` with `tg-file:{file_id}`.
//!
//! # Updates
//!
//! `message` and `channel_post` become messages; `edited_message` and `edited_channel_post` edit
//! revisions (at `edit_date`). The automatic forward of a channel post (`is_automatic_forward`) is
//! kept as context, authored by the channel (`chat:{id}`). Other update kinds are acknowledged with
//! an empty body. Messages sent on behalf of a chat (`sender_chat`) are authored by `chat:{id}`.
//!
//! # Publication
//!
//! `sendMessage` with `reply_parameters {message_id, allow_sending_without_reply: true}`, and
//! `message_thread_id` when the original was in a forum topic (`is_topic_message`; the Bot API
//! accepts the parameter for forum topics only; in a discussion group the reply keeps the thread).
//! The Bot API has no idempotency key: a retry after a lost response can post twice.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::util::{self, Obj, as_i64, constant_time_eq, parse_json, transport_reason, unix_seconds};
use crate::{
    Attachment, Author, Channel, ChannelAdapter, ChannelError, Health, Inbound, IntakeError, IntakeMode,
    MessageRevision, NewMessage, PollBatch, PublishError, Published, RevisionKind, Secret, SourceConfig, WebhookAck,
    WebhookResult,
};

/// The default Bot API base.
pub const DEFAULT_API_BASE: &str = "https://api.telegram.org";

/// Update kinds we ask for when polling.
const ALLOWED_UPDATES: [&str; 4] = ["message", "edited_message", "channel_post", "edited_channel_post"];

/// Adapter for one Telegram bot.
pub struct TelegramAdapter {
    source: String,
    token: Secret,
    secret: Option<Secret>,
    api_base: String,
    http: reqwest::Client,
}

impl std::fmt::Debug for TelegramAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelegramAdapter")
            .field("source", &self.source)
            .field("api_base", &self.api_base)
            .field("token", &self.token)
            .field("secret", &self.secret)
            .finish()
    }
}

/// A failed Bot API call, before classification.
#[derive(Debug)]
enum CallError {
    Network(String),
    Api { status: u16, code: i64, description: String, retry_after: Option<u64> },
    Bad(String),
}

impl CallError {
    fn into_publish(self) -> PublishError {
        match self {
            CallError::Network(reason) => PublishError::Retry { code: "network".into(), reason, after: None },
            CallError::Api { status, code, description, retry_after } => {
                publish_error(if code != 0 { code } else { i64::from(status) }, &description, retry_after)
            }
            CallError::Bad(reason) => PublishError::Retry { code: "telegram_bad_response".into(), reason, after: None },
        }
    }

    fn into_channel(self) -> ChannelError {
        match self {
            CallError::Network(reason) => ChannelError::Transport(reason),
            CallError::Api { status, code, description, .. } => ChannelError::Platform {
                code: format!("telegram_{}", if code != 0 { code } else { i64::from(status) }),
                reason: description,
            },
            CallError::Bad(reason) => ChannelError::Platform { code: "telegram_bad_response".into(), reason },
        }
    }
}

/// Classifies a Bot API error of `sendMessage` by its `error_code` (the HTTP status).
pub fn publish_error(code: i64, description: &str, retry_after: Option<u64>) -> PublishError {
    let code_text = format!("telegram_{code}");
    match code {
        429 => PublishError::Retry {
            code: code_text,
            reason: format!("flood limit: {description}"),
            after: Some(Duration::from_secs(retry_after.unwrap_or(30))),
        },
        500..=599 => PublishError::Retry { code: code_text, reason: description.to_string(), after: None },
        403 => PublishError::Permanent {
            code: code_text,
            reason: format!("the bot cannot write there (blocked, kicked or no rights): {description}"),
        },
        401 | 404 => PublishError::Permanent {
            code: code_text,
            reason: format!("the bot token is wrong or revoked: {description}"),
        },
        _ => PublishError::Permanent { code: code_text, reason: description.to_string() },
    }
}

impl TelegramAdapter {
    pub fn new(config: SourceConfig, http: reqwest::Client) -> Result<Self, ChannelError> {
        let token = config
            .token
            .ok_or_else(|| ChannelError::Config(format!("{}: token (bot token) is required", config.source)))?;
        if config.mode == IntakeMode::Webhook && config.secret.is_none() {
            return Err(ChannelError::Config(format!(
                "{}: secret (the setWebhook secret_token) is required for webhook intake",
                config.source
            )));
        }
        Ok(TelegramAdapter {
            source: config.source,
            token,
            secret: config.secret,
            api_base: util::base_url(config.api_base.as_deref(), DEFAULT_API_BASE),
            http,
        })
    }

    async fn call(&self, method: &str, body: &Value, timeout: Duration) -> Result<Value, CallError> {
        // The URL holds the token: transport_reason strips it from error texts.
        let resp = self
            .http
            .post(format!("{}/bot{}/{method}", self.api_base, self.token.expose()))
            .json(body)
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| CallError::Network(transport_reason(e)))?;
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(|e| CallError::Network(transport_reason(e)))?;
        let json: Value = match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(_) if status >= 400 => {
                return Err(CallError::Api {
                    status,
                    code: i64::from(status),
                    description: text.chars().take(200).collect(),
                    retry_after: None,
                });
            }
            Err(e) => return Err(CallError::Bad(format!("{method}: response is not JSON: {e}"))),
        };
        if json.get("ok").and_then(Value::as_bool) == Some(true) {
            return json.get("result").cloned().ok_or_else(|| CallError::Bad(format!("{method}: result missing")));
        }
        Err(CallError::Api {
            status,
            code: json.get("error_code").and_then(as_i64).unwrap_or(i64::from(status)),
            description: json.get("description").and_then(Value::as_str).unwrap_or("unknown error").to_string(),
            retry_after: json
                .get("parameters")
                .and_then(|p| p.get("retry_after"))
                .and_then(as_i64)
                .and_then(|s| u64::try_from(s).ok()),
        })
    }
}

#[async_trait::async_trait]
impl ChannelAdapter for TelegramAdapter {
    fn channel(&self) -> Channel {
        Channel::Telegram
    }

    fn source(&self) -> &str {
        &self.source
    }

    fn handle_webhook(
        &self,
        body: &[u8],
        secret_header: Option<&str>,
        received_at: DateTime<Utc>,
    ) -> Result<WebhookResult, IntakeError> {
        // Verify before reading anything: a forged delivery learns nothing about parsing.
        let expected = self
            .secret
            .as_ref()
            .ok_or_else(|| IntakeError::Forbidden("no secret_token is configured for this source".into()))?;
        match secret_header {
            None => return Err(IntakeError::Forbidden("X-Telegram-Bot-Api-Secret-Token header missing".into())),
            Some(given) if !constant_time_eq(given, expected.expose()) => {
                return Err(IntakeError::Forbidden("X-Telegram-Bot-Api-Secret-Token does not match".into()));
            }
            Some(_) => {}
        }
        let update = parse_json(body)?;
        let items = parse_update(&update, &self.source, received_at)?;
        Ok(WebhookResult { ack: WebhookAck::Empty, items })
    }

    async fn poll(&self, cursor: Option<&str>, wait: Duration) -> Result<PollBatch, ChannelError> {
        let offset = match cursor.filter(|c| !c.is_empty()) {
            None => None,
            Some(c) => Some(
                c.parse::<i64>()
                    .map_err(|_| ChannelError::Config(format!("cursor `{c}` is not a Telegram update offset")))?,
            ),
        };
        let mut body = json!({ "timeout": wait.as_secs(), "allowed_updates": ALLOWED_UPDATES });
        if let (Some(o), Some(map)) = (offset, body.as_object_mut()) {
            map.insert("offset".into(), json!(o));
        }
        let result =
            self.call("getUpdates", &body, wait + Duration::from_secs(10)).await.map_err(CallError::into_channel)?;
        let updates = result.as_array().ok_or_else(|| ChannelError::Platform {
            code: "telegram_bad_response".into(),
            reason: "getUpdates: result is not an array".into(),
        })?;
        let mut next = offset;
        let mut items = Vec::new();
        let now = Utc::now();
        for update in updates {
            if let Some(id) = update.get("update_id").and_then(as_i64) {
                next = Some(next.map_or(id + 1, |n| n.max(id + 1)));
            }
            match parse_update(update, &self.source, now) {
                Ok(mut parsed) => items.append(&mut parsed),
                // Skip rather than stall: the offset still moves past it.
                Err(e) => tracing::warn!(source = %self.source, error = %e, "skipping unreadable Telegram update"),
            }
        }
        Ok(PollBatch { items, cursor: next.map(|n| n.to_string()) })
    }

    async fn publish(
        &self,
        original: &NewMessage,
        text: &str,
        _idempotency_key: &str,
    ) -> Result<Published, PublishError> {
        let unsupported = || PublishError::Permanent {
            code: "unsupported_target".into(),
            reason: format!("`{}` is not a Telegram message id (chat:message)", original.external_id),
        };
        let (chat, message) = original.external_id.rsplit_once(':').ok_or_else(unsupported)?;
        let chat: i64 = chat.parse().map_err(|_| unsupported())?;
        let message: i64 = message.parse().map_err(|_| unsupported())?;
        let mut body = json!({
            "chat_id": chat,
            "text": text,
            "reply_parameters": { "message_id": message, "allow_sending_without_reply": true },
        });
        if let Some(thread) = forum_thread(original)
            && let Some(map) = body.as_object_mut()
        {
            map.insert("message_thread_id".into(), json!(thread));
        }
        let sent = self.call("sendMessage", &body, util::CALL_TIMEOUT).await.map_err(CallError::into_publish)?;
        let id = sent.get("message_id").and_then(as_i64).ok_or_else(|| PublishError::Retry {
            code: "telegram_bad_response".into(),
            reason: "sendMessage: result.message_id missing".into(),
            after: None,
        })?;
        Ok(Published { external_id: format!("{chat}:{id}") })
    }

    async fn health(&self) -> Health {
        match self.call("getWebhookInfo", &json!({}), util::CALL_TIMEOUT).await {
            Ok(info) => {
                let url = info.get("url").and_then(Value::as_str).unwrap_or("");
                let pending = info.get("pending_update_count").and_then(as_i64).unwrap_or(0);
                let last_error = info.get("last_error_message").and_then(Value::as_str);
                let last_error_at = info.get("last_error_date").and_then(as_i64);
                // Telegram keeps the last error after recovery; only a recent one is a fault.
                let recent_error =
                    last_error.is_some() && last_error_at.is_none_or(|t| Utc::now().timestamp() - t < 600);
                let mut detail = format!(
                    "webhook {}; pending_update_count {pending}",
                    if url.is_empty() { "not set".to_string() } else { format!("set to {url}") }
                );
                if let Some(e) = last_error {
                    detail.push_str(&format!("; last_error_message: {e}"));
                }
                Health { ok: !recent_error, detail }
            }
            Err(e) => Health {
                ok: false,
                detail: match e.into_channel() {
                    ChannelError::Platform { code, reason } => format!("getWebhookInfo failed: {code}: {reason}"),
                    other => format!("getWebhookInfo failed: {other}"),
                },
            },
        }
    }
}

/// The forum topic of the original, if it was written in one.
fn forum_thread(original: &NewMessage) -> Option<i64> {
    let msg = ["message", "edited_message", "channel_post", "edited_channel_post"]
        .iter()
        .find_map(|k| original.raw.get(*k))
        .unwrap_or(&original.raw);
    if msg.get("is_topic_message").and_then(Value::as_bool) == Some(true) {
        msg.get("message_thread_id").and_then(as_i64)
    } else {
        None
    }
}

/// Parses one Update. Unknown update kinds give no items.
pub fn parse_update(update: &Value, source: &str, received_at: DateTime<Utc>) -> Result<Vec<Inbound>, IntakeError> {
    let root = Obj::new(update, "")?;
    root.i64("update_id")?;
    for (key, is_edit) in
        [("message", false), ("channel_post", false), ("edited_message", true), ("edited_channel_post", true)]
    {
        let Some(m) = root.opt_obj(key)? else { continue };
        let chat = m.obj("chat")?;
        let chat_id = chat.i64("id")?;
        let message_id = m.i64("message_id")?;
        let external_id = format!("{chat_id}:{message_id}");
        let text = match m.opt_str("text")? {
            Some(t) => t,
            None => m.opt_str("caption")?.unwrap_or(""),
        };
        if is_edit {
            let at = match m.opt_i64("edit_date")? {
                Some(t) => unix_seconds(t, &m.path_of("edit_date"))?,
                None => received_at,
            };
            return Ok(vec![Inbound::Revision {
                external_id,
                revision: MessageRevision { kind: RevisionKind::Edit, text: Some(text.to_string()), at },
            }]);
        }
        let published_at = unix_seconds(m.i64("date")?, &m.path_of("date"))?;
        let chat_type = chat.opt_str("type")?.unwrap_or("");
        let automatic_forward = m.flag("is_automatic_forward");
        let author = author(&m, &chat, key == "channel_post")?;
        let thread_id = match m.opt_i64("message_thread_id")? {
            Some(t) => format!("{chat_id}:{t}"),
            None if automatic_forward => format!("{chat_id}:{message_id}"),
            None => chat_id.to_string(),
        };
        let parent_id = match m.opt_obj("reply_to_message")? {
            Some(r) => Some(format!("{chat_id}:{}", r.i64("message_id")?)),
            None => None,
        };
        let url = match chat.opt_str("username")? {
            Some(u) if chat_type != "private" => Some(format!("https://t.me/{u}/{message_id}")),
            _ => chat_id.to_string().strip_prefix("-100").map(|c| format!("https://t.me/c/{c}/{message_id}")),
        };
        return Ok(vec![Inbound::Message(NewMessage {
            channel: Channel::Telegram,
            source: source.to_string(),
            external_id,
            thread_id: Some(thread_id),
            parent_id,
            author,
            text: text.to_string(),
            attachments: attachments(&m)?,
            published_at,
            url,
            raw: update.clone(),
        })]);
    }
    Ok(Vec::new())
}

fn author(m: &Obj<'_>, chat: &Obj<'_>, channel_post: bool) -> Result<Author, IntakeError> {
    let chat_author = |c: &Obj<'_>| -> Result<Author, IntakeError> {
        Ok(Author {
            id: format!("chat:{}", c.i64("id")?),
            name: c.opt_str("title")?.or(c.opt_str("username")?).map(str::to_string),
        })
    };
    if let Some(sender_chat) = m.opt_obj("sender_chat")? {
        return chat_author(&sender_chat);
    }
    if channel_post {
        return chat_author(chat);
    }
    if let Some(from) = m.opt_obj("from")? {
        let first = from.opt_str("first_name")?.unwrap_or("");
        let last = from.opt_str("last_name")?.unwrap_or("");
        let full = format!("{first} {last}").trim().to_string();
        let name = if full.is_empty() { from.opt_str("username")?.map(str::to_string) } else { Some(full) };
        return Ok(Author { id: from.i64("id")?.to_string(), name });
    }
    Err(IntakeError::Malformed(format!("{}: missing (no sender_chat either)", m.path_of("from"))))
}

fn attachments(m: &Obj<'_>) -> Result<Vec<Attachment>, IntakeError> {
    let mut out = Vec::new();
    let photos = m.arr("photo")?;
    // Sizes come smallest first; the largest by area is the one worth keeping.
    let best = photos
        .iter()
        .filter_map(|p| {
            let id = p.get("file_id").and_then(Value::as_str)?;
            let w = p.get("width").and_then(as_i64).unwrap_or(0);
            let h = p.get("height").and_then(as_i64).unwrap_or(0);
            Some((w.saturating_mul(h), id))
        })
        .max_by_key(|(area, _)| *area);
    if let Some((_, id)) = best {
        out.push(Attachment { kind: "photo".into(), url: format!("tg-file:{id}"), name: None });
    }
    if let Some(doc) = m.opt_obj("document")? {
        out.push(Attachment {
            kind: "document".into(),
            url: format!("tg-file:{}", doc.str("file_id")?),
            name: doc.opt_str("file_name")?.map(str::to_string),
        });
    }
    Ok(out)
}
