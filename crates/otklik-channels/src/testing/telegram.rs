//! Fake Telegram Bot API: `/bot{token}/{method}` for sendMessage, getUpdates, getWebhookInfo and
//! getMe, with the Bot API's `{"ok": false, "error_code", "description", "parameters"}` errors.
//! Telegram has no idempotency key, so the fake does not deduplicate. Builders are re-exported.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::{Common, Fault, Publication, Running, common_controls, lock, serve};
use crate::{Channel, IntakeMode, Secret, SourceConfig};

pub use crate::payloads::telegram::*;

#[derive(Debug)]
struct TgState {
    common: Common,
    token: String,
    next_message_id: i64,
    updates: Vec<Value>,
    webhook_info: Value,
}

/// A running fake Telegram Bot API.
#[derive(Debug)]
pub struct TelegramFake {
    state: Arc<Mutex<TgState>>,
    running: Running,
}

common_controls!(TelegramFake);

fn error(code: u16, description: &str, retry_after: Option<u64>) -> Response {
    let mut body = json!({ "ok": false, "error_code": code, "description": description });
    if let (Some(s), Some(o)) = (retry_after, body.as_object_mut()) {
        o.insert("parameters".into(), json!({ "retry_after": s }));
    }
    (StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST), Json(body)).into_response()
}

fn describe(code: i64) -> &'static str {
    match code {
        400 => "Bad Request: chat not found",
        401 => "Unauthorized",
        403 => "Forbidden: bot was blocked by the user",
        404 => "Not Found",
        409 => {
            "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"
        }
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        _ => "Error",
    }
}

async fn call(
    State(state): State<Arc<Mutex<TgState>>>,
    Path((bot, method)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let params: Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(_) => return error(400, "Bad Request: can't parse JSON object", None),
        }
    };
    let timeout = {
        let mut s = lock(&state);
        s.common.calls.push(super::Call { method: method.clone(), params: params.clone() });
        match s.common.faults.take() {
            Some(Fault::Outage) => return (StatusCode::SERVICE_UNAVAILABLE, "503 Service Unavailable").into_response(),
            Some(Fault::Code(code)) => {
                return error(u16::try_from(code).unwrap_or(400), describe(code), None);
            }
            Some(Fault::FloodWait(secs)) => {
                return error(429, &format!("Too Many Requests: retry after {secs}"), Some(secs));
            }
            None => {}
        }
        if bot != format!("bot{}", s.token) {
            return error(401, "Unauthorized", None);
        }
        match method.as_str() {
            "sendMessage" => {
                let Some(chat_id) = params.get("chat_id").and_then(Value::as_i64) else {
                    return error(400, "Bad Request: chat_id is empty", None);
                };
                let Some(text) = params.get("text").and_then(Value::as_str).filter(|t| !t.is_empty()) else {
                    return error(400, "Bad Request: message text is empty", None);
                };
                s.next_message_id += 1;
                let id = s.next_message_id;
                s.common.published.push(Publication {
                    method: method.clone(),
                    params: params.clone(),
                    id: id.to_string(),
                });
                let mut result = json!({
                    "message_id": id,
                    "from": { "id": 7000000001i64, "is_bot": true, "first_name": "Отклик", "username": "otklik_bot" },
                    "chat": { "id": chat_id, "type": if chat_id > 0 { "private" } else { "supergroup" } },
                    "date": chrono::Utc::now().timestamp(),
                    "text": text,
                });
                if let (Some(t), Some(o)) = (params.get("message_thread_id"), result.as_object_mut()) {
                    o.insert("message_thread_id".into(), t.clone());
                }
                return Json(json!({ "ok": true, "result": result })).into_response();
            }
            "getWebhookInfo" => return Json(json!({ "ok": true, "result": s.webhook_info.clone() })).into_response(),
            "getMe" => {
                return Json(json!({ "ok": true, "result": { "id": 7000000001i64, "is_bot": true, "first_name": "Отклик", "username": "otklik_bot" } }))
                    .into_response();
            }
            "getUpdates" => params.get("timeout").and_then(Value::as_u64).unwrap_or(0).min(2),
            _ => return error(404, "Not Found: method not found", None),
        }
    };
    // getUpdates: confirm everything below offset, then wait (briefly) for something new.
    let offset = params.get("offset").and_then(Value::as_i64);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout);
    loop {
        {
            let mut s = lock(&state);
            if let Some(o) = offset {
                s.updates.retain(|u| u.get("update_id").and_then(Value::as_i64).is_some_and(|id| id >= o));
            }
            if !s.updates.is_empty() || tokio::time::Instant::now() >= deadline {
                return Json(json!({ "ok": true, "result": s.updates.clone() })).into_response();
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

impl TelegramFake {
    /// Starts a fake bot API accepting `token`.
    pub async fn start(token: &str) -> std::io::Result<TelegramFake> {
        let state = Arc::new(Mutex::new(TgState {
            common: Common::default(),
            token: token.to_string(),
            next_message_id: 5000,
            updates: Vec::new(),
            webhook_info: json!({
                "url": "https://otklik.example.org/webhooks/telegram/bot",
                "has_custom_certificate": false,
                "pending_update_count": 0,
                "max_connections": 40,
                "ip_address": "203.0.113.10",
            }),
        }));
        let router = Router::new().route("/{bot}/{method}", any(call)).with_state(state.clone());
        let running = serve(router).await?;
        Ok(TelegramFake { state, running })
    }

    /// A source configuration pointing at this fake.
    pub fn config(&self, source: &str, secret: &str, mode: IntakeMode) -> SourceConfig {
        let mut c = SourceConfig::new(Channel::Telegram, source);
        c.token = Some(Secret::new(lock(&self.state).token.clone()));
        c.secret = (!secret.is_empty()).then(|| Secret::new(secret));
        c.mode = mode;
        c.api_base = Some(self.base_url());
        c
    }

    /// Queues an update for getUpdates.
    pub fn push_update(&self, update: Value) {
        lock(&self.state).updates.push(update);
    }

    /// Replaces what getWebhookInfo answers.
    pub fn set_webhook_info(&self, info: Value) {
        lock(&self.state).webhook_info = info;
    }
}
