//! The server's configuration file (TOML), with defaults and errors that name the file and line.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Everything `otklik serve` reads from its configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    #[serde(default)]
    pub reference: ReferenceConfig,
    #[serde(default)]
    pub analysis: AnalysisConfig,
    #[serde(default)]
    pub notifications: NotificationsConfig,
    #[serde(default)]
    pub open311: Open311Config,
    /// Channel sources (VK communities, OK groups, Telegram bots): one `[[channels]]` table each.
    #[serde(default)]
    pub channels: Vec<otklik_channels::SourceConfig>,
}

#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Open311Config {
    /// Keys accepted in Open311's `api_key` for creating requests. Secrets: never logged.
    #[serde(default)]
    pub api_keys: Vec<String>,
    /// The `jurisdiction_id` of this deployment, e.g. `lipetsk.otklik.example`.
    pub jurisdiction_id: Option<String>,
}

impl std::fmt::Debug for Open311Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Open311Config")
            .field("api_keys", &format!("<{} redacted>", self.api_keys.len()))
            .field("jurisdiction_id", &self.jurisdiction_id)
            .finish()
    }
}

#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationsConfig {
    /// Where to POST every notification (JSON), signed with `webhook_secret`.
    pub webhook_url: Option<String>,
    /// The HMAC-SHA256 key of the `X-Otklik-Signature` header. A secret: never logged.
    pub webhook_secret: Option<String>,
    /// E-mail of notifications to the people responsible.
    pub email: Option<crate::email::EmailConfig>,
}

impl std::fmt::Debug for NotificationsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotificationsConfig")
            .field("webhook_url", &self.webhook_url)
            .field("webhook_secret", &self.webhook_secret.as_ref().map(|_| "<redacted>"))
            .field("email", &self.email)
            .finish()
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalysisConfig {
    /// A text-analysis model trained by `otklik nlp train`; the built-in model when absent.
    pub model: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to listen on.
    pub addr: SocketAddr,
    /// Largest accepted request body, in bytes.
    pub body_limit: usize,
    /// Mark session cookies `Secure` (keep on behind HTTPS).
    pub secure_cookies: bool,
    /// How long a console session lasts.
    pub session_hours: u32,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            body_limit: 2 * 1024 * 1024,
            secure_cookies: true,
            session_hours: 12,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://PATH` for the embedded database or `postgres://…`.
    pub url: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReferenceConfig {
    /// A folder with territories.toml, organisations.toml, taxonomy.toml and optionally
    /// sources.toml; the built-in reference data when absent.
    pub dir: Option<PathBuf>,
    /// A folder of production calendar files (`*.toml`, one year each, the format of
    /// `data/calendar/ru-*.toml`) that override or add to the embedded years on
    /// `otklik reference reload`; the stored years are left alone when absent.
    pub calendar_dir: Option<PathBuf>,
}

/// A configuration that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{file}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct ConfigError {
    pub file: String,
    pub line: Option<usize>,
    pub message: String,
}

impl Config {
    pub fn parse(file: &str, text: &str) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError {
            file: file.into(),
            line: e.span().map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1),
            message: e.message().to_string(),
        })
    }

    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.display().to_string(),
            line: None,
            message: e.to_string(),
        })?;
        Self::parse(&path.display().to_string(), &text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_errors() {
        let c = Config::parse("c.toml", "[database]\nurl = \"sqlite://x.db\"\n").unwrap();
        assert_eq!(c.server.addr.port(), 8080);
        assert!(c.server.secure_cookies);
        let e = Config::parse("c.toml", "[database]\nurl = \"x\"\n[server]\nport = 1\n").unwrap_err();
        assert_eq!(e.line, Some(4));
        assert!(e.to_string().starts_with("c.toml:4:"), "{e}");
        assert!(Config::parse("c.toml", "[server]\n").unwrap_err().message.contains("database"));
    }
}
