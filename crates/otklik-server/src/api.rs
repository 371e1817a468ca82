//! The JSON API under `/api/v1`: sessions, intake, incidents and their actions, reference data and
//! users; every handler is described in the OpenAPI document.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use otklik_core::DomainError;
use otklik_core::deadlines::DeadlinePolicy;
use otklik_core::model::*;
use otklik_core::reference::validate_code;
use otklik_core::routing::RoutingRule;
use otklik_core::status::{Action, Status};
use otklik_core::store::{Cursor, IncidentQuery, SortKey};
use otklik_core::workflow::{Command, IntakeHints};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::auth::{self, Auth, SESSION_COOKIE, Via};
use crate::edits::{RefDelete, RefEdit};
use crate::error::{ApiError, ApiResult, ErrorBody, JsonBody, PathParam, QueryParams};

#[derive(OpenApi)]
#[openapi(
    info(title = "Otklik API", description = "Citizen feedback incident management: intake, incidents, answers, reference data and accounts."),
    components(schemas(ErrorBody)),
    modifiers(&Security),
    tags(
        (name = "auth", description = "Console sessions"),
        (name = "intake", description = "Messages from channels"),
        (name = "incidents", description = "Incidents, their cards and the status machine"),
        (name = "reference", description = "Territories, organisations, taxonomy, sources"),
        (name = "users", description = "Accounts, roles and machine tokens"),
        (name = "templates", description = "Answer templates of the answer editor"),
        (name = "channels", description = "Channel sources, their health, the outbox of answers and rejected deliveries"),
    )
)]
struct ApiDoc;

struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
        let c = openapi.components.get_or_insert_with(Default::default);
        c.add_security_scheme("token", SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()));
        c.add_security_scheme("session", SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(SESSION_COOKIE))));
    }
}

/// All API routes with their OpenAPI description.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(me))
        .routes(routes!(intake))
        .routes(routes!(revise))
        .routes(routes!(list_incidents))
        .routes(routes!(get_incident))
        .routes(routes!(act))
        .routes(routes!(list_notifications))
        .routes(routes!(list_territories))
        .routes(routes!(put_territory))
        .routes(routes!(list_organisations))
        .routes(routes!(put_organisation))
        .routes(routes!(list_categories))
        .routes(routes!(put_category))
        .routes(routes!(list_sources))
        .routes(routes!(put_source))
        .routes(routes!(list_routing_rules))
        .routes(routes!(put_routing_rule, delete_routing_rule))
        .routes(routes!(list_deadline_policies))
        .routes(routes!(put_deadline_policy, delete_deadline_policy))
        .routes(routes!(list_templates, create_template))
        .routes(routes!(put_template, delete_template))
        .routes(routes!(list_users, create_user))
        .routes(routes!(get_user, patch_user))
        .routes(routes!(create_token))
        .routes(routes!(list_channels))
        .routes(routes!(list_outbox))
        .routes(routes!(retry_outbox))
        .routes(routes!(list_rejects))
        .merge(crate::api_calendar::routes())
}

// ---------------------------------------------------------------- sessions

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct LoginRequest {
    login: String,
    password: String,
}

#[derive(Debug, Serialize, ToSchema)]
struct SessionInfo {
    user: User,
    /// Send back in the `X-CSRF-Token` header on every state-changing request made with the cookie.
    csrf_token: Option<String>,
    expires_at: Option<DateTime<Utc>>,
}

pub(crate) fn session_cookie(value: &str, max_age_secs: i64, secure: bool) -> String {
    format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{}",
        if secure { "; Secure" } else { "" }
    )
}

/// Log in to the console: sets the session cookie and returns the CSRF token.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = SessionInfo), (status = 401, body = ErrorBody)))]
async fn login(State(state): State<AppState>, JsonBody(req): JsonBody<LoginRequest>) -> ApiResult<Response> {
    let opened = auth::open_session(&state, &req.login, &req.password).await?;
    let cookie = session_cookie(&opened.token, opened.max_age_secs, state.settings.secure_cookies);
    let body = SessionInfo { user: opened.user, csrf_token: Some(opened.csrf), expires_at: Some(opened.expires_at) };
    Ok(([(header::SET_COOKIE, cookie)], Json(body)).into_response())
}

/// End the console session.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth",
    responses((status = 204), (status = 401, body = ErrorBody)))]
async fn logout(State(state): State<AppState>, auth: Auth) -> ApiResult<Response> {
    if let Via::Session { token_hash, .. } = &auth.via {
        state.workflow.store().delete_session(token_hash).await?;
    }
    let cookie = session_cookie("", 0, state.settings.secure_cookies);
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response())
}

/// Who is logged in.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth",
    responses((status = 200, body = SessionInfo), (status = 401, body = ErrorBody)))]
async fn me(auth: Auth) -> Json<SessionInfo> {
    let csrf_token = match auth.via {
        Via::Session { csrf_token, .. } => Some(csrf_token),
        Via::Token { .. } => None,
    };
    Json(SessionInfo { user: auth.user, csrf_token, expires_at: None })
}

// ---------------------------------------------------------------- intake

/// A message from a channel, with optional hints from the sender.
#[derive(Debug, Deserialize, ToSchema)]
struct IntakeRequest {
    #[serde(flatten)]
    message: NewMessage,
    #[serde(flatten)]
    hints: IntakeHints,
}

/// Take a message from a channel; idempotent on (channel, source, external_id).
#[utoipa::path(post, path = "/api/v1/messages", tag = "intake", request_body = IntakeRequest,
    responses((status = 201, description = "a new incident", body = IngestOutcome),
              (status = 200, description = "already taken before; nothing changed", body = IngestOutcome),
              (status = 422, body = ErrorBody), (status = 400, body = ErrorBody)))]
async fn intake(
    State(state): State<AppState>,
    auth: Auth,
    JsonBody(body): JsonBody<serde_json::Value>,
) -> ApiResult<(StatusCode, Json<IngestOutcome>)> {
    let roles = auth.actor.roles();
    if !roles.iter().any(|r| matches!(r, Role::Admin | Role::RegionalCurator | Role::MunicipalOperator)) {
        return Err(ApiError::forbidden("only control centres and their integrations may submit messages"));
    }
    let mut req: IntakeRequest = serde_json::from_value(body.clone()).map_err(|e| {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", format!("invalid message: {e}"))
    })?;
    if req.message.raw.is_null() {
        // The payload as received is the body itself.
        req.message.raw = body;
    }
    let out = state.workflow.ingest_as(&auth.actor, &req.message, &req.hints).await?;
    metrics::counter!("otklik_messages_ingested_total", "created" => out.created.to_string()).increment(1);
    Ok((if out.created { StatusCode::CREATED } else { StatusCode::OK }, Json(out)))
}

/// A later fact about a captured message.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RevisionRequest {
    channel: Channel,
    source: String,
    external_id: String,
    kind: RevisionKind,
    /// The new text of an edit.
    #[serde(default)]
    text: Option<String>,
    at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
struct RevisionOutcome {
    message_id: Id,
}

/// Record an edit or deletion of a captured message; the original text stays as captured.
#[utoipa::path(post, path = "/api/v1/messages/revisions", tag = "intake", request_body = RevisionRequest,
    responses((status = 200, body = RevisionOutcome), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn revise(
    State(state): State<AppState>,
    auth: Auth,
    JsonBody(req): JsonBody<RevisionRequest>,
) -> ApiResult<Json<RevisionOutcome>> {
    let roles = auth.actor.roles();
    if !roles.iter().any(|r| matches!(r, Role::Admin | Role::RegionalCurator | Role::MunicipalOperator)) {
        return Err(ApiError::forbidden("only control centres and their integrations may submit messages"));
    }
    if req.kind == RevisionKind::Edit && req.text.is_none() {
        return Err(DomainError::Validation("an edit needs its new text".into()).into());
    }
    let rev = MessageRevision { kind: req.kind, text: req.text, at: req.at };
    let message_id =
        state.workflow.record_revision(&auth.actor, req.channel, &req.source, &req.external_id, &rev).await?;
    Ok(Json(RevisionOutcome { message_id }))
}

// ---------------------------------------------------------------- incidents

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListParams {
    /// Comma-separated statuses.
    pub status: Option<String>,
    /// A territory code (region, municipality or settlement).
    pub territory: Option<String>,
    /// A category code; a direction or group matches everything below it.
    pub category: Option<String>,
    pub org: Option<String>,
    pub channel: Option<Channel>,
    pub kind: Option<Kind>,
    pub urgent: Option<bool>,
    pub overdue: Option<bool>,
    /// Text the summary contains.
    pub q: Option<String>,
    pub sort: Option<SortKey>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// 1–500, default 50.
    pub limit: Option<u32>,
    /// Also count all matching incidents.
    pub count: Option<bool>,
}

/// The store query a list request asks for (shared by the API and the console).
pub(crate) fn incident_query(state: &AppState, p: &ListParams) -> ApiResult<IncidentQuery> {
    let mut statuses = vec![];
    for s in p.status.iter().flat_map(|s| s.split(',')).map(str::trim).filter(|s| !s.is_empty()) {
        statuses.push(
            Status::parse(s).ok_or_else(|| ApiError::bad_request("invalid_query", format!("unknown status `{s}`")))?,
        );
    }
    let after = match &p.cursor {
        Some(c) => {
            Some(Cursor::decode(c).ok_or_else(|| ApiError::bad_request("invalid_cursor", "the cursor is not valid"))?)
        }
        None => None,
    };
    let limit = p.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::bad_request("invalid_query", "limit must be between 1 and 500"));
    }
    let catalog = state.workflow.catalog();
    let territory = match p.territory.as_deref().filter(|t| !t.is_empty()) {
        Some(t) => Some(
            catalog
                .hierarchy
                .territory_ref(t)
                .ok_or_else(|| ApiError::bad_request("invalid_query", format!("unknown territory `{t}`")))?,
        ),
        None => None,
    };
    Ok(IncidentQuery {
        statuses,
        territory,
        category: p.category.clone().filter(|c| !c.is_empty()),
        org: p.org.clone().filter(|o| !o.is_empty()),
        channel: p.channel,
        kind: p.kind,
        urgent: p.urgent,
        overdue: p.overdue,
        text: p.q.clone().map(|q| q.trim().chars().take(200).collect()).filter(|q: &String| !q.is_empty()),
        now: Some(state.workflow.now()),
        sort: p.sort.unwrap_or_default(),
        after,
        limit,
    })
}

#[derive(Debug, Serialize, ToSchema)]
struct IncidentList {
    items: Vec<Incident>,
    next_cursor: Option<String>,
    total: Option<u64>,
}

/// The incidents in the caller's scope, filtered, sorted and paged by cursor.
#[utoipa::path(get, path = "/api/v1/incidents", tag = "incidents", params(ListParams),
    responses((status = 200, body = IncidentList), (status = 400, body = ErrorBody)))]
async fn list_incidents(
    State(state): State<AppState>,
    auth: Auth,
    QueryParams(p): QueryParams<ListParams>,
) -> ApiResult<Json<IncidentList>> {
    let q = incident_query(&state, &p)?;
    let catalog = state.workflow.catalog();
    let scope = auth.actor.scope(&catalog.hierarchy);
    let store = state.workflow.store();
    let page = store.list_incidents(&q, &scope).await?;
    let total = if p.count == Some(true) { Some(store.count_incidents(&q, &scope).await?) } else { None };
    Ok(Json(IncidentList { items: page.items, next_cursor: page.next.map(Cursor::encode), total }))
}

#[derive(Debug, Serialize, ToSchema)]
struct IncidentCard {
    #[serde(flatten)]
    detail: IncidentDetail,
    /// What the caller may do now.
    allowed_actions: Vec<Action>,
}

/// An incident's card: its messages, answers, history and the caller's allowed actions.
#[utoipa::path(get, path = "/api/v1/incidents/{id}", tag = "incidents", params(("id" = i64, Path)),
    responses((status = 200, body = IncidentCard), (status = 404, body = ErrorBody)))]
async fn get_incident(
    State(state): State<AppState>,
    auth: Auth,
    PathParam(id): PathParam<Id>,
) -> ApiResult<Json<IncidentCard>> {
    let inc = state.workflow.visible_incident(&auth.actor, id).await?;
    let detail = state.workflow.store().incident_detail(id).await?.ok_or_else(|| ApiError::not_found("incident"))?;
    // Cards show citizens' personal data: every read is logged.
    tracing::info!(target: "otklik::audit", user = auth.user.id, incident = id, "incident card read");
    let mut allowed_actions = state.workflow.allowed_actions(&auth.actor, &inc);
    // The status machine allows a split; there must also be a message to spare.
    if detail.messages.len() < 2 {
        allowed_actions.retain(|a| *a != Action::Split);
    }
    Ok(Json(IncidentCard { detail, allowed_actions }))
}

/// Perform an action of the status machine. `If-Match: <version>` makes it conditional.
///
/// `split` answers with the incident the message left and names the new incident in `Location`;
/// it is refused with `only_message` (409), `message_not_in_incident` (422) or
/// `incident_finished` (409).
#[utoipa::path(post, path = "/api/v1/incidents/{id}/actions", tag = "incidents", request_body = Command,
    params(("id" = i64, Path), ("If-Match" = Option<String>, Header, description = "expected incident version")),
    responses((status = 200, body = Incident,
                headers(("Location" = String, description = "after `split`: the new incident, `/api/v1/incidents/{id}`"))),
              (status = 409, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn act(
    State(state): State<AppState>,
    auth: Auth,
    PathParam(id): PathParam<Id>,
    headers: HeaderMap,
    JsonBody(cmd): JsonBody<Command>,
) -> ApiResult<Response> {
    let expected = match headers.get(header::IF_MATCH) {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .map(|s| s.trim().trim_matches('"'))
                .and_then(|s| s.parse::<i64>().ok())
                .ok_or_else(|| ApiError::bad_request("invalid_header", "If-Match must be an incident version"))?,
        ),
    };
    if let Command::Split { message, note } = cmd {
        let out = state.workflow.split(&auth.actor, id, expected, message, note).await?;
        let location = format!("/api/v1/incidents/{}", out.created.id);
        return Ok(([(header::LOCATION, location)], Json(out.source)).into_response());
    }
    Ok(Json(state.workflow.execute(&auth.actor, id, expected, cmd).await?).into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct NotificationParams {
    /// Only notifications older than this id (paging).
    before: Option<Id>,
    /// 1–500, default 50.
    limit: Option<u32>,
}

/// Notifications for the caller: deadline warnings, breaches and escalations, automatic closures
/// in the caller's organisations and territories, newest first.
#[utoipa::path(get, path = "/api/v1/notifications", tag = "incidents", params(NotificationParams),
    responses((status = 200, body = Vec<Notification>)))]
async fn list_notifications(
    State(state): State<AppState>,
    auth: Auth,
    QueryParams(p): QueryParams<NotificationParams>,
) -> ApiResult<Json<Vec<Notification>>> {
    let scope = auth.actor.scope(&state.workflow.catalog().hierarchy);
    Ok(Json(state.workflow.store().notifications(&scope, p.before, p.limit.unwrap_or(50)).await?))
}

// ---------------------------------------------------------------- reference data

fn path_code(code: &str, body_code: &str) -> ApiResult<()> {
    if code != body_code {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "the code in the path and the body differ",
        ));
    }
    validate_code(code).map_err(|m| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", m))
}

/// All territories.
#[utoipa::path(get, path = "/api/v1/territories", tag = "reference", responses((status = 200, body = Vec<Territory>)))]
async fn list_territories(State(state): State<AppState>, _auth: Auth) -> ApiResult<Json<Vec<Territory>>> {
    Ok(Json(state.workflow.store().territories().await?))
}

/// Create or replace a territory (administrators).
#[utoipa::path(put, path = "/api/v1/territories/{code}", tag = "reference", request_body = Territory, params(("code" = String, Path)),
    responses((status = 200, body = Territory), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn put_territory(
    State(state): State<AppState>,
    auth: Auth,
    PathParam(code): PathParam<String>,
    JsonBody(t): JsonBody<Territory>,
) -> ApiResult<Json<Territory>> {
    auth.require_admin()?;
    path_code(&code, &t.code)?;
    crate::edits::put(&state, &RefEdit::Territory(t.clone())).await?;
    Ok(Json(t))
}

/// All organisations.
#[utoipa::path(get, path = "/api/v1/organisations", tag = "reference", responses((status = 200, body = Vec<Organisation>)))]
async fn list_organisations(State(state): State<AppState>, _auth: Auth) -> ApiResult<Json<Vec<Organisation>>> {
    Ok(Json(state.workflow.store().organisations().await?))
}

/// Create or replace an organisation (administrators).
#[utoipa::path(put, path = "/api/v1/organisations/{code}", tag = "reference", request_body = Organisation, params(("code" = String, Path)),
    responses((status = 200, body = Organisation), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn put_organisation(
    State(state): State<AppState>,
    auth: Auth,
    PathParam(code): PathParam<String>,
    JsonBody(o): JsonBody<Organisation>,
) -> ApiResult<Json<Organisation>> {
    auth.require_admin()?;
    path_code(&code, &o.code)?;
    crate::edits::put(&state, &RefEdit::Organisation(o.clone())).await?;
    Ok(Json(o))
}

/// The taxonomy, three levels deep.
#[utoipa::path(get, path = "/api/v1/categories", tag = "reference", responses((status = 200, body = Vec<Category>)))]
async fn list_categories(State(state): State<AppState>, _auth: Auth) -> ApiResult<Json<Vec<Category>>> {
    Ok(Json(state.workflow.store().categories().await?))
}

/// Create or replace a category (administrators).
#[utoipa::path(put, path = "/api/v1/categories/{code}", tag = "reference", request_body = Category, params(("code" = String, Path)),
    responses((status = 200, body = Category), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn put_category(
    State(state): State<AppState>,
    auth: Auth,
    PathParam(code): PathParam<String>,
    JsonBody(c): JsonBody<Category>,
) -> ApiResult<Json<Category>> {
    auth.require_admin()?;
    if code != c.code {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "the code in the path and the body differ",
        ));
    }
    crate::edits::put(&state, &RefEdit::Category(c.clone())).await?;
    Ok(Json(c))
}

/// Channel sources and the territory each speaks for.
#[utoipa::path(get, path = "/api/v1/sources", tag = "reference", responses((status = 200, body = Vec<Source>)))]
async fn list_sources(State(state): State<AppState>, _auth: Auth) -> ApiResult<Json<Vec<Source>>> {
    Ok(Json(state.workflow.store().sources().await?))
}

/// Create or replace a source (administrators).
#[utoipa::path(put, path = "/api/v1/sources/{channel}/{key}", tag = "reference", request_body = Source,
    params(("channel" = Channel, Path), ("key" = String, Path)),
    responses((status = 200, body = Source), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn put_source(
    State(state): State<AppState>,
    auth: Auth,
    PathParam((channel, key)): PathParam<(Channel, String)>,
    JsonBody(s): JsonBody<Source>,
) -> ApiResult<Json<Source>> {
    auth.require_admin()?;
    if s.channel != channel || s.key != key {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "the path and the body differ",
        ));
    }
    crate::edits::put(&state, &RefEdit::Source(s.clone())).await?;
    Ok(Json(s))
}

/// Routing rules: which organisation answers what.
#[utoipa::path(get, path = "/api/v1/routing-rules", tag = "reference", responses((status = 200, body = Vec<RoutingRule>)))]
async fn list_routing_rules(State(state): State<AppState>, _auth: Auth) -> ApiResult<Json<Vec<RoutingRule>>> {
    Ok(Json(state.workflow.store().routing_rules().await?))
}

/// Create or replace a routing rule (administrators).
#[utoipa::path(put, path = "/api/v1/routing-rules/{code}", tag = "reference", request_body = RoutingRule, params(("code" = String, Path)),
    responses((status = 200, body = RoutingRule), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn put_routing_rule(
    State(state): State<AppState>,
    auth: Auth,
    PathParam(code): PathParam<String>,
    JsonBody(r): JsonBody<RoutingRule>,
) -> ApiResult<Json<RoutingRule>> {
    auth.require_admin()?;
    path_code(&code, &r.code)?;
    crate::edits::put(&state, &RefEdit::RoutingRule(r.clone())).await?;
    Ok(Json(r))
}

/// Delete a routing rule (administrators).
#[utoipa::path(delete, path = "/api/v1/routing-rules/{code}", tag = "reference", params(("code" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_routing_rule(
    State(state): State<AppState>,
    auth: Auth,
    PathParam(code): PathParam<String>,
) -> ApiResult<StatusCode> {
    auth.require_admin()?;
    crate::edits::delete(&state, &RefDelete::RoutingRule(code)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deadline policies: which targets apply to which incidents.
#[utoipa::path(get, path = "/api/v1/deadline-policies", tag = "reference", responses((status = 200, body = Vec<DeadlinePolicy>)))]
async fn list_deadline_policies(State(state): State<AppState>, _auth: Auth) -> ApiResult<Json<Vec<DeadlinePolicy>>> {
    Ok(Json(state.workflow.store().deadline_policies().await?))
}

/// Create or replace a deadline policy (administrators). Applies to incidents created from now on.
#[utoipa::path(put, path = "/api/v1/deadline-policies/{code}", tag = "reference", request_body = DeadlinePolicy, params(("code" = String, Path)),
    responses((status = 200, body = DeadlinePolicy), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn put_deadline_policy(
    State(state): State<AppState>,
    auth: Auth,
    PathParam(code): PathParam<String>,
    JsonBody(p): JsonBody<DeadlinePolicy>,
) -> ApiResult<Json<DeadlinePolicy>> {
    auth.require_admin()?;
    path_code(&code, &p.code)?;
    crate::edits::put(&state, &RefEdit::DeadlinePolicy(p.clone())).await?;
    Ok(Json(p))
}

/// Delete a deadline policy (administrators).
#[utoipa::path(delete, path = "/api/v1/deadline-policies/{code}", tag = "reference", params(("code" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_deadline_policy(
    State(state): State<AppState>,
    auth: Auth,
    PathParam(code): PathParam<String>,
) -> ApiResult<StatusCode> {
    auth.require_admin()?;
    crate::edits::delete(&state, &RefDelete::DeadlinePolicy(code)).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------- answer templates

/// The answer templates, in the editor's order. `{номер}`, `{организация}`, `{срок}` and
/// `{адрес}` in a text are filled in for the incident by the answer editor.
#[utoipa::path(get, path = "/api/v1/answer-templates", tag = "templates",
    responses((status = 200, body = Vec<AnswerTemplate>)))]
async fn list_templates(State(state): State<AppState>, _auth: Auth) -> ApiResult<Json<Vec<AnswerTemplate>>> {
    Ok(Json(state.workflow.store().answer_templates().await?))
}

/// Add an answer template (administrators). Only the four placeholders are allowed.
#[utoipa::path(post, path = "/api/v1/answer-templates", tag = "templates", request_body = NewAnswerTemplate,
    responses((status = 201, body = AnswerTemplate), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
async fn create_template(
    State(state): State<AppState>,
    auth: Auth,
    JsonBody(t): JsonBody<NewAnswerTemplate>,
) -> ApiResult<(StatusCode, Json<AnswerTemplate>)> {
    auth.require_admin()?;
    Ok((StatusCode::CREATED, Json(crate::edits::save_template(&state, None, &t).await?)))
}

/// Replace an answer template (administrators).
#[utoipa::path(put, path = "/api/v1/answer-templates/{id}", tag = "templates", request_body = NewAnswerTemplate,
    params(("id" = i64, Path)),
    responses((status = 200, body = AnswerTemplate), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn put_template(
    State(state): State<AppState>,
    auth: Auth,
    PathParam(id): PathParam<Id>,
    JsonBody(t): JsonBody<NewAnswerTemplate>,
) -> ApiResult<Json<AnswerTemplate>> {
    auth.require_admin()?;
    Ok(Json(crate::edits::save_template(&state, Some(id), &t).await?))
}

/// Delete an answer template (administrators).
#[utoipa::path(delete, path = "/api/v1/answer-templates/{id}", tag = "templates", params(("id" = i64, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_template(
    State(state): State<AppState>,
    auth: Auth,
    PathParam(id): PathParam<Id>,
) -> ApiResult<StatusCode> {
    auth.require_admin()?;
    crate::edits::delete_template(&state, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------- users

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewUserRequest {
    login: String,
    display_name: String,
    password: String,
    #[serde(default)]
    grants: Vec<Grant>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct UserPatch {
    display_name: Option<String>,
    active: Option<bool>,
    password: Option<String>,
    grants: Option<Vec<Grant>>,
}

/// Minimum password length for accounts created through the API and the command line.
pub const MIN_PASSWORD: usize = 8;

/// Checks that every grant names an existing node of the right kind.
pub fn validate_grants(grants: &[Grant], catalog: &otklik_core::workflow::Catalog) -> Result<(), DomainError> {
    for g in grants {
        match (&g.node, g.role) {
            (None, Role::Admin) => {}
            (None, r) => return Err(DomainError::Validation(format!("role `{r}` needs a node"))),
            (Some(n), r) if r.bound_to_organisation() => {
                if catalog.hierarchy.org(n).is_none() {
                    return Err(DomainError::Validation(format!("unknown organisation `{n}` for role `{r}`")));
                }
            }
            (Some(n), r) => {
                if catalog.hierarchy.territory(n).is_none() {
                    return Err(DomainError::Validation(format!("unknown territory `{n}` for role `{r}`")));
                }
            }
        }
    }
    Ok(())
}

pub fn validate_login(login: &str) -> Result<(), DomainError> {
    let ok = (2..=64).contains(&login.len())
        && login.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'@'));
    if ok { Ok(()) } else { Err(DomainError::Validation("a login is 2–64 of a-z, 0-9, . _ - @".into())) }
}

pub fn validate_password(p: &str) -> Result<(), DomainError> {
    if p.chars().count() < MIN_PASSWORD {
        return Err(DomainError::Validation(format!("a password needs at least {MIN_PASSWORD} characters")));
    }
    Ok(())
}

/// All accounts (administrators).
#[utoipa::path(get, path = "/api/v1/users", tag = "users", responses((status = 200, body = Vec<User>), (status = 403, body = ErrorBody)))]
async fn list_users(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<Vec<User>>> {
    auth.require_admin()?;
    Ok(Json(state.workflow.store().users().await?))
}

/// Create an account (administrators).
#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = NewUserRequest,
    responses((status = 201, body = User), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_user(
    State(state): State<AppState>,
    auth: Auth,
    JsonBody(req): JsonBody<NewUserRequest>,
) -> ApiResult<(StatusCode, Json<User>)> {
    auth.require_admin()?;
    validate_login(&req.login)?;
    validate_password(&req.password)?;
    validate_grants(&req.grants, &state.workflow.catalog())?;
    let hash = hash_blocking(req.password).await?;
    let user = state
        .workflow
        .store()
        .create_user(
            &NewUser {
                login: req.login,
                display_name: req.display_name,
                password_hash: Some(hash),
                grants: req.grants,
            },
            state.workflow.now(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(user)))
}

pub(crate) async fn hash_blocking(password: String) -> ApiResult<String> {
    tokio::task::spawn_blocking(move || auth::hash_password(&password)).await.map_err(|_| ApiError::internal())?
}

fn self_or_admin(auth: &Auth, id: Id) -> ApiResult<()> {
    if auth.actor.is_admin() || auth.user.id == id { Ok(()) } else { Err(ApiError::not_found("user")) }
}

/// One account (administrators, or the user themself).
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users", params(("id" = i64, Path)),
    responses((status = 200, body = User), (status = 404, body = ErrorBody)))]
async fn get_user(State(state): State<AppState>, auth: Auth, PathParam(id): PathParam<Id>) -> ApiResult<Json<User>> {
    self_or_admin(&auth, id)?;
    Ok(Json(state.workflow.store().user(id).await?.ok_or_else(|| ApiError::not_found("user"))?))
}

/// Change an account. Users may change their own name and password; roles and activity need an administrator.
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", request_body = UserPatch, params(("id" = i64, Path)),
    responses((status = 200, body = User), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn patch_user(
    State(state): State<AppState>,
    auth: Auth,
    PathParam(id): PathParam<Id>,
    JsonBody(p): JsonBody<UserPatch>,
) -> ApiResult<Json<User>> {
    self_or_admin(&auth, id)?;
    if (p.grants.is_some() || p.active.is_some()) && !auth.actor.is_admin() {
        return Err(ApiError::forbidden("only administrators change roles and activity"));
    }
    if let Some(g) = &p.grants {
        validate_grants(g, &state.workflow.catalog())?;
    }
    let hash = match p.password {
        Some(pw) => {
            validate_password(&pw)?;
            Some(hash_blocking(pw).await?)
        }
        None => None,
    };
    let user = state
        .workflow
        .store()
        .update_user(id, p.display_name.as_deref(), p.active, hash.as_deref(), p.grants.as_deref())
        .await?;
    state.token_cache.clear();
    Ok(Json(user))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewTokenRequest {
    name: String,
    /// Days until it expires; never when absent.
    expires_in_days: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
struct NewToken {
    #[serde(flatten)]
    token: ApiToken,
    /// The secret, shown only now: send it as `Authorization: Bearer <secret>`.
    secret: String,
}

/// Issue a machine token for an account (administrators).
#[utoipa::path(post, path = "/api/v1/users/{id}/tokens", tag = "users", request_body = NewTokenRequest, params(("id" = i64, Path)),
    responses((status = 201, body = NewToken), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn create_token(
    State(state): State<AppState>,
    auth: Auth,
    PathParam(id): PathParam<Id>,
    JsonBody(req): JsonBody<NewTokenRequest>,
) -> ApiResult<(StatusCode, Json<NewToken>)> {
    auth.require_admin()?;
    if req.name.trim().is_empty() || req.name.len() > 128 {
        return Err(DomainError::Validation("a token needs a name of 1–128 characters".into()).into());
    }
    let store = state.workflow.store();
    store.user(id).await?.ok_or_else(|| ApiError::not_found("user"))?;
    let secret = format!("otk_{}", auth::random_token());
    let now = state.workflow.now();
    let expires = req.expires_in_days.map(|d| now + Duration::days(i64::from(d)));
    let token = store.create_token(id, &req.name, &auth::token_hash(&secret), now, expires).await?;
    Ok((StatusCode::CREATED, Json(NewToken { token, secret })))
}

// ---------------------------------------------------------------- channels and the outbox

/// Configured channel sources with their health, checked now (administrators). Tokens and
/// secrets are never shown.
#[utoipa::path(get, path = "/api/v1/channels", tag = "channels",
    responses((status = 200, body = Vec<crate::channels::SourceHealth>), (status = 403, body = ErrorBody)))]
async fn list_channels(
    State(state): State<AppState>,
    auth: Auth,
) -> ApiResult<Json<Vec<crate::channels::SourceHealth>>> {
    auth.require_admin()?;
    Ok(Json(crate::channels::health(&state.channels).await))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct OutboxParams {
    /// Only entries in this state: `pending`, `sent`, `failed` or `dead`.
    state: Option<PublicationState>,
    /// Only entries older than this id (paging).
    before: Option<Id>,
    /// 1–500, default 50.
    limit: Option<u32>,
}

/// Deliveries of published answers to channels in the caller's scope, newest first: their state,
/// attempts, the next attempt, and for dead ones why delivery was given up.
#[utoipa::path(get, path = "/api/v1/outbox", tag = "channels", params(OutboxParams),
    responses((status = 200, body = Vec<otklik_core::store::OutboxEntry>)))]
async fn list_outbox(
    State(state): State<AppState>,
    auth: Auth,
    QueryParams(p): QueryParams<OutboxParams>,
) -> ApiResult<Json<Vec<otklik_core::store::OutboxEntry>>> {
    let scope = auth.actor.scope(&state.workflow.catalog().hierarchy);
    let states: Vec<PublicationState> = p.state.into_iter().collect();
    Ok(Json(state.workflow.store().outbox(&scope, &states, p.before, p.limit.unwrap_or(50)).await?))
}

/// Sends a dead or failed delivery again now (control centres), e.g. after the source's access
/// was restored. A sent delivery is never sent again.
#[utoipa::path(post, path = "/api/v1/outbox/{id}/retry", tag = "channels", params(("id" = Id, Path)),
    responses((status = 200, body = otklik_core::store::OutboxEntry), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn retry_outbox(
    State(state): State<AppState>,
    auth: Auth,
    PathParam(id): PathParam<Id>,
) -> ApiResult<Json<otklik_core::store::OutboxEntry>> {
    let store = state.workflow.store();
    let entry = store.outbox_entry(id).await?.ok_or_else(|| ApiError::not_found("outbox entry"))?;
    // Visible and routable by the caller, as the incident's other control-centre actions are.
    let incident = state.workflow.visible_incident(&auth.actor, entry.incident_id).await?;
    let roles = auth.actor.roles_over(&incident, &state.workflow.catalog().hierarchy);
    if !roles.iter().any(|r| matches!(r, Role::Admin | Role::RegionalCurator | Role::MunicipalOperator)) {
        return Err(ApiError::forbidden("only control centres resend answers"));
    }
    if !matches!(entry.publication.state, PublicationState::Dead | PublicationState::Failed) {
        return Err(ApiError::new(StatusCode::CONFLICT, "not_retryable", "only failed or dead deliveries are resent"));
    }
    let now = state.workflow.now();
    let update = otklik_core::store::PublicationUpdate {
        state: PublicationState::Pending,
        attempts: 0,
        last_error: entry.publication.last_error.clone(),
        next_attempt_at: Some(now),
        external_id: None,
        at: now,
    };
    store.finish_publication(id, &update).await?;
    tracing::info!(publication = id, user = auth.user.id, "delivery resent by hand");
    Ok(Json(store.outbox_entry(id).await?.ok_or_else(|| ApiError::not_found("outbox entry"))?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct RejectParams {
    /// Only rejects older than this id (paging).
    before: Option<Id>,
    /// 1–500, default 50.
    limit: Option<u32>,
}

/// Deliveries that were refused (forged, malformed, spam, unknown source), kept for inspection,
/// newest first (administrators).
#[utoipa::path(get, path = "/api/v1/intake-rejects", tag = "channels", params(RejectParams),
    responses((status = 200, body = Vec<otklik_core::store::IntakeReject>), (status = 403, body = ErrorBody)))]
async fn list_rejects(
    State(state): State<AppState>,
    auth: Auth,
    QueryParams(p): QueryParams<RejectParams>,
) -> ApiResult<Json<Vec<otklik_core::store::IntakeReject>>> {
    auth.require_admin()?;
    Ok(Json(state.workflow.store().rejects(p.before, p.limit.unwrap_or(50)).await?))
}
