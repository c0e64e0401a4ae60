//! Connecting to either database, migrating it on first use, and carrying out [`Query`]s on
//! the pool or in a transaction.

use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use seedgate_runtime::config::{StoreConfig, StoreKind};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, Postgres};
use sqlx::sqlite::{
    Sqlite, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use tokio::sync::OnceCell;

use super::{Dialect, Query, Row};
use crate::{classify, unavailable, StoreError};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The newest SQLite migration this build knows (a database migrated past it is a newer
/// build's).
pub(crate) fn newest_sqlite_migration() -> i64 {
    SQLITE_MIGRATIONS.iter().map(|m| m.version).max().unwrap_or(0)
}

#[derive(Debug, Clone)]
enum Pool {
    Sqlite(SqlitePools),
    Postgres(PgPool),
}

/// SQLite's connections: readers, and the one writer's own. SQLite writes one transaction at
/// a time, and with one pool for both, a writer holding the turn waited for a connection
/// behind a crowd of reads (every submit's `carrier_sent`, every receipt's lookup).
#[derive(Debug, Clone)]
struct SqlitePools {
    read: SqlitePool,
    write: SqlitePool,
}

impl SqlitePools {
    fn new(opts: &SqliteConnectOptions) -> Self {
        Self {
            read: sqlite_pool(opts.clone(), 4),
            write: sqlite_pool(opts.clone(), 1),
        }
    }
}

/// A database: a pool that connects on first use and migrates once.
#[derive(Debug)]
pub(crate) struct Db {
    pool: std::sync::RwLock<Pool>,
    /// SQLite: how to open connections again, and whether to (see [`Db::pool`]).
    sqlite: Option<SqliteConnectOptions>,
    recycle: Arc<AtomicBool>,
    /// SQLite has one writer at a time: writers of this process queue here, in order, rather
    /// than in SQLite's busy handler, which sleeps (up to 100 ms a try) while another holds the
    /// lock — under concurrent group commits that sleeping, not the disk, set the pace.
    write: Arc<tokio::sync::Mutex<()>>,
    /// PostgreSQL only: created if missing, and the connections' `search_path`.
    schema: Option<String>,
    migrated: OnceCell<()>,
}

/// A transaction on either database; dropped without [`Tx::commit`], it rolls back.
#[derive(Debug)]
pub(crate) enum Tx {
    Sqlite(SqliteTx),
    Postgres(sqlx::Transaction<'static, Postgres>),
}

/// A SQLite transaction on a connection of its own (`BEGIN IMMEDIATE` … `COMMIT`, not sqlx's
/// nesting). One that does not commit (an error, a `COMMIT` the disk refused) closes its
/// connection instead of giving it back: after `SQLITE_FULL` SQLite may already have rolled
/// the transaction back (then sqlx's `ROLLBACK` fails and it believes the connection is still
/// in one), and the next transaction on that connection would "commit" a savepoint that is
/// rolled back later. An acknowledged message was lost that way (faults F13).
#[derive(Debug)]
pub(crate) struct SqliteTx {
    conn: sqlx::pool::PoolConnection<Sqlite>,
    recycle: Arc<AtomicBool>,
    committed: bool,
    _turn: tokio::sync::OwnedMutexGuard<()>,
}

impl Drop for SqliteTx {
    fn drop(&mut self) {
        if !self.committed {
            self.conn.close_on_drop();
        }
    }
}

fn sqlite_pool(opts: SqliteConnectOptions, connections: u32) -> SqlitePool {
    SqlitePoolOptions::new()
        .max_connections(connections)
        // A file in this process, not a server that can go away: no ping before each use.
        // (The ping was a round trip to the connection's thread on every query and
        // transaction, ~9% of the CPU of an API send in a profile.)
        .test_before_acquire(false)
        .acquire_timeout(Duration::from_secs(5))
        .connect_lazy_with(opts)
}

/// Classifies `e`; a SQLite error that says the disk is in trouble (full, read-only, I/O)
/// marks the pool for recycling.
fn noted(e: sqlx::Error, recycle: &AtomicBool) -> StoreError {
    // READONLY, IOERR, FULL, CANTOPEN (primary codes of an extended one); a busy or locked
    // database is another writer's turn, not the disk's trouble.
    let transient_disk = matches!(&e, sqlx::Error::Database(db)
        if db.code().and_then(|c| c.parse::<u32>().ok()).is_some_and(|c| matches!(c & 0xff, 8 | 10 | 13 | 14)));
    if transient_disk {
        recycle.store(true, Ordering::Relaxed);
    }
    classify(e)
}

impl Db {
    /// Parses `cfg.url`; nothing connects until the first query. SQLite: the file and its
    /// folder are created, WAL with full sync so a commit survives a crash.
    pub(crate) fn open(cfg: &StoreConfig) -> Result<Self, StoreError> {
        let mut sqlite = None;
        let pool = match cfg.kind {
            StoreKind::Sqlite => {
                let opts = SqliteConnectOptions::from_str(&cfg.url)
                    .map_err(|e| unavailable(format!("bad sqlite url {}: {e}", cfg.url)))?
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Full)
                    // 8 MB of pages per connection (SQLite's default is 2 MB): the indexes a
                    // busy gateway writes to stay in memory. Five connections, so at most 40 MB.
                    .pragma("cache_size", "-8192")
                    .busy_timeout(Duration::from_secs(5));
                if let Some(dir) = opts.get_filename().parent() {
                    if !dir.as_os_str().is_empty() {
                        std::fs::create_dir_all(dir)
                            .map_err(|e| unavailable(format!("cannot create {}: {e}", dir.display())))?;
                    }
                }
                let pools = SqlitePools::new(&opts);
                sqlite = Some(opts);
                Pool::Sqlite(pools)
            }
            StoreKind::Postgres => {
                let mut opts = PgConnectOptions::from_str(&cfg.url)
                    .map_err(|e| unavailable(format!("bad postgres url: {e}")))?
                    .application_name("seedgate");
                if let Some(schema) = &cfg.schema {
                    // Validated by config: letters, digits and `_` only.
                    opts = opts.options([("search_path", schema.as_str())]);
                }
                Pool::Postgres(
                    PgPoolOptions::new()
                        .max_connections(8)
                        .acquire_timeout(Duration::from_secs(3))
                        .connect_lazy_with(opts),
                )
            }
        };
        Ok(Self {
            pool: std::sync::RwLock::new(pool),
            sqlite,
            recycle: Arc::default(),
            write: Arc::default(),
            schema: cfg.schema.clone().filter(|_| cfg.kind == StoreKind::Postgres),
            migrated: OnceCell::new(),
        })
    }

    pub(crate) fn dialect(&self) -> Dialect {
        if self.sqlite.is_some() {
            Dialect::Sqlite
        } else {
            Dialect::Postgres
        }
    }

    /// The pool. After a SQLite write failed for the disk's sake (full, read-only), its
    /// connections are replaced: one that failed mid-commit can keep the database's write
    /// lock, and every other writer would then wait for it ("database is locked") after the
    /// disk has room again.
    fn pool(&self) -> Pool {
        if let Some(opts) = self
            .sqlite
            .as_ref()
            .filter(|_| self.recycle.swap(false, Ordering::Relaxed))
        {
            let fresh = Pool::Sqlite(SqlitePools::new(opts));
            let mut guard = self
                .pool
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            // The old pool closes its connections once the last query holding it is done.
            drop(std::mem::replace(&mut *guard, fresh));
            tracing::warn!("a SQLite write failed for the disk's sake; opening fresh connections");
        }
        self.pool
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The pool, migrated.
    async fn ready(&self) -> Result<Pool, StoreError> {
        let pool = self.pool();
        self.migrated
            .get_or_try_init(|| async {
                match &pool {
                    Pool::Sqlite(p) => SQLITE_MIGRATIONS.run(&p.write).await,
                    Pool::Postgres(p) => {
                        if let Some(schema) = &self.schema {
                            sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
                                .execute(p)
                                .await
                                .map_err(classify)?;
                        }
                        POSTGRES_MIGRATIONS.run(p).await
                    }
                }
                .map_err(|e| unavailable(format!("migrating: {e}")))
            })
            .await?;
        Ok(pool)
    }

    pub(crate) async fn begin(&self) -> Result<Tx, StoreError> {
        Ok(match self.ready().await? {
            Pool::Sqlite(p) => {
                let turn = self.writer_turn().await?;
                let mut conn = p.write.acquire().await.map_err(|e| noted(e, &self.recycle))?;
                if let Err(e) = sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await {
                    conn.close_on_drop();
                    return Err(noted(e, &self.recycle));
                }
                Tx::Sqlite(SqliteTx {
                    conn,
                    recycle: self.recycle.clone(),
                    committed: false,
                    _turn: turn,
                })
            }
            Pool::Postgres(p) => Tx::Postgres(p.begin().await.map_err(classify)?),
        })
    }

    /// This process's turn to write to SQLite (as long as SQLite's own busy timeout).
    async fn writer_turn(&self) -> Result<tokio::sync::OwnedMutexGuard<()>, StoreError> {
        tokio::time::timeout(Duration::from_secs(5), self.write.clone().lock_owned())
            .await
            .map_err(|_| crate::unavailable("the database is busy: no turn to write within 5 s"))
    }

    /// Runs `q`; the number of rows it changed.
    pub(crate) async fn exec(&self, q: &Query) -> Result<u64, StoreError> {
        let sql = q.render(self.dialect());
        let _turn = match self.dialect() {
            Dialect::Sqlite => Some(self.writer_turn().await?),
            Dialect::Postgres => None,
        };
        match self.ready().await? {
            Pool::Sqlite(p) => q.sqlite(&sql).execute(&p.write).await.map(|r| r.rows_affected()),
            Pool::Postgres(p) => q.postgres(&sql).execute(&p).await.map(|r| r.rows_affected()),
        }
        .map_err(|e| noted(e, &self.recycle))
    }

    pub(crate) async fn fetch(&self, q: &Query) -> Result<Vec<Row>, StoreError> {
        let sql = q.render(self.dialect());
        // A statement that writes (`UPDATE … RETURNING`) waits for its turn; reads do not.
        let reads = sql
            .trim_start()
            .get(..6)
            .is_some_and(|w| w.eq_ignore_ascii_case("select"));
        let _turn = match self.dialect() {
            Dialect::Sqlite if !reads => Some(self.writer_turn().await?),
            _ => None,
        };
        Ok(match self.ready().await? {
            Pool::Sqlite(p) => rows(
                q.sqlite(&sql)
                    .fetch_all(if reads { &p.read } else { &p.write })
                    .await
                    .map_err(|e| noted(e, &self.recycle)),
                Row::Sqlite,
            )?,
            Pool::Postgres(p) => rows(
                q.postgres(&sql).fetch_all(&p).await.map_err(classify),
                Row::Postgres,
            )?,
        })
    }

    pub(crate) async fn fetch_optional(&self, q: &Query) -> Result<Option<Row>, StoreError> {
        Ok(self.fetch(q).await?.into_iter().next())
    }
}

fn rows<R>(r: Result<Vec<R>, StoreError>, wrap: fn(R) -> Row) -> Result<Vec<Row>, StoreError> {
    Ok(r?.into_iter().map(wrap).collect())
}

impl Tx {
    pub(crate) fn dialect(&self) -> Dialect {
        match self {
            Self::Sqlite(..) => Dialect::Sqlite,
            Self::Postgres(_) => Dialect::Postgres,
        }
    }

    pub(crate) async fn exec(&mut self, q: &Query) -> Result<u64, StoreError> {
        let sql = q.render(self.dialect());
        match self {
            Self::Sqlite(t) => q
                .sqlite(&sql)
                .execute(&mut *t.conn)
                .await
                .map(|r| r.rows_affected())
                .map_err(|e| noted(e, &t.recycle)),
            Self::Postgres(t) => q
                .postgres(&sql)
                .execute(&mut **t)
                .await
                .map(|r| r.rows_affected())
                .map_err(classify),
        }
    }

    pub(crate) async fn fetch(&mut self, q: &Query) -> Result<Vec<Row>, StoreError> {
        let sql = q.render(self.dialect());
        match self {
            Self::Sqlite(t) => rows(
                q.sqlite(&sql)
                    .fetch_all(&mut *t.conn)
                    .await
                    .map_err(|e| noted(e, &t.recycle)),
                Row::Sqlite,
            ),
            Self::Postgres(t) => rows(
                q.postgres(&sql).fetch_all(&mut **t).await.map_err(classify),
                Row::Postgres,
            ),
        }
    }

    pub(crate) async fn fetch_optional(&mut self, q: &Query) -> Result<Option<Row>, StoreError> {
        Ok(self.fetch(q).await?.into_iter().next())
    }

    pub(crate) async fn fetch_one(&mut self, q: &Query) -> Result<Row, StoreError> {
        self.fetch(q)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| StoreError::Rejected("a query that returns a row returned none".into()))
    }

    /// SQLite takes its write lock at a transaction's first write: a transaction that reads
    /// rows and then deletes them takes it first, so the rows read are the rows deleted
    /// (PostgreSQL locks the rows read instead, [`Dialect::for_update`]).
    pub(crate) async fn lock_for_write(&mut self) -> Result<(), StoreError> {
        if let Self::Sqlite(..) = self {
            self.exec(&Query::new("DELETE FROM channels WHERE 0")).await?;
        }
        Ok(())
    }

    pub(crate) async fn commit(self) -> Result<(), StoreError> {
        match self {
            Self::Sqlite(mut t) => match sqlx::query("COMMIT").execute(&mut *t.conn).await {
                Ok(_) => {
                    t.committed = true;
                    Ok(())
                }
                Err(e) => Err(noted(e, &t.recycle)),
            },
            Self::Postgres(t) => t.commit().await.map_err(classify),
        }
    }
}
