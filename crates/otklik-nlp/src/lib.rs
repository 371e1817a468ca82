//! Russian text analysis for Otklik: whether a message is an incident, its kind, category,
//! territory, tonality and urgency — linear models over hashed n-grams plus a gazetteer.
//!
//! See `docs/nlp.md` for how it works, how to train and evaluate, and the measured figures.

pub mod corpus;
pub mod eval;
pub mod features;
pub mod gazetteer;
pub mod linear;
pub mod model;
pub mod normalize;
pub mod stream;

use otklik_core::model::{Channel, Classification, Confidence, Kind, Sentiment, Source};
use otklik_core::reference::ReferenceData;
use otklik_core::workflow::Classifier;
use serde::Serialize;

pub use corpus::{LabelledMessage, read_corpus};
pub use eval::{Report, evaluate};
pub use model::{Model, TrainConfig, train, train_with};
pub use stream::{ClassifyStats, classify_stream};

use features::Featuriser;
use gazetteer::Gazetteer;
use linear::{argmax, softmax};
use normalize::Normaliser;

/// The corpus files the shipped model is trained on, relative to the repository root, in order
/// (what `nlp_train` and the CLI's `otklik nlp train` read when no files are given).
pub const TRAINING_FILES: [&str; 6] = [
    "data/corpus/train-a.jsonl",
    "data/corpus/train-b.jsonl",
    "data/corpus/train-c.jsonl",
    "data/corpus/train-d.jsonl",
    "data/corpus/train-e.jsonl",
    "data/corpus/train-f.jsonl",
];

/// The model shipped in the repository.
pub const BUILTIN_MODEL: &[u8] = include_bytes!("../../../data/models/nlp-v1.bin");

/// Below this probability the urgency model does not flag a message.
const URGENT_THRESHOLD: f32 = 0.5;

/// Errors of the text analysis.
#[derive(Debug, thiserror::Error)]
pub enum NlpError {
    #[error("model artefact: {0}")]
    Model(&'static str),
    #[error("corpus line {line}: {message}")]
    Corpus { line: usize, message: String },
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// The analysis of one message, serialised as the `otklik classify` contract's fields.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Analysis {
    pub kind: Kind,
    /// A contract category code, `none` when `kind` is `other`.
    pub category: String,
    /// Full region name or `""`.
    pub region: String,
    /// First-level municipality short name or `""`.
    pub territory: String,
    pub sentiment: Sentiment,
    pub urgent: bool,
    pub confidence: Confidence,
    /// Code of the most specific territory found (settlement, municipality or region).
    #[serde(skip)]
    pub territory_code: Option<String>,
}

/// A loaded model with its gazetteer; shared between threads.
#[derive(Debug)]
pub struct Analyzer {
    norm: Normaliser,
    feat: Featuriser,
    model: Model,
    gazetteer: Gazetteer,
    /// The four models' weights interleaved per bucket (kind, category, sentiment, urgency), so
    /// one feature costs one memory fetch instead of four (the scoring loop is the hot spot).
    joint: Vec<f32>,
    joint_bias: Vec<f32>,
}

/// Column ranges of the models in the joint matrix.
const KIND: std::ops::Range<usize> = 0..5;
const CATEGORY: std::ops::Range<usize> = 5..20;
const SENTIMENT: std::ops::Range<usize> = 20..23;
const URGENT: std::ops::Range<usize> = 23..25;
const JOINT: usize = 25;

fn round2(x: f32) -> f32 {
    (x * 100.0).round() / 100.0
}

impl Analyzer {
    /// The model shipped in the repository and the reference data given.
    pub fn builtin(reference: &ReferenceData) -> Result<Self, NlpError> {
        Self::from_model_bytes(BUILTIN_MODEL, reference)
    }

    /// A model artefact (as written by `Model::to_bytes`) and the reference data given.
    pub fn from_model_bytes(bytes: &[u8], reference: &ReferenceData) -> Result<Self, NlpError> {
        Ok(Self::from_model(Model::from_bytes(bytes)?, reference))
    }

    /// An already loaded model.
    pub fn from_model(model: Model, reference: &ReferenceData) -> Self {
        let norm = Normaliser::new();
        let gazetteer = Gazetteer::new(reference, &norm);
        let buckets = 1usize << model.bits;
        let parts =
            [(&model.kind, KIND), (&model.category, CATEGORY), (&model.sentiment, SENTIMENT), (&model.urgent, URGENT)];
        let mut joint = vec![0.0f32; buckets * JOINT];
        let mut joint_bias = vec![0.0f32; JOINT];
        for (m, range) in parts {
            // `from_bytes` checked the class lists, so the widths match the ranges.
            let c = range.len();
            joint_bias[range.clone()].copy_from_slice(&m.bias);
            for b in 0..buckets {
                joint[b * JOINT + range.start..b * JOINT + range.end].copy_from_slice(&m.weights[b * c..b * c + c]);
            }
        }
        Analyzer { feat: Featuriser::new(model.bits), norm, model, gazetteer, joint, joint_bias }
    }

    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Analyses one message; `source` is a registered source key or a page name.
    pub fn analyze(&self, text: &str, channel: Option<&str>, source: Option<&str>) -> Analysis {
        self.analyze_inner(text, channel, source, None)
    }

    fn analyze_inner(
        &self,
        text: &str,
        channel: Option<&str>,
        source: Option<&str>,
        source_code: Option<&str>,
    ) -> Analysis {
        let n = self.norm.normalise(text);
        let source = source.filter(|s| !s.trim().is_empty());
        let src = source.map(|s| self.norm.normalise(s));
        let place = self.gazetteer.resolve(&n, source, src.as_ref(), source_code);
        let confidence_territory = round2(place.confidence);
        if n.letters == 0 || n.cyrillic_letters * 2 < n.letters {
            // No Russian words (empty, emoji only, another language): nothing to act on.
            return Analysis {
                kind: Kind::Other,
                category: "none".into(),
                region: place.region,
                territory: place.territory,
                sentiment: Sentiment::Neutral,
                urgent: false,
                confidence: Confidence { kind: 0.2, category: 0.2, territory: confidence_territory },
                territory_code: place.code,
            };
        }
        let feats = self.feat.extract(&n, channel, src.as_ref());
        let mut p = [0.0f32; JOINT];
        p.copy_from_slice(&self.joint_bias);
        for &(f, v) in &feats {
            let row = &self.joint[f as usize * JOINT..f as usize * JOINT + JOINT];
            for (o, w) in p.iter_mut().zip(row) {
                *o += w * v;
            }
        }
        for r in [KIND, CATEGORY, SENTIMENT, URGENT] {
            softmax(&mut p[r]);
        }
        let (ki, kconf) = argmax(&p[KIND]);
        let kind = Kind::parse(&self.model.kind.classes[ki]).unwrap_or(Kind::Other);
        let (category, cconf, urgent) = if kind == Kind::Other {
            ("none".to_string(), kconf, false)
        } else {
            let (ci, cconf) = argmax(&p[CATEGORY]);
            let category = self.model.category.classes[ci].clone();
            (category, cconf, p[URGENT][1] >= URGENT_THRESHOLD)
        };
        let (si, _) = argmax(&p[SENTIMENT]);
        let sentiment = Sentiment::parse(&self.model.sentiment.classes[si]).unwrap_or(Sentiment::Neutral);
        Analysis {
            kind,
            category,
            region: place.region,
            territory: place.territory,
            sentiment,
            urgent,
            confidence: Confidence { kind: round2(kconf), category: round2(cconf), territory: confidence_territory },
            territory_code: place.code,
        }
    }
}

impl Classifier for Analyzer {
    fn classify(&self, text: &str, channel: Channel, source: Option<&Source>) -> Classification {
        let a = self.analyze_inner(
            text,
            Some(channel.as_str()),
            source.map(|s| s.name.as_str()),
            source.and_then(|s| s.territory.as_deref()),
        );
        Classification {
            kind: Some(a.kind),
            category: (a.kind != Kind::Other).then_some(a.category),
            territory: a.territory_code,
            sentiment: Some(a.sentiment),
            urgent: a.urgent,
            confidence: Some(a.confidence),
        }
    }
}
