//! Opening a deployment: the store, its reference data and the workflow over them.

use std::sync::Arc;

use anyhow::Context;
use otklik_core::Store;
use otklik_core::reference::ReferenceData;
use otklik_core::workflow::{Catalog, Classifier, Clock, SystemClock, Workflow};
use otklik_store::SqlStore;

use crate::app::{AppState, Settings};
use crate::config::Config;
use crate::refdata;

/// The reference data a configuration names (a folder, or the built-in files).
pub fn reference_for(config: &Config) -> anyhow::Result<ReferenceData> {
    Ok(match &config.reference.dir {
        Some(dir) => refdata::from_dir(dir)?,
        None => refdata::builtin()?,
    })
}

/// Opens and migrates the store; loads reference data into it when it has none yet, so that edits
/// made later through the API are never overwritten by a restart.
pub async fn open_store(url: &str, reference: &ReferenceData) -> anyhow::Result<Arc<SqlStore>> {
    let store = otklik_store::open(url).await.with_context(|| format!("cannot open the database {}", redact(url)))?;
    if store.territories().await?.is_empty() {
        refdata::seed(&store, reference).await?;
        tracing::info!(
            territories = reference.territories.len(),
            organisations = reference.organisations.len(),
            categories = reference.categories.len(),
            "reference data loaded"
        );
    }
    Ok(Arc::new(store))
}

/// The workflow over a store, with the catalog read back from it and, when given, the text
/// analysis that classifies every new message.
pub async fn workflow(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    classifier: Option<Arc<dyn Classifier>>,
) -> anyhow::Result<Arc<Workflow>> {
    let mut wf = Workflow::new(store, clock, Catalog::default());
    if let Some(c) = classifier {
        wf = wf.with_classifier(c);
    }
    wf.reload_catalog().await?;
    Ok(Arc::new(wf))
}

/// Everything `serve` needs from a configuration.
pub async fn state(config: &Config, demo: bool) -> anyhow::Result<AppState> {
    let reference = reference_for(config)?;
    let store = open_store(&config.database.url, &reference).await?;
    let analyzer = crate::nlp::analyzer(config.analysis.model.as_deref(), &reference)?;
    let wf = workflow(store, Arc::new(SystemClock), Some(analyzer)).await?;
    let channels =
        crate::channels::Channels::build(&config.channels).map_err(|e| anyhow::anyhow!("[[channels]]: {e}"))?;
    Ok(AppState::new(
        wf,
        Settings {
            secure_cookies: config.server.secure_cookies,
            session_hours: config.server.session_hours,
            body_limit: config.server.body_limit,
            demo,
            open311: crate::app::Open311Settings {
                api_keys: config.open311.api_keys.clone(),
                jurisdiction_id: config.open311.jurisdiction_id.clone(),
            },
            reference: crate::reload::ReferenceSources::of(config),
        },
        crate::app::metrics_handle(),
    )
    .with_channels(Arc::new(channels)))
}

/// A database URL with any password removed, fit for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}{}@{}", &url[..s + 3], user, &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_redacted() {
        assert_eq!(super::redact("postgres://u:secret@h/db"), "postgres://u@h/db");
        assert_eq!(super::redact("sqlite://x.db"), "sqlite://x.db");
    }
}
