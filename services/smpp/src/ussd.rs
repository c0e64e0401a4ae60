//! USSD over SMPP: vendor profiles as data, mapping `deliver_sm` to session new/resume/close
//! and building the `submit_sm` replies.
//!
//! `ussd_service_op` values (SMPP 3.4, 5.3.2.44): 0 PSSD indication, 1 PSSR indication,
//! 2 USSR request, 3 USSN request, 16 PSSD response, 17 PSSR response, 18 USSR confirm,
//! 19 USSN confirm. Gateways differ in which they use, in how they name a dialog and in how
//! they signal that the user hung up; a profile writes those choices down. The three presets
//! follow the three families we meet; check them against the carrier's interface document.

use seedgate_proto::SessionEvent;

use crate::pdu::Sm;
use crate::tlv::{tag, Tlvs};

/// Where a dialog's identity comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialogKey {
    /// `its_session_info`'s session number, with the MSISDN (numbers are reused per phone).
    ItsSessionInfo,
    /// The MSISDN alone: one dialog per phone at a time.
    Msisdn,
}

/// Where the dialled service code is on a dialog's first message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialled {
    /// In `short_message` (e.g. `*134*550#`).
    ShortMessage,
    /// In `destination_addr`.
    DestAddr,
}

/// One vendor's USSD conventions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub name: &'static str,
    pub dialog: DialogKey,
    pub dialled: Dialled,
    /// `ussd_service_op` values that open a dialog.
    pub begin_ops: &'static [u8],
    /// Values that carry the user's answer.
    pub continue_ops: &'static [u8],
    /// Values that say the user or the network ended the dialog.
    pub abort_ops: &'static [u8],
    /// Whether `its_session_info`'s end flag from the network means the dialog ended.
    pub end_flag_aborts: bool,
    /// Our reply that waits for an answer.
    pub reply_continue_op: u8,
    /// Our reply that ends the dialog.
    pub reply_end_op: u8,
}

/// TATA-style (the default): PSSR indication opens with the dialled string in the text, USSR
/// confirm carries answers; we answer USSR request, and PSSR response to end.
pub const TATA: Profile = Profile {
    name: "tata",
    dialog: DialogKey::ItsSessionInfo,
    dialled: Dialled::ShortMessage,
    begin_ops: &[1],
    continue_ops: &[18],
    abort_ops: &[],
    end_flag_aborts: true,
    reply_continue_op: 2,
    reply_end_op: 17,
};

/// 6D-style: dialog ids in `its_session_info`; a user abort comes as PSSD indication (0) or
/// with the end flag set; the dialled string is in the text.
pub const SIX_D: Profile = Profile {
    name: "6d",
    dialog: DialogKey::ItsSessionInfo,
    dialled: Dialled::ShortMessage,
    begin_ops: &[1],
    continue_ops: &[18, 2],
    abort_ops: &[0, 16],
    end_flag_aborts: true,
    reply_continue_op: 2,
    reply_end_op: 17,
};

/// Mica-style: one dialog per MSISDN, the dialled string in `destination_addr`, every user
/// message an indication (the first opens the dialog), USSN confirm as abort.
pub const MICA: Profile = Profile {
    name: "mica",
    dialog: DialogKey::Msisdn,
    dialled: Dialled::DestAddr,
    begin_ops: &[1],
    continue_ops: &[18, 1],
    abort_ops: &[19],
    end_flag_aborts: false,
    reply_continue_op: 2,
    reply_end_op: 17,
};

/// A preset by name.
pub fn profile(name: &str) -> Option<&'static Profile> {
    [&TATA, &SIX_D, &MICA].into_iter().find(|p| p.name == name)
}

/// Whether a deliver_sm is USSD at all.
pub fn is_ussd(sm: &Sm) -> bool {
    sm.service_type.eq_ignore_ascii_case("USSD") || sm.tlvs.ussd_service_op().is_some()
}

/// What a USSD deliver_sm means under a profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbound {
    /// Identifies the dialog within the channel.
    pub dialog: String,
    pub event: SessionEvent,
    /// The user's input (empty for a dialog's first message).
    pub input: String,
    /// The dialled service code, on a first message.
    pub dialled: Option<String>,
    /// `its_session_info`'s session number, to echo in replies.
    pub session_number: Option<u8>,
}

impl Profile {
    /// Reads a USSD deliver_sm; `text` is its decoded `short_message`/`message_payload`.
    /// `known` says whether the dialog is already open (a Mica-style indication then continues).
    pub fn classify(&self, sm: &Sm, text: &str, known: bool) -> Inbound {
        let op = sm.tlvs.ussd_service_op();
        let info = sm.tlvs.its_session_info();
        let session_number = info.map(|(n, _)| n);
        let msisdn = sm.source.addr.as_str();
        let dialog = match (self.dialog, session_number) {
            (DialogKey::ItsSessionInfo, Some(n)) => format!("{msisdn}/{n}"),
            _ => msisdn.to_string(),
        };
        let aborted = op.is_some_and(|o| self.abort_ops.contains(&o))
            || (self.end_flag_aborts && info.is_some_and(|(_, end)| end));
        let begins = op.is_none_or(|o| self.begin_ops.contains(&o))
            && !(known && self.continue_ops.contains(&op.unwrap_or(255)));
        let (event, input, dialled) = if aborted {
            (SessionEvent::Close, String::new(), None)
        } else if begins {
            let dialled = match self.dialled {
                Dialled::ShortMessage => text.trim().to_string(),
                Dialled::DestAddr => sm.dest.addr.clone(),
            };
            (SessionEvent::New, String::new(), Some(dialled))
        } else {
            (SessionEvent::Resume, text.trim().to_string(), None)
        };
        Inbound {
            dialog,
            event,
            input,
            dialled,
            session_number,
        }
    }

    /// The TLVs of our reply: the op, and `its_session_info` echoed (end flag when ending).
    pub fn reply_tlvs(&self, ends: bool, session_number: Option<u8>) -> Tlvs {
        let op = if ends {
            self.reply_end_op
        } else {
            self.reply_continue_op
        };
        let mut tlvs = Tlvs::default().with(tag::USSD_SERVICE_OP, vec![op]);
        if let Some(n) = session_number {
            tlvs.set(tag::ITS_SESSION_INFO, vec![n, u8::from(ends)]);
        }
        tlvs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pdu::Address;
    use bytes::Bytes;

    fn mo(op: Option<u8>, info: Option<[u8; 2]>, text: &str, dest: &str) -> Sm {
        let mut tlvs = Tlvs::default();
        if let Some(op) = op {
            tlvs.set(tag::USSD_SERVICE_OP, vec![op]);
        }
        if let Some(i) = info {
            tlvs.set(tag::ITS_SESSION_INFO, i.to_vec());
        }
        Sm {
            service_type: "USSD".into(),
            source: Address::new(1, 1, "27820000001"),
            dest: Address::new(0, 1, dest),
            short_message: Bytes::from(text.as_bytes().to_vec()),
            tlvs,
            ..Sm::default()
        }
    }

    #[test]
    fn tata_dialogs_begin_continue_and_end() {
        let begin = TATA.classify(&mo(Some(1), Some([7, 0]), "*134*550#", "550"), "*134*550#", false);
        assert_eq!(
            (begin.event, begin.dialled.as_deref(), begin.dialog.as_str()),
            (SessionEvent::New, Some("*134*550#"), "27820000001/7")
        );
        let answer = TATA.classify(&mo(Some(18), Some([7, 0]), "2", "550"), "2", true);
        assert_eq!((answer.event, answer.input.as_str()), (SessionEvent::Resume, "2"));
        let hangup = TATA.classify(&mo(Some(18), Some([7, 1]), "", "550"), "", true);
        assert_eq!(hangup.event, SessionEvent::Close);
        assert_eq!(TATA.reply_tlvs(false, Some(7)).ussd_service_op(), Some(2));
        let end = TATA.reply_tlvs(true, Some(7));
        assert_eq!(
            (end.ussd_service_op(), end.its_session_info()),
            (Some(17), Some((7, true)))
        );
    }

    #[test]
    fn six_d_user_abort_and_mica_dialled_destination() {
        assert_eq!(
            SIX_D
                .classify(&mo(Some(0), Some([3, 0]), "", "x"), "", true)
                .event,
            SessionEvent::Close
        );
        let m = MICA.classify(&mo(Some(1), None, "", "*120*321#"), "", false);
        assert_eq!(
            (m.event, m.dialled.as_deref(), m.dialog.as_str()),
            (SessionEvent::New, Some("*120*321#"), "27820000001")
        );
        assert_eq!(
            MICA.classify(&mo(Some(1), None, "1", "*120*321#"), "1", true)
                .event,
            SessionEvent::Resume,
            "an indication on an open dialog continues it"
        );
        assert_eq!(
            MICA.classify(&mo(Some(19), None, "", "x"), "", true).event,
            SessionEvent::Close
        );
        assert_eq!(profile("6d"), Some(&SIX_D));
        assert_eq!(profile("nope"), None);
    }
}
