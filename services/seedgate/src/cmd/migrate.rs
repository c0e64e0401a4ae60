//! `seedgate migrate`: applies the store's migrations and exits.

use seedgate_runtime::config::Config;

use crate::failure::Failure;

pub async fn run(config: &Config) -> Result<(), Failure> {
    seedgate_store::migrate(&config.store)
        .await
        .map_err(|e| Failure::Other(e.to_string()))
}
