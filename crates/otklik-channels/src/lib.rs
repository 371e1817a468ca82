//! Channel adapters: how Otklik reads citizens' messages from social networks and bots, and how it
//! publishes answers back into the same thread.
//!
//! One [`ChannelAdapter`] per configured source ([`SourceConfig`], a `[[channels]]` table of the
//! server's configuration). An adapter:
//!
//! * parses and verifies webhook deliveries ([`ChannelAdapter::handle_webhook`]): a forged delivery
//!   is [`IntakeError::Forbidden`], an unreadable one [`IntakeError::Malformed`] with the path of the
//!   offending field;
//! * polls the platform instead, with an opaque cursor the caller persists ([`ChannelAdapter::poll`]);
//! * publishes an answer as a reply in the thread of the original ([`ChannelAdapter::publish`]),
//!   classifying failures as [`PublishError::Retry`] or [`PublishError::Permanent`];
//! * reports whether the platform accepts its credentials ([`ChannelAdapter::health`]).
//!
//! Platforms: [`vk`] (Callback API, Bots Long Poll, wall/board comments, community messages),
//! [`ok`] (Bot API group messages, group topic comments over the REST API) and [`telegram`]
//! (Bot API webhook and getUpdates). [`payloads`] builds platform-shaped webhook bodies for the demo
//! and benchmarks; `testing` (feature `testing`) runs local fake platform servers.

pub mod ok;
pub mod payloads;
pub mod telegram;
#[cfg(feature = "testing")]
pub mod testing;
pub mod vk;

mod util;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;

pub use otklik_core::model::{Attachment, Author, Channel, MessageRevision, NewMessage, RevisionKind};

/// A secret string (token, webhook secret): `Debug` prints `<redacted>`, it has no `Display` and
/// no `Serialize`, so it cannot end up in logs or API answers by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    /// The secret itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret)
    }
}

/// How a source receives new items.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IntakeMode {
    /// The platform pushes deliveries to our webhook endpoint.
    #[default]
    Webhook,
    /// We poll the platform (VK Bots Long Poll, Telegram getUpdates, OK topic comments).
    Poll,
}

/// One configured source, as the server's configuration gives it (a `[[channels]]` table).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// `vk`, `ok` or `telegram`; any other channel is a configuration error.
    pub channel: Channel,
    /// Our source key (e.g. `club-adm-gryazi`); becomes `NewMessage::source`.
    pub source: String,
    /// VK community id (positive number) / OK group id; none for Telegram.
    #[serde(default)]
    pub group_id: Option<String>,
    /// VK community access token / OK group (Bot API) access token / Telegram bot token.
    #[serde(default)]
    pub token: Option<Secret>,
    /// VK Callback API secret / Telegram `secret_token`. OK webhooks carry none.
    #[serde(default)]
    pub secret: Option<Secret>,
    /// VK Callback API confirmation string.
    #[serde(default)]
    pub confirmation: Option<String>,
    #[serde(default)]
    pub mode: IntakeMode,
    /// Overrides the platform's API base URL (fake servers, proxies).
    #[serde(default)]
    pub api_base: Option<String>,
    /// VK API version `v`, default `5.199`.
    #[serde(default)]
    pub api_version: Option<String>,
    /// OK REST application key (`application_key`), needed for group topic comments.
    #[serde(default)]
    pub app_key: Option<String>,
    /// OK REST application secret key, used to sign REST calls (`sig`).
    #[serde(default)]
    pub app_secret: Option<Secret>,
    /// OK group topic ids whose comments `poll` reads.
    #[serde(default)]
    pub topics: Vec<String>,
}

impl SourceConfig {
    /// A minimal configuration for `channel`, the rest unset; handy for tests and the demo.
    pub fn new(channel: Channel, source: impl Into<String>) -> Self {
        SourceConfig {
            channel,
            source: source.into(),
            group_id: None,
            token: None,
            secret: None,
            confirmation: None,
            mode: IntakeMode::Webhook,
            api_base: None,
            api_version: None,
            app_key: None,
            app_secret: None,
            topics: Vec::new(),
        }
    }
}

/// One item read from a platform.
#[derive(Debug, Clone, PartialEq)]
pub enum Inbound {
    /// A new message, comment or post.
    Message(NewMessage),
    /// An edit or deletion of an item read earlier, by its `external_id`.
    Revision { external_id: String, revision: MessageRevision },
}

/// What the webhook endpoint answers the platform (always HTTP 200).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookAck {
    /// `text/plain` body: VK wants `ok`, or the confirmation string.
    Text(String),
    /// Empty body.
    Empty,
}

/// A verified, parsed webhook delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookResult {
    pub ack: WebhookAck,
    pub items: Vec<Inbound>,
}

/// Why a webhook delivery was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntakeError {
    /// Forged: wrong or missing secret, or another community's event (HTTP 403 `forbidden_webhook`).
    #[error("forbidden webhook: {0}")]
    Forbidden(String),
    /// Cannot be read (HTTP 400 `malformed_payload`); the reason names the field path.
    #[error("malformed payload: {0}")]
    Malformed(String),
}

/// Our reply as the platform identifies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub external_id: String,
}

/// Why a publication failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublishError {
    /// Temporary: try again (after `after` when the platform says so).
    #[error("retryable publication failure {code}: {reason}")]
    Retry { code: String, reason: String, after: Option<Duration> },
    /// Will not succeed by retrying: access denied, deleted original, blocked bot, bad token.
    #[error("permanent publication failure {code}: {reason}")]
    Permanent { code: String, reason: String },
}

/// Whether the platform accepts the adapter's credentials, with a human-readable detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    pub ok: bool,
    pub detail: String,
}

/// One polling round's items and the cursor to continue from.
#[derive(Debug, Clone, PartialEq)]
pub struct PollBatch {
    pub items: Vec<Inbound>,
    pub cursor: Option<String>,
}

/// Errors of adapter construction and polling.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChannelError {
    #[error("channel configuration: {0}")]
    Config(String),
    #[error("transport: {0}")]
    Transport(String),
    #[error("platform error {code}: {reason}")]
    Platform { code: String, reason: String },
}

/// A platform adapter for one source.
#[async_trait::async_trait]
pub trait ChannelAdapter: Send + Sync + std::fmt::Debug {
    fn channel(&self) -> Channel;
    fn source(&self) -> &str;
    /// Parses and verifies one webhook delivery. `secret_header` is Telegram's
    /// `X-Telegram-Bot-Api-Secret-Token` (None for others).
    fn handle_webhook(
        &self,
        body: &[u8],
        secret_header: Option<&str>,
        received_at: DateTime<Utc>,
    ) -> Result<WebhookResult, IntakeError>;
    /// One long-poll round; `wait` is the long-poll timeout. The cursor is opaque and persisted by
    /// the caller between calls; None = start.
    async fn poll(&self, cursor: Option<&str>, wait: Duration) -> Result<PollBatch, ChannelError>;
    /// Publishes `text` as a reply to `original` (a message this adapter produced earlier).
    /// `idempotency_key` is stable across retries of the same publication.
    async fn publish(
        &self,
        original: &NewMessage,
        text: &str,
        idempotency_key: &str,
    ) -> Result<Published, PublishError>;
    async fn health(&self) -> Health;
}

/// Builds the adapter for one configured source.
pub fn adapter(config: SourceConfig, http: reqwest::Client) -> Result<Arc<dyn ChannelAdapter>, ChannelError> {
    if config.source.trim().is_empty() {
        return Err(ChannelError::Config("source: must not be empty".into()));
    }
    match config.channel {
        Channel::Vk => Ok(Arc::new(vk::VkAdapter::new(config, http)?)),
        Channel::Ok => Ok(Arc::new(ok::OkAdapter::new(config, http)?)),
        Channel::Telegram => Ok(Arc::new(telegram::TelegramAdapter::new(config, http)?)),
        other => Err(ChannelError::Config(format!(
            "channel `{other}` has no platform adapter (supported: vk, ok, telegram)"
        ))),
    }
}
