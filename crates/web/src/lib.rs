//! Guildhall's pages for browsers.
//!
//! **Public:** the pages behind every `url` the API and our ActivityPub objects hand out (a
//! profile `/@name`, a post `/@name/ID` with its thread, a hashtag `/tags/NAME`), the home page
//! `/`, the group directory `/groups`, a group's page, and RSS feeds of accounts, groups and
//! tags. **Members** (signed in with a cookie session, `session`): the home feed with a
//! compose form, replies, likes, boosts, deletion, following and joining, notifications,
//! settings. **Group moderators:** join requests, members, removals and bans, the log.
//! **Admins:** sign-ups, accounts, domain blocks.
//!
//! Pages are askama templates, which escape by default; the only markup passed through is a
//! status's or profile's HTML, which was sanitized where it entered (ours when rendered,
//! other servers' when stored). No page has script; every page is served with the strict
//! Content-Security-Policy the server adds to all HTML. What a page shows is decided by
//! [`guildhall_storage::timelines::may_see`] for its viewer (a stranger: `None`), so
//! members-only posts never reach a public page. Every change goes through
//! `guildhall_federation::actions`, as the API's do. The same URLs answer ActivityPub JSON to a
//! client that asks for it.
#![deny(missing_docs)]

mod admin;
mod error;
mod event_forms;
mod events;
mod forms;
mod hour_forms;
mod hours;
mod ics;
mod mail_pages;
mod member;
mod moderation;
mod pages;
mod remote;
mod session;
mod settings;
mod views;

use actix_web::web;

/// The stylesheet's path (allowed by the CSP's `style-src 'self'`).
pub const STYLESHEET_PATH: &str = "/static/web.css";

/// Registers the pages. Register before the federation routes: `/@{name}` is served here for
/// browsers and ActivityPub clients alike.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(STYLESHEET_PATH, web::get().to(pages::stylesheet))
        .route("/", web::get().to(pages::home))
        .route("/groups", web::get().to(pages::directory))
        .route("/events", web::get().to(events::list_page))
        .route("/events", web::post().to(event_forms::create))
        .route("/events/new", web::get().to(event_forms::new_form))
        .route("/events/{id}.ics", web::get().to(ics::event_ics))
        .route("/events/{id}", web::get().to(events::page))
        .route("/events/{id}/edit", web::get().to(event_forms::edit_form))
        .route("/events/{id}/edit", web::post().to(event_forms::edit))
        .route("/events/{id}/join", web::post().to(events::join))
        .route("/events/{id}/leave", web::post().to(events::leave))
        .route("/events/{id}/listed", web::post().to(events::listed))
        .route("/events/{id}/cancel", web::post().to(events::cancel))
        .route("/events/{id}/participants/{pid}/{answer}", web::post().to(events::decide))
        .route("/calendar/{token}.ics", web::get().to(ics::personal_ics))
        .route("/hours/{id}", web::get().to(hours::page))
        .route("/hours/{id}/editions/{edition_id}", web::get().to(hours::edition))
        .route("/settings/calendar", web::post().to(event_forms::calendar_feed))
        .route("/settings/reminders", web::post().to(event_forms::reminders))
        .route("/auth/sign_in", web::get().to(session::sign_in_form))
        .route("/auth/sign_in", web::post().to(session::sign_in))
        .route("/auth/sign_out", web::post().to(session::sign_out))
        .route("/auth/password/new", web::get().to(mail_pages::reset_form))
        .route("/auth/password", web::post().to(mail_pages::request_reset))
        .route("/auth/password/edit", web::get().to(mail_pages::new_password_form))
        .route("/auth/password/edit", web::post().to(mail_pages::set_new_password))
        .route("/auth/confirmation", web::get().to(mail_pages::confirmation_page))
        .route("/auth/confirmation", web::post().to(mail_pages::confirm_address))
        .route("/mail/unsubscribe/{key}", web::get().to(mail_pages::unsubscribe_page))
        .route("/mail/unsubscribe/{key}", web::post().to(mail_pages::unsubscribe))
        .route("/mail/confirm/{key}", web::get().to(mail_pages::confirm_follow_page))
        .route("/mail/confirm/{key}", web::post().to(mail_pages::confirm_follow))
        .route("/settings/mail", web::post().to(mail_pages::settings))
        .route("/settings", web::get().to(settings::page))
        .route("/settings/profile", web::post().to(settings::profile))
        .route("/settings/password", web::post().to(settings::password))
        .route("/settings/sessions", web::get().to(settings::sessions))
        .route("/settings/sessions/{id}/revoke", web::post().to(settings::revoke_session))
        .route("/settings/apps/{id}/revoke", web::post().to(settings::revoke_app))
        .route("/settings/export/following.csv", web::get().to(settings::export_following))
        .route("/settings/export/outbox.json", web::get().to(settings::export_posts))
        .route("/remote_follow", web::post().to(remote::remote_follow))
        .route("/authorize_interaction", web::get().to(remote::confirm))
        .route("/authorize_interaction", web::post().to(remote::follow))
        .route("/admin", web::get().to(admin::page))
        .route("/admin/federation", web::get().to(admin::federation))
        .route("/admin/allowlist", web::post().to(admin::allowlist))
        .route("/admin/actors/{id}/{action}", web::post().to(admin::limit))
        .route("/admin/settings", web::post().to(admin::settings))
        .route("/admin/reports/{id}/resolve", web::post().to(admin::resolve_report))
        .route("/admin/accounts/{id}/reset_password", web::post().to(admin::reset_password))
        .route("/admin/accounts/{id}/delete", web::post().to(admin::delete_account))
        .route("/admin/accounts/{id}/{action}", web::post().to(admin::account))
        .route("/admin/reports/{id}/forward", web::post().to(admin::forward_report))
        .route("/admin/domain_blocks", web::post().to(admin::block))
        .route("/admin/domain_blocks/remove", web::post().to(admin::unblock))
        .route("/admin/domain_blocks/import", web::post().to(admin::import))
        .route("/home", web::get().to(member::home_feed))
        .route("/notifications", web::get().to(member::notifications_page))
        .route("/notifications/requests", web::get().to(member::requests_page))
        .route("/notifications/policy", web::post().to(member::set_policy))
        .route("/notifications/requests/{account}/{answer}", web::post().to(member::answer_request))
        .route("/statuses", web::post().to(member::compose))
        .route("/statuses/{id}", web::get().to(pages::any_status))
        .route("/statuses/{id}/edit", web::get().to(member::edit_form))
        .route("/statuses/{id}/edit", web::post().to(member::edit))
        .route("/statuses/{id}/report", web::get().to(member::report_form))
        .route("/statuses/{id}/report", web::post().to(member::report))
        .route("/statuses/{id}/{action}", web::post().to(member::status_action))
        .route("/@{name}.rss", web::get().to(pages::account_rss))
        .route("/@{name}.atom", web::get().to(pages::account_atom))
        .route("/tags/{tag}.rss", web::get().to(pages::tag_rss))
        .route("/tags/{tag}.atom", web::get().to(pages::tag_atom))
        .route("/@{name}/events.ics", web::get().to(ics::account_ics))
        .route("/@{name}/hours/new", web::get().to(hour_forms::new_form))
        .route("/@{name}/hours", web::post().to(hour_forms::create))
        .route("/@{name}", web::get().to(pages::profile))
        .route("/@{name}/moderation", web::get().to(moderation::page))
        .route("/@{name}/moderation/requests/{account}/{answer}", web::post().to(moderation::answer))
        .route("/@{name}/moderation/members/{account}/{action}", web::post().to(moderation::member))
        .route("/@{name}/moderation/invitations", web::post().to(moderation::invite))
        .route("/@{name}/moderation/statuses/{id}/remove", web::post().to(moderation::remove_status))
        .route("/@{name}/moderation/settings", web::post().to(moderation::settings))
        .route("/@{name}/moderation/reports/{id}/resolve", web::post().to(moderation::resolve_report))
        .route("/@{name}/mail/subscribe", web::post().to(mail_pages::follow_by_mail))
        .route("/@{name}/mail", web::post().to(mail_pages::member_mail))
        .route("/@{name}/{action}", web::post().to(member::follow))
        .route("/@{name}/{id}", web::get().to(pages::thread_page))
        .route("/tags/{tag}", web::get().to(pages::tag));
}
