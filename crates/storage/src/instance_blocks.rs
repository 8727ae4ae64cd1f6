//! The instance's domain blocks (set by admins) and the admin audit log.
//!
//! A block of `example.org` covers `social.example.org` too, as Mastodon's do. Domains are
//! stored lower-case as `host[:port]`, the form `actors.domain` has.

use diesel::prelude::*;
use guildhall_core::Id;
use guildhall_core::model::BlockSeverity;

use crate::schema::{actors, admin_log, follows, instance_allowed_domains, instance_domain_blocks, statuses};
use crate::{DbConnection, StorageResult, Timestamp, now, parse_text};

/// Blocks an instance may hold (an imported list included).
pub const MAX_BLOCKS: i64 = 20_000;

/// A blocked domain.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = instance_domain_blocks)]
pub struct DomainBlock {
    /// `host[:port]`, lower-case.
    pub domain: String,
    /// [`BlockSeverity`] spelling.
    pub severity: String,
    /// Media from it is not stored or shown.
    pub reject_media: bool,
    /// Shown publicly.
    pub public_comment: String,
    /// For admins only.
    pub private_comment: String,
    /// When first blocked.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

impl DomainBlock {
    /// What it does.
    pub fn severity(&self) -> StorageResult<BlockSeverity> {
        parse_text(&self.severity, BlockSeverity::parse)
    }
}

/// A block as an admin sets it.
#[derive(Debug, Clone)]
pub struct NewBlock {
    /// The domain (lower-cased here).
    pub domain: String,
    /// What it does.
    pub severity: BlockSeverity,
    /// Reject media.
    pub reject_media: bool,
    /// Public comment.
    pub public_comment: String,
    /// Private comment.
    pub private_comment: String,
}

/// Sets (or changes) a block. `Conflict` when the instance already holds [`MAX_BLOCKS`].
pub fn upsert(conn: &mut DbConnection, block: &NewBlock) -> StorageResult<DomainBlock> {
    let domain = block.domain.trim().to_lowercase();
    let at = now();
    crate::transaction(conn, |c| {
        let existing = instance_domain_blocks::table
            .find(&domain)
            .select(DomainBlock::as_select())
            .first(c)
            .optional()?;
        let row = DomainBlock {
            domain: domain.clone(),
            severity: block.severity.as_str().to_owned(),
            reject_media: block.reject_media,
            public_comment: block.public_comment.clone(),
            private_comment: block.private_comment.clone(),
            created_at: existing.as_ref().map_or(at, |e| e.created_at),
            updated_at: at,
        };
        if existing.is_some() {
            diesel::delete(instance_domain_blocks::table.find(&domain)).execute(c)?;
        } else if count(c)? >= MAX_BLOCKS {
            return Err(crate::StorageError::Conflict(format!("at most {MAX_BLOCKS} domain blocks")));
        }
        diesel::insert_into(instance_domain_blocks::table).values(&row).execute(c)?;
        Ok(row)
    })
}

/// How many blocks there are.
pub fn count(conn: &mut DbConnection) -> StorageResult<i64> {
    Ok(instance_domain_blocks::table.count().get_result(conn)?)
}

/// Lifts a block; false when there was none.
pub fn remove(conn: &mut DbConnection, domain: &str) -> StorageResult<bool> {
    crate::atomic(conn, |conn| {
        let n =
            diesel::delete(instance_domain_blocks::table.find(domain.trim().to_lowercase())).execute(conn)?;
        Ok(n > 0)
    })
}

/// Every block, by domain.
pub fn list(conn: &mut DbConnection) -> StorageResult<Vec<DomainBlock>> {
    Ok(instance_domain_blocks::table
        .order(instance_domain_blocks::domain.asc())
        .select(DomainBlock::as_select())
        .load(conn)?)
}

/// `column` equal to one of up to four names (the first repeated to fill the four): a query of
/// one shape, so its statement is prepared once per connection. `eq_any` of a list of varying
/// length is prepared again on every call, and these run for every request another server
/// sends us.
macro_rules! one_of_four {
    ($column:expr, $names:expr) => {{
        let names: &[String] = $names;
        let at = |i: usize| names.get(i).or(names.first()).map_or("", String::as_str);
        $column.eq(at(0)).or($column.eq(at(1))).or($column.eq(at(2))).or($column.eq(at(3)))
    }};
}

/// The longest domain name DNS allows; a longer one names no server we could talk to.
const MAX_NAME: usize = 253;

/// `host` without its port and trailing dot, lowercased.
fn name_of(host: &str) -> String {
    let host = host.trim().to_lowercase();
    let name = host.split_once(':').map_or(host.as_str(), |(n, _)| n);
    name.trim_end_matches('.').to_owned()
}

/// `host` and each parent domain: `a.b.example.org` → `a.b.example.org`, `b.example.org`,
/// `example.org`, `org` (a port stays on the full host only). Parents longer than a domain
/// name may be are left out, so a name of any length (it comes from a stranger's request)
/// gives at most 128 of them.
fn candidates(host: &str) -> Vec<String> {
    // `evil.example.` is `evil.example`: a trailing dot must not slip past a block.
    let lowered = host.trim().to_lowercase();
    let port = lowered.split_once(':').map(|(_, p)| p);
    let bare = name_of(host);
    let host = match port {
        Some(p) => format!("{bare}:{p}"),
        None => bare.clone(),
    };
    let mut out = vec![host.clone()];
    let parents = bare.match_indices('.').map(|(i, _)| &bare[i + 1..]);
    out.extend(parents.filter(|p| !p.is_empty() && p.len() <= MAX_NAME).map(str::to_owned));
    if bare != host {
        out.push(bare);
    }
    out
}

/// The block covering `host` (`host[:port]`), if any.
pub fn covering(conn: &mut DbConnection, host: &str) -> StorageResult<Option<DomainBlock>> {
    let mut found = Vec::new();
    for four in candidates(host).chunks(4) {
        let query = instance_domain_blocks::table.filter(one_of_four!(instance_domain_blocks::domain, four));
        found.extend(query.select(DomainBlock::as_select()).load::<DomainBlock>(conn)?);
    }
    // The most specific block decides.
    found.sort_by_key(|b| std::cmp::Reverse(b.domain.len()));
    Ok(found.into_iter().next())
}

/// True when media from `host` is rejected.
pub fn rejects_media(conn: &mut DbConnection, host: &str) -> StorageResult<bool> {
    Ok(covering(conn, host)?.is_some_and(|b| b.reject_media))
}

/// True when `host` is suspended, or, in allowlist mode, not allowed: nothing is exchanged
/// with it.
pub fn is_suspended(conn: &mut DbConnection, host: &str) -> StorageResult<bool> {
    if name_of(host).len() > MAX_NAME {
        return Ok(true);
    }
    if covering(conn, host)?.is_some_and(|b| b.severity().is_ok_and(|s| s == BlockSeverity::Suspend)) {
        return Ok(true);
    }
    if crate::instance_settings::allowlist(conn)? {
        for four in candidates(host).chunks(4) {
            let query =
                instance_allowed_domains::table.filter(one_of_four!(instance_allowed_domains::domain, four));
            if query.count().get_result::<i64>(conn)? > 0 {
                return Ok(false);
            }
        }
        return Ok(true);
    }
    Ok(false)
}

/// Allows `domain` (and its subdomains) in allowlist mode; false when it was allowed already.
pub fn allow(conn: &mut DbConnection, domain: &str) -> StorageResult<bool> {
    let domain = domain.trim().to_lowercase();
    crate::transaction(conn, |c| {
        if allowed(c)?.contains(&domain) {
            return Ok(false);
        }
        if allowed(c)?.len() as i64 >= MAX_BLOCKS {
            return Err(crate::StorageError::Conflict(format!("at most {MAX_BLOCKS} allowed domains")));
        }
        diesel::insert_into(instance_allowed_domains::table)
            .values((
                instance_allowed_domains::domain.eq(&domain),
                instance_allowed_domains::created_at.eq(now()),
            ))
            .execute(c)?;
        Ok(true)
    })
}

/// Takes `domain` off the allowlist; false when it was not on it.
pub fn disallow(conn: &mut DbConnection, domain: &str) -> StorageResult<bool> {
    let n =
        diesel::delete(instance_allowed_domains::table.find(domain.trim().to_lowercase())).execute(conn)?;
    Ok(n > 0)
}

/// The allowed domains, by name.
pub fn allowed(conn: &mut DbConnection) -> StorageResult<Vec<String>> {
    Ok(instance_allowed_domains::table
        .order(instance_allowed_domains::domain.asc())
        .select(instance_allowed_domains::domain)
        .load(conn)?)
}

/// A condition on `statuses` (SQL, both backends): its author is not an account an admin
/// limited. Public (local ones too) and hashtag timelines carry it.
pub const NOT_LIMITED: &str =
    "NOT EXISTS (SELECT 1 FROM actors la WHERE la.id = statuses.actor_id AND la.limited = TRUE)";

/// A condition on `statuses` (SQL, both backends): its author is not on a silenced or
/// suspended domain or one of its subdomains. Public (but local) and hashtag timelines carry
/// it. Block
/// domains hold only letters, digits, `-`, `.` and `:` (checked where they are set), so they
/// are no `LIKE` pattern.
pub const NOT_ON_HIDDEN_DOMAIN: &str = "NOT EXISTS (SELECT 1 FROM actors ha \
     JOIN instance_domain_blocks hb ON hb.severity <> 'noop' \
       AND (ha.domain = hb.domain OR ha.domain LIKE '%.' || hb.domain \
            OR ha.domain LIKE hb.domain || ':%' OR ha.domain LIKE '%.' || hb.domain || ':%') \
     WHERE ha.id = statuses.actor_id)";

/// True when `status` stays out of public and hashtag timelines and streams: its author is
/// limited, or on a silenced or suspended domain (the SQL of [`NOT_LIMITED`] and
/// [`NOT_ON_HIDDEN_DOMAIN`], for one status).
pub fn kept_from_public(conn: &mut DbConnection, status: &crate::statuses::Status) -> StorageResult<bool> {
    let author = crate::actors::get(conn, status.actor_id)?;
    if author.limited {
        return Ok(true);
    }
    match author.domain.as_deref() {
        Some(host) => {
            Ok(covering(conn, host)?.is_some_and(|b| b.severity().is_ok_and(|s| s != BlockSeverity::Noop)))
        }
        None => Ok(false),
    }
}

/// Domains whose posts stay out of public timelines (silenced or suspended).
pub fn hidden_from_public(conn: &mut DbConnection) -> StorageResult<Vec<String>> {
    Ok(instance_domain_blocks::table
        .filter(instance_domain_blocks::severity.ne(BlockSeverity::Noop.as_str()))
        .select(instance_domain_blocks::domain)
        .load(conn)?)
}

/// Ids of cached actors on `domain` or its subdomains.
fn actors_of(conn: &mut DbConnection, domain: &str) -> StorageResult<Vec<i64>> {
    let domain = domain.trim().to_lowercase();
    Ok(actors::table
        .filter(
            actors::domain
                .eq(&domain)
                .or(actors::domain.like(format!("%.{domain}")))
                .or(actors::domain.like(format!("{domain}:%")))
                .or(actors::domain.like(format!("%.{domain}:%"))),
        )
        .select(actors::id)
        .load(conn)?)
}

/// Purges what we hold of a suspended domain: its accounts' posts are deleted, every follow
/// between them and us ends. The accounts themselves stay as rows (marked deleted), so a
/// post's history keeps its author. Returns (accounts, posts) purged.
pub fn purge(conn: &mut DbConnection, domain: &str) -> StorageResult<(usize, usize)> {
    crate::transaction(conn, |c| {
        let ids = actors_of(c, domain)?;
        let at = now();
        let mut posts = 0;
        for chunk in ids.chunks(500) {
            posts += diesel::update(
                statuses::table
                    .filter(statuses::actor_id.eq_any(chunk))
                    .filter(statuses::deleted_at.is_null()),
            )
            .set(statuses::deleted_at.eq(Some(at)))
            .execute(c)?;
            crate::wakeups::mark(crate::wakeups::Change::Streams);
            diesel::delete(
                follows::table
                    .filter(follows::follower_id.eq_any(chunk).or(follows::target_id.eq_any(chunk))),
            )
            .execute(c)?;
            diesel::update(
                actors::table.filter(actors::id.eq_any(chunk)).filter(actors::deleted_at.is_null()),
            )
            .set(actors::deleted_at.eq(Some(at)))
            .execute(c)?;
        }
        Ok((ids.len(), posts))
    })
}

/// An entry of the admin audit log.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = admin_log)]
pub struct AdminLogEntry {
    /// Time-ordered id.
    pub id: i64,
    /// The admin's actor (gone when their account was deleted).
    pub admin_id: Option<i64>,
    /// What was done (`block_domain`, `approve`, …).
    pub action: String,
    /// On what (a domain, `@user`).
    pub target: String,
    /// Details (severity, reason).
    pub detail: String,
    /// When.
    pub created_at: Timestamp,
}

/// Records an admin action.
pub fn log(
    conn: &mut DbConnection,
    admin_id: i64,
    action: &str,
    target: &str,
    detail: &str,
) -> StorageResult<()> {
    crate::atomic(conn, |conn| {
        let row = AdminLogEntry {
            id: Id::generate().0,
            admin_id: Some(admin_id),
            action: action.to_owned(),
            target: target.chars().take(500).collect(),
            detail: detail.chars().take(2000).collect(),
            created_at: now(),
        };
        diesel::insert_into(admin_log::table).values(&row).execute(conn)?;
        Ok(())
    })
}

/// The newest admin log entries.
pub fn log_entries(conn: &mut DbConnection, limit: i64) -> StorageResult<Vec<AdminLogEntry>> {
    Ok(admin_log::table
        .order(admin_log::id.desc())
        .limit(limit)
        .select(AdminLogEntry::as_select())
        .load(conn)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{each_backend, rows};

    #[test]
    fn a_block_covers_subdomains() {
        assert_eq!(
            candidates("a.Example.org:8080"),
            ["a.example.org:8080", "example.org", "org", "a.example.org"]
        );
    }

    #[tokio::test]
    async fn suspending_a_domain_purges_its_accounts_posts_and_follows() {
        each_backend(|db| async move {
            db.run(|c| {
                let ada = rows::local("ada");
                crate::actors::insert_local(c, &ada, "K")?;
                let spam = crate::actors::upsert_remote(c, &rows::remote("spam", "social.spam.example"))?;
                let ok = crate::actors::upsert_remote(c, &rows::remote("friend", "good.example"))?;
                crate::statuses::insert(c, &rows::status(&spam, "buy"))?;
                crate::statuses::insert(c, &rows::status(&ok, "hello"))?;
                let new = NewBlock {
                    domain: "Spam.example".into(),
                    severity: BlockSeverity::Suspend,
                    reject_media: true,
                    public_comment: "spam".into(),
                    private_comment: String::new(),
                };
                upsert(c, &new)?;
                assert!(is_suspended(c, "social.spam.example")?);
                // Names are looked up four at a time: a block found past the first four.
                assert!(is_suspended(c, "a.b.c.d.spam.example.")?);
                assert!(rejects_media(c, "a.b.c.d.e.f.g.spam.example:8443")?);
                assert!(!is_suspended(c, "good.example")?);
                // A name longer than DNS allows is no server: refused, and looked up in a
                // bounded number of queries whatever its length.
                let long = format!("{}spam.example", "a.".repeat(20_000));
                assert!(is_suspended(c, &long)? && rejects_media(c, &long)?);
                assert!(is_suspended(c, &format!("{}.good.example", "b".repeat(250)))?);
                assert!(candidates(&long).len() <= 128, "{}", candidates(&long).len());
                assert_eq!(purge(c, "spam.example")?, (1, 1));
                assert_eq!(hidden_from_public(c)?, ["spam.example"]);
                assert!(remove(c, "spam.example")? && !is_suspended(c, "social.spam.example")?);
                // Allowlist mode: only the allowed (and their subdomains) are exchanged with.
                let mut settings = crate::instance_settings::get(c)?;
                settings.allowlist = true;
                crate::instance_settings::save(c, &settings)?;
                assert!(allow(c, "good.example")? && !allow(c, "good.example")?);
                assert!(!is_suspended(c, "social.good.example")? && is_suspended(c, "other.example")?);
                assert!(!is_suspended(c, "a.b.c.d.e.good.example")?);
                assert!(disallow(c, "good.example")? && is_suspended(c, "good.example")?);
                log(c, ada.id, "block_domain", "spam.example", "suspend")?;
                assert_eq!(log_entries(c, 10)?.len(), 1);
                Ok(())
            })
            .await
            .unwrap();
        })
        .await;
    }
}
