//! Reloading the reference files and the calendar folder into a running deployment (the command
//! line, `SIGHUP` to `serve`, and the admin endpoint), and recomputing deadlines after such a
//! change in the background, one recomputation at a time.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use otklik_core::reference::{ReferenceData, ReferenceError};
use otklik_core::reload::{ReloadError, ReloadReport};
use otklik_core::workflow::Workflow;
use serde::Serialize;
use utoipa::ToSchema;

use crate::config::Config;

/// Incidents per page of deadline recomputation (read, computed and written as one transaction).
/// Large pages write each index page fewer times (1 M incidents with 750 k moving: about 11 s in
/// pages of 25,000 against 12.5 s in pages of 5,000); a page holds the writer for a few tenths of
/// a second, which intake waits out.
pub const RECOMPUTE_BATCH: u32 = 25_000;

/// The folders a reload re-reads.
#[derive(Debug, Clone, Default)]
pub struct ReferenceSources {
    /// The reference folder; the built-in reference data when absent.
    pub dir: Option<PathBuf>,
    /// The calendar folder; the stored calendar years are kept when absent.
    pub calendar_dir: Option<PathBuf>,
}

impl ReferenceSources {
    pub fn of(config: &Config) -> Self {
        ReferenceSources { dir: config.reference.dir.clone(), calendar_dir: config.reference.calendar_dir.clone() }
    }
}

/// What a reload read, validated file by file.
#[derive(Debug, Clone)]
pub struct ReadReference {
    pub data: ReferenceData,
    /// (path, TOML text) of each calendar file, when a calendar folder is configured.
    pub calendar: Option<Vec<(String, String)>>,
}

/// The `*.toml` files of a calendar folder, by name.
pub fn read_calendar_dir(dir: &Path) -> Result<Vec<(String, String)>, ReferenceError> {
    let fail = |file: &Path, e: std::io::Error| ReferenceError {
        file: file.display().to_string(),
        line: None,
        message: e.to_string(),
    };
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| fail(dir, e))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| std::fs::read_to_string(&p).map(|t| (p.display().to_string(), t)).map_err(|e| fail(&p, e)))
        .collect()
}

/// Reads and validates the configured files (reference data as a whole; each calendar file).
pub fn read(sources: &ReferenceSources) -> Result<ReadReference, ReferenceError> {
    let data = match &sources.dir {
        Some(dir) => crate::refdata::from_dir(dir)?,
        None => crate::refdata::builtin()?,
    };
    let calendar = sources.calendar_dir.as_deref().map(read_calendar_dir).transpose()?;
    Ok(ReadReference { data, calendar })
}

/// Re-reads the configured files and, only if they are valid as a whole, replaces the stored
/// reference data (and calendar years) and reloads the catalog. Deadlines are left to the caller.
pub async fn reload(wf: &Workflow, sources: &ReferenceSources) -> Result<ReloadReport, ReloadError> {
    let read = read(sources).map_err(ReloadError::Invalid)?;
    wf.replace_reference(&read.data, read.calendar.as_deref()).await
}

/// The state of the latest deadline recomputation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RecomputeStatus {
    /// Increases by one with each recomputation requested since the server started.
    pub seq: u64,
    /// What asked for it, e.g. `calendar 2026 stored`.
    pub reason: String,
    pub started_at: DateTime<Utc>,
    /// Unset while it runs.
    pub finished_at: Option<DateTime<Utc>>,
    /// Incidents whose due instants moved.
    pub moved: Option<u64>,
    /// Why it failed, when it did (details are in the log).
    pub error: Option<String>,
}

/// Runs deadline recomputations in the background one after another, so the last change's
/// recomputation runs last and sees the catalog it made.
#[derive(Debug, Default)]
pub struct Recomputer {
    run: tokio::sync::Mutex<()>,
    seq: std::sync::atomic::AtomicU64,
    latest: Mutex<Option<RecomputeStatus>>,
}

impl Recomputer {
    /// The latest recomputation requested (running, or finished).
    pub fn latest(&self) -> Option<RecomputeStatus> {
        self.latest.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Starts a recomputation in the background and returns its sequence number.
    pub fn spawn(self: &Arc<Self>, wf: Arc<Workflow>, reason: String) -> u64 {
        let seq = self.seq.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        let this = self.clone();
        tokio::spawn(async move {
            let _one_at_a_time = this.run.lock().await;
            let started_at = wf.now();
            this.record(RecomputeStatus {
                seq,
                reason: reason.clone(),
                started_at,
                finished_at: None,
                moved: None,
                error: None,
            });
            let outcome = wf.recompute_deadlines(RECOMPUTE_BATCH).await;
            let (moved, error) = match outcome {
                Ok(n) => {
                    tracing::info!(moved = n, reason = %reason, "deadlines recomputed");
                    (Some(n), None)
                }
                Err(e) => {
                    tracing::error!(error = %e, reason = %reason, "deadline recomputation failed");
                    (None, Some(e.code().to_string()))
                }
            };
            this.record(RecomputeStatus { seq, reason, started_at, finished_at: Some(wf.now()), moved, error });
        });
        seq
    }

    fn record(&self, status: RecomputeStatus) {
        let mut latest = self.latest.lock().unwrap_or_else(|e| e.into_inner());
        // An older run finishing never hides a newer one's state.
        if latest.as_ref().is_none_or(|l| l.seq <= status.seq) {
            *latest = Some(status);
        }
    }
}

/// Reloads the files on every `SIGHUP`, for as long as the process runs: a refused set is logged
/// with its file and line and changes nothing.
pub fn spawn_sighup(state: crate::app::AppState) {
    #[cfg(unix)]
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hup) = signal(SignalKind::hangup()) else {
            tracing::warn!("cannot listen for SIGHUP: reload the reference files with the API or the command line");
            return;
        };
        while hup.recv().await.is_some() {
            match reload(&state.workflow, &state.settings.reference).await {
                Ok(report) => {
                    tracing::info!(?report, "reference files reloaded on SIGHUP");
                    state.recompute.spawn(state.workflow.clone(), "reference reload (SIGHUP)".into());
                }
                Err(ReloadError::Invalid(e)) => {
                    tracing::error!(file = %e.file, line = ?e.line, "reference reload refused, the running configuration stays: {e}");
                }
                Err(e) => tracing::error!(error = %e, "reference reload failed, the running configuration stays"),
            }
        }
    });
    #[cfg(not(unix))]
    let _ = state;
}
