//! The instance admins' page: sign-ups waiting with their reasons (approve, reject), accounts
//! (suspend), domain blocks (suspend, silence, reject media; public and private comments; a
//! Mastodon-format CSV import), and the audit log of every admin action. Anyone else gets 404.
//!
//! A suspension takes effect in federation at once: the inbox refuses the domain, the delivery
//! worker sends it nothing, nothing is fetched from it, and what we held of it is purged.

use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use guildhall_core::config::RegistrationMode;
use guildhall_core::model::BlockSeverity;
use guildhall_federation::FedData;
use guildhall_storage::accounts::{self, AccountFilter};
use guildhall_storage::instance_blocks::{self, NewBlock};
use guildhall_storage::instance_settings::{self, InstanceSettings};
use guildhall_storage::{DbConnection, StorageResult, oauth, web_sessions};
use serde::Deserialize;

use crate::error::PageError;
use crate::forms;
use crate::pages::html;
use crate::session::{Nav, Viewer};
use crate::views::when;

/// Accounts listed (newest first).
const ACCOUNTS_SHOWN: i64 = 100;
/// Log entries shown.
const LOG_SHOWN: i64 = 100;
/// Longest comment on a block.
const MAX_COMMENT: usize = 1000;
/// Lines a pasted blocklist may have.
const MAX_IMPORT_LINES: usize = 5000;

/// 404 unless the viewer is an admin (the page's existence is not advertised).
fn admin(viewer: &Viewer) -> Result<(), PageError> {
    if viewer.is_admin() { Ok(()) } else { Err(PageError::NotFound) }
}

#[derive(Debug)]
struct AccountRow {
    user_id: i64,
    username: String,
    email: String,
    reason: String,
    since: String,
    disabled: bool,
    /// An admin: no buttons (admins are changed by whoever runs the server).
    admin: bool,
    /// Its actor (for limiting).
    actor_id: i64,
    /// Limited by an admin.
    limited: bool,
}

#[derive(Debug)]
struct BlockRow {
    domain: String,
    severity: String,
    reject_media: bool,
    public_comment: String,
    private_comment: String,
}

#[derive(Debug)]
struct LogRow {
    when: String,
    by: String,
    action: String,
    target: String,
    detail: String,
}

#[derive(Template)]
#[template(path = "admin.html")]
struct AdminPage {
    site: String,
    nav: Nav,
    csrf: String,
    pending: Vec<AccountRow>,
    accounts: Vec<AccountRow>,
    blocks: Vec<BlockRow>,
    log: Vec<LogRow>,
    about: InstanceSettings,
    /// The registration mode in force.
    registrations: &'static str,
    reports: Vec<crate::views::ReportView>,
    resolve_base: &'static str,
    allowed: Vec<String>,
}

fn account_row(a: &accounts::LocalAccount) -> AccountRow {
    AccountRow {
        user_id: a.user.id,
        username: a.actor.username.clone(),
        email: a.user.email.clone(),
        reason: a.user.sign_up_reason.clone().unwrap_or_default(),
        since: when(a.user.created_at),
        disabled: a.user.disabled,
        admin: a.user.role().is_ok_and(|r| r == guildhall_core::model::Role::Admin),
        actor_id: a.actor.id,
        limited: a.actor.limited,
    }
}

/// `GET /admin`.
pub async fn page(viewer: Viewer, data: FedData) -> Result<HttpResponse, PageError> {
    admin(&viewer)?;
    let (base, domain) = crate::pages::site(&data);
    let (pending, accounts, blocks, log, about, reports, allowed) = data
        .db
        .run(move |c| {
            let open = guildhall_storage::reports::open_first(c, REPORTS_SHOWN)?;
            let reports = crate::views::reports(c, &open, &base, &domain, None, true)?;
            let pending = accounts::list(c, AccountFilter::Pending, ACCOUNTS_SHOWN)?;
            let all = accounts::list(c, AccountFilter::All, ACCOUNTS_SHOWN)?;
            let blocks = instance_blocks::list(c)?;
            let about = instance_settings::get(c)?;
            let allowed = instance_blocks::allowed(c)?;
            let mut log = Vec::new();
            for e in instance_blocks::log_entries(c, LOG_SHOWN)? {
                let by = match e.admin_id {
                    Some(id) => guildhall_storage::actors::get(c, id)?.username,
                    None => "(a deleted account)".to_owned(),
                };
                log.push(LogRow {
                    when: when(e.created_at),
                    by,
                    action: e.action,
                    target: e.target,
                    detail: e.detail,
                });
            }
            Ok::<_, guildhall_storage::StorageError>((pending, all, blocks, log, about, reports, allowed))
        })
        .await?;
    let registrations = about.registrations_or(data.config.registrations).as_str();
    html(&AdminPage {
        site: data.config.domain.to_string(),
        nav: viewer.nav(),
        csrf: viewer.csrf.clone(),
        pending: pending.iter().map(account_row).collect(),
        accounts: accounts.iter().filter(|a| a.user.approved).map(account_row).collect(),
        blocks: blocks
            .into_iter()
            .map(|b| BlockRow {
                domain: b.domain,
                severity: b.severity,
                reject_media: b.reject_media,
                public_comment: b.public_comment,
                private_comment: b.private_comment,
            })
            .collect(),
        log,
        about,
        registrations,
        reports,
        resolve_base: "/admin/reports",
        allowed,
    })
}

/// Open reports listed.
const REPORTS_SHOWN: i64 = 50;

/// `POST /admin/reports/{id}/resolve`.
pub async fn resolve_report(
    request: HttpRequest,
    id: web::Path<i64>,
    body: Bytes,
    viewer: Viewer,
    data: FedData,
) -> Result<HttpResponse, PageError> {
    admin(&viewer)?;
    viewer.check_form(&request, &data, &body)?;
    let (me, id) = (viewer.actor().id, id.into_inner());
    let done = data
        .db
        .run(move |c| {
            guildhall_storage::transaction(c, |c| {
                let done = guildhall_storage::reports::resolve(c, id)?;
                if done {
                    instance_blocks::log(c, me, "resolve_report", &format!("report {id}"), "")?;
                }
                Ok(done)
            })
        })
        .await?;
    if !done {
        return Err(PageError::NotFound);
    }
    Ok(forms::see_other("/admin"))
}

#[derive(Debug, Deserialize)]
struct SettingsForm {
    title: String,
    description: String,
    #[serde(default)]
    rules: String,
    #[serde(default)]
    contact_email: String,
    registrations: String,
}

/// Longest title and description.
const MAX_TITLE: usize = 100;
const MAX_DESCRIPTION: usize = 5000;

impl SettingsForm {
    fn settings(&self) -> Result<InstanceSettings, PageError> {
        use instance_settings::{MAX_RULE_CHARS, MAX_RULES};
        let title = self.title.trim();
        if title.chars().count() > MAX_TITLE {
            return Err(PageError::Invalid(format!("title: at most {MAX_TITLE} characters")));
        }
        let description = self.description.trim().replace("\r\n", "\n");
        if description.chars().count() > MAX_DESCRIPTION {
            return Err(PageError::Invalid(format!("description: at most {MAX_DESCRIPTION} characters")));
        }
        let rules: Vec<String> =
            self.rules.lines().map(str::trim).filter(|r| !r.is_empty()).map(str::to_owned).collect();
        if rules.len() > MAX_RULES || rules.iter().any(|r| r.chars().count() > MAX_RULE_CHARS) {
            return Err(PageError::Invalid(format!(
                "rules: at most {MAX_RULES} rules of {MAX_RULE_CHARS} characters"
            )));
        }
        let contact = self.contact_email.trim();
        if !contact.is_empty() && guildhall_core::email::Email::parse(contact).is_err() {
            return Err(PageError::Invalid("contact_email: not an e-mail address".into()));
        }
        let registrations = RegistrationMode::parse(&self.registrations)
            .ok_or_else(|| PageError::Invalid("registrations: open, approval or closed".into()))?;
        Ok(InstanceSettings {
            title: title.to_owned(),
            description,
            rules,
            contact_email: contact.to_owned(),
            registrations: Some(registrations),
            // Set with its own form.
            allowlist: false,
        })
    }
}

/// `POST /admin/settings`: title, description, rules, contact and registration mode, in force
/// at once (no restart).
pub async fn settings(
    request: HttpRequest,
    body: Bytes,
    viewer: Viewer,
    data: FedData,
) -> Result<HttpResponse, PageError> {
    admin(&viewer)?;
    let form: SettingsForm = viewer.form(&request, &data, &body)?;
    let mut settings = form.settings()?;
    let me = viewer.actor().id;
    let detail = format!("registrations {}", form.registrations);
    data.db
        .run(move |c| {
            guildhall_storage::transaction(c, |c| {
                settings.allowlist = instance_settings::get(c)?.allowlist;
                instance_settings::save(c, &settings)?;
                instance_blocks::log(c, me, "update_settings", "instance", &detail)
            })
        })
        .await?;
    Ok(forms::see_other("/admin"))
}

/// What an admin does to an account.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountAction {
    /// Let a waiting sign-up in.
    Approve,
    /// Turn a waiting sign-up away (the account is deleted).
    Reject,
    /// Stop an account signing in; every app and browser of theirs is signed out.
    Suspend,
    /// Let a suspended account sign in again.
    Unsuspend,
}

/// `POST /admin/accounts/{user_id}/{approve|reject|suspend}`.
pub async fn account(
    request: HttpRequest,
    path: web::Path<(i64, AccountAction)>,
    body: Bytes,
    viewer: Viewer,
    data: FedData,
) -> Result<HttpResponse, PageError> {
    admin(&viewer)?;
    viewer.check_form(&request, &data, &body)?;
    let (user_id, action) = path.into_inner();
    let target = other_account(&data, &viewer, user_id).await?;
    let me = viewer.actor().id;
    let done =
        data.db.run(move |c| guildhall_storage::transaction(c, |c| act_on(c, me, &target, action))).await?;
    if !done {
        return Err(PageError::Invalid("The account is not in a state for that".into()));
    }
    Ok(forms::see_other("/admin"))
}

fn act_on(
    c: &mut DbConnection,
    admin_id: i64,
    target: &accounts::LocalAccount,
    action: AccountAction,
) -> StorageResult<bool> {
    let uid = target.user.id;
    let done = match action {
        AccountAction::Approve => accounts::approve(c, uid)?,
        AccountAction::Reject => accounts::delete_pending(c, uid)?,
        AccountAction::Suspend => {
            let disabled = accounts::disable(c, uid)?;
            oauth::revoke_all_of_user(c, uid)?;
            web_sessions::revoke_all(c, uid, None)?;
            disabled
        }
        AccountAction::Unsuspend => accounts::enable(c, uid)?,
    };
    if done {
        let name = format!("{action:?}").to_lowercase();
        instance_blocks::log(c, admin_id, &name, &format!("@{}", target.actor.username), "")?;
    }
    Ok(done)
}

#[derive(Debug, Deserialize)]
struct BlockForm {
    domain: String,
    severity: BlockSeverity,
    #[serde(default)]
    reject_media: Option<String>,
    #[serde(default)]
    public_comment: String,
    #[serde(default)]
    private_comment: String,
}

/// A domain as admins type it: `example.org`, or `host:port`; 422 naming the field otherwise.
fn domain_field(raw: &str) -> Result<String, PageError> {
    let domain =
        raw.trim().trim_start_matches("https://").trim_start_matches("http://").trim_end_matches('/');
    guildhall_core::domain::Domain::parse(domain).map(|d| d.to_string()).map_err(|_| {
        PageError::Invalid(format!(
            "domain: '{}' is not a domain name",
            domain.chars().take(100).collect::<String>()
        ))
    })
}

fn comment(field: &str, text: &str) -> Result<String, PageError> {
    let text = text.trim();
    if text.chars().count() > MAX_COMMENT {
        return Err(PageError::Invalid(format!("{field}: at most {MAX_COMMENT} characters")));
    }
    Ok(text.to_owned())
}

/// Applies a block: stored, logged, and for a suspension what we held of the domain purged.
fn apply_block(c: &mut DbConnection, admin_id: i64, block: &NewBlock) -> StorageResult<()> {
    instance_blocks::upsert(c, block)?;
    let mut detail = block.severity.as_str().to_owned();
    if block.severity == BlockSeverity::Suspend {
        let (accounts, posts) = instance_blocks::purge(c, &block.domain)?;
        detail.push_str(&format!(": {accounts} accounts and {posts} posts purged"));
    }
    if block.reject_media {
        detail.push_str(", media rejected");
    }
    instance_blocks::log(c, admin_id, "block_domain", &block.domain, &detail)
}

/// `POST /admin/domain_blocks`: blocks (or changes the block of) a domain.
pub async fn block(
    request: HttpRequest,
    body: Bytes,
    viewer: Viewer,
    data: FedData,
) -> Result<HttpResponse, PageError> {
    admin(&viewer)?;
    let form: BlockForm = viewer.form(&request, &data, &body)?;
    let domain = domain_field(&form.domain)?;
    if domain == data.config.domain.to_string() {
        return Err(PageError::Invalid("domain: this is our own domain".into()));
    }
    let block = NewBlock {
        domain,
        severity: form.severity,
        reject_media: form.reject_media.is_some(),
        public_comment: comment("public_comment", &form.public_comment)?,
        private_comment: comment("private_comment", &form.private_comment)?,
    };
    let me = viewer.actor().id;
    data.db.run(move |c| guildhall_storage::transaction(c, |c| apply_block(c, me, &block))).await?;
    Ok(forms::see_other("/admin"))
}

#[derive(Debug, Deserialize)]
struct UnblockForm {
    domain: String,
}

/// `POST /admin/domain_blocks/remove`: lifts a block (purged posts stay gone).
pub async fn unblock(
    request: HttpRequest,
    body: Bytes,
    viewer: Viewer,
    data: FedData,
) -> Result<HttpResponse, PageError> {
    admin(&viewer)?;
    let form: UnblockForm = viewer.form(&request, &data, &body)?;
    let (me, domain) = (viewer.actor().id, form.domain.trim().to_lowercase());
    let removed = data
        .db
        .run(move |c| {
            let removed = instance_blocks::remove(c, &domain)?;
            if removed {
                instance_blocks::log(c, me, "unblock_domain", &domain, "")?;
            }
            Ok::<_, guildhall_storage::StorageError>(removed)
        })
        .await?;
    if !removed {
        return Err(PageError::NotFound);
    }
    Ok(forms::see_other("/admin"))
}

#[derive(Debug, Deserialize)]
struct ImportForm {
    csv: String,
}

/// The cells of one CSV line: commas split, double quotes group (`""` is a quote).
fn csv_cells(line: &str) -> Vec<String> {
    let (mut cells, mut cell, mut quoted) = (Vec::new(), String::new(), false);
    let mut chars = line.chars().peekable();
    while let Some(ch) = chars.next() {
        match (ch, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cell.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => cells.push(std::mem::take(&mut cell).trim().to_owned()),
            _ => cell.push(ch),
        }
    }
    cells.push(cell.trim().to_owned());
    cells
}

/// One line of a Mastodon blocklist export: `#domain,#severity,#reject_media,#reject_reports,
/// #public_comment,#obfuscate` (a header line, and lines of a bare domain, are accepted too).
fn parse_line(line: &str) -> Option<Result<NewBlock, String>> {
    let line = line.trim();
    if line.is_empty() || line.starts_with("#domain") || line.starts_with("domain,") {
        return None;
    }
    let cells = csv_cells(line);
    let domain = match domain_field(&cells[0]) {
        Ok(d) => d,
        Err(_) => {
            return Some(Err(format!(
                "'{}' is not a domain name",
                cells[0].chars().take(100).collect::<String>()
            )));
        }
    };
    let severity = cells
        .get(1)
        .filter(|s| !s.is_empty())
        .map_or(Some(BlockSeverity::Suspend), |s| BlockSeverity::parse(s));
    let Some(severity) = severity else {
        return Some(Err(format!("{domain}: the severity must be suspend, silence or noop")));
    };
    let flag = |i: usize| cells.get(i).is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let public_comment: String =
        cells.get(4).map(|c| c.chars().take(MAX_COMMENT).collect()).unwrap_or_default();
    Some(Ok(NewBlock {
        domain,
        severity,
        reject_media: flag(2),
        public_comment,
        private_comment: "imported".into(),
    }))
}

/// `POST /admin/domain_blocks/import` (`csv`: a Mastodon-format blocklist pasted in): every
/// line is checked first; one bad line names itself and nothing is imported.
pub async fn import(
    request: HttpRequest,
    body: Bytes,
    viewer: Viewer,
    data: FedData,
) -> Result<HttpResponse, PageError> {
    admin(&viewer)?;
    let form: ImportForm = viewer.form(&request, &data, &body)?;
    let lines: Vec<&str> = form.csv.lines().collect();
    if lines.len() > MAX_IMPORT_LINES {
        return Err(PageError::Invalid(format!("csv: at most {MAX_IMPORT_LINES} lines at once")));
    }
    let ours = data.config.domain.to_string();
    let mut blocks = Vec::new();
    for (n, line) in lines.iter().enumerate() {
        match parse_line(line) {
            None => {}
            Some(Ok(b)) if b.domain == ours => {
                return Err(PageError::Invalid(format!("csv: line {}: our own domain", n + 1)));
            }
            Some(Ok(b)) => blocks.push(b),
            Some(Err(why)) => return Err(PageError::Invalid(format!("csv: line {}: {why}", n + 1))),
        }
    }
    let me = viewer.actor().id;
    data.db
        .run(move |c| {
            guildhall_storage::transaction(c, |c| {
                for b in &blocks {
                    apply_block(c, me, b)?;
                }
                Ok(())
            })
        })
        .await?;
    Ok(forms::see_other("/admin"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mastodon_blocklist_lines_parse() {
        assert!(
            parse_line("#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate")
                .is_none()
        );
        let Some(Ok(b)) = parse_line("spam.example,suspend,true,false,\"Spam, \"\"lots\"\"\",false") else {
            panic!()
        };
        assert_eq!(
            (b.domain.as_str(), b.severity, b.reject_media),
            ("spam.example", BlockSeverity::Suspend, true)
        );
        assert_eq!(b.public_comment, "Spam, \"lots\"");
        let Some(Ok(b)) = parse_line("quiet.example,silence") else { panic!() };
        assert_eq!(b.severity, BlockSeverity::Silence);
        assert!(matches!(parse_line("bad domain!,suspend"), Some(Err(_))));
        assert!(matches!(parse_line("ok.example,obliterate"), Some(Err(_))));
    }
}

/// An instance on the health page.
#[derive(Debug)]
struct InstanceRow {
    domain: String,
    software: String,
    last_success: String,
    last_failure: String,
    failures: i32,
    /// Deliveries to it are paused (its circuit breaker is open) until then.
    paused_until: Option<String>,
}

/// A queue on the health page.
#[derive(Debug)]
struct QueueRow {
    queue: String,
    pending: i64,
    failed: i64,
    /// How late its oldest due job is, in words.
    oldest: String,
}

#[derive(Template)]
#[template(path = "federation.html")]
struct FederationPage {
    site: String,
    nav: Nav,
    known: i64,
    queues: Vec<QueueRow>,
    instances: Vec<InstanceRow>,
}

/// Instances listed on the health page.
const INSTANCES_SHOWN: i64 = 200;

/// `GET /admin/federation`: the queues (depth, failures, how late the oldest job is) and the
/// known instances, failing ones first, with their circuit breakers.
pub async fn federation(viewer: Viewer, data: FedData) -> Result<HttpResponse, PageError> {
    use guildhall_storage::{instances, jobs};
    admin(&viewer)?;
    let (known, stats, list) = data
        .db
        .run(|c| {
            Ok::<_, guildhall_storage::StorageError>((
                instances::count(c)?,
                jobs::stats(c)?,
                instances::health(c, INSTANCES_SHOWN)?,
            ))
        })
        .await?;
    let at = guildhall_storage::now();
    let queues = stats
        .into_iter()
        .map(|q| QueueRow {
            oldest: match q.oldest_due {
                Some(due) if due < at => format!("{} s late", (at - due).num_seconds()),
                Some(_) => "on time".into(),
                None => "empty".into(),
            },
            queue: q.queue,
            pending: q.pending,
            failed: q.failed,
        })
        .collect();
    let never = || "never".to_owned();
    let instances = list
        .into_iter()
        .map(|i| InstanceRow {
            software: [i.software.unwrap_or_default(), i.software_version.unwrap_or_default()]
                .join(" ")
                .trim()
                .to_owned(),
            last_success: i.last_success_at.map(when).unwrap_or_else(never),
            last_failure: i.last_failure_at.map(when).unwrap_or_else(never),
            failures: i.failure_count,
            paused_until: i.unreachable_until.filter(|u| *u > at).map(when),
            domain: i.domain,
        })
        .collect();
    html(&FederationPage {
        site: data.config.domain.to_string(),
        nav: viewer.nav(),
        known,
        queues,
        instances,
    })
}

#[derive(Template)]
#[template(path = "new_password.html")]
struct NewPasswordPage {
    site: String,
    nav: Nav,
    username: String,
    password: String,
}

/// The live local account with user id `user_id`: never the admin's own, nor another admin's
/// (whoever runs the server changes admins, with the CLI).
async fn other_account(
    data: &FedData,
    viewer: &Viewer,
    user_id: i64,
) -> Result<accounts::LocalAccount, PageError> {
    if user_id == viewer.account.user.id {
        return Err(PageError::Forbidden("Admins cannot act on their own account here".into()));
    }
    let target =
        data.db.run(move |c| accounts::find_by_user_id(c, user_id)).await?.ok_or(PageError::NotFound)?;
    if target.user.role().is_ok_and(|r| r == guildhall_core::model::Role::Admin) {
        return Err(PageError::Forbidden(
            "Another admin's account is changed by whoever runs the server".into(),
        ));
    }
    Ok(target)
}

/// `POST /admin/accounts/{user_id}/reset_password`: a new random password, shown to the admin
/// once to pass on; every app and browser of the account is signed out.
pub async fn reset_password(
    request: HttpRequest,
    id: web::Path<i64>,
    body: Bytes,
    viewer: Viewer,
    data: FedData,
) -> Result<HttpResponse, PageError> {
    admin(&viewer)?;
    viewer.check_form(&request, &data, &body)?;
    let target = other_account(&data, &viewer, id.into_inner()).await?;
    // 24 characters from a 32-byte random token: about 140 bits.
    let password: String = guildhall_core::keys::random_token().chars().take(24).collect();
    let hash = guildhall_core::password::hash(&password).map_err(|e| PageError::Internal(e.to_string()))?;
    let (me, username) = (viewer.actor().id, target.actor.username.clone());
    let name = username.clone();
    data.db
        .run(move |c| {
            accounts::set_password(c, &name, &hash)?;
            instance_blocks::log(c, me, "reset_password", &format!("@{name}"), "")
        })
        .await?;
    let page =
        NewPasswordPage { site: data.config.domain.to_string(), nav: viewer.nav(), username, password };
    let mut response = html(&page)?;
    response.headers_mut().insert(
        actix_web::http::header::CACHE_CONTROL,
        actix_web::http::header::HeaderValue::from_static("no-store"),
    );
    Ok(response)
}

/// `POST /admin/accounts/{user_id}/delete`: closes the account for good (its posts deleted,
/// every server that knew it told).
pub async fn delete_account(
    request: HttpRequest,
    id: web::Path<i64>,
    body: Bytes,
    viewer: Viewer,
    data: FedData,
) -> Result<HttpResponse, PageError> {
    admin(&viewer)?;
    viewer.check_form(&request, &data, &body)?;
    let target = other_account(&data, &viewer, id.into_inner()).await?;
    guildhall_federation::actions::delete_account(&data, &target.actor).await?;
    let (me, name) = (viewer.actor().id, target.actor.username.clone());
    data.db.run(move |c| instance_blocks::log(c, me, "delete_account", &format!("@{name}"), "")).await?;
    Ok(forms::see_other("/admin"))
}

/// `POST /admin/reports/{id}/forward`: sends a report about a remote account to its server,
/// from this server (the reporter stays anonymous).
pub async fn forward_report(
    request: HttpRequest,
    id: web::Path<i64>,
    body: Bytes,
    viewer: Viewer,
    data: FedData,
) -> Result<HttpResponse, PageError> {
    admin(&viewer)?;
    viewer.check_form(&request, &data, &body)?;
    let id = id.into_inner();
    guildhall_federation::actions::forward_report(&data, id).await?;
    let me = viewer.actor().id;
    data.db.run(move |c| instance_blocks::log(c, me, "forward_report", &format!("report {id}"), "")).await?;
    Ok(forms::see_other("/admin"))
}

#[derive(Debug, Deserialize)]
struct AllowlistForm {
    /// `on`, `off`, `allow` (with `domain`) or `disallow` (with `domain`).
    action: AllowlistAction,
    #[serde(default)]
    domain: String,
}

/// What the allowlist form does.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum AllowlistAction {
    /// Federate only with the allowed domains.
    On,
    /// Federate with everyone not blocked.
    Off,
    /// Add a domain to the allowlist.
    Allow,
    /// Take a domain off it.
    Disallow,
}

/// `POST /admin/allowlist`: allowlist mode on or off, and the allowed domains. In allowlist
/// mode nothing is delivered to, accepted from or fetched from any other server.
pub async fn allowlist(
    request: HttpRequest,
    body: Bytes,
    viewer: Viewer,
    data: FedData,
) -> Result<HttpResponse, PageError> {
    admin(&viewer)?;
    let form: AllowlistForm = viewer.form(&request, &data, &body)?;
    let domain = match form.action {
        AllowlistAction::Allow | AllowlistAction::Disallow => domain_field(&form.domain)?,
        AllowlistAction::On | AllowlistAction::Off => String::new(),
    };
    let (me, action) = (viewer.actor().id, form.action);
    data.db
        .run(move |c| {
            guildhall_storage::transaction(c, |c| {
                let (name, target) = match action {
                    AllowlistAction::On | AllowlistAction::Off => {
                        let mut settings = instance_settings::get(c)?;
                        settings.allowlist = matches!(action, AllowlistAction::On);
                        instance_settings::save(c, &settings)?;
                        (
                            if settings.allowlist { "allowlist_on" } else { "allowlist_off" },
                            "instance".to_owned(),
                        )
                    }
                    AllowlistAction::Allow => {
                        if !instance_blocks::allow(c, &domain)? {
                            return Ok(());
                        }
                        ("allow_domain", domain.clone())
                    }
                    AllowlistAction::Disallow => {
                        if !instance_blocks::disallow(c, &domain)? {
                            return Ok(());
                        }
                        ("disallow_domain", domain.clone())
                    }
                };
                instance_blocks::log(c, me, name, &target, "")
            })
        })
        .await?;
    Ok(forms::see_other("/admin"))
}

/// Limit or lift the limit.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LimitAction {
    /// Out of public timelines; strangers' notification policies apply.
    Limit,
    /// Back to normal.
    Unlimit,
}

/// `POST /admin/actors/{actor_id}/{limit|unlimit}`: limits any account, ours or another
/// server's (Mastodon's "silence"), or lifts it.
pub async fn limit(
    request: HttpRequest,
    path: web::Path<(i64, LimitAction)>,
    body: Bytes,
    viewer: Viewer,
    data: FedData,
) -> Result<HttpResponse, PageError> {
    admin(&viewer)?;
    viewer.check_form(&request, &data, &body)?;
    let ((id, action), me, domain) = (path.into_inner(), viewer.actor().id, data.config.domain.to_string());
    let done = data
        .db
        .run(move |c| {
            guildhall_storage::transaction(c, |c| {
                let target = guildhall_storage::actors::get(c, id)?;
                let is_admin = accounts::find_by_actor_id(c, id)?
                    .is_some_and(|a| a.user.role().is_ok_and(|r| r == guildhall_core::model::Role::Admin));
                if is_admin || id == me {
                    return Ok(false);
                }
                let limited = matches!(action, LimitAction::Limit);
                let changed = guildhall_storage::actors::set_limited(c, id, limited)?;
                if changed {
                    let name = if limited { "limit" } else { "unlimit" };
                    instance_blocks::log(c, me, name, &crate::views::handle(&target, &domain), "")?;
                }
                Ok(changed)
            })
        })
        .await?;
    if !done {
        return Err(PageError::Invalid("The account cannot be changed that way".into()));
    }
    Ok(forms::see_other("/admin"))
}
