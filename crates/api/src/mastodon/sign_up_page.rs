//! The sign-up page, `GET` and `POST /auth/sign_up`: a plain HTML form that works without
//! JavaScript, with every field labelled and each error written next to its field (and
//! summarised, linked, at the top).
//!
//! It follows the `registrations` setting: closed shows only that sign-ups are closed (a post
//! gets 403); approval mode asks why the person wants to join. Against cross-site posts, a
//! random token travels in a `SameSite=Strict`, `HttpOnly` cookie scoped to `/auth` and in a
//! hidden field; a post whose two copies differ gets 403 and a fresh form. Invalid input gets
//! 422 and the form again, filled in except for the passwords.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};
use guildhall_core::config::{Config, RegistrationMode};
use guildhall_core::keys::random_token;
use guildhall_core::text::escape;
use guildhall_storage::accounts::LocalAccount;

use super::oauth::page;
use super::params::Params;
use super::registrations::{CLOSED, FieldError, Refusal, SignUp, in_form_order, sign_up, validate};
use crate::{ApiError, AppState};

/// Where the page lives.
const PATH: &str = "/auth/sign_up";
/// The CSRF cookie, scoped to `/auth`.
const CSRF_COOKIE: &str = "guildhall_csrf";

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.route(PATH, web::get().to(show)).route(PATH, web::post().to(submit));
}

async fn show(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let config = state.live_config().await?;
    if config.registrations == RegistrationMode::Closed {
        return Ok(closed(&config, StatusCode::OK));
    }
    Ok(form(&config, &Params::default(), &[], None, StatusCode::OK))
}

async fn submit(
    request: HttpRequest,
    params: Params,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let config = &state.live_config().await?;
    if config.registrations == RegistrationMode::Closed {
        return Ok(closed(config, StatusCode::FORBIDDEN));
    }
    let cookie = request.cookie(CSRF_COOKIE).map(|c| c.value().to_owned());
    if cookie.is_none() || cookie.as_deref() != params.get("csrf_token") {
        let expired = "This form has expired. Please check your details and send it again.";
        return Ok(form(config, &params, &[], Some(expired), StatusCode::FORBIDDEN));
    }
    let signup = SignUp::from_params(&params);
    if params.get("password_confirmation") != params.get("password") {
        // Nothing is created: report the mismatch with whatever else is wrong.
        let mut errors = validate(&state, &signup).await?;
        errors.push(FieldError {
            field: "password_confirmation",
            code: "ERR_CONFIRMATION",
            description: "does not match the password".into(),
        });
        in_form_order(&mut errors);
        return Ok(form(config, &params, &errors, None, StatusCode::UNPROCESSABLE_ENTITY));
    }
    let address = crate::server::client_address(&request);
    match sign_up(&state, signup, &address).await {
        Ok(account) => Ok(welcome(config, &account)),
        Err(Refusal::Invalid(errors)) => {
            Ok(form(config, &params, &errors, None, StatusCode::UNPROCESSABLE_ENTITY))
        }
        Err(Refusal::Closed) => Ok(closed(config, StatusCode::FORBIDDEN)),
        Err(Refusal::Failed(e)) => Err(e),
    }
}

fn html(status: StatusCode, title: &str, body: &str) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("X-Frame-Options", "DENY"))
        .body(page(title, body))
}

fn closed(config: &Config, status: StatusCode) -> HttpResponse {
    let body = format!(
        "<h1>Sign-ups are closed</h1><p>{CLOSED}: {domain} does not take new accounts. \
         Its administrators can create one for you.</p>",
        domain = escape(&config.domain.to_string()),
    );
    html(status, "Sign-ups are closed", &body)
}

fn welcome(config: &Config, account: &LocalAccount) -> HttpResponse {
    let domain = escape(&config.domain.to_string());
    let name = escape(&account.actor.username);
    let email = escape(&account.user.email);
    let confirm = format!(
        "<p>We have mailed a link to <strong>{email}</strong>. Open it to confirm your address: \
         signing in is refused until you do. The link works for three days.</p>"
    );
    let body = if account.user.approved {
        format!(
            "<h1>Welcome, {name}</h1><p>Your account <strong>@{name}@{domain}</strong> is ready \
             once your address is confirmed.</p>{confirm}\
             <p>Then sign in from any Mastodon app: choose <strong>{domain}</strong> as your server, \
             then give your username or e-mail address and your password.</p>"
        )
    } else {
        format!(
            "<h1>Thank you, {name}</h1><p>Your request for the account \
             <strong>@{name}@{domain}</strong> has been received.</p>{confirm}\
             <p>An administrator will review it. You can sign in once it is approved; until then, \
             signing in tells you that your account is pending approval.</p>"
        )
    };
    html(StatusCode::OK, "Signed up", &body)
}

/// One text input with its label, hint and error.
struct Input<'a> {
    name: &'static str,
    label: &'static str,
    kind: &'static str,
    autocomplete: &'static str,
    hint: Option<String>,
    /// Extra attributes (`maxlength="30"`), trusted.
    attributes: &'a str,
}

fn form(
    config: &Config,
    params: &Params,
    errors: &[FieldError],
    notice: Option<&str>,
    status: StatusCode,
) -> HttpResponse {
    let approval = config.registrations == RegistrationMode::Approval;
    let domain = escape(&config.domain.to_string());
    let csrf = random_token();
    let min = config.password_min_length;
    let fields = [
        Input {
            name: "username",
            label: "Username",
            kind: "text",
            autocomplete: "username",
            hint: Some(format!(
                "Letters, digits and underscores, at most 30. Your address will be @username@{domain}."
            )),
            attributes: "maxlength=\"30\" autocapitalize=\"none\" spellcheck=\"false\"",
        },
        Input {
            name: "email",
            label: "E-mail address",
            kind: "email",
            autocomplete: "email",
            hint: None,
            attributes: "",
        },
        Input {
            name: "password",
            label: "Password",
            kind: "password",
            autocomplete: "new-password",
            hint: Some(format!("At least {min} characters.")),
            attributes: "",
        },
        Input {
            name: "password_confirmation",
            label: "Repeat the password",
            kind: "password",
            autocomplete: "new-password",
            hint: None,
            attributes: "",
        },
    ];
    let inputs: String = fields.iter().map(|f| input(f, params, errors)).collect();
    let reason = if approval { reason_field(config, params, errors) } else { String::new() };
    let (intro, button) = if approval {
        (
            format!(
                "Ask for an account on {domain}. An administrator reviews each request; you can \
                 sign in once yours is approved."
            ),
            "Ask to join",
        )
    } else {
        (format!("Create an account on {domain}. You can sign in at once with any Mastodon app."), "Sign up")
    };
    let body = format!(
        "<h1>Sign up</h1><p>{intro}</p>{summary}\
         <form method=\"post\" action=\"{PATH}\" novalidate>\
         <input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\">{inputs}{reason}{agreement}\
         <button type=\"submit\">{button}</button></form>",
        summary = summary(notice, errors),
        agreement = agreement(&domain, params, errors),
    );
    let cookie =
        Cookie::build(CSRF_COOKIE, csrf).path("/auth").http_only(true).same_site(SameSite::Strict).finish();
    let mut response = html(status, if errors.is_empty() { "Sign up" } else { "Error: Sign up" }, &body);
    // A cookie that cannot be encoded is only a missing cookie: the next post asks again.
    let _ = response.add_cookie(&cookie);
    response
}

/// The notice and every error at the top, each linking to its field.
fn summary(notice: Option<&str>, errors: &[FieldError]) -> String {
    if notice.is_none() && errors.is_empty() {
        return String::new();
    }
    let notice = notice.map(|n| format!("<p>{}</p>", escape(n))).unwrap_or_default();
    let items: String = errors
        .iter()
        .map(|e| format!("<li><a href=\"#{}\">{}</a></li>", e.field, escape(&e.sentence())))
        .collect();
    let list =
        if items.is_empty() { String::new() } else { format!("<h2>There is a problem</h2><ul>{items}</ul>") };
    format!("<div class=\"error\" role=\"alert\">{notice}{list}</div>")
}

/// The error paragraph of `field` (empty when it has none) and the ids describing it.
fn field_error(field: &str, errors: &[FieldError], hint: bool) -> (String, String) {
    let messages: Vec<String> =
        errors.iter().filter(|e| e.field == field).map(|e| escape(&e.sentence())).collect();
    let mut described = if hint { vec![format!("{field}-hint")] } else { Vec::new() };
    if messages.is_empty() {
        return (String::new(), described.join(" "));
    }
    described.push(format!("{field}-error"));
    let paragraph = format!("<p class=\"error\" id=\"{field}-error\">{}</p>", messages.join(" "));
    (paragraph, described.join(" "))
}

fn described_by(ids: &str, invalid: bool) -> String {
    let mut attrs = String::new();
    if !ids.is_empty() {
        attrs.push_str(&format!(" aria-describedby=\"{ids}\""));
    }
    if invalid {
        attrs.push_str(" aria-invalid=\"true\"");
    }
    attrs
}

fn input(f: &Input<'_>, params: &Params, errors: &[FieldError]) -> String {
    let (error, ids) = field_error(f.name, errors, f.hint.is_some());
    let hint = f.hint.as_ref().map(|h| format!("<p class=\"hint\" id=\"{}-hint\">{h}</p>", f.name));
    // Passwords are never sent back.
    let value = if f.kind == "password" { "" } else { params.get(f.name).unwrap_or_default() };
    format!(
        "<label for=\"{name}\">{label}</label>{hint}{error}<input id=\"{name}\" name=\"{name}\" \
         type=\"{kind}\" autocomplete=\"{autocomplete}\" value=\"{value}\" required {attrs}{aria}>",
        name = f.name,
        label = f.label,
        hint = hint.unwrap_or_default(),
        kind = f.kind,
        autocomplete = f.autocomplete,
        value = escape(value),
        attrs = f.attributes,
        aria = described_by(&ids, !error.is_empty()),
    )
}

fn reason_field(config: &Config, params: &Params, errors: &[FieldError]) -> String {
    let (error, ids) = field_error("reason", errors, true);
    let (required, optional) =
        if config.registrations_reason_required { (" required", "") } else { ("", " (optional)") };
    format!(
        "<label for=\"reason\">Why do you want to join?{optional}</label>\
         <p class=\"hint\" id=\"reason-hint\">The administrators read this before approving your account.</p>\
         {error}<textarea id=\"reason\" name=\"reason\" rows=\"4\" maxlength=\"1000\"{required}{aria}>{value}</textarea>",
        aria = described_by(&ids, !error.is_empty()),
        value = escape(params.get("reason").unwrap_or_default()),
    )
}

fn agreement(domain: &str, params: &Params, errors: &[FieldError]) -> String {
    let (error, ids) = field_error("agreement", errors, false);
    let checked = if params.flag("agreement") == Some(true) { " checked" } else { "" };
    format!(
        "{error}<p><input id=\"agreement\" name=\"agreement\" type=\"checkbox\" value=\"true\" required{checked}{aria}> \
         <label for=\"agreement\" class=\"inline\">I agree to follow the rules of {domain}.</label></p>",
        aria = described_by(&ids, !error.is_empty()),
    )
}
