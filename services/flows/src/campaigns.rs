//! The campaign scheduler: sends message-set messages when they are due.
//!
//! Every `flows.scheduler_every_secs` (and when a subscription wakes it) it claims due
//! subscriptions from the store (with a lease, so several runners share the work), decides
//! with [`seedgate_flowlang::schedule::next`] what each one does now, and moves it on with
//! `Store::subscription_advance`: the message is committed to the outbox in the same
//! transaction that moves the subscription past it, guarded by the index it stood at. A
//! restart, a crash between two statements or a second scheduler can therefore never send a
//! message twice; a scheduler that was down catches up by the set's policy.
//!
//! Campaign messages carry `priority: bulk`: the relay puts them in their
//! channel's bulk lane, which connectors take one at a time beside USSD replies and API sends.
//! Subscriptions of opted-out contacts are cancelled. A message sent more than a day after its
//! time counts as behind schedule (`seedgate_flows_campaign_late_total`), and the gauge
//! `seedgate_flows_subscriptions_behind{set}` counts active subscriptions due over an hour ago.

use std::time::Duration;

use chrono::{DateTime, Utc};
use seedgate_flowlang::schedule::Next;
use seedgate_proto::Priority;
use seedgate_runtime::store::{Advance, StoreError, Subscription};
use seedgate_runtime::telemetry::Masked;
use tokio_util::sync::CancellationToken;

use crate::effects::Executor;
use crate::service::Clock;

const BATCH: u32 = 100;
const LEASE: Duration = Duration::from_secs(60);
/// A subscription whose anchor is missing looks again after this long.
const RETRY_ANCHOR: chrono::Duration = chrono::Duration::days(1);

/// Runs the scheduler until `shutdown`.
pub async fn run(exec: Executor, clock: Clock, every: Duration, shutdown: CancellationToken) {
    let mut reported: Option<tokio::time::Instant> = None;
    loop {
        let now = clock();
        match tick(&exec, now).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(sent = n, "campaign messages queued"),
            Err(e) => tracing::warn!(error = %e, "campaign scheduler: store unavailable; retrying"),
        }
        // Once a round, not on every wake: the count reads every subscription.
        if reported.is_none_or(|at| at.elapsed() >= every) {
            report_behind(&exec, now).await;
            reported = Some(tokio::time::Instant::now());
        }
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = exec.scheduler.notified() => {}
            () = shutdown.cancelled() => return,
        }
    }
}

/// Handles every subscription due at `now`; returns how many messages it queued.
pub async fn tick(exec: &Executor, now: DateTime<Utc>) -> Result<usize, StoreError> {
    let mut sent = 0;
    loop {
        let due = exec.store.subscriptions_due(now, BATCH, LEASE).await?;
        if due.is_empty() {
            break;
        }
        let n = due.len();
        for sub in due {
            if one(exec, &sub, now).await? {
                sent += 1;
            }
        }
        if n < BATCH as usize {
            break;
        }
    }
    if sent > 0 {
        exec.outbox.notify_one();
    }
    Ok(sent)
}

async fn report_behind(exec: &Executor, now: DateTime<Utc>) {
    if let Ok(counts) = exec
        .store
        .subscription_counts(now - chrono::Duration::hours(1))
        .await
    {
        for c in counts.iter().filter(|c| c.state == "active") {
            metrics::gauge!("seedgate_flows_subscriptions_behind", "set" => c.set.clone())
                .set(c.behind as f64);
            if c.behind > 0 {
                tracing::warn!(set = %c.set, behind = c.behind, "subscriptions are behind schedule");
            }
        }
    }
}

/// One due subscription; true if it sent a message.
async fn one(exec: &Executor, sub: &Subscription, now: DateTime<Utc>) -> Result<bool, StoreError> {
    let index = sub.next_index as usize;
    let live = exec.catalog.current();
    let advance = |next_index: usize, next_due: DateTime<Utc>, state: &str| Advance {
        id: sub.id,
        expected_index: sub.next_index,
        next_index: u32::try_from(next_index).unwrap_or(u32::MAX),
        next_due,
        state: state.into(),
    };
    let Some(set) = live.flows.message_set(&sub.set) else {
        tracing::error!(set = %sub.set, "a subscription's message set is no longer in the flow files; cancelled");
        exec.store
            .subscription_advance(&advance(index, now, "cancelled"), None)
            .await?;
        return Ok(false);
    };
    if exec.registry.get(&set.channel).is_none() {
        tracing::warn!(set = %sub.set, channel = %set.channel, "the message set's channel does not exist; looking again in an hour");
        exec.store
            .subscription_advance(&advance(index, now + chrono::Duration::hours(1), "active"), None)
            .await?;
        return Ok(false);
    }
    let contact = crate::people::load(exec.store.as_ref(), &sub.msisdn).await?;
    if contact.opted_out {
        tracing::info!(msisdn = %Masked(&sub.msisdn), set = %sub.set, "contact opted out; subscription cancelled");
        exec.store
            .subscription_advance(&advance(index, now, "cancelled"), None)
            .await?;
        return Ok(false);
    }
    let anchor = set
        .anchor
        .as_ref()
        .and_then(|f| contact.fields.get(f))
        .and_then(|d| seedgate_flowlang::expr::parse_date_text(d));
    let decision = seedgate_flowlang::schedule::next(set, index, anchor, now);
    match decision {
        None => {
            tracing::warn!(msisdn = %Masked(&sub.msisdn), set = %sub.set, "the contact's anchor date is missing; looking again tomorrow");
            exec.store
                .subscription_advance(&advance(index, now + RETRY_ANCHOR, "active"), None)
                .await?;
            Ok(false)
        }
        Some(Next::Wait(at)) => {
            exec.store
                .subscription_advance(&advance(index, at, "active"), None)
                .await?;
            Ok(false)
        }
        Some(Next::Done) => {
            exec.store
                .subscription_advance(&advance(index, now, "done"), None)
                .await?;
            complete(exec, sub, &contact, now).await?;
            Ok(false)
        }
        Some(Next::Send { send, then }) => {
            let file = live.flows.set_file(&sub.set);
            let base = file.map_or("eng", |f| f.base()).to_string();
            let lang = contact
                .language
                .clone()
                .filter(|l| file.is_some_and(|f| f.languages.contains(l)))
                .unwrap_or_else(|| base.clone());
            let text = set.messages[send].text.get(&lang, &base);
            let globals = file.map(|f| f.globals.clone()).unwrap_or_default();
            let scope = seedgate_flowlang::interp::scope_of(&contact, globals, now);
            let body = seedgate_flowlang::expr::render(text, &scope);
            let mut msg = crate::effects::sms(&set.channel, &sub.msisdn, &body);
            msg.priority = Priority::Bulk;
            msg.metadata.insert("message_set".into(), sub.set.clone().into());
            msg.metadata.insert("index".into(), send.into());
            msg.metadata
                .insert("subscription".into(), sub.id.to_string().into());
            let (next_index, next_due, state) = match then {
                Some((i, t)) => (i, t, "active"),
                None => (set.messages.len(), now, "done"),
            };
            if !exec
                .store
                .subscription_advance(&advance(next_index, next_due, state), Some(&msg))
                .await?
            {
                return Ok(false); // someone else moved it first
            }
            let skipped = send - index;
            let late = seedgate_flowlang::schedule::due(set, send, anchor).map(|t| now - t);
            metrics::counter!("seedgate_flows_campaign_sent_total", "set" => sub.set.clone()).increment(1);
            if skipped > 0 {
                metrics::counter!("seedgate_flows_campaign_skipped_total", "set" => sub.set.clone())
                    .increment(skipped as u64);
            }
            if late.is_some_and(|l| l > chrono::Duration::days(1)) {
                metrics::counter!("seedgate_flows_campaign_late_total", "set" => sub.set.clone())
                    .increment(1);
                tracing::warn!(set = %sub.set, index = send, late_hours = late.map(|l| l.num_hours()), skipped, "campaign message sent behind schedule");
            }
            tracing::info!(msisdn = %Masked(&sub.msisdn), set = %sub.set, index = send, skipped, "campaign message queued");
            if state == "done" {
                complete(exec, sub, &contact, now).await?;
            }
            Ok(true)
        }
    }
}

/// The set's `on_complete`: groups, and the next set.
async fn complete(
    exec: &Executor,
    sub: &Subscription,
    contact: &seedgate_flowlang::interp::RunContact,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let live = exec.catalog.current();
    let Some(set) = live.flows.message_set(&sub.set) else {
        return Ok(());
    };
    let oc = &set.on_complete;
    let mut changes = Vec::new();
    if let Some(g) = &oc.add_group {
        changes.push(seedgate_flowlang::interp::ContactChange::AddGroup(g.clone()));
    }
    if let Some(g) = &oc.remove_group {
        changes.push(seedgate_flowlang::interp::ContactChange::RemoveGroup(g.clone()));
    }
    crate::people::save(exec.store.as_ref(), &sub.msisdn, &changes, now).await?;
    if let Some(next) = &oc.next {
        exec.subscribe(&sub.msisdn, contact, next, now).await?;
    }
    tracing::info!(msisdn = %Masked(&sub.msisdn), set = %sub.set, next = ?oc.next, "message set completed");
    Ok(())
}
