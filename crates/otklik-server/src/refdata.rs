//! Reference data: the built-in files (embedded in the binary) or a folder of them, and seeding a store.

use std::path::Path;

use otklik_core::Store;
use otklik_core::model::TerritoryLevel;
use otklik_core::reference::{ReferenceData, ReferenceError, ReferenceFiles};

const TERRITORIES: &str = include_str!("../../../data/reference/territories.toml");
const ORGANISATIONS: &str = include_str!("../../../data/reference/organisations.toml");
const TAXONOMY: &str = include_str!("../../../data/reference/taxonomy.toml");
const SOURCES: &str = include_str!("../../../data/reference/sources.toml");
const ROUTING: &str = include_str!("../../../data/reference/routing.toml");
const DEADLINES: &str = include_str!("../../../data/reference/deadlines.toml");

/// The reference data shipped with Otklik: four demo regions and the default taxonomy.
pub fn builtin() -> Result<ReferenceData, ReferenceError> {
    ReferenceData::parse(ReferenceFiles {
        territories: ("territories.toml", TERRITORIES),
        organisations: ("organisations.toml", ORGANISATIONS),
        taxonomy: ("taxonomy.toml", TAXONOMY),
        sources: Some(("sources.toml", SOURCES)),
        routing: Some(("routing.toml", ROUTING)),
        deadlines: Some(("deadlines.toml", DEADLINES)),
    })
}

/// Reads the reference files of a folder; `sources.toml`, `routing.toml` and `deadlines.toml` are
/// optional.
pub fn from_dir(dir: &Path) -> Result<ReferenceData, ReferenceError> {
    let read = |name: &str| {
        let p = dir.join(name);
        std::fs::read_to_string(&p).map(|t| (p.display().to_string(), t)).map_err(|e| ReferenceError {
            file: p.display().to_string(),
            line: None,
            message: e.to_string(),
        })
    };
    let t = read("territories.toml")?;
    let o = read("organisations.toml")?;
    let c = read("taxonomy.toml")?;
    let optional = |name: &str| if dir.join(name).exists() { read(name).map(Some) } else { Ok(None) };
    let s = optional("sources.toml")?;
    let r = optional("routing.toml")?;
    let d = optional("deadlines.toml")?;
    ReferenceData::parse(ReferenceFiles {
        territories: (&t.0, &t.1),
        organisations: (&o.0, &o.1),
        taxonomy: (&c.0, &c.1),
        sources: s.as_ref().map(|s| (s.0.as_str(), s.1.as_str())),
        routing: r.as_ref().map(|r| (r.0.as_str(), r.1.as_str())),
        deadlines: d.as_ref().map(|d| (d.0.as_str(), d.1.as_str())),
    })
}

/// Writes reference data into a store, parents before children.
pub async fn seed(store: &dyn Store, data: &ReferenceData) -> Result<(), otklik_core::StoreError> {
    for level in [TerritoryLevel::Region, TerritoryLevel::Municipality, TerritoryLevel::Settlement] {
        for t in data.territories.iter().filter(|t| t.level == level) {
            store.upsert_territory(t).await?;
        }
    }
    for o in &data.organisations {
        store.upsert_organisation(o).await?;
    }
    for c in &data.categories {
        store.upsert_category(c).await?;
    }
    for s in &data.sources {
        store.upsert_source(s).await?;
    }
    for r in &data.routing {
        store.upsert_routing_rule(r).await?;
    }
    for p in &data.deadlines {
        store.upsert_deadline_policy(p).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use otklik_core::reference::CONTRACT_CATEGORIES;

    #[test]
    fn builtin_reference_data_is_complete() {
        let d = builtin().unwrap();
        let regions: Vec<_> = d.territories.iter().filter(|t| t.level == TerritoryLevel::Region).collect();
        assert_eq!(regions.len(), 4);
        let munis = |region: &str| {
            d.territories
                .iter()
                .filter(|t| t.level == TerritoryLevel::Municipality && t.parent.as_deref() == Some(region))
                .count()
        };
        let code_of = |name: &str| regions.iter().find(|r| r.name == name).unwrap().code.clone();
        assert_eq!(munis(&code_of("Липецкая область")), 20);
        assert_eq!(munis(&code_of("Санкт-Петербург")), 18);
        assert_eq!(munis(&code_of("Краснодарский край")), 44);
        assert!(munis(&code_of("Архангельская область")) >= 25);
        // Every first-level municipality has its administration.
        for m in d.territories.iter().filter(|t| t.level == TerritoryLevel::Municipality) {
            assert!(
                d.organisations
                    .iter()
                    .any(|o| o.territory == m.code && o.kind == otklik_core::model::OrgKind::Administration),
                "no administration for {}",
                m.name
            );
        }
        for c in CONTRACT_CATEGORIES {
            let subs = d.categories.iter().filter(|x| x.direction() == *c && x.level() == 3).count();
            assert!(subs >= 2, "{c} has {subs} sub-topics");
        }
    }
}
