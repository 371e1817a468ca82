//! The HTTP application: shared state, the router with its layers, health, metrics and serving.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use otklik_core::workflow::Workflow;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::error::ApiError;

/// Settings the handlers need.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub secure_cookies: bool,
    pub session_hours: u32,
    pub body_limit: usize,
    /// Demo mode (never under `serve`).
    pub demo: bool,
    /// Open311 GeoReport v2: accepted API keys and the jurisdiction.
    pub open311: Open311Settings,
    /// The reference and calendar folders a reload re-reads.
    pub reference: crate::reload::ReferenceSources,
}

/// What the Open311 endpoint needs to know about this deployment.
#[derive(Clone, Default)]
pub struct Open311Settings {
    /// Keys accepted in `api_key` for writes. Secrets: never logged.
    pub api_keys: Vec<String>,
    /// The `jurisdiction_id` this server answers for (discovery and requests); any when absent.
    pub jurisdiction_id: Option<String>,
}

impl std::fmt::Debug for Open311Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Open311Settings")
            .field("api_keys", &format!("<{} redacted>", self.api_keys.len()))
            .field("jurisdiction_id", &self.jurisdiction_id)
            .finish()
    }
}

/// State shared by every handler.
#[derive(Debug, Clone)]
pub struct AppState {
    pub workflow: Arc<Workflow>,
    pub settings: Arc<Settings>,
    pub metrics: Option<PrometheusHandle>,
    pub token_cache: Arc<crate::auth::TokenCache>,
    /// Per-address limits of the public pages.
    pub public_limiter: Arc<crate::form::PublicLimiter>,
    /// The configured channel sources.
    pub channels: Arc<crate::channels::Channels>,
    /// Incident changes for the consoles' live updates (a watcher started on first use).
    pub changes: Arc<tokio::sync::OnceCell<tokio::sync::watch::Receiver<crate::console::Newest>>>,
    /// Deadline recomputations after calendar and reference changes, one at a time.
    pub recompute: Arc<crate::reload::Recomputer>,
}

impl AppState {
    pub fn new(workflow: Arc<Workflow>, settings: Settings, metrics: Option<PrometheusHandle>) -> Self {
        AppState {
            workflow,
            settings: Arc::new(settings),
            metrics,
            token_cache: Default::default(),
            public_limiter: Default::default(),
            channels: Default::default(),
            changes: Default::default(),
            recompute: Default::default(),
        }
    }

    /// The same state with these channel sources.
    pub fn with_channels(mut self, channels: Arc<crate::channels::Channels>) -> Self {
        self.channels = channels;
        self
    }
}

/// Installs the process-wide Prometheus recorder once.
pub fn metrics_handle() -> Option<PrometheusHandle> {
    static HANDLE: std::sync::OnceLock<Option<PrometheusHandle>> = std::sync::OnceLock::new();
    HANDLE.get_or_init(|| metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder().ok()).clone()
}

async fn track(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().to_string();
    let path = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string()).unwrap_or_else(|| "other".into());
    let res = next.run(req).await;
    let status = res.status().as_u16().to_string();
    let labels = [("method", method), ("path", path), ("status", status)];
    metrics::counter!("otklik_http_requests_total", &labels).increment(1);
    metrics::histogram!("otklik_http_request_seconds", &labels[..2]).record(start.elapsed().as_secs_f64());
    res
}

async fn healthz(State(state): State<AppState>) -> Response {
    match state.workflow.store().categories().await {
        Ok(_) => (StatusCode::OK, "ok").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "storage unavailable").into_response()
        }
    }
}

async fn metrics_text(State(state): State<AppState>) -> Response {
    let body = state.metrics.as_ref().map(|h| h.render()).unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
}

/// The whole application.
pub fn router(state: AppState) -> Router {
    let limit = state.settings.body_limit;
    let (api, openapi) = crate::api::routes().split_for_parts();
    let openapi = Arc::new(openapi);
    Router::new()
        .merge(api)
        .route(
            "/api/v1/openapi.json",
            get(move || {
                let doc = openapi.clone();
                async move { axum::Json(doc.as_ref().clone()) }
            }),
        )
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_text))
        .merge(crate::open311::routes())
        .merge(crate::form::routes())
        .merge(crate::channels::routes())
        .merge(crate::console::routes())
        .fallback(not_found)
        .layer(middleware::from_fn(track))
        // Body limits act in the extractors, so an oversized body gets the JSON error shape.
        .layer(DefaultBodyLimit::max(limit))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            header::HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("no-store"),
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Announces deadline warnings and breaches every `every`, for as long as the process runs.
pub fn spawn_deadline_sweeper(workflow: Arc<Workflow>, every: std::time::Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            match workflow.sweep_deadlines(500).await {
                Ok(r) if r.warned + r.breached > 0 => {
                    tracing::info!(warned = r.warned, breached = r.breached, "deadline sweep");
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "deadline sweep failed"),
            }
        }
    });
}

/// Serves until Ctrl-C or SIGTERM.
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    let app = router(state);
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown_signal())
        .await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
