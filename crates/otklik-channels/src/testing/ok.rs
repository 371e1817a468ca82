//! Fake OK API: Bot API `POST /graph/me/messages/{chat_id}` and `GET /graph/me/info`, and the
//! signed REST endpoint `/fb.do` for `discussions.getComments` and
//! `discussions.addDiscussionComment`, with OK's `{"error_code","error_msg","error_data"}` errors.
//! OK offers no idempotency key, so the fake does not deduplicate. Builders are re-exported.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::{Common, Fault, Publication, Running, common_controls, lock, serve};
use crate::ok::rest_signature;
use crate::{Channel, IntakeMode, Secret, SourceConfig};

pub use crate::payloads::ok::*;

#[derive(Debug)]
struct OkState {
    common: Common,
    group_id: String,
    token: String,
    app_key: String,
    app_secret: String,
    next_id: i64,
    topics: BTreeMap<String, Vec<Value>>,
}

/// A running fake OK API.
#[derive(Debug)]
pub struct OkFake {
    state: Arc<Mutex<OkState>>,
    running: Running,
}

common_controls!(OkFake);

fn ok_error(code: i64) -> Response {
    let msg = match code {
        2 => "SERVICE : Service temporary unavailable",
        8 => "FLOOD_BLOCKED : Flood blocked",
        10 => "PERMISSION_DENIED : Permission denied",
        102 => "PARAM_SESSION_EXPIRED : Session expired",
        104 => "PARAM_SIGNATURE : Invalid signature",
        300 => "NOT_FOUND : Not found",
        _ => "UNKNOWN : Unknown error",
    };
    Json(json!({ "error_code": code, "error_msg": msg, "error_data": null })).into_response()
}

/// Fault handling shared by every endpoint; logs the call first.
fn admit(s: &mut OkState, method: &str, params: Value) -> Option<Response> {
    s.common.calls.push(super::Call { method: method.to_string(), params });
    match s.common.faults.take()? {
        Fault::Outage => Some((StatusCode::SERVICE_UNAVAILABLE, "503 Service Unavailable").into_response()),
        Fault::Code(code) => Some(ok_error(code)),
        Fault::FloodWait(_) => Some(ok_error(8)),
    }
}

async fn send_message(
    State(state): State<Arc<Mutex<OkState>>>,
    Path(chat_id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let mut s = lock(&state);
    let payload: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if let Some(r) = admit(&mut s, "graph.user.messages", payload.clone()) {
        return r;
    }
    if q.get("access_token") != Some(&s.token) {
        return ok_error(102);
    }
    if payload.pointer("/recipient/chat_id").and_then(Value::as_str) != Some(chat_id.as_str()) {
        return Json(json!({ "error_code": 100, "error_msg": "PARAM : recipient.chat_id does not match the path", "error_data": null })).into_response();
    }
    if payload.pointer("/message/text").and_then(Value::as_str).is_none_or(str::is_empty) {
        return Json(json!({ "error_code": 100, "error_msg": "PARAM : message.text is empty", "error_data": null }))
            .into_response();
    }
    s.next_id += 1;
    let mid = format!("mid:{}.{:x}", chat_id.trim_start_matches("chat:"), s.next_id);
    s.common.published.push(Publication { method: "graph.user.messages".into(), params: payload, id: mid.clone() });
    Json(json!({ "success": true, "message_id": mid })).into_response()
}

async fn info(State(state): State<Arc<Mutex<OkState>>>, Query(q): Query<HashMap<String, String>>) -> Response {
    let mut s = lock(&state);
    if let Some(r) = admit(&mut s, "graph.user.info", json!({})) {
        return r;
    }
    if q.get("access_token") != Some(&s.token) {
        return ok_error(102);
    }
    Json(json!({ "user_id": format!("group:{}", s.group_id), "name": "Администрация (тест)" })).into_response()
}

async fn rest(State(state): State<Arc<Mutex<OkState>>>, Form(params): Form<BTreeMap<String, String>>) -> Response {
    let mut s = lock(&state);
    let method = params.get("method").cloned().unwrap_or_default();
    let logged: serde_json::Map<String, Value> = params
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "access_token" | "sig"))
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    if let Some(r) = admit(&mut s, &method, Value::Object(logged.clone())) {
        return r;
    }
    if params.get("application_key") != Some(&s.app_key) {
        return ok_error(101);
    }
    if params.get("access_token") != Some(&s.token) {
        return ok_error(102);
    }
    let mut unsigned = params.clone();
    let sig = unsigned.remove("sig").unwrap_or_default();
    if rest_signature(&unsigned, &s.token, &s.app_secret) != sig {
        return ok_error(104);
    }
    match method.as_str() {
        "discussions.getComments" => {
            if params.get("discussionType").map(String::as_str) != Some("GROUP_TOPIC") {
                return ok_error(100);
            }
            let topic = params.get("discussionId").cloned().unwrap_or_default();
            let Some(comments) = s.topics.get(&topic) else { return ok_error(300) };
            let from = params.get("anchor").and_then(|a| a.parse::<usize>().ok()).unwrap_or(0);
            let page: Vec<Value> = comments.get(from..).unwrap_or_default().to_vec();
            Json(json!({ "comments": page, "anchor": comments.len().to_string(), "has_more": false })).into_response()
        }
        "discussions.addDiscussionComment" => {
            let topic = params.get("entityId").cloned().unwrap_or_default();
            if params.get("entityType").map(String::as_str) != Some("GROUP_TOPIC") || !s.topics.contains_key(&topic) {
                return ok_error(300);
            }
            let Some(text) = params.get("comment").filter(|c| !c.is_empty()).cloned() else { return ok_error(100) };
            s.next_id += 1;
            let id = s.next_id.to_string();
            let group = s.group_id.clone();
            if let Some(list) = s.topics.get_mut(&topic) {
                list.push(json!({ "id": id, "author_id": group, "author_type": "GROUP", "text": text, "date": "2026-03-02 10:00:00" }));
            }
            s.common.published.push(Publication { method, params: Value::Object(logged), id: id.clone() });
            Json(json!(id)).into_response()
        }
        _ => ok_error(3),
    }
}

impl OkFake {
    /// Starts a fake for group `group_id` accepting `token`, with REST app credentials.
    pub async fn start(group_id: &str, token: &str, app_key: &str, app_secret: &str) -> std::io::Result<OkFake> {
        let state = Arc::new(Mutex::new(OkState {
            common: Common::default(),
            group_id: group_id.to_string(),
            token: token.to_string(),
            app_key: app_key.to_string(),
            app_secret: app_secret.to_string(),
            next_id: 90_000,
            topics: BTreeMap::new(),
        }));
        let router = Router::new()
            .route("/graph/me/messages/{chat_id}", post(send_message))
            .route("/graph/me/info", get(info))
            .route("/fb.do", any(rest))
            .with_state(state.clone());
        let running = serve(router).await?;
        Ok(OkFake { state, running })
    }

    /// A source configuration pointing at this fake (REST credentials and `topics` included).
    pub fn config(&self, source: &str, topics: &[&str]) -> SourceConfig {
        let s = lock(&self.state);
        let mut c = SourceConfig::new(Channel::Ok, source);
        c.group_id = Some(s.group_id.clone());
        c.token = Some(Secret::new(s.token.clone()));
        c.app_key = Some(s.app_key.clone());
        c.app_secret = Some(Secret::new(s.app_secret.clone()));
        c.topics = topics.iter().map(|t| (*t).to_string()).collect();
        c.mode = if topics.is_empty() { IntakeMode::Webhook } else { IntakeMode::Poll };
        c.api_base = Some(format!("http://{}", self.running.addr));
        c
    }

    /// Creates a topic (empty) so comments can be added and read.
    pub fn add_topic(&self, topic_id: &str) {
        lock(&self.state).topics.entry(topic_id.to_string()).or_default();
    }

    /// Adds a citizen's comment to a topic (created if needed); `date` is `yyyy-MM-dd HH:mm:ss`.
    pub fn add_comment(
        &self,
        topic_id: &str,
        comment_id: &str,
        author_id: &str,
        author_name: &str,
        text: &str,
        date: &str,
    ) {
        lock(&self.state).topics.entry(topic_id.to_string()).or_default().push(json!({
            "id": comment_id,
            "author_id": author_id,
            "author_name": author_name,
            "author_type": "USER",
            "text": text,
            "date": date,
        }));
    }
}
