//! Reference data from plain TOML files: territories, organisations, the taxonomy and sources,
//! parsed and validated as a whole so a bad file is refused with its name and line.

use std::collections::{HashMap, HashSet};

use serde::Deserialize;

use crate::model::{Category, Channel, Organisation, Source, Territory, TerritoryLevel};

/// The contract's top-level categories, in order.
pub const CONTRACT_CATEGORIES: &[&str] = &[
    "roads",
    "public_transport",
    "housing",
    "waste",
    "landscaping",
    "healthcare",
    "education",
    "energy",
    "social",
    "animals",
    "safety",
    "ecology",
    "culture_sport",
    "telecom",
    "other",
];

/// A reference file that could not be taken.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{file}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct ReferenceError {
    pub file: String,
    pub line: Option<usize>,
    pub message: String,
}

/// All reference data, validated together.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReferenceData {
    pub territories: Vec<Territory>,
    pub organisations: Vec<Organisation>,
    pub categories: Vec<Category>,
    pub sources: Vec<Source>,
    pub routing: Vec<crate::routing::RoutingRule>,
    pub deadlines: Vec<crate::deadlines::DeadlinePolicy>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TerritoryFile {
    #[serde(default)]
    territory: Vec<TerritoryRow>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TerritoryRow {
    code: String,
    name: String,
    full_name: Option<String>,
    level: TerritoryLevel,
    parent: Option<String>,
    zone: Option<String>,
    oktmo: Option<String>,
    #[serde(default)]
    aliases: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OrgFile {
    #[serde(default)]
    organisation: Vec<Organisation>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CategoryFile {
    #[serde(default)]
    category: Vec<Category>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceFile {
    #[serde(default)]
    source: Vec<Source>,
}

/// The line of the first `code = "…"` (or `key = "…"`) that names `code`, for error messages.
fn line_of(text: &str, code: &str) -> Option<usize> {
    let needle = format!("\"{code}\"");
    text.lines()
        .position(|l| {
            let l = l.trim_start();
            (l.starts_with("code") || l.starts_with("key")) && l.contains(&needle)
        })
        .map(|i| i + 1)
}

fn parse<T: serde::de::DeserializeOwned>(file: &str, text: &str) -> Result<T, ReferenceError> {
    toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
        ReferenceError { file: file.into(), line, message: e.message().to_string() }
    })
}

/// The text of each reference file, with the name used in error messages.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReferenceFiles<'a> {
    pub territories: (&'a str, &'a str),
    pub organisations: (&'a str, &'a str),
    pub taxonomy: (&'a str, &'a str),
    pub sources: Option<(&'a str, &'a str)>,
    pub routing: Option<(&'a str, &'a str)>,
    pub deadlines: Option<(&'a str, &'a str)>,
}

impl ReferenceFiles<'static> {
    /// Names without texts: for validating data that came from an edit rather than from files
    /// (errors then name the kind of record, without a line).
    pub fn unnamed() -> Self {
        ReferenceFiles {
            territories: ("territories", ""),
            organisations: ("organisations", ""),
            taxonomy: ("taxonomy", ""),
            sources: Some(("sources", "")),
            routing: Some(("routing", "")),
            deadlines: Some(("deadlines", "")),
        }
    }
}

impl ReferenceData {
    /// Parses and validates the files together.
    pub fn parse(files: ReferenceFiles<'_>) -> Result<Self, ReferenceError> {
        let (tf, tt) = files.territories;
        let rows = parse::<TerritoryFile>(tf, tt)?.territory;
        let zones: HashMap<&str, Option<&str>> = rows.iter().map(|r| (r.code.as_str(), r.zone.as_deref())).collect();
        let parents: HashMap<&str, Option<&str>> =
            rows.iter().map(|r| (r.code.as_str(), r.parent.as_deref())).collect();
        let mut territories = Vec::with_capacity(rows.len());
        for r in &rows {
            // Zones are inherited down the tree.
            let mut zone = r.zone.as_deref();
            let mut cur = r.parent.as_deref();
            let mut hops = 0;
            while zone.is_none() && hops < 16 {
                let Some(p) = cur else { break };
                zone = zones.get(p).copied().flatten();
                cur = parents.get(p).copied().flatten();
                hops += 1;
            }
            let err = |m: String| ReferenceError { file: tf.into(), line: line_of(tt, &r.code), message: m };
            let zone = zone.ok_or_else(|| err(format!("territory `{}` has no time zone", r.code)))?;
            territories.push(Territory {
                code: r.code.clone(),
                name: r.name.clone(),
                full_name: r.full_name.clone().unwrap_or_else(|| r.name.clone()),
                level: r.level,
                parent: r.parent.clone(),
                zone: zone.to_string(),
                oktmo: r.oktmo.clone(),
                aliases: r.aliases.clone(),
            });
        }
        let (of, ot) = files.organisations;
        let organisations = parse::<OrgFile>(of, ot)?.organisation;
        let (cf, ct) = files.taxonomy;
        let categories = parse::<CategoryFile>(cf, ct)?.category;
        let sources = match files.sources {
            Some((sf, st)) => parse::<SourceFile>(sf, st)?.source,
            None => vec![],
        };
        let routing = match files.routing {
            Some((rf, rt)) => crate::routing::parse_rule_file(rf, rt)?,
            None => vec![],
        };
        let deadlines = match files.deadlines {
            Some((df, dt)) => crate::deadlines::parse_policy_file(df, dt)?,
            None => vec![],
        };
        let data = ReferenceData { territories, organisations, categories, sources, routing, deadlines };
        data.validate(&files)?;
        Ok(data)
    }

    /// Checks codes, references, levels, zones and cycles; errors name the file and line.
    pub fn validate(&self, files: &ReferenceFiles<'_>) -> Result<(), ReferenceError> {
        let err = |(file, text): (&str, &str), code: &str, message: String| ReferenceError {
            file: file.into(),
            line: line_of(text, code),
            message,
        };
        let tfile = files.territories;
        let mut tcodes = HashMap::new();
        for t in &self.territories {
            if let Err(m) = validate_code(&t.code) {
                return Err(err(tfile, &t.code, m));
            }
            if tcodes.insert(t.code.as_str(), t).is_some() {
                return Err(err(tfile, &t.code, format!("duplicate territory code `{}`", t.code)));
            }
            if t.zone.parse::<chrono_tz::Tz>().is_err() {
                return Err(err(tfile, &t.code, format!("unknown time zone `{}`", t.zone)));
            }
        }
        for t in &self.territories {
            let expected_parent = match t.level {
                TerritoryLevel::Region => None,
                TerritoryLevel::Municipality => Some(TerritoryLevel::Region),
                TerritoryLevel::Settlement => Some(TerritoryLevel::Municipality),
            };
            match (&t.parent, expected_parent) {
                (None, None) => {}
                (Some(p), Some(level)) => match tcodes.get(p.as_str()) {
                    Some(parent) if parent.level == level => {}
                    Some(parent) => {
                        return Err(err(
                            tfile,
                            &t.code,
                            format!("a {} cannot be under the {} `{p}`", t.level, parent.level),
                        ));
                    }
                    None => return Err(err(tfile, &t.code, format!("unknown parent territory `{p}`"))),
                },
                (Some(_), None) => return Err(err(tfile, &t.code, "a region has no parent".into())),
                (None, Some(_)) => return Err(err(tfile, &t.code, format!("`{}` needs a parent", t.code))),
            }
        }
        let ofile = files.organisations;
        let mut ocodes = HashMap::new();
        for o in &self.organisations {
            if let Err(m) = validate_code(&o.code) {
                return Err(err(ofile, &o.code, m));
            }
            if ocodes.insert(o.code.as_str(), o).is_some() {
                return Err(err(ofile, &o.code, format!("duplicate organisation code `{}`", o.code)));
            }
            if !tcodes.contains_key(o.territory.as_str()) {
                return Err(err(ofile, &o.code, format!("unknown territory `{}`", o.territory)));
            }
            if let Some(h) = &o.working_hours
                && let Err(e) = crate::calendar::WorkingHours::parse(h)
            {
                return Err(err(ofile, &o.code, e.to_string()));
            }
            for s in &o.sectors {
                if !CONTRACT_CATEGORIES.contains(&s.as_str()) {
                    return Err(err(ofile, &o.code, format!("unknown sector `{s}`")));
                }
            }
        }
        for o in &self.organisations {
            // Walk up the parents: every one must exist, and the walk must end.
            let mut seen = HashSet::new();
            let mut cur = o;
            while let Some(p) = &cur.parent {
                if !seen.insert(cur.code.as_str()) {
                    return Err(err(ofile, &o.code, format!("organisation `{}` is its own ancestor", o.code)));
                }
                cur = ocodes
                    .get(p.as_str())
                    .ok_or_else(|| err(ofile, &o.code, format!("unknown parent organisation `{p}`")))?;
            }
        }
        let cfile = files.taxonomy;
        let mut ccodes = HashSet::new();
        for c in &self.categories {
            if c.code.is_empty() || !c.code.split('.').all(|s| validate_code(s).is_ok() && !s.contains('.')) {
                return Err(err(cfile, &c.code, format!("bad category code `{}`", c.code)));
            }
            if !ccodes.insert(c.code.as_str()) {
                return Err(err(cfile, &c.code, format!("duplicate category `{}`", c.code)));
            }
            if c.level() > 3 {
                return Err(err(cfile, &c.code, format!("`{}` is deeper than three levels", c.code)));
            }
            if !CONTRACT_CATEGORIES.contains(&c.direction()) {
                return Err(err(cfile, &c.code, format!("`{}` is not a contract category", c.direction())));
            }
            if let Some(d) = c.form_days
                && !(1..=365).contains(&d)
            {
                return Err(err(cfile, &c.code, format!("form_days {d} out of range")));
            }
        }
        for c in &self.categories {
            if let Some(p) = c.parent()
                && !ccodes.contains(p)
            {
                return Err(err(cfile, &c.code, format!("parent category `{p}` is missing")));
            }
        }
        if let Some(sfile) = files.sources {
            let mut keys = HashSet::new();
            for s in &self.sources {
                if !keys.insert((s.channel, s.key.as_str())) {
                    return Err(err(sfile, &s.key, format!("duplicate source `{}`", s.key)));
                }
                if let Some(t) = &s.territory
                    && !tcodes.contains_key(t.as_str())
                {
                    return Err(err(sfile, &s.key, format!("unknown territory `{t}`")));
                }
                if let Some(o) = &s.org
                    && !ocodes.contains_key(o.as_str())
                {
                    return Err(err(sfile, &s.key, format!("unknown organisation `{o}`")));
                }
            }
        }
        if let Err((code, message)) =
            crate::routing::validate_rules(&self.routing, &crate::workflow::Catalog::new(self))
        {
            let (file, text) = files.routing.unwrap_or(("routing", ""));
            return Err(err((file, text), &code, message));
        }
        if let Err((code, message)) = crate::deadlines::validate_policies(&self.deadlines, |c| ccodes.contains(c)) {
            let (file, text) = files.deadlines.unwrap_or(("deadlines", ""));
            return Err(err((file, text), &code, message));
        }
        Ok(())
    }

    /// The source registered for (channel, key).
    pub fn source(&self, channel: Channel, key: &str) -> Option<&Source> {
        self.sources.iter().find(|s| s.channel == channel && s.key == key)
    }
}

/// Codes are short ASCII slugs so they are safe in URLs, files and SQL.
pub fn validate_code(code: &str) -> Result<(), String> {
    let ok = !code.is_empty()
        && code.len() <= 64
        && code.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok { Ok(()) } else { Err(format!("bad code `{code}`: use 1–64 of a-z, 0-9, - and _")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = r#"
[[territory]]
code = "lip"
name = "Липецкая область"
level = "region"
zone = "Europe/Moscow"

[[territory]]
code = "yelets"
name = "город Елец"
level = "municipality"
parent = "lip"
"#;
    const O: &str = r#"
[[organisation]]
code = "adm-yelets"
name = "Администрация города Ельца"
kind = "administration"
territory = "yelets"
"#;
    const C: &str = r#"
[[category]]
code = "roads"
name = "Дороги"
[[category]]
code = "roads.surface"
name = "Покрытие"
"#;

    fn files<'a>(t: &'a str, o: &'a str, c: &'a str) -> ReferenceFiles<'a> {
        ReferenceFiles {
            territories: ("t.toml", t),
            organisations: ("o.toml", o),
            taxonomy: ("c.toml", c),
            sources: None,
            routing: None,
            deadlines: None,
        }
    }

    #[test]
    fn parses_and_inherits_zones() {
        let d = ReferenceData::parse(files(T, O, C)).unwrap();
        assert_eq!(d.territories[1].zone, "Europe/Moscow");
        assert_eq!(d.territories[1].full_name, "город Елец");
        assert_eq!(d.categories[1].parent(), Some("roads"));
    }

    #[test]
    fn errors_name_file_and_line() {
        let bad = O.replace("territory = \"yelets\"", "territory = \"nowhere\"");
        let e = ReferenceData::parse(files(T, &bad, C)).unwrap_err();
        assert_eq!((e.file.as_str(), e.line), ("o.toml", Some(3)));
        assert!(e.to_string().starts_with("o.toml:3: unknown territory"), "{e}");

        let e = ReferenceData::parse(files(&T.replace("Europe/Moscow", "Europe/Atlantis"), O, C)).unwrap_err();
        assert!(e.message.contains("unknown time zone"), "{e}");

        let e = ReferenceData::parse(files(T, O, &C.replace("roads.surface", "road.surface"))).unwrap_err();
        assert!(e.message.contains("not a contract category"), "{e}");

        let e = ReferenceData::parse(files("[[territory]]\ncode = 5\n", O, C)).unwrap_err();
        assert_eq!(e.line, Some(2), "{e}");
    }

    #[test]
    fn cyclic_organisations_are_refused() {
        let cyc = format!(
            "{O}parent = \"b\"\n[[organisation]]\ncode = \"b\"\nname = \"B\"\nkind = \"agency\"\nterritory = \"lip\"\nparent = \"adm-yelets\"\n"
        );
        let e = ReferenceData::parse(files(T, &cyc, C)).unwrap_err();
        assert!(e.message.contains("own ancestor"), "{e}");
    }
}
