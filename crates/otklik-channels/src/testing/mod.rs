//! Local fake platform servers (VK, OK, Telegram) on 127.0.0.1 for tests, the demo and
//! benchmarks: they serve the documented endpoints the adapters call, record every accepted
//! publication, deduplicate where the platform does, and can be switched into failure modes.

pub mod ok;
pub mod telegram;
pub mod vk;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::Value;
use tokio::sync::oneshot;

/// A failure a fake answers with instead of serving the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// HTTP 503, as a platform outage or an overloaded proxy answers.
    Outage,
    /// The platform's error code (VK `error_code`, OK `error_code`, Telegram HTTP/`error_code`).
    Code(i64),
    /// Telegram 429 with `parameters.retry_after` (VK: flood control 9; OK: 8).
    FloodWait(u64),
}

/// Which failures are pending.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    next: Option<(Fault, usize)>,
    always: Option<Fault>,
}

impl Faults {
    /// The failure for this call, if any, consuming one of the "next K" ones.
    pub(crate) fn take(&mut self) -> Option<Fault> {
        if let Some(f) = &self.always {
            return Some(f.clone());
        }
        let (fault, left) = self.next.take()?;
        if left > 1 {
            self.next = Some((fault.clone(), left - 1));
        }
        Some(fault)
    }
}

/// One call a fake received (accepted or not).
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub method: String,
    /// Parameters as a JSON object (form fields become strings; credentials are left out).
    pub params: Value,
}

/// One publication a fake accepted (a duplicate it deduplicated is not listed again).
#[derive(Debug, Clone, PartialEq)]
pub struct Publication {
    pub method: String,
    pub params: Value,
    /// The id the fake gave the new item.
    pub id: String,
}

/// State shared by every fake: faults, the call log and the publications.
#[derive(Debug, Default)]
pub(crate) struct Common {
    pub faults: Faults,
    pub calls: Vec<Call>,
    pub published: Vec<Publication>,
}

/// The part of every fake's control surface that does not depend on the platform.
#[derive(Debug)]
pub(crate) struct Running {
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Serves `router` on 127.0.0.1 with an OS-chosen port until the returned handle is dropped.
pub(crate) async fn serve(router: axum::Router) -> std::io::Result<Running> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await;
    });
    Ok(Running { addr, shutdown: Some(tx) })
}

/// Locks shared fake state, surviving a panicked holder (a failed test must not cascade).
pub(crate) fn lock<T>(m: &Arc<Mutex<T>>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Methods every fake exposes over its `Common` state.
macro_rules! common_controls {
    ($ty:ty) => {
        impl $ty {
            /// Base URL to put in `SourceConfig::api_base`.
            pub fn base_url(&self) -> String {
                format!("http://{}", self.running.addr)
            }

            /// Every accepted publication, in order.
            pub fn published(&self) -> Vec<$crate::testing::Publication> {
                $crate::testing::lock(&self.state).common.published.clone()
            }

            /// Every call received, in order (credentials left out).
            pub fn calls(&self) -> Vec<$crate::testing::Call> {
                $crate::testing::lock(&self.state).common.calls.clone()
            }

            /// Calls of one method.
            pub fn calls_of(&self, method: &str) -> Vec<$crate::testing::Call> {
                self.calls().into_iter().filter(|c| c.method == method).collect()
            }

            /// The next `times` API calls fail with `fault`.
            pub fn fail_next(&self, fault: $crate::testing::Fault, times: usize) {
                $crate::testing::lock(&self.state).common.faults.next = (times > 0).then_some((fault, times));
            }

            /// Every API call fails with `fault` until `clear_faults`.
            pub fn fail_always(&self, fault: $crate::testing::Fault) {
                $crate::testing::lock(&self.state).common.faults.always = Some(fault);
            }

            /// Outage on or off (HTTP 503 for every API call).
            pub fn set_outage(&self, on: bool) {
                $crate::testing::lock(&self.state).common.faults.always = on.then_some($crate::testing::Fault::Outage);
            }

            /// Back to normal service.
            pub fn clear_faults(&self) {
                let mut s = $crate::testing::lock(&self.state);
                s.common.faults.next = None;
                s.common.faults.always = None;
            }
        }
    };
}
pub(crate) use common_controls;
