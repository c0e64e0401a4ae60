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

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use hmac::{Hmac, Mac};
use rand::RngCore;
use seedgate_proto::{Message, SessionRecord};
use seedgate_runtime::store::{
    Contact, Record, Store, StoreError, StoredChannel, StoredMessage, Subscription, WebhookJob,
};
use sha2::Sha256;

mod durability;
mod impls;

const SEALED: &str = "enc1:";
const HASHED: &str = "h1:";

/// Why a key file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("{}the key must be 64 hex characters (32 bytes; e.g. `openssl rand -hex 32`), got {len} characters",
        .path.as_ref().map(|p| format!("{}: ", p.display())).unwrap_or_default())]
    Malformed {
        path: Option<std::path::PathBuf>,
        len: usize,
    },
}

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
    pub fn from_hex(text: &str) -> Result<Self, KeyError> {
        let text = text.trim();
        if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(KeyError::Malformed {
                path: None,
                len: text.len(),
            });
        }
        let master: Vec<u8> = (0..32)
            .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).unwrap_or_default())
            .collect();
        let cipher = ChaCha20Poly1305::new_from_slice(&derive(&master, "seedgate content v1"))
            .expect("ChaCha20-Poly1305 takes the 32-byte key HMAC-SHA256 derives");
        Ok(Self {
            cipher,
            lookup: derive(&master, "seedgate lookup v1"),
        })
    }

    /// Reads the key file named by `path`.
    pub fn load(path: &std::path::Path) -> Result<Self, KeyError> {
        let text = std::fs::read_to_string(path).map_err(|source| KeyError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_hex(&text).map_err(|e| match e {
            KeyError::Malformed { len, .. } => KeyError::Malformed {
                path: Some(path.to_path_buf()),
                len,
            },
            other => other,
        })
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

    pub(crate) fn open_text(&self, text: &str) -> Result<String, StoreError> {
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

    /// Records as they are written: messages and sessions sealed, events as they are.
    fn seal_records(&self, records: &[Record]) -> Vec<Record> {
        records
            .iter()
            .map(|r| match r {
                Record::Message(m) => Record::Message(self.seal_message(m)),
                Record::Session(s) => Record::Session(self.seal_session(s)),
                Record::Event(e) => Record::Event(e.clone()),
            })
            .collect()
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
        assert!(Key::from_hex("abc")
            .unwrap_err()
            .to_string()
            .contains("64 hex characters"));
        assert!(Key::from_hex(&"zz".repeat(32)).is_err());
    }
}
