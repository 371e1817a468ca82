//! The public web form for citizens (in the manner of ПОС), its embeddable widget, the tracking
//! page of a submitted message (status, answer, rating, return for rework) and uploaded photos.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::time::Duration;

use askama::Template;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::{DateTime, Utc};
use otklik_core::access::Actor;
use otklik_core::model::{AnswerState, Attachment, Author, Channel, IncidentDetail, NewMessage, TerritoryLevel};
use otklik_core::status::Status;
use otklik_core::store::{NewIntakeReject, StoredFile};
use otklik_core::workflow::{Catalog, Command, IntakeHints};
use serde::Deserialize;

use crate::app::AppState;

/// The web source used when the page names none (or an unknown one).
pub const DEFAULT_SOURCE: &str = "form";
pub const MAX_PHOTOS: usize = 5;
pub const MAX_PHOTO_BYTES: usize = 5 * 1024 * 1024;
const FORM_BODY_LIMIT: usize = MAX_PHOTOS * MAX_PHOTO_BYTES + 256 * 1024;
const MIN_TEXT_CHARS: usize = 10;
const MAX_TEXT_CHARS: usize = 5_000;

/// Per-address limits on what the public pages accept.
#[derive(Debug)]
pub struct PublicLimiter(governor::DefaultKeyedRateLimiter<IpAddr>);

impl Default for PublicLimiter {
    /// Ten submissions at once, then one every 30 seconds, per client address.
    fn default() -> Self {
        let quota = governor::Quota::with_period(Duration::from_secs(30))
            .expect("a non-zero period")
            .allow_burst(NonZeroU32::new(10).expect("non-zero"));
        PublicLimiter(governor::RateLimiter::keyed(quota))
    }
}

impl PublicLimiter {
    fn check(&self, ip: IpAddr) -> bool {
        if self.0.len() > 100_000 {
            self.0.retain_recent();
        }
        self.0.check_key(&ip).is_ok()
    }
}

/// The public routes: form, widget, tracking, files and their assets.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/form", get(form_page).post(submit).layer(DefaultBodyLimit::max(FORM_BODY_LIMIT)))
        .route("/track/{source}/{token}", get(track_page))
        .route("/track/{source}/{token}/rate", post(rate))
        .route("/track/{source}/{token}/rework", post(rework))
        .route("/track/{source}/{token}/reply", post(reply))
        .route("/files/{name}", get(file))
        .route("/widget.js", get(|| asset("text/javascript; charset=utf-8", include_str!("../assets/widget.js"))))
        .route("/assets/public.css", get(|| asset("text/css; charset=utf-8", include_str!("../assets/public.css"))))
        .route("/assets/form.js", get(|| asset("text/javascript; charset=utf-8", include_str!("../assets/form.js"))))
}

async fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "public, max-age=3600")], body).into_response()
}

/// A page of the public site: HTML with a strict content policy. Embedded pages may be framed
/// by any site (that is what the widget is for); the others by none.
fn page(status: StatusCode, html: Result<String, askama::Error>, embed: bool) -> Response {
    let Ok(body) = html else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "template error").into_response();
    };
    let frame = if embed { "*" } else { "'none'" };
    let csp = format!(
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
         form-action 'self'; base-uri 'none'; frame-ancestors {frame}"
    );
    let mut res = (status, Html(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&csp) {
        res.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
    }
    res
}

fn message_page(status: StatusCode, heading: &str, text: &str, link: Option<String>) -> Response {
    let t = MessagePage { embed: false, heading, text, link };
    page(status, t.render(), false)
}

#[derive(Template)]
#[template(path = "public_message.html")]
struct MessagePage<'a> {
    embed: bool,
    heading: &'a str,
    text: &'a str,
    link: Option<String>,
}

struct Choice {
    code: String,
    name: String,
}

struct Group {
    label: String,
    direction: String,
    topics: Vec<Choice>,
}

#[derive(Debug, Default, Clone)]
struct FormValues {
    source: String,
    direction: String,
    category: String,
    territory: String,
    address: String,
    lat: String,
    lon: String,
    text: String,
    name: String,
    contact: String,
    consent: bool,
    website: String,
    embed: bool,
}

#[derive(Template)]
#[template(path = "form.html")]
struct FormPage<'a> {
    embed: bool,
    source: &'a str,
    directions: Vec<Choice>,
    groups: Vec<Group>,
    regions: Vec<Group>,
    values: &'a FormValues,
    errors: Vec<String>,
}

#[derive(Template)]
#[template(path = "form_done.html")]
struct DonePage<'a> {
    embed: bool,
    incident_id: i64,
    track_url: &'a str,
    source: &'a str,
}

#[derive(Debug, Deserialize)]
struct FormQuery {
    source: Option<String>,
    embed: Option<String>,
}

/// The web source a page speaks for: a configured web source, else the default.
fn web_source(catalog: &Catalog, asked: Option<&str>) -> String {
    match asked {
        Some(s) if catalog.sources.contains_key(&(Channel::Web, s.to_string())) => s.to_string(),
        _ => DEFAULT_SOURCE.to_string(),
    }
}

fn render_form(catalog: &Catalog, values: &FormValues, errors: Vec<String>) -> Response {
    let mut cats: Vec<_> = catalog.categories.values().collect();
    cats.sort_by(|a, b| a.code.cmp(&b.code));
    let name_of = |code: &str| catalog.categories.get(code).map(|c| c.name.clone()).unwrap_or_default();
    let directions: Vec<Choice> =
        cats.iter().filter(|c| c.level() == 1).map(|c| Choice { code: c.code.clone(), name: c.name.clone() }).collect();
    let mut groups: Vec<Group> = Vec::new();
    for g in cats.iter().filter(|c| c.level() == 2) {
        let topics: Vec<Choice> = cats
            .iter()
            .filter(|c| c.level() == 3 && c.parent() == Some(g.code.as_str()))
            .map(|c| Choice { code: c.code.clone(), name: c.name.clone() })
            .collect();
        let direction = g.parent().unwrap_or_default().to_string();
        if !topics.is_empty() {
            groups.push(Group { label: format!("{} — {}", name_of(&direction), g.name), direction, topics });
        }
    }
    let h = &catalog.hierarchy;
    let mut regions: Vec<Group> = Vec::new();
    let codes = h.territory_codes();
    for rc in &codes {
        let Some(r) = h.territory(rc).filter(|t| t.level == TerritoryLevel::Region) else { continue };
        let mut topics: Vec<Choice> = codes
            .iter()
            .filter_map(|c| h.territory(c))
            .filter(|t| t.level == TerritoryLevel::Municipality && t.parent.as_deref() == Some(rc.as_str()))
            .map(|t| Choice { code: t.code.clone(), name: t.full_name.clone() })
            .collect();
        topics.sort_by(|a, b| a.name.cmp(&b.name));
        regions.push(Group { label: r.name.clone(), direction: rc.clone(), topics });
    }
    regions.sort_by(|a, b| a.label.cmp(&b.label));
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let t = FormPage { embed: values.embed, source: &values.source, directions, groups, regions, values, errors };
    page(status, t.render(), values.embed)
}

async fn form_page(State(state): State<AppState>, Query(q): Query<FormQuery>) -> Response {
    let catalog = state.workflow.catalog();
    let values = FormValues {
        source: web_source(&catalog, q.source.as_deref()),
        embed: q.embed.as_deref() == Some("1"),
        ..Default::default()
    };
    render_form(&catalog, &values, vec![])
}

/// A photo as uploaded, before checks.
struct Upload {
    bytes: Vec<u8>,
}

/// The image type by its first bytes (the declared type is not trusted).
fn sniff_image(b: &[u8]) -> Option<(&'static str, &'static str)> {
    if b.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(("image/jpeg", "jpg"))
    } else if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(("image/png", "png"))
    } else if b.len() > 12 && &b[..4] == b"RIFF" && &b[8..12] == b"WEBP" {
        Some(("image/webp", "webp"))
    } else {
        None
    }
}

/// The peer's address (unspecified when the server runs without connection info, as in tests
/// that call the router directly).
#[derive(Debug, Clone, Copy)]
struct ClientIp(IpAddr);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        let ip = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
        Ok(ClientIp(ip.unwrap_or(IpAddr::from([0, 0, 0, 0]))))
    }
}

/// 128 random bits in hex: tracking tokens and file names (the tracking page checks this shape).
fn random_token() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

fn too_many() -> Response {
    let mut res = message_page(
        StatusCode::TOO_MANY_REQUESTS,
        "Слишком много сообщений",
        "С вашего адреса недавно отправлено много сообщений. Попробуйте ещё раз через несколько минут.",
        Some("/form".into()),
    );
    res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
    res
}

async fn read_multipart(mut mp: Multipart) -> Result<(FormValues, Vec<Upload>, Vec<String>), String> {
    let mut v = FormValues::default();
    let mut uploads = Vec::new();
    let mut errors = Vec::new();
    while let Some(mut field) = mp.next_field().await.map_err(|e| e.body_text())? {
        let name = field.name().unwrap_or_default().to_string();
        if name == "photos" {
            if field.file_name().is_none_or(str::is_empty) {
                // An empty file input still sends a part.
                let _ = field.bytes().await;
                continue;
            }
            let mut bytes = Vec::new();
            let mut too_big = false;
            while let Some(chunk) = field.chunk().await.map_err(|e| e.body_text())? {
                if bytes.len() + chunk.len() > MAX_PHOTO_BYTES {
                    too_big = true;
                    break;
                }
                bytes.extend_from_slice(&chunk);
            }
            if too_big {
                errors.push("Каждая фотография должна быть не больше 5 МБ.".to_string());
            } else if !bytes.is_empty() {
                uploads.push(Upload { bytes });
            }
            continue;
        }
        let value = field.text().await.map_err(|e| e.body_text())?;
        match name.as_str() {
            "source" => v.source = value,
            "direction" => v.direction = value,
            "category" => v.category = value,
            "territory" => v.territory = value,
            "address" => v.address = value,
            "lat" => v.lat = value,
            "lon" => v.lon = value,
            "text" => v.text = value,
            "name" => v.name = value,
            "contact" => v.contact = value,
            "consent" => v.consent = !value.is_empty(),
            "website" => v.website = value,
            "embed" => v.embed = value == "1",
            _ => {}
        }
    }
    Ok((v, uploads, errors))
}

fn parse_coord(s: &str, limit: f64) -> Option<Result<f64, ()>> {
    let s = s.trim().replace(',', ".");
    if s.is_empty() {
        return None;
    }
    Some(s.parse::<f64>().ok().filter(|x| x.is_finite() && x.abs() <= limit).ok_or(()))
}

/// Checks the form; returns the messages to show, in Russian.
fn validate(catalog: &Catalog, v: &FormValues, uploads: &[Upload]) -> Vec<String> {
    let mut e = Vec::new();
    match catalog.categories.get(v.category.trim()) {
        Some(c) if c.level() >= 2 => {}
        _ => e.push("Выберите тему сообщения.".to_string()),
    }
    let t = v.territory.trim();
    if !t.is_empty() && catalog.hierarchy.territory(t).is_none() {
        e.push("Выберите муниципальное образование из списка.".to_string());
    }
    let chars = v.text.trim().chars().count();
    if chars < MIN_TEXT_CHARS {
        e.push("Опишите проблему подробнее (не меньше 10 символов).".to_string());
    } else if chars > MAX_TEXT_CHARS {
        e.push("Описание должно быть не длиннее 5000 символов.".to_string());
    }
    let lat = parse_coord(&v.lat, 90.0);
    let lon = parse_coord(&v.lon, 180.0);
    match (lat, lon) {
        (None, None) | (Some(Ok(_)), Some(Ok(_))) => {}
        _ => e.push("Укажите обе координаты точки числами (широта от −90 до 90, долгота от −180 до 180).".to_string()),
    }
    for (value, limit, what) in [(&v.address, 300, "Адрес"), (&v.name, 120, "Имя"), (&v.contact, 120, "Контакт")]
    {
        if value.chars().count() > limit {
            e.push(format!("{what}: не длиннее {limit} символов."));
        }
    }
    if !v.consent {
        e.push("Нужно согласие на обработку персональных данных.".to_string());
    }
    if uploads.len() > MAX_PHOTOS {
        e.push(format!("Можно приложить не больше {MAX_PHOTOS} фотографий."));
    }
    if uploads.iter().any(|u| sniff_image(&u.bytes).is_none()) {
        e.push("Фотографии принимаются в форматах JPEG, PNG или WebP.".to_string());
    }
    e
}

fn host_base(headers: &HeaderMap) -> String {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| h.chars().all(|c| c.is_ascii_alphanumeric() || "-.:[]".contains(c)))
        .map(|h| format!("http://{h}"))
        .unwrap_or_default()
}

async fn submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    mut mp: Multipart,
) -> Response {
    if !state.public_limiter.check(ip) {
        // Read the body out so that the client sees the answer rather than a broken pipe.
        while let Ok(Some(f)) = mp.next_field().await {
            let _ = f.bytes().await;
        }
        return too_many();
    }
    let catalog = state.workflow.catalog();
    let (mut v, uploads, mut errors) = match read_multipart(mp).await {
        Ok(x) => x,
        Err(reason) => {
            // The body was read as a stream and is gone: the reason is kept.
            let kept = format!("malformed_payload: {reason}");
            crate::channels::keep_reject(&state.workflow, Channel::Web, DEFAULT_SOURCE, kept, b"").await;
            return message_page(
                StatusCode::BAD_REQUEST,
                "Форма не прочитана",
                &format!("Не удалось прочитать отправленную форму: {reason}"),
                Some("/form".into()),
            );
        }
    };
    v.source = web_source(&catalog, Some(&v.source));
    let now = state.workflow.now();
    if !v.website.is_empty() {
        // The honeypot field is invisible to people: whoever filled it is a robot.
        let body = serde_json::json!({"text": v.text, "website": v.website}).to_string();
        let reject = NewIntakeReject {
            channel: Channel::Web,
            source: v.source.clone(),
            received_at: now,
            reason: "spam: honeypot field filled".into(),
            body: body.chars().take(64 * 1024).collect(),
        };
        if let Err(e) = state.workflow.store().record_reject(&reject).await {
            tracing::warn!(error = %e, "cannot keep a rejected form");
        }
        return message_page(StatusCode::BAD_REQUEST, "Сообщение не принято", "Сообщение похоже на спам.", None);
    }
    errors.extend(validate(&catalog, &v, &uploads));
    if !errors.is_empty() {
        return render_form(&catalog, &v, errors);
    }
    let mut attachments = Vec::with_capacity(uploads.len());
    for u in uploads {
        match store_photo(&state, u.bytes).await {
            Ok(a) => attachments.push(a),
            Err(e) => {
                return message_page(StatusCode::SERVICE_UNAVAILABLE, "Сообщение не отправлено", &e, None);
            }
        }
    }
    let token = random_token();
    let mut text = v.text.trim().to_string();
    if !v.address.trim().is_empty() {
        text.push_str(&format!("\n\nАдрес: {}", v.address.trim()));
    }
    let point = match (parse_coord(&v.lat, 90.0), parse_coord(&v.lon, 180.0)) {
        (Some(Ok(lat)), Some(Ok(lon))) => serde_json::json!({"lat": lat, "lon": lon}),
        _ => serde_json::Value::Null,
    };
    let msg = NewMessage {
        channel: Channel::Web,
        source: v.source.clone(),
        external_id: token.clone(),
        thread_id: None,
        parent_id: None,
        author: Author { id: format!("web:{token}"), name: Some(v.name.trim().to_string()).filter(|n| !n.is_empty()) },
        text,
        attachments,
        published_at: now,
        url: None,
        raw: serde_json::json!({
            "category": v.category.trim(),
            "territory": v.territory.trim(),
            "address": v.address.trim(),
            "point": point,
            "contact": v.contact.trim(),
            "consent": true,
        }),
    };
    let hints = IntakeHints {
        territory: Some(v.territory.trim().to_string()).filter(|t| !t.is_empty()),
        category: Some(v.category.trim().to_string()),
    };
    match state.workflow.ingest(&msg, &hints).await {
        Ok(out) => {
            let track_url = format!("{}/track/{}/{}", host_base(&headers), v.source, token);
            let t = DonePage { embed: v.embed, incident_id: out.incident_id, track_url: &track_url, source: &v.source };
            page(StatusCode::CREATED, t.render(), v.embed)
        }
        Err(e) => {
            tracing::warn!(error = %e, "web form intake refused");
            render_form(&catalog, &v, vec![format!("Сообщение не принято: {e}")])
        }
    }
}

/// Stores an uploaded photo under a random name, after checking from its bytes that it is one.
pub async fn store_photo(state: &AppState, bytes: Vec<u8>) -> Result<Attachment, String> {
    let Some((content_type, ext)) = sniff_image(&bytes) else {
        return Err("Фотографии принимаются в форматах JPEG, PNG или WebP.".into());
    };
    let name = format!("{}.{ext}", random_token());
    let f =
        StoredFile { name: name.clone(), content_type: content_type.into(), bytes, created_at: state.workflow.now() };
    state.workflow.store().put_file(&f).await.map_err(|e| {
        tracing::error!(error = %e, "cannot store an uploaded photo");
        "Не удалось сохранить фотографию.".to_string()
    })?;
    Ok(Attachment { kind: "photo".into(), url: format!("/files/{name}"), name: None })
}

/// The incident of a tracking link, if the link is genuine.
async fn tracked(state: &AppState, source: &str, token: &str) -> Option<IncidentDetail> {
    if token.len() != 32 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let store = state.workflow.store();
    let (_, incident_id) = store.message_by_key(Channel::Web, source, token).await.ok()??;
    store.incident_detail(incident_id).await.ok()?
}

struct PublicAnswer {
    kind: &'static str,
    at: String,
    text: String,
    photos: Vec<String>,
}

struct HistoryLine {
    at: String,
    what: &'static str,
}

#[derive(Template)]
#[template(path = "track.html")]
struct TrackPage {
    embed: bool,
    base: String,
    incident_id: i64,
    status: &'static str,
    status_code: &'static str,
    created: String,
    category: Option<String>,
    org: Option<String>,
    due: Option<String>,
    text: String,
    photos: Vec<String>,
    answers: Vec<PublicAnswer>,
    question: Option<String>,
    can_rate: bool,
    rating: Option<String>,
    can_rework: bool,
    history: Vec<HistoryLine>,
}

fn not_found_page() -> Response {
    message_page(
        StatusCode::NOT_FOUND,
        "Обращение не найдено",
        "Проверьте ссылку: она должна быть такой, какую вы получили после отправки сообщения.",
        Some("/form".into()),
    )
}

async fn track_page(State(state): State<AppState>, Path((source, token)): Path<(String, String)>) -> Response {
    let Some(d) = tracked(&state, &source, &token).await else {
        return not_found_page();
    };
    let catalog = state.workflow.catalog();
    let i = &d.incident;
    let zone = catalog.zone_of(i.territory.as_deref().or(i.municipality.as_deref()));
    let fmt = |t: DateTime<Utc>| t.with_timezone(&zone).format("%d.%m.%Y %H:%M").to_string();
    let mine = d.messages.iter().find(|m| m.body.channel == Channel::Web && m.body.external_id == token);
    let answers = d
        .answers
        .iter()
        .filter(|a| a.state == AnswerState::Published)
        .map(|a| PublicAnswer {
            kind: match a.kind {
                otklik_core::model::AnswerKind::Intermediate => "Промежуточный ответ",
                _ => "Ответ",
            },
            at: a.published_at.map(fmt).unwrap_or_default(),
            text: a.text.clone(),
            photos: a.attachments.iter().filter(|x| x.kind == "photo").map(|x| x.url.clone()).collect(),
        })
        .collect();
    let rating = i.rating.map(|r| r.to_string());
    let question = (i.status == Status::WaitingCitizen)
        .then(|| d.history.iter().rev().find(|e| e.action == "ask_citizen").and_then(|e| e.note.clone()))
        .flatten();
    let history = d
        .history
        .iter()
        .filter_map(|e| {
            let what = if e.action == "intake" {
                Some("Сообщение принято")
            } else {
                crate::labels::public_action(&e.action)
            };
            what.map(|what| HistoryLine { at: fmt(e.at), what })
        })
        .collect();
    let finished = matches!(i.status, Status::Answered | Status::Closed);
    let t = TrackPage {
        embed: false,
        base: format!("/track/{source}/{token}"),
        incident_id: i.id,
        status: crate::labels::status(i.status),
        status_code: i.status.as_str(),
        created: fmt(i.created_at),
        category: i.category.as_deref().and_then(|c| catalog.categories.get(c)).map(|c| c.name.clone()),
        org: i.org.as_deref().and_then(|o| catalog.hierarchy.org(o)).map(|o| o.name.clone()),
        due: if i.status.is_terminal() || i.status == Status::Answered {
            None
        } else {
            i.resolution_due.or(i.first_answer_due).map(fmt)
        },
        text: mine.map(|m| m.body.text.clone()).unwrap_or_default(),
        photos: mine
            .map(|m| m.body.attachments.iter().filter(|a| a.kind == "photo").map(|a| a.url.clone()).collect())
            .unwrap_or_default(),
        answers,
        question,
        can_rate: finished && rating.is_none(),
        rating,
        can_rework: finished,
        history,
    };
    page(StatusCode::OK, t.render(), false)
}

#[derive(Debug, Deserialize)]
struct RateForm {
    score: String,
    #[serde(default)]
    comment: String,
}

#[derive(Debug, Deserialize)]
struct TextForm {
    #[serde(default)]
    comment: String,
    #[serde(default)]
    text: String,
}

/// Runs a citizen's command on the tracked incident and goes back to the tracking page.
async fn citizen_command(
    state: &AppState,
    ip: IpAddr,
    source: &str,
    token: &str,
    command: Result<Command, &'static str>,
) -> Response {
    if !state.public_limiter.check(ip) {
        return too_many();
    }
    let Some(d) = tracked(state, source, token).await else {
        return not_found_page();
    };
    let back = format!("/track/{source}/{token}");
    let command = match command {
        Ok(c) => c,
        Err(why) => return message_page(StatusCode::UNPROCESSABLE_ENTITY, "Не получилось", why, Some(back)),
    };
    // The citizen acts through the system account: the tracking link is the proof.
    let actor = Actor { name: "citizen".into(), ..Actor::system() };
    match state.workflow.execute(&actor, d.incident.id, Some(d.incident.version), command).await {
        Ok(_) => Redirect::to(&back).into_response(),
        Err(e) => {
            tracing::info!(error = %e, "citizen action refused");
            message_page(
                StatusCode::CONFLICT,
                "Не получилось",
                "Это действие сейчас недоступно: состояние обращения изменилось. Обновите страницу.",
                Some(back),
            )
        }
    }
}

fn trimmed(s: &str, min: usize, max: usize) -> Option<String> {
    let t = s.trim();
    let n = t.chars().count();
    (n >= min && n <= max).then(|| t.to_string())
}

async fn rate(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Path((source, token)): Path<(String, String)>,
    Form(f): Form<RateForm>,
) -> Response {
    let cmd = match (f.score.trim().parse::<u8>(), trimmed(&f.comment, 0, 2000)) {
        (Ok(score @ 1..=5), Some(c)) => Ok(Command::Rate { score, comment: Some(c).filter(|c| !c.is_empty()) }),
        _ => Err("Выберите оценку от 1 до 5; комментарий — не длиннее 2000 символов."),
    };
    citizen_command(&state, ip, &source, &token, cmd).await
}

async fn rework(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Path((source, token)): Path<(String, String)>,
    Form(f): Form<TextForm>,
) -> Response {
    let cmd = trimmed(&f.comment, 5, 4000)
        .map(|c| Command::Reopen { reason: format!("Заявитель вернул на доработку: {c}") })
        .ok_or("Опишите, что осталось нерешённым (от 5 до 4000 символов).");
    citizen_command(&state, ip, &source, &token, cmd).await
}

async fn reply(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Path((source, token)): Path<(String, String)>,
    Form(f): Form<TextForm>,
) -> Response {
    let cmd = trimmed(&f.text, 2, 4000)
        .map(|t| Command::Resume { note: Some(format!("Ответ заявителя: {t}")) })
        .ok_or("Напишите ответ (от 2 до 4000 символов).");
    citizen_command(&state, ip, &source, &token, cmd).await
}

async fn file(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    let valid = name.len() <= 40 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.');
    let found = if valid { state.workflow.store().file(&name).await.ok().flatten() } else { None };
    match found {
        Some(f) => (
            [
                (header::CONTENT_TYPE, f.content_type),
                (header::CACHE_CONTROL, "private, max-age=86400".to_string()),
                (header::CONTENT_DISPOSITION, "inline".to_string()),
            ],
            f.bytes,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_recognised_by_their_bytes_not_their_names() {
        assert_eq!(sniff_image(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0]).map(|x| x.0), Some("image/jpeg"));
        assert_eq!(sniff_image(b"\x89PNG\r\n\x1a\n....").map(|x| x.0), Some("image/png"));
        assert_eq!(sniff_image(b"RIFF\0\0\0\0WEBPVP8 ").map(|x| x.0), Some("image/webp"));
        assert_eq!(sniff_image(b"<svg onload=alert(1)>"), None);
        assert_eq!(sniff_image(b"GIF89a"), None);
    }

    #[test]
    fn coordinates_accept_commas_and_refuse_nonsense() {
        assert_eq!(parse_coord(" 52,6 ", 90.0), Some(Ok(52.6)));
        assert_eq!(parse_coord("", 90.0), None);
        assert_eq!(parse_coord("91", 90.0), Some(Err(())));
        assert_eq!(parse_coord("NaN", 90.0), Some(Err(())));
    }

    #[test]
    fn the_limiter_lets_a_burst_through_then_stops() {
        let l = PublicLimiter::default();
        let ip = IpAddr::from([10, 0, 0, 1]);
        assert!((0..10).all(|_| l.check(ip)));
        assert!(!l.check(ip));
        assert!(l.check(IpAddr::from([10, 0, 0, 2])));
    }
}
