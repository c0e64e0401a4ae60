//! Opens what config names: the store (for the commands that read it) and the runtime every
//! service of a process shares (bus, session store, store).

use std::sync::Arc;

use seedgate_runtime::config::Config;
use seedgate_runtime::store::Store;
use seedgate_runtime::Runtime;

use crate::failure::Failure;

/// The configured store, not yet connected; errors name the key at fault.
pub fn store(config: &Config) -> Result<Arc<dyn Store>, Failure> {
    let key = seedgate_store::encryption_key(&config.store)
        .map_err(|e| Failure::Config(format!("invalid config at `store.encryption_key_file`: {e}")))?;
    seedgate_store::open_with(&config.store, key)
        .map_err(|e| Failure::Config(format!("invalid config at `store.url`: {e}")))
}

/// The runtime on the backends `config` names. Nothing connects yet: a process starts while
/// its backends are away, and `/readyz` says so.
pub fn runtime(config: Arc<Config>) -> Result<Runtime, Failure> {
    // Every role keeps session state or channel status there (the API reads the status), and
    // every process reads the channels made through the API from the store.
    let store = store(&config)?;
    let bus = seedgate_runtime::service::bus_for(&config, &store);
    let sessions = seedgate_runtime::service::session_store_for(&config)?;
    Ok(Runtime::new(config, bus, sessions, store))
}
