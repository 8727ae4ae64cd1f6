//! Guildhall's pages for browsers: the pages behind every `url` the API and our ActivityPub
//! objects hand out (a profile `/@name`, a post `/@name/ID` with its thread, a hashtag
//! `/tags/NAME`), the home page `/`, the group directory `/groups`, a group's page, and RSS
//! feeds of accounts, groups and tags (`/@name.rss`, `/tags/NAME.rss`).
//!
//! Pages are askama templates, which escape by default; the only markup passed through is a
//! status's or profile's HTML, which was sanitized where it entered (ours when rendered,
//! other servers' when stored). No page has script; every page is served with the strict
//! Content-Security-Policy the server adds to all HTML. A page shows what a stranger may see
//! ([`guildhall_storage::timelines::may_see`] with no viewer): members-only posts never. The
//! same URLs answer ActivityPub JSON to a client that asks for it.
#![deny(missing_docs)]

mod pages;
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
        .route("/@{name}.rss", web::get().to(pages::account_feed))
        .route("/tags/{tag}.rss", web::get().to(pages::tag_feed))
        .route("/@{name}", web::get().to(pages::profile))
        .route("/@{name}/{id}", web::get().to(pages::thread_page))
        .route("/tags/{tag}", web::get().to(pages::tag));
}
