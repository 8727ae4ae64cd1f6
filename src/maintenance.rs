//! Periodic housekeeping: forgets replay-guard ids old enough that their activities would be
//! refused by date anyway.

use std::time::Duration;

use guildhall_storage::{Db, now, received};
use tokio::sync::watch;

/// How long received activity ids are remembered.
const REPLAY_WINDOW: chrono::Duration = chrono::Duration::days(30);
/// How often housekeeping runs.
const PERIOD: Duration = Duration::from_secs(3600);

/// Runs until `stop` turns true.
pub async fn run(db: Db, mut stop: watch::Receiver<bool>) {
    loop {
        let cutoff = now() - REPLAY_WINDOW;
        match db.run(move |c| received::prune(c, cutoff)).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(pruned = n, "forgot old received activity ids"),
            Err(e) => tracing::warn!(error = %e, "housekeeping failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(PERIOD) => {}
            _ = stop.wait_for(|stopped| *stopped) => return,
        }
    }
}
