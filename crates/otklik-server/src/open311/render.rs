//! One document model rendered as GeoReport JSON or XML, and the spec's error responses.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The response format, chosen by the extension of the requested file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Xml,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json; charset=utf-8",
            Format::Xml => "text/xml; charset=utf-8",
        }
    }
}

/// Splits `name.ext` into the name and its format. A missing or unknown extension is an error
/// answered in XML, the format the specification makes mandatory.
pub fn split_file(file: &str) -> Result<(&str, Format), Failure> {
    let bad = || {
        Failure::new(
            Format::Xml,
            StatusCode::BAD_REQUEST,
            "unknown or missing format: append .json or .xml to the resource, e.g. services.json",
        )
    };
    let (name, ext) = file.rsplit_once('.').ok_or_else(bad)?;
    let format = match ext {
        "json" => Format::Json,
        "xml" => Format::Xml,
        _ => return Err(bad()),
    };
    Ok((name, format))
}

/// A value that renders the same way in both formats: objects keep their field order, lists name
/// their XML item element.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// JSON: an array; XML: one child element per item, named by the first field.
    List(&'static str, Vec<Val>),
    Obj(Vec<(&'static str, Val)>),
}

impl Val {
    pub fn str(s: impl Into<String>) -> Val {
        Val::Str(s.into())
    }

    pub fn opt_str(s: Option<impl Into<String>>) -> Val {
        s.map(|s| Val::Str(s.into())).unwrap_or(Val::Null)
    }

    pub fn opt_float(f: Option<f64>) -> Val {
        f.filter(|f| f.is_finite()).map(Val::Float).unwrap_or(Val::Null)
    }

    fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Val::Null => J::Null,
            Val::Bool(b) => J::Bool(*b),
            Val::Int(i) => J::from(*i),
            Val::Float(f) => serde_json::Number::from_f64(*f).map(J::Number).unwrap_or(J::Null),
            Val::Str(s) => J::String(s.clone()),
            Val::List(_, items) => J::Array(items.iter().map(Val::to_json).collect()),
            Val::Obj(fields) => J::Object(fields.iter().map(|(k, v)| ((*k).to_string(), v.to_json())).collect()),
        }
    }

    fn write_xml(&self, name: &str, out: &mut String) {
        match self {
            Val::Null => {
                out.push('<');
                out.push_str(name);
                out.push_str("/>");
            }
            Val::Bool(b) => element(name, if *b { "true" } else { "false" }, out),
            Val::Int(i) => element(name, &i.to_string(), out),
            Val::Float(f) => element(name, &f.to_string(), out),
            Val::Str(s) => element(name, s, out),
            Val::List(item, items) => {
                out.push('<');
                out.push_str(name);
                out.push('>');
                for v in items {
                    v.write_xml(item, out);
                }
                out.push_str("</");
                out.push_str(name);
                out.push('>');
            }
            Val::Obj(fields) => {
                out.push('<');
                out.push_str(name);
                out.push('>');
                for (k, v) in fields {
                    v.write_xml(k, out);
                }
                out.push_str("</");
                out.push_str(name);
                out.push('>');
            }
        }
    }
}

fn element(name: &str, text: &str, out: &mut String) {
    out.push('<');
    out.push_str(name);
    out.push('>');
    escape_into(text, out);
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

/// Escapes text for an XML element and drops characters XML 1.0 cannot carry at all (control
/// characters other than tab and line breaks, U+FFFE, U+FFFF), so citizen text can never make the
/// document ill-formed.
pub fn escape_into(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
}

/// Renders `val` as a whole document; `root` names the XML root element (JSON has none).
pub fn render(format: Format, status: StatusCode, root: &str, val: &Val) -> Response {
    let body = match format {
        Format::Json => val.to_json().to_string(),
        Format::Xml => {
            let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
            val.write_xml(root, &mut out);
            out.push('\n');
            out
        }
    };
    (status, [(header::CONTENT_TYPE, format.content_type())], body).into_response()
}

/// An error answered in the specification's shape: a list of `{code, description}`.
#[derive(Debug, Clone)]
pub struct Failure {
    pub format: Format,
    pub status: StatusCode,
    pub description: String,
}

impl Failure {
    pub fn new(format: Format, status: StatusCode, description: impl Into<String>) -> Self {
        Failure { format, status, description: description.into() }
    }

    pub fn bad_request(format: Format, description: impl Into<String>) -> Self {
        Self::new(format, StatusCode::BAD_REQUEST, description)
    }

    pub fn not_found(format: Format, description: impl Into<String>) -> Self {
        Self::new(format, StatusCode::NOT_FOUND, description)
    }

    /// A failure of ours: logged here, answered without internals.
    pub fn internal(format: Format, error: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %error, "open311 request failed");
        Self::new(format, StatusCode::INTERNAL_SERVER_ERROR, "internal error; it has been logged")
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let error = Val::Obj(vec![
            ("code", Val::Int(i64::from(self.status.as_u16()))),
            ("description", Val::Str(self.description)),
        ]);
        render(self.format, self.status, "errors", &Val::List("error", vec![error]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_escapes_markup_and_drops_forbidden_characters() {
        let mut out = String::new();
        escape_into("<script>a & 'b' \"c\"\u{1}\u{FFFF}\nд</script>", &mut out);
        assert_eq!(out, "&lt;script&gt;a &amp; &apos;b&apos; &quot;c&quot;\nд&lt;/script&gt;");
    }

    #[test]
    fn lists_and_nulls_render_in_both_formats() {
        let v = Val::List(
            "request",
            vec![Val::Obj(vec![("id", Val::str("7")), ("lat", Val::Float(52.5)), ("account_id", Val::Null)])],
        );
        let mut xml = String::new();
        v.write_xml("service_requests", &mut xml);
        assert_eq!(
            xml,
            "<service_requests><request><id>7</id><lat>52.5</lat><account_id/></request></service_requests>"
        );
        assert_eq!(v.to_json(), serde_json::json!([{"id": "7", "lat": 52.5, "account_id": null}]));
    }

    #[test]
    fn files_name_their_format() {
        assert_eq!(split_file("roads.surface.json").unwrap(), ("roads.surface", Format::Json));
        assert_eq!(split_file("services.xml").unwrap(), ("services", Format::Xml));
        assert!(split_file("services.html").is_err());
        assert!(split_file("services").is_err());
    }
}
