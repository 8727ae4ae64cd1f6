//! Account mail's pages: asking for a link to set a new password, setting it from the link
//! (once: the key is bound to the current password), and confirming an address.

use actix_web::http::StatusCode;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use guildhall_core::limits::RateLimits;
use guildhall_core::mail::{KeyError, Purpose};
use guildhall_federation::FedData;
use guildhall_storage::accounts::{self, LocalAccount};
use guildhall_storage::mail::{self, AccountMail};
use serde::Deserialize;

use super::{Notice, check_anonymous, claimed_id, form_cookie, form_token, now_unix, signer, with_status};
use crate::error::PageError;
use crate::forms;
use crate::pages::html;
use crate::session::{MaybeViewer, Nav, client_address};

/// Where the form asking for a new password posts (and its cookie's path).
const RESET_PATH: &str = "/auth/password";

/// What the rate limiter counts a request for a new password as: a failed sign-in, from the
/// client's address, of a login no account can have (it has a space). So at most five in 15
/// minutes per address, and they count against the address's sign-in failures too.
const RESET_LIMIT: &str = "password reset";
/// The same for asking for a new confirmation link.
const CONFIRM_LIMIT: &str = "confirmation mail";

/// The login a confirmation or password key names, when it is ours, still bound to what it
/// was signed for (the address; the password hash) and not expired.
async fn account_by_key(
    data: &FedData,
    purpose: Purpose,
    key: &str,
) -> Result<Result<LocalAccount, KeyError>, PageError> {
    let Some(id) = claimed_id(key) else { return Ok(Err(KeyError::Invalid)) };
    let key = key.to_owned();
    Ok(data
        .db
        .run(move |c| {
            let signer = signer(c)?;
            let Some(account) = accounts::find_by_user_id(c, id)? else { return Ok(Err(KeyError::Invalid)) };
            let bound = match purpose {
                Purpose::ResetPassword => &account.user.password_hash,
                _ => &account.user.email,
            };
            let opened = signer.open_expiring_key(purpose, &key, bound, now_unix());
            Ok(opened.map(|_| account))
        })
        .await?)
}

#[derive(Template)]
#[template(path = "auth_password_new.html")]
struct ResetRequestPage {
    site: String,
    nav: Nav,
    csrf: String,
    email: String,
    error: Option<String>,
}

fn reset_request_page(
    request: &HttpRequest,
    data: &FedData,
    nav: Nav,
    email: &str,
    error: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    let csrf = form_token(request);
    let page = ResetRequestPage {
        site: data.config.domain.to_string(),
        nav,
        csrf: csrf.clone(),
        email: email.to_owned(),
        error,
    };
    let mut response = with_status(html(&page)?, status)?;
    response
        .add_cookie(&form_cookie(data, &csrf, RESET_PATH))
        .map_err(|e| PageError::Internal(e.to_string()))?;
    Ok(response)
}

/// `GET /auth/password/new`: the form asking for a link to set a new password.
pub async fn reset_form(
    request: HttpRequest,
    viewer: MaybeViewer,
    data: FedData,
) -> Result<HttpResponse, PageError> {
    reset_request_page(&request, &data, viewer.nav(), "", None, StatusCode::OK)
}

#[derive(Debug, Deserialize)]
struct ResetRequest {
    #[serde(default)]
    csrf: String,
    /// The address (or username); Mastodon's form calls it `user[email]`.
    #[serde(default, alias = "user[email]")]
    email: String,
}

/// `POST /auth/password`: mails a link to set a new password when a confirmed, enabled local
/// account has that address (or username). The answer is the same either way.
pub async fn request_reset(
    request: HttpRequest,
    body: Bytes,
    data: FedData,
    limits: web::Data<RateLimits>,
) -> Result<HttpResponse, PageError> {
    let form: ResetRequest = forms::parse(&body)?;
    let login = form.email.trim().to_owned();
    if let Err(refused) = check_anonymous(&request, &data, &form.csrf) {
        let why = Some(refused.to_string());
        return reset_request_page(&request, &data, Nav::default(), &login, why, StatusCode::FORBIDDEN);
    }
    limits.attempt(RESET_LIMIT, &client_address(&request, &data))?;
    if login.is_empty() || login.chars().count() > 320 {
        let why = Some("email: give the e-mail address of your account".to_owned());
        return reset_request_page(
            &request,
            &data,
            Nav::default(),
            &login,
            why,
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    data.db
        .run(move |c| {
            let Some(account) = accounts::find_by_login(c, &login)? else { return Ok(()) };
            if account.user.disabled || account.user.email_confirmed_at.is_none() {
                return Ok(());
            }
            let user_id = account.user.id;
            mail::enqueue_requested_mail(c, user_id, &AccountMail::ResetPassword { user_id }).map(|_| ())
        })
        .await?;
    Notice::new(&data, Nav::default(), "Check your inbox")
        .say(
            "If an account has that address, a link is on its way to it. The link works once, for two hours.",
        )
        .say("No mail after a few minutes? Look in the spam folder, or ask again.")
        .link("/auth/sign_in", "Back to sign in")
        .respond(StatusCode::OK)
}

#[derive(Template)]
#[template(path = "auth_password_edit.html")]
struct NewPasswordPage {
    site: String,
    nav: Nav,
    key: String,
    username: String,
    min: usize,
    password_error: Option<String>,
    confirmation_error: Option<String>,
}

/// Why a password link was refused, as a page: 400 for a link that is not (or no longer)
/// valid, 410 for an expired one.
fn reset_refused(data: &FedData, why: KeyError) -> Result<HttpResponse, PageError> {
    let (title, detail, status) = match why {
        KeyError::Invalid => (
            "This link is not valid",
            "It may have been used already: a link to set a password works once.",
            StatusCode::BAD_REQUEST,
        ),
        KeyError::Expired => {
            ("This link has expired", "A link to set a password works for two hours.", StatusCode::GONE)
        }
    };
    Notice::new(data, Nav::default(), title)
        .say(detail)
        .link("/auth/password/new", "Ask for a new link")
        .respond(status)
}

/// The query of a mailed password link.
#[derive(Debug, Deserialize)]
pub struct ResetQuery {
    #[serde(default)]
    reset_password_token: String,
}

/// `GET /auth/password/edit?reset_password_token=KEY`: the form to set a new password.
pub async fn new_password_form(
    query: forms::Query<ResetQuery>,
    data: FedData,
) -> Result<HttpResponse, PageError> {
    let key = query.0.reset_password_token;
    match account_by_key(&data, Purpose::ResetPassword, &key).await? {
        Ok(account) if !account.user.disabled => new_password_page(&data, &key, &account, None, None),
        Ok(_) => reset_refused(&data, KeyError::Invalid),
        Err(why) => reset_refused(&data, why),
    }
}

fn new_password_page(
    data: &FedData,
    key: &str,
    account: &LocalAccount,
    password_error: Option<String>,
    confirmation_error: Option<String>,
) -> Result<HttpResponse, PageError> {
    let status = match password_error.is_some() || confirmation_error.is_some() {
        true => StatusCode::UNPROCESSABLE_ENTITY,
        false => StatusCode::OK,
    };
    let page = NewPasswordPage {
        site: data.config.domain.to_string(),
        nav: Nav::default(),
        key: key.to_owned(),
        username: account.actor.username.clone(),
        min: data.config.password_min_length,
        password_error,
        confirmation_error,
    };
    with_status(html(&page)?, status)
}

#[derive(Debug, Deserialize)]
struct NewPasswordForm {
    #[serde(default, alias = "user[reset_password_token]")]
    reset_password_token: String,
    #[serde(default, alias = "user[password]")]
    password: String,
    #[serde(default, alias = "user[password_confirmation]")]
    password_confirmation: String,
}

/// `POST /auth/password/edit`: checks the key (bound to the current password, so it works
/// once) and the password rules, sets the password and ends every session and app token.
pub async fn set_new_password(
    request: HttpRequest,
    body: Bytes,
    data: FedData,
) -> Result<HttpResponse, PageError> {
    forms::same_origin(&request, &data)?;
    let form: NewPasswordForm = forms::parse(&body)?;
    let key = form.reset_password_token;
    let account = match account_by_key(&data, Purpose::ResetPassword, &key).await? {
        Ok(account) if !account.user.disabled => account,
        Ok(_) => return reset_refused(&data, KeyError::Invalid),
        Err(why) => return reset_refused(&data, why),
    };
    let min = data.config.password_min_length;
    if form.password.chars().count() < min {
        let why = format!("password: at least {min} characters");
        return new_password_page(&data, &key, &account, Some(why), None);
    }
    if form.password != form.password_confirmation {
        let why = "password_confirmation: does not match the password".to_owned();
        return new_password_page(&data, &key, &account, None, Some(why));
    }
    let password = form.password;
    let hashed = web::block(move || guildhall_core::password::hash(&password))
        .await
        .map_err(|e| PageError::Internal(e.to_string()))?;
    let hash = match hashed {
        Ok(hash) => hash,
        Err(guildhall_core::password::PasswordError::Hashing(e)) => return Err(PageError::Internal(e)),
        Err(e) => return new_password_page(&data, &key, &account, Some(format!("password: {e}")), None),
    };
    let (id, username) = (account.user.id, account.actor.username.clone());
    let set = data
        .db
        .run(move |c| {
            guildhall_storage::transaction(c, |c| {
                // Checked again where it is changed: of two posts of one link, one wins.
                let signer = signer(c)?;
                let Some(now) = accounts::find_by_user_id(c, id)? else { return Ok(Err(KeyError::Invalid)) };
                if let Err(why) = signer.open_expiring_key(
                    Purpose::ResetPassword,
                    &key,
                    &now.user.password_hash,
                    now_unix(),
                ) {
                    return Ok(Err(why));
                }
                // The same path as the settings' and the CLI's: every session and app token ends.
                accounts::set_password(c, &username, &hash)?;
                Ok(Ok(()))
            })
        })
        .await?;
    if let Err(why) = set {
        return reset_refused(&data, why);
    }
    Notice::new(&data, Nav::default(), "Password changed")
        .say("Every browser and app that was signed in has been signed out. Sign in with the new password.")
        .link("/auth/sign_in", "Sign in")
        .respond(StatusCode::OK)
}

/// The query of a mailed confirmation link.
#[derive(Debug, Deserialize)]
pub struct ConfirmationQuery {
    #[serde(default)]
    confirmation_token: String,
}

/// `GET /auth/confirmation?confirmation_token=KEY`: one button that confirms (a mail scanner
/// following the link confirms nothing).
pub async fn confirmation_page(
    query: forms::Query<ConfirmationQuery>,
    viewer: MaybeViewer,
    data: FedData,
) -> Result<HttpResponse, PageError> {
    let key = query.0.confirmation_token;
    let fields = vec![("confirmation_token", key.clone())];
    match account_by_key(&data, Purpose::ConfirmAddress, &key).await? {
        Ok(account) if account.user.email_confirmed_at.is_some() => confirmed(&data, &account),
        Ok(account) => Notice::new(&data, viewer.nav(), "Confirm your address")
            .say(format!(
                "This confirms that {} is the address of @{}.",
                account.user.email, account.actor.username
            ))
            .button("/auth/confirmation".into(), fields, "Confirm my address")
            .respond(StatusCode::OK),
        Err(KeyError::Expired) => Notice::new(&data, viewer.nav(), "This link has expired")
            .say("A link to confirm an address works for three days. We can mail you a new one.")
            .button("/auth/confirmation".into(), fields, "Send me a new link")
            .respond(StatusCode::GONE),
        Err(KeyError::Invalid) => confirmation_refused(&data),
    }
}

fn confirmation_refused(data: &FedData) -> Result<HttpResponse, PageError> {
    Notice::new(data, Nav::default(), "This link is not valid")
        .say("Check that the whole link was copied from the mail.")
        .respond(StatusCode::BAD_REQUEST)
}

/// The page after an address is confirmed.
fn confirmed(data: &FedData, account: &LocalAccount) -> Result<HttpResponse, PageError> {
    let notice = Notice::new(data, Nav::default(), "Address confirmed");
    let notice = match account.user.approved {
        true => notice.say("You can sign in now.").link("/auth/sign_in", "Sign in"),
        false => notice
            .say("Your sign-up now waits for an admin's approval; we will mail you when it is approved."),
    };
    notice.respond(StatusCode::OK)
}

#[derive(Debug, Deserialize)]
struct ConfirmationForm {
    #[serde(default)]
    confirmation_token: String,
}

/// `POST /auth/confirmation`: confirms the address the key is bound to; with an expired key
/// for an address still waiting, mails a new link (rate limited).
pub async fn confirm_address(
    request: HttpRequest,
    body: Bytes,
    data: FedData,
    limits: web::Data<RateLimits>,
) -> Result<HttpResponse, PageError> {
    forms::same_origin(&request, &data)?;
    let form: ConfirmationForm = forms::parse(&body)?;
    match account_by_key(&data, Purpose::ConfirmAddress, &form.confirmation_token).await? {
        Ok(account) => {
            let id = account.user.id;
            data.db.run(move |c| mail::confirm_address(c, id)).await?;
            confirmed(&data, &account)
        }
        Err(KeyError::Expired) => {
            limits.attempt(CONFIRM_LIMIT, &client_address(&request, &data))?;
            let Some(id) = claimed_id(&form.confirmation_token) else { return confirmation_refused(&data) };
            data.db
                .run(move |c| match accounts::find_by_user_id(c, id)? {
                    Some(a) if a.user.email_confirmed_at.is_none() => {
                        mail::enqueue_requested_mail(c, id, &AccountMail::ConfirmAddress { user_id: id })
                            .map(|_| ())
                    }
                    _ => Ok(()),
                })
                .await?;
            Notice::new(&data, Nav::default(), "A new link is on its way")
                .say("Open the link in the new mail to confirm your address. It works for three days.")
                .respond(StatusCode::OK)
        }
        Err(KeyError::Invalid) => confirmation_refused(&data),
    }
}
