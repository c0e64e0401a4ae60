//! `seedgate sessions report`: billing per day, channel and flow, as a table on stdout.

use seedgate_runtime::config::Config;

use crate::failure::Failure;

#[allow(clippy::print_stdout)] // a command-line report
pub async fn report(config: &Config, days: u32) -> Result<(), Failure> {
    let store = crate::open::store(config)?;
    let today = chrono::Utc::now().date_naive();
    let since = today - chrono::Duration::days(i64::from(days.max(1)) - 1);
    let since = since.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    let rows = store
        .session_report(since)
        .await
        .map_err(|e| Failure::Other(e.to_string()))?;
    println!(
        "{:<10}  {:<20}  {:<20}  {:>9}  {:>9}  {:>9}",
        "day", "channel", "flow", "sessions", "hops", "slices"
    );
    let (mut sessions, mut hops, mut slices) = (0, 0, 0);
    for r in &rows {
        let flow = if r.flow.is_empty() { "-" } else { r.flow.as_str() };
        println!(
            "{:<10}  {:<20}  {:<20}  {:>9}  {:>9}  {:>9}",
            r.day, r.channel, flow, r.sessions, r.hops, r.slices
        );
        sessions += r.sessions;
        hops += r.hops;
        slices += r.slices;
    }
    println!(
        "{:<10}  {:<20}  {:<20}  {:>9}  {:>9}  {:>9}",
        "total", "", "", sessions, hops, slices
    );
    Ok(())
}
