//! Browser sessions: signing in with a cookie, the CSRF token every form carries, signing out.
//!
//! The session cookie holds a random token (`HttpOnly`, `SameSite=Lax`, `Secure` outside
//! insecure mode); the database keeps only its SHA-256 ([`guildhall_storage::web_sessions`]).
//! Without "remember me" the cookie ends with the browser and the session after 12 idle hours;
//! with it, 30 idle days. A form's CSRF token is derived from the session token (a hash no
//! other site can compute or read), and every post must also come from our own origin. The
//! sign-in form, which has no session yet, carries a random token that must match a
//! `SameSite=Strict` cookie scoped to `/auth`.
//!
//! Failed sign-ins count in the same limiter as the API's (per login and address, and per
//! address), so a guesser gains nothing by switching doors.

use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::Payload;
use actix_web::web::{self, Bytes};
use actix_web::{FromRequest, HttpRequest, HttpResponse};
use askama::Template;
use guildhall_core::keys::{constant_time_eq, random_token, token_hash};
use guildhall_core::limits::RateLimits;
use guildhall_core::model::Role;
use guildhall_federation::FedData;
use guildhall_storage::accounts::{self, LocalAccount};
use guildhall_storage::actors::Actor;
use guildhall_storage::web_sessions::{self, NewSession, Session};
use serde::Deserialize;

use crate::error::PageError;
use crate::forms;
use crate::pages::html;

/// The session cookie over plain HTTP (insecure mode, for development and tests).
const INSECURE_COOKIE: &str = "guildhall_session";
/// The session cookie over HTTPS: the `__Host-` prefix makes browsers refuse it unless it is
/// `Secure`, for `/` and set by this very host, so a sibling subdomain cannot plant one.
const SECURE_COOKIE: &str = "__Host-guildhall_session";

/// The session cookie's name for this server.
fn cookie_name(data: &FedData) -> &'static str {
    if data.config.insecure { INSECURE_COOKIE } else { SECURE_COOKIE }
}
/// The sign-in form's own CSRF cookie (before there is a session).
const FORM_COOKIE: &str = "guildhall_sign_in";

/// Who is signed in, as the page header shows it.
#[derive(Debug, Clone, Default)]
pub struct Nav {
    /// The viewer, when signed in.
    pub user: Option<NavUser>,
}

/// The signed-in viewer in the page header.
#[derive(Debug, Clone)]
pub struct NavUser {
    /// Username.
    pub username: String,
    /// Their profile page.
    pub profile: String,
    /// The CSRF token for the sign-out form.
    pub csrf: String,
    /// Shows the admin link.
    pub admin: bool,
}

/// A signed-in browser: the account, its session and the CSRF token its forms carry.
#[derive(Debug, Clone)]
pub struct Viewer {
    /// The account.
    pub account: LocalAccount,
    /// The session.
    pub session: Session,
    /// What every form of this session must carry as `csrf`.
    pub csrf: String,
}

impl Viewer {
    /// The viewer's actor.
    pub fn actor(&self) -> &Actor {
        &self.account.actor
    }

    /// True for the instance's admins.
    pub fn is_admin(&self) -> bool {
        self.account.user.role().is_ok_and(|r| r == Role::Admin)
    }

    /// The page header for this viewer.
    pub fn nav(&self) -> Nav {
        Nav {
            user: Some(NavUser {
                username: self.account.actor.username.clone(),
                profile: format!("/@{}", self.account.actor.username),
                csrf: self.csrf.clone(),
                admin: self.is_admin(),
            }),
        }
    }

    /// 403 unless `sent` is this session's CSRF token and the request came from our origin.
    pub fn check(&self, request: &HttpRequest, data: &FedData, sent: &str) -> Result<(), PageError> {
        forms::same_origin(request, data)?;
        if constant_time_eq(sent.as_bytes(), self.csrf.as_bytes()) {
            Ok(())
        } else {
            Err(PageError::Forbidden("This form has expired; reload the page and try again".into()))
        }
    }
}

impl Viewer {
    /// A form of this session: 403 unless it carries the session's CSRF token (`csrf`) and
    /// comes from our origin; then its other fields parsed into `T` (a 422 naming a wrong one).
    pub fn form<T: serde::de::DeserializeOwned>(
        &self,
        request: &HttpRequest,
        data: &FedData,
        body: &Bytes,
    ) -> Result<T, PageError> {
        self.check_form(request, data, body)?;
        forms::parse(body)
    }

    /// A form that carries nothing but the CSRF token: 403 unless it is this session's.
    pub fn check_form(&self, request: &HttpRequest, data: &FedData, body: &Bytes) -> Result<(), PageError> {
        #[derive(Deserialize)]
        struct Token {
            #[serde(default)]
            csrf: String,
        }
        let token: Token = forms::parse(body)?;
        self.check(request, data, &token.csrf)
    }
}

/// The CSRF token of the session whose cookie holds `token`.
fn csrf_of(token: &str) -> String {
    token_hash(&format!("csrf:{token}"))
}

/// The viewer, when the request carries a live session of an account that may sign in.
pub async fn viewer_of(request: &HttpRequest, data: &FedData) -> Result<Option<Viewer>, PageError> {
    let Some(token) = request.cookie(cookie_name(data)).map(|c| c.value().to_owned()) else {
        return Ok(None);
    };
    if token.len() > 200 {
        return Ok(None);
    }
    let hash = token_hash(&token);
    let found = data
        .db
        .run(move |c| {
            let Some(session) = web_sessions::find_live(c, &hash)? else { return Ok(None) };
            let account = accounts::find_by_user_id(c, session.user_id)?;
            Ok(account.map(|a| (session, a)))
        })
        .await?;
    Ok(found.filter(|(_, account)| account.user.refusal().is_none()).map(|(session, account)| Viewer {
        account,
        session,
        csrf: csrf_of(&token),
    }))
}

type Extracting<T> = Pin<Box<dyn Future<Output = Result<T, PageError>>>>;

/// A page's viewer, who may be signed out.
#[derive(Debug, Clone)]
pub struct MaybeViewer(pub Option<Viewer>);

impl MaybeViewer {
    /// The page header.
    pub fn nav(&self) -> Nav {
        self.0.as_ref().map(Viewer::nav).unwrap_or_default()
    }

    /// The viewer's actor id.
    pub fn id(&self) -> Option<i64> {
        self.0.as_ref().map(|v| v.account.actor.id)
    }
}

impl FromRequest for MaybeViewer {
    type Error = PageError;
    type Future = Extracting<MaybeViewer>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let data = FedData::from_request(req, payload);
        let req = req.clone();
        Box::pin(async move {
            let data = data.await.map_err(|e| PageError::Internal(e.to_string()))?;
            Ok(MaybeViewer(viewer_of(&req, &data).await?))
        })
    }
}

impl FromRequest for Viewer {
    type Error = PageError;
    type Future = Extracting<Viewer>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let maybe = MaybeViewer::from_request(req, payload);
        // A form posted after the session ended goes back to the page it came from.
        let back = match *req.method() {
            actix_web::http::Method::GET => req.uri().path_and_query().map(|p| p.to_string()),
            _ => None,
        };
        Box::pin(async move {
            maybe.await?.0.ok_or_else(|| PageError::SignIn(forms::local_path(back.as_deref())))
        })
    }
}

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage {
    site: String,
    nav: Nav,
    csrf: String,
    next: String,
    login: String,
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

fn sign_in_page(
    data: &FedData,
    next: &str,
    login: &str,
    error: Option<String>,
) -> Result<HttpResponse, PageError> {
    let csrf = random_token();
    let cookie = Cookie::build(FORM_COOKIE, csrf.clone())
        .path("/auth")
        .http_only(true)
        .secure(!data.config.insecure)
        .same_site(SameSite::Strict)
        .finish();
    let status = match error {
        Some(_) => actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
        None => actix_web::http::StatusCode::OK,
    };
    let page = SignInPage {
        site: data.config.domain.to_string(),
        nav: Nav::default(),
        csrf,
        next: next.to_owned(),
        login: login.to_owned(),
        error,
    };
    let mut response = html(&page)?;
    *response.status_mut() = status;
    response.add_cookie(&cookie).map_err(|e| PageError::Internal(e.to_string()))?;
    Ok(response)
}

/// `GET /auth/sign_in?next=`: the sign-in form (or straight on, when already signed in).
pub async fn sign_in_form(
    query: crate::forms::Query<NextQuery>,
    viewer: MaybeViewer,
    data: FedData,
) -> Result<HttpResponse, PageError> {
    let next = forms::local_path(query.0.next.as_deref());
    if viewer.0.is_some() {
        return Ok(forms::see_other(&next));
    }
    sign_in_page(&data, &next, "", None)
}

#[derive(Debug, Deserialize)]
struct SignInForm {
    csrf: String,
    login: String,
    password: String,
    #[serde(default)]
    remember: Option<String>,
    #[serde(default)]
    next: Option<String>,
}

/// `POST /auth/sign_in`: checks the password (rate limited with the API's sign-ins), starts
/// a session and goes on to `next`.
pub async fn sign_in(
    request: HttpRequest,
    body: Bytes,
    data: FedData,
    limits: web::Data<RateLimits>,
) -> Result<HttpResponse, PageError> {
    forms::same_origin(&request, &data)?;
    let form: SignInForm = forms::parse(&body)?;
    let next = forms::local_path(form.next.as_deref());
    let cookie = request.cookie(FORM_COOKIE).map(|c| c.value().to_owned()).unwrap_or_default();
    if cookie.is_empty() || !constant_time_eq(cookie.as_bytes(), form.csrf.as_bytes()) {
        let expired = "This form has expired. Please sign in again.".to_owned();
        let mut page = sign_in_page(&data, &next, &form.login, Some(expired))?;
        *page.status_mut() = actix_web::http::StatusCode::FORBIDDEN;
        return Ok(page);
    }
    let address = client_address(&request, &data);
    limits.attempt(&form.login, &address)?;
    let account = guildhall_federation::local_actors::check_password(&data.db, &form.login, &form.password)
        .await
        .map_err(|e| PageError::Internal(e.to_string()))?;
    let Some(account) = account else {
        return sign_in_page(
            &data,
            &next,
            &form.login,
            Some("Wrong e-mail address, username or password.".into()),
        );
    };
    limits.succeeded(&form.login, &address);
    if let Some(refusal) = account.user.refusal() {
        // Said only to whoever knows the password.
        let mut page = sign_in_page(&data, &next, &form.login, Some(format!("{refusal}.")))?;
        *page.status_mut() = actix_web::http::StatusCode::FORBIDDEN;
        return Ok(page);
    }
    let token = random_token();
    let remember = form.remember.is_some();
    let user_agent =
        request.headers().get("User-Agent").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let (hash, uid) = (token_hash(&token), account.user.id);
    data.db
        .run(move |c| {
            let new = NewSession {
                token_hash: &hash,
                user_id: uid,
                user_agent: &user_agent,
                ip: &address,
                remember,
            };
            web_sessions::create(c, &new)?;
            accounts::touch_sign_in(c, uid)
        })
        .await?;
    let mut cookie = Cookie::build(cookie_name(&data), token)
        .path("/")
        .http_only(true)
        .secure(!data.config.insecure)
        .same_site(SameSite::Lax)
        .finish();
    if remember {
        cookie.set_max_age(actix_web::cookie::time::Duration::days(web_sessions::LONG_LIFE.num_days()));
    }
    let mut response = forms::see_other(&next);
    response.add_cookie(&cookie).map_err(|e| PageError::Internal(e.to_string()))?;
    response.add_removal_cookie(&Cookie::build(FORM_COOKIE, "").path("/auth").finish()).ok();
    Ok(response)
}

/// `POST /auth/sign_out`: ends this session and clears its cookie.
pub async fn sign_out(
    request: HttpRequest,
    body: Bytes,
    viewer: Viewer,
    data: FedData,
) -> Result<HttpResponse, PageError> {
    viewer.check_form(&request, &data, &body)?;
    let id = viewer.session.id;
    let uid = viewer.account.user.id;
    data.db.run(move |c| web_sessions::revoke(c, uid, id)).await?;
    let mut response = forms::see_other("/");
    let removal = Cookie::build(cookie_name(&data), "").path("/").secure(!data.config.insecure).finish();
    response.add_removal_cookie(&removal).ok();
    Ok(response)
}

/// The key rate limits count this client under (the peer, or the client behind trusted
/// proxies; IPv6 per /64), as the API counts it.
pub fn client_address(request: &HttpRequest, data: &FedData) -> String {
    let Some(peer) = request.peer_addr().map(|a| a.ip()) else { return String::new() };
    let headers = request.headers();
    let header =
        |name: &str| headers.get_all(name).filter_map(|v| v.to_str().ok()).collect::<Vec<_>>().join(",");
    let ip = guildhall_core::net::forwarded_client(peer, header, &data.config.trusted_proxies);
    guildhall_core::net::limit_key(ip)
}
