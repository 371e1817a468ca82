//! The repository's reference data for the examples (shared by `#[path]`, not an example itself).

use otklik_core::reference::{ReferenceData, ReferenceFiles};

/// Parses `data/reference` as embedded at build time.
pub fn reference() -> ReferenceData {
    ReferenceData::parse(ReferenceFiles {
        territories: ("territories.toml", include_str!("../../../../data/reference/territories.toml")),
        organisations: ("organisations.toml", include_str!("../../../../data/reference/organisations.toml")),
        taxonomy: ("taxonomy.toml", include_str!("../../../../data/reference/taxonomy.toml")),
        sources: Some(("sources.toml", include_str!("../../../../data/reference/sources.toml"))),
        // Routing rules play no part in text analysis; other files keep their defaults.
        ..ReferenceFiles::default()
    })
    .expect("reference data parses")
}
