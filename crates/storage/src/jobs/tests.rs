use chrono::Duration;

use super::*;
use crate::testing::each_backend;

fn job(partition: Option<&str>, delay_secs: i64) -> NewJob {
    NewJob {
        queue: "deliver".into(),
        payload: "{}".into(),
        partition_key: partition.map(str::to_owned),
        run_at: now() + Duration::seconds(delay_secs),
        max_attempts: 2,
    }
}

fn lease() -> Timestamp {
    now() + Duration::seconds(60)
}

#[tokio::test]
async fn claims_due_jobs_once_until_the_lease_runs_out() {
    each_backend(|db| async move {
        db.run(|c| {
            let due = enqueue(c, job(Some("a.example"), -1))?;
            enqueue(c, job(Some("a.example"), 3600))?;
            let claimed = claim(c, "deliver", "w1", 10, now(), lease(), &[])?;
            assert_eq!(claimed.iter().map(|j| j.id).collect::<Vec<_>>(), vec![due]);
            assert_eq!((claimed[0].attempts, claimed[0].locked_by.as_deref()), (1, Some("w1")));
            assert!(
                claim(c, "deliver", "w2", 10, now(), lease(), &[])?.is_empty(),
                "leased jobs are not claimed twice"
            );
            assert!(claim(c, "other", "w2", 10, now(), lease(), &[])?.is_empty());
            assert!(!complete(c, due, "w2")?, "only the lease holder completes");
            assert!(complete(c, due, "w1")?);
            assert_eq!(pending_count(c, "deliver")?, 1);
            Ok(())
        })
        .await
        .unwrap();
    })
    .await;
}

#[tokio::test]
async fn an_expired_lease_is_claimed_again_after_a_crash() {
    each_backend(|db| async move {
        db.run(|c| {
            let id = enqueue(c, job(None, -1))?;
            let expired = now() - Duration::seconds(1);
            assert_eq!(claim(c, "deliver", "crashed", 10, now(), expired, &[])?.len(), 1);
            let again = claim(c, "deliver", "w2", 10, now(), lease(), &[])?;
            assert_eq!((again[0].id, again[0].attempts), (id, 2));
            assert!(claim(c, "deliver", "w3", 10, now(), lease(), &[])?.is_empty());
            let later = now() + Duration::seconds(120);
            let after_lease = claim(c, "deliver", "w3", 10, later, later + Duration::seconds(60), &[])?;
            assert_eq!((after_lease[0].id, after_lease[0].attempts), (id, 3), "as if the lease had run out");
            Ok(())
        })
        .await
        .unwrap();
    })
    .await;
}

#[tokio::test]
async fn retry_until_attempts_run_out_then_fail() {
    each_backend(|db| async move {
        db.run(|c| {
            let id = enqueue(c, job(None, -1))?;
            claim(c, "deliver", "w", 1, now(), lease(), &[])?;
            assert!(retry(c, id, "w", now() - Duration::seconds(1), "503 from a.example")?);
            let j = get(c, id)?;
            assert_eq!((j.locked_by, j.last_error.as_deref()), (None, Some("503 from a.example")));
            claim(c, "deliver", "w", 1, now(), lease(), &[])?;
            assert!(!retry(c, id, "w", now(), "timeout")?, "second attempt was the last");
            assert!(get(c, id)?.failed_at.is_some());
            assert!(claim(c, "deliver", "w", 1, now(), lease(), &[])?.is_empty(), "failed jobs never run");
            assert_eq!(pending_count(c, "deliver")?, 0);
            assert!(matches!(fail(c, 12345, "w", "x"), Err(StorageError::NotFound)));
            Ok(())
        })
        .await
        .unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_worker_whose_lease_passed_on_cannot_retry_or_fail_the_job() {
    each_backend(|db| async move {
        db.run(|c| {
            let id = enqueue(c, job(None, -1))?;
            let past = now() - Duration::seconds(1);
            // w1's lease has already run out when w2 claims the job.
            claim(c, "deliver", "w1", 1, now(), past, &[])?;
            assert_eq!(claim(c, "deliver", "w2", 1, now(), lease(), &[])?.len(), 1);
            assert!(matches!(retry(c, id, "w1", now(), "late timeout"), Err(StorageError::Conflict(_))));
            assert!(matches!(fail(c, id, "w1", "late 410"), Err(StorageError::Conflict(_))));
            let j = get(c, id)?;
            assert_eq!((j.locked_by.as_deref(), j.failed_at, j.last_error), (Some("w2"), None, None));
            // The holder still can (its claim was the job's last attempt: it fails).
            assert!(!retry(c, id, "w2", now(), "503")?);
            assert_eq!(get(c, id)?.last_error.as_deref(), Some("503"));
            Ok(())
        })
        .await
        .unwrap();
    })
    .await;
}

#[tokio::test]
async fn open_circuit_breakers_hold_back_their_partition_only() {
    each_backend(|db| async move {
        db.run(|c| {
            enqueue(c, job(Some("dead.example"), -2))?;
            let live = enqueue(c, job(Some("live.example"), -1))?;
            let unpartitioned = enqueue(c, job(None, -1))?;
            let skip = vec!["dead.example".to_string()];
            let claimed: Vec<i64> =
                claim(c, "deliver", "w", 10, now(), lease(), &skip)?.iter().map(|j| j.id).collect();
            assert_eq!(claimed, vec![live, unpartitioned]);
            Ok(())
        })
        .await
        .unwrap();
    })
    .await;
}

#[tokio::test]
async fn concurrent_claimers_never_share_a_job() {
    each_backend(|db| async move {
        let total = 60;
        db.run(move |c| {
            for _ in 0..total {
                enqueue(c, job(None, -1))?;
            }
            Ok(())
        })
        .await
        .unwrap();
        let claimers = (0..4).map(|w| {
            let db = db.clone();
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let worker = format!("w{w}");
                    let batch =
                        db.run(move |c| claim(c, "deliver", &worker, 5, now(), lease(), &[])).await.unwrap();
                    if batch.is_empty() {
                        return mine;
                    }
                    mine.extend(batch.into_iter().map(|j| j.id));
                }
            })
        });
        let mut all = Vec::new();
        for handle in claimers.collect::<Vec<_>>() {
            all.extend(handle.await.unwrap());
        }
        let claimed = all.len();
        all.sort();
        all.dedup();
        assert_eq!((claimed, all.len()), (total, total), "every job claimed exactly once");
    })
    .await;
}
