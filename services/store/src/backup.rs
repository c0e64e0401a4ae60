//! Backups of the embedded store (`seedgate backup FILE`, `seedgate restore FILE`).
//!
//! SQLite: a backup is `VACUUM INTO` on a connection of its own: one consistent snapshot of
//! every committed transaction, taken while the gateway runs and writes (it reads; writers
//! go on). The copy is checked (`integrity_check`) before it is reported. A restore checks the
//! file first (SQLite, intact, seedgate's, not migrated past this build) and changes nothing
//! if it is not; then the current database (with its `-wal` and `-shm`) is moved aside, not
//! deleted, and the copy put in its place by a rename. The gateway must be stopped for a
//! restore: every process serving a SQLite store holds a shared lock on `<db>.lock`
//! ([`hold`]), and a restore needs it exclusively.
//!
//! PostgreSQL has its own tools: [`postgres_commands`] says which to run.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use seedgate_runtime::config::{StoreConfig, StoreKind};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, Row};

use crate::sql::newest_sqlite_migration;

/// What a backup or restore could not do; nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The request itself is wrong (a target that exists, a file that is not a backup): exit 64.
    #[error("{0}")]
    Refused(String),
    /// The database or the disk failed: exit 1.
    #[error("{0}")]
    Failed(String),
}

fn failed(what: &str) -> impl Fn(sqlx::Error) -> BackupError + '_ {
    move |e| BackupError::Failed(format!("{what}: {e}"))
}

/// What a backup holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contents {
    pub bytes: u64,
    pub messages: i64,
    pub sessions: i64,
    pub contacts: i64,
    /// The newest migration applied.
    pub migration: i64,
}

/// The SQLite file `cfg.url` names.
pub fn sqlite_path(cfg: &StoreConfig) -> Result<PathBuf, BackupError> {
    let opts = SqliteConnectOptions::from_str(&cfg.url)
        .map_err(|e| BackupError::Refused(format!("bad store.url {}: {e}", cfg.url)))?;
    Ok(opts.get_filename().to_path_buf())
}

async fn connect(path: &Path, read_only: bool) -> Result<sqlx::SqliteConnection, BackupError> {
    SqliteConnectOptions::new()
        .filename(path)
        .read_only(read_only)
        .busy_timeout(Duration::from_secs(10))
        .connect()
        .await
        .map_err(|e| BackupError::Refused(format!("cannot open {} as SQLite: {e}", path.display())))
}

/// Checks a SQLite file is an intact seedgate store this build can run, and counts it.
pub async fn inspect(path: &Path) -> Result<Contents, BackupError> {
    let bytes = std::fs::metadata(path)
        .map_err(|e| BackupError::Refused(format!("cannot read {}: {e}", path.display())))?
        .len();
    let mut c = connect(path, true).await?;
    let check: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut c)
        .await
        .map_err(|e| BackupError::Refused(format!("{} is not a SQLite database: {e}", path.display())))?;
    if check != "ok" {
        return Err(BackupError::Refused(format!(
            "{} is damaged: {check}",
            path.display()
        )));
    }
    let migration: i64 =
        sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success")
            .fetch_one(&mut c)
            .await
            .map_err(|_| {
                BackupError::Refused(format!(
                    "{} is a SQLite database but not seedgate's",
                    path.display()
                ))
            })?;
    if migration > newest_sqlite_migration() {
        return Err(BackupError::Refused(format!(
            "{} was migrated by a newer seedgate (migration {migration}; this one knows up to {}): restore it with that version",
            path.display(),
            newest_sqlite_migration()
        )));
    }
    let row = sqlx::query(
        "SELECT (SELECT COUNT(*) FROM messages) AS m, (SELECT COUNT(*) FROM sessions) AS s,
                (SELECT COUNT(*) FROM contacts) AS c",
    )
    .fetch_one(&mut c)
    .await
    .map_err(|_| BackupError::Refused(format!("{} lacks seedgate's tables", path.display())))?;
    let _ = c.close().await;
    Ok(Contents {
        bytes,
        messages: row.get("m"),
        sessions: row.get("s"),
        contacts: row.get("c"),
        migration,
    })
}

/// Writes a consistent copy of the store to `dest` (which must not exist) while the gateway
/// runs, and checks it.
pub async fn backup_sqlite(cfg: &StoreConfig, dest: &Path) -> Result<Contents, BackupError> {
    let src = sqlite_path(cfg)?;
    if !src.exists() {
        return Err(BackupError::Refused(format!(
            "there is no store at {} (store.url = {}): is this the gateway's config?",
            src.display(),
            cfg.url
        )));
    }
    if dest.exists() {
        return Err(BackupError::Refused(format!(
            "{} exists; choose another name (a backup never overwrites a file)",
            dest.display()
        )));
    }
    let mut c = connect(&src, false).await?;
    let into = dest.to_string_lossy().replace('\'', "''");
    let done = sqlx::query(&format!("VACUUM INTO '{into}'"))
        .execute(&mut c)
        .await
        .map_err(failed("the copy failed"));
    let _ = c.close().await;
    if let Err(e) = done {
        let _ = std::fs::remove_file(dest);
        return Err(e);
    }
    sync(dest)?;
    inspect(dest)
        .await
        .map_err(|e| BackupError::Failed(format!("the copy at {} does not check out: {e}", dest.display())))
}

/// The lock file beside a SQLite store, opened (and made, with its folder, if missing).
fn lock_file(cfg: &StoreConfig) -> Result<(PathBuf, std::fs::File), BackupError> {
    let db = sqlite_path(cfg)?;
    if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| BackupError::Failed(format!("cannot create {}: {e}", dir.display())))?;
    }
    let path = with_suffix(&db, ".lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| BackupError::Failed(format!("cannot open {}: {e}", path.display())))?;
    Ok((path, file))
}

/// For a process serving `cfg`'s SQLite store: a shared lock on `<db>.lock`, held while the
/// returned file lives, so that no restore replaces the database under it (`None` for
/// PostgreSQL). Refused while a restore runs.
pub fn hold(cfg: &StoreConfig) -> Result<Option<std::fs::File>, BackupError> {
    if cfg.kind != StoreKind::Sqlite {
        return Ok(None);
    }
    let (path, file) = lock_file(cfg)?;
    match file.try_lock_shared() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Err(BackupError::Refused(format!(
            "a restore of this store is under way ({} is held): start seedgate when it is done",
            path.display()
        ))),
        Err(std::fs::TryLockError::Error(e)) => Err(BackupError::Failed(format!(
            "cannot lock {}: {e}",
            path.display()
        ))),
    }
}

/// Puts the backup `src` in place of the store (the gateway stopped); the database it
/// replaces is moved aside and its path returned.
pub async fn restore_sqlite(
    cfg: &StoreConfig,
    src: &Path,
) -> Result<(Contents, Option<PathBuf>), BackupError> {
    let contents = inspect(src).await?;
    let db = sqlite_path(cfg)?;
    let (lock, file) = lock_file(cfg)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            return Err(BackupError::Failed(format!(
                "seedgate is running on {} ({} is held): stop it first (a restore replaces the database under it), then run this again",
                db.display(),
                lock.display()
            )))
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(BackupError::Failed(format!("cannot lock {}: {e}", lock.display())))
        }
    }
    let incoming = with_suffix(&db, ".restoring");
    std::fs::copy(src, &incoming).map_err(|e| {
        BackupError::Failed(format!(
            "cannot copy {} to {}: {e}",
            src.display(),
            incoming.display()
        ))
    })?;
    sync(&incoming)?;
    let aside = if db.exists() {
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
        let aside = with_suffix(&db, &format!(".before-restore-{stamp}"));
        for ext in ["", "-wal", "-shm"] {
            let from = with_suffix(&db, ext);
            if from.exists() {
                std::fs::rename(&from, with_suffix(&aside, ext))
                    .map_err(|e| BackupError::Failed(format!("cannot move {} aside: {e}", from.display())))?;
            }
        }
        Some(aside)
    } else {
        None
    };
    std::fs::rename(&incoming, &db)
        .map_err(|e| BackupError::Failed(format!("cannot put the backup at {}: {e}", db.display())))?;
    if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty()) {
        sync(dir)?;
    }
    Ok((contents, aside))
}

fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Flushes a file (or a folder's entries) to the disk.
fn sync(p: &Path) -> Result<(), BackupError> {
    std::fs::File::open(p)
        .and_then(|f| f.sync_all())
        .map_err(|e| BackupError::Failed(format!("cannot flush {} to disk: {e}", p.display())))
}

/// The PostgreSQL commands for a backup to `file` and its restore, naming the server, user,
/// database and schema of `cfg.url` but not its password (give that in `PGPASSWORD` or
/// `~/.pgpass`).
pub fn postgres_commands(cfg: &StoreConfig, file: &Path) -> Result<(String, String), BackupError> {
    debug_assert_eq!(cfg.kind, StoreKind::Postgres);
    let o = sqlx::postgres::PgConnectOptions::from_str(&cfg.url)
        .map_err(|e| BackupError::Refused(format!("bad store.url: {e}")))?;
    let mut to = format!(
        "--host='{}' --port={} --username='{}'",
        o.get_host(),
        o.get_port(),
        o.get_username()
    );
    if let Some(s) = &cfg.schema {
        to.push_str(&format!(" --schema='{s}'"));
    }
    let db = o.get_database().unwrap_or(o.get_username());
    let file = file.display();
    Ok((
        format!("pg_dump --format=custom {to} --file='{file}' '{db}'"),
        format!("pg_restore --clean --if-exists --no-owner {to} --dbname='{db}' '{file}'"),
    ))
}

/// The database server's clock, for `seedgate doctor` (the time `now()` answers); `None` for
/// SQLite, whose clock is this host's.
pub async fn database_time(cfg: &StoreConfig) -> Result<Option<chrono::DateTime<chrono::Utc>>, BackupError> {
    if cfg.kind != StoreKind::Postgres {
        return Ok(None);
    }
    let opts = sqlx::postgres::PgConnectOptions::from_str(&cfg.url)
        .map_err(|e| BackupError::Refused(format!("bad store.url: {e}")))?;
    let mut c = tokio::time::timeout(Duration::from_secs(5), opts.connect())
        .await
        .map_err(|_| BackupError::Failed("PostgreSQL did not answer within 5 s".into()))?
        .map_err(failed("cannot reach PostgreSQL"))?;
    let now: chrono::DateTime<chrono::Utc> = sqlx::query_scalar("SELECT now()")
        .fetch_one(&mut c)
        .await
        .map_err(failed("cannot read PostgreSQL's clock"))?;
    let _ = c.close().await;
    Ok(Some(now))
}
