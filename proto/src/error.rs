//! `ErrorCode`: the one error vocabulary. Every failure a service reports to a peer, or acts on
//! itself, is one of these codes, which decides whether to retry and what to answer: the HTTP
//! status and JSON `code` (`{"error": {"code", "message"}}`) and the SMPP `command_status`.

/// What went wrong, in words every surface shares.
///
/// | code | retryable | HTTP | SMPP |
/// |---|---|---|---|
/// | request errors (`bad_request` … `not_supported`, `refused`) | no | 4xx | `ESME_RINVDSTADR`, `ESME_RSUBMITFAIL`, … |
/// | `rate_limited` | yes | 429 | `ESME_RTHROTTLED` |
/// | `queue_full` | yes | 503 | `ESME_RMSGQFUL` |
/// | `bus_unavailable`, `store_unavailable`, `unavailable` | yes | 503 | `ESME_RSYSERR` |
/// | `unroutable`, `internal` | no | 500 | `ESME_RSYSERR` |
///
/// A new code is one arm here; the compiler finds every match to extend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The request is malformed (a field, a body, a payload that does not decode).
    BadRequest,
    /// No valid credentials.
    Unauthorized,
    /// Valid credentials without the right (a token's scope).
    Forbidden,
    /// A change made with a browser session lacks its CSRF token (or carries another).
    Csrf,
    /// The resource the path names does not exist.
    NotFound,
    /// A channel named in a URL path is not configured (connector callbacks); the API's
    /// request-body field is [`ErrorCode::UnknownChannel`]. Same word, other status.
    NoSuchChannel,
    /// The channel the path names does not take HTTP callbacks.
    NotAnHttpChannel,
    /// The method is not accepted on this path.
    MethodNotAllowed,
    /// The body is not JSON.
    UnsupportedMediaType,
    /// The thing is defined in the config file and cannot be changed here.
    DefinedInConfig,
    /// A channel of that name exists.
    ChannelExists,
    /// A staff user with that email exists.
    UserExists,
    /// The record changed since it was read.
    VersionConflict,
    /// The Idempotency-Key was used for a different request.
    IdempotencyKeyReused,
    /// The request names a channel that is not configured.
    UnknownChannel,
    /// The request names a flow that is not published (nor in the flows folder).
    UnknownFlow,
    /// The request names a message that does not exist.
    UnknownMessage,
    /// `reply_to` does not name an inbound message of the channel.
    BadReplyTo,
    /// An SMS send on a USSD channel.
    NotAnSmsChannel,
    /// The recipient opted out.
    OptedOut,
    /// The operation is not supported for this kind of thing.
    NotSupported,
    /// The peer refused this message for good (a permanent SMPP error): it will not succeed.
    Refused,
    /// Too many requests: try again after a pause (SMPP throttling).
    RateLimited,
    /// A queue is full: try again later.
    QueueFull,
    /// The bus cannot be reached.
    BusUnavailable,
    /// The message store cannot be reached.
    StoreUnavailable,
    /// Another backend or the peer is in trouble (session store, an SMSC's system error).
    Unavailable,
    /// Nothing takes this routing key or queue: the message can never be delivered.
    Unroutable,
    /// A fault of our own (a value that does not encode, a refused write).
    Internal,
    /// A flow file that does not parse (YAML, an unknown key or node type): nothing saved.
    InvalidYaml,
    /// A flow draft with errors cannot be published.
    InvalidFlow,
    /// The body is larger than the endpoint takes.
    TooLarge,
}

/// SMPP 3.4 `command_status` values the codes map onto (the `smpp` crate names them all).
mod status {
    pub const ESME_RINVMSGLEN: u32 = 0x01;
    pub const ESME_RSYSERR: u32 = 0x08;
    pub const ESME_RINVDSTADR: u32 = 0x0B;
    pub const ESME_RINVMSGID: u32 = 0x0C;
    pub const ESME_RINVPASWD: u32 = 0x0E;
    pub const ESME_RINVSYSID: u32 = 0x0F;
    pub const ESME_RMSGQFUL: u32 = 0x14;
    pub const ESME_RSUBMITFAIL: u32 = 0x45;
    pub const ESME_RTHROTTLED: u32 = 0x58;
    pub const ESME_RX_T_APPN: u32 = 0x64;
}

impl ErrorCode {
    /// Every code, for tests and documentation.
    pub const ALL: [ErrorCode; 32] = [
        Self::BadRequest,
        Self::Unauthorized,
        Self::Forbidden,
        Self::Csrf,
        Self::NotFound,
        Self::NoSuchChannel,
        Self::NotAnHttpChannel,
        Self::MethodNotAllowed,
        Self::UnsupportedMediaType,
        Self::DefinedInConfig,
        Self::ChannelExists,
        Self::UserExists,
        Self::VersionConflict,
        Self::IdempotencyKeyReused,
        Self::UnknownChannel,
        Self::UnknownFlow,
        Self::UnknownMessage,
        Self::BadReplyTo,
        Self::NotAnSmsChannel,
        Self::OptedOut,
        Self::NotSupported,
        Self::Refused,
        Self::RateLimited,
        Self::QueueFull,
        Self::BusUnavailable,
        Self::StoreUnavailable,
        Self::Unavailable,
        Self::Unroutable,
        Self::Internal,
        Self::InvalidYaml,
        Self::InvalidFlow,
        Self::TooLarge,
    ];

    /// The JSON error `code`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadRequest => "bad_request",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::Csrf => "csrf",
            Self::NotFound => "not_found",
            Self::NoSuchChannel | Self::UnknownChannel => "unknown_channel",
            Self::NotAnHttpChannel => "not_an_http_channel",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::DefinedInConfig => "defined_in_config",
            Self::ChannelExists => "channel_exists",
            Self::UserExists => "user_exists",
            Self::VersionConflict => "version_conflict",
            Self::IdempotencyKeyReused => "idempotency_key_reused",
            Self::UnknownFlow => "unknown_flow",
            Self::UnknownMessage => "unknown_message",
            Self::BadReplyTo => "bad_reply_to",
            Self::NotAnSmsChannel => "not_an_sms_channel",
            Self::OptedOut => "opted_out",
            Self::NotSupported => "not_supported",
            Self::Refused => "refused",
            Self::RateLimited => "rate_limited",
            Self::QueueFull => "queue_full",
            Self::BusUnavailable => "bus_unavailable",
            Self::StoreUnavailable => "store_unavailable",
            Self::Unavailable => "unavailable",
            Self::Unroutable => "unroutable",
            Self::Internal => "internal",
            Self::InvalidYaml => "invalid_yaml",
            Self::InvalidFlow => "invalid_flow",
            Self::TooLarge => "too_large",
        }
    }

    /// Whether the same request or delivery may succeed later: a bus delivery is requeued
    /// (otherwise dropped), an SMPP submit is retried (otherwise nacked).
    pub fn retryable(self) -> bool {
        matches!(
            self,
            Self::RateLimited
                | Self::QueueFull
                | Self::BusUnavailable
                | Self::StoreUnavailable
                | Self::Unavailable
        )
    }

    /// The HTTP status answered with this code.
    pub fn http_status(self) -> u16 {
        match self {
            Self::BadRequest => 400,
            Self::Unauthorized => 401,
            Self::Forbidden | Self::Csrf => 403,
            Self::NotFound | Self::NoSuchChannel | Self::NotAnHttpChannel => 404,
            Self::MethodNotAllowed => 405,
            Self::DefinedInConfig
            | Self::ChannelExists
            | Self::UserExists
            | Self::VersionConflict
            | Self::IdempotencyKeyReused
            | Self::InvalidFlow => 409,
            Self::TooLarge => 413,
            Self::UnsupportedMediaType => 415,
            Self::UnknownChannel
            | Self::UnknownFlow
            | Self::UnknownMessage
            | Self::BadReplyTo
            | Self::NotAnSmsChannel
            | Self::OptedOut
            | Self::NotSupported
            | Self::Refused
            | Self::InvalidYaml => 422,
            Self::RateLimited => 429,
            Self::Unroutable | Self::Internal => 500,
            Self::QueueFull | Self::BusUnavailable | Self::StoreUnavailable | Self::Unavailable => 503,
        }
    }

    /// The SMPP `command_status` answered with this code (the SMPP server's `submit_sm_resp`).
    pub fn command_status(self) -> u32 {
        match self {
            Self::BadRequest | Self::UnsupportedMediaType => status::ESME_RINVMSGLEN,
            Self::Unauthorized => status::ESME_RINVPASWD,
            Self::Forbidden | Self::Csrf => status::ESME_RINVSYSID,
            Self::NotFound | Self::UnknownMessage | Self::BadReplyTo => status::ESME_RINVMSGID,
            Self::NoSuchChannel | Self::UnknownChannel | Self::NotAnSmsChannel | Self::OptedOut => {
                status::ESME_RINVDSTADR
            }
            Self::NotAnHttpChannel
            | Self::MethodNotAllowed
            | Self::DefinedInConfig
            | Self::ChannelExists
            | Self::UserExists
            | Self::VersionConflict
            | Self::IdempotencyKeyReused
            | Self::NotSupported
            | Self::Refused
            | Self::InvalidYaml
            | Self::InvalidFlow
            | Self::UnknownFlow
            | Self::TooLarge => status::ESME_RSUBMITFAIL,
            Self::RateLimited => status::ESME_RTHROTTLED,
            Self::QueueFull => status::ESME_RMSGQFUL,
            Self::BusUnavailable
            | Self::StoreUnavailable
            | Self::Unavailable
            | Self::Unroutable
            | Self::Internal => status::ESME_RSYSERR,
        }
    }

    /// The code of an SMPP peer's error answer (an SMSC's `submit_sm_resp`): throttling, a full
    /// queue and system or temporary application errors are worth a retry; anything else is
    /// the peer refusing this message. `None` for `ESME_ROK`.
    pub fn from_command_status(command_status: u32) -> Option<Self> {
        match command_status {
            0 => None,
            status::ESME_RTHROTTLED => Some(Self::RateLimited),
            status::ESME_RMSGQFUL => Some(Self::QueueFull),
            status::ESME_RSYSERR | status::ESME_RX_T_APPN => Some(Self::Unavailable),
            _ => Some(Self::Refused),
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_backend_trouble_and_throttling_are_retried_and_they_answer_5xx_or_429() {
        for code in ErrorCode::ALL {
            let status = code.http_status();
            if code.retryable() {
                assert!(status == 429 || status == 503, "{code}: {status}");
            } else {
                assert!((400..=500).contains(&status), "{code}: {status}");
            }
        }
    }

    #[test]
    fn the_codes_services_rely_on_keep_their_status_and_decision() {
        use ErrorCode as C;
        for (code, word, retry, http, smpp) in [
            (C::BadRequest, "bad_request", false, 400, status::ESME_RINVMSGLEN),
            (
                C::UnknownChannel,
                "unknown_channel",
                false,
                422,
                status::ESME_RINVDSTADR,
            ),
            (
                C::NoSuchChannel,
                "unknown_channel",
                false,
                404,
                status::ESME_RINVDSTADR,
            ),
            (C::Csrf, "csrf", false, 403, status::ESME_RINVSYSID),
            (C::RateLimited, "rate_limited", true, 429, status::ESME_RTHROTTLED),
            (C::QueueFull, "queue_full", true, 503, status::ESME_RMSGQFUL),
            (
                C::BusUnavailable,
                "bus_unavailable",
                true,
                503,
                status::ESME_RSYSERR,
            ),
            (
                C::StoreUnavailable,
                "store_unavailable",
                true,
                503,
                status::ESME_RSYSERR,
            ),
            (C::Unroutable, "unroutable", false, 500, status::ESME_RSYSERR),
            (C::Internal, "internal", false, 500, status::ESME_RSYSERR),
        ] {
            assert_eq!(
                (
                    code.as_str(),
                    code.retryable(),
                    code.http_status(),
                    code.command_status()
                ),
                (word, retry, http, smpp),
                "{code:?}"
            );
        }
    }

    #[test]
    fn an_smscs_temporary_errors_are_retried_and_the_rest_refuse_the_message() {
        for (status, code) in [
            (status::ESME_RTHROTTLED, ErrorCode::RateLimited),
            (status::ESME_RMSGQFUL, ErrorCode::QueueFull),
            (status::ESME_RSYSERR, ErrorCode::Unavailable),
            (status::ESME_RX_T_APPN, ErrorCode::Unavailable),
            (status::ESME_RINVDSTADR, ErrorCode::Refused),
            (0x65, ErrorCode::Refused),
        ] {
            assert_eq!(
                ErrorCode::from_command_status(status),
                Some(code),
                "0x{status:02X}"
            );
        }
        assert_eq!(ErrorCode::from_command_status(0), None);
        assert!(!ErrorCode::Refused.retryable());
    }

    #[test]
    fn codes_are_snake_case_words() {
        for code in ErrorCode::ALL {
            let s = code.as_str();
            assert!(s.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{s}");
        }
    }
}
