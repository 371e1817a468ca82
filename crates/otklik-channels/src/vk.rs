//! VK (ВКонтакте) community adapter: Callback API webhooks, Bots Long Poll, replies through
//! `wall.createComment`, `board.createComment` and `messages.send`, health through `groups.getById`.
//!
//! # Identifiers
//!
//! `external_id` encodes what [`VkAdapter::publish`] needs to rebuild the call (`owner_id` is
//! negative for a community wall, as in VK):
//!
//! | item | `external_id` | `thread_id` | `parent_id` | `url` |
//! |---|---|---|---|---|
//! | wall post | `post:{owner_id}_{post_id}` | `wall:{owner_id}_{post_id}` | — | `https://vk.com/wall{owner_id}_{post_id}` |
//! | wall comment | `wall:{owner_id}_{post_id}_{comment_id}` | `wall:{owner_id}_{post_id}` | `wall:…_{reply_to_comment}` or `post:{owner_id}_{post_id}` | `…?reply={comment_id}` |
//! | board comment | `board:{group_id}_{topic_id}_{comment_id}` | `board:{group_id}_{topic_id}` | — | `https://vk.com/topic-{group_id}_{topic_id}?post={comment_id}` |
//! | community message | `msg:{peer_id}_{conversation_message_id}` | `msg:{peer_id}` | `msg:{peer_id}_{replied cmid}` | dialogs: `https://vk.com/gim{group_id}?sel={peer_id}` |
//!
//! Messages use `conversation_message_id` because community bots see `id = 0` in group chats.
//! Our own publications come back as `wall:…`/`board:…` ids, and as `msgsent:{peer_id}_{message_id}`
//! for `messages.send`.
//!
//! # Events
//!
//! `wall_reply_new`, `wall_post_new` (posts by others on the community wall), `board_post_new`,
//! `message_new` (API ≥ 5.103, `object.message`) become messages; `wall_reply_edit`,
//! `board_post_edit`, `message_edit` become edit revisions; `wall_reply_delete` and
//! `board_post_delete` deletion revisions. Items written by the community itself
//! (`from_id == -group_id`) are skipped so our answers do not come back as citizens' messages.
//! Other event types are acknowledged with `ok` and produce nothing. The `secret` field is removed
//! from the stored raw event.
//!
//! # Idempotency
//!
//! `guid` carries the idempotency key for wall and board comments; `random_id` (an int32 derived
//! from the key) for `messages.send`. VK drops a repeated call with the same value, so a retried
//! publication appears once.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

pub use crate::util::vk_random_id;
use crate::util::{self, Obj, as_i64, constant_time_eq, parse_json, transport_reason, unix_seconds};
use crate::{
    Attachment, Author, Channel, ChannelAdapter, ChannelError, Health, Inbound, IntakeError, IntakeMode,
    MessageRevision, NewMessage, PollBatch, PublishError, Published, RevisionKind, Secret, SourceConfig, WebhookAck,
    WebhookResult,
};

/// The default VK API base.
pub const DEFAULT_API_BASE: &str = "https://api.vk.com";
/// The default VK API version.
pub const DEFAULT_API_VERSION: &str = "5.199";
/// Peer ids from here on are group chats.
const CHAT_PEER_BASE: i64 = 2_000_000_000;

/// Adapter for one VK community.
pub struct VkAdapter {
    source: String,
    group_id: i64,
    token: Secret,
    secret: Option<Secret>,
    confirmation: Option<String>,
    api_base: String,
    version: String,
    http: reqwest::Client,
    /// Long-poll server and key; kept in memory only (the key is a credential), refreshed on start
    /// and on `failed: 2/3`. The persisted cursor is just `ts`.
    long_poll: tokio::sync::Mutex<Option<LongPollSession>>,
}

struct LongPollSession {
    server: String,
    key: Secret,
}

impl std::fmt::Debug for VkAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VkAdapter")
            .field("source", &self.source)
            .field("group_id", &self.group_id)
            .field("api_base", &self.api_base)
            .field("version", &self.version)
            .field("token", &self.token)
            .field("secret", &self.secret)
            .finish()
    }
}

/// A failed VK API call, before it is classified for the caller.
#[derive(Debug)]
pub(crate) enum CallError {
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
            CallError::Bad(reason) => PublishError::Retry { code: "vk_bad_response".into(), reason, after: None },
        }
    }

    fn into_channel(self) -> ChannelError {
        match self {
            CallError::Network(reason) => ChannelError::Transport(reason),
            CallError::Http(status, body) => {
                ChannelError::Transport(format!("HTTP {status}: {}", body.chars().take(200).collect::<String>()))
            }
            CallError::Api { code, msg } => ChannelError::Platform { code: format!("vk_{code}"), reason: msg },
            CallError::Bad(reason) => ChannelError::Platform { code: "vk_bad_response".into(), reason },
        }
    }

    fn describe(&self) -> String {
        match self {
            CallError::Network(r) => r.clone(),
            CallError::Http(s, b) => format!("HTTP {s}: {}", b.chars().take(200).collect::<String>()),
            CallError::Api { code, msg } => format!("VK error {code}: {msg}"),
            CallError::Bad(r) => r.clone(),
        }
    }
}

/// Classifies a VK API error of a publication, by the documented error codes.
pub fn publish_error(code: i64, msg: &str) -> PublishError {
    let retry = |after: Option<Duration>, what: &str| PublishError::Retry {
        code: format!("vk_{code}"),
        reason: format!("{what} ({msg})"),
        after,
    };
    let permanent =
        |what: &str| PublishError::Permanent { code: format!("vk_{code}"), reason: format!("{what} ({msg})") };
    match code {
        1 => retry(Some(Duration::from_secs(5)), "unknown error"),
        6 => retry(Some(Duration::from_secs(1)), "too many requests per second"),
        9 => retry(Some(Duration::from_secs(60)), "flood control"),
        10 => retry(Some(Duration::from_secs(5)), "internal server error"),
        29 => retry(Some(Duration::from_secs(3600)), "rate limit reached"),
        // A captcha cannot be solved unattended; waiting lets VK lift it.
        14 => PublishError::Retry {
            code: "vk_14".into(),
            reason: format!("captcha required ({msg})"),
            after: Some(Duration::from_secs(1800)),
        },
        5 => permanent("authorization failed: the community token is wrong or revoked"),
        7 | 15 | 203 => permanent("access denied"),
        18 => permanent("user was deleted or banned"),
        30 => permanent("profile is private"),
        100 => permanent("invalid parameters (deleted post or comment?)"),
        210 => permanent("access to the post denied"),
        211 => permanent("access to the comment denied"),
        212 | 213 => permanent("commenting is closed or the post was deleted"),
        222 => permanent("hyperlinks are forbidden"),
        901 => permanent("the user does not allow messages from the community"),
        902 => permanent("the user's privacy settings forbid the message"),
        917 | 945 => permanent("no access to the conversation"),
        _ => permanent("VK API error"),
    }
}

/// What a VK item's `external_id` says a reply must target.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Post { owner: i64, post: i64 },
    WallComment { owner: i64, post: i64, comment: i64 },
    Board { group: i64, topic: i64 },
    Message { peer: i64, cmid: i64 },
}

fn parse_ids(rest: &str, n: usize) -> Option<Vec<i64>> {
    // owner ids are negative, so split from the right on '_' and allow one leading '-'.
    let parts: Vec<&str> = rest.split('_').collect();
    if parts.len() != n {
        return None;
    }
    parts.iter().map(|p| p.parse::<i64>().ok()).collect()
}

impl Target {
    fn parse(external_id: &str) -> Option<Target> {
        let (kind, rest) = external_id.split_once(':')?;
        match kind {
            "post" => parse_ids(rest, 2).map(|v| Target::Post { owner: v[0], post: v[1] }),
            "wall" => parse_ids(rest, 3).map(|v| Target::WallComment { owner: v[0], post: v[1], comment: v[2] }),
            "board" => parse_ids(rest, 3).map(|v| Target::Board { group: v[0], topic: v[1] }),
            "msg" => parse_ids(rest, 2).map(|v| Target::Message { peer: v[0], cmid: v[1] }),
            _ => None,
        }
    }
}

impl VkAdapter {
    pub fn new(config: SourceConfig, http: reqwest::Client) -> Result<Self, ChannelError> {
        let group_id = config
            .group_id
            .as_deref()
            .ok_or_else(|| ChannelError::Config(format!("{}: group_id (VK community id) is required", config.source)))?
            .trim()
            .trim_start_matches("club")
            .parse::<i64>()
            .ok()
            .filter(|g| *g > 0)
            .ok_or_else(|| {
                ChannelError::Config(format!("{}: group_id must be a positive VK community id", config.source))
            })?;
        let token = config.token.ok_or_else(|| {
            ChannelError::Config(format!("{}: token (community access token) is required", config.source))
        })?;
        if config.mode == IntakeMode::Webhook && config.secret.is_none() {
            return Err(ChannelError::Config(format!(
                "{}: secret is required for Callback API intake (set it in the community's API settings)",
                config.source
            )));
        }
        Ok(VkAdapter {
            source: config.source,
            group_id,
            token,
            secret: config.secret,
            confirmation: config.confirmation,
            api_base: util::base_url(config.api_base.as_deref(), DEFAULT_API_BASE),
            version: config.api_version.unwrap_or_else(|| DEFAULT_API_VERSION.to_string()),
            http,
            long_poll: tokio::sync::Mutex::new(None),
        })
    }

    /// Calls `method` with form-encoded parameters; returns the `response` value.
    async fn call(&self, method: &str, params: &[(&str, String)]) -> Result<Value, CallError> {
        let mut form: Vec<(&str, String)> = params.to_vec();
        form.push(("access_token", self.token.expose().to_string()));
        form.push(("v", self.version.clone()));
        let resp = self
            .http
            .post(format!("{}/method/{method}", self.api_base))
            .form(&form)
            .timeout(util::CALL_TIMEOUT)
            .send()
            .await
            .map_err(|e| CallError::Network(transport_reason(e)))?;
        let status = resp.status();
        let body = resp.text().await.map_err(|e| CallError::Network(transport_reason(e)))?;
        if !status.is_success() {
            return Err(CallError::Http(status, body));
        }
        let json: Value =
            serde_json::from_str(&body).map_err(|e| CallError::Bad(format!("{method}: response is not JSON: {e}")))?;
        if let Some(err) = json.get("error") {
            let code = err.get("error_code").and_then(as_i64).unwrap_or(0);
            let msg = err.get("error_msg").and_then(Value::as_str).unwrap_or("unknown error").to_string();
            return Err(CallError::Api { code, msg });
        }
        json.get("response").cloned().ok_or_else(|| CallError::Bad(format!("{method}: response field missing")))
    }

    async fn refresh_long_poll(&self) -> Result<(LongPollSession, String), CallError> {
        let r = self.call("groups.getLongPollServer", &[("group_id", self.group_id.to_string())]).await?;
        let field = |k: &str| -> Result<String, CallError> {
            match r.get(k) {
                Some(Value::String(s)) => Ok(s.clone()),
                Some(Value::Number(n)) => Ok(n.to_string()),
                _ => Err(CallError::Bad(format!("groups.getLongPollServer: response.{k} missing"))),
            }
        };
        let session = LongPollSession { server: field("server")?, key: Secret::new(field("key")?) };
        Ok((session, field("ts")?))
    }
}

fn ts_text(v: Option<&Value>) -> Option<String> {
    match v {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

#[async_trait::async_trait]
impl ChannelAdapter for VkAdapter {
    fn channel(&self) -> Channel {
        Channel::Vk
    }

    fn source(&self) -> &str {
        &self.source
    }

    fn handle_webhook(
        &self,
        body: &[u8],
        _secret_header: Option<&str>,
        received_at: DateTime<Utc>,
    ) -> Result<WebhookResult, IntakeError> {
        let mut event = parse_json(body)?;
        let (ty, group_id, secret_ok) = {
            let root = Obj::new(&event, "")?;
            let ty = root.str("type")?.to_string();
            let group_id = root.i64("group_id")?;
            let secret = root.get("secret").and_then(Value::as_str);
            let secret_ok = match (&self.secret, secret) {
                (Some(expected), Some(given)) => Ok(constant_time_eq(given, expected.expose())),
                (Some(_), None) => Err("secret missing"),
                (None, _) => Err("no Callback API secret is configured for this source"),
            };
            (ty, group_id, secret_ok)
        };
        if group_id != self.group_id {
            return Err(IntakeError::Forbidden(format!(
                "event for community {group_id}, this source is community {}",
                self.group_id
            )));
        }
        if ty == "confirmation" {
            // VK sends no secret with the confirmation request; the group id is all it carries.
            let confirmation = self.confirmation.as_ref().ok_or_else(|| {
                IntakeError::Malformed("type: confirmation requested, but no confirmation string is configured".into())
            })?;
            return Ok(WebhookResult { ack: WebhookAck::Text(confirmation.clone()), items: Vec::new() });
        }
        match secret_ok {
            Ok(true) => {}
            Ok(false) => return Err(IntakeError::Forbidden("secret does not match".into())),
            Err(why) => return Err(IntakeError::Forbidden(why.into())),
        }
        if let Some(o) = event.as_object_mut() {
            o.remove("secret");
        }
        let items = parse_event(&event, self.group_id, &self.source, received_at)?;
        Ok(WebhookResult { ack: WebhookAck::Text("ok".into()), items })
    }

    async fn poll(&self, cursor: Option<&str>, wait: Duration) -> Result<PollBatch, ChannelError> {
        let mut session = self.long_poll.lock().await;
        let mut ts = cursor.filter(|c| !c.is_empty()).map(str::to_string);
        // At most two key refreshes per round: failed 2/3 right after a refresh means VK is unwell.
        for _ in 0..3 {
            if session.is_none() {
                let (fresh, fresh_ts) = self.refresh_long_poll().await.map_err(CallError::into_channel)?;
                *session = Some(fresh);
                if ts.is_none() {
                    ts = Some(fresh_ts);
                }
            }
            let Some(lp) = session.as_ref() else { continue };
            let current_ts = ts.clone().unwrap_or_default();
            let resp = self
                .http
                .get(&lp.server)
                .query(&[
                    ("act", "a_check"),
                    ("key", lp.key.expose()),
                    ("ts", current_ts.as_str()),
                    ("wait", &wait.as_secs().min(90).to_string()),
                ])
                .timeout(wait + Duration::from_secs(10))
                .send()
                .await
                .map_err(|e| ChannelError::Transport(transport_reason(e)))?;
            let status = resp.status();
            let body = resp.text().await.map_err(|e| ChannelError::Transport(transport_reason(e)))?;
            if !status.is_success() {
                return Err(ChannelError::Transport(format!(
                    "long poll server: HTTP {status}: {}",
                    body.chars().take(200).collect::<String>()
                )));
            }
            let json: Value = serde_json::from_str(&body).map_err(|e| ChannelError::Platform {
                code: "vk_long_poll".into(),
                reason: format!("not JSON: {e}"),
            })?;
            if let Some(failed) = json.get("failed").and_then(as_i64) {
                match failed {
                    // History is lost or outdated: continue from the ts the server gives.
                    1 => {
                        let new_ts = ts_text(json.get("ts")).ok_or_else(|| ChannelError::Platform {
                            code: "vk_long_poll".into(),
                            reason: "failed 1 without ts".into(),
                        })?;
                        return Ok(PollBatch { items: Vec::new(), cursor: Some(new_ts) });
                    }
                    // The key expired: new key, same ts.
                    2 => *session = None,
                    // Information lost: new key and ts (events in between are gone, as VK says).
                    3 => {
                        *session = None;
                        ts = None;
                    }
                    other => {
                        return Err(ChannelError::Platform {
                            code: "vk_long_poll".into(),
                            reason: format!("failed {other}"),
                        });
                    }
                }
                continue;
            }
            let new_ts = ts_text(json.get("ts")).ok_or_else(|| ChannelError::Platform {
                code: "vk_long_poll".into(),
                reason: "answer without ts".into(),
            })?;
            let mut items = Vec::new();
            if let Some(updates) = json.get("updates").and_then(Value::as_array) {
                let now = Utc::now();
                for update in updates {
                    if update.get("group_id").and_then(as_i64).is_some_and(|g| g != self.group_id) {
                        continue;
                    }
                    match parse_event(update, self.group_id, &self.source, now) {
                        Ok(mut parsed) => items.append(&mut parsed),
                        // One unreadable event must not stall the stream; it is skipped and logged.
                        Err(e) => {
                            tracing::warn!(source = %self.source, error = %e, "skipping unreadable VK long-poll event")
                        }
                    }
                }
            }
            return Ok(PollBatch { items, cursor: Some(new_ts) });
        }
        Err(ChannelError::Platform {
            code: "vk_long_poll".into(),
            reason: "the long poll server keeps rejecting fresh keys".into(),
        })
    }

    async fn publish(
        &self,
        original: &NewMessage,
        text: &str,
        idempotency_key: &str,
    ) -> Result<Published, PublishError> {
        let target = Target::parse(&original.external_id).ok_or_else(|| PublishError::Permanent {
            code: "unsupported_target".into(),
            reason: format!("`{}` is not a VK item this adapter can reply to", original.external_id),
        })?;
        match target {
            Target::Post { owner, post } | Target::WallComment { owner, post, .. } => {
                let mut params = vec![
                    ("owner_id", owner.to_string()),
                    ("post_id", post.to_string()),
                    ("from_group", self.group_id.to_string()),
                    ("message", text.to_string()),
                    ("guid", idempotency_key.to_string()),
                ];
                if let Target::WallComment { comment, .. } = target {
                    params.push(("reply_to_comment", comment.to_string()));
                }
                let r = self.call("wall.createComment", &params).await.map_err(CallError::into_publish)?;
                let id = r.get("comment_id").and_then(as_i64).ok_or_else(|| PublishError::Retry {
                    code: "vk_bad_response".into(),
                    reason: "wall.createComment: response.comment_id missing".into(),
                    after: None,
                })?;
                Ok(Published { external_id: format!("wall:{owner}_{post}_{id}") })
            }
            Target::Board { group, topic } => {
                let params = [
                    ("group_id", group.to_string()),
                    ("topic_id", topic.to_string()),
                    ("from_group", "1".to_string()),
                    ("message", text.to_string()),
                    ("guid", idempotency_key.to_string()),
                ];
                let r = self.call("board.createComment", &params).await.map_err(CallError::into_publish)?;
                let id = as_i64(&r).ok_or_else(|| PublishError::Retry {
                    code: "vk_bad_response".into(),
                    reason: "board.createComment: response is not a comment id".into(),
                    after: None,
                })?;
                Ok(Published { external_id: format!("board:{group}_{topic}_{id}") })
            }
            Target::Message { peer, cmid } => {
                // `forward` with is_reply works in dialogs and chats alike (reply_to needs a message
                // id, which community bots do not get in chats).
                let forward = serde_json::json!({
                    "peer_id": peer,
                    "conversation_message_ids": [cmid],
                    "is_reply": true,
                });
                let params = [
                    ("peer_id", peer.to_string()),
                    ("random_id", util::vk_random_id(idempotency_key).to_string()),
                    ("message", text.to_string()),
                    ("forward", forward.to_string()),
                ];
                let r = self.call("messages.send", &params).await.map_err(CallError::into_publish)?;
                let id = as_i64(&r).ok_or_else(|| PublishError::Retry {
                    code: "vk_bad_response".into(),
                    reason: "messages.send: response is not a message id".into(),
                    after: None,
                })?;
                Ok(Published { external_id: format!("msgsent:{peer}_{id}") })
            }
        }
    }

    async fn health(&self) -> Health {
        match self.call("groups.getById", &[("group_id", self.group_id.to_string())]).await {
            Ok(r) => {
                // 5.199 answers {groups: [...]}, older versions a bare array.
                let groups = r.get("groups").unwrap_or(&r);
                let found = groups
                    .as_array()
                    .and_then(|a| a.iter().find(|g| g.get("id").and_then(as_i64) == Some(self.group_id)));
                match found {
                    Some(g) => Health {
                        ok: true,
                        detail: format!(
                            "VK community {} «{}» reachable (API {})",
                            self.group_id,
                            g.get("name").and_then(Value::as_str).unwrap_or("?"),
                            self.version
                        ),
                    },
                    None => Health {
                        ok: false,
                        detail: format!("groups.getById did not return community {}", self.group_id),
                    },
                }
            }
            Err(e) => Health { ok: false, detail: format!("groups.getById failed: {}", e.describe()) },
        }
    }
}

/// Parses one Callback API / Bots Long Poll event into items. Shared by webhook and poll; the
/// caller has verified the secret. Unknown event types give no items.
pub fn parse_event(
    event: &Value,
    group_id: i64,
    source: &str,
    received_at: DateTime<Utc>,
) -> Result<Vec<Inbound>, IntakeError> {
    let root = Obj::new(event, "")?;
    let ty = root.str("type")?;
    let own = -group_id;
    let mut raw = event.clone();
    if let Some(o) = raw.as_object_mut() {
        o.remove("secret");
    }
    let message = |external_id: String,
                   thread_id: Option<String>,
                   parent_id: Option<String>,
                   from_id: i64,
                   text: &str,
                   attachments: Vec<Attachment>,
                   published_at: DateTime<Utc>,
                   url: Option<String>| {
        Inbound::Message(NewMessage {
            channel: Channel::Vk,
            source: source.to_string(),
            external_id,
            thread_id,
            parent_id,
            author: Author { id: from_id.to_string(), name: None },
            text: text.to_string(),
            attachments,
            published_at,
            url,
            raw: raw.clone(),
        })
    };
    let edit = |external_id: String, text: &str| Inbound::Revision {
        external_id,
        revision: MessageRevision { kind: RevisionKind::Edit, text: Some(text.to_string()), at: received_at },
    };
    let delete = |external_id: String| Inbound::Revision {
        external_id,
        revision: MessageRevision { kind: RevisionKind::Delete, text: None, at: received_at },
    };

    let items = match ty {
        "wall_reply_new" | "wall_reply_edit" => {
            let o = root.obj("object")?;
            let owner = o.i64("post_owner_id")?;
            let post = o.i64("post_id")?;
            let id = o.i64("id")?;
            let from = o.i64("from_id")?;
            let text = o.opt_str("text")?.unwrap_or("");
            let external_id = format!("wall:{owner}_{post}_{id}");
            if ty == "wall_reply_edit" {
                vec![edit(external_id, text)]
            } else if from == own {
                Vec::new()
            } else {
                let date = unix_seconds(o.i64("date")?, &o.path_of("date"))?;
                let parent = match o.opt_i64("reply_to_comment")? {
                    Some(c) => format!("wall:{owner}_{post}_{c}"),
                    None => format!("post:{owner}_{post}"),
                };
                let mut url = format!("https://vk.com/wall{owner}_{post}?reply={id}");
                if let Some(top) = o.arr("parents_stack")?.first().and_then(as_i64) {
                    url.push_str(&format!("&thread={top}"));
                }
                vec![message(
                    external_id,
                    Some(format!("wall:{owner}_{post}")),
                    Some(parent),
                    from,
                    text,
                    attachments(&o)?,
                    date,
                    Some(url),
                )]
            }
        }
        "wall_reply_delete" => {
            let o = root.obj("object")?;
            let owner = o.i64("owner_id")?;
            let post = o.i64("post_id")?;
            let id = o.i64("id")?;
            vec![delete(format!("wall:{owner}_{post}_{id}"))]
        }
        "wall_post_new" => {
            let o = root.obj("object")?;
            let owner = o.i64("owner_id")?;
            let id = o.i64("id")?;
            let from = o.i64("from_id")?;
            if from == own {
                Vec::new()
            } else {
                let date = unix_seconds(o.i64("date")?, &o.path_of("date"))?;
                vec![message(
                    format!("post:{owner}_{id}"),
                    Some(format!("wall:{owner}_{id}")),
                    None,
                    from,
                    o.opt_str("text")?.unwrap_or(""),
                    attachments(&o)?,
                    date,
                    Some(format!("https://vk.com/wall{owner}_{id}")),
                )]
            }
        }
        "board_post_new" | "board_post_edit" => {
            let o = root.obj("object")?;
            let group = o.i64("topic_owner_id")?.unsigned_abs();
            let topic = o.i64("topic_id")?;
            let id = o.i64("id")?;
            let from = o.i64("from_id")?;
            let text = o.opt_str("text")?.unwrap_or("");
            let external_id = format!("board:{group}_{topic}_{id}");
            if ty == "board_post_edit" {
                vec![edit(external_id, text)]
            } else if from == own {
                Vec::new()
            } else {
                let date = unix_seconds(o.i64("date")?, &o.path_of("date"))?;
                vec![message(
                    external_id,
                    Some(format!("board:{group}_{topic}")),
                    None,
                    from,
                    text,
                    attachments(&o)?,
                    date,
                    Some(format!("https://vk.com/topic-{group}_{topic}?post={id}")),
                )]
            }
        }
        "board_post_delete" => {
            let o = root.obj("object")?;
            let group = o.i64("topic_owner_id")?.unsigned_abs();
            let topic = o.i64("topic_id")?;
            let id = o.i64("id")?;
            vec![delete(format!("board:{group}_{topic}_{id}"))]
        }
        "message_new" => {
            let obj = root.obj("object")?;
            if obj.get("message").is_none() && obj.get("peer_id").is_some() {
                return Err(IntakeError::Malformed(
                    "object.message: missing (Callback API version below 5.103 is not supported; set 5.103 or later)"
                        .into(),
                ));
            }
            let o = obj.obj("message")?;
            let peer = o.i64("peer_id")?;
            let cmid = o.i64("conversation_message_id")?;
            let from = o.i64("from_id")?;
            let date = unix_seconds(o.i64("date")?, &o.path_of("date"))?;
            let parent = match o.opt_obj("reply_message")? {
                Some(r) => r.opt_i64("conversation_message_id")?.map(|c| format!("msg:{peer}_{c}")),
                None => None,
            };
            let url = (peer < CHAT_PEER_BASE).then(|| format!("https://vk.com/gim{group_id}?sel={peer}"));
            vec![message(
                format!("msg:{peer}_{cmid}"),
                Some(format!("msg:{peer}")),
                parent,
                from,
                o.opt_str("text")?.unwrap_or(""),
                attachments(&o)?,
                date,
                url,
            )]
        }
        "message_edit" => {
            let o = root.obj("object")?;
            let peer = o.i64("peer_id")?;
            let cmid = o.i64("conversation_message_id")?;
            vec![edit(format!("msg:{peer}_{cmid}"), o.opt_str("text")?.unwrap_or(""))]
        }
        _ => Vec::new(),
    };
    Ok(items)
}

/// Photos (largest size), documents, links and videos; other attachment kinds are kept only in raw.
/// Unreadable attachments are skipped rather than failing the whole message.
fn attachments(o: &Obj<'_>) -> Result<Vec<Attachment>, IntakeError> {
    let mut out = Vec::new();
    for a in o.arr("attachments")? {
        let Some(kind) = a.get("type").and_then(Value::as_str) else { continue };
        let Some(body) = a.get(kind) else { continue };
        match kind {
            "photo" => {
                let best = body.get("sizes").and_then(Value::as_array).and_then(|sizes| {
                    sizes
                        .iter()
                        .enumerate()
                        .filter(|(_, s)| s.get("url").and_then(Value::as_str).is_some())
                        .max_by_key(|(i, s)| {
                            let w = s.get("width").and_then(as_i64).unwrap_or(0);
                            let h = s.get("height").and_then(as_i64).unwrap_or(0);
                            (w.saturating_mul(h), *i)
                        })
                        .and_then(|(_, s)| s.get("url").and_then(Value::as_str))
                });
                if let Some(url) = best {
                    out.push(Attachment { kind: "photo".into(), url: url.to_string(), name: None });
                }
            }
            "doc" => {
                if let Some(url) = body.get("url").and_then(Value::as_str) {
                    out.push(Attachment {
                        kind: "document".into(),
                        url: url.to_string(),
                        name: body.get("title").and_then(Value::as_str).map(str::to_string),
                    });
                }
            }
            "link" => {
                if let Some(url) = body.get("url").and_then(Value::as_str) {
                    out.push(Attachment {
                        kind: "link".into(),
                        url: url.to_string(),
                        name: body.get("title").and_then(Value::as_str).map(str::to_string),
                    });
                }
            }
            "video" => {
                if let (Some(owner), Some(id)) =
                    (body.get("owner_id").and_then(as_i64), body.get("id").and_then(as_i64))
                {
                    out.push(Attachment {
                        kind: "video".into(),
                        url: format!("https://vk.com/video{owner}_{id}"),
                        name: body.get("title").and_then(Value::as_str).map(str::to_string),
                    });
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_round_trip_from_external_ids() {
        assert_eq!(Target::parse("wall:-123_45_67"), Some(Target::WallComment { owner: -123, post: 45, comment: 67 }));
        assert_eq!(Target::parse("post:-123_45"), Some(Target::Post { owner: -123, post: 45 }));
        assert_eq!(Target::parse("board:123_9_88"), Some(Target::Board { group: 123, topic: 9 }));
        assert_eq!(Target::parse("msg:2000000001_555"), Some(Target::Message { peer: 2_000_000_001, cmid: 555 }));
        assert_eq!(Target::parse("wall:-123_45"), None);
        assert_eq!(Target::parse("photo:1_2"), None);
        assert_eq!(Target::parse("garbage"), None);
    }
}
