//! Why the process stops with an error, and the exit code each reason gets.

use std::process::ExitCode;

use seedgate_runtime::service::ServiceError;

/// Exit code for bad configuration (BSD `EX_USAGE`).
const EXIT_CONFIG: u8 = 64;

/// Why the process stops with an error.
#[derive(Debug)]
pub enum Failure {
    /// Bad configuration or flow files: exit 64.
    Config(String),
    Other(String),
}

impl Failure {
    /// Says why on stderr; the process's exit code.
    pub fn report(self) -> ExitCode {
        match self {
            Self::Config(msg) => {
                eprintln!("seedgate: {msg}");
                ExitCode::from(EXIT_CONFIG)
            }
            Self::Other(msg) => {
                eprintln!("seedgate: {msg}");
                ExitCode::FAILURE
            }
        }
    }
}

impl From<ServiceError> for Failure {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Config(msg) => Self::Config(msg),
            other => Self::Other(other.to_string()),
        }
    }
}
