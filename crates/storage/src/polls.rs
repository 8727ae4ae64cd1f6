//! Polls: a status's options, its votes and its end.
//!
//! A local poll's counts are ours: every vote (a local user's, or a remote `Create{Note}` that
//! names an option) is a row here and the counts follow from them. A remote poll's counts are
//! its origin's word, refreshed from each `Update{Question}`; our own users' votes on it are
//! rows here too, so we know what each of them chose.

use diesel::prelude::*;

use crate::schema::{poll_options, poll_votes, polls};
use crate::{DbConnection, StorageError, StorageResult, Timestamp, now};

/// Most options a poll may have.
pub const MAX_OPTIONS: usize = 4;
/// Longest option title, in characters.
pub const MAX_OPTION_CHARS: usize = 50;
/// Shortest and longest time a poll may run, in seconds (as Mastodon).
pub const EXPIRY_RANGE: std::ops::RangeInclusive<i64> = 300..=2_629_746;
/// Most options of a remote poll we keep (a stranger's poll must not make us allocate much).
pub const MAX_REMOTE_OPTIONS: usize = 20;

/// The job queue that closes polls at their end.
pub const CLOSE_QUEUE: &str = "close_poll";

/// Queues the closing of the poll of `status_id` at `at` (in the transaction that made it).
pub fn schedule_close(conn: &mut DbConnection, status_id: i64, at: Timestamp) -> StorageResult<()> {
    crate::jobs::enqueue(
        conn,
        crate::jobs::NewJob {
            queue: CLOSE_QUEUE.into(),
            // The end it was queued for: a poll edited to end at another time gets a new job,
            // and this one then finds the poll's end moved and does nothing.
            payload: serde_json::json!({ "status_id": status_id, "expires_at_micros": at.and_utc().timestamp_micros() })
                .to_string(),
            partition_key: None,
            run_at: at,
            max_attempts: 20,
        },
    )?;
    Ok(())
}

/// A poll's row.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = polls)]
pub struct PollRow {
    /// The status the poll is part of.
    pub status_id: i64,
    /// Several choices allowed (`anyOf`) or one (`oneOf`).
    pub multiple: bool,
    /// How many accounts voted.
    pub voters_count: i64,
    /// When it ends.
    pub expires_at: Option<Timestamp>,
    /// When it was closed (by its end, or its origin said so).
    pub closed_at: Option<Timestamp>,
    /// When our users were told of its end.
    pub notified_at: Option<Timestamp>,
    /// Row creation.
    pub created_at: Timestamp,
    /// Last change of counts.
    pub updated_at: Timestamp,
}

/// An option with its count.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = poll_options)]
pub struct PollOption {
    /// The poll's status.
    pub status_id: i64,
    /// 0-based position.
    pub position: i32,
    /// The option's text (plain).
    pub title: String,
    /// Votes for it.
    pub votes_count: i64,
}

/// A poll with its options in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Poll {
    /// The poll itself.
    pub row: PollRow,
    /// Its options.
    pub options: Vec<PollOption>,
}

impl Poll {
    /// Whether it has ended by `at`.
    pub fn expired_at(&self, at: Timestamp) -> bool {
        self.row.closed_at.is_some() || self.row.expires_at.is_some_and(|end| end <= at)
    }

    /// Total votes over every option.
    pub fn votes_count(&self) -> i64 {
        self.options.iter().map(|o| o.votes_count).sum()
    }
}

/// A poll to create or refresh.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPoll {
    /// Option titles, in order.
    pub options: Vec<String>,
    /// Several choices allowed.
    pub multiple: bool,
    /// When it ends.
    pub expires_at: Option<Timestamp>,
    /// Remote polls: counts per option and voters, as the origin says; local: `None`.
    pub counts: Option<(Vec<i64>, i64)>,
    /// Remote polls: the origin says it is closed (at this time).
    pub closed_at: Option<Timestamp>,
}

/// Creates the poll of `status_id`; returns whether it is new. An existing poll keeps its
/// options (votes name them by position) unless their titles changed, and takes new counts.
pub fn upsert(conn: &mut DbConnection, status_id: i64, new: &NewPoll) -> StorageResult<bool> {
    let existing = find(conn, status_id)?;
    let stamp = now();
    let (counts, voters) = new.counts.clone().unwrap_or_else(|| (vec![0; new.options.len()], 0));
    // Votes name options by position: other options (or a switch between one and several
    // choices) start the poll afresh.
    let titles_changed = existing.as_ref().is_some_and(|p| {
        p.options.iter().map(|o| &o.title).ne(new.options.iter()) || p.row.multiple != new.multiple
    });
    if existing.is_none() || titles_changed {
        diesel::delete(poll_votes::table.filter(poll_votes::status_id.eq(status_id))).execute(conn)?;
        diesel::delete(poll_options::table.filter(poll_options::status_id.eq(status_id))).execute(conn)?;
        diesel::delete(polls::table.find(status_id)).execute(conn)?;
        let row = PollRow {
            status_id,
            multiple: new.multiple,
            voters_count: voters,
            expires_at: new.expires_at,
            closed_at: new.closed_at,
            notified_at: None,
            created_at: stamp,
            updated_at: stamp,
        };
        diesel::insert_into(polls::table).values(&row).execute(conn)?;
        let options: Vec<PollOption> = new
            .options
            .iter()
            .enumerate()
            .map(|(i, title)| PollOption {
                status_id,
                position: i32::try_from(i).unwrap_or(i32::MAX),
                title: title.clone(),
                votes_count: counts.get(i).copied().unwrap_or(0),
            })
            .collect();
        for option in &options {
            diesel::insert_into(poll_options::table).values(option).execute(conn)?;
        }
        return Ok(existing.is_none());
    }
    if new.counts.is_some() {
        for (i, count) in counts.iter().enumerate() {
            let position = i32::try_from(i).unwrap_or(i32::MAX);
            diesel::update(poll_options::table.find((status_id, position)))
                .set(poll_options::votes_count.eq(count))
                .execute(conn)?;
        }
        diesel::update(polls::table.find(status_id)).set(polls::voters_count.eq(voters)).execute(conn)?;
    }
    diesel::update(polls::table.find(status_id))
        .set((
            polls::expires_at.eq(new.expires_at),
            polls::closed_at.eq(new.closed_at),
            polls::updated_at.eq(stamp),
        ))
        .execute(conn)?;
    Ok(false)
}

/// The poll of `status_id`, if it has one.
pub fn find(conn: &mut DbConnection, status_id: i64) -> StorageResult<Option<Poll>> {
    let Some(row) = polls::table.find(status_id).select(PollRow::as_select()).first(conn).optional()? else {
        return Ok(None);
    };
    let options = poll_options::table
        .filter(poll_options::status_id.eq(status_id))
        .order(poll_options::position)
        .select(PollOption::as_select())
        .load(conn)?;
    Ok(Some(Poll { row, options }))
}

/// The positions `actor_id` chose in the poll of `status_id`, in order.
pub fn own_votes(conn: &mut DbConnection, status_id: i64, actor_id: i64) -> StorageResult<Vec<i32>> {
    Ok(poll_votes::table
        .filter(poll_votes::status_id.eq(status_id))
        .filter(poll_votes::actor_id.eq(actor_id))
        .order(poll_votes::choice)
        .select(poll_votes::choice)
        .load(conn)?)
}

/// Why a vote was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VoteRefused {
    /// The poll has ended.
    Expired,
    /// This account has voted already.
    AlreadyVoted,
    /// No option at that position.
    NoSuchOption(i32),
    /// Several choices in a single-choice poll, or none.
    WrongNumberOfChoices,
}

impl std::fmt::Display for VoteRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VoteRefused::Expired => f.write_str("Validation failed: The poll has already ended"),
            VoteRefused::AlreadyVoted => {
                f.write_str("Validation failed: You have already voted on this poll")
            }
            VoteRefused::NoSuchOption(i) => write!(f, "Validation failed: choices: there is no option {i}"),
            VoteRefused::WrongNumberOfChoices => {
                f.write_str("Validation failed: choices: choose one option (or several where allowed)")
            }
        }
    }
}

/// Checks and records `actor_id`'s choices (each with the id of the vote's activity, for
/// remote voters and for our votes on remote polls). A local poll's counts follow at once; a
/// remote poll's counts are raised too, until its origin sends the true ones.
pub fn vote(
    conn: &mut DbConnection,
    status_id: i64,
    actor_id: i64,
    choices: &[(i32, Option<String>)],
) -> StorageResult<Result<Poll, VoteRefused>> {
    crate::transaction(conn, |conn| {
        // Writing the poll's row first takes its lock (PostgreSQL) or the write lock (SQLite):
        // two votes by one account cannot both read "not voted yet".
        let touched =
            diesel::update(polls::table.find(status_id)).set(polls::updated_at.eq(now())).execute(conn)?;
        if touched == 0 {
            return Err(StorageError::NotFound);
        }
        let poll = find(conn, status_id)?.ok_or(StorageError::NotFound)?;
        if poll.expired_at(now()) {
            return Ok(Err(VoteRefused::Expired));
        }
        let earlier = own_votes(conn, status_id, actor_id)?;
        // Mastodon sends one activity per choice of a multiple-choice vote: later ones add to
        // the first, but a single-choice poll takes one vote per account.
        if !earlier.is_empty() && !poll.row.multiple {
            return Ok(Err(VoteRefused::AlreadyVoted));
        }
        if choices.is_empty() || (!poll.row.multiple && choices.len() > 1) {
            return Ok(Err(VoteRefused::WrongNumberOfChoices));
        }
        if let Some((bad, _)) =
            choices.iter().find(|(c, _)| usize::try_from(*c).map_or(true, |c| c >= poll.options.len()))
        {
            return Ok(Err(VoteRefused::NoSuchOption(*bad)));
        }
        let mut added = 0;
        for (choice, ap_id) in choices {
            if earlier.contains(choice) {
                continue;
            }
            let row = (
                poll_votes::status_id.eq(status_id),
                poll_votes::actor_id.eq(actor_id),
                poll_votes::choice.eq(choice),
                poll_votes::ap_id.eq(ap_id),
                poll_votes::created_at.eq(now()),
            );
            diesel::insert_into(poll_votes::table).values(row).execute(conn)?;
            diesel::update(poll_options::table.find((status_id, choice)))
                .set(poll_options::votes_count.eq(poll_options::votes_count + 1))
                .execute(conn)?;
            added += 1;
        }
        if added > 0 && earlier.is_empty() {
            diesel::update(polls::table.find(status_id))
                .set((polls::voters_count.eq(polls::voters_count + 1), polls::updated_at.eq(now())))
                .execute(conn)?;
        }
        Ok(Ok(find(conn, status_id)?.ok_or(StorageError::NotFound)?))
    })
}

/// Closes a poll (its end came); returns false when it was closed already.
pub fn close(conn: &mut DbConnection, status_id: i64) -> StorageResult<bool> {
    let changed = diesel::update(polls::table.find(status_id).filter(polls::closed_at.is_null()))
        .set((polls::closed_at.eq(Some(now())), polls::updated_at.eq(now())))
        .execute(conn)?;
    Ok(changed > 0)
}

/// Records that our users were told of the poll's end; false when they were already.
pub fn mark_notified(conn: &mut DbConnection, status_id: i64) -> StorageResult<bool> {
    let changed = diesel::update(polls::table.find(status_id).filter(polls::notified_at.is_null()))
        .set(polls::notified_at.eq(Some(now())))
        .execute(conn)?;
    Ok(changed > 0)
}

/// The job queue that sends a poll's new counts (a burst of votes sends them once).
pub const COUNTS_QUEUE: &str = "poll_counts";
/// How long new counts wait for more votes before they go out.
pub const COUNTS_DELAY: chrono::Duration = chrono::Duration::seconds(30);

/// Queues the sending of the counts of poll `status_id`, unless a send is queued already.
pub fn queue_counts(conn: &mut DbConnection, status_id: i64) -> StorageResult<()> {
    use crate::schema::jobs;
    let payload = serde_json::json!({ "status_id": status_id }).to_string();
    let waiting = diesel::select(diesel::dsl::exists(
        jobs::table
            .filter(jobs::queue.eq(COUNTS_QUEUE))
            .filter(jobs::payload.eq(&payload))
            .filter(jobs::locked_by.is_null())
            .filter(jobs::failed_at.is_null()),
    ))
    .get_result::<bool>(conn)?;
    if !waiting {
        crate::jobs::enqueue(
            conn,
            crate::jobs::NewJob {
                queue: COUNTS_QUEUE.into(),
                payload,
                partition_key: None,
                run_at: now() + COUNTS_DELAY,
                max_attempts: 10,
            },
        )?;
    }
    Ok(())
}

/// Removes the poll of `status_id` (an edit without one).
pub fn remove(conn: &mut DbConnection, status_id: i64) -> StorageResult<()> {
    diesel::delete(poll_votes::table.filter(poll_votes::status_id.eq(status_id))).execute(conn)?;
    diesel::delete(poll_options::table.filter(poll_options::status_id.eq(status_id))).execute(conn)?;
    diesel::delete(polls::table.find(status_id)).execute(conn)?;
    Ok(())
}

/// Our own users who voted in the poll of `status_id` (the ones to tell of its end).
pub fn local_voters(conn: &mut DbConnection, status_id: i64) -> StorageResult<Vec<i64>> {
    use crate::schema::actors;
    let local = actors::table.filter(actors::domain.is_null()).select(actors::id);
    Ok(poll_votes::table
        .filter(poll_votes::status_id.eq(status_id))
        .filter(poll_votes::actor_id.eq_any(local))
        .select(poll_votes::actor_id)
        .distinct()
        .load(conn)?)
}

/// The accounts that voted in the poll of `status_id`.
pub fn voters(conn: &mut DbConnection, status_id: i64) -> StorageResult<Vec<i64>> {
    Ok(poll_votes::table
        .filter(poll_votes::status_id.eq(status_id))
        .select(poll_votes::actor_id)
        .distinct()
        .load(conn)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{each_backend, rows};
    use crate::{actors, statuses};

    #[tokio::test]
    async fn votes_count_once_per_account_and_not_after_the_end() {
        each_backend(|db| async move {
            db.run(|c| {
                let ada = rows::local("ada");
                actors::insert_local(c, &ada, "K")?;
                let eve = actors::upsert_remote(c, &rows::remote("eve", "r.example"))?;
                let s = rows::status(&ada, "lunch?");
                statuses::insert(c, &s)?;
                let new = NewPoll {
                    options: vec!["soup".into(), "salad".into()],
                    multiple: false,
                    expires_at: Some(now() + chrono::Duration::hours(1)),
                    counts: None,
                    closed_at: None,
                };
                assert!(upsert(c, s.id, &new)?);
                let poll = vote(c, s.id, eve.id, &[(1, Some("https://r.example/v/1".into()))])?.unwrap();
                assert_eq!(poll.options.iter().map(|o| o.votes_count).collect::<Vec<_>>(), vec![0, 1]);
                assert_eq!(poll.row.voters_count, 1);
                assert_eq!(vote(c, s.id, eve.id, &[(0, None)])?, Err(VoteRefused::AlreadyVoted));
                assert_eq!(
                    vote(c, s.id, ada.id, &[(0, None), (1, None)])?,
                    Err(VoteRefused::WrongNumberOfChoices)
                );
                assert_eq!(vote(c, s.id, ada.id, &[(7, None)])?, Err(VoteRefused::NoSuchOption(7)));
                assert_eq!(own_votes(c, s.id, eve.id)?, vec![1]);
                // Refreshing with the same titles keeps the votes.
                assert!(!upsert(c, s.id, &new)?);
                assert_eq!(voters(c, s.id)?, vec![eve.id]);
                assert!(close(c, s.id)?);
                assert!(!close(c, s.id)?);
                assert_eq!(vote(c, s.id, ada.id, &[(0, None)])?, Err(VoteRefused::Expired));
                Ok(())
            })
            .await
            .unwrap();
        })
        .await;
    }
}
