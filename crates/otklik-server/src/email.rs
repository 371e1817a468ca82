//! E-mail of notifications (deadline warnings, breaches, escalations, automatic closures) over
//! SMTP to the addresses configured for an organisation or territory, retried with backoff.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use otklik_core::Store;
use otklik_core::model::{Notification, PublicationState};
use serde::Deserialize;

/// Attempts before an e-mail is given up.
pub const MAX_ATTEMPTS: i32 = 8;

/// `[notifications.email]` of the configuration.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    /// `smtp://host:25` (plain, a local relay), `smtp://host:587?tls=required` (STARTTLS) or
    /// `smtps://host:465`; credentials as `smtps://user:password@host`. A secret: never logged.
    pub smtp: String,
    /// The sender, e.g. `Отклик <otklik@example.ru>`.
    pub from: String,
    /// Who receives what: notifications about an organisation's incidents, or a territory's.
    #[serde(default)]
    pub to: Vec<Recipients>,
}

impl std::fmt::Debug for EmailConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailConfig")
            .field("smtp", &"<redacted>")
            .field("from", &self.from)
            .field("to", &self.to)
            .finish()
    }
}

/// Addresses for one organisation, municipality or region code.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipients {
    pub node: String,
    pub addresses: Vec<String>,
}

/// Errors of the e-mail set-up.
#[derive(Debug, thiserror::Error)]
pub enum EmailError {
    #[error("[notifications.email] smtp: {0}")]
    Transport(String),
    #[error("[notifications.email] {0}")]
    Address(String),
}

/// The mailer: the SMTP transport and the parsed configuration.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    config: EmailConfig,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer").field("config", &self.config).finish()
    }
}

impl Mailer {
    /// Checks the configuration (the SMTP address and every e-mail address) and builds the mailer.
    pub fn new(config: EmailConfig) -> Result<Mailer, EmailError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&config.smtp)
            // The message of a URL error may repeat the URL, which may hold a password.
            .map_err(|_| EmailError::Transport("not a valid smtp://, smtps:// address".into()))?
            .timeout(Some(Duration::from_secs(20)))
            .build();
        config.from.parse::<lettre::message::Mailbox>().map_err(|e| EmailError::Address(format!("from: {e}")))?;
        for r in &config.to {
            for a in &r.addresses {
                a.parse::<lettre::message::Mailbox>()
                    .map_err(|e| EmailError::Address(format!("address `{a}` of `{}`: {e}", r.node)))?;
            }
        }
        Ok(Mailer { transport, config })
    }

    /// The addresses a notification goes to: those of its organisation, municipality and region.
    pub fn recipients(&self, n: &Notification) -> Vec<String> {
        let nodes = [n.org.as_deref(), n.municipality.as_deref(), n.region.as_deref()];
        let mut out: Vec<String> = self
            .config
            .to
            .iter()
            .filter(|r| nodes.contains(&Some(r.node.as_str())))
            .flat_map(|r| r.addresses.iter().cloned())
            .collect();
        out.sort();
        out.dedup();
        out
    }

    fn message(&self, n: &Notification, to: &[String]) -> Result<Message, String> {
        let kind = match n.kind.as_str() {
            "deadline_warning" => "Срок подходит",
            "deadline_breached" => "Срок нарушен",
            "escalated" => "Эскалация",
            "auto_closed" => "Закрыто без ответа заявителя",
            other => other,
        };
        let mut b = Message::builder()
            .from(self.config.from.parse().map_err(|e| format!("from: {e}"))?)
            .subject(format!("Отклик: {kind} — обращение № {}", n.incident_id))
            .header(ContentType::TEXT_PLAIN);
        for a in to {
            b = b.to(a.parse().map_err(|e| format!("to: {e}"))?);
        }
        b.body(format!("{}\n\nОбращение № {}.\n", n.text, n.incident_id)).map_err(|e| e.to_string())
    }

    /// Sends what is pending once; returns how many e-mails were sent.
    pub async fn deliver_pending(&self, store: &dyn Store) -> Result<usize, otklik_core::StoreError> {
        let mut sent = 0;
        for n in store.pending_emails(100).await? {
            let to = self.recipients(&n);
            if to.is_empty() {
                // Nobody is configured for it: nothing to send, and nothing to retry.
                store.mark_email(n.id, PublicationState::Sent, n.email_attempts).await?;
                continue;
            }
            let attempts = n.email_attempts + 1;
            let outcome = match self.message(&n, &to) {
                Ok(m) => self.transport.send(m).await.map_err(|e| e.to_string()),
                Err(e) => Err(e),
            };
            match outcome {
                Ok(_) => {
                    store.mark_email(n.id, PublicationState::Sent, attempts).await?;
                    sent += 1;
                }
                Err(reason) => {
                    let state =
                        if attempts >= MAX_ATTEMPTS { PublicationState::Dead } else { PublicationState::Failed };
                    tracing::warn!(notification = n.id, attempts, %reason, "e-mail delivery failed");
                    store.mark_email(n.id, state, attempts).await?;
                    // Stop this round: the server is struggling; later rounds back off.
                    break;
                }
            }
        }
        Ok(sent)
    }
}

/// Sends pending e-mails for as long as the process runs, backing off while the server fails.
pub fn spawn(store: std::sync::Arc<dyn Store>, mailer: Mailer) {
    tokio::spawn(async move {
        let mut pause = Duration::from_secs(5);
        loop {
            match mailer.deliver_pending(store.as_ref()).await {
                Ok(_) => pause = Duration::from_secs(5),
                Err(e) => {
                    tracing::warn!(error = %e, "e-mail round failed");
                    pause = (pause * 2).min(Duration::from_secs(300));
                }
            }
            tokio::time::sleep(pause).await;
        }
    });
}
