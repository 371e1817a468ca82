//! Shared helpers of the integration tests: the repository's reference data and corpus files.
#![allow(dead_code)]

use std::io::BufReader;
use std::sync::OnceLock;

use otklik_core::reference::{ReferenceData, ReferenceFiles};
use otklik_nlp::{Analyzer, LabelledMessage};

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

/// The builtin analyzer, loaded once per test binary.
pub fn analyzer() -> &'static Analyzer {
    static A: OnceLock<Analyzer> = OnceLock::new();
    A.get_or_init(|| Analyzer::builtin(&reference()).expect("builtin model loads"))
}

pub fn corpus(name: &str) -> Vec<LabelledMessage> {
    let path = format!("{}/../../data/corpus/{name}", env!("CARGO_MANIFEST_DIR"));
    otklik_nlp::read_corpus(BufReader::new(std::fs::File::open(path).expect("corpus file"))).expect("corpus parses")
}
