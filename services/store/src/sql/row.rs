//! A row read from either database, with the codecs that differ (UUIDs, timestamps, JSON).

use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::Row as _;
use uuid::Uuid;

use crate::{classify, decode_json, StoreError};

pub(crate) enum Row {
    Sqlite(SqliteRow),
    Postgres(PgRow),
}

impl std::fmt::Debug for Row {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Sqlite(_) => "Row::Sqlite(..)",
            Self::Postgres(_) => "Row::Postgres(..)",
        })
    }
}

fn parse_ts(s: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Rejected(format!("bad stored timestamp {s:?}: {e}")))
}

fn parse_uuid(s: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(s).map_err(|e| StoreError::Rejected(format!("bad stored id {s:?}: {e}")))
}

impl Row {
    pub(crate) fn opt_text(&self, col: &str) -> Result<Option<String>, StoreError> {
        match self {
            Self::Sqlite(r) => r.try_get(col),
            Self::Postgres(r) => r.try_get(col),
        }
        .map_err(classify)
    }

    pub(crate) fn text(&self, col: &str) -> Result<String, StoreError> {
        match self {
            Self::Sqlite(r) => r.try_get(col),
            Self::Postgres(r) => r.try_get(col),
        }
        .map_err(classify)
    }

    /// An integer column of any width; NULL reads as `None`.
    pub(crate) fn opt_int(&self, col: &str) -> Result<Option<i64>, StoreError> {
        match self {
            Self::Sqlite(r) => r.try_get(col),
            Self::Postgres(r) => r
                .try_get::<Option<i64>, _>(col)
                .or_else(|_| r.try_get::<Option<i32>, _>(col).map(|v| v.map(i64::from))),
        }
        .map_err(classify)
    }

    pub(crate) fn int(&self, col: &str) -> Result<i64, StoreError> {
        self.opt_int(col)?
            .ok_or_else(|| StoreError::Rejected(format!("stored column {col} is NULL")))
    }

    /// `BOOLEAN` on PostgreSQL, 0 or 1 on SQLite.
    pub(crate) fn bool(&self, col: &str) -> Result<bool, StoreError> {
        match self {
            Self::Sqlite(r) => r.try_get(col),
            Self::Postgres(r) => r.try_get(col),
        }
        .map_err(classify)
    }

    /// A `DOUBLE PRECISION` (SQLite: `REAL`) value; NULL reads as `None`.
    pub(crate) fn opt_float(&self, col: &str) -> Result<Option<f64>, StoreError> {
        match self {
            Self::Sqlite(r) => r.try_get(col),
            Self::Postgres(r) => r.try_get(col),
        }
        .map_err(classify)
    }

    /// A count or size: negative or too large values read as 0.
    pub(crate) fn u32(&self, col: &str) -> Result<u32, StoreError> {
        Ok(u32::try_from(self.opt_int(col)?.unwrap_or(0)).unwrap_or(0))
    }

    pub(crate) fn u64(&self, col: &str) -> Result<u64, StoreError> {
        Ok(u64::try_from(self.opt_int(col)?.unwrap_or(0)).unwrap_or(0))
    }

    pub(crate) fn uuid(&self, col: &str) -> Result<Uuid, StoreError> {
        match self {
            Self::Sqlite(r) => parse_uuid(r.try_get(col).map_err(classify)?),
            Self::Postgres(r) => r.try_get(col).map_err(classify),
        }
    }

    pub(crate) fn opt_ts(&self, col: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        match self {
            Self::Sqlite(r) => r
                .try_get::<Option<&str>, _>(col)
                .map_err(classify)?
                .map(parse_ts)
                .transpose(),
            Self::Postgres(r) => r.try_get(col).map_err(classify),
        }
    }

    pub(crate) fn ts(&self, col: &str) -> Result<DateTime<Utc>, StoreError> {
        self.opt_ts(col)?
            .ok_or_else(|| StoreError::Rejected(format!("stored column {col} is NULL")))
    }

    /// A JSON column (`jsonb` on PostgreSQL, text on SQLite); NULL reads as `None`.
    pub(crate) fn opt_json<T: serde::de::DeserializeOwned>(
        &self,
        col: &str,
    ) -> Result<Option<T>, StoreError> {
        match self {
            Self::Sqlite(r) => r
                .try_get::<Option<&str>, _>(col)
                .map_err(classify)?
                .map(decode_json)
                .transpose(),
            Self::Postgres(r) => Ok(r
                .try_get::<Option<sqlx::types::Json<T>>, _>(col)
                .map_err(classify)?
                .map(|j| j.0)),
        }
    }

    pub(crate) fn json<T: serde::de::DeserializeOwned>(&self, col: &str) -> Result<T, StoreError> {
        self.opt_json(col)?
            .ok_or_else(|| StoreError::Rejected(format!("stored column {col} is NULL")))
    }
}
