//! Labelled messages: the corpus format (JSON Lines) and operators' corrections, with partial labels.

use std::io::BufRead;

use serde::{Deserialize, Serialize};

use crate::NlpError;

/// One labelled message. Every label is optional so an operator's correction can carry only what
/// the operator changed (for example kind and category); each model learns from the examples that
/// carry its label and ignores the rest (see `train`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LabelledMessage {
    #[serde(default)]
    pub id: String,
    pub text: String,
    #[serde(default)]
    pub channel: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub style: Option<String>,
    /// `complaint` | `question` | `suggestion` | `gratitude` | `other`.
    #[serde(default)]
    pub kind: Option<String>,
    /// A contract category code, or `none` for non-incidents.
    #[serde(default)]
    pub category: Option<String>,
    /// Full region name, `""` when the message is about no region.
    #[serde(default)]
    pub region: Option<String>,
    /// Municipality short name, `""` when no place is named.
    #[serde(default)]
    pub territory: Option<String>,
    #[serde(default)]
    pub sentiment: Option<String>,
    #[serde(default)]
    pub urgent: Option<bool>,
}

impl LabelledMessage {
    /// True when the kind label says the message is an incident.
    pub fn is_incident(&self) -> Option<bool> {
        self.kind.as_deref().map(|k| k != "other")
    }
}

/// Reads a JSON Lines corpus; blank lines are skipped, a bad line is an error naming its number.
pub fn read_corpus(reader: impl BufRead) -> Result<Vec<LabelledMessage>, NlpError> {
    let mut out = Vec::new();
    for (i, line) in reader.lines().enumerate() {
        let line = line.map_err(|e| NlpError::Corpus { line: i + 1, message: e.to_string() })?;
        if line.trim().is_empty() {
            continue;
        }
        let m: LabelledMessage =
            serde_json::from_str(&line).map_err(|e| NlpError::Corpus { line: i + 1, message: e.to_string() })?;
        out.push(m);
    }
    Ok(out)
}
