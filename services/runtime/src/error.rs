//! Where the runtime's errors meet [`ErrorCode`], the one error vocabulary (in `proto`): each
//! backend error names its code, and the code decides what a service does about it (retry or
//! drop a delivery, the HTTP status, the SMPP status).

pub use seedgate_proto::ErrorCode;

use crate::bus::BusError;
use crate::session_store::SessionStoreError;
use crate::store::StoreError;

impl BusError {
    /// `bus_unavailable` (the broker is away or misbehaves), `queue_full` (it refused the
    /// message), `unroutable` (no queue takes it, nor ever will as things are).
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Unavailable(_) | Self::Protocol(_) => ErrorCode::BusUnavailable,
            Self::Rejected(_) => ErrorCode::QueueFull,
            Self::Unroutable(_) | Self::UnknownQueue(_) => ErrorCode::Unroutable,
        }
    }
}

impl StoreError {
    /// `store_unavailable` (the database is away), `internal` (it refused this data).
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Unavailable(_) => ErrorCode::StoreUnavailable,
            Self::Rejected(_) => ErrorCode::Internal,
        }
    }
}

impl SessionStoreError {
    /// Always `unavailable`: the session store is away.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Unavailable(_) => ErrorCode::Unavailable,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_errors_map_onto_the_codes_that_decide_retries() {
        for (e, code, retry) in [
            (BusError::Unavailable("x".into()), ErrorCode::BusUnavailable, true),
            (BusError::Protocol("x".into()), ErrorCode::BusUnavailable, true),
            (BusError::Rejected("x".into()), ErrorCode::QueueFull, true),
            (BusError::Unroutable("x".into()), ErrorCode::Unroutable, false),
            (BusError::UnknownQueue("x".into()), ErrorCode::Unroutable, false),
        ] {
            assert_eq!((e.code(), e.code().retryable()), (code, retry), "{e}");
        }
        assert_eq!(
            StoreError::Unavailable("x".into()).code(),
            ErrorCode::StoreUnavailable
        );
        assert_eq!(StoreError::Rejected("x".into()).code(), ErrorCode::Internal);
        assert!(SessionStoreError::Unavailable("x".into()).code().retryable());
    }
}
