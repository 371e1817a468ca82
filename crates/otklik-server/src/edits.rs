//! Administrators' edits of reference data, roles and answer templates, one implementation for the
//! JSON API and the console: every reference edit is checked against the whole reference data (as
//! a file would be) before it is stored, and the workflow's catalog is reloaded after it.

use axum::http::StatusCode;
use otklik_core::deadlines::DeadlinePolicy;
use otklik_core::model::{
    AnswerTemplate, Category, Channel, Grant, Id, NewAnswerTemplate, Organisation, Source, TEMPLATE_PLACEHOLDERS,
    Territory, User,
};
use otklik_core::reference::{ReferenceData, ReferenceFiles, validate_code};
use otklik_core::routing::RoutingRule;

use crate::app::AppState;
use crate::error::{ApiError, ApiResult};

/// One record of reference data, created or replaced whole.
#[derive(Debug, Clone)]
pub enum RefEdit {
    Territory(Territory),
    Organisation(Organisation),
    Category(Category),
    Source(Source),
    RoutingRule(RoutingRule),
    DeadlinePolicy(DeadlinePolicy),
}

/// A record that may be removed (nothing else refers to rules and policies by code).
#[derive(Debug, Clone)]
pub enum RefDelete {
    RoutingRule(String),
    DeadlinePolicy(String),
}

/// Reference data as stored now.
pub async fn current_reference(state: &AppState) -> ApiResult<ReferenceData> {
    let s = state.workflow.store();
    Ok(ReferenceData {
        territories: s.territories().await?,
        organisations: s.organisations().await?,
        categories: s.categories().await?,
        sources: s.sources().await?,
        routing: s.routing_rules().await?,
        deadlines: s.deadline_policies().await?,
    })
}

/// Validates reference data after an edit, as a file would be.
fn validate_edit(data: &ReferenceData) -> ApiResult<()> {
    data.validate(&ReferenceFiles::unnamed())
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_reference", e.message))
}

fn code_ok(code: &str) -> ApiResult<()> {
    validate_code(code).map_err(|m| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", m))
}

/// Creates or replaces one record if the reference data stays valid with it; nothing is stored
/// otherwise.
pub async fn put(state: &AppState, edit: &RefEdit) -> ApiResult<()> {
    let mut data = current_reference(state).await?;
    match edit {
        RefEdit::Territory(t) => {
            code_ok(&t.code)?;
            data.territories.retain(|x| x.code != t.code);
            data.territories.push(t.clone());
        }
        RefEdit::Organisation(o) => {
            code_ok(&o.code)?;
            data.organisations.retain(|x| x.code != o.code);
            data.organisations.push(o.clone());
        }
        // Category codes are dotted paths, checked by the taxonomy's own validation.
        RefEdit::Category(c) => {
            data.categories.retain(|x| x.code != c.code);
            data.categories.push(c.clone());
        }
        RefEdit::Source(s) => {
            if s.key.trim().is_empty() || s.key.len() > 256 {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "validation_failed",
                    "a source needs a key",
                ));
            }
            data.sources.retain(|x| !(x.channel == s.channel && x.key == s.key));
            data.sources.push(s.clone());
        }
        RefEdit::RoutingRule(r) => {
            code_ok(&r.code)?;
            data.routing.retain(|x| x.code != r.code);
            data.routing.push(r.clone());
        }
        RefEdit::DeadlinePolicy(p) => {
            code_ok(&p.code)?;
            data.deadlines.retain(|x| x.code != p.code);
            data.deadlines.push(p.clone());
        }
    }
    validate_edit(&data)?;
    let store = state.workflow.store();
    match edit {
        RefEdit::Territory(t) => store.upsert_territory(t).await?,
        RefEdit::Organisation(o) => store.upsert_organisation(o).await?,
        RefEdit::Category(c) => store.upsert_category(c).await?,
        RefEdit::Source(s) => store.upsert_source(s).await?,
        RefEdit::RoutingRule(r) => store.upsert_routing_rule(r).await?,
        RefEdit::DeadlinePolicy(p) => store.upsert_deadline_policy(p).await?,
    }
    state.workflow.reload_catalog().await?;
    Ok(())
}

/// Removes a routing rule or a deadline policy; `not_found` when there is none.
pub async fn delete(state: &AppState, what: &RefDelete) -> ApiResult<()> {
    let store = state.workflow.store();
    let found = match what {
        RefDelete::RoutingRule(code) => store.delete_routing_rule(code).await?,
        RefDelete::DeadlinePolicy(code) => store.delete_deadline_policy(code).await?,
    };
    if !found {
        return Err(ApiError::not_found(match what {
            RefDelete::RoutingRule(_) => "routing rule",
            RefDelete::DeadlinePolicy(_) => "deadline policy",
        }));
    }
    state.workflow.reload_catalog().await?;
    Ok(())
}

/// The source of a `channel:key` pair as the console names it.
pub fn source_ref(s: &str) -> Option<(Channel, &str)> {
    let (c, k) = s.split_once(':')?;
    Some((Channel::parse(c)?, k))
}

/// Replaces a user's role bindings after checking that each names an existing node of the right
/// kind; their sessions and tokens carry the new roles from the next request.
pub async fn set_grants(state: &AppState, id: Id, grants: &[Grant]) -> ApiResult<User> {
    crate::api::validate_grants(grants, &state.workflow.catalog())?;
    let user = state.workflow.store().update_user(id, None, None, None, Some(grants)).await?;
    state.token_cache.clear();
    Ok(user)
}

fn invalid(message: String) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", message)
}

/// A template needs a name and a text, and only the placeholders the editor fills in.
pub fn validate_template(t: &NewAnswerTemplate) -> ApiResult<()> {
    if t.name.trim().is_empty() || t.name.chars().count() > 200 {
        return Err(invalid("a template needs a name of 1–200 characters".into()));
    }
    if t.text.trim().is_empty() || t.text.chars().count() > 10_000 {
        return Err(invalid("a template needs a text of 1–10000 characters".into()));
    }
    let mut rest = t.text.as_str();
    while let Some(open) = rest.find('{') {
        let tail = &rest[open..];
        let Some(close) = tail.find('}') else { break };
        let placeholder = &tail[..=close];
        if !TEMPLATE_PLACEHOLDERS.contains(&placeholder) {
            return Err(invalid(format!(
                "unknown placeholder `{placeholder}`: use {}",
                TEMPLATE_PLACEHOLDERS.join(", ")
            )));
        }
        rest = &tail[close + 1..];
    }
    Ok(())
}

/// Creates a template, or replaces the one with `id`; `conflict` when the name is another's.
pub async fn save_template(state: &AppState, id: Option<Id>, t: &NewAnswerTemplate) -> ApiResult<AnswerTemplate> {
    validate_template(t)?;
    let t = NewAnswerTemplate { name: t.name.trim().to_string(), ..t.clone() };
    let store = state.workflow.store();
    let saved = match id {
        None => store.create_answer_template(&t).await,
        Some(id) => store.update_answer_template(id, &t).await,
    };
    saved.map_err(|e| match e {
        otklik_core::StoreError::Conflict(_) => {
            ApiError::new(StatusCode::CONFLICT, "conflict", format!("a template named `{}` exists", t.name))
        }
        otklik_core::StoreError::NotFound => ApiError::not_found("answer template"),
        other => other.into(),
    })
}

/// Removes a template; `not_found` when there is none.
pub async fn delete_template(state: &AppState, id: Id) -> ApiResult<()> {
    if state.workflow.store().delete_answer_template(id).await? {
        Ok(())
    } else {
        Err(ApiError::not_found("answer template"))
    }
}
