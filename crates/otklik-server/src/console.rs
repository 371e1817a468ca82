//! The operator console: server-rendered pages in Russian (askama, with htmx for partial updates
//! and server-sent events for live changes) over the same workflow and scope as the JSON API.

use std::collections::HashMap;
use std::convert::Infallible;
use std::time::Duration;

use askama::Template;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::{DateTime, Utc};
use otklik_core::access::Actor;
use otklik_core::model::{
    AnswerKind, AnswerState, Attachment, Channel, Id, Incident, IncidentDetail, Kind, RejectReason, ReworkReason, Role,
    TerritoryLevel,
};
use otklik_core::status::{Action, Status};
use otklik_core::store::SortKey;
use otklik_core::workflow::{Catalog, Command};
use serde::Deserialize;

mod admin_forms;
mod calendar_form;

use crate::api::ListParams;
use crate::app::AppState;
use crate::auth::{Auth, Via};
use crate::labels;

/// The console routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/queue") }))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/queue", get(queue_page))
        .route("/queue/rows", get(queue_rows))
        .route("/queue/counts", get(queue_counts))
        .route("/review", get(review_page))
        .route("/overview", get(overview_page))
        .route("/admin", get(admin_page))
        .route("/admin/users", post(create_user))
        .route("/admin/users/{id}/active", post(set_active))
        .route("/admin/users/{id}/grants", post(admin_forms::grants))
        .route("/admin/edit/{what}", get(admin_forms::edit_page).post(admin_forms::save))
        .route("/admin/edit/{what}/delete", post(admin_forms::remove))
        .route("/admin/calendar/{year}", get(calendar_form::edit_page).post(calendar_form::save))
        .route("/admin/calendar/{year}/restore", post(calendar_form::restore))
        .route("/admin/templates", post(admin_forms::create_template))
        .route("/admin/templates/{id}", post(admin_forms::update_template))
        .route("/admin/templates/{id}/delete", post(admin_forms::delete_template))
        .route("/incidents/{id}", get(card_page))
        .route("/incidents/{id}/act", post(act))
        .route("/events", get(events))
        .route("/assets/console.css", get(|| asset("text/css; charset=utf-8", include_str!("../assets/console.css"))))
        .route(
            "/assets/console.js",
            get(|| asset("text/javascript; charset=utf-8", include_str!("../assets/console.js"))),
        )
        .route(
            "/assets/vendor/htmx.min.js",
            get(|| asset("text/javascript; charset=utf-8", include_str!("../assets/vendor/htmx.min.js"))),
        )
}

async fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "public, max-age=3600")], body).into_response()
}

/// A console page: HTML with a strict content policy (every asset from this server).
fn page(status: StatusCode, html: Result<String, askama::Error>) -> Response {
    let Ok(body) = html else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "template error").into_response();
    };
    let mut res = (status, Html(body)).into_response();
    res.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
             form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        ),
    );
    res
}

/// The console's view of who is logged in; pages without a session go to the login page.
struct Console {
    auth: Auth,
    csrf: String,
}

impl axum::extract::FromRequestParts<AppState> for Console {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &AppState) -> Result<Self, Response> {
        let next = parts.uri.path_and_query().map(|p| p.as_str().to_string()).unwrap_or_else(|| "/queue".into());
        let htmx = parts.headers.contains_key("hx-request");
        // Console forms are plain HTML posts that carry the CSRF token as a field; the handlers
        // check it (`csrf_matches`). htmx requests carry it as the header as well.
        match crate::auth::authenticate(parts, state, false).await {
            Ok(auth) => match &auth.via {
                Via::Session { csrf_token, .. } => {
                    let csrf = csrf_token.clone();
                    Ok(Console { auth, csrf })
                }
                Via::Token { .. } => Err(StatusCode::FORBIDDEN.into_response()),
            },
            Err(e) if e.status == StatusCode::FORBIDDEN => Err(e.into_response()),
            Err(_) if htmx => {
                // htmx follows this header with a full page load of the login page.
                let mut r = StatusCode::UNAUTHORIZED.into_response();
                r.headers_mut().insert("hx-redirect", HeaderValue::from_static("/login"));
                Err(r)
            }
            Err(_) => Err(Redirect::to(&format!("/login?next={}", urlencode(&next))).into_response()),
        }
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// What the layout needs: the user, the CSRF token for htmx, and which sections to show.
struct Nav {
    user: String,
    csrf: String,
    section: &'static str,
    reviewer: bool,
    admin: bool,
}

impl Console {
    fn nav(&self, section: &'static str) -> Nav {
        let roles = self.auth.actor.roles();
        Nav {
            user: self.auth.user.display_name.clone(),
            csrf: self.csrf.clone(),
            section,
            reviewer: roles.iter().any(|r| matches!(r, Role::Admin | Role::RegionalCurator | Role::MunicipalOperator)),
            admin: self.auth.actor.is_admin(),
        }
    }
}

// ---------------------------------------------------------------- login

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    error: Option<&'a str>,
    next: &'a str,
    login: &'a str,
}

#[derive(Debug, Deserialize)]
struct NextQuery {
    next: Option<String>,
}

/// Only local paths are followed after login (no open redirect).
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n,
        _ => "/queue",
    }
}

async fn login_page(Query(q): Query<NextQuery>) -> Response {
    page(StatusCode::OK, LoginPage { error: None, next: safe_next(q.next.as_deref()), login: "" }.render())
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    login: String,
    password: String,
    next: Option<String>,
}

async fn login(State(state): State<AppState>, Form(f): Form<LoginForm>) -> Response {
    let next = safe_next(f.next.as_deref()).to_string();
    match crate::auth::open_session(&state, f.login.trim(), &f.password).await {
        Ok(s) => {
            let cookie = crate::api::session_cookie(&s.token, s.max_age_secs, state.settings.secure_cookies);
            let mut r = Redirect::to(&next).into_response();
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r
        }
        Err(e) => {
            let msg = if e.status == StatusCode::UNAUTHORIZED {
                "Неверный логин или пароль."
            } else {
                "Вход сейчас невозможен."
            };
            page(StatusCode::UNAUTHORIZED, LoginPage { error: Some(msg), next: &next, login: f.login.trim() }.render())
        }
    }
}

#[derive(Debug, Deserialize)]
struct CsrfForm {
    #[serde(rename = "_csrf")]
    csrf: String,
}

async fn logout(State(state): State<AppState>, headers: HeaderMap, Form(f): Form<CsrfForm>) -> Response {
    // The form carries the token (the header is for htmx): check it against the session.
    let cookie = crate::auth::cookie_in(&headers, crate::auth::SESSION_COOKIE);
    if let Some(c) = cookie {
        let hash = crate::auth::token_hash(c);
        let store = state.workflow.store();
        if let Ok(Some(s)) = store.session(&hash).await
            && s.csrf_token == f.csrf
        {
            let _ = store.delete_session(&hash).await;
        }
    }
    let mut r = Redirect::to("/login").into_response();
    if let Ok(v) = HeaderValue::from_str(&crate::api::session_cookie("", 0, state.settings.secure_cookies)) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

// ---------------------------------------------------------------- queue

struct Choice {
    code: String,
    name: String,
}

/// The filters as typed (strings, so the form shows them back).
#[derive(Debug, Clone, Default, Deserialize)]
struct Filters {
    #[serde(default)]
    status: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    territory: String,
    #[serde(default)]
    org: String,
    #[serde(default)]
    channel: String,
    #[serde(default)]
    due: String,
    #[serde(default)]
    urgent: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    sort: String,
    #[serde(default)]
    cursor: String,
}

const OPEN: &[Status] = &[
    Status::New,
    Status::Moderated,
    Status::Assigned,
    Status::InWork,
    Status::Review,
    Status::Rework,
    Status::Approved,
    Status::Deferred,
    Status::WaitingCitizen,
];

impl Filters {
    fn params(&self) -> ListParams {
        let status = match self.status.as_str() {
            "" => Some(OPEN.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",")),
            "all" => None,
            s => Some(s.to_string()),
        };
        ListParams {
            status,
            territory: Some(self.territory.clone()),
            category: Some(self.category.clone()),
            org: Some(self.org.clone()),
            channel: Channel::parse(&self.channel),
            urgent: self.urgent.parse().ok(),
            overdue: match self.due.as_str() {
                "overdue" => Some(true),
                "ontime" => Some(false),
                _ => None,
            },
            q: Some(self.q.clone()),
            sort: Some(match self.sort.as_str() {
                "created_desc" => SortKey::CreatedDesc,
                "updated_desc" => SortKey::UpdatedDesc,
                _ => SortKey::DueAsc,
            }),
            cursor: Some(self.cursor.clone()).filter(|c| !c.is_empty()),
            limit: Some(50),
            ..Default::default()
        }
    }

    /// The query string of these filters, for links (without the cursor).
    fn query(&self) -> String {
        let pairs = [
            ("status", &self.status),
            ("category", &self.category),
            ("territory", &self.territory),
            ("org", &self.org),
            ("channel", &self.channel),
            ("due", &self.due),
            ("urgent", &self.urgent),
            ("q", &self.q),
            ("sort", &self.sort),
        ];
        pairs
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{k}={}", urlencode(v)))
            .collect::<Vec<_>>()
            .join("&")
    }
}

struct Row {
    id: Id,
    summary: String,
    status: &'static str,
    status_code: &'static str,
    channel: &'static str,
    channel_name: &'static str,
    category: String,
    territory: String,
    org: String,
    due: String,
    overdue: bool,
    urgent: bool,
}

#[derive(Template)]
#[template(path = "queue_rows.html")]
struct RowsPart {
    rows: Vec<Row>,
    next: Option<String>,
}

#[derive(Template)]
#[template(path = "queue.html")]
struct QueuePage<'a> {
    nav: Nav,
    f: &'a Filters,
    statuses: Vec<Choice>,
    categories: Vec<Choice>,
    territories: Vec<Choice>,
    orgs: Vec<Choice>,
    channels: Vec<Choice>,
    rows: Vec<Row>,
    next: Option<String>,
}

fn channel_name(c: Channel) -> &'static str {
    match c {
        Channel::Vk => "ВК",
        Channel::Ok => "ОК",
        Channel::Telegram => "Telegram",
        Channel::Web => "Форма",
        Channel::Open311 => "Open311",
        Channel::Email => "Почта",
        Channel::Max => "MAX",
        Channel::Api => "API",
    }
}

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Complaint => "жалоба",
        Kind::Question => "вопрос",
        Kind::Suggestion => "предложение",
        Kind::Gratitude => "благодарность",
        Kind::Other => "не инцидент",
    }
}

/// "через 3 ч 20 мин" / "просрочено на 2 д 4 ч".
fn span_words(secs: i64) -> String {
    let s = secs.abs();
    let (d, h, m) = (s / 86_400, (s % 86_400) / 3600, (s % 3600) / 60);
    let text = if d > 0 {
        format!("{d} д {h} ч")
    } else if h > 0 {
        format!("{h} ч {m} мин")
    } else {
        format!("{m} мин")
    };
    if secs < 0 { format!("просрочено на {text}") } else { format!("через {text}") }
}

fn fmt_at(catalog: &Catalog, territory: Option<&str>, t: DateTime<Utc>) -> String {
    t.with_timezone(&catalog.zone_of(territory)).format("%d.%m.%Y %H:%M").to_string()
}

fn row(catalog: &Catalog, i: &Incident, now: DateTime<Utc>) -> Row {
    let place = i.territory.as_deref().or(i.municipality.as_deref());
    let due = i.next_due();
    Row {
        id: i.id,
        summary: i.summary.clone(),
        status: labels::status(i.status),
        status_code: i.status.as_str(),
        channel: i.channel.as_str(),
        channel_name: channel_name(i.channel),
        category: i.category.as_deref().map(|c| category_name(catalog, c)).unwrap_or_default(),
        territory: place.and_then(|t| catalog.hierarchy.territory(t)).map(|t| t.name.clone()).unwrap_or_default(),
        org: i.org.as_deref().and_then(|o| catalog.hierarchy.org(o)).map(|o| o.name.clone()).unwrap_or_default(),
        due: match due {
            Some(d) if !i.status.is_terminal() => {
                format!("{} ({})", fmt_at(catalog, place, d), span_words((d - now).num_seconds()))
            }
            _ => String::new(),
        },
        overdue: i.is_overdue(now),
        urgent: i.urgent,
    }
}

fn category_name(catalog: &Catalog, code: &str) -> String {
    catalog.categories.get(code).map(|c| c.name.clone()).unwrap_or_else(|| code.to_string())
}

async fn load_rows(state: &AppState, c: &Console, f: &Filters) -> Result<(Vec<Row>, Option<String>), Response> {
    let q = crate::api::incident_query(state, &f.params()).map_err(|e| (e.status, e.message).into_response())?;
    let catalog = state.workflow.catalog();
    let scope = c.auth.actor.scope(&catalog.hierarchy);
    let page = state.workflow.store().list_incidents(&q, &scope).await.map_err(|e| {
        tracing::error!(error = %e, "queue");
        StatusCode::INTERNAL_SERVER_ERROR.into_response()
    })?;
    let now = state.workflow.now();
    let rows = page.items.iter().map(|i| row(&catalog, i, now)).collect();
    let next = page.next.map(|n| {
        let base = f.query();
        let cursor = format!("cursor={}", urlencode(&n.encode()));
        if base.is_empty() { cursor } else { format!("{base}&{cursor}") }
    });
    Ok((rows, next))
}

/// The territories and organisations a user can filter by: those of their scope.
fn scope_choices(catalog: &Catalog, actor: &Actor) -> (Vec<Choice>, Vec<Choice>) {
    let h = &catalog.hierarchy;
    let mut territories: Vec<Choice> = h
        .territory_codes()
        .iter()
        .filter_map(|c| h.territory(c))
        .filter(|t| t.level != TerritoryLevel::Settlement)
        .filter(|t| {
            actor.is_admin()
                || actor.grants.iter().any(|g| g.node.as_deref().is_some_and(|n| h.territory_within(&t.code, n)))
        })
        .map(|t| Choice {
            code: t.code.clone(),
            name: if t.level == TerritoryLevel::Region { t.name.clone() } else { format!("— {}", t.name) },
        })
        .collect();
    territories.sort_by(|a, b| a.code.cmp(&b.code));
    // Organisations in the user's territories, and the user's own organisations.
    let mut orgs: Vec<Choice> = h
        .organisations()
        .filter(|o| {
            actor.is_admin()
                || actor
                    .grants
                    .iter()
                    .any(|g| g.node.as_deref().is_some_and(|n| n == o.code || h.territory_within(&o.territory, n)))
        })
        .map(|o| Choice { code: o.code.clone(), name: o.name.clone() })
        .collect();
    orgs.sort_by(|a, b| a.name.cmp(&b.name));
    (territories, orgs)
}

async fn queue_page(State(state): State<AppState>, c: Console, Query(f): Query<Filters>) -> Response {
    let (rows, next) = match load_rows(&state, &c, &f).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let catalog = state.workflow.catalog();
    let (territories, orgs) = scope_choices(&catalog, &c.auth.actor);
    let mut categories: Vec<Choice> = catalog
        .categories
        .values()
        .filter(|c| c.level() == 1)
        .map(|c| Choice { code: c.code.clone(), name: c.name.clone() })
        .collect();
    categories.sort_by(|a, b| a.name.cmp(&b.name));
    let statuses = Status::ALL
        .iter()
        .map(|s| Choice { code: s.as_str().to_string(), name: labels::status(*s).to_string() })
        .collect();
    let channels = [Channel::Vk, Channel::Ok, Channel::Telegram, Channel::Web, Channel::Open311, Channel::Api]
        .iter()
        .map(|c| Choice { code: c.as_str().to_string(), name: channel_name(*c).to_string() })
        .collect();
    let t = QueuePage { nav: c.nav("queue"), f: &f, statuses, categories, territories, orgs, channels, rows, next };
    page(StatusCode::OK, t.render())
}

async fn queue_rows(State(state): State<AppState>, c: Console, Query(f): Query<Filters>) -> Response {
    match load_rows(&state, &c, &f).await {
        Ok((rows, next)) => {
            let mut r = page(StatusCode::OK, RowsPart { rows, next }.render());
            // The address keeps the filters (reload, back, a shared link), without new history entries.
            let q = f.query();
            let url = if q.is_empty() { "/queue".to_string() } else { format!("/queue?{q}") };
            if let Ok(v) = HeaderValue::from_str(&url) {
                r.headers_mut().insert("hx-replace-url", v);
            }
            r
        }
        Err(r) => r,
    }
}

/// Counters of the queue: open, overdue, urgent, in review — each a link to its queue.
async fn queue_counts(State(state): State<AppState>, c: Console, Query(f): Query<Filters>) -> Response {
    let catalog = state.workflow.catalog();
    let scope = c.auth.actor.scope(&catalog.hierarchy);
    let store = state.workflow.store();
    let base = Filters { status: String::new(), due: String::new(), urgent: String::new(), cursor: String::new(), ..f };
    let variants: [(&str, Filters); 4] = [
        ("Открыто", base.clone()),
        ("Просрочено", Filters { due: "overdue".into(), ..base.clone() }),
        ("Срочных", Filters { urgent: "true".into(), ..base.clone() }),
        ("На проверке", Filters { status: "review".into(), ..base.clone() }),
    ];
    let mut counts = Vec::new();
    for (label, v) in variants {
        let Ok(q) = crate::api::incident_query(&state, &v.params()) else { continue };
        let n = store.count_incidents(&q, &scope).await.unwrap_or(0);
        counts.push((label, n, v.query()));
    }
    page(StatusCode::OK, CountsPart { counts }.render())
}

#[derive(Template)]
#[template(path = "queue_counts.html")]
struct CountsPart {
    counts: Vec<(&'static str, u64, String)>,
}

// ---------------------------------------------------------------- live updates

/// The newest change in the store: (time, incident).
pub type Newest = Option<(DateTime<Utc>, Id)>;

async fn newest_change(wf: &otklik_core::workflow::Workflow) -> Option<Newest> {
    let everything = otklik_core::access::ScopeFilter { all: true, ..Default::default() };
    let q = otklik_core::store::IncidentQuery { sort: SortKey::UpdatedDesc, limit: 1, ..Default::default() };
    let p = wf.store().list_incidents(&q, &everything).await.ok()?;
    Some(p.items.first().map(|i| (i.updated_at, i.id)))
}

/// Server-sent events: `changed` whenever any incident changes after the stream opened (the
/// page then reloads what it shows, within its own scope).
async fn events(
    State(state): State<AppState>,
    _c: Console,
) -> Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>> {
    let rx = state.changes.get_or_init(|| async { watch_changes(state.workflow.clone()) }).await.clone();
    let seen = newest_change(&state.workflow).await.flatten();
    let stream = futures_util::stream::unfold((rx, seen), |(mut rx, mut seen)| async move {
        loop {
            rx.changed().await.ok()?;
            let now = *rx.borrow_and_update();
            if now > seen {
                seen = now;
                return Some((Ok(Event::default().event("changed").data("1")), (rx, seen)));
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

/// One watcher per server for all open consoles: it reads the newest change every 2 s (so every
/// worker's writes count) and publishes it to the event streams.
fn watch_changes(wf: std::sync::Arc<otklik_core::workflow::Workflow>) -> tokio::sync::watch::Receiver<Newest> {
    let (tx, rx) = tokio::sync::watch::channel(None);
    tokio::spawn(async move {
        loop {
            if let Some(newest) = newest_change(&wf).await {
                tx.send_if_modified(|v| {
                    let moved = *v != newest;
                    *v = newest;
                    moved
                });
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    });
    rx
}

// ---------------------------------------------------------------- the incident card

struct MessageView {
    id: Id,
    channel: &'static str,
    source: String,
    author: String,
    at: String,
    url: Option<String>,
    text: String,
    photos: Vec<String>,
    links: Vec<(String, String)>,
    revisions: Vec<(String, String)>,
    thread: Option<String>,
}

struct AnswerView {
    kind: &'static str,
    state: &'static str,
    text: String,
    note: Option<String>,
    photos: Vec<String>,
    deliveries: Vec<(String, String, Option<String>)>,
}

struct EventView {
    at: String,
    actor: String,
    action: String,
    note: Option<String>,
    changes: String,
}

#[derive(Template)]
#[template(path = "incident.html")]
struct CardPage {
    nav: Nav,
    id: Id,
    version: i64,
    status: &'static str,
    status_code: &'static str,
    urgent: bool,
    kind: String,
    category: String,
    territory: String,
    confidence: String,
    sentiment: String,
    org: String,
    suggested: String,
    route_note: String,
    due: String,
    due_left: String,
    /// Formal appeals: registration, redirect and extension facts, in words.
    formal: Vec<(String, String)>,
    co_orgs: Vec<Choice>,
    overdue: bool,
    tags: String,
    messages: Vec<MessageView>,
    answers: Vec<AnswerView>,
    history: Vec<EventView>,
    actions: Vec<&'static str>,
    orgs: Vec<Choice>,
    kinds: Vec<Choice>,
    topics: Vec<Choice>,
    territories: Vec<Choice>,
    rework_reasons: Vec<Choice>,
    reject_reasons: Vec<Choice>,
    templates: Vec<(String, String)>,
    draft: String,
    draft_kind: String,
    error: Option<String>,
}

impl CardPage {
    fn button(&self, a: impl AsRef<str>) -> &'static str {
        action_button(a.as_ref())
    }
}

fn action_label(a: &str) -> String {
    match a {
        "intake" => "Получено".into(),
        "moderate" => "Проверено".into(),
        "assign" => "Назначено".into(),
        "take" => "Взято в работу".into(),
        "redirect" => "Переадресовано".into(),
        "draft_answer" => "Черновик ответа".into(),
        "submit_for_review" => "Отправлено на проверку".into(),
        "approve" => "Ответ согласован".into(),
        "return_for_rework" => "Возвращено на доработку".into(),
        "publish_intermediate" => "Опубликован промежуточный ответ".into(),
        "publish_final" => "Опубликован ответ".into(),
        "close" => "Закрыто".into(),
        "reopen" => "Возобновлено".into(),
        "reject" => "Отклонено".into(),
        "defer" => "Отложено".into(),
        "resume" => "Возобновлена работа".into(),
        "tag" => "Метки".into(),
        "ask_citizen" => "Вопрос заявителю".into(),
        "auto_close" => "Закрыто автоматически".into(),
        "rate" => "Оценка заявителя".into(),
        "merge" => "Объединено как дубликат".into(),
        "extend" => "Срок ответа продлён".into(),
        "add_co_executor" => "Привлечён соисполнитель".into(),
        "remove_co_executor" => "Соисполнитель снят".into(),
        "contribute" => "Вклад в ответ".into(),
        "merged" => "Присоединён дубликат".into(),
        "split" => "Сообщение выделено в отдельное обращение".into(),
        "split_from" => "Выделено из другого обращения".into(),
        "deadline_warning" => "Срок подходит".into(),
        "deadline_breach" => "Срок нарушен".into(),
        "escalate" => "Эскалация".into(),
        other => other.replace('_', " "),
    }
}

/// The label of an action's button.
pub fn action_button(a: &str) -> &'static str {
    match a {
        "assign" => "Назначить",
        "take" => "Взять в работу",
        "redirect" => "Переадресовать",
        "submit_for_review" => "Отправить на проверку",
        "approve" => "Согласовать ответ",
        "return_for_rework" => "Вернуть на доработку",
        "publish" => "Опубликовать ответ",
        "close" => "Закрыть",
        "reopen" => "Возобновить",
        "reject" => "Отклонить",
        "defer" => "Отложить",
        "resume" => "Продолжить работу",
        "ask_citizen" => "Задать вопрос заявителю",
        "merge" => "Объединить как дубликат",
        "extend" => "Продлить срок ответа",
        "add_co_executor" => "Привлечь соисполнителя",
        "remove_co_executor" => "Снять соисполнителя",
        "contribute" => "Добавить вклад в ответ",
        "split" => "Выделить в отдельное обращение",
        _ => "Выполнить",
    }
}

fn rework_reason_name(r: ReworkReason) -> &'static str {
    match r {
        ReworkReason::Formal => "Формальный ответ",
        ReworkReason::NoDeadline => "Не указан срок",
        ReworkReason::NoProof => "Нет подтверждения (фото)",
        ReworkReason::LegalReferences => "Ссылки на нормы вместо ответа",
        ReworkReason::Contradictory => "Противоречивый ответ",
        ReworkReason::Other => "Другое (с комментарием)",
    }
}

fn reject_reason_name(r: RejectReason) -> &'static str {
    match r {
        RejectReason::NotIncident => "Не инцидент",
        RejectReason::Spam => "Спам",
        RejectReason::Obscene => "Нецензурное",
        RejectReason::NotCompetent => "Не в компетенции",
        RejectReason::Duplicate => "Дубликат",
        RejectReason::Other => "Другое",
    }
}

async fn card(state: &AppState, c: &Console, id: Id, error: Option<String>) -> Response {
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let inc = match state.workflow.visible_incident(&c.auth.actor, id).await {
        Ok(i) => i,
        Err(_) => return not_found(c),
    };
    let Ok(Some(d)) = state.workflow.store().incident_detail(id).await else {
        return not_found(c);
    };
    // Cards show citizens' personal data: every read is logged.
    tracing::info!(target: "otklik::audit", user = c.auth.user.id, incident = id, "incident card read (console)");
    let catalog = state.workflow.catalog();
    let allowed = state.workflow.allowed_actions(&c.auth.actor, &inc);
    // Only the answer editor uses the templates.
    let templates = if allowed.contains(&Action::DraftAnswer) {
        state.workflow.store().answer_templates().await.unwrap_or_else(|e| {
            tracing::error!(error = %e, "answer templates");
            vec![]
        })
    } else {
        vec![]
    };
    page(status, card_view(state, c, &catalog, d, &allowed, &templates, error).render())
}

fn not_found(c: &Console) -> Response {
    let t = NotFound { nav: c.nav("queue") };
    page(StatusCode::NOT_FOUND, t.render())
}

#[derive(Template)]
#[template(path = "console_not_found.html")]
struct NotFound {
    nav: Nav,
}

fn card_view(
    state: &AppState,
    c: &Console,
    catalog: &Catalog,
    d: IncidentDetail,
    allowed: &[Action],
    templates: &[otklik_core::model::AnswerTemplate],
    error: Option<String>,
) -> CardPage {
    let i = &d.incident;
    let place = i.territory.as_deref().or(i.municipality.as_deref());
    let at = |t: DateTime<Utc>| fmt_at(catalog, place, t);
    let now = state.workflow.now();
    let due = i.next_due();
    let due_left = match due {
        Some(d) if !i.status.is_terminal() => {
            let clock = catalog.clockwork(place, i.org.as_deref());
            let secs = if d >= now { clock.working_seconds(now, d) } else { -clock.working_seconds(d, now) };
            format!("{} рабочего времени", span_words(secs))
        }
        _ => String::new(),
    };
    let org_name = |o: &str| catalog.hierarchy.org(o).map(|o| o.name.clone()).unwrap_or_else(|| o.to_string());
    let source_name = |ch: Channel, key: &str| {
        catalog.sources.get(&(ch, key.to_string())).map(|s| s.name.clone()).unwrap_or_else(|| key.to_string())
    };
    let messages = d
        .messages
        .iter()
        .map(|m| MessageView {
            id: m.id,
            channel: channel_name(m.body.channel),
            source: source_name(m.body.channel, &m.body.source),
            author: m.body.author.name.clone().unwrap_or_else(|| m.body.author.id.clone()),
            at: at(m.body.published_at),
            // Only web links are offered (never javascript: or data:).
            url: m.body.url.clone().filter(|u| u.starts_with("https://") || u.starts_with("http://")),
            text: m.body.text.clone(),
            photos: m
                .body
                .attachments
                .iter()
                .filter(|a| a.kind == "photo" && a.url.starts_with("/files/"))
                .map(|a| a.url.clone())
                .collect(),
            links: m
                .body
                .attachments
                .iter()
                .filter(|a| !(a.kind == "photo" && a.url.starts_with("/files/")))
                .filter(|a| a.url.starts_with("https://") || a.url.starts_with("http://"))
                .map(|a| (a.kind.clone(), a.url.clone()))
                .collect(),
            revisions: m
                .revisions
                .iter()
                .map(|r| {
                    let what = match r.kind {
                        otklik_core::model::RevisionKind::Edit => "изменено",
                        otklik_core::model::RevisionKind::Delete => "удалено автором",
                    };
                    (format!("{} {what}", at(r.at)), r.text.clone().unwrap_or_default())
                })
                .collect(),
            thread: m.body.thread_id.clone(),
        })
        .collect();
    let open_draft = d.answers.iter().rev().find(|a| matches!(a.state, AnswerState::Draft | AnswerState::Returned));
    let answers = d
        .answers
        .iter()
        .map(|a| AnswerView {
            kind: if a.kind == AnswerKind::Intermediate {
                "Промежуточный"
            } else {
                "Окончательный"
            },
            state: match a.state {
                AnswerState::Draft => "черновик",
                AnswerState::Review => "на проверке",
                AnswerState::Returned => "возвращён на доработку",
                AnswerState::Approved => "согласован",
                AnswerState::Published => "опубликован",
            },
            text: a.text.clone(),
            // Why it was returned matters while it is being reworked, not once it is out.
            note: a.return_reason.filter(|_| !matches!(a.state, AnswerState::Approved | AnswerState::Published)).map(
                |r| {
                    format!(
                        "{}{}",
                        rework_reason_name(r),
                        a.return_comment.as_deref().map(|c| format!(": {c}")).unwrap_or_default()
                    )
                },
            ),
            photos: a.attachments.iter().filter(|x| x.kind == "photo").map(|x| x.url.clone()).collect(),
            deliveries: a
                .publications
                .iter()
                .map(|p| {
                    let state = match p.state {
                        otklik_core::model::PublicationState::Pending => "ожидает отправки",
                        otklik_core::model::PublicationState::Sent => "отправлен",
                        otklik_core::model::PublicationState::Failed => "повтор после ошибки",
                        otklik_core::model::PublicationState::Dead => "не доставлен",
                    };
                    (channel_name(p.channel).to_string(), state.to_string(), p.last_error.clone())
                })
                .collect(),
        })
        .collect();
    let history = d
        .history
        .iter()
        .map(|e| EventView {
            at: at(e.at),
            actor: if e.actor == "system" { "система".to_string() } else { e.actor.clone() },
            action: action_label(&e.action),
            note: e.note.clone(),
            changes: e
                .changes
                .iter()
                .filter_map(|ch| change_words(catalog, &ch.field, &ch.before, &ch.after))
                .collect::<Vec<_>>()
                .join("; "),
        })
        .collect();
    // Any organisation may be chosen for routing; the workflow checks the move itself.
    let (territories, orgs) = scope_choices(catalog, &Actor::system());
    let mut topics: Vec<Choice> = catalog
        .categories
        .values()
        .map(|c| Choice { code: c.code.clone(), name: format!("{}{}", "  ".repeat(c.level() - 1), c.name) })
        .collect();
    topics.sort_by(|a, b| a.code.cmp(&b.code));
    let conf = i.confidence.map(|c| {
        format!(
            "вид {:.0} %, направление {:.0} %, территория {:.0} %",
            c.kind * 100.0,
            c.category * 100.0,
            c.territory * 100.0
        )
    });
    let deadline_text = due.map(at).unwrap_or_default();
    let templates = templates
        .iter()
        .map(|t| {
            let (name, text) = (&t.body.name, &t.body.text);
            let filled = text
                .replace("{номер}", &i.id.to_string())
                .replace("{организация}", &i.org.as_deref().map(org_name).unwrap_or_default())
                .replace("{срок}", &deadline_text)
                .replace("{адрес}", "…");
            (name.to_string(), filled)
        })
        .collect();
    CardPage {
        nav: c.nav("queue"),
        id: i.id,
        version: i.version,
        status: labels::status(i.status),
        status_code: i.status.as_str(),
        urgent: i.urgent,
        kind: i.kind.map(kind_name).unwrap_or("—").to_string(),
        category: i.category.as_deref().map(|x| category_name(catalog, x)).unwrap_or_else(|| "—".into()),
        territory: place
            .and_then(|t| catalog.hierarchy.territory(t))
            .map(|t| t.full_name.clone())
            .unwrap_or_else(|| "—".into()),
        confidence: conf.unwrap_or_default(),
        sentiment: match i.sentiment {
            Some(otklik_core::model::Sentiment::Negative) => "негативная",
            Some(otklik_core::model::Sentiment::Positive) => "позитивная",
            Some(otklik_core::model::Sentiment::Neutral) => "нейтральная",
            None => "—",
        }
        .to_string(),
        org: i.org.as_deref().map(org_name).unwrap_or_else(|| "не назначен".into()),
        suggested: i.suggested_org.as_deref().map(org_name).unwrap_or_default(),
        route_note: i.route_note.clone().unwrap_or_default(),
        due: deadline_text,
        due_left,
        formal: {
            let mut v = Vec::new();
            if let Some(r) = i.registration_due {
                let done = i.status != Status::New;
                v.push(("Регистрация".to_string(), format!("до {}{}", at(r), if done { " — выполнена" } else { "" })));
            }
            if let Some(r) = i.redirect_due {
                v.push(("Переадресация по компетенции".to_string(), format!("до {}", at(r))));
            }
            if let Some(e) = i.extended_at {
                v.push(("Срок продлён".to_string(), at(e)));
            }
            v
        },
        co_orgs: i.co_orgs.iter().map(|o| Choice { code: o.clone(), name: org_name(o) }).collect(),
        overdue: i.is_overdue(now),
        tags: i.tags.join(", "),
        messages,
        answers,
        history,
        // The two publications are one button: the answer's kind decides which it is.
        actions: {
            let mut v: Vec<&'static str> = allowed
                .iter()
                .filter(|a| **a != Action::RemoveCoExecutor || !i.co_orgs.is_empty())
                .map(|a| match a {
                    Action::PublishIntermediate | Action::PublishFinal => "publish",
                    other => other.as_str(),
                })
                .collect();
            v.dedup();
            v
        },
        orgs,
        kinds: [Kind::Complaint, Kind::Question, Kind::Suggestion, Kind::Gratitude, Kind::Other]
            .iter()
            .map(|k| Choice { code: k.as_str().to_string(), name: kind_name(*k).to_string() })
            .collect(),
        topics,
        territories,
        rework_reasons: ReworkReason::ALL
            .iter()
            .map(|r| Choice { code: r.as_str().to_string(), name: rework_reason_name(*r).to_string() })
            .collect(),
        reject_reasons: RejectReason::ALL
            .iter()
            .map(|r| Choice { code: r.as_str().to_string(), name: reject_reason_name(*r).to_string() })
            .collect(),
        templates,
        draft: open_draft.map(|a| a.text.clone()).unwrap_or_default(),
        draft_kind: open_draft.map(|a| a.kind.as_str().to_string()).unwrap_or_else(|| "final".into()),
        error,
    }
}

/// A change of the history in words, or `None` for bookkeeping a person need not read.
fn change_words(
    catalog: &Catalog,
    field: &str,
    before: &serde_json::Value,
    after: &serde_json::Value,
) -> Option<String> {
    let text = |v: &serde_json::Value| v.as_str().map(str::to_string);
    let named = |v: &serde_json::Value, f: &dyn Fn(&str) -> Option<String>| -> String {
        text(v).and_then(|c| f(&c).or(Some(c))).unwrap_or_else(|| short(v))
    };
    let status = |c: &str| Status::parse(c).map(|s| labels::status(s).to_string());
    let org = |c: &str| catalog.hierarchy.org(c).map(|o| o.name.clone());
    let category = |c: &str| catalog.categories.get(c).map(|x| x.name.clone());
    let territory = |c: &str| catalog.hierarchy.territory(c).map(|t| t.name.clone());
    let kind = |c: &str| Kind::parse(c).map(|k| kind_name(k).to_string());
    let plain = |_: &str| None;
    type Namer<'a> = &'a dyn Fn(&str) -> Option<String>;
    let (label, f): (&str, Namer<'_>) = match field {
        "status" => ("статус", &status),
        "org" => ("исполнитель", &org),
        "suggested_org" => ("предложен исполнитель", &org),
        "category" => ("тема", &category),
        "territory" => ("территория", &territory),
        "kind" => ("вид", &kind),
        "urgent" => ("срочность", &plain),
        "tags" => ("метки", &plain),
        "rating" => ("оценка", &plain),
        "escalation_level" => ("уровень эскалации", &plain),
        "co_orgs" => {
            let names = |v: &serde_json::Value| {
                let list: Vec<String> = v
                    .as_array()
                    .map(|a| {
                        a.iter().filter_map(|x| x.as_str()).map(|c| org(c).unwrap_or_else(|| c.to_string())).collect()
                    })
                    .unwrap_or_default();
                if list.is_empty() { "—".to_string() } else { list.join(", ") }
            };
            return Some(format!("соисполнители: {} → {}", names(before), names(after)));
        }
        f if f.starts_with("answer.") && f.ends_with(".state") => ("ответ", &plain),
        f if f.starts_with("message.") => ("сообщение", &plain),
        _ => return None,
    };
    Some(format!("{label}: {} → {}", named(before, f), named(after, f)))
}

fn short(v: &serde_json::Value) -> String {
    let s = match v {
        serde_json::Value::Null => "—".to_string(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if s.chars().count() > 60 { format!("{}…", s.chars().take(60).collect::<String>()) } else { s }
}

async fn card_page(State(state): State<AppState>, c: Console, Path(id): Path<Id>) -> Response {
    card(&state, &c, id, None).await
}

/// Reads an action form (multipart, as it may carry photos) into a command.
async fn read_action(
    state: &AppState,
    auth: &Auth,
    mut mp: Multipart,
) -> Result<(Command, Option<i64>, Option<String>), String> {
    let mut fields: HashMap<String, String> = HashMap::new();
    let mut photos: Vec<Attachment> = Vec::new();
    while let Some(field) = mp.next_field().await.map_err(|e| e.body_text())? {
        let name = field.name().unwrap_or_default().to_string();
        if name == "photos" {
            if field.file_name().is_none_or(str::is_empty) {
                let _ = field.bytes().await;
                continue;
            }
            let bytes = field.bytes().await.map_err(|e| e.body_text())?;
            if bytes.is_empty() {
                continue;
            }
            if bytes.len() > crate::form::MAX_PHOTO_BYTES {
                return Err("Фотография больше 5 МБ.".into());
            }
            photos.push(crate::form::store_photo(state, bytes.to_vec()).await?);
            continue;
        }
        fields.insert(name, field.text().await.map_err(|e| e.body_text())?);
    }
    if !crate::auth::csrf_matches(auth, fields.get("_csrf").map(String::as_str).unwrap_or("")) {
        return Err("Форма устарела: обновите страницу и повторите.".into());
    }
    let get = |k: &str| fields.get(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let text = |k: &str| get(k).ok_or_else(|| format!("Заполните поле «{k}»."));
    let version = get("version").and_then(|v| v.parse().ok());
    let action = get("action").unwrap_or_default();
    let cmd = match action.as_str() {
        "moderate" => Command::Moderate {
            kind: get("kind").and_then(|k| Kind::parse(&k)),
            category: get("category"),
            territory: get("territory"),
            urgent: Some(fields.contains_key("urgent")),
            note: get("note"),
        },
        "assign" => Command::Assign { org: get("org"), note: get("note") },
        "take" => Command::Take { note: get("note") },
        "redirect" => Command::Redirect { org: text("org")?, reason: text("reason")? },
        "draft_answer" => Command::DraftAnswer {
            kind: get("kind").and_then(|k| AnswerKind::parse(&k)).unwrap_or(AnswerKind::Final),
            text: text("text")?,
            attachments: photos,
        },
        "submit_for_review" => Command::SubmitForReview { note: get("note") },
        "approve" => Command::Approve { note: get("note") },
        "return_for_rework" => Command::ReturnForRework {
            reason: get("reason").and_then(|r| ReworkReason::parse(&r)).ok_or("Выберите причину возврата.")?,
            comment: get("comment"),
        },
        "publish" => Command::Publish { note: get("note") },
        "close" => Command::Close { note: get("note") },
        "reopen" => Command::Reopen { reason: text("reason")? },
        "reject" => Command::Reject {
            reason: get("reason").and_then(|r| RejectReason::parse(&r)).ok_or("Выберите причину отклонения.")?,
            comment: get("comment"),
        },
        "defer" => Command::Defer { reason: text("reason")? },
        "resume" => Command::Resume { note: get("note") },
        "ask_citizen" => Command::AskCitizen { question: text("question")? },
        "merge" => Command::Merge {
            into: get("into")
                .and_then(|v| v.trim_start_matches('№').trim().parse().ok())
                .ok_or("Укажите номер обращения, с которым объединить.")?,
            note: get("note"),
        },
        "extend" => Command::Extend { reason: text("reason")? },
        "add_co_executor" => Command::AddCoExecutor { org: text("org")?, note: get("note") },
        "remove_co_executor" => Command::RemoveCoExecutor { org: text("org")? },
        "contribute" => Command::Contribute { text: text("text")? },
        "split" => Command::Split {
            message: get("message").and_then(|v| v.parse().ok()).ok_or("Выберите сообщение, которое выделить.")?,
            note: get("note"),
        },
        "tag" => {
            Command::Tag { tags: get("tags").unwrap_or_default().split(',').map(|t| t.trim().to_string()).collect() }
        }
        _ => return Err("Неизвестное действие.".into()),
    };
    let back = get("back").filter(|b| safe_next(Some(b)) == b);
    Ok((cmd, version, back))
}

/// Runs one action from the card and shows the card again (with the error, if refused).
async fn act(State(state): State<AppState>, c: Console, Path(id): Path<Id>, mp: Multipart) -> Response {
    let (mut cmd, version, back) = match read_action(&state, &c.auth, mp).await {
        Ok(x) => x,
        Err(e) => return card(&state, &c, id, Some(e)).await,
    };
    // A new draft without new photos keeps the photos already attached to the draft.
    if let Command::DraftAnswer { attachments, .. } = &mut cmd
        && attachments.is_empty()
        && let Ok(answers) = state.workflow.store().answers(id).await
        && let Some(open) = answers.iter().rev().find(|a| matches!(a.state, AnswerState::Draft | AnswerState::Returned))
    {
        attachments.clone_from(&open.attachments);
    }
    // A split opens the new incident's card: it is the one that needs moderation and routing now.
    let done = match cmd {
        Command::Split { message, note } => {
            state.workflow.split(&c.auth.actor, id, version, message, note).await.map(|o| Some(o.created.id))
        }
        cmd => state.workflow.execute(&c.auth.actor, id, version, cmd).await.map(|_| None),
    };
    match done {
        Ok(Some(created)) => Redirect::to(&format!("/incidents/{created}")).into_response(),
        Ok(None) => Redirect::to(&back.unwrap_or_else(|| format!("/incidents/{id}"))).into_response(),
        Err(e) => {
            let msg = match &e {
                otklik_core::DomainError::Split(r) => match r {
                    otklik_core::error::SplitRefusal::OnlyMessage => {
                        "Это единственное сообщение обращения: выделять нечего.".to_string()
                    }
                    otklik_core::error::SplitRefusal::NotInIncident => {
                        "Это сообщение не относится к обращению.".to_string()
                    }
                    otklik_core::error::SplitRefusal::Finished => {
                        "Обращение завершено: сообщения из него не выделяются.".to_string()
                    }
                },
                otklik_core::DomainError::Concurrent => {
                    "Обращение изменил кто-то другой: обновлены свежие данные, повторите действие.".to_string()
                }
                otklik_core::DomainError::InvalidTransition { .. } | otklik_core::DomainError::ForbiddenAction(_) => {
                    "Это действие сейчас недоступно.".to_string()
                }
                otklik_core::DomainError::Validation(m) => format!("Проверьте данные: {m}"),
                other => {
                    tracing::warn!(error = %other, "console action refused");
                    "Не удалось выполнить действие.".to_string()
                }
            };
            card(&state, &c, id, Some(msg)).await
        }
    }
}

// ---------------------------------------------------------------- review queue

struct ReviewItem {
    id: Id,
    summary: String,
    org: String,
    kind: &'static str,
    text: String,
    version: i64,
}

#[derive(Template)]
#[template(path = "review.html")]
struct ReviewPage {
    nav: Nav,
    items: Vec<ReviewItem>,
    reasons: Vec<Choice>,
}

async fn review_page(State(state): State<AppState>, c: Console) -> Response {
    let catalog = state.workflow.catalog();
    let scope = c.auth.actor.scope(&catalog.hierarchy);
    let q = otklik_core::store::IncidentQuery {
        statuses: vec![Status::Review],
        sort: SortKey::DueAsc,
        limit: 100,
        ..Default::default()
    };
    let store = state.workflow.store();
    let page_items = match store.list_incidents(&q, &scope).await {
        Ok(p) => p.items,
        Err(e) => {
            tracing::error!(error = %e, "review queue");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let mut items = Vec::new();
    for i in page_items {
        let answers = store.answers(i.id).await.unwrap_or_default();
        let Some(a) = answers.iter().rev().find(|a| a.state == AnswerState::Review) else { continue };
        items.push(ReviewItem {
            id: i.id,
            summary: i.summary.clone(),
            org: i.org.as_deref().and_then(|o| catalog.hierarchy.org(o)).map(|o| o.name.clone()).unwrap_or_default(),
            kind: if a.kind == AnswerKind::Intermediate {
                "Промежуточный ответ"
            } else {
                "Окончательный ответ"
            },
            text: a.text.clone(),
            version: i.version,
        });
    }
    let reasons = ReworkReason::ALL
        .iter()
        .map(|r| Choice { code: r.as_str().to_string(), name: rework_reason_name(*r).to_string() })
        .collect();
    page(StatusCode::OK, ReviewPage { nav: c.nav("review"), items, reasons }.render())
}

// ---------------------------------------------------------------- overview for heads

struct Bar {
    code: String,
    name: String,
    n: u64,
    late: u64,
    max: u64,
}

struct Count {
    code: &'static str,
    name: &'static str,
    n: u64,
}

#[derive(Template)]
#[template(path = "overview.html")]
struct OverviewPage {
    nav: Nav,
    periods: Vec<Choice>,
    period: String,
    period_text: &'static str,
    total: u64,
    overdue: u64,
    statuses: Vec<Count>,
    first_avg: String,
    first_median: String,
    close_avg: String,
    close_median: String,
    territories: Vec<Bar>,
    categories: Vec<Bar>,
}

#[derive(Debug, Deserialize)]
struct PeriodQuery {
    period: Option<String>,
}

/// "3 ч 20 мин" for an average or a median of seconds; a dash when there is nothing to measure.
fn duration_words(v: Option<i64>) -> String {
    v.map(|s| span_words(s).trim_start_matches("через ").to_string()).unwrap_or_else(|| "—".into())
}

fn mean_and_median(v: &mut [i64]) -> (Option<i64>, Option<i64>) {
    if v.is_empty() {
        return (None, None);
    }
    v.sort_unstable();
    let mean = v.iter().sum::<i64>() / v.len() as i64;
    let mid = v.len() / 2;
    let median = if v.len().is_multiple_of(2) { (v[mid - 1] + v[mid]) / 2 } else { v[mid] };
    (Some(mean), Some(median))
}

async fn overview_page(State(state): State<AppState>, c: Console, Query(q): Query<PeriodQuery>) -> Response {
    let catalog = state.workflow.catalog();
    let now = state.workflow.now();
    let zone = catalog.zone_of(None);
    let today = now.with_timezone(&zone).date_naive().and_hms_opt(0, 0, 0).unwrap_or_default();
    let midnight = today.and_local_timezone(zone).earliest().map(|t| t.with_timezone(&Utc)).unwrap_or(now);
    let period = q.period.unwrap_or_else(|| "7".into());
    let (since, period_text) = match period.as_str() {
        "today" => (midnight, "сегодня"),
        "30" => (midnight - chrono::Duration::days(29), "за 30 дней"),
        _ => (midnight - chrono::Duration::days(6), "за 7 дней"),
    };
    let scope = c.auth.actor.scope(&catalog.hierarchy);
    let mut o = match state.workflow.store().overview(&scope, since, now).await {
        Ok(o) => o,
        Err(e) => {
            tracing::error!(error = %e, "overview");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let (fa, fm) = mean_and_median(&mut o.first_answer_seconds);
    let (ca, cm) = mean_and_median(&mut o.closure_seconds);
    let shown = [Status::New, Status::InWork, Status::Review, Status::Answered, Status::Closed];
    let statuses = shown
        .iter()
        .map(|s| Count {
            code: s.as_str(),
            name: labels::status(*s),
            n: o.by_status.iter().filter(|(x, _)| x == s).map(|(_, n)| *n).sum(),
        })
        .collect();
    let max_t = o.by_municipality.first().map(|b| b.1).unwrap_or(1).max(1);
    let territories = o
        .by_municipality
        .iter()
        .take(30)
        .map(|(code, n, late)| {
            let code = code.clone().unwrap_or_default();
            let name =
                catalog.hierarchy.territory(&code).map(|t| t.name.clone()).unwrap_or_else(|| "не определена".into());
            Bar { code, name, n: *n, late: *late, max: max_t }
        })
        .collect();
    // Categories are counted by direction (the first level of the taxonomy).
    let mut by_dir: Vec<(String, u64)> = Vec::new();
    for (code, n) in &o.by_category {
        let dir = code.as_deref().and_then(|c| c.split('.').next()).unwrap_or("").to_string();
        match by_dir.iter_mut().find(|(d, _)| *d == dir) {
            Some(e) => e.1 += n,
            None => by_dir.push((dir, *n)),
        }
    }
    by_dir.sort_by_key(|b| std::cmp::Reverse(b.1));
    let max_c = by_dir.first().map(|b| b.1).unwrap_or(1).max(1);
    let categories = by_dir
        .into_iter()
        .map(|(code, n)| {
            let name =
                if code.is_empty() { "не определено".to_string() } else { category_name(&catalog, &code) };
            Bar { code, name, n, late: 0, max: max_c }
        })
        .collect();
    let periods = [("today", "Сегодня"), ("7", "7 дней"), ("30", "30 дней")]
        .iter()
        .map(|(c, n)| Choice { code: c.to_string(), name: n.to_string() })
        .collect();
    let t = OverviewPage {
        nav: c.nav("overview"),
        periods,
        period,
        period_text,
        total: o.total,
        overdue: o.overdue,
        statuses,
        first_avg: duration_words(fa),
        first_median: duration_words(fm),
        close_avg: duration_words(ca),
        close_median: duration_words(cm),
        territories,
        categories,
    };
    page(StatusCode::OK, t.render())
}

// ---------------------------------------------------------------- administration

#[derive(Template)]
#[template(path = "admin.html")]
struct AdminPage {
    nav: Nav,
    error: Option<String>,
    /// Beside which form the error shows.
    error_at: ErrorAt,
    templates: Vec<otklik_core::model::AnswerTemplate>,
    notice: Option<&'static str>,
    sources: Vec<(String, String, String, String)>,
    self_id: Id,
    roles: Vec<Choice>,
    channels: Vec<ChannelRow>,
    dead: usize,
    users: Vec<UserRow>,
    orgs: Vec<(String, String, String)>,
    territories: Vec<(String, String, String, String)>,
    topics: Vec<(String, String, String, bool)>,
    rules: Vec<(String, String, String, String, String, i32)>,
    policies: Vec<(String, String, String, String, String, String)>,
    years: String,
    /// Years stored in the database (edited by an administrator); the others are embedded.
    stored_years: String,
    /// Years an administrator may open for editing: each known one and the year after the last.
    calendar_links: Vec<i32>,
    rejects: Vec<(String, String, String, String)>,
}

struct UserRow {
    id: Id,
    login: String,
    name: String,
    /// (role code, node, how it reads).
    grants: Vec<(String, String, String)>,
    active: bool,
}

fn role_name(r: Role) -> &'static str {
    match r {
        Role::Admin => "администратор",
        Role::RegionalCurator => "куратор ЦУР",
        Role::MunicipalOperator => "оператор МЦУ",
        Role::OrgHead => "руководитель организации",
        Role::OrgExecutor => "исполнитель",
        Role::Viewer => "наблюдатель",
    }
}

struct ChannelRow {
    channel: &'static str,
    source: String,
    mode: String,
    path: String,
    ok: bool,
    detail: String,
}

fn span_text<T: serde::Serialize>(s: &Option<T>) -> String {
    s.as_ref()
        .and_then(|v| serde_json::to_value(v).ok())
        .map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()))
        .unwrap_or_else(|| "—".into())
}

#[derive(Debug, Deserialize)]
struct SavedQuery {
    saved: Option<String>,
}

/// Where on the administration page a refusal is shown.
#[derive(Debug, Clone, PartialEq)]
enum ErrorAt {
    Users,
    Template(Id),
    /// The new template's form, with what was typed into it.
    NewTemplate((String, String, String)),
}

impl AdminPage {
    fn error_at_users(&self) -> bool {
        self.error_at == ErrorAt::Users
    }

    fn error_at_template(&self, id: &Id) -> bool {
        self.error_at == ErrorAt::Template(*id)
    }

    /// What the new template's form shows: what was typed if it was refused.
    fn draft(&self) -> (&str, &str, &str, bool) {
        match &self.error_at {
            ErrorAt::NewTemplate((n, t, p)) => (n, t, p, true),
            _ => ("", "", "", false),
        }
    }
}

async fn admin_page(State(state): State<AppState>, c: Console, Query(q): Query<SavedQuery>) -> Response {
    let notice = q.saved.is_some().then_some("Изменения сохранены.");
    render_admin(&state, &c, None, ErrorAt::Users, notice).await
}

async fn admin(state: &AppState, c: &Console, error: Option<String>) -> Response {
    render_admin(state, c, error, ErrorAt::Users, None).await
}

async fn render_admin(
    state: &AppState,
    c: &Console,
    error: Option<String>,
    error_at: ErrorAt,
    notice: Option<&'static str>,
) -> Response {
    if !c.auth.actor.is_admin() {
        return page(StatusCode::FORBIDDEN, NotFound { nav: c.nav("admin") }.render());
    }
    let catalog = state.workflow.catalog();
    let store = state.workflow.store();
    let h = &catalog.hierarchy;
    let channels = crate::channels::health(&state.channels)
        .await
        .into_iter()
        .map(|x| ChannelRow {
            channel: channel_name(x.channel),
            source: x.source,
            mode: if x.mode == "poll" { "опрос".into() } else { "вебхук".into() },
            path: x.webhook_path,
            ok: x.ok,
            detail: x.detail,
        })
        .collect();
    let everything = otklik_core::access::ScopeFilter { all: true, ..Default::default() };
    let dead = store
        .outbox(&everything, &[otklik_core::model::PublicationState::Dead], None, 500)
        .await
        .map(|v| v.len())
        .unwrap_or(0);
    let users = store
        .users()
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|u| {
            let grants = u
                .grants
                .iter()
                .map(|g| {
                    let node = g.node.clone().unwrap_or_default();
                    let text = format!("{}{}", g.role, g.node.as_deref().map(|n| format!(": {n}")).unwrap_or_default());
                    (g.role.as_str().to_string(), node, text)
                })
                .collect();
            UserRow { id: u.id, login: u.login, name: u.display_name, grants, active: u.active }
        })
        .collect();
    let mut orgs: Vec<(String, String, String)> = store
        .organisations()
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|o| {
            let t = h.territory(&o.territory).map(|t| t.name.clone()).unwrap_or(o.territory.clone());
            (o.code, o.name, t)
        })
        .collect();
    orgs.sort();
    let territories = h
        .territory_codes()
        .iter()
        .filter_map(|c| h.territory(c))
        .map(|t| (t.code.clone(), t.full_name.clone(), t.level.to_string(), t.zone.clone()))
        .collect();
    let mut topics: Vec<(String, String, String, bool)> = catalog
        .categories
        .values()
        .map(|c| {
            (c.code.clone(), c.name.clone(), c.form_days.map(|d| d.to_string()).unwrap_or_default(), c.photo_required)
        })
        .collect();
    topics.sort();
    let rules = catalog
        .routing
        .iter()
        .map(|r| {
            let scope = [r.channel.map(|c| c.to_string()), r.kind.map(|k| k.to_string())]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" / ");
            (
                r.code.clone(),
                r.category.as_deref().map(|x| category_name(&catalog, x)).unwrap_or_else(|| "любая".into()),
                r.territory
                    .as_deref()
                    .and_then(|t| h.territory(t))
                    .map(|t| t.name.clone())
                    .unwrap_or_else(|| "любая".into()),
                scope,
                h.org(&r.org).map(|o| o.name.clone()).unwrap_or(r.org.clone()),
                r.priority,
            )
        })
        .collect();
    let policies = catalog
        .deadlines
        .iter()
        .map(|p| {
            let mut cond: Vec<String> = p.channels.iter().map(|c| c.to_string()).collect();
            cond.extend(p.categories.iter().cloned());
            cond.extend(p.kinds.iter().map(|k| k.to_string()));
            if let Some(u) = p.urgent {
                cond.push(if u { "срочные".into() } else { "несрочные".into() });
            }
            if p.form_days {
                cond.push("сроки темы формы".into());
            }
            (
                p.code.clone(),
                cond.join(", "),
                span_text(&p.first_answer),
                span_text(&p.first_answer_cap),
                span_text(&p.final_after_intermediate),
                span_text(&p.resolution),
            )
        })
        .collect();
    let calendar_years = state.workflow.calendar_years().await.unwrap_or_default();
    let years = calendar_years.iter().map(|y| y.year.year.to_string()).collect::<Vec<_>>().join(", ");
    let stored_years = calendar_years
        .iter()
        .filter(|y| y.origin == otklik_core::reload::CalendarOrigin::Stored)
        .map(|y| y.year.year.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let rejects = store
        .rejects(None, 20)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|r| {
            (
                fmt_at(&catalog, None, r.reject.received_at),
                channel_name(r.reject.channel).to_string(),
                r.reject.source,
                r.reject.reason,
            )
        })
        .collect();
    let mut sources: Vec<(String, String, String, String)> = catalog
        .sources
        .values()
        .map(|s| {
            (
                format!("{}:{}", s.channel, s.key),
                format!("{} · {}", channel_name(s.channel), s.key),
                s.name.clone(),
                s.territory.as_deref().and_then(|t| h.territory(t)).map(|t| t.name.clone()).unwrap_or_default(),
            )
        })
        .collect();
    sources.sort();
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let templates = store.answer_templates().await.unwrap_or_default();
    let t = AdminPage {
        nav: c.nav("admin"),
        error,
        error_at,
        templates,
        notice,
        sources,
        self_id: c.auth.user.id,
        roles: Role::ALL
            .iter()
            .map(|r| Choice { code: r.as_str().to_string(), name: role_name(*r).to_string() })
            .collect(),
        channels,
        dead,
        users,
        orgs,
        territories,
        topics,
        rules,
        policies,
        calendar_links: {
            let mut v: Vec<i32> = calendar_years.iter().map(|y| y.year.year).collect();
            if let Some(last) = v.iter().max().copied() {
                v.push(last + 1);
            }
            v
        },
        years,
        stored_years,
        rejects,
    };
    page(status, t.render())
}

#[derive(Debug, Deserialize)]
struct NewUserForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    login: String,
    name: String,
    password: String,
    role: String,
    #[serde(default)]
    node: String,
}

/// Creates an account from the administration page, with the API's checks.
async fn create_user(State(state): State<AppState>, c: Console, Form(f): Form<NewUserForm>) -> Response {
    if !c.auth.actor.is_admin() || !crate::auth::csrf_matches(&c.auth, &f.csrf) {
        return StatusCode::FORBIDDEN.into_response();
    }
    let login = f.login.trim().to_string();
    let grant = otklik_core::model::Grant {
        role: Role::parse(&f.role).unwrap_or(Role::Viewer),
        node: Some(f.node.trim().to_string()).filter(|n| !n.is_empty()),
    };
    let checked = crate::api::validate_login(&login)
        .and_then(|_| crate::api::validate_password(&f.password))
        .and_then(|_| crate::api::validate_grants(std::slice::from_ref(&grant), &state.workflow.catalog()));
    if let Err(e) = checked {
        return admin(
            &state,
            &c,
            Some(format!("Пользователь не создан. {}", admin_forms::russian_message(&e.to_string()))),
        )
        .await;
    }
    let Ok(hash) = crate::api::hash_blocking(f.password).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let user = otklik_core::model::NewUser {
        login,
        display_name: f.name.trim().to_string(),
        password_hash: Some(hash),
        grants: vec![grant],
    };
    match state.workflow.store().create_user(&user, state.workflow.now()).await {
        Ok(u) => {
            tracing::info!(admin = c.auth.user.id, user = u.id, "account created in the console");
            Redirect::to("/admin#users").into_response()
        }
        Err(otklik_core::StoreError::Conflict(_)) => {
            admin(&state, &c, Some("Пользователь не создан: такой логин уже есть.".into())).await
        }
        Err(e) => {
            tracing::error!(error = %e, "create user");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

#[derive(Debug, Deserialize)]
struct ActiveForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    active: String,
}

/// Turns an account off or on; a disabled account's sessions and tokens stop working at once.
async fn set_active(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<Id>,
    Form(f): Form<ActiveForm>,
) -> Response {
    if !c.auth.actor.is_admin() || !crate::auth::csrf_matches(&c.auth, &f.csrf) || id == c.auth.user.id {
        return StatusCode::FORBIDDEN.into_response();
    }
    match state.workflow.store().update_user(id, None, Some(f.active == "1"), None, None).await {
        Ok(_) => {
            state.token_cache.clear();
            tracing::info!(
                admin = c.auth.user.id,
                user = id,
                active = f.active == "1",
                "account switched in the console"
            );
            Redirect::to("/admin#users").into_response()
        }
        Err(_) => admin(&state, &c, Some("Пользователь не найден.".into())).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_changes_read_in_russian_and_bookkeeping_is_hidden() {
        let c = Catalog::default();
        let j = |s: &str| serde_json::json!(s);
        assert_eq!(
            change_words(&c, "status", &j("new"), &j("assigned")).as_deref(),
            Some("статус: Принято → Передано исполнителю")
        );
        assert_eq!(
            change_words(&c, "org", &serde_json::Value::Null, &j("adm-x")).as_deref(),
            Some("исполнитель: — → adm-x")
        );
        assert_eq!(change_words(&c, "assignee", &serde_json::Value::Null, &serde_json::json!(5)), None);
        assert_eq!(change_words(&c, "first_answer_seconds", &serde_json::Value::Null, &serde_json::json!(6)), None);
    }

    #[test]
    fn means_and_medians() {
        assert_eq!(mean_and_median(&mut []), (None, None));
        assert_eq!(mean_and_median(&mut [30, 10, 20]), (Some(20), Some(20)));
        assert_eq!(mean_and_median(&mut [40, 10, 20, 30]), (Some(25), Some(25)));
        assert_eq!(mean_and_median(&mut [3600, 60, 60]), (Some(1240), Some(60)));
    }

    #[test]
    fn spans_read_as_people_say_them() {
        assert_eq!(span_words(3 * 3600 + 20 * 60), "через 3 ч 20 мин");
        assert_eq!(span_words(-(2 * 86_400 + 4 * 3600)), "просрочено на 2 д 4 ч");
        assert_eq!(span_words(59), "через 0 мин");
        assert_eq!(duration_words(Some(90 * 60)), "1 ч 30 мин");
    }

    #[test]
    fn only_local_paths_are_followed_after_login() {
        assert_eq!(safe_next(Some("/incidents/5")), "/incidents/5");
        assert_eq!(safe_next(Some("//evil.example/")), "/queue");
        assert_eq!(safe_next(Some("https://evil.example/")), "/queue");
        assert_eq!(safe_next(Some("/\\evil")), "/queue");
        assert_eq!(safe_next(None), "/queue");
    }
}
