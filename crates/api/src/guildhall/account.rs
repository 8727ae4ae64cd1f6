//! The caller's own account: closing it for good.

use actix_web::{HttpResponse, web};
use guildhall_federation::FedData;

use crate::mastodon::auth::Auth;
use crate::mastodon::params::Params;
use crate::{ApiError, AppState};

/// `DELETE /api/guildhall/v1/accounts/me` (`write:accounts`, and the account's password again,
/// so a leaked token alone cannot close an account): the account is closed, its posts deleted
/// and every instance that knew it told. Answers 204.
pub async fn delete_me(
    request: actix_web::HttpRequest,
    auth: Auth,
    params: Params,
    state: web::Data<AppState>,
    fed: FedData,
) -> Result<HttpResponse, ApiError> {
    let user = auth.user("write:accounts")?.clone();
    let (login, address) = (user.user.email.clone(), crate::server::client_address(&request));
    state.limits.attempt(&login, &address)?;
    let password = params.required("password")?;
    let confirmed = guildhall_federation::local_actors::check_password(&state.db, &user.user.email, password)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    if confirmed.is_none_or(|a| a.user.id != user.user.id) {
        return Err(ApiError::Forbidden("Validation failed: password is wrong".into()));
    }
    state.limits.succeeded(&login, &address);
    guildhall_federation::actions::delete_account(&fed, &user.actor).await?;
    Ok(HttpResponse::NoContent().finish())
}
