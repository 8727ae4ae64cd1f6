//! `guildhall migrate-to-postgres` and `guildhall migrate-to-sqlite`: moving an instance's
//! database between the backends ([`guildhall_storage::transfer`] does the copying). Nothing
//! printed holds a password: URLs are shown with it masked.

use std::path::{Path, PathBuf};

use guildhall_core::Config;
use guildhall_core::config::DatabaseUrl;
use guildhall_storage::transfer::{self, TableCount, TransferError};

use crate::cli::Failure;

/// Copies the configured SQLite database into the empty PostgreSQL database at `to`.
pub(crate) async fn to_postgres(config: &Config, to: &str) -> Result<(), Failure> {
    let target = match DatabaseUrl::parse(to) {
        Some(url) if url.is_postgres() => url,
        _ => {
            return Err(Failure {
                code: 2,
                // Not echoed: a libpq key=value string ("host=… password=…") is not a URL, and
                // redacting it as one would print its password.
                message: "--to must be a PostgreSQL URL such as postgres://USER:PASSWORD@HOST/DATABASE"
                    .into(),
            });
        }
    };
    let source = config.database_url.clone();
    let url = target.clone();
    let counts = run(move || transfer::sqlite_to_postgres(&source, &url)).await?;
    print_counts(&counts);
    println!("copied every table of {} into {target}", config.database_url);
    println!();
    println!("Now set in the configuration file (or as GUILDHALL_DATABASE_URL):");
    println!();
    println!("    database_url = \"{target}\"");
    println!();
    if target.to_string() != to {
        println!("with the real password in place of ***.");
    }
    println!(
        "Keep data_dir as it is: the media ({}) stay where they are. Then start the server. \
         The SQLite file is left untouched.",
        config.media_dir.display()
    );
    Ok(())
}

/// Copies the configured PostgreSQL database into a new SQLite file at `to`.
pub(crate) async fn to_sqlite(config: &Config, to: &Path) -> Result<(), Failure> {
    let path: PathBuf = std::path::absolute(to)
        .map_err(|e| Failure { code: 2, message: format!("cannot use the path {}: {e}", to.display()) })?;
    let source = config.database_url.clone();
    let file = path.clone();
    let counts = run(move || transfer::postgres_to_sqlite(&source, &file)).await?;
    let target = DatabaseUrl::Sqlite(path.clone());
    print_counts(&counts);
    println!("copied every table of {} into {}", config.database_url, path.display());
    println!();
    println!("Now set in the configuration file (or as GUILDHALL_DATABASE_URL):");
    println!();
    println!("    database_url = \"{target}\"");
    println!();
    println!(
        "(or remove database_url if the file is {}). Keep data_dir as it is, then start the \
         server. The PostgreSQL database is left untouched.",
        config.data_dir.join("guildhall.db").display()
    );
    Ok(())
}

/// Runs a copy off the async threads; its error becomes a failure with the right exit code.
async fn run<F>(copy: F) -> Result<Vec<TableCount>, Failure>
where
    F: FnOnce() -> Result<Vec<TableCount>, TransferError> + Send + 'static,
{
    let done =
        tokio::task::spawn_blocking(copy).await.map_err(|e| Failure { code: 1, message: e.to_string() })?;
    done.map_err(|e| Failure {
        code: if e.is_invalid_input() { 2 } else { 1 },
        message: match e {
            TransferError::Cleanup { .. } => e.to_string(),
            _ => format!("nothing was copied: {e}"),
        },
    })
}

/// One line per table: its name and its rows on both sides.
fn print_counts(counts: &[TableCount]) {
    let width = counts.iter().map(|c| c.table.len()).max().unwrap_or(5).max(5);
    println!("{:<width$}  {:>12}  {:>12}", "table", "source rows", "target rows");
    for c in counts {
        println!("{:<width$}  {:>12}  {:>12}", c.table, c.source_rows, c.target_rows);
    }
    let total: i64 = counts.iter().map(|c| c.target_rows).sum();
    println!("{} tables, {total} rows, the same on both sides", counts.len());
}
