//! Accounts partners bind with: Argon2 password hashes, IP allow-lists, bind limits, and a
//! token bucket for the account's submits per second.

use crate::error::SetupError;
use std::collections::HashMap;
use std::net::IpAddr;

use argon2::password_hash::PasswordHash;
use argon2::{Argon2, PasswordVerifier};
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

    /// Verifies `password` (Argon2 is slow on purpose: run it off the async threads, a few at
    /// a time, so a flood of wrong binds costs bounded CPU and waits in line).
    pub async fn password_ok(&self, password: &str) -> bool {
        static VERIFYING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);
        let Ok(_slot) = VERIFYING.acquire().await else {
            return false;
        };
        let (hash, password) = (self.cfg.password_hash.clone(), password.to_string());
        tokio::task::spawn_blocking(move || {
            PasswordHash::new(&hash)
                .is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
        })
        .await
        .unwrap_or(false)
    }

    /// Takes one submit from the account's per-second budget; `false` means throttle.
    pub fn take_submit(&self) -> bool {
        self.bucket.try_take()
    }
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
