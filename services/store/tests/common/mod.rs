//! The stores a conformance suite runs against: SQLite (a fresh file), PostgreSQL (this
//! machine's server, `SEEDGATE_TEST_DATABASE_URL`, a fresh schema), and both sealed
//! (encryption at rest), and the macro that runs every test on each.
#![allow(dead_code, clippy::unwrap_used, clippy::field_reassign_with_default)]

use std::sync::Arc;

use seedgate_runtime::config::{StoreConfig, StoreKind};
use seedgate_runtime::store::Store;

pub fn pg_url() -> String {
    std::env::var("SEEDGATE_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn config(kind: StoreKind) -> StoreConfig {
    let mut cfg = StoreConfig::default();
    if kind == StoreKind::Postgres {
        cfg.kind = StoreKind::Postgres;
        cfg.url = pg_url();
        cfg.schema = Some(format!("t{}", uuid::Uuid::now_v7().simple()));
    } else {
        let dir = std::env::temp_dir().join(format!("seedgate-store-{}", uuid::Uuid::now_v7().simple()));
        cfg.url = format!("sqlite://{}/nested/seedgate.db", dir.display());
    }
    cfg
}

pub fn sqlite() -> Arc<dyn Store> {
    seedgate_store::open(&config(StoreKind::Sqlite)).unwrap()
}

pub fn postgres() -> Arc<dyn Store> {
    seedgate_store::open(&config(StoreKind::Postgres)).unwrap()
}

/// Either database with encryption at rest: the same semantics.
pub fn sealed(kind: StoreKind) -> Arc<dyn Store> {
    let key = seedgate_store::sealed::Key::from_hex(&"5e".repeat(32)).unwrap();
    seedgate_store::open_with(&config(kind), Some(key)).unwrap()
}

/// Runs each named `async fn(Arc<dyn Store>)` of the suite on all four stores.
#[macro_export]
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite_store {
            $(#[tokio::test] async fn $name() { super::$name($crate::common::sqlite()).await; })*
        }
        mod postgres_store {
            $(#[tokio::test] async fn $name() { super::$name($crate::common::postgres()).await; })*
        }
        mod sealed_sqlite_store {
            $(#[tokio::test] async fn $name() {
                super::$name($crate::common::sealed(seedgate_runtime::config::StoreKind::Sqlite)).await;
            })*
        }
        mod sealed_postgres_store {
            $(#[tokio::test] async fn $name() {
                super::$name($crate::common::sealed(seedgate_runtime::config::StoreKind::Postgres)).await;
            })*
        }
    };
}
