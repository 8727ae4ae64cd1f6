//! SQLite's one writer, queued inside the process.
//!
//! SQLite lets one connection write at a time. A second writer that finds the lock taken
//! waits in SQLite's busy handler, which sleeps 1, 2, 5, 10… ms between tries: under load the
//! writers sleep while the lock is free again, and the machine idles (a third of it in the
//! ingest benchmark). Writers of one process therefore queue on a mutex of their pool before
//! they take SQLite's lock, and are woken the moment the previous one commits. The busy
//! handler stays for writers of other processes (`guildhall mail receive`, admin commands).
//!
//! Every write a server makes must therefore take the turn: in [`crate::transaction`], or in
//! [`crate::write`] for statements that commit on their own. A write that skips it still
//! works, but under load it waits in the busy handler while queued writers pass the lock
//! among themselves, and can fail with "database is locked".

use std::cell::{Cell, RefCell};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use crate::{StorageError, StorageResult};

/// How long a writer waits for its turn: SQLite's own busy timeout, so a stuck writer fails
/// the others as it did before the queue.
const TURN_TIMEOUT: Duration = Duration::from_millis(crate::connection::SQLITE_BUSY_TIMEOUT_MS as u64);

/// The queue of one SQLite pool's writers.
#[derive(Debug)]
pub(crate) struct WriterQueue {
    turn: parking_lot::Mutex<()>,
    timeout: Duration,
    /// Writers waiting for the turn now.
    pub(crate) waiting: AtomicU64,
    /// Writers that found the turn taken and waited.
    pub(crate) waited: AtomicU64,
    /// Their total wait, in microseconds.
    pub(crate) wait_micros: AtomicU64,
}

impl Default for WriterQueue {
    fn default() -> Self {
        WriterQueue::with_timeout(TURN_TIMEOUT)
    }
}

impl WriterQueue {
    pub(crate) fn with_timeout(timeout: Duration) -> Self {
        WriterQueue {
            turn: Default::default(),
            timeout,
            waiting: AtomicU64::new(0),
            waited: AtomicU64::new(0),
            wait_micros: AtomicU64::new(0),
        }
    }

    /// Waits for the turn, counting the wait when there was one.
    fn take_turn(&self) -> StorageResult<parking_lot::MutexGuard<'_, ()>> {
        if let Some(turn) = self.turn.try_lock() {
            return Ok(turn);
        }
        let asked = Instant::now();
        self.waiting.fetch_add(1, Relaxed);
        let turn = self.turn.try_lock_for(self.timeout);
        self.waiting.fetch_sub(1, Relaxed);
        self.waited.fetch_add(1, Relaxed);
        let micros = u64::try_from(asked.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.wait_micros.fetch_add(micros, Relaxed);
        turn.ok_or_else(|| {
            StorageError::Pool(format!("waited {} ms for the database's writer", self.timeout.as_millis()))
        })
    }
}

thread_local! {
    /// The queue of the pool whose call runs on this thread (none outside [`crate::Db::run`]
    /// and on PostgreSQL).
    static CURRENT: RefCell<Option<Arc<WriterQueue>>> = const { RefCell::new(None) };
    /// Whether this thread holds its queue's turn (a write inside a write runs at once).
    static HELD: Cell<bool> = const { Cell::new(false) };
}

/// Makes `queue` the current thread's queue until the returned guard is dropped.
#[must_use = "the queue applies only while the guard lives"]
pub(crate) fn enter(queue: Option<Arc<WriterQueue>>) -> Entered {
    let previous = CURRENT.with(|current| current.replace(queue));
    Entered { previous }
}

/// Puts back the thread's previous queue when the database call ends, panicking or not:
/// blocking threads are reused by other pools.
pub(crate) struct Entered {
    previous: Option<Arc<WriterQueue>>,
}

impl Drop for Entered {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CURRENT.with(|current| *current.borrow_mut() = previous);
    }
}

/// Runs `f` in the current thread's writer turn: at once when the thread has no queue or
/// already holds the turn.
pub(crate) fn in_turn<T>(f: impl FnOnce() -> StorageResult<T>) -> StorageResult<T> {
    if HELD.get() {
        return f();
    }
    let Some(queue) = CURRENT.with(|current| current.borrow().clone()) else { return f() };
    let _turn = queue.take_turn()?;
    HELD.set(true);
    let _release = Held;
    f()
}

/// Clears [`HELD`] as the turn ends, panicking or not.
struct Held;

impl Drop for Held {
    fn drop(&mut self) {
        HELD.set(false);
    }
}

#[cfg(test)]
mod tests;
