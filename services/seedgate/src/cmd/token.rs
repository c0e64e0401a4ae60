//! `seedgate token create`: a new API token in the store, printed once.

use seedgate_runtime::config::Config;

use crate::failure::Failure;

pub async fn create(config: &Config, name: &str, scopes: &[String]) -> Result<(), Failure> {
    let scopes =
        seedgate_api::auth::parse_scopes(scopes).map_err(|e| Failure::Config(format!("--scopes: {e}")))?;
    let store = crate::open::store(config)?;
    let (secret, token) = seedgate_api::create_token(store.as_ref(), name, scopes)
        .await
        .map_err(|e| Failure::Other(e.to_string()))?;
    #[allow(clippy::print_stdout)] // the token is this command's output
    {
        println!("{secret}");
    }
    eprintln!(
        "token {} ({}) with scopes {}: store it now, it is not shown again",
        token.id,
        token.name,
        token.scopes.join(",")
    );
    Ok(())
}
