//! A query written once: SQL with `?` placeholders and typed arguments, rendered and bound
//! for each database.

use chrono::{DateTime, NaiveDate, Utc};
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
    /// A calendar day: `DATE` on PostgreSQL, `YYYY-MM-DD` text on SQLite.
    Date(Option<NaiveDate>),
    /// JSON text for a JSON column.
    Json(Option<String>),
    /// The current time.
    Now,
    /// The current time plus a lease.
    Later(std::time::Duration),
    /// Values of one type for `IN (?)`: `?, ?, …` on SQLite, `SELECT UNNEST($n)` (one array)
    /// on PostgreSQL.
    List(Vec<Arg>),
    /// Rows of a table for `WITH v(a, b) AS (?)`: `VALUES (?, ?), …` on SQLite,
    /// `SELECT * FROM UNNEST($n, $m)` (an array per column) on PostgreSQL.
    Table(Vec<Vec<Arg>>),
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

    /// SQLite's text form of a day.
    pub(crate) fn sqlite_date(d: &NaiveDate) -> String {
        d.format("%Y-%m-%d").to_string()
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
    NaiveDate => |v| Arg::Date(Some(v)),
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
        let expands = |a: &Arg| matches!(a, Arg::List(_) | Arg::Table(_));
        if dialect == Dialect::Sqlite && !self.args.iter().any(expands) {
            return self.sql.as_str().into();
        }
        let mut out = String::with_capacity(self.sql.len() + 4 * self.args.len());
        let mut args = self.args.iter();
        let mut n = 0;
        let mut next = |out: &mut String, cast: &str| {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
            out.push_str(cast);
        };
        for ch in self.sql.chars() {
            if ch != '?' {
                out.push(ch);
                continue;
            }
            match (dialect, args.next()) {
                (_, None) => out.push('?'),
                (Dialect::Sqlite, Some(Arg::List(items))) => out.push_str(&vec!["?"; items.len()].join(", ")),
                (Dialect::Sqlite, Some(Arg::Table(rows))) => {
                    out.push_str("VALUES ");
                    let row = |r: &Vec<Arg>| format!("({})", vec!["?"; r.len()].join(", "));
                    out.push_str(&rows.iter().map(row).collect::<Vec<_>>().join(", "));
                }
                (Dialect::Sqlite, Some(_)) => out.push('?'),
                (Dialect::Postgres, Some(Arg::Now)) => out.push_str("now()"),
                (Dialect::Postgres, Some(Arg::Later(_))) => {
                    out.push_str("now() + ");
                    next(&mut out, "");
                }
                (Dialect::Postgres, Some(Arg::Json(_))) => next(&mut out, "::jsonb"),
                (Dialect::Postgres, Some(Arg::List(_))) => {
                    out.push_str("SELECT UNNEST(");
                    next(&mut out, "");
                    out.push(')');
                }
                (Dialect::Postgres, Some(Arg::Table(rows))) => {
                    out.push_str("SELECT * FROM UNNEST(");
                    for i in 0..rows.first().map_or(0, Vec::len) {
                        if i > 0 {
                            out.push_str(", ");
                        }
                        next(&mut out, "");
                    }
                    out.push(')');
                }
                (Dialect::Postgres, Some(_)) => next(&mut out, ""),
            }
        }
        out.into()
    }

    /// Binds the arguments for SQLite (`sql` from [`Query::render`]).
    pub(crate) fn sqlite<'q>(&'q self, sql: &'q str) -> SqlxQuery<'q, Sqlite, SqliteArguments<'q>> {
        fn bind<'q>(
            q: SqlxQuery<'q, Sqlite, SqliteArguments<'q>>,
            a: &'q Arg,
            now: &DateTime<Utc>,
        ) -> SqlxQuery<'q, Sqlite, SqliteArguments<'q>> {
            match a {
                Arg::Text(v) | Arg::Json(v) => q.bind(v.as_deref()),
                Arg::Int(v) => q.bind(*v),
                Arg::Bool(v) => q.bind(*v),
                Arg::Uuid(v) => q.bind(v.map(|u| u.to_string())),
                Arg::Ts(v) => q.bind(v.as_ref().map(Arg::sqlite_ts)),
                Arg::Date(v) => q.bind(v.as_ref().map(Arg::sqlite_date)),
                Arg::Now => q.bind(Arg::sqlite_ts(now)),
                Arg::Later(d) => q.bind(Arg::sqlite_ts(
                    &(*now + chrono::Duration::from_std(*d).unwrap_or_default()),
                )),
                Arg::List(items) => items.iter().fold(q, |q, a| bind(q, a, now)),
                Arg::Table(rows) => rows.iter().flatten().fold(q, |q, a| bind(q, a, now)),
            }
        }
        let now = Utc::now();
        self.args.iter().fold(sqlx::query(sql), |q, a| bind(q, a, &now))
    }

    /// Binds the arguments for PostgreSQL (`sql` from [`Query::render`]): a list or a table's
    /// column is one array.
    pub(crate) fn postgres<'q>(&'q self, sql: &'q str) -> SqlxQuery<'q, Postgres, PgArguments> {
        let mut q = sqlx::query(sql);
        for a in &self.args {
            q = match a {
                Arg::Text(v) | Arg::Json(v) => q.bind(v.as_deref()),
                Arg::Int(v) => q.bind(*v),
                Arg::Bool(v) => q.bind(*v),
                Arg::Uuid(v) => q.bind(*v),
                Arg::Ts(v) => q.bind(*v),
                Arg::Date(v) => q.bind(*v),
                Arg::Now => q,
                Arg::Later(d) => q.bind(chrono::Duration::from_std(*d).unwrap_or_default()),
                Arg::List(items) => bind_array(q, items.iter()),
                Arg::Table(rows) => (0..rows.first().map_or(0, Vec::len)).fold(q, |q, col| {
                    bind_array(q, rows.iter().filter_map(move |r| r.get(col)))
                }),
            };
        }
        q
    }
}

/// Binds values of one type as a PostgreSQL array (of the type of the first; a list or a
/// table column holds one type).
fn bind_array<'q, 'a>(
    q: SqlxQuery<'q, Postgres, PgArguments>,
    items: impl Iterator<Item = &'a Arg> + Clone,
) -> SqlxQuery<'q, Postgres, PgArguments> {
    match items.clone().next() {
        Some(Arg::Uuid(_)) => q.bind(
            items
                .map(|a| if let Arg::Uuid(v) = a { *v } else { None })
                .collect::<Vec<_>>(),
        ),
        Some(Arg::Int(_)) => q.bind(
            items
                .map(|a| if let Arg::Int(v) = a { *v } else { None })
                .collect::<Vec<_>>(),
        ),
        Some(Arg::Ts(_)) => q.bind(
            items
                .map(|a| if let Arg::Ts(v) = a { *v } else { None })
                .collect::<Vec<_>>(),
        ),
        Some(Arg::Date(_)) => q.bind(
            items
                .map(|a| if let Arg::Date(v) = a { *v } else { None })
                .collect::<Vec<_>>(),
        ),
        Some(Arg::Bool(_)) => q.bind(items.map(|a| matches!(a, Arg::Bool(true))).collect::<Vec<_>>()),
        _ => q.bind(
            items
                .map(|a| match a {
                    Arg::Text(v) | Arg::Json(v) => v.clone(),
                    _ => None,
                })
                .collect::<Vec<_>>(),
        ),
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
    fn lists_and_tables_are_arrays_for_postgres_and_expanded_for_sqlite() {
        let ids = Arg::List(vec![Arg::from(1i64), Arg::from(2i64)]);
        let rows = Arg::Table(vec![
            vec![Arg::from("a"), Arg::from(1i64)],
            vec![Arg::from("b"), Arg::from(2i64)],
        ]);
        let q = Query::new("WITH v(k, n) AS (?) SELECT * FROM v WHERE n IN (?) AND k = ?")
            .bind(rows)
            .bind(ids)
            .bind("a");
        assert_eq!(
            q.render(Dialect::Postgres),
            "WITH v(k, n) AS (SELECT * FROM UNNEST($1, $2)) SELECT * FROM v WHERE n IN (SELECT UNNEST($3)) AND k = $4"
        );
        assert_eq!(
            q.render(Dialect::Sqlite),
            "WITH v(k, n) AS (VALUES (?, ?), (?, ?)) SELECT * FROM v WHERE n IN (?, ?) AND k = ?"
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
