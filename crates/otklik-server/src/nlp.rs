//! The text-analysis commands (`otklik classify`, `otklik nlp train`, `otklik nlp eval`) and the
//! analyzer intake uses.

use std::io::{BufReader, Write};
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use otklik_core::Store;
use otklik_core::access::Hierarchy;
use otklik_core::model::{Correction, TerritoryLevel};
use otklik_core::reference::ReferenceData;
use otklik_nlp::{Analyzer, LabelledMessage};

/// The analyzer from a model file, or the model built into the binary.
pub fn analyzer(model: Option<&Path>, reference: &ReferenceData) -> anyhow::Result<Arc<Analyzer>> {
    let a = match model {
        Some(p) => {
            let bytes = std::fs::read(p).with_context(|| format!("cannot read the model {}", p.display()))?;
            Analyzer::from_model_bytes(&bytes, reference).with_context(|| format!("bad model {}", p.display()))?
        }
        None => Analyzer::builtin(reference)?,
    };
    Ok(Arc::new(a))
}

/// `otklik classify`: JSON Lines in, JSON Lines out, per the contract.
pub fn classify(analyzer: &Analyzer) -> anyhow::Result<()> {
    let stdin = std::io::stdin().lock();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    otklik_nlp::classify_stream(stdin, &mut out, analyzer)?;
    out.flush()?;
    Ok(())
}

fn read_files(files: &[std::path::PathBuf]) -> anyhow::Result<Vec<LabelledMessage>> {
    let mut examples = vec![];
    for f in files {
        let file = std::fs::File::open(f).with_context(|| format!("cannot open {}", f.display()))?;
        examples.extend(otklik_nlp::read_corpus(BufReader::new(file)).with_context(|| format!("{}", f.display()))?);
    }
    Ok(examples)
}

/// An operator's correction as a (partially) labelled training example.
pub fn correction_example(c: &Correction, h: &Hierarchy) -> LabelledMessage {
    let (region, municipality) = match &c.territory {
        Some(t) => h.region_and_municipality(t),
        None => (None, None),
    };
    let name = |code: Option<String>| code.and_then(|c| h.territory(&c).map(|t| t.name.clone()));
    let is_other = c.kind == Some(otklik_core::model::Kind::Other);
    LabelledMessage {
        id: format!("correction-{}", c.incident_id),
        text: c.text.clone(),
        channel: Some(c.channel.as_str().to_string()),
        source: Some(c.source.clone()),
        style: None,
        kind: c.kind.map(|k| k.as_str().to_string()),
        category: if is_other {
            Some("none".into())
        } else {
            c.category.as_deref().map(|x| x.split('.').next().unwrap_or(x).to_string())
        },
        region: c.territory.as_ref().map(|_| name(region).unwrap_or_default()),
        territory: c.territory.as_ref().map(|_| {
            name(municipality.filter(|m| h.territory(m).is_some_and(|t| t.level == TerritoryLevel::Municipality)))
                .unwrap_or_default()
        }),
        sentiment: None,
        urgent: None,
    }
}

/// `otklik nlp train`: trains on corpus files (and the operators' corrections) and writes the model.
pub async fn train(
    files: &[std::path::PathBuf],
    corrections: Option<Arc<dyn Store>>,
    reference: &ReferenceData,
    seed: u64,
    out: &Path,
) -> anyhow::Result<String> {
    let mut examples = read_files(files)?;
    let corpus = examples.len();
    let mut corrected = 0;
    if let Some(store) = corrections {
        let h = Hierarchy::new(&reference.territories, &reference.organisations);
        let list = store.corrections().await?;
        corrected = list.len();
        examples.extend(list.iter().map(|c| correction_example(c, &h)));
    }
    anyhow::ensure!(!examples.is_empty(), "no training examples");
    let model = otklik_nlp::train(&examples, seed);
    let bytes = model.to_bytes();
    std::fs::write(out, &bytes).with_context(|| format!("cannot write {}", out.display()))?;
    Ok(format!(
        "trained on {corpus} corpus examples and {corrected} corrections (seed {seed}); wrote {} bytes to {}",
        bytes.len(),
        out.display()
    ))
}

/// `otklik nlp eval`: the quality report on a labelled file.
pub fn eval(analyzer: &Analyzer, data: &Path) -> anyhow::Result<String> {
    let examples = read_files(&[data.to_path_buf()])?;
    anyhow::ensure!(!examples.is_empty(), "{} has no examples", data.display());
    Ok(otklik_nlp::evaluate(analyzer, &examples).to_string())
}
