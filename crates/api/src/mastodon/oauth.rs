//! OAuth 2: app registration, the sign-in and consent page, tokens, revocation, metadata.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::header::{CONTENT_TYPE, LOCATION};
use actix_web::{HttpRequest, HttpResponse, web};
use guildhall_core::Id;
use guildhall_core::keys::{random_token, token_hash};
use guildhall_core::text::escape;
use guildhall_storage::now;
use guildhall_storage::oauth::{self, App, Code};
use serde_json::json;

use super::auth::{Auth, known_scopes, login_refusal, scopes_within};
use super::params::Params;
use crate::{ApiError, AppState};

/// Redirect target for apps that show the code to the user instead.
pub const OOB: &str = "urn:ietf:wg:oauth:2.0:oob";

/// `POST /api/v1/apps`.
pub async fn create_app(params: Params, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let name = params.required("client_name")?.to_owned();
    let uris: Vec<String> = params
        .all("redirect_uris")
        .iter()
        .flat_map(|u| u.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
        .collect();
    if uris.is_empty() {
        return Err(ApiError::Unprocessable("Validation failed: Redirect URI can't be blank".into()));
    }
    if let Some(bad) = uris.iter().find(|u| u.as_str() != OOB && url::Url::parse(u).is_err()) {
        return Err(ApiError::Unprocessable(format!(
            "Validation failed: Redirect URI {bad} must be an absolute URI"
        )));
    }
    let scopes = params.get("scopes").unwrap_or("read").to_owned();
    if !known_scopes(&scopes) {
        return Err(ApiError::Unprocessable(format!("Validation failed: Scopes {scopes} are not all known")));
    }
    let app = App {
        id: Id::generate().0,
        name,
        website: params.get("website").map(str::to_owned),
        redirect_uris: uris.join("\n"),
        scopes,
        client_id: random_token(),
        client_secret: random_token(),
        created_at: now(),
    };
    // The secret is shown once, here; only its hash is kept.
    let stored = App { client_secret: guildhall_core::keys::secret_hash(&app.client_secret), ..app.clone() };
    state.db.run(move |c| oauth::create_app(c, &stored)).await?;
    Ok(HttpResponse::Ok().json(json!({
        "id": app.id.to_string(), "name": app.name, "website": app.website,
        "redirect_uri": app.redirect_uris, "redirect_uris": uris, "scopes": app.scopes.split_whitespace().collect::<Vec<_>>(),
        "client_id": app.client_id, "client_secret": app.client_secret, "vapid_key": "",
    })))
}

/// `GET /api/v1/apps/verify_credentials`.
pub async fn verify_app(auth: Auth, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let app_id = auth.token.app_id;
    let app = state.db.run(move |c| oauth::get_app(c, app_id)).await?;
    Ok(HttpResponse::Ok().json(json!({ "name": app.name, "website": app.website, "scopes": app.scopes.split_whitespace().collect::<Vec<_>>(), "vapid_key": "" })))
}

/// The app and checked request of an authorization.
struct AuthorizeRequest {
    app: App,
    redirect_uri: String,
    scopes: String,
}

async fn check_authorize(params: &Params, state: &AppState) -> Result<AuthorizeRequest, ApiError> {
    if params.get("response_type").unwrap_or("code") != "code" {
        return Err(ApiError::BadRequest("unsupported_response_type".into()));
    }
    let client_id = params.required("client_id")?.to_owned();
    let app = state
        .db
        .run(move |c| oauth::find_app(c, &client_id))
        .await?
        .ok_or_else(|| ApiError::Unauthorized("invalid_client".into()))?;
    let redirect_uri = params
        .get("redirect_uri")
        .map(str::to_owned)
        .or_else(|| app.redirect_uri_list().first().map(|u| (*u).to_owned()))
        .unwrap_or_default();
    if !app.redirect_uri_list().contains(&redirect_uri.as_str()) {
        return Err(ApiError::BadRequest(
            "invalid_request: redirect_uri is not registered for this app".into(),
        ));
    }
    let scopes = params.get("scope").map(|s| s.replace('+', " ")).unwrap_or_else(|| "read".into());
    if !scopes_within(&scopes, &app.scopes) {
        return Err(ApiError::BadRequest("invalid_scope".into()));
    }
    if let Some(method) = params.get("code_challenge_method")
        && method != "S256"
    {
        return Err(ApiError::BadRequest("invalid_request: only S256 PKCE is supported".into()));
    }
    Ok(AuthorizeRequest { app, redirect_uri, scopes })
}

const HIDDEN: [&str; 7] = [
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
];

/// A complete HTML page around `body` (`title` must be escaped already), shared by the
/// server-rendered forms.
pub(crate) fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>{title}</title><link rel=\"stylesheet\" href=\"{STYLESHEET_PATH}\"></head>\
         <body><main>{body}</main></body></html>"
    )
}

/// Where the forms' stylesheet is served: a file, not an inline `<style>`, so the
/// Content-Security-Policy needs no exception.
pub(crate) const STYLESHEET_PATH: &str = "/static/forms.css";

/// `GET /static/forms.css`.
pub(crate) async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/css; charset=utf-8"))
        .insert_header(("Cache-Control", "public, max-age=86400"))
        .body(
            "body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}\
             label{display:block;margin-top:1rem}label.inline{display:inline}\
             input{width:100%;padding:.5rem;font-size:1rem}\
             button{margin-top:1.5rem;padding:.6rem 1.2rem;font-size:1rem}.error{color:#a00}\
             textarea{width:100%;padding:.5rem;font-size:1rem}input[type=checkbox]{width:auto}\
             .hint{color:#555;margin:.25rem 0}",
        )
}

fn authorize_form(req: &AuthorizeRequest, params: &Params, csrf: &str, error: Option<&str>) -> HttpResponse {
    let hidden: String = HIDDEN
        .iter()
        .filter_map(|k| {
            params.get(k).map(|v| format!("<input type=\"hidden\" name=\"{k}\" value=\"{}\">", escape(v)))
        })
        .collect();
    let error =
        error.map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(e))).unwrap_or_default();
    let body = format!(
        "<h1>Sign in to authorize {app}</h1>{error}<p><strong>{app}</strong> asks for: {scopes}</p>\
         <form method=\"post\" action=\"/oauth/authorize\">{hidden}\
         <input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\">\
         <label for=\"login\">Username or e-mail</label><input id=\"login\" name=\"login\" autocomplete=\"username\" required>\
         <label for=\"password\">Password</label><input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
         <button type=\"submit\">Authorize</button></form>",
        app = escape(&req.app.name),
        scopes = escape(&req.scopes),
    );
    let cookie = Cookie::build("guildhall_csrf", csrf.to_owned())
        .path("/oauth")
        .http_only(true)
        .same_site(SameSite::Strict)
        .finish();
    HttpResponse::Ok()
        .cookie(cookie)
        .insert_header((CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("X-Frame-Options", "DENY"))
        .body(page("Authorize", &body))
}

/// `GET /oauth/authorize`: the sign-in and consent page (no JavaScript).
pub async fn authorize_page(params: Params, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let req = check_authorize(&params, &state).await?;
    Ok(authorize_form(&req, &params, &random_token(), None))
}

/// `POST /oauth/authorize`: checks CSRF and the password, then redirects with a code.
pub async fn authorize_submit(
    request: HttpRequest,
    params: Params,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let req = check_authorize(&params, &state).await?;
    let cookie = request.cookie("guildhall_csrf").map(|c| c.value().to_owned());
    if cookie.is_none() || cookie.as_deref() != params.get("csrf_token") {
        return Err(ApiError::Forbidden("The form expired; reload the page and try again".into()));
    }
    let login = params.required("login")?.to_owned();
    let address = crate::server::client_address(&request);
    let password = params.required("password")?.to_owned();
    state.limits.attempt(&login, &address)?;
    let account = guildhall_federation::local_actors::check_password(&state.db, &login, &password)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let Some(account) = account else {
        return Ok(authorize_form(
            &req,
            &params,
            &random_token(),
            Some("Wrong username, e-mail or password."),
        ));
    };
    state.limits.succeeded(&login, &address);
    // Said only to whoever knows the password.
    if let Some(refusal) = login_refusal(&account.user) {
        return Ok(authorize_form(&req, &params, &random_token(), Some(&format!("{refusal}."))));
    }
    let code = random_token();
    let row = Code {
        code_hash: token_hash(&code),
        app_id: req.app.id,
        user_id: account.user.id,
        redirect_uri: req.redirect_uri.clone(),
        scopes: req.scopes.clone(),
        code_challenge: params.get("code_challenge").map(str::to_owned),
        code_challenge_method: params.get("code_challenge_method").map(str::to_owned),
        expires_at: now() + chrono::Duration::minutes(10),
        used_at: None,
    };
    let user_id = account.user.id;
    state
        .db
        .run(move |c| {
            oauth::create_code(c, &row)?;
            guildhall_storage::accounts::touch_sign_in(c, user_id)
        })
        .await?;
    if req.redirect_uri == OOB {
        let body = format!(
            "<h1>Authorization code</h1><p>Copy this code into the app:</p><p><code>{}</code></p>",
            escape(&code)
        );
        return Ok(HttpResponse::Ok()
            .insert_header((CONTENT_TYPE, "text/html; charset=utf-8"))
            .body(page("Authorization code", &body)));
    }
    let mut target = url::Url::parse(&req.redirect_uri).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    target.query_pairs_mut().append_pair("code", &code);
    if let Some(s) = params.get("state") {
        target.query_pairs_mut().append_pair("state", s);
    }
    Ok(HttpResponse::Found().insert_header((LOCATION, target.to_string())).finish())
}

fn oauth_error(status: actix_web::http::StatusCode, error: &str, description: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({ "error": error, "error_description": description }))
}

async fn client(params: &Params, state: &AppState) -> Result<Option<App>, ApiError> {
    let (Some(id), Some(secret)) = (params.get("client_id"), params.get("client_secret")) else {
        return Ok(None);
    };
    let (id, secret) = (id.to_owned(), secret.to_owned());
    let app = state.db.run(move |c| oauth::find_app(c, &id)).await?;
    Ok(app.filter(|a| guildhall_core::keys::secret_matches(&a.client_secret, &secret)))
}

/// `POST /oauth/token`: `authorization_code` (with PKCE), `password`, `client_credentials`.
pub async fn token(
    request: HttpRequest,
    params: Params,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    use actix_web::http::StatusCode;
    let grant = params.get("grant_type").unwrap_or("");
    let app = client(&params, &state).await?;
    let issued = match (grant, app) {
        ("authorization_code", Some(app)) => code_grant(&params, &state, app).await?,
        ("password", Some(app)) => password_grant(&request, &params, &state, app).await?,
        ("client_credentials", Some(app)) => {
            let scopes = params.get("scope").map(|s| s.replace('+', " ")).unwrap_or_else(|| "read".into());
            if !scopes_within(&scopes, &app.scopes) {
                return Ok(oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_scope",
                    "The requested scope is not allowed",
                ));
            }
            Ok((app.id, None, scopes))
        }
        ("authorization_code" | "password" | "client_credentials", None) => {
            return Ok(oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "Client authentication failed",
            ));
        }
        _ => {
            return Ok(oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "The grant type is not supported",
            ));
        }
    };
    let (app_id, user_id, scopes) = match issued {
        Ok(grant) => grant,
        Err(description) => return Ok(oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", &description)),
    };
    let token = random_token();
    let (hash, granted) = (token_hash(&token), scopes.clone());
    let row = state.db.run(move |c| oauth::create_token(c, &hash, app_id, user_id, &granted)).await?;
    Ok(HttpResponse::Ok().insert_header(("Cache-Control", "no-store")).json(json!({
        "access_token": token, "token_type": "Bearer", "scope": scopes, "created_at": row.created_at.and_utc().timestamp(),
    })))
}

type Grant = Result<(i64, Option<i64>, String), String>;

async fn code_grant(params: &Params, state: &AppState, app: App) -> Result<Grant, ApiError> {
    let Some(code) = params.get("code") else { return Ok(Err("code is required".into())) };
    let hash = token_hash(code);
    let Ok(stored) = state.db.run(move |c| oauth::take_code(c, &hash)).await else {
        return Ok(Err("The authorization code is invalid, expired or used".into()));
    };
    if stored.app_id != app.id {
        return Ok(Err("The code was issued to another client".into()));
    }
    if params.get("redirect_uri").is_some_and(|r| r != stored.redirect_uri) {
        return Ok(Err("redirect_uri does not match".into()));
    }
    if let Some(challenge) = &stored.code_challenge {
        let Some(verifier) = params.get("code_verifier") else {
            return Ok(Err("code_verifier is required".into()));
        };
        if &pkce_s256(verifier) != challenge {
            return Ok(Err("code_verifier does not match the challenge".into()));
        }
    }
    Ok(Ok((app.id, Some(stored.user_id), stored.scopes)))
}

/// The S256 PKCE transform: base64url(SHA-256(verifier)).
pub fn pkce_s256(verifier: &str) -> String {
    // token_hash is exactly base64url(SHA-256), unpadded.
    token_hash(verifier)
}

async fn password_grant(
    request: &HttpRequest,
    params: &Params,
    state: &AppState,
    app: App,
) -> Result<Grant, ApiError> {
    let (Some(login), Some(password)) = (params.get("username"), params.get("password")) else {
        return Ok(Err("username and password are required".into()));
    };
    let address = crate::server::client_address(request);
    let scopes = params.get("scope").map(|s| s.replace('+', " ")).unwrap_or_else(|| "read".into());
    if !scopes_within(&scopes, &app.scopes) {
        return Ok(Err("The requested scope is not allowed".into()));
    }
    state.limits.attempt(login, &address)?;
    let account = guildhall_federation::local_actors::check_password(&state.db, login, password)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    // The refusal is said only to whoever knows the password.
    let refusal = account.as_ref().and_then(|a| login_refusal(&a.user));
    if account.is_some() {
        state.limits.succeeded(login, &address);
    }
    match (account, refusal) {
        (Some(_), Some(refusal)) => Ok(Err(refusal.to_owned())),
        (Some(a), None) => {
            let uid = a.user.id;
            state.db.run(move |c| guildhall_storage::accounts::touch_sign_in(c, uid)).await?;
            Ok(Ok((app.id, Some(a.user.id), scopes)))
        }
        (None, _) => Ok(Err("Invalid username or password".into())),
    }
}

/// `POST /oauth/revoke`.
pub async fn revoke(params: Params, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let Some(app) = client(&params, &state).await? else {
        return Ok(oauth_error(
            actix_web::http::StatusCode::FORBIDDEN,
            "unauthorized_client",
            "Client authentication failed",
        ));
    };
    let hash = token_hash(params.required("token")?);
    state.db.run(move |c| oauth::revoke_token(c, &hash, app.id)).await?;
    Ok(HttpResponse::Ok().json(json!({})))
}

/// `GET /.well-known/oauth-authorization-server`.
pub async fn metadata(state: web::Data<AppState>) -> HttpResponse {
    let base = state.urls.base();
    HttpResponse::Ok().json(json!({
        "issuer": format!("{base}/"),
        "service_documentation": "https://docs.joinmastodon.org/",
        "authorization_endpoint": format!("{base}/oauth/authorize"),
        "token_endpoint": format!("{base}/oauth/token"),
        "revocation_endpoint": format!("{base}/oauth/revoke"),
        "app_registration_endpoint": format!("{base}/api/v1/apps"),
        "scopes_supported": ["read", "write", "follow", "push", "profile", "read:accounts", "read:statuses",
            "read:notifications", "read:follows", "read:search", "write:statuses", "write:follows",
            "write:favourites", "write:notifications", "write:accounts", "write:blocks", "read:blocks"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "fragment", "form_post"],
        "code_challenge_methods_supported": ["S256"],
        "grant_types_supported": ["authorization_code", "password", "client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
    }))
}

#[cfg(test)]
mod tests {
    /// The expected value was computed independently with Python's hashlib:
    /// `base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=")`.
    #[test]
    fn pkce_s256_is_unpadded_base64url_of_sha256() {
        assert_eq!(
            super::pkce_s256("dBjftJeZ4CVP-1mB0iR2lZkxrCdb25XuyPaGt5cLbUw"),
            "ZMn0Ks94AL6tGdRW_9N9W_zss_OL7zrusWiQ8mXSrmM"
        );
    }
}
