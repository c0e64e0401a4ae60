//! A query written once: SQL with `?` placeholders and typed arguments, rendered and bound
//! for each database.

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgArguments, Postgres};
use sqlx::query::Query as SqlxQuery;
use sqlx::sqlite::{Sqlite, SqliteArguments};
use uuid::Uuid;

use super::Dialect;
use crate::StoreError;

/// A typed argument; `None` binds NULL.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Arg {
    Text(Option<String>),
    Int(Option<i64>),
    Bool(bool),
    Uuid(Option<Uuid>),
    Ts(Option<DateTime<Utc>>),
    /// JSON text for a JSON column.
    Json(Option<String>),
    /// The current time.
    Now,
    /// The current time plus a lease.
    Later(std::time::Duration),
}

impl Arg {
    /// `value` as JSON text, for a JSON column.
    pub(crate) fn json<T: serde::Serialize>(value: &T) -> Result<Self, StoreError> {
        Ok(Self::Json(Some(crate::encode_json(value)?)))
    }

    /// SQLite's text form of a timestamp.
    pub(crate) fn sqlite_ts(t: &DateTime<Utc>) -> String {
        t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
    }
}

macro_rules! arg_from {
    ($($t:ty => $f:expr),* $(,)?) => {
        $(impl From<$t> for Arg {
            fn from(v: $t) -> Self {
                #[allow(clippy::redundant_closure_call)]
                ($f)(v)
            }
        })*
    };
}

arg_from! {
    &str => |v: &str| Arg::Text(Some(v.to_string())),
    &String => |v: &String| Arg::Text(Some(v.clone())),
    String => |v: String| Arg::Text(Some(v)),
    Option<&str> => |v: Option<&str>| Arg::Text(v.map(str::to_string)),
    Option<String> => Arg::Text,
    &Option<String> => |v: &Option<String>| Arg::Text(v.clone()),
    i64 => |v| Arg::Int(Some(v)),
    u32 => |v: u32| Arg::Int(Some(i64::from(v))),
    u64 => |v: u64| Arg::Int(Some(i64::try_from(v).unwrap_or(i64::MAX))),
    bool => Arg::Bool,
    Uuid => |v| Arg::Uuid(Some(v)),
    Option<Uuid> => Arg::Uuid,
    DateTime<Utc> => |v| Arg::Ts(Some(v)),
    &DateTime<Utc> => |v: &DateTime<Utc>| Arg::Ts(Some(*v)),
    Option<DateTime<Utc>> => Arg::Ts,
}

/// SQL with `?` placeholders and its arguments, in order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Query {
    sql: String,
    args: Vec<Arg>,
}

impl Query {
    pub(crate) fn new(sql: impl Into<String>) -> Self {
        Self {
            sql: sql.into(),
            args: Vec::new(),
        }
    }

    /// Binds the next `?`.
    pub(crate) fn bind(mut self, arg: impl Into<Arg>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Appends SQL (with no placeholders of its own).
    pub(crate) fn push(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    /// Appends a placeholder and binds it.
    pub(crate) fn push_bind(&mut self, arg: impl Into<Arg>) -> &mut Self {
        self.sql.push('?');
        self.args.push(arg.into());
        self
    }

    /// Appends `(?, ?, …)` for one row of a multi-row `VALUES`.
    pub(crate) fn push_row(&mut self, args: impl IntoIterator<Item = Arg>) -> &mut Self {
        self.sql.push('(');
        self.push_list(args);
        self.sql.push(')');
        self
    }

    /// Appends `?, ?, …` (for `IN (…)` or a row).
    pub(crate) fn push_list(&mut self, args: impl IntoIterator<Item = Arg>) -> &mut Self {
        for (i, a) in args.into_iter().enumerate() {
            if i > 0 {
                self.sql.push_str(", ");
            }
            self.push_bind(a);
        }
        self
    }

    /// The SQL as the database reads it.
    pub(crate) fn render(&self, dialect: Dialect) -> std::borrow::Cow<'_, str> {
        if dialect == Dialect::Sqlite {
            return self.sql.as_str().into();
        }
        let mut out = String::with_capacity(self.sql.len() + 4 * self.args.len());
        let mut args = self.args.iter();
        let mut n = 0;
        for ch in self.sql.chars() {
            if ch != '?' {
                out.push(ch);
                continue;
            }
            match args.next() {
                Some(Arg::Now) => out.push_str("now()"),
                Some(a) => {
                    n += 1;
                    if matches!(a, Arg::Later(_)) {
                        out.push_str("now() + ");
                    }
                    out.push('$');
                    out.push_str(&n.to_string());
                    if matches!(a, Arg::Json(_)) {
                        out.push_str("::jsonb");
                    }
                }
                None => out.push('?'),
            }
        }
        out.into()
    }

    /// Binds the arguments for SQLite.
    pub(crate) fn sqlite<'q>(&'q self, sql: &'q str) -> SqlxQuery<'q, Sqlite, SqliteArguments<'q>> {
        let now = Utc::now();
        let mut q = sqlx::query(sql);
        for a in &self.args {
            q = match a {
                Arg::Text(v) | Arg::Json(v) => q.bind(v.as_deref()),
                Arg::Int(v) => q.bind(*v),
                Arg::Bool(v) => q.bind(*v),
                Arg::Uuid(v) => q.bind(v.map(|u| u.to_string())),
                Arg::Ts(v) => q.bind(v.as_ref().map(Arg::sqlite_ts)),
                Arg::Now => q.bind(Arg::sqlite_ts(&now)),
                Arg::Later(d) => q.bind(Arg::sqlite_ts(
                    &(now + chrono::Duration::from_std(*d).unwrap_or_default()),
                )),
            };
        }
        q
    }

    /// Binds the arguments for PostgreSQL (`sql` from [`Query::render`]).
    pub(crate) fn postgres<'q>(&'q self, sql: &'q str) -> SqlxQuery<'q, Postgres, PgArguments> {
        let mut q = sqlx::query(sql);
        for a in &self.args {
            q = match a {
                Arg::Text(v) | Arg::Json(v) => q.bind(v.as_deref()),
                Arg::Int(v) => q.bind(*v),
                Arg::Bool(v) => q.bind(*v),
                Arg::Uuid(v) => q.bind(*v),
                Arg::Ts(v) => q.bind(*v),
                Arg::Now => q,
                Arg::Later(d) => q.bind(chrono::Duration::from_std(*d).unwrap_or_default()),
            };
        }
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_numbered_for_postgres_and_stay_for_sqlite() {
        let mut q = Query::new("UPDATE t SET a = ?, b = ?, c = ? WHERE d < ? AND e IN (")
            .bind(1i64)
            .bind(Arg::json(&serde_json::json!({"x": 1})).unwrap())
            .bind(Arg::Later(std::time::Duration::from_secs(60)))
            .bind(Arg::Now);
        q.push_list([Arg::from("x"), Arg::from("y")]).push(")");
        assert_eq!(
            q.render(Dialect::Postgres),
            "UPDATE t SET a = $1, b = $2::jsonb, c = now() + $3 WHERE d < now() AND e IN ($4, $5)"
        );
        assert_eq!(
            q.render(Dialect::Sqlite),
            "UPDATE t SET a = ?, b = ?, c = ? WHERE d < ? AND e IN (?, ?)"
        );
    }

    #[test]
    fn rows_of_values_have_one_placeholder_per_argument() {
        let mut q = Query::new("INSERT INTO t (a, b) VALUES ");
        q.push_row([Arg::from(1i64), Arg::from("x")]).push(", ");
        q.push_row([Arg::from(2i64), Arg::from("y")]);
        assert_eq!(
            q.render(Dialect::Postgres),
            "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)"
        );
    }

    #[test]
    fn sqlite_timestamps_sort_as_text() {
        let a = DateTime::parse_from_rfc3339("2026-01-02T03:04:05.000001Z").unwrap();
        let b = DateTime::parse_from_rfc3339("2026-01-02T03:04:05.1Z").unwrap();
        let (a, b) = (Arg::sqlite_ts(&a.to_utc()), Arg::sqlite_ts(&b.to_utc()));
        assert_eq!(a, "2026-01-02T03:04:05.000001Z");
        assert!(a < b);
    }
}
