//! The `otklik classify` filter: JSON Lines in, exactly one JSON line out per input line, in order.
//!
//! Blank lines (empty or whitespace only) are input lines too: each gives
//! `{"id": null, "error": "empty line"}`, so line N of the output always answers line N of the input.
//! A line that is not UTF-8, not JSON, not an object, or lacks a string `text` gives
//! `{"id": <id if it could be read, else null>, "error": "<reason>"}` and the run goes on.

use std::io::{BufRead, Write};

use serde::Serialize;
use serde_json::Value;

use crate::{Analysis, Analyzer};

/// Counts of one run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClassifyStats {
    /// Input lines read (each produced one output line).
    pub lines: u64,
    /// Lines classified.
    pub classified: u64,
    /// Lines answered with an error.
    pub errors: u64,
}

#[derive(Serialize)]
struct Classified<'a> {
    id: &'a Value,
    #[serde(flatten)]
    analysis: &'a Analysis,
}

#[derive(Serialize)]
struct Failed<'a> {
    id: &'a Value,
    error: &'a str,
}

/// Reads one input line and classifies it, or says why it cannot.
fn classify_line(line: &[u8], analyzer: &Analyzer) -> Result<(Value, Analysis), (Value, String)> {
    let text = std::str::from_utf8(line).map_err(|_| (Value::Null, "line is not valid UTF-8".to_string()))?;
    if text.trim().is_empty() {
        return Err((Value::Null, "empty line".into()));
    }
    let v: Value = serde_json::from_str(text).map_err(|e| (Value::Null, format!("invalid JSON: {e}")))?;
    let Value::Object(obj) = v else {
        return Err((Value::Null, "expected a JSON object".into()));
    };
    let id = obj.get("id").cloned().unwrap_or(Value::Null);
    let opt_str = |key: &str| -> Result<Option<&str>, (Value, String)> {
        match obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err((id.clone(), format!("`{key}` must be a string"))),
        }
    };
    let Some(msg) = opt_str("text")? else {
        return Err((id, "missing `text`".into()));
    };
    let channel = opt_str("channel")?;
    let source = opt_str("source")?;
    let analysis = analyzer.analyze(msg, channel, source);
    Ok((id, analysis))
}

/// Runs the `otklik classify` contract over a reader and a writer.
pub fn classify_stream(
    mut input: impl BufRead,
    mut output: impl Write,
    analyzer: &Analyzer,
) -> std::io::Result<ClassifyStats> {
    let mut stats = ClassifyStats::default();
    let mut line = Vec::with_capacity(4096);
    let mut out = Vec::with_capacity(512);
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        while matches!(line.last(), Some(b'\n' | b'\r')) {
            line.pop();
        }
        stats.lines += 1;
        out.clear();
        match classify_line(&line, analyzer) {
            Ok((id, analysis)) => {
                stats.classified += 1;
                serde_json::to_writer(&mut out, &Classified { id: &id, analysis: &analysis })?;
            }
            Err((id, error)) => {
                stats.errors += 1;
                serde_json::to_writer(&mut out, &Failed { id: &id, error: &error })?;
            }
        }
        out.push(b'\n');
        output.write_all(&out)?;
    }
    output.flush()?;
    Ok(stats)
}
