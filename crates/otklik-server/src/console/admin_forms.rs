//! The administration forms of the console: organisations, territories, the taxonomy, sources,
//! routing rules and deadline policies created and edited, rules and policies deleted, and role
//! bindings of existing users added and removed — through the same checks as the JSON API
//! (`crate::edits`), with refusals explained in Russian beside the form.

use std::collections::HashMap;

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use otklik_core::deadlines::{DeadlinePolicy, Span};
use otklik_core::model::{Category, Channel, Grant, Id, Kind, OrgKind, Organisation, Role, Source, Territory};
use otklik_core::routing::RoutingRule;
use otklik_core::workflow::Catalog;
use serde::Deserialize;

use super::{Choice, Console, Nav, NotFound, channel_name, kind_name, page, role_name};
use crate::app::AppState;
use crate::edits::{RefDelete, RefEdit};
use crate::error::ApiError;

/// What an edit page edits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum What {
    Territory,
    Organisation,
    Category,
    Source,
    Rule,
    Policy,
}

impl What {
    fn parse(s: &str) -> Option<What> {
        Some(match s {
            "territories" => What::Territory,
            "organisations" => What::Organisation,
            "categories" => What::Category,
            "sources" => What::Source,
            "routing-rules" => What::Rule,
            "deadline-policies" => What::Policy,
            _ => return None,
        })
    }

    fn slug(self) -> &'static str {
        match self {
            What::Territory => "territories",
            What::Organisation => "organisations",
            What::Category => "categories",
            What::Source => "sources",
            What::Rule => "routing-rules",
            What::Policy => "deadline-policies",
        }
    }

    fn title(self) -> &'static str {
        match self {
            What::Territory => "Территория",
            What::Organisation => "Организация",
            What::Category => "Тема классификатора",
            What::Source => "Источник",
            What::Rule => "Правило маршрутизации",
            What::Policy => "Политика сроков",
        }
    }

    /// The section of the administration page that lists these records.
    fn anchor(self) -> &'static str {
        match self {
            What::Territory => "territories",
            What::Organisation => "orgs",
            What::Category => "taxonomy",
            What::Source => "sources",
            What::Rule => "routing",
            What::Policy => "deadlines",
        }
    }

    fn deletable(self) -> bool {
        matches!(self, What::Rule | What::Policy)
    }
}

/// One input of a form. `kind` is `text`, `number`, `check`, `select`, `list` (comma-separated),
/// `enums` (a comma-separated list of `options`), `span` (a deadline like `9wh`) or `optbool`.
pub(super) struct Field {
    name: &'static str,
    label: &'static str,
    kind: &'static str,
    required: bool,
    /// Identifies the record: shown read-only when editing an existing one.
    key: bool,
    hint: &'static str,
    options: Vec<Choice>,
    value: String,
}

fn field(name: &'static str, label: &'static str, kind: &'static str) -> Field {
    Field { name, label, kind, required: false, key: false, hint: "", options: vec![], value: String::new() }
}

impl Field {
    fn required(mut self) -> Self {
        self.required = true;
        self
    }

    fn key(mut self) -> Self {
        self.key = true;
        self.required = true;
        self
    }

    fn hint(mut self, h: &'static str) -> Self {
        self.hint = h;
        self
    }

    fn options(mut self, o: Vec<Choice>) -> Self {
        self.options = o;
        self
    }
}

fn choices<T: Copy>(all: &[T], code: impl Fn(T) -> &'static str, name: impl Fn(T) -> &'static str) -> Vec<Choice> {
    all.iter().map(|v| Choice { code: code(*v).to_string(), name: name(*v).to_string() }).collect()
}

fn territory_choices(c: &Catalog) -> Vec<Choice> {
    let h = &c.hierarchy;
    let mut v: Vec<Choice> = h
        .territory_codes()
        .iter()
        .filter_map(|t| h.territory(t))
        .map(|t| Choice { code: t.code.clone(), name: format!("{} ({})", t.name, t.code) })
        .collect();
    v.sort_by(|a, b| a.code.cmp(&b.code));
    v
}

fn org_choices(c: &Catalog) -> Vec<Choice> {
    let mut v: Vec<Choice> =
        c.hierarchy.organisations().map(|o| Choice { code: o.code.clone(), name: o.name.clone() }).collect();
    v.sort_by(|a, b| a.name.cmp(&b.name));
    v
}

fn topic_choices(c: &Catalog) -> Vec<Choice> {
    let mut v: Vec<Choice> = c
        .categories
        .values()
        .map(|x| Choice { code: x.code.clone(), name: format!("{}{}", "  ".repeat(x.level() - 1), x.name) })
        .collect();
    v.sort_by(|a, b| a.code.cmp(&b.code));
    v
}

const CHANNELS: &[Channel] = &[
    Channel::Vk,
    Channel::Ok,
    Channel::Telegram,
    Channel::Web,
    Channel::Open311,
    Channel::Email,
    Channel::Max,
    Channel::Api,
];

fn level_name(l: otklik_core::model::TerritoryLevel) -> &'static str {
    match l {
        otklik_core::model::TerritoryLevel::Region => "регион",
        otklik_core::model::TerritoryLevel::Municipality => "муниципальное образование",
        otklik_core::model::TerritoryLevel::Settlement => "поселение",
    }
}

fn org_kind_name(k: OrgKind) -> &'static str {
    match k {
        OrgKind::RegionalCentre => "ЦУР",
        OrgKind::MunicipalCentre => "МЦУ",
        OrgKind::Administration => "администрация",
        OrgKind::Ministry => "министерство",
        OrgKind::Agency => "ведомство",
        OrgKind::Utility => "коммунальная служба",
        OrgKind::Operator => "оператор (ТКО, связь…)",
        OrgKind::Healthcare => "здравоохранение",
        OrgKind::Education => "образование",
        OrgKind::Other => "другое",
    }
}

const SPAN_HINT: &str = "например 9wh (рабочие часы), 24h, 7wd (рабочие дни), 30d";

/// The inputs of a form, empty.
fn spec(what: What, c: &Catalog) -> Vec<Field> {
    match what {
        What::Territory => vec![
            field("code", "Код", "text").key().hint("латиница, цифры, - и _"),
            field("name", "Название", "text").required(),
            field("full_name", "Полное название", "text").required(),
            field("level", "Уровень", "select").required().options(choices(
                otklik_core::model::TerritoryLevel::ALL,
                |l| l.as_str(),
                level_name,
            )),
            field("parent", "Входит в", "select").options(territory_choices(c)),
            field("zone", "Часовой пояс", "text").required().hint("например Europe/Moscow"),
            field("oktmo", "ОКТМО", "text"),
            field("aliases", "Другие названия и формы", "list").hint("через запятую: в Грязях, Грязи"),
        ],
        What::Organisation => vec![
            field("code", "Код", "text").key().hint("латиница, цифры, - и _"),
            field("name", "Название", "text").required(),
            field("kind", "Тип", "select").required().options(choices(OrgKind::ALL, |k| k.as_str(), org_kind_name)),
            field("territory", "Территория", "select").required().options(territory_choices(c)),
            field("parent", "Вышестоящая организация", "select").options(org_choices(c)),
            field("sectors", "Направления", "list").hint("коды через запятую: roads, housing"),
            field("working_hours", "Часы работы", "text").hint("например 08:30-12:30,13:15-17:30; пусто — 09:00-18:00"),
        ],
        What::Category => vec![
            field("code", "Код", "text").key().hint("направление.группа.тема, например roads.surface.potholes"),
            field("name", "Название", "text").required(),
            field("photo_required", "Фото результата обязательно", "check"),
            field("form_days", "Срок ответа по форме, дней", "number"),
        ],
        What::Source => vec![
            field("channel", "Канал", "select").key().options(choices(CHANNELS, |c| c.as_str(), channel_name)),
            field("key", "Ключ источника", "text").key().hint("id группы, чата или имя формы"),
            field("name", "Название", "text").required(),
            field("territory", "Территория", "select").options(territory_choices(c)),
            field("org", "Организация", "select").options(org_choices(c)),
        ],
        What::Rule => vec![
            field("code", "Код правила", "text").key().hint("латиница, цифры, - и _"),
            field("category", "Тема", "select").options(topic_choices(c)),
            field("territory", "Территория", "select").options(territory_choices(c)),
            field("channel", "Канал", "select").options(choices(CHANNELS, |c| c.as_str(), channel_name)),
            field("kind", "Вид сообщения", "select").options(choices(Kind::ALL, |k| k.as_str(), kind_name)),
            field("org", "Исполнитель", "select").required().options(org_choices(c)),
            field("co_executors", "Соисполнители", "list").hint("коды организаций через запятую"),
            field("priority", "Приоритет", "number").hint("при равной точности побеждает больший"),
        ],
        What::Policy => vec![
            field("code", "Код политики", "text").key().hint("латиница, цифры, - и _"),
            field("channels", "Каналы", "enums")
                .hint("через запятую: vk, ok, telegram, web…; пусто — любые")
                .options(choices(CHANNELS, |c| c.as_str(), channel_name)),
            field("categories", "Темы", "list").hint("коды через запятую; пусто — любые"),
            field("kinds", "Виды сообщений", "enums")
                .hint("через запятую: complaint, question…; пусто — любые")
                .options(choices(Kind::ALL, |k| k.as_str(), kind_name)),
            field("urgent", "Срочность", "optbool"),
            field("priority", "Приоритет", "number"),
            field("first_answer", "Первый ответ", "span").hint(SPAN_HINT),
            field("first_answer_cap", "Предел первого ответа", "span").hint(SPAN_HINT),
            field("final_after_intermediate", "Окончательный после промежуточного", "span").hint(SPAN_HINT),
            field("resolution", "Решение", "span").hint(SPAN_HINT),
            field("form_days", "Сроки по теме веб-формы", "check"),
            field("review", "Проверка ответа", "span").hint(SPAN_HINT),
            field("registration", "Регистрация (59-ФЗ)", "span").hint(SPAN_HINT),
            field("redirect_within", "Переадресация (59-ФЗ)", "span").hint(SPAN_HINT),
            field("extension", "Продление (59-ФЗ)", "span").hint(SPAN_HINT),
            field("restart_on_redirect", "Переадресация запускает срок заново", "check"),
        ],
    }
}

/// A stored value as its input shows it.
fn shown(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Bool(b) => if *b { "true" } else { "" }.to_string(),
        serde_json::Value::Array(a) => a.iter().map(shown).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

/// The submitted form as the record's JSON; a Russian message for the first bad input.
fn read(fields: &[Field], form: &HashMap<String, String>) -> Result<serde_json::Value, String> {
    let mut out = serde_json::Map::new();
    for f in fields {
        let raw = form.get(f.name).map(|s| s.trim()).unwrap_or("");
        let list = || raw.split(',').map(str::trim).filter(|x| !x.is_empty()).map(str::to_string).collect::<Vec<_>>();
        let value = match f.kind {
            "check" => serde_json::Value::Bool(!raw.is_empty()),
            // Left empty: the record's default (none, nothing, zero).
            _ if raw.is_empty() => {
                if f.required {
                    return Err(format!("Заполните поле «{}».", f.label));
                }
                continue;
            }
            "number" => {
                let n: i64 = raw.parse().map_err(|_| format!("«{}»: нужно целое число.", f.label))?;
                serde_json::Value::from(n)
            }
            "list" => serde_json::Value::from(list()),
            "enums" => {
                let items = list();
                if let Some(bad) = items.iter().find(|x| !f.options.iter().any(|o| &o.code == *x)) {
                    let known = f.options.iter().map(|o| o.code.as_str()).collect::<Vec<_>>().join(", ");
                    return Err(format!("«{}»: неизвестное значение «{bad}» (можно: {known}).", f.label));
                }
                serde_json::Value::from(items)
            }
            "span" => {
                serde_json::from_value::<Span>(serde_json::Value::from(raw))
                    .map_err(|_| format!("«{}»: срок записывается как 9wh, 24h, 7wd, 30d или 90m.", f.label))?;
                serde_json::Value::from(raw)
            }
            "optbool" => serde_json::Value::Bool(raw == "true"),
            "select" => {
                if !f.options.iter().any(|o| o.code == raw) {
                    return Err(format!("«{}»: выберите значение из списка.", f.label));
                }
                serde_json::Value::from(raw)
            }
            _ => serde_json::Value::from(raw),
        };
        out.insert(f.name.to_string(), value);
    }
    Ok(serde_json::Value::Object(out))
}

fn typed<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> Result<T, String> {
    serde_json::from_value(v).map_err(|e| {
        tracing::debug!(error = %e, "administration form");
        "Форма заполнена неверно: проверьте числа и списки.".to_string()
    })
}

fn edit_of(what: What, v: serde_json::Value) -> Result<RefEdit, String> {
    Ok(match what {
        What::Territory => RefEdit::Territory(typed::<Territory>(v)?),
        What::Organisation => RefEdit::Organisation(typed::<Organisation>(v)?),
        What::Category => RefEdit::Category(typed::<Category>(v)?),
        What::Source => RefEdit::Source(typed::<Source>(v)?),
        What::Rule => RefEdit::RoutingRule(typed::<RoutingRule>(v)?),
        What::Policy => RefEdit::DeadlinePolicy(typed::<DeadlinePolicy>(v)?),
    })
}

/// The stored record named by `code` (`channel:key` for sources), as JSON.
async fn stored(state: &AppState, what: What, code: &str) -> Option<serde_json::Value> {
    fn json<T: serde::Serialize>(v: Option<&T>) -> Option<serde_json::Value> {
        serde_json::to_value(v?).ok()
    }
    let s = state.workflow.store();
    match what {
        What::Territory => json(s.territories().await.ok()?.iter().find(|x| x.code == code)),
        What::Organisation => json(s.organisations().await.ok()?.iter().find(|x| x.code == code)),
        What::Category => json(s.categories().await.ok()?.iter().find(|x| x.code == code)),
        What::Source => {
            let (ch, key) = crate::edits::source_ref(code)?;
            json(s.sources().await.ok()?.iter().find(|x| x.channel == ch && x.key == key))
        }
        What::Rule => json(s.routing_rules().await.ok()?.iter().find(|x| x.code == code)),
        What::Policy => json(s.deadline_policies().await.ok()?.iter().find(|x| x.code == code)),
    }
}

#[derive(Template)]
#[template(path = "admin_edit.html")]
struct EditPage {
    nav: Nav,
    title: &'static str,
    slug: &'static str,
    anchor: &'static str,
    /// Editing an existing record (its key inputs are read-only).
    existing: bool,
    code: String,
    deletable: bool,
    fields: Vec<Field>,
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct CodeQuery {
    code: Option<String>,
}

fn forbidden(c: &Console) -> Response {
    page(StatusCode::FORBIDDEN, NotFound { nav: c.nav("admin") }.render())
}

fn unknown(c: &Console) -> Response {
    page(StatusCode::NOT_FOUND, NotFound { nav: c.nav("admin") }.render())
}

/// The form for a new record, or for the one named by `?code=`.
pub(super) async fn edit_page(
    State(state): State<AppState>,
    c: Console,
    Path(what): Path<String>,
    Query(q): Query<CodeQuery>,
) -> Response {
    if !c.auth.actor.is_admin() {
        return forbidden(&c);
    }
    let Some(what) = What::parse(&what) else { return unknown(&c) };
    let mut fields = spec(what, &state.workflow.catalog());
    let code = q.code.unwrap_or_default();
    let existing = if code.is_empty() {
        // A new policy restarts its clock on a redirect unless told otherwise, as in the files.
        for f in fields.iter_mut().filter(|f| f.name == "restart_on_redirect") {
            f.value = "true".into();
        }
        false
    } else {
        let Some(v) = stored(&state, what, &code).await else { return unknown(&c) };
        for f in &mut fields {
            f.value = shown(&v[f.name]);
        }
        true
    };
    render(&c, what, fields, existing, code, None)
}

fn render(
    c: &Console,
    what: What,
    fields: Vec<Field>,
    existing: bool,
    code: String,
    error: Option<String>,
) -> Response {
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let t = EditPage {
        nav: c.nav("admin"),
        title: what.title(),
        slug: what.slug(),
        anchor: what.anchor(),
        existing,
        code,
        deletable: what.deletable() && existing,
        fields,
        error,
    };
    page(status, t.render())
}

/// Saves a record from its form: the API's whole-reference check, then the catalog is reloaded.
/// A refused edit shows the form again with the reason and changes nothing.
pub(super) async fn save(
    State(state): State<AppState>,
    c: Console,
    Path(what): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let csrf = form.get("_csrf").map(String::as_str).unwrap_or("");
    if !c.auth.actor.is_admin() || !crate::auth::csrf_matches(&c.auth, csrf) {
        return StatusCode::FORBIDDEN.into_response();
    }
    let Some(what) = What::parse(&what) else { return unknown(&c) };
    let mut fields = spec(what, &state.workflow.catalog());
    for f in &mut fields {
        f.value = form.get(f.name).cloned().unwrap_or_default();
        if f.kind == "check" && !f.value.is_empty() {
            f.value = "true".into();
        }
    }
    let existing = form.get("_existing").is_some_and(|v| v == "1");
    let code = form.get("_code").cloned().unwrap_or_default();
    let outcome = match read(&fields, &form).and_then(|v| edit_of(what, v)) {
        Ok(edit) => crate::edits::put(&state, &edit).await.map_err(|e| russian(&e)),
        Err(e) => Err(e),
    };
    match outcome {
        Ok(()) => {
            tracing::info!(admin = c.auth.user.id, what = what.slug(), "reference data edited in the console");
            Redirect::to(&format!("/admin?saved={}#{}", what.slug(), what.anchor())).into_response()
        }
        Err(e) => render(&c, what, fields, existing, code, Some(format!("Изменение не сохранено. {e}"))),
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct DeleteForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    code: String,
}

/// Deletes a routing rule or a deadline policy.
pub(super) async fn remove(
    State(state): State<AppState>,
    c: Console,
    Path(what): Path<String>,
    Form(f): Form<DeleteForm>,
) -> Response {
    if !c.auth.actor.is_admin() || !crate::auth::csrf_matches(&c.auth, &f.csrf) {
        return StatusCode::FORBIDDEN.into_response();
    }
    let Some(what) = What::parse(&what) else { return unknown(&c) };
    let del = match what {
        What::Rule => RefDelete::RoutingRule(f.code),
        What::Policy => RefDelete::DeadlinePolicy(f.code),
        _ => return unknown(&c),
    };
    match crate::edits::delete(&state, &del).await {
        Ok(()) => {
            tracing::info!(admin = c.auth.user.id, what = what.slug(), "reference data deleted in the console");
            Redirect::to(&format!("/admin?saved={}#{}", what.slug(), what.anchor())).into_response()
        }
        Err(e) => super::admin(&state, &c, Some(format!("Не удалено. {}", russian(&e)))).await,
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct GrantForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    /// `add` or `remove`.
    op: String,
    role: String,
    #[serde(default)]
    node: String,
}

/// Adds a role binding to an existing user, or removes one, with the API's checks.
pub(super) async fn grants(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<Id>,
    Form(f): Form<GrantForm>,
) -> Response {
    if !c.auth.actor.is_admin() || !crate::auth::csrf_matches(&c.auth, &f.csrf) {
        return StatusCode::FORBIDDEN.into_response();
    }
    let Ok(Some(user)) = state.workflow.store().user(id).await else {
        return super::admin(&state, &c, Some("Пользователь не найден.".into())).await;
    };
    let Some(role) = Role::parse(&f.role) else {
        return super::admin(&state, &c, Some("Выберите роль.".into())).await;
    };
    let grant = Grant { role, node: Some(f.node.trim().to_string()).filter(|n| !n.is_empty()) };
    let mut list = user.grants.clone();
    match f.op.as_str() {
        "add" if list.contains(&grant) => {
            return super::admin(&state, &c, Some(format!("У {} уже есть эта роль.", user.login))).await;
        }
        "add" => list.push(grant),
        "remove" if !list.contains(&grant) => {
            return super::admin(&state, &c, Some(format!("У {} нет этой роли.", user.login))).await;
        }
        "remove" => {
            // An administrator keeps the role that lets them undo their own mistakes.
            if id == c.auth.user.id && grant.role == Role::Admin {
                return super::admin(&state, &c, Some("Свою роль администратора снять нельзя.".into())).await;
            }
            list.retain(|g| g != &grant);
        }
        _ => return StatusCode::BAD_REQUEST.into_response(),
    }
    match crate::edits::set_grants(&state, id, &list).await {
        Ok(_) => {
            tracing::info!(admin = c.auth.user.id, user = id, op = %f.op, role = %role, "roles changed in the console");
            Redirect::to("/admin?saved=users#users").into_response()
        }
        Err(e) => {
            let msg = format!("Роли {} не изменены. {}", user.login, russian(&e));
            super::admin(&state, &c, Some(msg)).await
        }
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct TemplateForm {
    #[serde(rename = "_csrf")]
    csrf: String,
    name: String,
    text: String,
    #[serde(default)]
    position: String,
}

/// Adds an answer template (`id` none) or replaces one, with the API's checks.
async fn save_template(state: &AppState, c: &Console, id: Option<Id>, f: TemplateForm) -> Response {
    if !c.auth.actor.is_admin() || !crate::auth::csrf_matches(&c.auth, &f.csrf) {
        return StatusCode::FORBIDDEN.into_response();
    }
    let draft = (f.name.clone(), f.text.clone(), f.position.clone());
    let position = match f.position.trim() {
        "" => Ok(0),
        p => p.parse::<i32>().map_err(|_| "«Порядок»: нужно целое число.".to_string()),
    };
    let outcome = match position {
        Ok(position) => {
            let t = otklik_core::model::NewAnswerTemplate { name: f.name, text: f.text, position };
            crate::edits::save_template(state, id, &t).await.map_err(|e| match e.code {
                "conflict" => "Шаблон с таким названием уже есть.".to_string(),
                _ => russian(&e),
            })
        }
        Err(e) => Err(e),
    };
    match outcome {
        Ok(t) => {
            tracing::info!(admin = c.auth.user.id, template = t.id, "answer template saved in the console");
            Redirect::to("/admin?saved=templates#templates").into_response()
        }
        Err(e) => {
            let at = match id {
                Some(id) => super::ErrorAt::Template(id),
                None => super::ErrorAt::NewTemplate(draft),
            };
            super::render_admin(state, c, Some(format!("Шаблон не сохранён. {e}")), at, None).await
        }
    }
}

pub(super) async fn create_template(
    State(state): State<AppState>,
    c: Console,
    Form(f): Form<TemplateForm>,
) -> Response {
    save_template(&state, &c, None, f).await
}

pub(super) async fn update_template(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<Id>,
    Form(f): Form<TemplateForm>,
) -> Response {
    save_template(&state, &c, Some(id), f).await
}

pub(super) async fn delete_template(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<Id>,
    Form(f): Form<super::CsrfForm>,
) -> Response {
    if !c.auth.actor.is_admin() || !crate::auth::csrf_matches(&c.auth, &f.csrf) {
        return StatusCode::FORBIDDEN.into_response();
    }
    match crate::edits::delete_template(&state, id).await {
        Ok(()) => Redirect::to("/admin?saved=templates#templates").into_response(),
        Err(e) => {
            let msg = format!("Шаблон не удалён. {}", russian(&e));
            super::render_admin(&state, &c, Some(msg), super::ErrorAt::Template(id), None).await
        }
    }
}

/// A refusal of an edit in Russian: the API's checks speak English, so their messages are
/// translated here by shape; an unknown one keeps its text after a Russian lead.
pub(super) fn russian(e: &ApiError) -> String {
    match e.code {
        "invalid_reference" | "validation_failed" => russian_message(&e.message),
        "not_found" => "Запись не найдена.".into(),
        "conflict" => "Такая запись уже есть.".into(),
        _ => "Не удалось сохранить изменения; попробуйте ещё раз.".into(),
    }
}

/// English message shapes of the reference and role checks (`{}` is any text) and their Russian.
const MESSAGES: &[(&str, &str)] = &[
    ("duplicate territory code `{}`", "территория с кодом «{}» уже есть."),
    ("unknown time zone `{}`", "неизвестный часовой пояс «{}» (пишите как Europe/Moscow)."),
    ("a {} cannot be under the {} `{}`", "{} не может входить в {} «{}»."),
    ("unknown parent territory `{}`", "нет территории «{}», в которую она входит."),
    ("a region has no parent", "регион ни во что не входит."),
    ("`{}` needs a parent", "укажите, во что входит «{}»."),
    ("territory `{}` has no time zone", "у территории «{}» нет часового пояса."),
    ("duplicate organisation code `{}`", "организация с кодом «{}» уже есть."),
    ("unknown territory `{}` for role `{}`", "нет территории «{}» для роли {}."),
    ("unknown organisation `{}` for role `{}`", "нет организации «{}» для роли {}."),
    ("role `{}` needs a node", "для роли {} укажите территорию или организацию."),
    ("unknown territory `{}`", "нет территории «{}»."),
    ("unknown organisation `{}`", "нет организации «{}»."),
    ("unknown sector `{}`", "нет направления «{}» в классификаторе."),
    ("invalid working hours `{}`: {}", "неверные часы работы «{}»: пишите как 08:30-12:30,13:15-17:30."),
    ("organisation `{}` is its own ancestor", "организация «{}» оказывается вышестоящей сама себе."),
    ("unknown parent organisation `{}`", "нет вышестоящей организации «{}»."),
    ("bad category code `{}`", "неверный код темы «{}»: направление.группа.тема латиницей."),
    ("duplicate category `{}`", "тема «{}» уже есть."),
    ("`{}` is deeper than three levels", "тема «{}» глубже трёх уровней."),
    ("`{}` is not a contract category", "«{}» — не одно из направлений классификатора."),
    ("form_days {} out of range", "срок по форме {} дней вне допустимых пределов."),
    ("parent category `{}` is missing", "нет родительской темы «{}»."),
    ("duplicate source `{}`", "источник «{}» уже есть."),
    ("duplicate rule `{}`", "правило «{}» уже есть."),
    ("rule `{}` points at the missing organisation `{}`", "правило «{}» ссылается на несуществующую организацию «{}»."),
    ("rule `{}` names `{}` as lead and co-executor", "в правиле «{}» «{}» и исполнитель, и соисполнитель."),
    ("rule `{}` names the unknown territory `{}`", "в правиле «{}» неизвестная территория «{}»."),
    ("rule `{}` names the unknown category `{}`", "в правиле «{}» неизвестная тема «{}»."),
    ("duplicate deadline policy `{}`", "политика сроков «{}» уже есть."),
    ("policy `{}` names the unknown category `{}`", "в политике «{}» неизвестная тема «{}»."),
    ("policy `{}` sets no deadline", "политика «{}» не задаёт ни одного срока."),
    ("bad code `{}`: use 1–64 of a-z, 0-9, - and _", "неверный код «{}»: 1–64 знака из a-z, 0-9, - и _."),
    ("a source needs a key", "у источника должен быть ключ."),
    ("a template needs a name of 1–200 characters", "у шаблона должно быть название длиной до 200 знаков."),
    ("a template needs a text of 1–10000 characters", "у шаблона должен быть текст длиной до 10 000 знаков."),
    ("unknown placeholder `{}`: use {}", "неизвестная подстановка «{}»: можно {}."),
    ("a login is 2–64 of a-z, 0-9, . _ - @", "логин — от 2 до 64 знаков из a-z, 0-9, . _ - @."),
    ("a password needs at least {} characters", "пароль — не короче {} знаков."),
];

/// Words the messages carry inside their text (territory levels, roles).
fn russian_word(w: &str) -> String {
    if let Some(r) = Role::parse(w) {
        return role_name(r).to_string();
    }
    match otklik_core::model::TerritoryLevel::parse(w) {
        Some(l) => level_name(l).to_string(),
        None => w.to_string(),
    }
}

/// Matches `message` against a shape with `{}` holes; the holes' text, in order.
fn holes(shape: &str, message: &str) -> Option<Vec<String>> {
    let parts: Vec<&str> = shape.split("{}").collect();
    let mut rest = message.strip_prefix(parts[0])?;
    let mut out = Vec::new();
    for (i, lit) in parts.iter().enumerate().skip(1) {
        let last = i == parts.len() - 1;
        let at = if last {
            if lit.is_empty() { rest.len() } else { rest.strip_suffix(lit).map(str::len)? }
        } else {
            rest.find(lit)?
        };
        out.push(rest[..at].to_string());
        rest = &rest[at + lit.len()..];
    }
    rest.is_empty().then_some(out)
}

pub(super) fn russian_message(m: &str) -> String {
    for (shape, ru) in MESSAGES {
        if let Some(args) = holes(shape, m) {
            let mut out = String::new();
            let mut args = args.iter();
            for (i, piece) in ru.split("{}").enumerate() {
                if i > 0 {
                    out.push_str(&args.next().map(|a| russian_word(a)).unwrap_or_default());
                }
                out.push_str(piece);
            }
            // Sentence case.
            let mut chars = out.chars();
            return match chars.next() {
                Some(f) => f.to_uppercase().collect::<String>() + chars.as_str(),
                None => out,
            };
        }
    }
    format!("Проверка не пройдена: {m}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_read_in_russian() {
        assert_eq!(russian_message("unknown territory `nowhere`"), "Нет территории «nowhere».");
        assert_eq!(
            russian_message("rule `r1` points at the missing organisation `ghost`"),
            "Правило «r1» ссылается на несуществующую организацию «ghost»."
        );
        assert_eq!(
            russian_message("a municipality cannot be under the settlement `x`"),
            "Муниципальное образование не может входить в поселение «x»."
        );
        assert_eq!(
            russian_message("unknown territory `x` for role `municipal_operator`"),
            "Нет территории «x» для роли оператор МЦУ."
        );
        assert_eq!(
            russian_message("invalid working hours `9-6`: `9` is not a time"),
            "Неверные часы работы «9-6»: пишите как 08:30-12:30,13:15-17:30."
        );
        assert_eq!(russian_message("something new"), "Проверка не пройдена: something new");
    }

    #[test]
    fn every_shape_of_the_checks_is_translated() {
        // Real refusals from the reference checks, so a changed English wording fails here.
        let data = crate::refdata::builtin().expect("built-in reference data");
        let mut bad = data.clone();
        bad.organisations[0].territory = "nowhere".into();
        let mut bad_rule = data.clone();
        bad_rule.routing[0].org = "ghost".into();
        let mut bad_policy = data.clone();
        bad_policy.deadlines[0].categories = vec!["nothing.here".into()];
        let files = otklik_core::reference::ReferenceFiles::unnamed();
        for d in [bad, bad_rule, bad_policy] {
            let e = d.validate(&files).expect_err("refused");
            let ru = russian_message(&e.message);
            assert!(!ru.starts_with("Проверка не пройдена"), "untranslated: {}", e.message);
        }
    }

    #[test]
    fn forms_read_into_records_with_russian_refusals() {
        let c = Catalog::default();
        let f = spec(What::Category, &c);
        let form: HashMap<String, String> = [("code", "roads.x"), ("name", "Ямы"), ("form_days", "десять")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(read(&f, &form), Err("«Срок ответа по форме, дней»: нужно целое число.".to_string()));
        let mut ok = form.clone();
        ok.insert("form_days".into(), "10".into());
        ok.insert("photo_required".into(), "1".into());
        let v = read(&f, &ok).unwrap();
        let RefEdit::Category(cat) = edit_of(What::Category, v).unwrap() else { panic!("a category") };
        assert_eq!((cat.form_days, cat.photo_required), (Some(10), true));
        let p = spec(What::Policy, &c);
        let form: HashMap<String, String> =
            [("code", "p1"), ("first_answer", "9 часов")].into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        assert!(read(&p, &form).unwrap_err().contains("9wh"));
        let form: HashMap<String, String> =
            [("code", "p1"), ("channels", "vk, fax")].into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        assert!(read(&p, &form).unwrap_err().contains("«fax»"));
    }
}
