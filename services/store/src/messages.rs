//! Messages and events: the store service's batches, and the searches over them.

use async_trait::async_trait;
use seedgate_proto::{Event, Message, SessionEndReason, SessionRecord};
use seedgate_runtime::store::{MessageQuery, MessageStatus, Messages, Record, StoreError, StoredMessage};
use uuid::Uuid;

use crate::sql::{Arg, Query, Row, Tx};
use crate::{enum_name, initial_status, Plan, SqlStore, CHUNK};

/// Orders statuses so an update only moves a message forward (see `MessageStatus::rank`).
const RANK: &str =
    "(CASE messages.status WHEN 'received' THEN 0 WHEN 'queued' THEN 0 WHEN 'submitted' THEN 1 ELSE 2 END)";

const MESSAGE_COLUMNS: &str = "id, channel, transport, direction, from_addr, to_addr, content,
    session_id, session_event, in_reply_to, created_at, body, status";

/// A message's row, in [`MESSAGE_COLUMNS`] order.
fn message_row(m: &Message, status: MessageStatus) -> Result<[Arg; 13], StoreError> {
    Ok([
        m.id.into(),
        (&m.channel).into(),
        enum_name(&m.transport).into(),
        enum_name(&m.direction).into(),
        (&m.from).into(),
        (&m.to).into(),
        (&m.content).into(),
        m.session_id().into(),
        m.session_event().map(|e| enum_name(&e)).into(),
        m.in_reply_to.into(),
        m.created_at.into(),
        Arg::json(m)?,
        status.as_str().into(),
    ])
}

/// Inserts messages (skipping ids already stored), a statement per [`CHUNK`].
pub(crate) async fn insert_messages(
    tx: &mut Tx,
    messages: &[&Message],
    status: impl Fn(&Message) -> MessageStatus,
) -> Result<(), StoreError> {
    for chunk in messages.chunks(CHUNK) {
        let mut q = Query::new(format!("INSERT INTO messages ({MESSAGE_COLUMNS}) VALUES "));
        for (i, m) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.push_row(message_row(m, status(m))?);
        }
        q.push(" ON CONFLICT (id) DO NOTHING");
        tx.exec(&q).await?;
    }
    Ok(())
}

/// Stores outbound messages with their outbox rows: from then on they will be sent.
pub(crate) async fn queue_all(tx: &mut Tx, messages: &[&Message]) -> Result<(), StoreError> {
    insert_messages(tx, messages, |_| MessageStatus::Queued).await?;
    for chunk in messages.chunks(CHUNK) {
        let mut q = Query::new("INSERT INTO outbox (message_id, body, created_at) VALUES ");
        for (i, m) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.push_row([m.id.into(), Arg::json(*m)?, m.created_at.into()]);
        }
        tx.exec(&q).await?;
    }
    Ok(())
}

/// Deletes the outbox rows of `ids`, a statement per [`CHUNK`].
pub(crate) async fn delete_outbox(tx: &mut Tx, ids: &[Uuid]) -> Result<(), StoreError> {
    for chunk in ids.chunks(CHUNK) {
        let ids = Arg::List(chunk.iter().map(|id| Arg::from(*id)).collect());
        tx.exec(&Query::new("DELETE FROM outbox WHERE message_id IN (?)").bind(ids))
            .await?;
    }
    Ok(())
}

async fn insert_events(tx: &mut Tx, events: &[&Event]) -> Result<(), StoreError> {
    for chunk in events.chunks(CHUNK) {
        let mut q =
            Query::new("INSERT INTO events (id, message_id, channel, kind, created_at, body) VALUES ");
        for (i, e) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.push_row([
                e.id.into(),
                e.message_id.into(),
                (&e.channel).into(),
                e.kind_name().into(),
                e.created_at.into(),
                Arg::json(*e)?,
            ]);
        }
        q.push(" ON CONFLICT (id) DO NOTHING");
        tx.exec(&q).await?;
    }
    Ok(())
}

/// The statuses the stored events of outbound `messages` give them, in the order stored.
async fn earlier_statuses(
    tx: &mut Tx,
    messages: &[&Message],
) -> Result<Vec<(Uuid, MessageStatus)>, StoreError> {
    let ids: Vec<Uuid> = messages
        .iter()
        .filter(|m| m.direction == seedgate_proto::Direction::Outbound)
        .map(|m| m.id)
        .collect();
    let mut out = Vec::new();
    for chunk in ids.chunks(CHUNK) {
        let q = Query::new("SELECT body FROM events WHERE message_id IN (?) ORDER BY created_at, id")
            .bind(Arg::List(chunk.iter().map(|&id| id.into()).collect()));
        for row in tx.fetch(&q).await? {
            let e: seedgate_proto::Event = row.json("body")?;
            out.push((e.message_id, MessageStatus::of_event(&e.kind)));
        }
    }
    Ok(out)
}

/// Moves each message's status forward (never back), a statement per [`CHUNK`].
async fn advance_statuses(tx: &mut Tx, statuses: &[(Uuid, MessageStatus)]) -> Result<(), StoreError> {
    for chunk in statuses.chunks(CHUNK) {
        let rows = chunk
            .iter()
            .map(|(id, status)| {
                vec![
                    (*id).into(),
                    status.as_str().into(),
                    i64::from(status.rank()).into(),
                ]
            })
            .collect();
        let q = Query::new(format!(
            "WITH v(id, status, rnk) AS (?)
             UPDATE messages SET status = v.status FROM v WHERE messages.id = v.id AND {RANK} < v.rnk"
        ))
        .bind(Arg::Table(rows));
        tx.exec(&q).await?;
    }
    Ok(())
}

/// Upserts session records, a statement per [`CHUNK`] (one row per session: the records of a
/// batch are coalesced first, and one statement may not touch a row twice): counters only
/// grow, and an ended record never changes.
async fn upsert_sessions(tx: &mut Tx, sessions: &[&SessionRecord]) -> Result<(), StoreError> {
    let max = tx.dialect().greatest();
    for chunk in sessions.chunks(CHUNK) {
        let mut q = Query::new(
            "INSERT INTO sessions (id, channel, msisdn, flow, started_at, ended_at, hops, duration_ms, slices, end_reason) VALUES ",
        );
        for (i, s) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.push_row([
                (&s.id).into(),
                (&s.channel).into(),
                (&s.msisdn).into(),
                (&s.flow).into(),
                s.started_at.into(),
                s.ended_at.into(),
                s.hops.into(),
                s.duration_ms.into(),
                s.slices.into(),
                s.end_reason.map(SessionEndReason::as_str).into(),
            ]);
        }
        q.push(&format!(
            " ON CONFLICT (id) DO UPDATE SET
               flow = COALESCE(excluded.flow, sessions.flow),
               ended_at = excluded.ended_at,
               hops = {max}(sessions.hops, excluded.hops),
               duration_ms = {max}(sessions.duration_ms, excluded.duration_ms),
               slices = {max}(sessions.slices, excluded.slices),
               end_reason = excluded.end_reason
             WHERE sessions.ended_at IS NULL"
        ));
        tx.exec(&q).await?;
    }
    Ok(())
}

/// Writes `records` in `tx` (the store service's batches, and the bus journal's commits):
/// messages and events already stored are skipped, statuses only move forward, a session's
/// updates in one batch become one write.
pub(crate) async fn write_records(tx: &mut Tx, records: &[Record]) -> Result<(), StoreError> {
    if records.is_empty() {
        return Ok(());
    }
    let records = coalesce_sessions(records);
    let plan = Plan::of(&records);
    insert_messages(tx, &plan.messages, initial_status).await?;
    insert_events(tx, &plan.events).await?;
    // A message can come after its own events (a batch that failed and was requeued behind
    // them): the events already stored move it on too.
    let mut best: std::collections::BTreeMap<Uuid, MessageStatus> = std::collections::BTreeMap::new();
    for (id, st) in earlier_statuses(tx, &plan.messages)
        .await?
        .into_iter()
        .chain(plan.statuses.iter().copied())
    {
        let kept = best.entry(id).or_insert(st);
        if st.rank() > kept.rank() {
            *kept = st;
        }
    }
    let statuses: Vec<(Uuid, MessageStatus)> = best.into_iter().collect();
    advance_statuses(tx, &statuses).await?;
    // An event means the connector has the message: it leaves the outbox.
    let delivered: Vec<Uuid> = plan.statuses.iter().map(|(id, _)| *id).collect();
    delete_outbox(tx, &delivered).await?;
    upsert_sessions(tx, &plan.sessions).await?;
    for (session_id, report) in &plan.carriers {
        // Kept with the session (the message row holds it too).
        let q = Query::new("UPDATE sessions SET carrier = ? WHERE id = ?")
            .bind(Arg::json(report)?)
            .bind(*session_id);
        tx.exec(&q).await?;
    }
    Ok(())
}

/// Merges the updates of one session within a batch into one record (a session sends one per
/// hop). The merge keeps what the database's upsert would: the highest counters, the flow once
/// known, and the end once ended. Messages and events pass through in order.
fn coalesce_sessions(records: &[Record]) -> Vec<Record> {
    let mut out: Vec<Record> = Vec::with_capacity(records.len());
    let mut at: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for r in records {
        let Record::Session(s) = r else {
            out.push(r.clone());
            continue;
        };
        match at.get(s.id.as_str()) {
            Some(&i) => {
                if let Record::Session(merged) = &mut out[i] {
                    if merged.ended_at.is_none() {
                        merged.hops = merged.hops.max(s.hops);
                        merged.duration_ms = merged.duration_ms.max(s.duration_ms);
                        merged.slices = merged.slices.max(s.slices);
                        if s.flow.is_some() {
                            merged.flow.clone_from(&s.flow);
                        }
                        if s.ended_at.is_some() {
                            merged.ended_at = s.ended_at;
                            merged.end_reason = s.end_reason;
                        }
                    }
                }
            }
            None => {
                at.insert(&s.id, out.len());
                out.push(r.clone());
            }
        }
    }
    out
}

fn stored(r: &Row) -> Result<StoredMessage, StoreError> {
    let status = r.text("status")?;
    Ok(StoredMessage {
        message: r.json("body")?,
        status: MessageStatus::parse(&status)
            .ok_or_else(|| StoreError::Rejected(format!("bad stored status {status:?}")))?,
    })
}

impl SqlStore {
    async fn messages_where(&self, q: Query) -> Result<Vec<Message>, StoreError> {
        let rows = self.db.fetch(&q).await?;
        rows.iter().map(|r| r.json("body")).collect()
    }
}

/// The forms a search for `address` matches: its stored form
/// ([`seedgate_proto::msisdn::canonical`]), and that without its `+` (rows stored before
/// every direction kept one form). Any form of a number finds the person's messages.
fn address_forms(address: &str) -> (String, String) {
    let stored = seedgate_proto::msisdn::canonical(address);
    let bare = stored.strip_prefix('+').unwrap_or(&stored).to_string();
    (stored, bare)
}

#[async_trait]
impl Messages for SqlStore {
    async fn write_batch(&self, records: &[Record]) -> Result<(), StoreError> {
        let mut tx = self.db.begin().await?;
        write_records(&mut tx, records).await?;
        tx.commit().await
    }

    async fn message(&self, id: Uuid) -> Result<Option<Message>, StoreError> {
        let q = Query::new("SELECT body FROM messages WHERE id = ?").bind(id);
        Ok(self.messages_where(q).await?.pop())
    }

    async fn session_messages(&self, session_id: &str) -> Result<Vec<Message>, StoreError> {
        let q = Query::new("SELECT body FROM messages WHERE session_id = ? ORDER BY created_at, id")
            .bind(session_id);
        self.messages_where(q).await
    }

    async fn address_messages(&self, address: &str) -> Result<Vec<Message>, StoreError> {
        let (a, b) = address_forms(address);
        let q = Query::new(
            "SELECT body FROM messages WHERE from_addr IN (?, ?) OR to_addr IN (?, ?) ORDER BY created_at, id",
        )
        .bind(a.clone())
        .bind(b.clone())
        .bind(a)
        .bind(b);
        self.messages_where(q).await
    }

    async fn message_events(&self, message_id: Uuid) -> Result<Vec<Event>, StoreError> {
        let q = Query::new("SELECT body FROM events WHERE message_id = ? ORDER BY created_at, id")
            .bind(message_id);
        let rows = self.db.fetch(&q).await?;
        rows.iter().map(|r| r.json("body")).collect()
    }

    async fn stored_message(&self, id: Uuid) -> Result<Option<StoredMessage>, StoreError> {
        let q = Query::new("SELECT body, status FROM messages WHERE id = ?").bind(id);
        self.db.fetch_optional(&q).await?.as_ref().map(stored).transpose()
    }

    async fn messages(&self, q: &MessageQuery) -> Result<Vec<StoredMessage>, StoreError> {
        let mut sql = Query::new("SELECT body, status FROM messages WHERE 1 = 1");
        if let Some(c) = &q.channel {
            sql.push(" AND channel = ").push_bind(c);
        }
        if let Some(a) = &q.address {
            let (a, b) = address_forms(a);
            sql.push(" AND (from_addr IN (")
                .push_bind(a.clone())
                .push(", ")
                .push_bind(b.clone());
            sql.push(") OR to_addr IN (")
                .push_bind(a)
                .push(", ")
                .push_bind(b)
                .push("))");
        }
        if let Some(t) = q.since {
            sql.push(" AND created_at >= ").push_bind(t);
        }
        if let Some(t) = q.until {
            sql.push(" AND created_at < ").push_bind(t);
        }
        if let Some(st) = q.status {
            sql.push(" AND status = ").push_bind(st.as_str());
        }
        if let Some(b) = q.before {
            sql.push(" AND id < ").push_bind(b);
        }
        sql.push(" ORDER BY id DESC LIMIT ").push_bind(q.limit);
        self.db.fetch(&sql).await?.iter().map(stored).collect()
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use seedgate_proto::{SessionEndReason, SessionRecord};

    use super::*;

    fn rec(id: &str, hops: u32, ms: u64, end: Option<SessionEndReason>) -> Record {
        Record::Session(SessionRecord {
            id: id.into(),
            channel: "c".into(),
            msisdn: "1".into(),
            flow: (hops > 1).then(|| "demo".to_string()),
            started_at: Utc::now(),
            ended_at: end.map(|_| Utc::now()),
            hops,
            duration_ms: ms,
            slices: SessionRecord::slices_for(ms),
            end_reason: end,
            carrier: None,
        })
    }

    #[test]
    fn one_sessions_updates_in_a_batch_become_one_write() {
        let batch = vec![
            rec("a", 1, 0, None),
            rec("b", 1, 0, None),
            rec("a", 2, 9_000, None),
            rec("a", 3, 25_000, Some(SessionEndReason::Completed)),
            rec("a", 2, 9_000, None), // a late redelivery must not reopen it
        ];
        let out = coalesce_sessions(&batch);
        assert_eq!(out.len(), 2);
        let Record::Session(a) = &out[0] else { panic!() };
        assert_eq!((a.hops, a.duration_ms, a.slices), (3, 25_000, 2));
        assert_eq!(
            (a.end_reason, a.flow.as_deref()),
            (Some(SessionEndReason::Completed), Some("demo"))
        );
        assert!(a.ended_at.is_some());
    }
}
