//! What the runner does for the interpreter: webhook calls, and the effects of a step
//! (contact changes, subscriptions, SMS), carried out through the store.
//!
//! SMS go through the store's outbox (committed, then relayed to the bus), each with an
//! idempotency key made of the inbound message it answers and its place in the step, so a
//! redelivered message never sends twice.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use seedgate_flowlang::interp::{
    step, ContactChange, Effect, Input, Output, RunContact, StepError, WebhookCall, WebhookResponse,
};
use seedgate_flowlang::load::Flows;
use seedgate_proto::{Direction, Message, TransportType};
use seedgate_runtime::store::{Idempotency, Store, StoreError, Subscription};
use seedgate_runtime::telemetry::Masked;
use tokio::sync::Notify;

/// Bytes of a webhook answer kept as its result.
const MAX_BODY: usize = 64 * 1024;
/// Webhook calls followed in one step at most.
const MAX_CALLS: usize = 10;

/// What the runner needs to carry a step out.
#[derive(Debug, Clone)]
pub struct Executor {
    /// The live flows (message sets are read from the current ones).
    pub catalog: seedgate_runtime::catalog::Catalog,
    pub store: Arc<dyn Store>,
    pub http: reqwest::Client,
    /// Wakes the outbox relay after an SMS was committed.
    pub outbox: Arc<Notify>,
    /// Wakes the campaign scheduler after a subscription.
    pub scheduler: Arc<Notify>,
    /// Where `send_sms` of a USSD flow goes when it names no channel.
    pub sms_channel: String,
    /// The live channels: nothing is sent to one that does not exist.
    pub registry: seedgate_runtime::channels::Registry,
}

/// One of a step's writes, on its way to the store.
type Write<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), StoreError>> + Send + 'a>>;

/// Whether the step both subscribes to a set and leaves it: the two must not race.
fn in_and_out(effects: &[Effect]) -> bool {
    effects.iter().any(|e| match e {
        Effect::Unsubscribe(out) => effects
            .iter()
            .any(|e| matches!(e, Effect::Subscribe(set) if set == out)),
        _ => false,
    })
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Step(#[from] StepError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Executor {
    /// Makes one webhook call.
    pub async fn call(&self, call: &WebhookCall) -> WebhookResponse {
        let method = reqwest::Method::from_bytes(call.method.as_bytes()).unwrap_or(reqwest::Method::POST);
        let mut req = self
            .http
            .request(method, &call.url)
            .timeout(Duration::from_millis(call.timeout_ms));
        for (k, v) in &call.headers {
            req = req.header(k, v);
        }
        if let Some(body) = &call.body {
            if !call
                .headers
                .keys()
                .any(|k| k.eq_ignore_ascii_case("content-type"))
            {
                req = req.header("content-type", "application/json");
            }
            req = req.body(body.clone());
        }
        let started = tokio::time::Instant::now();
        let resp = match req.send().await {
            Ok(r) => {
                let status = r.status().as_u16();
                let mut body = r.text().await.unwrap_or_default();
                if body.len() > MAX_BODY {
                    let mut cut = MAX_BODY;
                    while !body.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    body.truncate(cut);
                }
                WebhookResponse { status, body }
            }
            Err(e) => {
                tracing::warn!(node = %call.node, error = %e, "flow webhook failed");
                WebhookResponse {
                    status: 0,
                    body: String::new(),
                }
            }
        };
        let outcome = if (200..300).contains(&resp.status) {
            "success"
        } else {
            "failure"
        };
        metrics::counter!("seedgate_flows_webhooks_total", "outcome" => outcome).increment(1);
        metrics::histogram!("seedgate_flows_webhook_seconds").record(started.elapsed().as_secs_f64());
        resp
    }

    /// Steps until the run waits or ends: webhook calls made, their answers fed back. The
    /// effects of every step are gathered in the output.
    pub async fn drive(
        &self,
        flows: &Flows,
        flow: &str,
        first: Output,
        contact: &RunContact,
        now: DateTime<Utc>,
    ) -> Result<Output, RunError> {
        let mut out = first;
        let mut effects = std::mem::take(&mut out.effects);
        let mut steps = out.steps;
        let mut entered = std::mem::take(&mut out.entered);
        for _ in 0..MAX_CALLS {
            let Some(call) = out.call.take() else { break };
            let resp = self.call(&call).await;
            out = step(flows, flow, out.state.take(), contact, Input::Webhook(&resp), now)?;
            effects.append(&mut out.effects);
            steps += out.steps;
            entered.append(&mut out.entered);
        }
        out.effects = effects;
        out.steps = steps;
        out.entered = entered;
        Ok(out)
    }

    /// Carries out a step's effects for the contact `msisdn`. `source` names the inbound
    /// message (or timer) the step answered, for the SMS idempotency keys.
    ///
    /// The writes go to the store together, not one after another: the store's writer takes
    /// them into one commit (a registration's contact, subscription and welcome SMS were three
    /// commits in a row). Each is idempotent, so a step that fails part-way is carried out
    /// again whole when its message comes back. A step that subscribes to a set and leaves it
    /// again is carried out in order.
    pub async fn apply(
        &self,
        msisdn: &str,
        contact: &RunContact,
        effects: &[Effect],
        default_channel: &str,
        source: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let changes: Vec<ContactChange> = effects
            .iter()
            .filter_map(|e| match e {
                Effect::Contact(c) => Some(c.clone()),
                _ => None,
            })
            .collect();
        // A subscription whose first message is due wakes the scheduler once every write of
        // the step is in: the scheduler reads the contact's anchor field, which the same
        // step may set (woken at the subscription's own commit, it found no anchor and put
        // the message off by a day).
        let wake = std::sync::atomic::AtomicBool::new(false);
        let mut writes: Vec<Write<'_>> = vec![Box::pin(crate::people::save(
            self.store.as_ref(),
            msisdn,
            &changes,
            now,
        ))];
        for (i, e) in effects.iter().enumerate() {
            match e {
                Effect::Contact(_) => {}
                Effect::Subscribe(set) => {
                    writes.push(Box::pin(self.subscribe_noting(msisdn, contact, set, now, &wake)))
                }
                Effect::Unsubscribe(set) => writes.push(Box::pin(self.unsubscribe(msisdn, set))),
                Effect::SendSms { to, text, channel } => {
                    let channel = channel.as_deref().unwrap_or(default_channel);
                    if self.registry.get(channel).is_none() {
                        tracing::error!(
                            channel,
                            "a flow's send_sms names a channel that does not exist; not sent"
                        );
                        metrics::counter!("seedgate_flows_sms_dropped_total", "reason" => "unknown_channel")
                            .increment(1);
                        continue;
                    }
                    let to = seedgate_proto::msisdn::normalise(to);
                    let key = format!("{source}:{i}");
                    writes.push(Box::pin(async move { self.send(channel, &to, text, &key).await }));
                }
            }
        }
        if in_and_out(effects) {
            for w in writes {
                w.await?;
            }
        } else {
            futures::future::try_join_all(writes).await?;
        }
        if wake.load(std::sync::atomic::Ordering::Relaxed) {
            self.scheduler.notify_one();
        }
        Ok(())
    }

    async fn unsubscribe(&self, msisdn: &str, set: &str) -> Result<(), StoreError> {
        if self.store.unsubscribe(msisdn, set).await? {
            tracing::info!(msisdn = %Masked(msisdn), set, "unsubscribed");
        }
        Ok(())
    }

    /// Subscribes the contact to `set`, starting where the set's policy says; wakes the
    /// scheduler if its first message is due now.
    pub async fn subscribe(
        &self,
        msisdn: &str,
        contact: &RunContact,
        set: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let wake = std::sync::atomic::AtomicBool::new(false);
        self.subscribe_noting(msisdn, contact, set, now, &wake).await?;
        if wake.load(std::sync::atomic::Ordering::Relaxed) {
            self.scheduler.notify_one();
        }
        Ok(())
    }

    /// [`Executor::subscribe`], setting `wake` instead of waking the scheduler (the caller
    /// wakes it once its other writes are in).
    async fn subscribe_noting(
        &self,
        msisdn: &str,
        contact: &RunContact,
        set: &str,
        now: DateTime<Utc>,
        wake: &std::sync::atomic::AtomicBool,
    ) -> Result<(), StoreError> {
        let live = self.catalog.current();
        let Some(ms) = live.flows.message_set(set) else {
            tracing::error!(set, "no such message set; subscription skipped");
            return Ok(());
        };
        let anchor = ms
            .anchor
            .as_ref()
            .and_then(|f| contact.fields.get(f))
            .and_then(|d| seedgate_flowlang::expr::parse_date_text(d));
        if ms.anchor.is_some() && anchor.is_none() {
            tracing::warn!(msisdn = %Masked(msisdn), set, anchor = ?ms.anchor, "the contact has no date in the set's anchor field; not subscribed");
            metrics::counter!("seedgate_flows_subscriptions_total", "set" => set.to_string(), "outcome" => "no_anchor").increment(1);
            return Ok(());
        }
        let Some((index, due)) = seedgate_flowlang::schedule::start(ms, anchor, now) else {
            tracing::info!(msisdn = %Masked(msisdn), set, "every message of the set has passed; not subscribed");
            metrics::counter!("seedgate_flows_subscriptions_total", "set" => set.to_string(), "outcome" => "passed").increment(1);
            return Ok(());
        };
        let sub = Subscription {
            id: uuid::Uuid::now_v7(),
            key: msisdn.to_string(),
            msisdn: msisdn.to_string(),
            set: set.to_string(),
            next_index: u32::try_from(index).unwrap_or(u32::MAX),
            next_due: due,
            state: "active".into(),
            created_at: now,
        };
        let created = self.store.subscribe(&sub).await?;
        let outcome = if created { "subscribed" } else { "already" };
        metrics::counter!("seedgate_flows_subscriptions_total", "set" => set.to_string(), "outcome" => outcome).increment(1);
        tracing::info!(msisdn = %Masked(msisdn), set, first = index, due = %due, outcome, "subscription");
        // Its first message is due now: the scheduler sends it without waiting for its next
        // round. One due later waits for the round.
        if created && due <= now {
            wake.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(())
    }

    /// Commits an SMS to the outbox (once per `key`), and wakes the relay.
    pub async fn send(&self, channel: &str, to: &str, text: &str, key: &str) -> Result<(), StoreError> {
        if text.trim().is_empty() {
            return Ok(());
        }
        let m = sms(channel, to, text);
        let idem = Idempotency {
            scope: "flows".into(),
            key: key.to_string(),
            fingerprint: key.to_string(),
            window: Duration::from_secs(7 * 24 * 3600),
        };
        self.store.accept(&m, Some(&idem)).await?;
        self.outbox.notify_one();
        Ok(())
    }
}

/// An outbound SMS from the flows.
pub fn sms(channel: &str, to: &str, text: &str) -> Message {
    let mut m = Message::inbound(channel, TransportType::Sms, "", to, text);
    m.direction = Direction::Outbound;
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_that_joins_and_leaves_one_set_is_carried_out_in_order() {
        let join = Effect::Subscribe("pregnancy_weekly".into());
        let leave = |set: &str| Effect::Unsubscribe(set.into());
        assert!(in_and_out(&[join.clone(), leave("pregnancy_weekly")]));
        assert!(in_and_out(&[leave("pregnancy_weekly"), join.clone()]));
        assert!(!in_and_out(&[join.clone(), leave("baby_weekly")]));
        assert!(!in_and_out(&[join]));
    }
}
