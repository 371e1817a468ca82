//! Fake VK API: `/method/{name}` (wall.createComment, board.createComment, messages.send,
//! groups.getById, groups.getLongPollServer) and a Bots Long Poll server at `/lp`, with VK's
//! error format and its deduplication of `guid` / `random_id`. Payload builders are re-exported.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::{Common, Fault, Publication, Running, common_controls, lock, serve};
use crate::{Channel, IntakeMode, Secret, SourceConfig};

pub use crate::payloads::vk::*;

#[derive(Debug, Default)]
struct LongPoll {
    key: String,
    key_generation: u32,
    events: Vec<Value>,
    forced: Vec<i64>,
    server_requests: usize,
}

#[derive(Debug)]
struct VkState {
    common: Common,
    group_id: i64,
    token: String,
    base: String,
    next_id: i64,
    /// (method, target, guid or random_id) → the id given first; VK answers repeats with it.
    dedup: HashMap<(String, String, String), i64>,
    lp: LongPoll,
}

/// A running fake VK.
#[derive(Debug)]
pub struct VkFake {
    state: Arc<Mutex<VkState>>,
    running: Running,
}

common_controls!(VkFake);

fn vk_error(code: i64, method: &str) -> Value {
    let msg = match code {
        5 => "User authorization failed: invalid access_token (4).",
        6 => "Too many requests per second",
        7 => "Permission to perform this action is denied",
        9 => "Flood control",
        10 => "Internal server error",
        14 => "Captcha needed",
        15 => "Access denied",
        18 => "User was deleted or banned",
        29 => "Rate limit reached",
        30 => "This profile is private",
        100 => "One of the parameters specified was missing or invalid: post not found",
        203 => "Access to group denied",
        211 => "Access to wall's comment denied",
        212 => "Access to post comments denied",
        213 => "Access to status replies denied",
        901 => "Can't send messages for users without permission",
        _ => "Unknown error occurred",
    };
    let mut err = json!({
        "error_code": code,
        "error_msg": msg,
        "request_params": [
            { "key": "method", "value": method },
            { "key": "oauth", "value": "1" },
            { "key": "v", "value": "5.199" },
        ],
    });
    if code == 14
        && let Some(o) = err.as_object_mut()
    {
        o.insert("captcha_sid".into(), json!("239633676097"));
        o.insert("captcha_img".into(), json!("https://api.vk.com/captcha.php?sid=239633676097&s=1"));
    }
    json!({ "error": err })
}

fn param_i64(p: &HashMap<String, String>, k: &str) -> Option<i64> {
    p.get(k).and_then(|v| v.parse().ok())
}

async fn method(
    State(state): State<Arc<Mutex<VkState>>>,
    Path(name): Path<String>,
    Form(params): Form<HashMap<String, String>>,
) -> Response {
    let mut s = lock(&state);
    let logged: serde_json::Map<String, Value> =
        params.iter().filter(|(k, _)| k.as_str() != "access_token").map(|(k, v)| (k.clone(), json!(v))).collect();
    s.common.calls.push(super::Call { method: name.clone(), params: Value::Object(logged.clone()) });
    match s.common.faults.take() {
        Some(Fault::Outage) => {
            return (StatusCode::SERVICE_UNAVAILABLE, "503 Service Temporarily Unavailable").into_response();
        }
        Some(Fault::Code(code)) => return Json(vk_error(code, &name)).into_response(),
        Some(Fault::FloodWait(_)) => return Json(vk_error(9, &name)).into_response(),
        None => {}
    }
    if params.get("access_token") != Some(&s.token) {
        return Json(vk_error(5, &name)).into_response();
    }
    if !params.contains_key("v") {
        return Json(json!({ "error": { "error_code": 8, "error_msg": "Invalid request: v is required" } }))
            .into_response();
    }
    let group_id = s.group_id;
    let missing = |k: &str| {
        Json(json!({ "error": { "error_code": 100, "error_msg": format!("One of the parameters specified was missing or invalid: {k} is undefined") } })).into_response()
    };
    match name.as_str() {
        "wall.createComment" | "board.createComment" | "messages.send" => {
            if params.get("message").is_none_or(|m| m.is_empty()) {
                return missing("message");
            }
            let (target, key) = match name.as_str() {
                "wall.createComment" => {
                    let (Some(owner), Some(post)) = (param_i64(&params, "owner_id"), param_i64(&params, "post_id")) else {
                        return missing("post_id");
                    };
                    if owner != -group_id {
                        return Json(vk_error(15, &name)).into_response();
                    }
                    (format!("{owner}_{post}"), params.get("guid").cloned())
                }
                "board.createComment" => {
                    let (Some(g), Some(t)) = (param_i64(&params, "group_id"), param_i64(&params, "topic_id")) else {
                        return missing("topic_id");
                    };
                    (format!("{g}_{t}"), params.get("guid").cloned())
                }
                _ => {
                    let Some(peer) = param_i64(&params, "peer_id") else { return missing("peer_id") };
                    let Some(rid) = params.get("random_id").cloned() else { return missing("random_id") };
                    (peer.to_string(), Some(rid))
                }
            };
            let dedup_key = key.map(|k| (name.clone(), target, k));
            if let Some(id) = dedup_key.as_ref().and_then(|k| s.dedup.get(k)) {
                let id = *id;
                return Json(answer(&name, id)).into_response();
            }
            s.next_id += 1;
            let id = s.next_id;
            if let Some(k) = dedup_key {
                s.dedup.insert(k, id);
            }
            s.common.published.push(Publication { method: name.clone(), params: Value::Object(logged), id: id.to_string() });
            Json(answer(&name, id)).into_response()
        }
        "groups.getById" => Json(json!({ "response": {
            "groups": [{ "id": group_id, "name": "Администрация (тест)", "screen_name": format!("club{group_id}"), "is_closed": 0, "type": "group" }],
            "profiles": [],
        } }))
        .into_response(),
        "groups.getLongPollServer" => {
            if param_i64(&params, "group_id") != Some(group_id) {
                return Json(vk_error(15, &name)).into_response();
            }
            s.lp.server_requests += 1;
            let key = s.lp.key.clone();
            let ts = s.lp.events.len();
            let server = format!("{}/lp", s.base);
            Json(json!({ "response": { "key": key, "server": server, "ts": ts.to_string() } })).into_response()
        }
        _ => Json(json!({ "error": { "error_code": 3, "error_msg": "Unknown method passed" } })).into_response(),
    }
}

fn answer(method: &str, id: i64) -> Value {
    match method {
        "wall.createComment" => json!({ "response": { "comment_id": id, "parents_stack": [] } }),
        _ => json!({ "response": id }),
    }
}

async fn long_poll(State(state): State<Arc<Mutex<VkState>>>, Query(q): Query<HashMap<String, String>>) -> Json<Value> {
    let wait = q.get("wait").and_then(|w| w.parse::<u64>().ok()).unwrap_or(0).min(2);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(wait);
    loop {
        {
            let mut s = lock(&state);
            if q.get("act").map(String::as_str) != Some("a_check") {
                return Json(json!({ "failed": 4 }));
            }
            if !s.lp.forced.is_empty() {
                let failed = s.lp.forced.remove(0);
                let len = s.lp.events.len();
                if failed == 2 || failed == 3 {
                    rotate_key(&mut s.lp);
                }
                return Json(match failed {
                    1 => json!({ "failed": 1, "ts": len.to_string() }),
                    other => json!({ "failed": other }),
                });
            }
            if q.get("key") != Some(&s.lp.key) {
                return Json(json!({ "failed": 2 }));
            }
            let len = s.lp.events.len();
            let Some(ts) = q.get("ts").and_then(|t| t.parse::<usize>().ok()) else {
                return Json(json!({ "failed": 1, "ts": len.to_string() }));
            };
            if ts > len {
                return Json(json!({ "failed": 1, "ts": len.to_string() }));
            }
            if ts < len || tokio::time::Instant::now() >= deadline {
                let updates: Vec<Value> = s.lp.events.get(ts..).unwrap_or_default().to_vec();
                return Json(json!({ "ts": len.to_string(), "updates": updates }));
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn rotate_key(lp: &mut LongPoll) {
    lp.key_generation += 1;
    lp.key = format!("lpkey{:08x}", lp.key_generation);
}

impl VkFake {
    /// Starts a fake for community `group_id` accepting `token`.
    pub async fn start(group_id: i64, token: &str) -> std::io::Result<VkFake> {
        let mut lp = LongPoll::default();
        rotate_key(&mut lp);
        let state = Arc::new(Mutex::new(VkState {
            common: Common::default(),
            group_id,
            token: token.to_string(),
            base: String::new(),
            next_id: 1000,
            dedup: HashMap::new(),
            lp,
        }));
        let router =
            Router::new().route("/method/{name}", any(method)).route("/lp", any(long_poll)).with_state(state.clone());
        let running = serve(router).await?;
        lock(&state).base = format!("http://{}", running.addr);
        Ok(VkFake { state, running })
    }

    /// A source configuration pointing at this fake.
    pub fn config(&self, source: &str, secret: &str, mode: IntakeMode) -> SourceConfig {
        let s = lock(&self.state);
        let mut c = SourceConfig::new(Channel::Vk, source);
        c.group_id = Some(s.group_id.to_string());
        c.token = Some(Secret::new(s.token.clone()));
        c.secret = (!secret.is_empty()).then(|| Secret::new(secret));
        c.confirmation = Some("a1b2c3d4".into());
        c.mode = mode;
        c.api_base = Some(format!("http://{}", self.running.addr));
        c
    }

    /// Queues an event for the long-poll server (build it without a secret).
    pub fn push_event(&self, event: Value) {
        lock(&self.state).lp.events.push(event);
    }

    /// The next `a_check` answers `{"failed": n}` (2 and 3 also rotate the key, as VK does).
    pub fn fail_long_poll(&self, n: i64) {
        lock(&self.state).lp.forced.push(n);
    }

    /// Rotates the long-poll key: the adapter's key stops working (`failed: 2`).
    pub fn expire_long_poll_key(&self) {
        rotate_key(&mut lock(&self.state).lp);
    }

    /// How many times `groups.getLongPollServer` was called.
    pub fn long_poll_server_requests(&self) -> usize {
        lock(&self.state).lp.server_requests
    }
}
