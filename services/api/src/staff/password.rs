//! Passwords: Argon2id hashes (the crate's defaults, PHC strings), checked off the async
//! threads; one-time passwords; the rules a chosen password must meet.

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::{Rng, RngCore};

/// The shortest password a user may choose.
pub const MIN_LEN: usize = 10;

/// Letters and digits that cannot be mistaken for one another when read aloud or copied
/// by hand (no 0/O, 1/l/I).
const READABLE: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";

/// An Argon2id hash of `password` with a fresh random salt, as a PHC string. Slow on purpose
/// (tens of milliseconds): call it from a blocking thread ([`hash_blocking`]) on a server.
pub fn hash(password: &str) -> String {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).unwrap_or_else(|_| unreachable!("16 bytes encode"));
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .unwrap_or_else(|e| unreachable!("Argon2 with its default parameters hashes: {e}"))
}

/// [`hash`] on a blocking thread.
pub async fn hash_blocking(password: String) -> String {
    tokio::task::spawn_blocking(move || hash(&password))
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
}

/// Whether `password` matches the PHC string `phc` (a string that does not parse matches
/// nothing). Blocking: see [`verify_blocking`].
pub fn verify(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
        .unwrap_or(false)
}

/// Checks `password` against `phc` on a blocking thread; with no hash (an unknown email), it
/// checks against a dummy hash so that the answer takes as long as a wrong password's.
pub async fn verify_blocking(password: String, phc: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || match phc {
        Some(phc) => verify(&password, &phc),
        None => {
            let _ = verify(&password, dummy());
            false
        }
    })
    .await
    .unwrap_or(false)
}

/// A hash of a random password nobody knows, made once.
fn dummy() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash(&one_time()))
}

/// A one-time password: 16 readable characters in groups of four (`abcd-efgh-jkmn-pqrs`,
/// about 79 bits), one word to copy.
pub fn one_time() -> String {
    let mut rng = rand::rng();
    let mut out = String::with_capacity(19);
    for i in 0..16 {
        if i > 0 && i % 4 == 0 {
            out.push('-');
        }
        out.push(char::from(READABLE[rng.random_range(0..READABLE.len())]));
    }
    out
}

/// Why a chosen password is refused, if it is.
pub fn check_new(new: &str, confirm: &str, current: &str) -> Result<(), &'static str> {
    if new.chars().count() < MIN_LEN {
        Err("The new password must be at least 10 characters long.")
    } else if new != confirm {
        Err("The new password and its confirmation differ.")
    } else if new == current {
        Err("The new password must differ from the current one.")
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_is_argon2id_with_a_salt_and_checks_only_its_password() {
        let a = hash("correct horse battery");
        let b = hash("correct horse battery");
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert_ne!(a, b, "each hash has its own salt");
        assert!(verify("correct horse battery", &a));
        assert!(!verify("correct horse battery!", &a));
        assert!(!verify("anything", "not a PHC string"));
    }

    #[tokio::test]
    async fn an_unknown_email_is_checked_against_a_dummy_hash() {
        assert!(!verify_blocking("guess".into(), None).await);
        let h = hash_blocking("s3cret-pass".into()).await;
        assert!(verify_blocking("s3cret-pass".into(), Some(h.clone())).await);
        assert!(!verify_blocking("wrong".into(), Some(h)).await);
        assert!(dummy().starts_with("$argon2id$"));
    }

    #[test]
    fn one_time_passwords_are_long_readable_and_differ() {
        let (a, b) = (one_time(), one_time());
        assert_ne!(a, b);
        assert_eq!(a.len(), 19);
        assert!(a.chars().filter(|c| *c != '-').count() >= 12);
        assert!(a.bytes().all(|c| c == b'-' || READABLE.contains(&c)), "{a}");
        assert!(!a.contains(char::is_whitespace));
    }

    #[test]
    fn a_new_password_must_be_long_confirmed_and_new() {
        assert!(check_new("short", "short", "x")
            .unwrap_err()
            .contains("at least 10"));
        assert!(check_new("long enough 1", "long enough 2", "x")
            .unwrap_err()
            .contains("differ"));
        assert!(check_new("same as before", "same as before", "same as before").is_err());
        assert!(check_new("long enough 1", "long enough 1", "old").is_ok());
    }
}
