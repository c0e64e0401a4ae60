//! Encryption at rest (`store.encryption_key_file`): a [`Store`] around either database that
//! seals personal data before it is written and opens it when read.
//!
//! - A message's sender, recipient, text and metadata are sealed together (ChaCha20-Poly1305,
//!   a random nonce per write) into its `content`; the `from`/`to` columns hold a keyed hash
//!   (`h1:` and HMAC-SHA256), so searches by address still work, and nothing else shows the
//!   number. The gateway's billing report (`metadata.carrier`) stays readable for the session
//!   row.
//! - A session's MSISDN is sealed; a contact is stored under the keyed hash of its MSISDN, its
//!   data sealed, its groups hashed (group queries hash the group asked for). Contacts are then
//!   listed in the order of their hashes.
//! - Outbox rows, webhook bodies, the definitions of channels made through the API (they may
//!   hold passwords), SMS conversations' state and subscriptions' MSISDNs are sealed too
//!   (conversations and subscriptions looked up by keyed hash). What retention archives stays
//!   sealed.
//!
//! Both keys come from the one 32-byte key in the file (64 hex characters), derived with
//! HMAC-SHA256 and a label. Sealed text is `enc1:` and base64; reading a value that is not
//! sealed returns it as it is, so a store can be switched to encryption with old rows in
//! place (they stay clear until purged).

use std::collections::BTreeMap;

use async_trait::async_trait;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use rand::RngCore;
use seedgate_proto::{Event, Message, SessionRecord};
use seedgate_runtime::store::{
    Accepted, Advance, ApiToken, ArchiveSink, Contact, ContactQuery, Idempotency, MessageQuery, Purged,
    Record, SessionDay, SessionQuery, Store, StoreError, StoredChannel, StoredMessage, Subscription,
    SubscriptionCount, WebhookJob, WebhookOutcome,
};
use sha2::Sha256;
use uuid::Uuid;

const SEALED: &str = "enc1:";
const HASHED: &str = "h1:";

/// The keys derived from `store.encryption_key_file`.
#[derive(Clone)]
pub struct Key {
    cipher: ChaCha20Poly1305,
    lookup: Vec<u8>,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(..)")
    }
}

fn derive(master: &[u8], label: &str) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(master).expect("HMAC takes keys of any length");
    mac.update(label.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

impl Key {
    /// A key from 64 hex characters (surrounding whitespace ignored).
    pub fn from_hex(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!(
                "the key must be 64 hex characters (32 bytes; e.g. `openssl rand -hex 32`), got {} characters",
                text.len()
            ));
        }
        let master: Vec<u8> = (0..32)
            .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).unwrap_or_default())
            .collect();
        let cipher = ChaCha20Poly1305::new_from_slice(&derive(&master, "seedgate content v1"))
            .map_err(|e| format!("cannot make the cipher: {e}"))?;
        Ok(Self {
            cipher,
            lookup: derive(&master, "seedgate lookup v1"),
        })
    }

    /// Reads the key file named by `path`.
    pub fn load(path: &std::path::Path) -> Result<Self, String> {
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Self::from_hex(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The keyed hash that stands for `value` in lookups.
    pub fn hash(&self, value: &str) -> String {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.lookup).expect("HMAC takes keys of any length");
        mac.update(value.as_bytes());
        let digest = mac.finalize().into_bytes();
        let hex: String = digest[..20].iter().map(|b| format!("{b:02x}")).collect();
        format!("{HASHED}{hex}")
    }

    pub fn seal(&self, plain: &[u8]) -> String {
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), plain)
            .expect("ChaCha20-Poly1305 encrypts any length a store row has");
        let mut out = nonce.to_vec();
        out.extend(sealed);
        format!(
            "{SEALED}{}",
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(out)
        )
    }

    /// Opens a sealed value; a value that is not sealed comes back as it is.
    pub fn open(&self, text: &str) -> Result<Vec<u8>, StoreError> {
        let Some(b64) = text.strip_prefix(SEALED) else {
            return Ok(text.as_bytes().to_vec());
        };
        let bad = |why: &str| StoreError::Rejected(format!("cannot open a sealed value: {why}"));
        let raw = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(b64)
            .map_err(|_| bad("not base64"))?;
        if raw.len() < 12 {
            return Err(bad("too short"));
        }
        let (nonce, sealed) = raw.split_at(12);
        self.cipher
            .decrypt(Nonce::from_slice(nonce), sealed)
            .map_err(|_| bad("wrong key, or the value was changed"))
    }

    fn open_text(&self, text: &str) -> Result<String, StoreError> {
        String::from_utf8(self.open(text)?)
            .map_err(|_| StoreError::Rejected("a sealed value is not UTF-8".into()))
    }
}

/// What a message's sealed content holds.
#[derive(serde::Serialize, serde::Deserialize)]
struct Private {
    from: String,
    to: String,
    content: String,
    metadata: BTreeMap<String, serde_json::Value>,
}

/// A [`Store`] that seals personal data on the way in and opens it on the way out.
#[derive(Debug)]
pub struct Sealed<S> {
    inner: S,
    key: Key,
}

impl<S: Store> Sealed<S> {
    pub fn new(inner: S, key: Key) -> Self {
        Self { inner, key }
    }

    fn seal_message(&self, m: &Message) -> Message {
        let mut metadata = m.metadata.clone();
        let carrier = metadata.remove("carrier");
        let private = Private {
            from: m.from.clone(),
            to: m.to.clone(),
            content: m.content.clone(),
            metadata,
        };
        let mut sealed = m.clone();
        sealed.from = self.key.hash(&m.from);
        sealed.to = self.key.hash(&m.to);
        sealed.content = self.key.seal(&serde_json::to_vec(&private).unwrap_or_default());
        sealed.metadata = carrier.map(|c| ("carrier".to_string(), c)).into_iter().collect();
        sealed
    }

    fn open_message(&self, mut m: Message) -> Result<Message, StoreError> {
        if !m.content.starts_with(SEALED) {
            return Ok(m);
        }
        let p: Private = serde_json::from_slice(&self.key.open(&m.content)?)
            .map_err(|e| StoreError::Rejected(format!("a sealed message does not decode: {e}")))?;
        m.from = p.from;
        m.to = p.to;
        m.content = p.content;
        m.metadata.extend(p.metadata);
        Ok(m)
    }

    fn open_stored(&self, s: StoredMessage) -> Result<StoredMessage, StoreError> {
        Ok(StoredMessage {
            message: self.open_message(s.message)?,
            status: s.status,
        })
    }

    fn open_messages(&self, ms: Vec<Message>) -> Result<Vec<Message>, StoreError> {
        ms.into_iter().map(|m| self.open_message(m)).collect()
    }

    fn seal_session(&self, s: &SessionRecord) -> SessionRecord {
        let mut sealed = s.clone();
        sealed.msisdn = self.key.seal(s.msisdn.as_bytes());
        sealed
    }

    fn open_session(&self, mut s: SessionRecord) -> Result<SessionRecord, StoreError> {
        s.msisdn = self.key.open_text(&s.msisdn)?;
        Ok(s)
    }

    fn seal_contact(&self, c: &Contact) -> Contact {
        let mut sealed = Contact::new(self.key.hash(&c.msisdn), c.created_at);
        sealed.fields.insert(
            "sealed".into(),
            self.key.seal(&serde_json::to_vec(c).unwrap_or_default()).into(),
        );
        sealed.groups = c.groups.iter().map(|g| self.key.hash(g)).collect();
        sealed.opted_out_at = c.opted_out_at;
        sealed.updated_at = c.updated_at;
        sealed.version = c.version;
        sealed
    }

    fn open_contact(&self, c: Contact) -> Result<Contact, StoreError> {
        let Some(serde_json::Value::String(text)) = c.fields.get("sealed") else {
            return Ok(c);
        };
        let mut open: Contact = serde_json::from_slice(&self.key.open(text)?)
            .map_err(|e| StoreError::Rejected(format!("a sealed contact does not decode: {e}")))?;
        open.version = c.version;
        Ok(open)
    }

    fn seal_job(&self, j: &WebhookJob) -> WebhookJob {
        let mut sealed = j.clone();
        sealed.body = self.key.seal(j.body.as_bytes());
        sealed
    }

    fn open_job(&self, mut j: WebhookJob) -> Result<WebhookJob, StoreError> {
        j.body = self.key.open_text(&j.body)?;
        Ok(j)
    }

    /// Opens a subscription's MSISDN; `key` is the lookup key when the caller knows it.
    fn open_subscription(&self, mut s: Subscription, key: Option<&str>) -> Result<Subscription, StoreError> {
        s.msisdn = self.key.open_text(&s.msisdn)?;
        s.key = key.map_or_else(|| s.msisdn.clone(), str::to_string);
        Ok(s)
    }

    fn open_channel(&self, mut c: StoredChannel) -> Result<StoredChannel, StoreError> {
        if let Some(serde_json::Value::String(text)) = c.definition.as_ref().and_then(|d| d.get("sealed")) {
            c.definition = Some(
                serde_json::from_slice(&self.key.open(text)?)
                    .map_err(|e| StoreError::Rejected(format!("a sealed channel does not decode: {e}")))?,
            );
        }
        Ok(c)
    }
}

#[async_trait]
impl<S: Store> Store for Sealed<S> {
    async fn check(&self) -> Result<(), StoreError> {
        self.inner.check().await
    }

    async fn write_batch(&self, records: &[Record]) -> Result<(), StoreError> {
        let sealed: Vec<Record> = records
            .iter()
            .map(|r| match r {
                Record::Message(m) => Record::Message(self.seal_message(m)),
                Record::Session(s) => Record::Session(self.seal_session(s)),
                Record::Event(e) => Record::Event(e.clone()),
            })
            .collect();
        self.inner.write_batch(&sealed).await
    }

    async fn session(&self, id: &str) -> Result<Option<SessionRecord>, StoreError> {
        self.inner
            .session(id)
            .await?
            .map(|s| self.open_session(s))
            .transpose()
    }

    async fn message(&self, id: Uuid) -> Result<Option<Message>, StoreError> {
        self.inner
            .message(id)
            .await?
            .map(|m| self.open_message(m))
            .transpose()
    }

    async fn session_messages(&self, session_id: &str) -> Result<Vec<Message>, StoreError> {
        self.open_messages(self.inner.session_messages(session_id).await?)
    }

    async fn address_messages(&self, address: &str) -> Result<Vec<Message>, StoreError> {
        self.open_messages(self.inner.address_messages(&self.key.hash(address)).await?)
    }

    async fn message_events(&self, message_id: Uuid) -> Result<Vec<Event>, StoreError> {
        self.inner.message_events(message_id).await
    }

    async fn session_report(&self, since: DateTime<Utc>) -> Result<Vec<SessionDay>, StoreError> {
        self.inner.session_report(since).await
    }

    async fn accept(&self, msg: &Message, idempotency: Option<&Idempotency>) -> Result<Accepted, StoreError> {
        self.inner.accept(&self.seal_message(msg), idempotency).await
    }

    async fn outbox_claim(&self, limit: u32, lease: std::time::Duration) -> Result<Vec<Message>, StoreError> {
        self.open_messages(self.inner.outbox_claim(limit, lease).await?)
    }

    async fn outbox_release(&self) -> Result<(), StoreError> {
        self.inner.outbox_release().await
    }

    async fn outbox_done(&self, ids: &[Uuid]) -> Result<(), StoreError> {
        self.inner.outbox_done(ids).await
    }

    async fn stored_message(&self, id: Uuid) -> Result<Option<StoredMessage>, StoreError> {
        self.inner
            .stored_message(id)
            .await?
            .map(|s| self.open_stored(s))
            .transpose()
    }

    async fn messages(&self, query: &MessageQuery) -> Result<Vec<StoredMessage>, StoreError> {
        let mut q = query.clone();
        q.address = q.address.map(|a| self.key.hash(&a));
        self.inner
            .messages(&q)
            .await?
            .into_iter()
            .map(|s| self.open_stored(s))
            .collect()
    }

    async fn sessions(&self, query: &SessionQuery) -> Result<Vec<SessionRecord>, StoreError> {
        self.inner
            .sessions(query)
            .await?
            .into_iter()
            .map(|s| self.open_session(s))
            .collect()
    }

    async fn put_token(&self, token: &ApiToken) -> Result<(), StoreError> {
        self.inner.put_token(token).await
    }

    async fn token_by_hash(&self, hash: &str) -> Result<Option<ApiToken>, StoreError> {
        self.inner.token_by_hash(hash).await
    }

    async fn webhooks_enqueue(&self, jobs: &[WebhookJob]) -> Result<(), StoreError> {
        let sealed: Vec<WebhookJob> = jobs.iter().map(|j| self.seal_job(j)).collect();
        self.inner.webhooks_enqueue(&sealed).await
    }

    async fn webhooks_due(
        &self,
        limit: u32,
        lease: std::time::Duration,
    ) -> Result<Vec<WebhookJob>, StoreError> {
        self.inner
            .webhooks_due(limit, lease)
            .await?
            .into_iter()
            .map(|j| self.open_job(j))
            .collect()
    }

    async fn webhook_settle(&self, id: Uuid, outcome: &WebhookOutcome) -> Result<(), StoreError> {
        self.inner.webhook_settle(id, outcome).await
    }

    async fn webhooks_dead(&self, limit: u32) -> Result<Vec<WebhookJob>, StoreError> {
        self.inner
            .webhooks_dead(limit)
            .await?
            .into_iter()
            .map(|j| self.open_job(j))
            .collect()
    }

    async fn webhook_replay(&self, id: Uuid) -> Result<bool, StoreError> {
        self.inner.webhook_replay(id).await
    }

    async fn purge(
        &self,
        channel: &str,
        before: DateTime<Utc>,
        limit: u32,
        archive: Option<&ArchiveSink<'_>>,
    ) -> Result<Purged, StoreError> {
        // The archive gets the rows as stored: sealed.
        self.inner.purge(channel, before, limit, archive).await
    }

    async fn contact(&self, msisdn: &str) -> Result<Option<Contact>, StoreError> {
        self.inner
            .contact(&self.key.hash(msisdn))
            .await?
            .map(|c| self.open_contact(c))
            .transpose()
    }

    async fn contact_put(&self, contact: &Contact) -> Result<bool, StoreError> {
        self.inner.contact_put(&self.seal_contact(contact)).await
    }

    async fn contacts(&self, query: &ContactQuery) -> Result<Vec<Contact>, StoreError> {
        let q = ContactQuery {
            group: query.group.as_deref().map(|g| self.key.hash(g)),
            opted_out: query.opted_out,
            after: query.after.as_deref().map(|a| self.key.hash(a)),
            limit: query.limit,
        };
        self.inner
            .contacts(&q)
            .await?
            .into_iter()
            .map(|c| self.open_contact(c))
            .collect()
    }

    async fn contact_delete(&self, msisdn: &str) -> Result<bool, StoreError> {
        self.inner.contact_delete(&self.key.hash(msisdn)).await
    }

    async fn channels_stored(&self) -> Result<Vec<StoredChannel>, StoreError> {
        self.inner
            .channels_stored()
            .await?
            .into_iter()
            .map(|c| self.open_channel(c))
            .collect()
    }

    async fn channel_put(
        &self,
        name: &str,
        definition: &serde_json::Value,
    ) -> Result<StoredChannel, StoreError> {
        let sealed = serde_json::json!({ "sealed": self.key.seal(definition.to_string().as_bytes()) });
        self.open_channel(self.inner.channel_put(name, &sealed).await?)
    }

    async fn channel_restart(&self, name: &str) -> Result<StoredChannel, StoreError> {
        self.open_channel(self.inner.channel_restart(name).await?)
    }

    async fn channel_delete(&self, name: &str) -> Result<bool, StoreError> {
        self.inner.channel_delete(name).await
    }

    async fn subscribe(&self, sub: &Subscription) -> Result<bool, StoreError> {
        let mut sealed = sub.clone();
        sealed.key = self.key.hash(&sub.key);
        sealed.msisdn = self.key.seal(sub.msisdn.as_bytes());
        self.inner.subscribe(&sealed).await
    }

    async fn unsubscribe(&self, key: &str, set: &str) -> Result<bool, StoreError> {
        self.inner.unsubscribe(&self.key.hash(key), set).await
    }

    async fn subscriptions_of(&self, key: &str) -> Result<Vec<Subscription>, StoreError> {
        let subs = self.inner.subscriptions_of(&self.key.hash(key)).await?;
        subs.into_iter()
            .map(|s| self.open_subscription(s, Some(key)))
            .collect()
    }

    async fn subscriptions_due(
        &self,
        now: DateTime<Utc>,
        limit: u32,
        lease: std::time::Duration,
    ) -> Result<Vec<Subscription>, StoreError> {
        let subs = self.inner.subscriptions_due(now, limit, lease).await?;
        subs.into_iter()
            .map(|s| self.open_subscription(s, None))
            .collect()
    }

    async fn subscription_advance(&self, step: &Advance, send: Option<&Message>) -> Result<bool, StoreError> {
        let sealed = send.map(|m| self.seal_message(m));
        self.inner.subscription_advance(step, sealed.as_ref()).await
    }

    async fn subscription_counts(&self, behind: DateTime<Utc>) -> Result<Vec<SubscriptionCount>, StoreError> {
        self.inner.subscription_counts(behind).await
    }

    async fn run_get(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.inner
            .run_get(&self.key.hash(key))
            .await?
            .map(|b| self.key.open_text(&b))
            .transpose()
    }

    async fn run_put(
        &self,
        key: &str,
        body: &str,
        wait_until: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        self.inner
            .run_put(&self.key.hash(key), &self.key.seal(body.as_bytes()), wait_until)
            .await
    }

    async fn run_delete(&self, key: &str) -> Result<(), StoreError> {
        self.inner.run_delete(&self.key.hash(key)).await
    }

    async fn runs_due(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<(String, String)>, StoreError> {
        // The key comes back hashed; the state holds what the runner needs to find it again.
        self.inner
            .runs_due(now, limit)
            .await?
            .into_iter()
            .map(|(k, b)| Ok((k, self.key.open_text(&b)?)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Key {
        Key::from_hex(&"ab".repeat(32)).unwrap()
    }

    #[test]
    fn sealing_round_trips_and_tampering_is_caught() {
        let k = key();
        let sealed = k.seal(b"+27820000001");
        assert!(sealed.starts_with(SEALED));
        assert!(!sealed.contains("27820000001"));
        assert_ne!(sealed, k.seal(b"+27820000001"), "a fresh nonce per seal");
        assert_eq!(k.open(&sealed).unwrap(), b"+27820000001");
        let mut bytes = sealed.into_bytes();
        let last = bytes.len() - 2;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        assert!(k.open(&String::from_utf8(bytes).unwrap()).is_err());
        assert_eq!(k.open("not sealed").unwrap(), b"not sealed");
        let other = Key::from_hex(&"cd".repeat(32)).unwrap();
        assert!(other.open(&k.seal(b"x")).is_err(), "another key cannot open it");
    }

    #[test]
    fn lookups_hash_the_same_value_the_same_way() {
        let k = key();
        assert_eq!(k.hash("+27820000001"), k.hash("+27820000001"));
        assert_ne!(k.hash("+27820000001"), k.hash("+27820000002"));
        assert!(!k.hash("+27820000001").contains("2782"));
    }

    #[test]
    fn bad_keys_are_refused_with_the_reason() {
        assert!(Key::from_hex("abc").unwrap_err().contains("64 hex characters"));
        assert!(Key::from_hex(&"zz".repeat(32)).is_err());
    }
}
