//! Periodic housekeeping: forgets replay-guard ids old enough that their activities would be
//! refused by date anyway, and removes media nobody needs any more (uploads never attached
//! within a day, media of deleted statuses).

use std::path::{Path, PathBuf};
use std::time::Duration;

use guildhall_storage::{Db, media, now, received};
use tokio::sync::watch;

/// How long an upload may wait to be attached to a status.
const UPLOAD_GRACE: chrono::Duration = chrono::Duration::days(1);
/// Media rows swept per round.
const SWEEP_BATCH: i64 = 500;

/// How long received activity ids are remembered.
const REPLAY_WINDOW: chrono::Duration = chrono::Duration::days(30);
/// How often housekeeping runs.
const PERIOD: Duration = Duration::from_secs(3600);

/// Runs until `stop` turns true.
pub async fn run(db: Db, media_dir: PathBuf, mut stop: watch::Receiver<bool>) {
    loop {
        let cutoff = now() - REPLAY_WINDOW;
        match db.run(move |c| received::prune(c, cutoff)).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(pruned = n, "forgot old received activity ids"),
            Err(e) => tracing::warn!(error = %e, "housekeeping failed"),
        }
        sweep_media(&db, &media_dir).await;
        match db.run(guildhall_storage::mail::purge_unconfirmed).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(purged = n, "forgot follows by mail never confirmed"),
            Err(e) => tracing::warn!(error = %e, "housekeeping failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(PERIOD) => {}
            _ = stop.wait_for(|stopped| *stopped) => return,
        }
    }
}

/// Deletes unneeded media rows, then their files.
async fn sweep_media(db: &Db, dir: &Path) {
    loop {
        let before = now() - UPLOAD_GRACE;
        let names = match db.run(move |c| media::sweep(c, before, SWEEP_BATCH)).await {
            Ok(names) => names,
            Err(e) => {
                tracing::warn!(error = %e, "media sweep failed");
                return;
            }
        };
        let done = names.len() < SWEEP_BATCH as usize;
        for name in &names {
            // Names we wrote are plain file names; anything else is left alone.
            let plain = !name.starts_with('.')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            if plain && let Err(e) = std::fs::remove_file(dir.join(name)) {
                tracing::warn!(file = %name, error = %e, "media file not removed");
            }
        }
        if !names.is_empty() {
            tracing::info!(files = names.len(), "removed media nobody needs");
        }
        if done {
            return;
        }
    }
}
