//! Accounts: argon2 password hashes, console sessions by cookie with a CSRF token, machine tokens,
//! and the extractor that turns a request into an authenticated actor.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{Method, header};
use base64::Engine;
use otklik_core::access::Actor;
use otklik_core::model::{Id, User};
use sha2::{Digest, Sha256};

use crate::app::AppState;
use crate::error::ApiError;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "otklik_session";
/// The header that must carry the session's CSRF token on every state-changing request.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Hashes a password into a PHC string (argon2id, random salt).
pub fn hash_password(password: &str) -> Result<String, ApiError> {
    Argon2::default().hash_password(password.as_bytes()).map(|h| h.to_string()).map_err(|e| {
        tracing::error!(error = %e, "password hashing failed");
        ApiError::internal()
    })
}

/// Checks a password against a PHC string; false for anything unreadable.
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// A fresh random secret, URL-safe.
pub fn random_token() -> String {
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Secrets are stored only as hashes, so a database dump reveals no live credential.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Recently verified machine tokens, so hot integrations do not pay two lookups per request.
/// Entries live a few seconds; changes to accounts clear the cache at once.
#[derive(Debug, Default)]
pub struct TokenCache {
    entries: std::sync::Mutex<std::collections::HashMap<String, (std::time::Instant, Auth)>>,
}

const TOKEN_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(5);

impl TokenCache {
    fn get(&self, hash: &str) -> Option<Auth> {
        let map = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        map.get(hash).filter(|(at, _)| at.elapsed() < TOKEN_CACHE_TTL).map(|(_, a)| a.clone())
    }

    fn put(&self, hash: String, auth: Auth) {
        let mut map = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > 10_000 {
            map.retain(|_, (at, _)| at.elapsed() < TOKEN_CACHE_TTL);
        }
        map.insert(hash, (std::time::Instant::now(), auth));
    }

    /// Forgets everything (after any change to accounts or tokens).
    pub fn clear(&self) {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

/// How a request proved who it is.
#[derive(Debug, Clone, PartialEq)]
pub enum Via {
    Session { token_hash: String, csrf_token: String },
    Token { token_id: Id, expires_at: Option<chrono::DateTime<chrono::Utc>> },
}

impl Via {
    fn token_expiry(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        match self {
            Via::Token { expires_at, .. } => *expires_at,
            Via::Session { .. } => None,
        }
    }
}

/// An authenticated request.
#[derive(Debug, Clone)]
pub struct Auth {
    pub user: User,
    pub actor: Actor,
    pub via: Via,
}

impl Auth {
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.actor.is_admin() { Ok(()) } else { Err(ApiError::forbidden("administrators only")) }
    }
}

/// A session just opened by a correct login and password.
#[derive(Debug)]
pub struct OpenedSession {
    pub user: User,
    /// The cookie's value (only its hash is stored).
    pub token: String,
    pub csrf: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
    pub max_age_secs: i64,
}

/// Checks a login and password and opens a console session. Wrong credentials take as long as
/// right ones, so logins cannot be probed by timing.
pub async fn open_session(state: &AppState, login: &str, password: &str) -> Result<OpenedSession, ApiError> {
    let store = state.workflow.store().clone();
    let found = store.user_by_login(login).await?;
    let bad = || ApiError::unauthorized("invalid_credentials", "wrong login or password");
    let (user, hash) = match found {
        Some((u, Some(h))) if u.active => (u, h),
        _ => {
            let _ = tokio::task::spawn_blocking(|| hash_password("timing-equaliser")).await;
            return Err(bad());
        }
    };
    let password = password.to_string();
    let ok = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
        .await
        .map_err(|_| ApiError::internal())?;
    if !ok {
        tracing::info!(%login, "failed login");
        return Err(bad());
    }
    let token = random_token();
    let now = state.workflow.now();
    let expires_at = now + chrono::Duration::hours(i64::from(state.settings.session_hours));
    let csrf = random_token();
    store
        .create_session(&otklik_core::model::Session {
            token_hash: token_hash(&token),
            user_id: user.id,
            csrf_token: csrf.clone(),
            created_at: now,
            expires_at,
        })
        .await?;
    tracing::info!(user = user.id, "login");
    Ok(OpenedSession { user, token, csrf, expires_at, max_age_secs: (expires_at - now).num_seconds() })
}

pub fn actor_of(user: &User) -> Actor {
    Actor { user_id: Some(user.id), name: user.display_name.clone(), grants: user.grants.clone() }
}

fn cookie_value<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    cookie_in(&parts.headers, name)
}

/// A cookie's value in a request's headers.
pub fn cookie_in<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|line| {
        line.split(';').map(str::trim).find_map(|kv| kv.strip_prefix(name).and_then(|r| r.strip_prefix('=')))
    })
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        authenticate(parts, state, true).await
    }
}

/// Who sent a request: by API token or session cookie. With `check_csrf`, a state-changing request
/// made with the cookie must carry the session's CSRF token in its header; callers that pass
/// false check the token from the form themselves (`csrf_matches`).
pub async fn authenticate(parts: &Parts, state: &AppState, check_csrf: bool) -> Result<Auth, ApiError> {
    {
        let store = state.workflow.store();
        let now = state.workflow.now();
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").map(str::trim));
        let (user_id, via) = if let Some(token) = bearer {
            let hash = token_hash(token);
            if let Some(a) = state.token_cache.get(&hash)
                && a.via.token_expiry().is_none_or(|e| e > now)
            {
                return Ok(a);
            }
            let t = store
                .token(&hash)
                .await?
                .ok_or_else(|| ApiError::unauthorized("invalid_token", "the API token is not valid"))?;
            if t.expires_at.is_some_and(|e| e <= now) {
                return Err(ApiError::unauthorized("token_expired", "the API token has expired"));
            }
            (t.user_id, Via::Token { token_id: t.id, expires_at: t.expires_at })
        } else if let Some(cookie) = cookie_value(parts, SESSION_COOKIE) {
            let hash = token_hash(cookie);
            let s = store
                .session(&hash)
                .await?
                .ok_or_else(|| ApiError::unauthorized("session_expired", "the session has ended; log in again"))?;
            if s.expires_at <= now {
                store.delete_session(&hash).await?;
                return Err(ApiError::unauthorized("session_expired", "the session has ended; log in again"));
            }
            let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
            if !safe && check_csrf {
                let sent = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
                if !constant_time_eq(sent.as_bytes(), s.csrf_token.as_bytes()) {
                    return Err(ApiError::new(
                        axum::http::StatusCode::FORBIDDEN,
                        "csrf_failed",
                        "missing or wrong X-CSRF-Token header",
                    ));
                }
            }
            (s.user_id, Via::Session { token_hash: hash, csrf_token: s.csrf_token })
        } else {
            return Err(ApiError::unauthorized("unauthenticated", "log in or send an API token"));
        };
        let user = store
            .user(user_id)
            .await?
            .filter(|u| u.active)
            .ok_or_else(|| ApiError::unauthorized("account_disabled", "the account is disabled"))?;
        let auth = Auth { actor: actor_of(&user), user, via };
        if let Via::Token { .. } = &auth.via
            && let Some(token) = bearer
        {
            state.token_cache.put(token_hash(token), auth.clone());
        }
        Ok(auth)
    }
}

/// Whether a token sent in a form is the session's CSRF token.
pub fn csrf_matches(auth: &Auth, sent: &str) -> bool {
    match &auth.via {
        Via::Session { csrf_token, .. } => constant_time_eq(sent.as_bytes(), csrf_token.as_bytes()),
        Via::Token { .. } => false,
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_and_verify() {
        let h = hash_password("секрет").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("секрет", &h));
        assert!(!verify_password("другое", &h));
        assert!(!verify_password("секрет", "not a hash"));
    }

    #[test]
    fn tokens_are_random_and_hashed() {
        let (a, b) = (random_token(), random_token());
        assert_ne!(a, b);
        assert_eq!(token_hash(&a).len(), 64);
        assert_ne!(token_hash(&a), a);
        assert!(
            constant_time_eq(b"abc", b"abc") && !constant_time_eq(b"abc", b"abd") && !constant_time_eq(b"a", b"ab")
        );
    }
}
