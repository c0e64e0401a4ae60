//! Accounts partners bind with: Argon2 password hashes, IP allow-lists, bind limits, and a
//! token bucket for the account's submits per second.

use crate::error::SetupError;
use std::collections::HashMap;
use std::net::IpAddr;

use argon2::password_hash::{Output, PasswordHash};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use ipnet::IpNet;
use seedgate_runtime::config::SmppAccount;

use crate::status::CommandStatus;

/// One account, ready to check binds and submits against.
#[derive(Debug)]
pub struct Account {
    pub cfg: SmppAccount,
    nets: Vec<IpNet>,
    bucket: crate::rate::TokenBucket,
}

/// Why a bind was refused; the status the peer gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    UnknownSystemId,
    BadPassword,
    AddressNotAllowed,
    TooManyBinds,
}

impl Refusal {
    pub fn status(self) -> CommandStatus {
        match self {
            Refusal::UnknownSystemId => CommandStatus::ESME_RINVSYSID,
            Refusal::BadPassword => CommandStatus::ESME_RINVPASWD,
            Refusal::AddressNotAllowed | Refusal::TooManyBinds => CommandStatus::ESME_RBINDFAIL,
        }
    }

    pub fn reason(self) -> &'static str {
        match self {
            Refusal::UnknownSystemId => "unknown system_id",
            Refusal::BadPassword => "wrong password",
            Refusal::AddressNotAllowed => "address not in the account's allow-list",
            Refusal::TooManyBinds => "the account has its maximum number of binds",
        }
    }
}

impl Account {
    pub fn new(cfg: SmppAccount) -> Result<Self, SetupError> {
        let nets = cfg
            .allowed_ips
            .iter()
            .map(|n| {
                n.parse::<IpNet>()
                    .or_else(|_| n.parse::<IpAddr>().map(IpNet::from))
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("account {}: bad allowed_ips entry: {e}", cfg.system_id))?;
        PasswordHash::new(&cfg.password_hash)
            .map_err(|e| format!("account {}: bad password_hash: {e}", cfg.system_id))?;
        Ok(Self {
            bucket: crate::rate::TokenBucket::new(cfg.tps),
            cfg,
            nets,
        })
    }

    pub fn allows(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        self.nets.iter().any(|n| n.contains(&ip))
    }

    /// Verifies `password` (Argon2 is slow and memory-hard on purpose: it runs off the async
    /// threads, two at a time, so a flood of wrong binds costs bounded CPU and memory and
    /// waits in line). The permit travels with the blocking task: a bind abandoned while it
    /// waits cannot let a third verification start beside the two still running.
    pub async fn password_ok(&self, password: &str) -> bool {
        static VERIFYING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);
        let Ok(slot) = VERIFYING.acquire().await else {
            return false;
        };
        let (hash, password) = (self.cfg.password_hash.clone(), password.to_string());
        tokio::task::spawn_blocking(move || {
            let _slot = slot;
            verify(&hash, password.as_bytes())
        })
        .await
        .unwrap_or(false)
    }

    /// Takes one submit from the account's per-second budget; `false` means throttle.
    pub fn take_submit(&self) -> bool {
        self.bucket.try_take()
    }
}

/// Argon2's working memory (`m_cost` KiB: 19 MiB for the demo account's hash) is reserved
/// with at least this many 1 KiB blocks of capacity. An allocation that large is always
/// mapped by the allocator and unmapped when dropped (glibc maps anything above its mmap
/// threshold, which grows with freed mappings but never past 32 MiB); a smaller one is carved
/// from the thread's malloc arena after the first, and every blocking thread's arena kept
/// its 19 MiB for good (50 wrong binds: ~490 MB resident). Capacity past `m_cost` is never
/// touched, so it is never resident.
const MAPPED_BLOCKS: usize = 40 * 1024;

/// Checks `password` against a PHC Argon2 string, as `PasswordVerifier` does (the hash's own
/// algorithm, version and parameters; a constant-time comparison), with memory from
/// [`MAPPED_BLOCKS`].
fn verify(hash: &str, password: &[u8]) -> bool {
    let Ok(hash) = PasswordHash::new(hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (Algorithm::try_from(hash.algorithm), Params::try_from(&hash)) else {
        return false;
    };
    let Ok(version) = hash.version.map_or(Ok(Version::default()), Version::try_from) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (hash.salt, hash.hash) else {
        return false;
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let mut blocks = Vec::with_capacity(params.block_count().max(MAPPED_BLOCKS));
    blocks.resize(params.block_count(), Block::default());
    let mut out = vec![0u8; expected.len()];
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password, salt, &mut out, blocks.as_mut_slice())
        .is_ok()
        && Output::new(&out).is_ok_and(|computed| computed == expected)
}

/// Every configured account by system_id.
#[derive(Debug, Default)]
pub struct Accounts(HashMap<String, std::sync::Arc<Account>>);

impl Accounts {
    pub fn new(cfgs: &[SmppAccount]) -> Result<Self, SetupError> {
        let mut map = HashMap::new();
        for cfg in cfgs {
            map.insert(
                cfg.system_id.clone(),
                std::sync::Arc::new(Account::new(cfg.clone())?),
            );
        }
        Ok(Self(map))
    }

    /// Whether some account's submits go to `channel` (only those can owe a partner a receipt).
    pub fn route_to(&self, channel: &str) -> bool {
        self.0.values().any(|a| a.cfg.route == channel)
    }

    /// Checks a bind's credentials and address (not the bind count: the registry does that).
    pub async fn check(
        &self,
        system_id: &str,
        password: &str,
        ip: IpAddr,
    ) -> Result<std::sync::Arc<Account>, Refusal> {
        let account = self.0.get(system_id).ok_or(Refusal::UnknownSystemId)?;
        if !account.allows(ip) {
            return Err(Refusal::AddressNotAllowed);
        }
        if !account.password_ok(password).await {
            return Err(Refusal::BadPassword);
        }
        Ok(account.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use seedgate_runtime::config::Config;

    fn demo() -> Accounts {
        Accounts::new(&Config::default().smpp_server.accounts).unwrap()
    }

    #[tokio::test]
    async fn the_demo_account_binds_from_loopback_only() {
        let a = demo();
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        assert!(a.check("demo", "demo", lo).await.is_ok());
        assert_eq!(
            a.check("demo", "nope", lo).await.err(),
            Some(Refusal::BadPassword)
        );
        assert_eq!(
            a.check("ghost", "demo", lo).await.err(),
            Some(Refusal::UnknownSystemId)
        );
        assert_eq!(
            a.check("demo", "demo", "10.1.2.3".parse().unwrap()).await.err(),
            Some(Refusal::AddressNotAllowed)
        );
        assert!(
            a.check("demo", "demo", "::ffff:127.0.0.1".parse().unwrap())
                .await
                .is_ok(),
            "IPv4-mapped loopback"
        );
    }

    #[test]
    fn verification_agrees_with_the_argon2_crate() {
        use argon2::password_hash::{PasswordHasher, SaltString};
        use argon2::PasswordVerifier;
        let salt = SaltString::from_b64("c2VlZGdhdGVzYWx0MTIz").unwrap();
        let params = Params::new(64, 1, 1, None).unwrap();
        for algorithm in [Algorithm::Argon2id, Algorithm::Argon2i, Algorithm::Argon2d] {
            let hasher = Argon2::new(algorithm, Version::V0x13, params.clone());
            let phc = hasher.hash_password(b"s3cret", &salt).unwrap().to_string();
            let parsed = PasswordHash::new(&phc).unwrap();
            for (password, right) in [(&b"s3cret"[..], true), (b"s3creT", false), (b"", false)] {
                assert_eq!(verify(&phc, password), right, "{phc}");
                assert_eq!(
                    Argon2::default().verify_password(password, &parsed).is_ok(),
                    right
                );
            }
        }
        assert!(verify(seedgate_runtime::config::DEMO_PASSWORD_HASH, b"demo"));
        assert!(
            !verify("$argon2id$v=19$m=64,t=1,p=1$bm9zYWx0$", b"demo"),
            "no hash"
        );
        assert!(!verify("plain", b"plain"));
    }

    #[tokio::test(start_paused = true)]
    async fn submits_are_throttled_to_the_account_tps() {
        let mut cfg = Config::default().smpp_server.accounts[0].clone();
        cfg.tps = 10;
        let a = Account::new(cfg).unwrap();
        let ok = (0..25).filter(|_| a.take_submit()).count();
        assert_eq!(ok, 10, "a full bucket holds one second's worth");
        tokio::time::advance(std::time::Duration::from_millis(500)).await;
        assert_eq!((0..25).filter(|_| a.take_submit()).count(), 5);
    }
}
