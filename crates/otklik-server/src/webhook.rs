//! The outgoing webhook: every notification is POSTed as JSON to the configured address, signed
//! with HMAC-SHA256 in `X-Otklik-Signature: sha256=<hex>`, retried with backoff, given up after a
//! number of attempts (state `dead`, kept for inspection).

use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use otklik_core::Store;
use otklik_core::model::PublicationState;
use sha2::Sha256;

/// Attempts before a notification is given up.
pub const MAX_ATTEMPTS: i32 = 8;

/// The signature header's value for a body.
pub fn signature(secret: &str, body: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Delivers what is pending once; returns how many were delivered.
pub async fn deliver_pending(
    store: &dyn Store,
    client: &reqwest::Client,
    url: &str,
    secret: &str,
) -> Result<usize, otklik_core::StoreError> {
    let mut delivered = 0;
    for n in store.pending_webhooks(100).await? {
        let body = serde_json::to_vec(&n).unwrap_or_default();
        let sent = client
            .post(url)
            .header("content-type", "application/json")
            .header("x-otklik-signature", signature(secret, &body))
            .header("x-otklik-notification", n.id.to_string())
            .body(body)
            .timeout(Duration::from_secs(10))
            .send()
            .await;
        let attempts = n.webhook_attempts + 1;
        match sent {
            Ok(r) if r.status().is_success() => {
                store.mark_webhook(n.id, PublicationState::Sent, attempts).await?;
                delivered += 1;
            }
            other => {
                let reason = match other {
                    Ok(r) => format!("answered {}", r.status()),
                    Err(e) => format!("unreachable: {}", e.without_url()),
                };
                let state = if attempts >= MAX_ATTEMPTS { PublicationState::Dead } else { PublicationState::Failed };
                tracing::warn!(notification = n.id, attempts, %reason, "webhook delivery failed");
                store.mark_webhook(n.id, state, attempts).await?;
                // Stop this round: the receiver is struggling; later rounds back off.
                break;
            }
        }
    }
    Ok(delivered)
}

/// Runs delivery for as long as the process runs, backing off while the receiver fails.
pub fn spawn(store: Arc<dyn Store>, url: String, secret: String) {
    tokio::spawn(async move {
        let client = reqwest::Client::new();
        let mut pause = Duration::from_secs(2);
        loop {
            match deliver_pending(&*store, &client, &url, &secret).await {
                Ok(_) => pause = Duration::from_secs(2),
                Err(e) => tracing::warn!(error = %e, "webhook round failed"),
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(60));
        }
    });
}

#[cfg(test)]
mod tests {
    #[test]
    fn signatures_are_hmac_sha256() {
        // RFC 4231 test case 2.
        assert_eq!(
            super::signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
