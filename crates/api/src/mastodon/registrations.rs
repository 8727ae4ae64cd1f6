//! Sign-up: `POST /api/v1/accounts` as Mastodon documents it, and the checks it shares with
//! the sign-up page.
//!
//! The `registrations` setting decides: `closed` refuses (403), `open` creates an account that
//! may sign in at once, `approval` creates one that waits for an admin. Open and approval mode
//! both answer with a Token entity, as Mastodon does; a pending account's token (like its
//! password) is refused with 403 "Your login is currently pending approval" until an admin
//! approves the account, and works from then on. Each bad field is reported in Mastodon's
//! shape: 422 `{"error": "Validation failed: ...", "details": {"field": [{"error": "ERR_...",
//! "description": "..."}]}}`.

use actix_web::HttpResponse;
use actix_web::web::{self, ServiceConfig};
use guildhall_core::config::{Config, RegistrationMode};
use guildhall_core::keys::{random_token, token_hash};
use guildhall_core::model::Role;
use guildhall_core::password::MAX_PASSWORD_LEN;
use guildhall_core::username::{MAX_USERNAME_LEN, UsernameError};
use guildhall_core::{Email, Username};
use guildhall_federation::LocalActorError;
use guildhall_federation::local_actors::{self, NewUser};
use guildhall_storage::accounts::{self, LocalAccount, Registration};
use guildhall_storage::{actors, oauth};
use serde_json::{Map, Value, json};

use super::auth::Auth;
use super::params::Params;
use crate::{ApiError, AppState};

/// Longest accepted reason for joining, in characters.
const MAX_REASON_LEN: usize = 1000;

/// What the client is told when sign-ups are closed.
pub(crate) const CLOSED: &str = "Sign-ups are closed on this instance";

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.route("/api/v1/accounts", web::post().to(create));
}

/// What a sign-up asks for.
#[derive(Debug, Clone, Default)]
pub(crate) struct SignUp {
    pub username: String,
    pub email: String,
    pub password: String,
    pub agreement: bool,
    pub locale: Option<String>,
    pub reason: Option<String>,
}

impl SignUp {
    /// The sign-up parameters as Mastodon names them.
    pub fn from_params(params: &Params) -> SignUp {
        let text = |key: &str| params.get(key).unwrap_or_default().to_owned();
        SignUp {
            username: text("username").trim().to_owned(),
            email: text("email").trim().to_owned(),
            password: text("password"),
            agreement: params.flag("agreement").unwrap_or(false),
            locale: params.get("locale").map(|l| l.trim().to_owned()).filter(|l| !l.is_empty()),
            reason: params.get("reason").map(|r| r.trim().to_owned()).filter(|r| !r.is_empty()),
        }
    }
}

/// One field's problem, in Mastodon's terms (`ERR_TAKEN`, "is already taken").
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldError {
    pub field: &'static str,
    pub code: &'static str,
    pub description: String,
}

impl FieldError {
    fn new(field: &'static str, code: &'static str, description: impl Into<String>) -> FieldError {
        FieldError { field, code, description: description.into() }
    }

    /// The field as people read it ("Username is already taken").
    pub fn sentence(&self) -> String {
        let label = match self.field {
            "username" => "Username",
            "email" => "E-mail address",
            "password" => "Password",
            "password_confirmation" => "Password confirmation",
            "agreement" => "Agreement",
            "reason" => "Reason",
            "locale" => "Locale",
            other => other,
        };
        format!("{label} {}", self.description)
    }
}

/// Why a sign-up did not create an account.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// The instance takes no sign-ups.
    Closed,
    /// Some fields are wrong.
    Invalid(Vec<FieldError>),
    /// The server failed.
    Failed(ApiError),
}

/// Checks everything, then creates the account: approved in open mode, pending in approval
/// mode. Nothing is written when any check fails. One address may create
/// [`guildhall_core::limits::SIGN_UPS_PER_HOUR`] accounts an hour and have
/// [`guildhall_core::limits::SIGN_UP_FAILURES_PER_HOUR`] forms refused.
pub(crate) async fn sign_up(state: &AppState, form: SignUp, address: &str) -> Result<LocalAccount, Refusal> {
    let mode = state.live_config().await.map_err(Refusal::Failed)?.registrations;
    if mode == RegistrationMode::Closed {
        return Err(Refusal::Closed);
    }
    state.limits.check_sign_up(address).map_err(|e| Refusal::Failed(e.into()))?;
    let errors = validate(state, &form).await.map_err(Refusal::Failed)?;
    if !errors.is_empty() {
        // Counted, so the form cannot be used to test addresses for membership without end.
        state.limits.sign_up_refused(address);
        return Err(Refusal::Invalid(errors));
    }
    let pending = mode == RegistrationMode::Approval;
    let registration = Registration {
        pending,
        locale: form.locale,
        reason: form.reason.filter(|_| pending),
        unconfirmed: true,
    };
    let new =
        NewUser { username: &form.username, email: &form.email, password: &form.password, role: Role::User };
    let created = local_actors::register_user(&state.db, &state.urls, new, registration).await;
    if created.is_ok() {
        state.limits.signed_up(address);
    }
    created.map_err(|e| match e {
        // Someone took the name or address since the check.
        LocalActorError::Taken(what) if what.contains("e-mail") => {
            Refusal::Invalid(vec![FieldError::new("email", "ERR_TAKEN", "is already taken")])
        }
        LocalActorError::Taken(_) => {
            Refusal::Invalid(vec![FieldError::new("username", "ERR_TAKEN", "is already taken")])
        }
        other => Refusal::Failed(ApiError::Internal(other.to_string())),
    })
}

/// Every problem with `form`: its fields, then whether the name and address are free.
pub(crate) async fn validate(state: &AppState, form: &SignUp) -> Result<Vec<FieldError>, ApiError> {
    let mut errors = check_fields(&state.live_config().await?, form);
    let name = Username::parse(&form.username).ok().filter(|_| !has(&errors, "username"));
    let email = Email::parse(&form.email).ok().filter(|_| !has(&errors, "email"));
    let (name_taken, email_taken) = state
        .db
        .run(move |c| {
            let name_taken = match &name {
                Some(name) => actors::local_username_taken(c, name.as_str())?,
                None => false,
            };
            let email_taken = match &email {
                Some(email) => accounts::email_in_use(c, email.as_str())?,
                None => false,
            };
            Ok((name_taken, email_taken))
        })
        .await?;
    if name_taken {
        errors.push(FieldError::new("username", "ERR_TAKEN", "is already taken"));
    }
    if email_taken {
        errors.push(FieldError::new("email", "ERR_TAKEN", "is already taken"));
    }
    in_form_order(&mut errors);
    Ok(errors)
}

/// Sorts errors by field, in the order of the form.
pub(crate) fn in_form_order(errors: &mut [FieldError]) {
    errors.sort_by_key(|e| FIELDS.iter().position(|f| *f == e.field));
}

/// The fields in the order of the form, which errors are reported in.
const FIELDS: [&str; 7] =
    ["username", "email", "password", "password_confirmation", "reason", "agreement", "locale"];

fn has(errors: &[FieldError], field: &str) -> bool {
    errors.iter().any(|e| e.field == field)
}

/// The checks that need no database.
fn check_fields(config: &Config, form: &SignUp) -> Vec<FieldError> {
    let mut errors = Vec::new();
    errors.extend(check_username(&form.username));
    if form.email.is_empty() {
        errors.push(FieldError::new("email", "ERR_BLANK", "can't be blank"));
    } else if Email::parse(&form.email).is_err() {
        errors.push(FieldError::new("email", "ERR_INVALID", "is invalid"));
    }
    errors.extend(check_password(config, &form.password));
    if !form.agreement {
        errors.push(FieldError::new("agreement", "ERR_ACCEPTED", "must be accepted"));
    }
    let reason_len = form.reason.as_deref().map_or(0, |r| r.chars().count());
    let approval = config.registrations == RegistrationMode::Approval;
    if approval && config.registrations_reason_required && reason_len == 0 {
        errors.push(FieldError::new("reason", "ERR_BLANK", "can't be blank"));
    } else if reason_len > MAX_REASON_LEN {
        let description = format!("is too long (maximum is {MAX_REASON_LEN} characters)");
        errors.push(FieldError::new("reason", "ERR_TOO_LONG", description));
    }
    if form.locale.as_deref().is_some_and(|l| !plausible_locale(l)) {
        errors.push(FieldError::new("locale", "ERR_INCLUSION", "is not included in the list"));
    }
    errors
}

fn check_username(raw: &str) -> Option<FieldError> {
    let field = |code, description: &str| Some(FieldError::new("username", code, description));
    match Username::parse(raw) {
        Ok(name) if name.is_reserved() => field("ERR_RESERVED", "is reserved"),
        Ok(_) => None,
        Err(UsernameError::Empty) => field("ERR_BLANK", "can't be blank"),
        Err(UsernameError::TooLong(_)) => {
            field("ERR_TOO_LONG", &format!("is too long (maximum is {MAX_USERNAME_LEN} characters)"))
        }
        Err(UsernameError::InvalidCharacter(_)) => {
            field("ERR_INVALID", "must contain only letters, numbers and underscores")
        }
    }
}

fn check_password(config: &Config, password: &str) -> Option<FieldError> {
    let (min, len) = (config.password_min_length, password.chars().count());
    let field = |code, description: String| Some(FieldError::new("password", code, description));
    if len == 0 {
        field("ERR_BLANK", "can't be blank".into())
    } else if len < min {
        field("ERR_TOO_SHORT", format!("is too short (minimum is {min} characters)"))
    } else if len > MAX_PASSWORD_LEN {
        field("ERR_TOO_LONG", format!("is too long (maximum is {MAX_PASSWORD_LEN} characters)"))
    } else {
        None
    }
}

/// A language tag such as `en`, `pt-BR` or `zh_Hant`.
fn plausible_locale(locale: &str) -> bool {
    let mut parts = locale.split(['-', '_']);
    let language = parts.next().unwrap_or_default();
    (2..=3).contains(&language.len())
        && language.bytes().all(|b| b.is_ascii_alphabetic())
        && parts.all(|p| (2..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// 422 with Mastodon's `error` sentence and per-field `details`.
pub(crate) fn validation_failed(errors: &[FieldError]) -> HttpResponse {
    HttpResponse::UnprocessableEntity().json(validation_body(errors))
}

fn validation_body(errors: &[FieldError]) -> Value {
    let sentences: Vec<String> = errors.iter().map(FieldError::sentence).collect();
    let mut details = Map::new();
    for e in errors {
        let entry = details.entry(e.field).or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(list) = entry {
            list.push(json!({ "error": e.code, "description": e.description }));
        }
    }
    json!({ "error": format!("Validation failed: {}", sentences.join(", ")), "details": details })
}

/// `POST /api/v1/accounts`: needs a token with `write:accounts` (an app's own token, from
/// the client credentials grant); answers a Token for the new user, with the app's scopes.
async fn create(
    request: actix_web::HttpRequest,
    auth: Auth,
    params: Params,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    auth.scope("write:accounts")?;
    let address = crate::server::client_address(&request);
    let account = match sign_up(&state, SignUp::from_params(&params), &address).await {
        Ok(account) => account,
        Err(Refusal::Closed) => return Err(ApiError::Forbidden(CLOSED.into())),
        Err(Refusal::Invalid(errors)) => return Ok(validation_failed(&errors)),
        Err(Refusal::Failed(e)) => return Err(e),
    };
    let (app_id, user_id) = (auth.token.app_id, account.user.id);
    let token = random_token();
    let hash = token_hash(&token);
    let row = state
        .db
        .run(move |c| {
            let app = oauth::get_app(c, app_id)?;
            oauth::create_token(c, &hash, app_id, Some(user_id), &app.scopes)
        })
        .await?;
    tracing::info!(username = %account.actor.username, pending = !account.user.approved, "signed up");
    Ok(HttpResponse::Ok().insert_header(("Cache-Control", "no-store")).json(json!({
        "access_token": token, "token_type": "Bearer", "scope": row.scopes,
        "created_at": row.created_at.and_utc().timestamp(),
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Config {
        Config::load(None, pairs.iter().map(|(k, v)| (k.to_string(), v.to_string()))).unwrap_or_else(|e| {
            panic!("{e}");
        })
    }

    fn form() -> SignUp {
        SignUp {
            username: "ada".into(),
            email: "ada@museum.example".into(),
            password: "correct horse".into(),
            agreement: true,
            locale: Some("en-GB".into()),
            reason: None,
        }
    }

    fn codes(config: &Config, form: &SignUp) -> Vec<(&'static str, &'static str)> {
        check_fields(config, form).into_iter().map(|e| (e.field, e.code)).collect()
    }

    #[test]
    fn a_good_form_passes() {
        assert_eq!(codes(&config(&[]), &form()), []);
    }

    #[test]
    fn each_bad_field_has_its_code() {
        let c = config(&[]);
        let cases: [(SignUp, (&str, &str)); 9] = [
            (SignUp { username: String::new(), ..form() }, ("username", "ERR_BLANK")),
            (SignUp { username: "ada lovelace".into(), ..form() }, ("username", "ERR_INVALID")),
            (SignUp { username: "a".repeat(31), ..form() }, ("username", "ERR_TOO_LONG")),
            (SignUp { username: "Admin".into(), ..form() }, ("username", "ERR_RESERVED")),
            (SignUp { email: "ada@".into(), ..form() }, ("email", "ERR_INVALID")),
            (SignUp { password: "short".into(), ..form() }, ("password", "ERR_TOO_SHORT")),
            (SignUp { password: "x".repeat(257), ..form() }, ("password", "ERR_TOO_LONG")),
            (SignUp { agreement: false, ..form() }, ("agreement", "ERR_ACCEPTED")),
            (SignUp { locale: Some("english please".into()), ..form() }, ("locale", "ERR_INCLUSION")),
        ];
        for (bad, expected) in cases {
            assert_eq!(codes(&c, &bad), [expected]);
        }
    }

    #[test]
    fn minimum_length_and_reason_follow_the_configuration() {
        let strict = config(&[
            ("GUILDHALL_REGISTRATIONS", "approval"),
            ("GUILDHALL_REGISTRATIONS_REASON_REQUIRED", "true"),
            ("GUILDHALL_PASSWORD_MIN_LENGTH", "14"),
        ]);
        assert_eq!(codes(&strict, &form()), [("password", "ERR_TOO_SHORT"), ("reason", "ERR_BLANK")]);
        let ok =
            SignUp { password: "correct horse battery".into(), reason: Some("I curate".into()), ..form() };
        assert_eq!(codes(&strict, &ok), []);
        let open = config(&[
            ("GUILDHALL_REGISTRATIONS", "open"),
            ("GUILDHALL_REGISTRATIONS_REASON_REQUIRED", "true"),
        ]);
        assert_eq!(codes(&open, &form()), [], "a reason is only asked for in approval mode");
    }

    #[test]
    fn details_group_errors_by_field() {
        let errors = [
            FieldError::new("username", "ERR_TAKEN", "is already taken"),
            FieldError::new("agreement", "ERR_ACCEPTED", "must be accepted"),
        ];
        assert_eq!(
            validation_body(&errors),
            json!({
                "error": "Validation failed: Username is already taken, Agreement must be accepted",
                "details": {
                    "username": [{"error": "ERR_TAKEN", "description": "is already taken"}],
                    "agreement": [{"error": "ERR_ACCEPTED", "description": "must be accepted"}],
                },
            })
        );
    }
}
