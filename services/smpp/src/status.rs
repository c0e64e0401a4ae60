//! SMPP 3.4 `command_status` values (section 5.1.3).

/// A `command_status`. Known values have names; any other value is kept as is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CommandStatus(pub u32);

macro_rules! statuses {
    ($($name:ident = $value:expr, $text:expr;)*) => {
        impl CommandStatus {
            $(pub const $name: CommandStatus = CommandStatus($value);)*

            /// The specification's name, e.g. `ESME_RTHROTTLED`.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($value => Some(stringify!($name)),)*
                    _ => None,
                }
            }

            /// The specification's description.
            pub fn description(self) -> &'static str {
                match self.0 {
                    $($value => $text,)*
                    _ => "unknown or vendor-specific error",
                }
            }
        }
    };
}

statuses! {
    ESME_ROK = 0x00, "No error";
    ESME_RINVMSGLEN = 0x01, "Message length is invalid";
    ESME_RINVCMDLEN = 0x02, "Command length is invalid";
    ESME_RINVCMDID = 0x03, "Invalid command ID";
    ESME_RINVBNDSTS = 0x04, "Incorrect bind status for given command";
    ESME_RALYBND = 0x05, "ESME already in bound state";
    ESME_RINVPRTFLG = 0x06, "Invalid priority flag";
    ESME_RINVREGDLVFLG = 0x07, "Invalid registered delivery flag";
    ESME_RSYSERR = 0x08, "System error";
    ESME_RINVSRCADR = 0x0A, "Invalid source address";
    ESME_RINVDSTADR = 0x0B, "Invalid destination address";
    ESME_RINVMSGID = 0x0C, "Message ID is invalid";
    ESME_RBINDFAIL = 0x0D, "Bind failed";
    ESME_RINVPASWD = 0x0E, "Invalid password";
    ESME_RINVSYSID = 0x0F, "Invalid system ID";
    ESME_RCANCELFAIL = 0x11, "Cancel SM failed";
    ESME_RREPLACEFAIL = 0x13, "Replace SM failed";
    ESME_RMSGQFUL = 0x14, "Message queue full";
    ESME_RINVSERTYP = 0x15, "Invalid service type";
    ESME_RINVNUMDESTS = 0x33, "Invalid number of destinations";
    ESME_RINVDLNAME = 0x34, "Invalid distribution list name";
    ESME_RINVDESTFLAG = 0x40, "Destination flag is invalid (submit_multi)";
    ESME_RINVSUBREP = 0x42, "Invalid submit with replace request";
    ESME_RINVESMCLASS = 0x43, "Invalid esm_class field data";
    ESME_RCNTSUBDL = 0x44, "Cannot submit to distribution list";
    ESME_RSUBMITFAIL = 0x45, "submit_sm or submit_multi failed";
    ESME_RINVSRCTON = 0x48, "Invalid source address TON";
    ESME_RINVSRCNPI = 0x49, "Invalid source address NPI";
    ESME_RINVDSTTON = 0x50, "Invalid destination address TON";
    ESME_RINVDSTNPI = 0x51, "Invalid destination address NPI";
    ESME_RINVSYSTYP = 0x53, "Invalid system_type field";
    ESME_RINVREPFLAG = 0x54, "Invalid replace_if_present flag";
    ESME_RINVNUMMSGS = 0x55, "Invalid number of messages";
    ESME_RTHROTTLED = 0x58, "Throttling error (ESME has exceeded allowed message limits)";
    ESME_RINVSCHED = 0x61, "Invalid scheduled delivery time";
    ESME_RINVEXPIRY = 0x62, "Invalid message validity period (expiry time)";
    ESME_RINVDFTMSGID = 0x63, "Predefined message invalid or not found";
    ESME_RX_T_APPN = 0x64, "ESME receiver temporary app error code";
    ESME_RX_P_APPN = 0x65, "ESME receiver permanent app error code";
    ESME_RX_R_APPN = 0x66, "ESME receiver reject message error code";
    ESME_RQUERYFAIL = 0x67, "query_sm request failed";
    ESME_RINVOPTPARSTREAM = 0xC0, "Error in the optional part of the PDU body";
    ESME_ROPTPARNOTALLWD = 0xC1, "Optional parameter not allowed";
    ESME_RINVPARLEN = 0xC2, "Invalid parameter length";
    ESME_RMISSINGOPTPARAM = 0xC3, "Expected optional parameter missing";
    ESME_RINVOPTPARAMVAL = 0xC4, "Invalid optional parameter value";
    ESME_RDELIVERYFAILURE = 0xFE, "Delivery failure (data_sm_resp)";
    ESME_RUNKNOWNERR = 0xFF, "Unknown error";
}

impl CommandStatus {
    pub fn is_ok(self) -> bool {
        self == Self::ESME_ROK
    }

    /// Errors after which the same message may succeed later (throttling, full queues,
    /// system trouble): those whose [`ErrorCode`](seedgate_proto::ErrorCode) is retryable.
    /// Anything else is permanent for that message.
    pub fn is_temporary(self) -> bool {
        seedgate_proto::ErrorCode::from_command_status(self.0).is_some_and(|c| c.retryable())
    }

    /// The status answered for a failure of `code`.
    pub fn of(code: seedgate_proto::ErrorCode) -> Self {
        Self(code.command_status())
    }
}

impl std::fmt::Display for CommandStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{n} (0x{:08X}: {})", self.0, self.description()),
            None => write!(f, "0x{:08X} ({})", self.0, self.description()),
        }
    }
}
