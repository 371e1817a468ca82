//! The outbox worker: delivers published answers to the channels they came from, with retries and
//! exponential backoff, a dead-letter state with the reason, and never twice.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use otklik_channels::PublishError;
use otklik_core::model::{Channel, PublicationState};
use otklik_core::store::{OutboxEntry, PublicationUpdate};
use otklik_core::{DomainError, workflow::Workflow};

use crate::channels::Channels;

/// Attempts before an entry is given up (dead) on retryable errors.
pub const MAX_ATTEMPTS: i32 = 12;
/// How long a claimed entry belongs to this worker: longer than one platform call may take.
const LEASE: Duration = Duration::from_secs(120);

/// What one outbox round did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct OutboxReport {
    pub sent: usize,
    pub failed: usize,
    pub dead: usize,
}

/// The wait before attempt `attempts + 1`: 30 s doubling, at most an hour.
pub fn backoff(attempts: i32) -> chrono::Duration {
    let exp = attempts.clamp(1, 20) as u32 - 1;
    let secs = 30u64.saturating_mul(1u64 << exp.min(16)).min(3600);
    chrono::Duration::seconds(secs as i64)
}

fn update(state: PublicationState, attempts: i32, now: DateTime<Utc>) -> PublicationUpdate {
    PublicationUpdate { state, attempts, last_error: None, next_attempt_at: None, external_id: None, at: now }
}

/// Delivers one claimed entry and says how it ended.
async fn deliver(wf: &Workflow, channels: &Channels, e: &OutboxEntry, now: DateTime<Utc>) -> PublicationUpdate {
    let p = &e.publication;
    let attempts = p.attempts + 1;
    let dead = |reason: String| PublicationUpdate {
        last_error: Some(reason),
        ..update(PublicationState::Dead, attempts, now)
    };
    match p.channel {
        // The citizen reads these answers where they asked: the tracking page, Open311, the API.
        Channel::Web | Channel::Open311 | Channel::Api => return update(PublicationState::Sent, attempts, now),
        Channel::Vk | Channel::Ok | Channel::Telegram => {}
        other => return dead(format!("unsupported_channel: answers cannot be published to {other}")),
    }
    let message = match p.message_id {
        Some(id) => wf.store().message(id).await,
        None => Ok(None),
    };
    let message = match message {
        Ok(Some(m)) => m,
        Ok(None) => return dead("no_original: the message to answer is not stored".into()),
        Err(err) => {
            return PublicationUpdate {
                last_error: Some(format!("storage: {err}")),
                next_attempt_at: Some(now + backoff(attempts)),
                ..update(PublicationState::Failed, p.attempts, now)
            };
        }
    };
    let Some(adapter) = channels.get(p.channel, &message.body.source) else {
        return dead(format!("unknown_source: source {} of {} is not configured", message.body.source, p.channel));
    };
    // The key stays the same across retries, so platforms that deduplicate publish once.
    let key = format!("otklik-pub-{}", p.id);
    match adapter.publish(&message.body, &e.text, &key).await {
        Ok(published) => PublicationUpdate {
            external_id: Some(published.external_id),
            ..update(PublicationState::Sent, attempts, now)
        },
        Err(PublishError::Permanent { code, reason }) => dead(format!("{code}: {reason}")),
        Err(PublishError::Retry { code, reason, after }) => {
            if attempts >= MAX_ATTEMPTS {
                return dead(format!("gave up after {attempts} attempts; last {code}: {reason}"));
            }
            let wait = after
                .and_then(|a| chrono::Duration::from_std(a).ok())
                .map_or_else(|| backoff(attempts), |a| a.max(backoff(attempts)));
            PublicationUpdate {
                last_error: Some(format!("{code}: {reason}")),
                next_attempt_at: Some(now + wait),
                ..update(PublicationState::Failed, attempts, now)
            }
        }
    }
}

/// One round: claims the due entries and delivers them, concurrently per entry.
pub async fn deliver_due(
    wf: &Arc<Workflow>,
    channels: &Arc<Channels>,
    limit: u32,
) -> Result<OutboxReport, DomainError> {
    let now = wf.now();
    let lease = now + chrono::Duration::from_std(LEASE).unwrap_or_default();
    let claimed = wf.store().claim_publications(now, lease, limit).await?;
    let mut set = tokio::task::JoinSet::new();
    for e in claimed {
        let (wf, channels) = (wf.clone(), channels.clone());
        set.spawn(async move {
            let u = deliver(&wf, &channels, &e, now).await;
            let r = wf.store().finish_publication(e.publication.id, &u).await;
            (e, u, r)
        });
    }
    let mut report = OutboxReport::default();
    while let Some(done) = set.join_next().await {
        let Ok((e, u, r)) = done else { continue };
        if let Err(err) = r {
            // The lease expires and another round retries; the platform key prevents a double post
            // where the platform supports one.
            tracing::error!(error = %err, publication = e.publication.id, "cannot record a delivery");
            continue;
        }
        let channel = e.publication.channel.as_str();
        match u.state {
            PublicationState::Sent => report.sent += 1,
            PublicationState::Dead => {
                report.dead += 1;
                tracing::warn!(
                    publication = e.publication.id,
                    incident = e.incident_id,
                    channel,
                    reason = u.last_error.as_deref().unwrap_or(""),
                    "answer delivery given up"
                );
            }
            _ => report.failed += 1,
        }
        metrics::counter!("otklik_publications_total", "channel" => channel, "state" => u.state.as_str()).increment(1);
    }
    Ok(report)
}

/// Runs the outbox every `every`, for as long as the process runs.
pub fn spawn_outbox(wf: Arc<Workflow>, channels: Arc<Channels>, every: Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            loop {
                match deliver_due(&wf, &channels, 100).await {
                    // A full round may mean more are due: go on without waiting.
                    Ok(r) if r.sent + r.failed + r.dead >= 100 => continue,
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "outbox round failed");
                        break;
                    }
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_thirty_seconds_up_to_an_hour() {
        let secs: Vec<i64> = (1..=10).map(|a| backoff(a).num_seconds()).collect();
        assert_eq!(secs, vec![30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]);
        assert_eq!(backoff(0).num_seconds(), 30);
        assert_eq!(backoff(i32::MAX).num_seconds(), 3600);
    }
}
