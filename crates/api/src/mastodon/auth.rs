//! Access tokens and scopes: who is calling, and may they.

use actix_web::dev::Payload;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{FromRequest, HttpRequest, web};
use guildhall_core::keys::token_hash;
use guildhall_storage::accounts::{LocalAccount, User};
use guildhall_storage::oauth::{self, Token};

use crate::{ApiError, AppState};

/// Every scope we grant.
pub const SCOPES: [&str; 5] = ["read", "write", "follow", "push", "profile"];

/// What the legacy `follow` scope covers.
const FOLLOW_SCOPES: [&str; 6] =
    ["read:blocks", "write:blocks", "read:follows", "write:follows", "read:mutes", "write:mutes"];

/// True when `requested` (space-separated) only names scopes we know.
pub fn known_scopes(requested: &str) -> bool {
    requested.split_whitespace().all(|s| {
        let top = s.split(':').next().unwrap_or("");
        SCOPES.contains(&s) || (matches!(top, "read" | "write" | "admin") && s.contains(':'))
    })
}

/// True when `granted` (space-separated) includes `needed` (`read`, `write:statuses`, …).
pub fn has_scope(granted: &str, needed: &str) -> bool {
    granted.split_whitespace().any(|g| {
        g == needed
            || needed.strip_prefix(g).is_some_and(|rest| rest.starts_with(':'))
            || (g == "follow" && FOLLOW_SCOPES.contains(&needed))
    })
}

/// True when every scope in `requested` is covered by `allowed`.
pub fn scopes_within(requested: &str, allowed: &str) -> bool {
    requested.split_whitespace().all(|s| has_scope(allowed, s))
}

/// A caller with a valid token.
#[derive(Debug, Clone)]
pub struct Auth {
    /// The token.
    pub token: Token,
    /// The user it acts for (none for an app's own token).
    pub user: Option<LocalAccount>,
}

impl Auth {
    /// The user, when the token has `scope`; 403 without the scope, 422 for an app token.
    pub fn user(&self, scope: &str) -> Result<&LocalAccount, ApiError> {
        self.scope(scope)?;
        self.user
            .as_ref()
            .ok_or_else(|| ApiError::Unprocessable("This method requires an authenticated user".into()))
    }

    /// 403 unless the token has `scope`.
    pub fn scope(&self, scope: &str) -> Result<(), ApiError> {
        if has_scope(&self.token.scopes, scope) {
            Ok(())
        } else {
            Err(ApiError::Forbidden("This action is outside the authorized scopes".into()))
        }
    }
}

fn bearer(req: &HttpRequest) -> Option<String> {
    let header = req.headers().get(AUTHORIZATION).and_then(|v| v.to_str().ok());
    if let Some(token) = header.and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
    {
        return Some(token.trim().to_owned());
    }
    let query: Vec<(String, String)> = serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    query.into_iter().find(|(k, _)| k == "access_token").map(|(_, v)| v)
}

pub(crate) async fn authenticate(state: web::Data<AppState>, token: String) -> Result<Auth, ApiError> {
    let hash = token_hash(&token);
    let found = state
        .db
        .run(move |c| {
            let Some(token) = oauth::find_token(c, &hash)? else { return Ok(None) };
            let user = match token.user_id {
                Some(uid) => guildhall_storage::accounts::find_by_user_id(c, uid)?,
                None => None,
            };
            Ok(Some((token, user)))
        })
        .await?;
    match found {
        Some((token, None)) if token.user_id.is_none() => Ok(Auth { token, user: None }),
        Some((token, Some(user))) => match login_refusal(&user.user) {
            Some(refusal) => Err(ApiError::Forbidden(refusal.into())),
            None => Ok(Auth { token, user: Some(user) }),
        },
        _ => Err(ApiError::Unauthorized("The access token is invalid".into())),
    }
}

/// Why `user` may not act right now (Mastodon's wording), or `None` when they may: a sign-up
/// waiting for approval, or a login disabled by an admin.
pub fn login_refusal(user: &User) -> Option<&'static str> {
    user.refusal()
}

impl FromRequest for Auth {
    type Error = ApiError;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Auth, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = bearer(req);
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::Internal("no app state".into()))?;
            let token = token.ok_or_else(|| ApiError::Unauthorized("The access token is invalid".into()))?;
            authenticate(state, token).await
        })
    }
}

/// A caller that may be anonymous; a token that is present must be valid.
#[derive(Debug, Clone)]
pub struct MaybeAuth(pub Option<Auth>);

impl MaybeAuth {
    /// The viewer's actor id, when signed in with a token holding `scope` (`read:statuses`,
    /// …). A token without it is treated as anonymous: a `profile` or `write:media` token must
    /// not read its owner's private posts.
    pub fn viewer(&self, scope: &str) -> Option<i64> {
        self.0.as_ref().filter(|a| a.scope(scope).is_ok()).and_then(|a| a.user.as_ref()).map(|u| u.actor.id)
    }
}

impl FromRequest for MaybeAuth {
    type Error = ApiError;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<MaybeAuth, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = bearer(req);
        Box::pin(async move {
            match (state, token) {
                (Some(state), Some(token)) => Ok(MaybeAuth(Some(authenticate(state, token).await?))),
                _ => Ok(MaybeAuth(None)),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_cover_their_sub_scopes() {
        assert!(has_scope("read write", "read:statuses"));
        assert!(has_scope("read:statuses", "read:statuses"));
        assert!(!has_scope("read:statuses", "read"));
        assert!(!has_scope("read", "write:statuses"));
        assert!(has_scope("follow", "write:follows"));
        assert!(!has_scope("readx", "read"));
        assert!(scopes_within("read:accounts write", "read write follow"));
        assert!(!scopes_within("read push", "read write"));
        assert!(known_scopes("read write:statuses follow push profile") && !known_scopes("read everything"));
    }
}
