//! Remote instances: what software they run and whether they answer.

use diesel::prelude::*;
use guildhall_core::Id;

use crate::schema::instances;
use crate::{DbConnection, StorageResult, Timestamp, now};

/// One remote instance, known by `host[:port]`.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = instances)]
pub struct Instance {
    /// Our id.
    pub id: i64,
    /// Lower-cased `host[:port]`.
    pub domain: String,
    /// NodeInfo `software.name` (`mastodon`, `lemmy`, …).
    pub software: Option<String>,
    /// NodeInfo `software.version`.
    pub software_version: Option<String>,
    /// When NodeInfo was last read.
    pub nodeinfo_fetched_at: Option<Timestamp>,
    /// Last successful delivery or fetch.
    pub last_success_at: Option<Timestamp>,
    /// Last failed delivery or fetch.
    pub last_failure_at: Option<Timestamp>,
    /// Failures since the last success.
    pub failure_count: i32,
    /// The circuit breaker is open until then: no deliveries are attempted.
    pub unreachable_until: Option<Timestamp>,
    /// Row creation.
    pub created_at: Timestamp,
    /// Last row change.
    pub updated_at: Timestamp,
}

/// The instance row for `domain`, created if new. Safe when two callers (or processes) meet
/// a new domain at once: the insert is ignored on conflict and both read the one row. Only a
/// new domain writes (in the writer's turn); a known one is a read.
pub fn get_or_create(conn: &mut DbConnection, domain: &str) -> StorageResult<Instance> {
    let domain = domain.to_lowercase();
    if let Some(found) = find(conn, &domain)? {
        return Ok(found);
    }
    let created = now();
    let row = Instance {
        id: Id::generate().0,
        domain,
        software: None,
        software_version: None,
        nodeinfo_fetched_at: None,
        last_success_at: None,
        last_failure_at: None,
        failure_count: 0,
        unreachable_until: None,
        created_at: created,
        updated_at: created,
    };
    crate::write(conn, |conn| {
        match conn {
            DbConnection::Pg(c) => {
                diesel::insert_into(instances::table).values(&row).on_conflict_do_nothing().execute(c)?
            }
            DbConnection::Sqlite(c) => {
                diesel::insert_into(instances::table).values(&row).on_conflict_do_nothing().execute(c)?
            }
        };
        Ok(())
    })?;
    find(conn, &row.domain)?.ok_or(crate::StorageError::NotFound)
}

/// The instance row for `domain`, if known.
pub fn find(conn: &mut DbConnection, domain: &str) -> StorageResult<Option<Instance>> {
    Ok(instances::table
        .filter(instances::domain.eq(domain.to_lowercase()))
        .select(Instance::as_select())
        .first(conn)
        .optional()?)
}

/// Records what software the instance runs (from NodeInfo).
pub fn set_software(
    conn: &mut DbConnection,
    id: i64,
    name: &str,
    version: Option<&str>,
) -> StorageResult<()> {
    crate::atomic(conn, |conn| {
        diesel::update(instances::table.find(id))
            .set((
                instances::software.eq(Some(name.to_lowercase())),
                instances::software_version.eq(version),
                instances::nodeinfo_fetched_at.eq(Some(now())),
                instances::updated_at.eq(now()),
            ))
            .execute(conn)?;
        Ok(())
    })
}

/// Records a success: clears the failure count and closes the circuit breaker.
pub fn record_success(conn: &mut DbConnection, id: i64) -> StorageResult<()> {
    crate::atomic(conn, |conn| {
        diesel::update(instances::table.find(id))
            .set((
                instances::last_success_at.eq(Some(now())),
                instances::failure_count.eq(0),
                instances::unreachable_until.eq(None::<Timestamp>),
                instances::updated_at.eq(now()),
            ))
            .execute(conn)?;
        Ok(())
    })
}

/// Records a failure; `unreachable_until` opens the circuit breaker until then. Returns the
/// failure count after this one.
pub fn record_failure(
    conn: &mut DbConnection,
    id: i64,
    unreachable_until: Option<Timestamp>,
) -> StorageResult<i32> {
    crate::transaction(conn, |conn| {
        diesel::update(instances::table.find(id))
            .set((
                instances::last_failure_at.eq(Some(now())),
                instances::failure_count.eq(instances::failure_count + 1),
                instances::unreachable_until.eq(unreachable_until),
                instances::updated_at.eq(now()),
            ))
            .execute(conn)?;
        Ok(instances::table.find(id).select(instances::failure_count).first(conn)?)
    })
}

/// Domains whose circuit breaker is open at `at`.
pub fn unreachable(conn: &mut DbConnection, at: Timestamp) -> StorageResult<Vec<String>> {
    Ok(instances::table.filter(instances::unreachable_until.gt(at)).select(instances::domain).load(conn)?)
}

/// Domains with failures since their last success (whose next success must be recorded).
pub fn failing(conn: &mut DbConnection) -> StorageResult<Vec<String>> {
    Ok(instances::table.filter(instances::failure_count.gt(0)).select(instances::domain).load(conn)?)
}

/// Domains of every known instance, sorted (for `/api/v1/instance/peers`).
pub fn domains(conn: &mut DbConnection) -> StorageResult<Vec<String>> {
    Ok(instances::table.select(instances::domain).order(instances::domain).load(conn)?)
}

/// Known instances for the admins' health page: failing ones first, then the most recently
/// heard from; at most `limit`.
pub fn health(conn: &mut DbConnection, limit: i64) -> StorageResult<Vec<Instance>> {
    Ok(instances::table
        .order((instances::failure_count.desc(), instances::last_success_at.desc(), instances::domain))
        .limit(limit)
        .select(Instance::as_select())
        .load(conn)?)
}

/// How many instances are known.
pub fn count(conn: &mut DbConnection) -> StorageResult<i64> {
    Ok(instances::table.count().get_result(conn)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::each_backend;

    #[tokio::test]
    async fn callers_meeting_a_new_domain_at_once_share_one_row() {
        each_backend(|db| async move {
            let calls: Vec<_> = (0..8)
                .map(|_| {
                    let db = db.clone();
                    tokio::spawn(async move { db.run(|c| get_or_create(c, "new.example")).await })
                })
                .collect();
            let mut ids = Vec::new();
            for call in calls {
                ids.push(call.await.unwrap().unwrap().id);
            }
            ids.dedup();
            assert_eq!(ids.len(), 1, "one row, whoever inserted it");
        })
        .await;
    }

    #[tokio::test]
    async fn instances_are_unique_by_domain_and_track_reachability() {
        each_backend(|db| async move {
            db.run(|c| {
                let a = get_or_create(c, "Museum.Example:8443")?;
                assert_eq!(get_or_create(c, "museum.example:8443")?.id, a.id);
                assert_eq!(a.domain, "museum.example:8443");
                set_software(c, a.id, "Mastodon", Some("4.3.1"))?;
                let until = now() + chrono::Duration::minutes(5);
                assert_eq!(record_failure(c, a.id, None)?, 1);
                assert_eq!(record_failure(c, a.id, Some(until))?, 2);
                assert_eq!(unreachable(c, now())?, vec!["museum.example:8443"]);
                assert_eq!(failing(c)?, vec!["museum.example:8443"]);
                assert!(unreachable(c, until + chrono::Duration::seconds(1))?.is_empty());
                let failing = find(c, "museum.example:8443")?.unwrap();
                assert_eq!(failing.software.as_deref(), Some("mastodon"));
                assert_eq!((failing.failure_count, failing.unreachable_until.is_some()), (2, true));
                record_success(c, a.id)?;
                let ok = find(c, "museum.example:8443")?.unwrap();
                assert_eq!((ok.failure_count, ok.unreachable_until), (0, None));
                get_or_create(c, "another.example")?;
                assert_eq!(domains(c)?, vec!["another.example", "museum.example:8443"]);
                Ok(())
            })
            .await
            .unwrap();
        })
        .await;
    }
}
