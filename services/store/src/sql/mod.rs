//! The dialect layer: the one place where SQLite and PostgreSQL differ. Every query in this
//! crate is written once, with `?` placeholders, and carried out through [`Db`]:
//!
//! - placeholders: `?` stays for SQLite and becomes `$1`, `$2`, … for PostgreSQL
//!   ([`Query`]; a JSON argument becomes `$n::jsonb`). No query may hold a literal `?`;
//! - the clock: [`Arg::Now`] and [`Arg::Later`] are the database's `now()` (and
//!   `now() + interval`) on PostgreSQL and the process's clock on SQLite;
//! - codecs: UUIDs, timestamps and days are native types on PostgreSQL and text on SQLite
//!   (RFC 3339 UTC with microseconds, so text order is time order; `YYYY-MM-DD`): [`Arg`] on
//!   the way in, [`Row`] on the way out; JSON columns are `jsonb` on PostgreSQL and text on
//!   SQLite;
//! - a few fragments ([`Dialect`]): `GREATEST` or `MAX` in upserts, a UTC day, row locks,
//!   the byte collation;
//! - connecting and migrating (`db.rs`); the migrations themselves are one folder per
//!   database with the same meaning.

mod db;
mod query;
mod row;

pub(crate) use db::{newest_sqlite_migration, Db, Tx};
pub(crate) use query::{Arg, Query};
pub(crate) use row::Row;

/// Which database a [`Db`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// The larger of two values (an upsert keeping the highest count).
    pub(crate) fn greatest(self) -> &'static str {
        match self {
            Self::Sqlite => "MAX",
            Self::Postgres => "GREATEST",
        }
    }

    /// The UTC day (`YYYY-MM-DD`) of a timestamp column, as text.
    pub(crate) fn day(self, column: &str) -> String {
        match self {
            Self::Sqlite => format!("substr({column}, 1, 10)"),
            Self::Postgres => format!("to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD')"),
        }
    }

    /// Locks the rows a `SELECT` reads until the transaction ends. SQLite has no row locks: a
    /// transaction that reads and then deletes takes the database's write lock first
    /// ([`Tx::lock_for_write`]).
    pub(crate) fn for_update(self) -> &'static str {
        match self {
            Self::Sqlite => "",
            Self::Postgres => " FOR UPDATE",
        }
    }

    /// Row locks for a claim: rows another claimer holds are skipped, not waited for.
    pub(crate) fn skip_locked(self) -> &'static str {
        match self {
            Self::Sqlite => "",
            Self::Postgres => " FOR UPDATE SKIP LOCKED",
        }
    }

    /// Byte order for text (SQLite's default; PostgreSQL's follows the locale otherwise).
    pub(crate) fn collate_bytes(self) -> &'static str {
        match self {
            Self::Sqlite => "",
            Self::Postgres => " COLLATE \"C\"",
        }
    }
}
