//! Одноклассники (OK) group adapter: Bot API webhooks and replies for messages to the group, and
//! the REST API (`fb.do`) for comments in the group's topics.
//!
//! # What the documentation confirms, and what it does not
//!
//! * Bot API (apiok.ru, «Сообщения в группах», Graph API): the webhook is registered with
//!   `POST /graph/me/subscribe?access_token=…` and receives JSON like
//!   `{"sender":{"user_id":"user:…"},"recipient":{"chat_id":"chat:…"},"message":{"text","seq","mid","attachments"},"timestamp":ms}`;
//!   newer deliveries carry `webhookType` (`MESSAGE_CREATED`, `MESSAGE_CALLBACK`, `CHAT_SYSTEM`).
//!   Replies go to `POST /graph/me/messages/{chat_id}?access_token=…` with
//!   `{"recipient":{"chat_id"},"message":{"text","reply_to":mid}}`; the answer is
//!   `{"success":true,"message_id":"mid:…"}`. Health is `GET /graph/me/info`.
//! * OK webhooks carry **no secret or signature**. We refuse deliveries whose `group_id` (when the
//!   payload has one) is not the configured group; otherwise protect the endpoint with an
//!   unguessable path and OK's documented source networks (217.20.145.192/28, 217.20.151.160/28,
//!   217.20.153.48/28).
//! * Topic comments use the REST methods `discussions.getComments` (`discussionId`,
//!   `discussionType=GROUP_TOPIC`, `anchor`, `direction`, `count`) and
//!   `discussions.addDiscussionComment` (`entityId`, `entityType=GROUP_TOPIC`, `comment`,
//!   `reply_to_comment_id`, `as_admin`). The parameter names are from the OK method index; the
//!   response fields we read (`comments[].id/text/author_id/author_name/date/reply_to_comment_id`,
//!   `anchor`) and the acceptance of a group Bot API token for these REST calls could not be
//!   confirmed from the documentation and should be checked against the live API. Calls are signed
//!   as documented for token calls: `sig = md5(sorted "k=v" pairs without access_token +
//!   md5(access_token + application_secret_key))`, which needs `app_key` and `app_secret`.
//!   REST dates (`yyyy-MM-dd HH:mm:ss`) are read as Moscow time (UTC+3).
//! * OK offers no idempotency key for either kind of publication: a retry after a lost response
//!   can post twice.
//!
//! # Identifiers
//!
//! | item | `external_id` | `thread_id` | `parent_id` |
//! |---|---|---|---|
//! | message to the group | the message `mid` (`mid:…`) | the chat id (`chat:…`) | `message.reply_to` |
//! | topic comment | `topic:{topic_id}:{comment_id}` | `topic:{topic_id}` | `topic:{topic_id}:{reply_to_comment_id}` |
//!
//! The poll cursor is a JSON object `{topic_id: anchor}`.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone, Utc};
use md5::{Digest, Md5};
use serde_json::{Value, json};

use crate::util::{self, Obj, as_i64, parse_json, transport_reason, unix_millis};
use crate::{
    Attachment, Author, Channel, ChannelAdapter, ChannelError, Health, Inbound, IntakeError, NewMessage, PollBatch,
    PublishError, Published, Secret, SourceConfig, WebhookAck, WebhookResult,
};

/// The default API base (Graph API under `/graph`, REST under `/fb.do`).
pub const DEFAULT_API_BASE: &str = "https://api.ok.ru";

/// Adapter for one OK group.
pub struct OkAdapter {
    source: String,
    group_id: String,
    token: Secret,
    app_key: Option<String>,
    app_secret: Option<Secret>,
    topics: Vec<String>,
    api_base: String,
    http: reqwest::Client,
}

impl std::fmt::Debug for OkAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OkAdapter")
            .field("source", &self.source)
            .field("group_id", &self.group_id)
            .field("api_base", &self.api_base)
            .field("topics", &self.topics)
            .field("token", &self.token)
            .field("app_secret", &self.app_secret)
            .finish()
    }
}

#[derive(Debug)]
enum CallError {
    Network(String),
    Http(reqwest::StatusCode, String),
    Api { code: i64, msg: String },
    Bad(String),
}

impl CallError {
    fn into_publish(self) -> PublishError {
        match self {
            CallError::Network(reason) => PublishError::Retry { code: "network".into(), reason, after: None },
            CallError::Http(status, body) => util::http_status_error(status, &body),
            CallError::Api { code, msg } => publish_error(code, &msg),
            CallError::Bad(reason) => PublishError::Retry { code: "ok_bad_response".into(), reason, after: None },
        }
    }

    fn describe(&self) -> String {
        match self {
            CallError::Network(r) | CallError::Bad(r) => r.clone(),
            CallError::Http(s, b) => format!("HTTP {s}: {}", b.chars().take(200).collect::<String>()),
            CallError::Api { code, msg } => format!("OK error {code}: {msg}"),
        }
    }

    fn into_channel(self) -> ChannelError {
        match self {
            CallError::Network(r) => ChannelError::Transport(r),
            CallError::Http(..) => ChannelError::Transport(self.describe()),
            CallError::Api { code, msg } => ChannelError::Platform { code: format!("ok_{code}"), reason: msg },
            CallError::Bad(reason) => ChannelError::Platform { code: "ok_bad_response".into(), reason },
        }
    }
}

/// Classifies an OK API error code (common REST codes; the Bot API v2 uses the same format).
pub fn publish_error(code: i64, msg: &str) -> PublishError {
    let retry = |after: u64, what: &str| PublishError::Retry {
        code: format!("ok_{code}"),
        reason: format!("{what} ({msg})"),
        after: Some(Duration::from_secs(after)),
    };
    let permanent =
        |what: &str| PublishError::Permanent { code: format!("ok_{code}"), reason: format!("{what} ({msg})") };
    match code {
        1 => retry(5, "unknown error"),
        2 => retry(30, "service temporarily unavailable"),
        8 => retry(60, "flood blocked"),
        11 => retry(3600, "limit reached"),
        10 => permanent("permission denied"),
        7 => permanent("action blocked"),
        102 | 103 => permanent("the access token expired or is invalid"),
        104 => permanent("invalid signature (check app_secret)"),
        101 => permanent("invalid application key"),
        100 => permanent("invalid parameters"),
        300 => permanent("not found (deleted topic, comment or chat?)"),
        _ => permanent("OK API error"),
    }
}

/// Strips the `group:` prefix OK puts on ids in some answers.
fn bare_id(s: &str) -> &str {
    s.trim().trim_start_matches("group:")
}

/// MD5 in lowercase hex, as OK signatures use it.
fn md5_hex(s: &str) -> String {
    Md5::digest(s.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// The REST `sig` of `params` (without access_token), by OK's rules for token calls.
pub fn rest_signature(params: &BTreeMap<String, String>, access_token: &str, app_secret: &str) -> String {
    let secret_key = md5_hex(&format!("{access_token}{app_secret}"));
    let mut base: String = params
        .iter()
        .filter(|(k, _)| k.as_str() != "access_token" && k.as_str() != "sig" && k.as_str() != "session_key")
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    base.push_str(&secret_key);
    md5_hex(&base)
}

impl OkAdapter {
    pub fn new(config: SourceConfig, http: reqwest::Client) -> Result<Self, ChannelError> {
        let group_id = config
            .group_id
            .as_deref()
            .map(bare_id)
            .filter(|g| !g.is_empty())
            .ok_or_else(|| ChannelError::Config(format!("{}: group_id (OK group id) is required", config.source)))?
            .to_string();
        let token = config.token.ok_or_else(|| {
            ChannelError::Config(format!("{}: token (group access token) is required", config.source))
        })?;
        if !config.topics.is_empty() && (config.app_key.is_none() || config.app_secret.is_none()) {
            return Err(ChannelError::Config(format!(
                "{}: topic comments need app_key and app_secret to sign REST calls",
                config.source
            )));
        }
        Ok(OkAdapter {
            source: config.source,
            group_id,
            token,
            app_key: config.app_key,
            app_secret: config.app_secret,
            topics: config.topics,
            api_base: util::base_url(config.api_base.as_deref(), DEFAULT_API_BASE),
            http,
        })
    }

    async fn read(resp: Result<reqwest::Response, reqwest::Error>) -> Result<Value, CallError> {
        let resp = resp.map_err(|e| CallError::Network(transport_reason(e)))?;
        let status = resp.status();
        let body = resp.text().await.map_err(|e| CallError::Network(transport_reason(e)))?;
        if status.is_server_error() || (!status.is_success() && serde_json::from_str::<Value>(&body).is_err()) {
            return Err(CallError::Http(status, body));
        }
        let json: Value =
            serde_json::from_str(&body).map_err(|e| CallError::Bad(format!("response is not JSON: {e}")))?;
        if let Some(code) = json.get("error_code").and_then(as_i64) {
            let msg = json.get("error_msg").and_then(Value::as_str).unwrap_or("unknown error").to_string();
            return Err(CallError::Api { code, msg });
        }
        Ok(json)
    }

    /// A signed REST call to `fb.do`.
    async fn rest(&self, method: &str, args: &[(&str, String)]) -> Result<Value, CallError> {
        let (Some(app_key), Some(app_secret)) = (&self.app_key, &self.app_secret) else {
            return Err(CallError::Bad("app_key and app_secret are required for OK REST calls".into()));
        };
        let mut params: BTreeMap<String, String> = args.iter().map(|(k, v)| ((*k).to_string(), v.clone())).collect();
        params.insert("application_key".into(), app_key.clone());
        params.insert("method".into(), method.into());
        params.insert("format".into(), "json".into());
        let sig = rest_signature(&params, self.token.expose(), app_secret.expose());
        params.insert("sig".into(), sig);
        params.insert("access_token".into(), self.token.expose().to_string());
        let resp =
            self.http.post(format!("{}/fb.do", self.api_base)).form(&params).timeout(util::CALL_TIMEOUT).send().await;
        Self::read(resp).await
    }

    fn parse_comment(&self, topic: &str, c: &Value, i: usize) -> Result<Option<NewMessage>, IntakeError> {
        let path = format!("comments[{i}]");
        let o = Obj::new(c, &path)?;
        let id = o.id("id")?;
        let author_id = o.id("author_id")?;
        // Our own answers (posted as the group) are not citizens' messages.
        if bare_id(&author_id) == self.group_id || o.opt_str("author_type")? == Some("GROUP") {
            return Ok(None);
        }
        let published_at = match o.get("date") {
            Some(Value::String(s)) => parse_ok_date(s).ok_or_else(|| {
                IntakeError::Malformed(format!("{}: `{s}` is not yyyy-MM-dd HH:mm:ss", o.path_of("date")))
            })?,
            Some(v) if as_i64(v).is_some() => unix_millis(as_i64(v).unwrap_or(0), &o.path_of("date"))?,
            _ => return Err(IntakeError::Malformed(format!("{}: missing", o.path_of("date")))),
        };
        let parent = match o.get("reply_to_comment_id") {
            Some(_) => Some(format!("topic:{topic}:{}", o.id("reply_to_comment_id")?)),
            None => None,
        };
        Ok(Some(NewMessage {
            channel: Channel::Ok,
            source: self.source.clone(),
            external_id: format!("topic:{topic}:{id}"),
            thread_id: Some(format!("topic:{topic}")),
            parent_id: parent,
            author: Author { id: author_id, name: o.opt_str("author_name")?.map(str::to_string) },
            text: o.opt_str("text")?.unwrap_or("").to_string(),
            attachments: Vec::new(),
            published_at,
            url: Some(format!("https://ok.ru/group/{}/topic/{topic}", self.group_id)),
            raw: c.clone(),
        }))
    }
}

/// OK REST dates: `yyyy-MM-dd HH:mm:ss`, Moscow time.
fn parse_ok_date(s: &str) -> Option<DateTime<Utc>> {
    let naive = NaiveDateTime::parse_from_str(s.trim(), "%Y-%m-%d %H:%M:%S").ok()?;
    let msk = FixedOffset::east_opt(3 * 3600)?;
    msk.from_local_datetime(&naive).single().map(|d| d.with_timezone(&Utc))
}

#[async_trait::async_trait]
impl ChannelAdapter for OkAdapter {
    fn channel(&self) -> Channel {
        Channel::Ok
    }

    fn source(&self) -> &str {
        &self.source
    }

    fn handle_webhook(
        &self,
        body: &[u8],
        _secret_header: Option<&str>,
        _received_at: DateTime<Utc>,
    ) -> Result<WebhookResult, IntakeError> {
        let payload = parse_json(body)?;
        let root = Obj::new(&payload, "")?;
        // The only origin check OK allows: the delivery names our group.
        let recipient = root.opt_obj("recipient")?;
        let claimed = match root.get("group_id") {
            Some(_) => Some(root.id("group_id")?),
            None => match &recipient {
                Some(r) if r.get("group_id").is_some() => Some(r.id("group_id")?),
                _ => None,
            },
        };
        if let Some(g) = claimed
            && bare_id(&g) != self.group_id
        {
            return Err(IntakeError::Forbidden(format!(
                "delivery for group {g}, this source is group {}",
                self.group_id
            )));
        }
        let ack = WebhookAck::Empty;
        match root.opt_str("webhookType")? {
            None | Some("MESSAGE_CREATED") => {}
            Some(_) => return Ok(WebhookResult { ack, items: Vec::new() }),
        }
        let sender = root.obj("sender")?;
        let recipient = root.obj("recipient")?;
        let message = root.obj("message")?;
        let chat_id = recipient.str("chat_id")?;
        let mid = message.str("mid")?;
        let published_at = unix_millis(root.i64("timestamp")?, "timestamp")?;
        let parent_id = message.opt_str("reply_to")?.map(str::to_string);
        let mut attachments = Vec::new();
        for a in message.arr("attachments")? {
            let kind = match a.get("type").and_then(Value::as_str) {
                Some("IMAGE") => "photo",
                Some("VIDEO") => "video",
                Some("SHARE") => "link",
                Some("FILE") => "document",
                Some("AUDIO") => "audio",
                _ => continue,
            };
            if let Some(url) = a.get("payload").and_then(|p| p.get("url")).and_then(Value::as_str) {
                attachments.push(Attachment { kind: kind.into(), url: url.to_string(), name: None });
            }
        }
        let item = NewMessage {
            channel: Channel::Ok,
            source: self.source.clone(),
            external_id: mid.to_string(),
            thread_id: Some(chat_id.to_string()),
            parent_id,
            author: Author { id: sender.id("user_id")?, name: sender.opt_str("name")?.map(str::to_string) },
            text: message.opt_str("text")?.unwrap_or("").to_string(),
            attachments,
            published_at,
            url: None,
            raw: payload.clone(),
        };
        Ok(WebhookResult { ack, items: vec![Inbound::Message(item)] })
    }

    async fn poll(&self, cursor: Option<&str>, _wait: Duration) -> Result<PollBatch, ChannelError> {
        if self.topics.is_empty() {
            return Err(ChannelError::Config(format!(
                "{}: OK polling reads group topic comments; no topics are configured (messages arrive by webhook)",
                self.source
            )));
        }
        let mut anchors: BTreeMap<String, String> = match cursor.filter(|c| !c.is_empty()) {
            None => BTreeMap::new(),
            Some(c) => serde_json::from_str(c)
                .map_err(|e| ChannelError::Config(format!("cursor is not an OK topic anchor map: {e}")))?,
        };
        let mut items = Vec::new();
        for topic in &self.topics {
            let mut args = vec![
                ("discussionId", topic.clone()),
                ("discussionType", "GROUP_TOPIC".to_string()),
                ("direction", "FORWARD".to_string()),
                ("count", "100".to_string()),
            ];
            if let Some(anchor) = anchors.get(topic) {
                args.push(("anchor", anchor.clone()));
            }
            let r = self.rest("discussions.getComments", &args).await.map_err(CallError::into_channel)?;
            if let Some(comments) = r.get("comments").and_then(Value::as_array) {
                for (i, c) in comments.iter().enumerate() {
                    match self.parse_comment(topic, c, i) {
                        Ok(Some(m)) => items.push(Inbound::Message(m)),
                        Ok(None) => {}
                        Err(e) => {
                            tracing::warn!(source = %self.source, topic = %topic, error = %e, "skipping unreadable OK comment")
                        }
                    }
                }
            }
            if let Some(anchor) = r.get("anchor").and_then(Value::as_str) {
                anchors.insert(topic.clone(), anchor.to_string());
            }
        }
        let cursor = serde_json::to_string(&anchors)
            .map_err(|e| ChannelError::Platform { code: "ok_cursor".into(), reason: e.to_string() })?;
        Ok(PollBatch { items, cursor: Some(cursor) })
    }

    async fn publish(
        &self,
        original: &NewMessage,
        text: &str,
        _idempotency_key: &str,
    ) -> Result<Published, PublishError> {
        if let Some(rest) = original.external_id.strip_prefix("topic:") {
            let (topic, comment) = rest.split_once(':').ok_or_else(|| PublishError::Permanent {
                code: "unsupported_target".into(),
                reason: format!("`{}` is not topic:{{topic}}:{{comment}}", original.external_id),
            })?;
            let args = [
                ("entityId", topic.to_string()),
                ("entityType", "GROUP_TOPIC".to_string()),
                ("comment", text.to_string()),
                ("reply_to_comment_id", comment.to_string()),
                ("as_admin", "true".to_string()),
            ];
            let r = self.rest("discussions.addDiscussionComment", &args).await.map_err(CallError::into_publish)?;
            let id = match &r {
                Value::String(s) => Some(s.clone()),
                other => other.get("id").and_then(|v| match v {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                }),
            }
            .ok_or_else(|| PublishError::Retry {
                code: "ok_bad_response".into(),
                reason: "discussions.addDiscussionComment: no comment id in the answer".into(),
                after: None,
            })?;
            return Ok(Published { external_id: format!("topic:{topic}:{id}") });
        }
        let chat_id = original.thread_id.as_deref().filter(|t| t.starts_with("chat:")).ok_or_else(|| {
            PublishError::Permanent {
                code: "unsupported_target".into(),
                reason: format!("`{}` has no OK chat id (thread_id chat:…)", original.external_id),
            }
        })?;
        let mut message = json!({ "text": text });
        if original.external_id.starts_with("mid:")
            && let Some(m) = message.as_object_mut()
        {
            m.insert("reply_to".into(), json!(original.external_id));
        }
        let body = json!({ "recipient": { "chat_id": chat_id }, "message": message });
        let resp = self
            .http
            .post(format!("{}/graph/me/messages/{chat_id}", self.api_base))
            .query(&[("access_token", self.token.expose())])
            .header(reqwest::header::CONTENT_TYPE, "application/json;charset=utf-8")
            .body(body.to_string())
            .timeout(util::CALL_TIMEOUT)
            .send()
            .await;
        let r = Self::read(resp).await.map_err(CallError::into_publish)?;
        if r.get("success").and_then(Value::as_bool) != Some(true) {
            return Err(PublishError::Retry {
                code: "ok_bad_response".into(),
                reason: format!(
                    "send message answered without success: {}",
                    r.to_string().chars().take(200).collect::<String>()
                ),
                after: None,
            });
        }
        let id = r.get("message_id").and_then(Value::as_str).unwrap_or_default();
        Ok(Published { external_id: id.to_string() })
    }

    async fn health(&self) -> Health {
        let resp = self
            .http
            .get(format!("{}/graph/me/info", self.api_base))
            .query(&[("access_token", self.token.expose())])
            .timeout(util::CALL_TIMEOUT)
            .send()
            .await;
        match Self::read(resp).await {
            Ok(info) => Health {
                ok: true,
                detail: format!(
                    "OK group {} token accepted ({})",
                    self.group_id,
                    info.get("name").and_then(Value::as_str).unwrap_or("graph/me/info answered")
                ),
            },
            Err(e) => Health { ok: false, detail: format!("graph/me/info failed: {}", e.describe()) },
        }
    }
}
