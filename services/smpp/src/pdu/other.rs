//! The less common bodies: responses with ids, submit_multi, query/cancel/replace, outbind,
//! alert_notification.

use bytes::{BufMut, Bytes, BytesMut};

use super::fields::{read_short_message, write_short_message, Address};
use super::wire::{field_error, put_cstr, FieldError, Reader};
use crate::status::CommandStatus;
use crate::tlv::Tlvs;

/// bind_*_resp.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BindResp {
    pub system_id: String,
    pub tlvs: Tlvs,
}

impl BindResp {
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, FieldError> {
        // A failed bind may come back without a body.
        if r.is_empty() {
            return Ok(Self::default());
        }
        Ok(Self {
            system_id: r.cstr("system_id")?,
            tlvs: Tlvs::read(r)?,
        })
    }

    pub(crate) fn write(&self, out: &mut BytesMut) {
        put_cstr(out, &self.system_id);
        self.tlvs.write(out);
    }
}

/// submit_sm_resp, deliver_sm_resp, data_sm_resp.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SmResp {
    pub message_id: String,
    /// Only data_sm_resp carries optional parameters.
    pub tlvs: Tlvs,
}

impl SmResp {
    pub fn new(message_id: impl Into<String>) -> Self {
        Self {
            message_id: message_id.into(),
            tlvs: Tlvs::default(),
        }
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, FieldError> {
        // With an error status the body may be absent (SMPP 3.4, 4.4.2).
        if r.is_empty() {
            return Ok(Self::default());
        }
        Ok(Self {
            message_id: r.cstr("message_id")?,
            tlvs: Tlvs::read(r)?,
        })
    }

    pub(crate) fn write(&self, out: &mut BytesMut) {
        put_cstr(out, &self.message_id);
        self.tlvs.write(out);
    }
}

/// One destination of a submit_multi: an SME address or a distribution list name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MultiDest {
    Sme(Address),
    List(String),
}

/// submit_multi.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SubmitMulti {
    pub service_type: String,
    pub source: Address,
    pub dests: Vec<MultiDest>,
    pub esm_class: u8,
    pub protocol_id: u8,
    pub priority_flag: u8,
    pub schedule_delivery_time: String,
    pub validity_period: String,
    pub registered_delivery: u8,
    pub replace_if_present_flag: u8,
    pub data_coding: u8,
    pub sm_default_msg_id: u8,
    pub short_message: Bytes,
    pub tlvs: Tlvs,
}

impl SubmitMulti {
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, FieldError> {
        let service_type = r.cstr("service_type")?;
        let source = Address::read(r, "source_addr")?;
        let n = r.u8("number_of_dests")?;
        if n == 0 {
            return Err(field_error(
                "number_of_dests",
                CommandStatus::ESME_RINVNUMDESTS,
                "number_of_dests is 0",
            ));
        }
        let mut dests = Vec::with_capacity(usize::from(n));
        for _ in 0..n {
            dests.push(match r.u8("dest_flag")? {
                1 => MultiDest::Sme(Address::read(r, "dest_address")?),
                2 => MultiDest::List(r.cstr("dl_name")?),
                other => {
                    return Err(field_error(
                        "dest_flag",
                        CommandStatus::ESME_RINVDESTFLAG,
                        format!("dest_flag {other} (expected 1 or 2)"),
                    ))
                }
            });
        }
        Ok(Self {
            service_type,
            source,
            dests,
            esm_class: r.u8("esm_class")?,
            protocol_id: r.u8("protocol_id")?,
            priority_flag: r.u8("priority_flag")?,
            schedule_delivery_time: r.cstr("schedule_delivery_time")?,
            validity_period: r.cstr("validity_period")?,
            registered_delivery: r.u8("registered_delivery")?,
            replace_if_present_flag: r.u8("replace_if_present_flag")?,
            data_coding: r.u8("data_coding")?,
            sm_default_msg_id: r.u8("sm_default_msg_id")?,
            short_message: read_short_message(r)?,
            tlvs: Tlvs::read(r)?,
        })
    }

    pub(crate) fn write(&self, out: &mut BytesMut) {
        put_cstr(out, &self.service_type);
        self.source.write(out);
        out.put_u8(self.dests.len().min(255) as u8);
        for d in self.dests.iter().take(255) {
            match d {
                MultiDest::Sme(a) => {
                    out.put_u8(1);
                    a.write(out);
                }
                MultiDest::List(name) => {
                    out.put_u8(2);
                    put_cstr(out, name);
                }
            }
        }
        out.put_u8(self.esm_class);
        out.put_u8(self.protocol_id);
        out.put_u8(self.priority_flag);
        put_cstr(out, &self.schedule_delivery_time);
        put_cstr(out, &self.validity_period);
        out.put_u8(self.registered_delivery);
        out.put_u8(self.replace_if_present_flag);
        out.put_u8(self.data_coding);
        out.put_u8(self.sm_default_msg_id);
        write_short_message(out, &self.short_message);
        self.tlvs.write(out);
    }
}

/// A destination submit_multi could not reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsuccess {
    pub dest: Address,
    pub error_status: CommandStatus,
}

/// submit_multi_resp.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SubmitMultiResp {
    pub message_id: String,
    pub unsuccess: Vec<Unsuccess>,
}

impl SubmitMultiResp {
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, FieldError> {
        if r.is_empty() {
            return Ok(Self::default());
        }
        let message_id = r.cstr("message_id")?;
        let n = r.u8("no_unsuccess")?;
        let mut unsuccess = Vec::with_capacity(usize::from(n));
        for _ in 0..n {
            unsuccess.push(Unsuccess {
                dest: Address::read(r, "unsuccess_sme")?,
                error_status: CommandStatus(r.u32("error_status_code")?),
            });
        }
        Ok(Self {
            message_id,
            unsuccess,
        })
    }

    pub(crate) fn write(&self, out: &mut BytesMut) {
        put_cstr(out, &self.message_id);
        out.put_u8(self.unsuccess.len().min(255) as u8);
        for u in self.unsuccess.iter().take(255) {
            u.dest.write(out);
            out.put_u32(u.error_status.0);
        }
    }
}

/// query_sm.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QuerySm {
    pub message_id: String,
    pub source: Address,
}

/// query_sm_resp.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QuerySmResp {
    pub message_id: String,
    pub final_date: String,
    pub message_state: u8,
    pub error_code: u8,
}

/// cancel_sm.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CancelSm {
    pub service_type: String,
    pub message_id: String,
    pub source: Address,
    pub dest: Address,
}

/// replace_sm.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReplaceSm {
    pub message_id: String,
    pub source: Address,
    pub schedule_delivery_time: String,
    pub validity_period: String,
    pub registered_delivery: u8,
    pub sm_default_msg_id: u8,
    pub short_message: Bytes,
}

/// outbind.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Outbind {
    pub system_id: String,
    pub password: String,
}

/// alert_notification.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AlertNotification {
    pub source: Address,
    pub esme: Address,
    pub tlvs: Tlvs,
}

impl QuerySm {
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, FieldError> {
        Ok(Self {
            message_id: r.cstr("message_id")?,
            source: Address::read(r, "source_addr")?,
        })
    }
    pub(crate) fn write(&self, out: &mut BytesMut) {
        put_cstr(out, &self.message_id);
        self.source.write(out);
    }
}

impl QuerySmResp {
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, FieldError> {
        if r.is_empty() {
            return Ok(Self::default());
        }
        Ok(Self {
            message_id: r.cstr("message_id")?,
            final_date: r.cstr("final_date")?,
            message_state: r.u8("message_state")?,
            error_code: r.u8("error_code")?,
        })
    }
    pub(crate) fn write(&self, out: &mut BytesMut) {
        put_cstr(out, &self.message_id);
        put_cstr(out, &self.final_date);
        out.put_u8(self.message_state);
        out.put_u8(self.error_code);
    }
}

impl CancelSm {
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, FieldError> {
        Ok(Self {
            service_type: r.cstr("service_type")?,
            message_id: r.cstr("message_id")?,
            source: Address::read(r, "source_addr")?,
            dest: Address::read(r, "destination_addr")?,
        })
    }
    pub(crate) fn write(&self, out: &mut BytesMut) {
        put_cstr(out, &self.service_type);
        put_cstr(out, &self.message_id);
        self.source.write(out);
        self.dest.write(out);
    }
}

impl ReplaceSm {
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, FieldError> {
        Ok(Self {
            message_id: r.cstr("message_id")?,
            source: Address::read(r, "source_addr")?,
            schedule_delivery_time: r.cstr("schedule_delivery_time")?,
            validity_period: r.cstr("validity_period")?,
            registered_delivery: r.u8("registered_delivery")?,
            sm_default_msg_id: r.u8("sm_default_msg_id")?,
            short_message: read_short_message(r)?,
        })
    }
    pub(crate) fn write(&self, out: &mut BytesMut) {
        put_cstr(out, &self.message_id);
        self.source.write(out);
        put_cstr(out, &self.schedule_delivery_time);
        put_cstr(out, &self.validity_period);
        out.put_u8(self.registered_delivery);
        out.put_u8(self.sm_default_msg_id);
        write_short_message(out, &self.short_message);
    }
}

impl Outbind {
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, FieldError> {
        Ok(Self {
            system_id: r.cstr("system_id")?,
            password: r.cstr("password")?,
        })
    }
    pub(crate) fn write(&self, out: &mut BytesMut) {
        put_cstr(out, &self.system_id);
        put_cstr(out, &self.password);
    }
}

impl AlertNotification {
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, FieldError> {
        Ok(Self {
            source: Address::read(r, "source_addr")?,
            esme: Address::read(r, "esme_addr")?,
            tlvs: Tlvs::read(r)?,
        })
    }
    pub(crate) fn write(&self, out: &mut BytesMut) {
        self.source.write(out);
        self.esme.write(out);
        self.tlvs.write(out);
    }
}
