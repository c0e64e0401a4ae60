//! `seedgate campaigns report`: subscriptions per message set and state, as a table on stdout.

use seedgate_runtime::config::Config;

use crate::failure::Failure;

#[allow(clippy::print_stdout)] // a command-line report
pub async fn report(config: &Config) -> Result<(), Failure> {
    let store = crate::open::store(config)?;
    let behind = chrono::Utc::now() - chrono::Duration::hours(1);
    let rows = store
        .subscription_counts(behind)
        .await
        .map_err(|e| Failure::Other(e.to_string()))?;
    println!(
        "{:<24}  {:<10}  {:>9}  {:>9}",
        "message set", "state", "count", "behind"
    );
    for r in &rows {
        let late = if r.state == "active" {
            r.behind.to_string()
        } else {
            "-".into()
        };
        println!("{:<24}  {:<10}  {:>9}  {:>9}", r.set, r.state, r.count, late);
    }
    Ok(())
}
