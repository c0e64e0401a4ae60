//! Why an SMPP endpoint cannot start or bind: [`SetupError`].

/// A configured value the server or an ESME cannot use (an account's allow-list, password
/// hash or USSD profile, a TLS certificate, key, CA file or server name), a listener that
/// cannot bind, or a bind to the SMSC that did not come up. The text says which and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SetupError(pub String);

impl From<String> for SetupError {
    fn from(reason: String) -> Self {
        Self(reason)
    }
}

impl From<&str> for SetupError {
    fn from(reason: &str) -> Self {
        Self(reason.to_string())
    }
}
