//! Open311 GeoReport v2 at `/open311/v2/`: discovery, services and service requests, in JSON and XML.
//!
//! The format is the extension of the requested file (`services.json`, `requests/12.xml`). Reads
//! are public and show only incidents that came through a public-tracking channel (Open311, the
//! web form), without author data; writes need an `api_key` from the configuration. Details and
//! mapping tables: `docs/open311.md`.

mod render;
mod services;
mod view;

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::rejection::{FormRejection, PathRejection, QueryRejection};
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use otklik_core::DomainError;
use otklik_core::access::ScopeFilter;
use otklik_core::model::{Attachment, Author, Channel, Id, Incident, IncidentDetail, NewMessage};
use otklik_core::status::Status;
use otklik_core::store::{Cursor, IncidentQuery, SortKey};
use otklik_core::workflow::IntakeHints;
use sha2::{Digest, Sha256};

use crate::app::AppState;
use render::{Failure, Format, Val, render, split_file};

/// When this API's shape last changed (discovery's `changeset`).
const CHANGESET: &str = "2026-03-02T00:00:00Z";
const SPECIFICATION: &str = "http://wiki.open311.org/GeoReport_v2";
/// The specification's default window and size of a request list.
const MAX_SPAN_DAYS: i64 = 90;
const MAX_RESULTS: usize = 1000;
/// How many incidents the update feed reads at most to answer one query.
const MAX_UPDATE_SCAN: usize = 5000;
/// Bounds of what a client may submit.
const MAX_DESCRIPTION: usize = 4000;
const MAX_ADDRESS: usize = 1000;
const MAX_SHORT: usize = 256;
/// Fields that become the author's id (with a prefix, under intake's 256-character limit).
const MAX_ID: usize = 200;
const MAX_URL: usize = 2048;
const MAX_ATTRIBUTES: usize = 50;
const MAX_IDS: usize = 200;
const MAX_CODES: usize = 50;

/// The Open311 routes, merged into the application router.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/open311/v2/{file}", get(get_resource).post(post_resource))
        .route("/open311/v2/services/{file}", get(get_service_definition))
        .route("/open311/v2/requests/{file}", get(get_one_request))
}

type Outcome = Result<Response, Failure>;

/// Query or form fields in order; empty values count as absent, as clients send blank fields.
#[derive(Debug, Default)]
struct Params(Vec<(String, String)>);

impl Params {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, v)| k == key && !v.trim().is_empty()).map(|(_, v)| v.trim())
    }
}

fn query_params(format: Format, q: Result<Query<Vec<(String, String)>>, QueryRejection>) -> Result<Params, Failure> {
    q.map(|Query(p)| Params(p)).map_err(|e| Failure::bad_request(format, format!("invalid query: {}", e.body_text())))
}

fn path_file(p: Result<Path<String>, PathRejection>) -> Result<String, Failure> {
    p.map(|Path(f)| f).map_err(|e| Failure::bad_request(Format::Xml, format!("invalid path: {}", e.body_text())))
}

/// A server serves one jurisdiction when one is configured: another is not found here.
fn check_jurisdiction(state: &AppState, format: Format, params: &Params) -> Result<(), Failure> {
    match (&state.settings.open311.jurisdiction_id, params.get("jurisdiction_id")) {
        (Some(ours), Some(asked)) if ours != asked => {
            Err(Failure::not_found(format, format!("jurisdiction_id `{asked}` was not found")))
        }
        _ => Ok(()),
    }
}

fn respond(outcome: Outcome) -> Response {
    outcome.unwrap_or_else(IntoResponse::into_response)
}

async fn get_resource(
    State(state): State<AppState>,
    headers: HeaderMap,
    file: Result<Path<String>, PathRejection>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Response {
    respond(
        async {
            let file = path_file(file)?;
            let (name, format) = split_file(&file)?;
            let params = query_params(format, query)?;
            check_jurisdiction(&state, format, &params)?;
            match name {
                "discovery" => Ok(discovery(&state, &headers, format)),
                "services" => Ok(service_list(&state, format)),
                "requests" => list_requests(&state, format, &params, &host_base(&headers)).await,
                "servicerequestupdates" => list_updates(&state, format, &params, &host_base(&headers)).await,
                _ => Err(Failure::not_found(format, format!("no resource `{name}`"))),
            }
        }
        .await,
    )
}

async fn post_resource(
    State(state): State<AppState>,
    file: Result<Path<String>, PathRejection>,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    respond(
        async {
            let file = path_file(file)?;
            let (name, format) = split_file(&file)?;
            if name != "requests" {
                return Err(Failure::new(
                    format,
                    StatusCode::METHOD_NOT_ALLOWED,
                    format!("`{name}` does not accept POST"),
                ));
            }
            let params = match form {
                Ok(Form(p)) => Params(p),
                Err(e) => return Err(form_failure(format, &e)),
            };
            // What a refused request said, without its key, is kept for inspection.
            let kept: Vec<(String, String)> = params.0.iter().filter(|(k, _)| k != "api_key").cloned().collect();
            let outcome = create_request(&state, format, params).await;
            if let Err(f) = &outcome
                && f.status == StatusCode::BAD_REQUEST
            {
                let body = serde_json::to_vec(&kept).unwrap_or_default();
                let reason = format!("malformed_payload: {}", f.description);
                crate::channels::keep_reject(&state.workflow, Channel::Open311, "open311", reason, &body).await;
            }
            outcome
        }
        .await,
    )
}

fn form_failure(format: Format, e: &FormRejection) -> Failure {
    match e {
        FormRejection::InvalidFormContentType(_) => {
            Failure::bad_request(format, "expected a form body (`Content-Type: application/x-www-form-urlencoded`)")
        }
        FormRejection::BytesRejection(b) if b.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            Failure::new(format, StatusCode::PAYLOAD_TOO_LARGE, "the request body is too large")
        }
        other => Failure::bad_request(format, format!("invalid form body: {}", other.body_text())),
    }
}

async fn get_service_definition(
    State(state): State<AppState>,
    file: Result<Path<String>, PathRejection>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Response {
    respond(service_definition(&state, file, query))
}

fn service_definition(
    state: &AppState,
    file: Result<Path<String>, PathRejection>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Outcome {
    let file = path_file(file)?;
    let (code, format) = split_file(&file)?;
    let params = query_params(format, query)?;
    check_jurisdiction(state, format, &params)?;
    let catalog = state.workflow.catalog();
    let service = services::service(&catalog.categories, code)
        .ok_or_else(|| Failure::not_found(format, format!("service_code `{code}` was not found")))?;
    Ok(render(format, StatusCode::OK, "service_definition", &service.definition()))
}

async fn get_one_request(
    State(state): State<AppState>,
    headers: HeaderMap,
    file: Result<Path<String>, PathRejection>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Response {
    respond(
        async {
            let file = path_file(file)?;
            let (id, format) = split_file(&file)?;
            let params = query_params(format, query)?;
            check_jurisdiction(&state, format, &params)?;
            let not_found = || Failure::not_found(format, format!("service_request_id `{id}` was not found"));
            let id: Id = id.parse().map_err(|_| not_found())?;
            let detail = public_detail(&state, format, id).await?.ok_or_else(not_found)?;
            let catalog = state.workflow.catalog();
            let list = Val::List("request", vec![view::request(&catalog, &detail, &host_base(&headers))]);
            Ok(render(format, StatusCode::OK, "service_requests", &list))
        }
        .await,
    )
}

// ---------------------------------------------------------------- discovery and services

/// This server's scheme and host from the request's Host (and a proxy's `X-Forwarded-Proto`);
/// empty when the host is not a plain host name, and links stay relative.
fn host_base(headers: &HeaderMap) -> String {
    let host = headers.get("host").and_then(|h| h.to_str().ok()).filter(|h| {
        !h.is_empty() && h.len() <= 255 && h.chars().all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
    });
    let https = headers.get("x-forwarded-proto").and_then(|h| h.to_str().ok()) == Some("https");
    host.map(|h| format!("{}://{h}", if https { "https" } else { "http" })).unwrap_or_default()
}

fn discovery(state: &AppState, headers: &HeaderMap, format: Format) -> Response {
    let key_service = if state.settings.open311.api_keys.is_empty() {
        "Приём обращений через Open311 на этом сервере выключен: ключи API не настроены"
    } else {
        "Ключ API для подачи обращений выдаёт администратор центра управления регионом"
    };
    let endpoint = Val::Obj(vec![
        ("specification", Val::str(SPECIFICATION)),
        ("url", Val::str(format!("{}/open311/v2", host_base(headers)))),
        ("changeset", Val::str(CHANGESET)),
        ("type", Val::str("production")),
        ("formats", Val::List("format", vec![Val::str("text/xml"), Val::str("application/json")])),
    ]);
    let doc = Val::Obj(vec![
        ("changeset", Val::str(CHANGESET)),
        ("contact", Val::str("Центр управления регионом: обратная связь с жителями (Отклик)")),
        ("key_service", Val::str(key_service)),
        ("endpoints", Val::List("endpoint", vec![endpoint])),
    ]);
    render(format, StatusCode::OK, "discovery", &doc)
}

fn service_list(state: &AppState, format: Format) -> Response {
    let catalog = state.workflow.catalog();
    let list: Vec<Val> = services::services(&catalog.categories).iter().map(services::Service::to_val).collect();
    render(format, StatusCode::OK, "services", &Val::List("service", list))
}

// ---------------------------------------------------------------- creating a request

/// Whether `given` is one of the configured keys. Digests of equal length are compared without an
/// early exit, and every key is tried, so timing tells nothing about the keys.
fn api_key_valid(given: &str, keys: &[String]) -> bool {
    let g = Sha256::digest(given.as_bytes());
    let mut found = false;
    for k in keys.iter().filter(|k| !k.is_empty()) {
        let d = Sha256::digest(k.as_bytes());
        let diff = g.iter().zip(d.iter()).fold(0u8, |acc, (a, b)| acc | (a ^ b));
        found |= diff == 0;
    }
    found
}

/// Checks a free-text field: bounded, and without control characters other than line breaks and
/// tabs (they cannot be stored everywhere, and never belong in citizen text).
fn text_field<'a>(format: Format, params: &'a Params, name: &str, max: usize) -> Result<Option<&'a str>, Failure> {
    let Some(v) = params.get(name) else { return Ok(None) };
    if v.chars().count() > max {
        return Err(Failure::bad_request(format, format!("{name} is longer than {max} characters")));
    }
    if v.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        return Err(Failure::bad_request(format, format!("{name} contains control characters")));
    }
    Ok(Some(v))
}

fn coordinate(format: Format, name: &str, v: &str, limit: f64) -> Result<f64, Failure> {
    match v.parse::<f64>() {
        Ok(x) if x.is_finite() && x.abs() <= limit => Ok(x),
        _ => Err(Failure::bad_request(format, format!("{name} must be a number between -{limit} and {limit} (WGS84)"))),
    }
}

/// The kind of an attachment from its URL's file extension.
fn media_kind(url: &str) -> &'static str {
    let path = url.split(['?', '#']).next().unwrap_or(url).to_ascii_lowercase();
    let ext = path.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    match ext {
        "jpg" | "jpeg" | "png" | "gif" | "webp" | "heic" | "bmp" => "photo",
        "mp4" | "mov" | "webm" | "avi" | "3gp" => "video",
        _ => "link",
    }
}

/// `attribute[code]` and `attribute[code][]` fields as code → values.
fn attributes(format: Format, params: &Params) -> Result<BTreeMap<String, Vec<String>>, Failure> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in &params.0 {
        let Some(rest) = k.strip_prefix("attribute[") else { continue };
        let code = rest
            .strip_suffix("][]")
            .or_else(|| rest.strip_suffix(']'))
            .filter(|c| !c.is_empty() && !c.contains(['[', ']']));
        let Some(code) = code else {
            return Err(Failure::bad_request(format, format!("malformed attribute field `{k}`")));
        };
        if code.len() > 64 || v.chars().count() > MAX_SHORT {
            return Err(Failure::bad_request(format, format!("attribute[{code}] is too long")));
        }
        if !v.trim().is_empty() {
            out.entry(code.to_string()).or_default().push(v.trim().to_string());
        }
    }
    if out.len() > MAX_ATTRIBUTES {
        return Err(Failure::bad_request(format, format!("at most {MAX_ATTRIBUTES} attributes")));
    }
    Ok(out)
}

/// The submitted fields as stored with the message: everything but the key, repeated fields as
/// lists.
fn raw_of(params: &Params) -> serde_json::Value {
    let mut map = serde_json::Map::new();
    for (k, v) in params.0.iter().filter(|(k, _)| k != "api_key") {
        match map.get_mut(k) {
            Some(serde_json::Value::Array(a)) => a.push(v.clone().into()),
            Some(prev) => *prev = serde_json::Value::Array(vec![prev.take(), v.clone().into()]),
            None => {
                map.insert(k.clone(), v.clone().into());
            }
        }
    }
    serde_json::Value::Object(map)
}

async fn create_request(state: &AppState, format: Format, params: Params) -> Outcome {
    let forbidden = |d: &str| Failure::new(format, StatusCode::FORBIDDEN, d);
    let key = params.get("api_key").ok_or_else(|| forbidden("api_key was not provided"))?;
    if !api_key_valid(key, &state.settings.open311.api_keys) {
        return Err(forbidden("invalid api_key"));
    }
    check_jurisdiction(state, format, &params)?;

    let catalog = state.workflow.catalog();
    let code =
        params.get("service_code").ok_or_else(|| Failure::bad_request(format, "service_code was not provided"))?;
    let service = services::service(&catalog.categories, code)
        .ok_or_else(|| Failure::bad_request(format, format!("service_code `{code}` was not found")))?;

    // Where: a point, an address or an address id (at least one, by the specification).
    let (lat, long) = match (params.get("lat"), params.get("long")) {
        (Some(a), Some(o)) => (Some(coordinate(format, "lat", a, 90.0)?), Some(coordinate(format, "long", o, 180.0)?)),
        (None, None) => (None, None),
        _ => return Err(Failure::bad_request(format, "lat and long must be given together")),
    };
    let address = text_field(format, &params, "address_string", MAX_ADDRESS)?;
    let address_id = text_field(format, &params, "address_id", MAX_SHORT)?;
    if lat.is_none() && address.is_none() && address_id.is_none() {
        return Err(Failure::bad_request(format, "a location is required: lat and long, address_string or address_id"));
    }

    let description = text_field(format, &params, "description", MAX_DESCRIPTION)?;
    let media_url = text_field(format, &params, "media_url", MAX_URL)?;
    if let Some(u) = media_url
        && !(u.starts_with("https://") || u.starts_with("http://"))
    {
        return Err(Failure::bad_request(format, "media_url must be an http(s) URL"));
    }
    let email = text_field(format, &params, "email", MAX_ID)?;
    if let Some(e) = email
        && (!e.contains('@') || e.chars().any(char::is_whitespace))
    {
        return Err(Failure::bad_request(format, "email is not an e-mail address"));
    }
    let device_id = text_field(format, &params, "device_id", MAX_ID)?;
    let account_id = text_field(format, &params, "account_id", MAX_ID)?;
    let first_name = text_field(format, &params, "first_name", MAX_SHORT)?;
    let last_name = text_field(format, &params, "last_name", MAX_SHORT)?;
    text_field(format, &params, "phone", 64)?;

    let attrs = attributes(format, &params)?;
    let mut category = service.node.code.clone();
    if let Some(values) = attrs.get(services::SUBTOPIC) {
        let [sub] = values.as_slice() else {
            return Err(Failure::bad_request(format, "attribute[subtopic] takes one value"));
        };
        if !service.has_subtopic(sub) {
            return Err(Failure::bad_request(
                format,
                format!("attribute[subtopic] `{sub}` is not a sub-topic of service `{}`", service.node.code),
            ));
        }
        category = sub.clone();
    }

    // The text analysed and shown to operators: what the citizen wrote (or the service's name) and
    // where, so the analysis can find the territory in the address.
    let mut text = description.map(str::to_string).unwrap_or_else(|| service.node.name.clone());
    let mut place = Vec::new();
    if let Some(a) = address {
        place.push(format!("Адрес: {a}"));
    }
    if let (Some(la), Some(lo)) = (lat, long) {
        place.push(format!("Координаты: {la}, {lo}"));
    }
    if !place.is_empty() {
        text.push_str("\n\n");
        text.push_str(&place.join("\n"));
    }
    let name = [first_name, last_name].into_iter().flatten().collect::<Vec<_>>().join(" ");
    let author_id = account_id
        .map(|a| format!("account:{a}"))
        .or_else(|| email.map(|e| format!("email:{}", e.to_lowercase())))
        .or_else(|| device_id.map(|d| format!("device:{d}")))
        .unwrap_or_else(|| "anonymous".to_string());
    let msg = NewMessage {
        channel: Channel::Open311,
        source: "open311".into(),
        // GeoReport has no idempotency token: every POST is a new request.
        external_id: format!("o311-{}", crate::auth::random_token()),
        thread_id: None,
        parent_id: None,
        author: Author { id: author_id, name: Some(name).filter(|n| !n.is_empty()) },
        text,
        attachments: media_url
            .map(|u| vec![Attachment { kind: media_kind(u).into(), url: u.into(), name: None }])
            .unwrap_or_default(),
        published_at: state.workflow.now(),
        url: None,
        raw: raw_of(&params),
    };
    let hints = IntakeHints { territory: None, category: Some(category) };
    let outcome = state.workflow.ingest(&msg, &hints).await.map_err(|e| match e {
        DomainError::Validation(m) => Failure::bad_request(format, m),
        other => Failure::internal(format, &other),
    })?;
    let incident =
        state.workflow.store().incident(outcome.incident_id).await.map_err(|e| Failure::internal(format, &e))?;
    let due = incident.as_ref().and_then(|i| i.resolution_due.or(i.first_answer_due));
    let zone = incident.as_ref().and_then(|i| view::zone_of(&catalog, i.territory.as_deref()));
    let mut notice = format!("Обращение № {} принято", outcome.incident_id);
    if let Some(n) = view::service_notice(due, zone) {
        notice.push_str(". ");
        notice.push_str(&n);
    }
    tracing::info!(incident = outcome.incident_id, service = %service.node.code, "open311 request");
    let created = Val::Obj(vec![
        ("service_request_id", Val::str(outcome.incident_id.to_string())),
        ("service_notice", Val::str(notice)),
        ("account_id", Val::opt_str(account_id)),
    ]);
    Ok(render(format, StatusCode::OK, "service_requests", &Val::List("request", vec![created])))
}

// ---------------------------------------------------------------- reading requests

/// Parses a W3C date-time (with seconds or without, `Z` or an offset) or a bare date (midnight
/// UTC). A `+` of an offset that arrived unencoded in a query string reads as a space; it is
/// taken back.
fn parse_w3c(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    let mut fixed = s.to_string();
    if let Some(i) = s.rfind(' ')
        && i >= 16
    {
        fixed.replace_range(i..=i, "+");
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(&fixed) {
        return Some(d.with_timezone(&Utc));
    }
    let offset = if let Some(head) = fixed.strip_suffix('Z') { format!("{head}+00:00") } else { fixed.clone() };
    if let Ok(d) = DateTime::parse_from_str(&offset, "%Y-%m-%dT%H:%M%:z") {
        return Some(d.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0)).map(|d| d.and_utc())
}

/// The `[start, end]` window of a list: both given (at most 90 days apart), one given (90 days
/// from or to it), or the last 90 days.
fn window(format: Format, params: &Params, now: DateTime<Utc>) -> Result<(DateTime<Utc>, DateTime<Utc>), Failure> {
    let date = |name: &str| -> Result<Option<DateTime<Utc>>, Failure> {
        params
            .get(name)
            .map(|v| {
                parse_w3c(v).ok_or_else(|| {
                    Failure::bad_request(
                        format,
                        format!("{name} is not a W3C date-time, e.g. 2026-03-02T09:00:00+03:00"),
                    )
                })
            })
            .transpose()
    };
    let span = Duration::days(MAX_SPAN_DAYS);
    let (start, end) = match (date("start_date")?, date("end_date")?) {
        (Some(s), Some(e)) => (s, e),
        (Some(s), None) => (s, s + span),
        (None, Some(e)) => (e - span, e),
        (None, None) => (now - span, now),
    };
    if start > end {
        return Err(Failure::bad_request(format, "start_date is after end_date"));
    }
    if end - start > span {
        return Err(Failure::bad_request(
            format,
            format!("start_date and end_date may not span more than {MAX_SPAN_DAYS} days"),
        ));
    }
    Ok((start, end))
}

/// A comma-separated list parameter, split and trimmed.
fn list_param<'a>(params: &'a Params, name: &str) -> Vec<&'a str> {
    params.get(name).map(|v| v.split(',').map(str::trim).filter(|s| !s.is_empty()).collect()).unwrap_or_default()
}

fn ids_param(format: Format, params: &Params) -> Result<Vec<Id>, Failure> {
    let raw = list_param(params, "service_request_id");
    if raw.len() > MAX_IDS {
        return Err(Failure::bad_request(format, format!("at most {MAX_IDS} service_request_id values")));
    }
    let mut ids = Vec::with_capacity(raw.len());
    for r in raw {
        ids.push(
            r.parse().map_err(|_| Failure::bad_request(format, format!("service_request_id `{r}` is not an id")))?,
        );
    }
    ids.dedup();
    Ok(ids)
}

/// The card of an incident the public may see; none for anything else.
async fn public_detail(state: &AppState, format: Format, id: Id) -> Result<Option<IncidentDetail>, Failure> {
    let d = state.workflow.store().incident_detail(id).await.map_err(|e| Failure::internal(format, &e))?;
    Ok(d.filter(|d| view::is_public(d.incident.channel)))
}

fn in_service(inc: &Incident, code: &str) -> bool {
    inc.category.as_deref().is_some_and(|c| c == code || c.strip_prefix(code).is_some_and(|r| r.starts_with('.')))
}

/// Public incidents created in `[start, end]`, newest first, at most `MAX_RESULTS`.
async fn public_incidents(
    state: &AppState,
    format: Format,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    statuses: &[Status],
    codes: &[&str],
) -> Result<Vec<Incident>, Failure> {
    let store = state.workflow.store();
    let everything = ScopeFilter { all: true, ..Default::default() };
    let code_filters: Vec<Option<&str>> =
        if codes.is_empty() { vec![None] } else { codes.iter().map(|c| Some(*c)).collect() };
    let mut found: Vec<Incident> = Vec::new();
    for channel in view::PUBLIC_CHANNELS {
        for code in &code_filters {
            // The store lists by creation time with a keyset cursor on (created_at in Unix
            // milliseconds, id): a cursor just after `end` starts the scan there.
            let mut q = IncidentQuery {
                statuses: statuses.to_vec(),
                category: code.map(str::to_string),
                channel: Some(channel),
                sort: SortKey::CreatedDesc,
                after: Some(Cursor { key: end.timestamp_millis().saturating_add(1), id: 0 }),
                limit: 500,
                ..Default::default()
            };
            let mut taken = 0;
            'pages: loop {
                let page = store.list_incidents(&q, &everything).await.map_err(|e| Failure::internal(format, &e))?;
                for inc in page.items {
                    if inc.created_at < start {
                        break 'pages;
                    }
                    // The cursor is an optimisation; the window and the exact service are checked here.
                    if inc.created_at <= end && code.is_none_or(|c| in_service(&inc, c)) {
                        found.push(inc);
                        taken += 1;
                        if taken >= MAX_RESULTS {
                            break 'pages;
                        }
                    }
                }
                match page.next {
                    Some(c) => q.after = Some(c),
                    None => break,
                }
            }
        }
    }
    found.sort_by_key(|i| std::cmp::Reverse((i.created_at, i.id)));
    found.dedup_by_key(|i| i.id);
    found.truncate(MAX_RESULTS);
    Ok(found)
}

fn statuses_param(format: Format, params: &Params) -> Result<Vec<Status>, Failure> {
    let mut want_open = false;
    let mut want_closed = false;
    for s in list_param(params, "status") {
        match s {
            "open" => want_open = true,
            "closed" => want_closed = true,
            other => return Err(Failure::bad_request(format, format!("status `{other}` is neither open nor closed"))),
        }
    }
    Ok(match (want_open, want_closed) {
        (true, false) => view::statuses_of(false),
        (false, true) => view::statuses_of(true),
        _ => vec![],
    })
}

async fn list_requests(state: &AppState, format: Format, params: &Params, base: &str) -> Outcome {
    let catalog = state.workflow.catalog();
    let ids = ids_param(format, params)?;
    let mut details = Vec::new();
    if !ids.is_empty() {
        // The specification: a list of ids overrides every other argument.
        for id in ids {
            if let Some(d) = public_detail(state, format, id).await? {
                details.push(d);
            }
        }
    } else {
        let (start, end) = window(format, params, state.workflow.now())?;
        let statuses = statuses_param(format, params)?;
        let mut codes = list_param(params, "service_code");
        codes.sort_unstable();
        codes.dedup();
        if codes.len() > MAX_CODES {
            return Err(Failure::bad_request(format, format!("at most {MAX_CODES} service_code values")));
        }
        if let Some(c) = codes.iter().find(|c| services::service(&catalog.categories, c).is_none()) {
            return Err(Failure::bad_request(format, format!("service_code `{c}` was not found")));
        }
        let store = state.workflow.store();
        for inc in public_incidents(state, format, start, end, &statuses, &codes).await? {
            if let Some(d) = store.incident_detail(inc.id).await.map_err(|e| Failure::internal(format, &e))? {
                details.push(d);
            }
        }
    }
    let list: Vec<Val> = details.iter().map(|d| view::request(&catalog, d, base)).collect();
    Ok(render(format, StatusCode::OK, "service_requests", &Val::List("request", list)))
}

/// The servicerequestupdates extension: status changes of public requests in a window, oldest
/// first, at most `MAX_RESULTS`.
async fn list_updates(state: &AppState, format: Format, params: &Params, base: &str) -> Outcome {
    let catalog = state.workflow.catalog();
    let (start, end) = window(format, params, state.workflow.now())?;
    let ids = ids_param(format, params)?;
    let store = state.workflow.store();
    let mut details = Vec::new();
    if !ids.is_empty() {
        for id in ids {
            if let Some(d) = public_detail(state, format, id).await? {
                details.push(d);
            }
        }
    } else {
        // A status change bumps `updated_at`, so an incident with a change at or after `start`
        // was updated at or after `start`: scanning by update time, newest first, finds them all.
        let everything = ScopeFilter { all: true, ..Default::default() };
        for channel in view::PUBLIC_CHANNELS {
            let mut q =
                IncidentQuery { channel: Some(channel), sort: SortKey::UpdatedDesc, limit: 500, ..Default::default() };
            'pages: loop {
                let page = store.list_incidents(&q, &everything).await.map_err(|e| Failure::internal(format, &e))?;
                for inc in page.items {
                    if inc.updated_at < start || details.len() >= MAX_UPDATE_SCAN {
                        break 'pages;
                    }
                    if inc.created_at > end {
                        continue;
                    }
                    if let Some(d) = store.incident_detail(inc.id).await.map_err(|e| Failure::internal(format, &e))? {
                        details.push(d);
                    }
                }
                match page.next {
                    Some(c) => q.after = Some(c),
                    None => break,
                }
            }
        }
    }
    let mut updates: Vec<view::Update> =
        details.iter().flat_map(|d| view::updates(&catalog, d, start, end, base)).collect();
    updates.sort_by_key(|u| (u.at, u.event_id));
    updates.truncate(MAX_RESULTS);
    let list = updates.into_iter().map(|u| u.val).collect();
    Ok(render(format, StatusCode::OK, "service_request_updates", &Val::List("request_update", list)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_match_exactly() {
        let keys = vec!["".to_string(), "s3cret".to_string()];
        assert!(api_key_valid("s3cret", &keys));
        assert!(!api_key_valid("s3cre", &keys));
        assert!(!api_key_valid("", &keys), "an empty configured key never matches");
        assert!(!api_key_valid("s3cret", &[]));
    }

    #[test]
    fn w3c_dates_in_their_forms() {
        let want = DateTime::parse_from_rfc3339("2026-03-02T06:00:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(parse_w3c("2026-03-02T06:00:00Z"), Some(want));
        assert_eq!(parse_w3c("2026-03-02T09:00:00+03:00"), Some(want));
        assert_eq!(parse_w3c("2026-03-02T09:00:00 03:00"), Some(want), "a + decoded as a space");
        assert_eq!(parse_w3c("2026-03-02T09:00+03:00"), Some(want));
        assert_eq!(parse_w3c("2026-03-02T06:00Z"), Some(want));
        assert_eq!(parse_w3c("2026-03-02"), Some(want - Duration::hours(6)));
        assert_eq!(parse_w3c("02.03.2026"), None);
        assert_eq!(parse_w3c("2026-03-02T06:00:00"), None, "a zone is required");
    }

    #[test]
    fn media_kinds_from_extensions() {
        assert_eq!(media_kind("https://x.org/a/b.JPG?size=1"), "photo");
        assert_eq!(media_kind("https://x.org/v.mp4"), "video");
        assert_eq!(media_kind("https://x.org/page"), "link");
    }

    #[test]
    fn raw_keeps_everything_but_the_key() {
        let p = Params(vec![
            ("api_key".into(), "k".into()),
            ("attribute[a][]".into(), "1".into()),
            ("attribute[a][]".into(), "2".into()),
            ("email".into(), "x@y.ru".into()),
        ]);
        assert_eq!(raw_of(&p), serde_json::json!({"attribute[a][]": ["1", "2"], "email": "x@y.ru"}));
        let attrs = attributes(Format::Json, &p).unwrap();
        assert_eq!(attrs["a"], vec!["1".to_string(), "2".to_string()]);
    }
}
