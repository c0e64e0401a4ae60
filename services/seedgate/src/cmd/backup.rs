//! `seedgate backup FILE` and `seedgate restore FILE`: the embedded store's backup story.
//!
//! SQLite: `backup` writes an online, consistent copy while the gateway runs
//! (`seedgate_store::backup`); `restore` puts one in place while the gateway is stopped, the
//! database it replaces moved aside, and notes the restore in the restored store's audit
//! trail. PostgreSQL: both print the `pg_dump` / `pg_restore` command to run.

use std::path::Path;
use std::time::Instant;

use seedgate_runtime::config::{Config, StoreKind};
use seedgate_runtime::store::AuditEntry;
use seedgate_store::backup::{self, BackupError, Contents};

use crate::failure::Failure;

fn failure(e: BackupError) -> Failure {
    match e {
        BackupError::Refused(m) => Failure::Config(m),
        BackupError::Failed(m) => Failure::Other(m),
    }
}

fn describe(c: &Contents) -> String {
    format!(
        "{:.1} MB: {} messages, {} sessions, {} contacts (migration {})",
        c.bytes as f64 / 1e6,
        c.messages,
        c.sessions,
        c.contacts,
        c.migration
    )
}

fn sealed_note(config: &Config) {
    if config.store.encryption_key_file.is_some() {
        eprintln!(
            "the store is sealed: keep the key (store.encryption_key_file) with the backup, apart from it; without the key its messages and contacts cannot be read"
        );
    }
}

pub async fn backup(config: &Config, file: &Path) -> Result<(), Failure> {
    if config.store.kind == StoreKind::Postgres {
        let (dump, _) = backup::postgres_commands(&config.store, file).map_err(failure)?;
        #[allow(clippy::print_stdout)] // the command is this command's output
        {
            println!("{dump}");
        }
        eprintln!("the store is PostgreSQL: run the command above (give the password in PGPASSWORD or ~/.pgpass); it is consistent while seedgate runs");
        sealed_note(config);
        return Ok(());
    }
    let started = Instant::now();
    let contents = backup::backup_sqlite(&config.store, file)
        .await
        .map_err(failure)?;
    eprintln!(
        "backup written to {} in {:.1} s, checked: {}",
        file.display(),
        started.elapsed().as_secs_f64(),
        describe(&contents)
    );
    eprintln!(
        "restore it with: seedgate restore {} (with seedgate stopped)",
        file.display()
    );
    sealed_note(config);
    Ok(())
}

pub async fn restore(config: &Config, file: &Path) -> Result<(), Failure> {
    if config.store.kind == StoreKind::Postgres {
        let (_, restore) = backup::postgres_commands(&config.store, file).map_err(failure)?;
        #[allow(clippy::print_stdout)] // the command is this command's output
        {
            println!("{restore}");
        }
        eprintln!("the store is PostgreSQL: stop seedgate, run the command above, start seedgate");
        return Ok(());
    }
    let (contents, aside) = backup::restore_sqlite(&config.store, file)
        .await
        .map_err(failure)?;
    let db = backup::sqlite_path(&config.store).map_err(failure)?;
    eprintln!(
        "restored {} to {}: {}",
        file.display(),
        db.display(),
        describe(&contents)
    );
    if let Some(aside) = &aside {
        eprintln!(
            "the database it replaced is kept at {} (delete it once the restore is checked)",
            aside.display()
        );
    }
    let store = crate::open::store(config)?;
    let detail = serde_json::json!({
        "file": file.display().to_string(),
        "replaced": aside.map(|a| a.display().to_string()),
        "messages": contents.messages,
    });
    let entry = AuditEntry::now(
        crate::cmd::token::actor(),
        "store.restore",
        db.display().to_string(),
        detail,
        "cli",
    );
    store
        .audit_append(&entry)
        .await
        .map_err(|e| Failure::Other(e.to_string()))?;
    Ok(())
}
