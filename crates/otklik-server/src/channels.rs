//! Channels in the server: the configured adapters, the webhook endpoints platforms call, the
//! pollers for sources without a public address, and the health of every source.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use otklik_channels::{ChannelAdapter, ChannelError, Inbound, IntakeError, IntakeMode, SourceConfig, WebhookAck};
use otklik_core::DomainError;
use otklik_core::access::Actor;
use otklik_core::model::Channel;
use otklik_core::store::NewIntakeReject;
use otklik_core::workflow::{IntakeHints, Workflow};
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::AppState;
use crate::error::ApiError;

/// How much of a rejected body is kept for inspection.
const KEPT_BODY_BYTES: usize = 64 * 1024;

/// The adapters of the configured sources, by (channel, source key).
#[derive(Debug, Default)]
pub struct Channels {
    adapters: HashMap<(Channel, String), Arc<dyn ChannelAdapter>>,
    modes: HashMap<(Channel, String), IntakeMode>,
}

impl Channels {
    /// Builds one adapter per configured source; a bad entry is an error naming the source.
    pub fn build(configs: &[SourceConfig]) -> Result<Channels, ChannelError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .user_agent(concat!("otklik/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ChannelError::Config(format!("HTTP client: {e}")))?;
        let mut c = Channels::default();
        for cfg in configs {
            let key = (cfg.channel, cfg.source.clone());
            if c.adapters.contains_key(&key) {
                return Err(ChannelError::Config(format!("source {}:{} is configured twice", cfg.channel, cfg.source)));
            }
            let adapter = otklik_channels::adapter(cfg.clone(), http.clone())
                .map_err(|e| ChannelError::Config(format!("source {}:{}: {e}", cfg.channel, cfg.source)))?;
            c.modes.insert(key.clone(), cfg.mode);
            c.adapters.insert(key, adapter);
        }
        Ok(c)
    }

    pub fn get(&self, channel: Channel, source: &str) -> Option<&Arc<dyn ChannelAdapter>> {
        self.adapters.get(&(channel, source.to_string()))
    }

    pub fn is_empty(&self) -> bool {
        self.adapters.is_empty()
    }

    /// Every adapter with its intake mode, in a stable order.
    pub fn all(&self) -> Vec<(IntakeMode, Arc<dyn ChannelAdapter>)> {
        let mut v: Vec<_> =
            self.adapters.iter().map(|(k, a)| (self.modes.get(k).copied().unwrap_or_default(), a.clone())).collect();
        v.sort_by(|a, b| (a.1.channel().as_str(), a.1.source()).cmp(&(b.1.channel().as_str(), b.1.source())));
        v
    }
}

/// The webhook routes: `POST /hooks/{channel}/{source}`.
pub fn routes() -> Router<AppState> {
    Router::new().route("/hooks/{channel}/{source}", post(webhook))
}

/// Keeps a refused delivery for inspection; a failure to keep it is logged, never fatal.
pub async fn keep_reject(workflow: &Workflow, channel: Channel, source: &str, reason: String, body: &[u8]) {
    let cut = &body[..body.len().min(KEPT_BODY_BYTES)];
    let reject = NewIntakeReject {
        channel,
        source: source.chars().take(256).collect(),
        received_at: workflow.now(),
        reason,
        body: String::from_utf8_lossy(cut).into_owned(),
    };
    metrics::counter!("otklik_intake_rejects_total", "channel" => channel.as_str()).increment(1);
    if let Err(e) = workflow.store().record_reject(&reject).await {
        tracing::warn!(error = %e, "cannot keep a rejected delivery");
    }
}

/// What taking a batch of inbound items did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Taken {
    pub created: usize,
    pub repeated: usize,
    pub revisions: usize,
    pub refused: usize,
}

/// Takes parsed items into the store through the real intake path. Items the domain refuses are
/// kept as rejects; a storage failure stops the batch (the platform will deliver it again).
pub async fn take(
    workflow: &Workflow,
    channel: Channel,
    source: &str,
    items: Vec<Inbound>,
) -> Result<Taken, DomainError> {
    let mut t = Taken::default();
    for item in items {
        match item {
            Inbound::Message(m) => match workflow.ingest(&m, &IntakeHints::default()).await {
                Ok(o) if o.created => t.created += 1,
                Ok(_) => t.repeated += 1,
                Err(e @ DomainError::Store(_)) => return Err(e),
                Err(e) => {
                    t.refused += 1;
                    let body = serde_json::to_vec(&m.raw).unwrap_or_default();
                    keep_reject(workflow, channel, source, format!("{}: {e}", e.code()), &body).await;
                }
            },
            Inbound::Revision { external_id, revision } => {
                match workflow.record_revision(&Actor::system(), channel, source, &external_id, &revision).await {
                    Ok(_) => t.revisions += 1,
                    // An edit of something captured before Otklik watched the source.
                    Err(DomainError::NotFound(_)) => {
                        tracing::debug!(%external_id, "revision of an unknown message")
                    }
                    Err(e @ DomainError::Store(_)) => return Err(e),
                    Err(e) => tracing::info!(error = %e, "revision refused"),
                }
            }
        }
    }
    metrics::counter!("otklik_channel_messages_total", "channel" => channel.as_str()).increment(t.created as u64);
    Ok(t)
}

/// One delivery from a platform. Forged deliveries answer 403 and malformed ones 400; both are
/// kept for inspection. Accepted ones answer what the platform expects (VK wants `ok`).
async fn webhook(
    State(state): State<AppState>,
    Path((channel, source)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(ch) = Channel::parse(&channel) else {
        return ApiError::not_found("channel").into_response();
    };
    let wf = &state.workflow;
    let Some(adapter) = state.channels.get(ch, &source) else {
        keep_reject(wf, ch, &source, "unknown_source: no such source is configured".into(), &body).await;
        return ApiError::not_found("source").into_response();
    };
    let secret = headers.get("x-telegram-bot-api-secret-token").and_then(|v| v.to_str().ok());
    let result = match adapter.handle_webhook(&body, secret, wf.now()) {
        Ok(r) => r,
        Err(IntakeError::Forbidden(why)) => {
            tracing::warn!(channel = ch.as_str(), %source, reason = %why, "forged webhook refused");
            keep_reject(wf, ch, &source, format!("forbidden_webhook: {why}"), &body).await;
            return ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden_webhook",
                "the delivery is not signed by the platform",
            )
            .into_response();
        }
        Err(IntakeError::Malformed(why)) => {
            keep_reject(wf, ch, &source, format!("malformed_payload: {why}"), &body).await;
            return ApiError::bad_request("malformed_payload", why).into_response();
        }
    };
    if let Err(e) = take(wf, ch, &source, result.items).await {
        tracing::error!(error = %e, "webhook intake failed");
        // Not acknowledged: the platform delivers it again.
        return ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "try again later").into_response();
    }
    match result.ack {
        WebhookAck::Text(t) => ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], t).into_response(),
        WebhookAck::Empty => StatusCode::OK.into_response(),
    }
}

/// Polls every source configured for polling, for as long as the process runs; where it stopped
/// is kept in the store, so a restart continues there.
pub fn spawn_pollers(workflow: Arc<Workflow>, channels: Arc<Channels>) {
    for (mode, adapter) in channels.all() {
        if mode != IntakeMode::Poll {
            continue;
        }
        let wf = workflow.clone();
        tokio::spawn(async move {
            let mut pause = Duration::from_secs(1);
            loop {
                match poll_once(&wf, adapter.as_ref(), Duration::from_secs(25)).await {
                    Ok(_) => pause = Duration::from_secs(1),
                    Err(e) => {
                        tracing::warn!(channel = adapter.channel().as_str(), source = adapter.source(), error = %e, "polling failed");
                        tokio::time::sleep(pause).await;
                        pause = (pause * 2).min(Duration::from_secs(300));
                    }
                }
            }
        });
    }
}

/// Errors of one polling round.
#[derive(Debug, thiserror::Error)]
pub enum PollError {
    #[error("platform: {0}")]
    Channel(#[from] ChannelError),
    #[error("intake: {0}")]
    Domain(#[from] DomainError),
}

/// One polling round of one source: fetch, take, then move the cursor (so a crash in between
/// re-reads items, which intake deduplicates, rather than losing them).
pub async fn poll_once(wf: &Workflow, adapter: &dyn ChannelAdapter, wait: Duration) -> Result<Taken, PollError> {
    let (ch, source) = (adapter.channel(), adapter.source());
    let cursor = wf.store().channel_cursor(ch, source).await.map_err(DomainError::from)?;
    let batch = adapter.poll(cursor.as_deref(), wait).await?;
    let taken = take(wf, ch, source, batch.items).await?;
    if let Some(c) = batch.cursor.filter(|c| Some(c) != cursor.as_ref()) {
        wf.store().set_channel_cursor(ch, source, &c, wf.now()).await.map_err(DomainError::from)?;
    }
    Ok(taken)
}

/// A configured source and whether the platform accepts it now. Credentials are never shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct SourceHealth {
    pub channel: Channel,
    pub source: String,
    /// `webhook` or `poll`.
    pub mode: String,
    /// Where the platform should send webhooks (relative to this server).
    pub webhook_path: String,
    pub ok: bool,
    pub detail: String,
}

/// The health of every configured source, checked concurrently with a time limit each.
pub async fn health(channels: &Channels) -> Vec<SourceHealth> {
    let mut set = tokio::task::JoinSet::new();
    for (i, (mode, a)) in channels.all().into_iter().enumerate() {
        set.spawn(async move {
            let h = tokio::time::timeout(Duration::from_secs(10), a.health()).await;
            let (ok, detail) = match h {
                Ok(h) => (h.ok, h.detail),
                Err(_) => (false, "no answer within 10 s".to_string()),
            };
            let health = SourceHealth {
                channel: a.channel(),
                source: a.source().to_string(),
                mode: if mode == IntakeMode::Poll { "poll" } else { "webhook" }.to_string(),
                webhook_path: format!("/hooks/{}/{}", a.channel(), a.source()),
                ok,
                detail,
            };
            (i, health)
        });
    }
    let mut out: Vec<(usize, SourceHealth)> = set.join_all().await;
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, h)| h).collect()
}
