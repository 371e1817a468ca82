//! Territory resolution: a gazetteer of regions, municipalities, settlements, neighbourhoods and
//! metro stations from the reference data, matched on Snowball stems, with equal names told apart
//! by the other places named and by the source page, and the source as the fallback.

use std::collections::HashMap;

use otklik_core::model::TerritoryLevel;
use otklik_core::reference::ReferenceData;

use crate::normalize::{Normalised, Normaliser, Token, TokenKind};

/// How much surface evidence a name needs before it counts as a place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Strength {
    /// A single adjective («Мирный», «Ладожская», «Доброе»): a capital inside a sentence or a
    /// marker word before it («метро», «село»…), and a region consistent with the context.
    Adjective,
    /// A single noun of a settlement or neighbourhood («Грязи», «Купчино»): a capital letter or a
    /// marker, and a region consistent with the context.
    Proper,
    /// A municipality's own city, a region, or a name of several words: matched in any case.
    Strong,
}

/// A place the gazetteer can name.
#[derive(Debug, Clone)]
struct Place {
    code: String,
    level: TerritoryLevel,
    /// Index of the region.
    region: usize,
    /// Index of the first-level municipality (None for a region).
    municipality: Option<usize>,
    /// Short name (`город Елец`, `Фрунзенский`, `Липецкая область`).
    name: String,
}

#[derive(Debug, Clone)]
struct Entry {
    stems: Vec<String>,
    /// Places named so, each with the evidence its name needs.
    places: Vec<(usize, Strength)>,
}

/// Words that announce a place name right after them.
const MARKERS: &[&str] = &[
    "село",
    "с",
    "деревня",
    "деревне",
    "деревни",
    "д",
    "поселок",
    "поселке",
    "поселка",
    "пос",
    "п",
    "пгт",
    "станица",
    "станице",
    "станицы",
    "ст",
    "ст-ца",
    "хутор",
    "хуторе",
    "х",
    "метро",
    "м",
    "станция",
    "станции",
    "город",
    "городе",
    "города",
    "г",
    "мкр",
    "микрорайон",
    "микрорайоне",
    "район",
    "районе",
    "села",
    "селе",
    "aул",
];

/// Stems of the words of official municipality names after the adjective («муниципальный округ»).
const HEAD_WORDS: &[&str] = &["муниципальн", "городск", "округ", "район"];

/// Nouns that make an adjective next to them a street or a thing, not a place
/// («Московский проспект», «Архангельское шоссе», «Пушкинская карта»).
const STREET_AFTER: &[&str] = &[
    "шоссе",
    "проспект",
    "бульвар",
    "мост",
    "набережн",
    "тракт",
    "трасс",
    "спуск",
    "карт",
    "проезд",
    "переулок",
    "площад",
];
/// Street words before a name («улица Садовая», «пр. Ленинский»).
const STREET_BEFORE: &[&str] =
    &["ул", "улиц", "проспект", "пр", "пр-т", "бульвар", "переулок", "пер", "проезд", "шоссе", "площад", "набережн"];

/// Adjective endings of a word's surface form.
fn adjective_surface(word: &str) -> bool {
    ["ий", "ый", "ой", "ая", "ое", "ые", "ого", "ому", "ую", "ых", "ими", "ыми", "ом", "ей", "их", "им", "ым"]
        .iter()
        .any(|e| word.ends_with(e))
}

/// Where a resolved territory came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Text,
    Source,
    None,
}

/// The resolved territory of a message.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// Full region name, `""` when unknown.
    pub region: String,
    /// Municipality short name, `""` when no municipality.
    pub territory: String,
    /// Code of the most specific place (settlement or municipality, or region when only that).
    pub code: Option<String>,
    pub confidence: f32,
    pub origin: Origin,
}

impl Resolved {
    fn empty() -> Self {
        Resolved { region: String::new(), territory: String::new(), code: None, confidence: 0.0, origin: Origin::None }
    }
}

/// One name found in a text.
#[derive(Debug, Clone)]
struct Mention {
    places: Vec<usize>,
    strength: Strength,
}

/// The gazetteer built from reference data.
#[derive(Debug, Clone)]
pub struct Gazetteer {
    places: Vec<Place>,
    by_code: HashMap<String, usize>,
    index: HashMap<String, Vec<Entry>>,
    /// Registered sources by key and by lower-cased name.
    sources: HashMap<String, usize>,
    /// Санкт-Петербург, preferred when a name is ambiguous and nothing else decides (it holds
    /// most of the population among equal names).
    spb: Option<usize>,
    /// Stems of settlement type words found in one region only («станица» → Краснодарский край).
    type_regions: HashMap<String, usize>,
}

fn is_adjective(word: &str) -> bool {
    ["ий", "ый", "ой", "ая", "ое", "ые", "яя", "ее"].iter().any(|e| word.ends_with(e))
}

/// Stems of a phrase, as the text side computes them.
fn phrase(norm: &Normaliser, text: &str) -> Vec<Token> {
    norm.normalise(text).tokens.into_iter().filter(|t| t.kind == TokenKind::Word).collect()
}

/// The oblique stems of a noun with a fleeting vowel (Елец → Ельца, Городок → Городка), which
/// the Snowball stemmer leaves apart.
fn fleeting_variants(stem: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (suffix, tail) in [("ец", "ц"), ("ек", "к"), ("ок", "к")] {
        if let Some(base) = stem.strip_suffix(suffix)
            && base.chars().count() >= 2
        {
            out.push(format!("{base}{tail}"));
            out.push(format!("{base}ь{tail}"));
        }
    }
    out
}

impl Gazetteer {
    pub fn new(reference: &ReferenceData, norm: &Normaliser) -> Self {
        let mut g = Gazetteer {
            places: Vec::new(),
            by_code: HashMap::new(),
            index: HashMap::new(),
            sources: HashMap::new(),
            spb: None,
            type_regions: HashMap::new(),
        };
        let ts = &reference.territories;
        let pos: HashMap<&str, usize> = ts.iter().enumerate().map(|(i, t)| (t.code.as_str(), i)).collect();
        // Walk up to the region and the first-level municipality of each territory.
        for t in ts {
            let mut region = None;
            let mut municipality = None;
            let mut cur = Some(t);
            let mut hops = 0;
            while let Some(c) = cur
                && hops < 8
            {
                match c.level {
                    TerritoryLevel::Region => region = pos.get(c.code.as_str()).copied(),
                    TerritoryLevel::Municipality => municipality = pos.get(c.code.as_str()).copied(),
                    TerritoryLevel::Settlement => {}
                }
                cur = c.parent.as_deref().and_then(|p| pos.get(p)).map(|&i| &ts[i]);
                hops += 1;
            }
            g.places.push(Place {
                code: t.code.clone(),
                level: t.level,
                region: region.unwrap_or(usize::MAX),
                municipality,
                name: t.name.clone(),
            });
        }
        for (i, p) in g.places.iter().enumerate() {
            g.by_code.insert(p.code.clone(), i);
        }
        g.spb = g.by_code.get("spb").copied();

        for (i, t) in ts.iter().enumerate() {
            if g.places[i].region == usize::MAX {
                continue;
            }
            // The name without its leading lower-case type words («город-курорт Сочи» → «Сочи»).
            let core: Vec<&str> =
                t.name.split_whitespace().skip_while(|w| w.chars().next().is_some_and(char::is_lowercase)).collect();
            let core = core.join(" ");
            let mut names: Vec<(String, bool)> = vec![];
            if !core.is_empty() {
                names.push((core.clone(), true));
            }
            for a in &t.aliases {
                names.push((a.clone(), false));
            }
            for (name, is_core) in names {
                let toks = phrase(norm, &name);
                if toks.is_empty() {
                    continue;
                }
                let stems: Vec<String> = toks.iter().map(|t| t.stem.clone()).collect();
                let single = toks.len() == 1;
                let adjective = is_adjective(&toks[toks.len() - 1].norm);
                if single && adjective {
                    if t.level == TerritoryLevel::Municipality && is_core {
                        // A district named by an adjective is named with its head noun: «район»
                        // colloquially, and the words of its official name («муниципальный округ»).
                        let official: Vec<String> = phrase(norm, &t.full_name).into_iter().map(|t| t.stem).collect();
                        let after: Vec<String> =
                            official.iter().skip(1).take_while(|w| HEAD_WORDS.contains(&w.as_str())).cloned().collect();
                        let mut heads: Vec<Vec<String>> =
                            vec![vec!["район".into()], vec!["р-н".into()], vec!["рн".into()]];
                        if !after.is_empty() {
                            heads.push(after.clone());
                            heads.push(vec![after[after.len() - 1].clone()]);
                        }
                        for head in heads {
                            let mut s = stems.clone();
                            s.extend(head);
                            g.add(s, i, Strength::Strong);
                        }
                    }
                    g.add(stems, i, Strength::Adjective);
                    continue;
                }
                // Several words, a region, or a city that is a municipality of its own: any case.
                let city = t.level == TerritoryLevel::Municipality && t.name.starts_with("город");
                let strength = if !single || t.level == TerritoryLevel::Region || city {
                    Strength::Strong
                } else {
                    Strength::Proper
                };
                if !adjective {
                    let last = stems.len() - 1;
                    for v in fleeting_variants(&stems[last]) {
                        let mut s = stems.clone();
                        s[last] = v;
                        g.add(s, i, strength);
                    }
                }
                g.add(stems, i, strength);
            }
            if t.level == TerritoryLevel::Region {
                // «Липецкая область», «Краснодарский край» also as «обл.», and the full name.
                g.add_phrase(norm, &t.full_name, i, Strength::Strong);
            }
        }
        // Settlement type words («станица», «хутор») that occur in one region only point to it.
        let mut types: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, t) in ts.iter().enumerate() {
            if t.level != TerritoryLevel::Settlement || g.places[i].region == usize::MAX {
                continue;
            }
            if let Some(w) =
                t.name.split_whitespace().next().filter(|w| w.chars().next().is_some_and(char::is_lowercase))
            {
                let r = types.entry(norm.stem(&w.to_lowercase())).or_default();
                if !r.contains(&g.places[i].region) {
                    r.push(g.places[i].region);
                }
            }
        }
        g.type_regions = types.into_iter().filter(|(_, r)| r.len() == 1).map(|(k, r)| (k, r[0])).collect();
        for s in &reference.sources {
            if let Some(&i) = s.territory.as_deref().and_then(|c| g.by_code.get(c)) {
                g.sources.insert(s.key.to_lowercase(), i);
                g.sources.insert(s.name.to_lowercase(), i);
            }
        }
        g
    }

    fn add_phrase(&mut self, norm: &Normaliser, name: &str, place: usize, strength: Strength) {
        let stems: Vec<String> = phrase(norm, name).into_iter().map(|t| t.stem).collect();
        if !stems.is_empty() {
            self.add(stems, place, strength);
        }
    }

    fn add(&mut self, stems: Vec<String>, place: usize, strength: Strength) {
        let bucket = self.index.entry(stems[0].clone()).or_default();
        if let Some(e) = bucket.iter_mut().find(|e| e.stems == stems) {
            match e.places.iter_mut().find(|(p, _)| *p == place) {
                Some((_, s)) => *s = (*s).max(strength),
                None => e.places.push((place, strength)),
            }
            return;
        }
        bucket.push(Entry { stems, places: vec![(place, strength)] });
        // Longest phrases first, so the first match at a position is the longest.
        bucket.sort_by_key(|e| std::cmp::Reverse(e.stems.len()));
    }

    /// The code of a place's municipality, for callers holding a settlement code.
    pub fn municipality_of(&self, code: &str) -> Option<&str> {
        let p = &self.places[*self.by_code.get(code)?];
        p.municipality.map(|m| self.places[m].code.as_str())
    }

    /// Names found in words, with their surface checks applied.
    fn mentions(&self, words: &[&Token], relaxed: bool) -> Vec<Mention> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < words.len() {
            let mut matched = 0;
            if let Some(bucket) = self.index.get(&words[i].stem) {
                for e in bucket {
                    let n = e.stems.len();
                    if i + n > words.len() || !e.stems.iter().zip(&words[i..i + n]).all(|(s, w)| *s == w.stem) {
                        continue;
                    }
                    let w = words[i];
                    let marked = i > 0 && MARKERS.contains(&words[i - 1].norm.as_str());
                    let passes = |strength: Strength| {
                        relaxed
                            || match strength {
                                Strength::Strong => true,
                                Strength::Proper => w.capitalised || marked,
                                Strength::Adjective => (w.capitalised && !w.sentence_start) || marked,
                            }
                    };
                    // A one-word name used as an adjective of a street («на Московском проспекте»)
                    // is the street, not the place.
                    let street = words.get(i + n).is_some_and(|w| STREET_AFTER.contains(&w.stem.as_str()))
                        || (i > 0 && STREET_BEFORE.contains(&words[i - 1].stem.as_str()));
                    if n == 1 && !relaxed && adjective_surface(&w.norm) && street {
                        continue;
                    }
                    // Of equal names, the ones with the strongest evidence (a city over a village
                    // whose name stems the same).
                    let Some(best) = e.places.iter().filter(|(_, s)| passes(*s)).map(|(_, s)| *s).max() else {
                        continue;
                    };
                    let places = e.places.iter().filter(|(_, s)| *s == best).map(|(p, _)| *p).collect();
                    out.push(Mention { places, strength: best });
                    matched = n;
                    break;
                }
            }
            i += matched.max(1);
        }
        out
    }

    /// The territory a source page speaks for: a registered source, or the places in its name.
    fn source_place(&self, source: &str) -> Option<(usize, f32)> {
        let key = source.trim().to_lowercase();
        if key.is_empty() {
            return None;
        }
        if let Some(&i) = self.sources.get(&key) {
            return Some((i, 0.9));
        }
        None
    }

    fn source_from_name(&self, source: &Normalised) -> Option<(usize, f32)> {
        let words: Vec<&Token> = source.words().collect();
        let mentions = self.mentions(&words, true);
        let regions: Vec<usize> =
            mentions.iter().filter(|m| m.places.len() == 1).map(|m| self.places[m.places[0]].region).collect();
        // The most specific place wins: «Администрация Невского района Санкт-Петербурга» → Невский.
        let mut best: Option<(usize, u8)> = None;
        for m in &mentions {
            let mut cands: Vec<usize> = if m.places.len() > 1 && !regions.is_empty() {
                m.places.iter().copied().filter(|&p| regions.contains(&self.places[p].region)).collect()
            } else {
                m.places.clone()
            };
            // Equal names of different municipalities and no region to tell them apart: no guess.
            let municipalities = |c: &[usize]| {
                let first = c.first().map(|&p| self.places[p].municipality);
                c.iter().any(|&p| Some(self.places[p].municipality) != first)
            };
            if municipalities(&cands) {
                cands.clear();
            }
            let Some(&p) = cands.first() else { continue };
            let rank = match self.places[p].level {
                TerritoryLevel::Region => 1,
                _ => 2,
            };
            if best.is_none_or(|(_, r)| rank > r) {
                best = Some((p, rank));
            }
        }
        best.map(|(p, _)| (p, 0.75))
    }

    /// Resolves the territory of a message from its words, then from its source.
    ///
    /// `source_name` is a registered source key or a page name, `source_words` the same normalised,
    /// `source_code` the territory of a registered source when the caller has it.
    pub fn resolve(
        &self,
        text: &Normalised,
        source_name: Option<&str>,
        source_words: Option<&Normalised>,
        source_code: Option<&str>,
    ) -> Resolved {
        let src = source_code
            .and_then(|c| self.by_code.get(c).map(|&i| (i, 0.9)))
            .or_else(|| source_name.and_then(|s| self.source_place(s)))
            .or_else(|| source_words.and_then(|s| self.source_from_name(s)));
        let words: Vec<&Token> = text.words().collect();
        let mentions = self.mentions(&words, false);

        // Regions the message is anchored in: the source's, and those of unambiguous strong names.
        let mut context: Vec<usize> = Vec::new();
        if let Some((p, _)) = src {
            context.push(self.places[p].region);
        }
        for m in &mentions {
            let r = self.places[m.places[0]].region;
            if m.strength == Strength::Strong && m.places.iter().all(|&p| self.places[p].region == r) {
                context.push(r);
            }
        }
        for w in &words {
            if let Some(&r) = self.type_regions.get(&w.stem) {
                context.push(r);
            }
        }
        let metro = words.iter().any(|w| w.norm == "метро" || w.norm == "спб" || w.norm == "питер");

        let mut region_only: Option<(usize, f32)> = None;
        for m in &mentions {
            let in_context: Vec<usize> =
                m.places.iter().copied().filter(|&p| context.contains(&self.places[p].region)).collect();
            let (cands, ambiguous) = if !in_context.is_empty() {
                (in_context, false)
            } else if !context.is_empty() && m.strength != Strength::Strong {
                // A weak name from another region than everything else is a coincidence.
                continue;
            } else {
                let first = self.places[m.places[0]].municipality;
                let several = m.places.iter().any(|&p| self.places[p].municipality != first);
                let spb: Vec<usize> =
                    m.places.iter().copied().filter(|&p| Some(self.places[p].region) == self.spb).collect();
                if !spb.is_empty() && (metro || several) {
                    (spb, !metro && several)
                } else {
                    (m.places.clone(), several)
                }
            };
            let p = cands[0];
            let place = &self.places[p];
            if place.level == TerritoryLevel::Region {
                if region_only.is_none() {
                    region_only = Some((p, 0.7));
                }
                continue;
            }
            let confidence = match (ambiguous, m.strength) {
                (true, _) => 0.5,
                (false, Strength::Strong) => 0.95,
                (false, Strength::Proper) => 0.85,
                (false, Strength::Adjective) => 0.75,
            };
            return self.resolved(p, confidence, Origin::Text);
        }
        if let Some((r, conf)) = region_only {
            // The text names only a region: keep the source's municipality when it lies in it.
            if let Some((sp, sconf)) = src
                && self.places[sp].region == r
                && self.places[sp].level != TerritoryLevel::Region
            {
                return self.resolved(sp, sconf.min(conf), Origin::Source);
            }
            return self.resolved(r, conf, Origin::Text);
        }
        match src {
            Some((p, conf)) => self.resolved(p, conf, Origin::Source),
            None => Resolved::empty(),
        }
    }

    fn resolved(&self, p: usize, confidence: f32, origin: Origin) -> Resolved {
        let place = &self.places[p];
        let region = self.places.get(place.region).map(|r| r.name.clone()).unwrap_or_default();
        let territory = place.municipality.map(|m| self.places[m].name.clone()).unwrap_or_default();
        Resolved { region, territory, code: Some(place.code.clone()), confidence, origin }
    }
}
