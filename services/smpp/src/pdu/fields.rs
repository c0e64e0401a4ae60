//! Bodies shared by several PDUs: addresses, binds, short messages.

use bytes::{BufMut, Bytes, BytesMut};

use super::wire::{field_error, put_cstr, FieldError, Reader};
use crate::status::CommandStatus;
use crate::tlv::Tlvs;

/// An SME address with its type of number and numbering plan.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Address {
    pub ton: u8,
    pub npi: u8,
    pub addr: String,
}

impl Address {
    pub fn new(ton: u8, npi: u8, addr: impl Into<String>) -> Self {
        Self {
            ton,
            npi,
            addr: addr.into(),
        }
    }

    pub(crate) fn read(r: &mut Reader<'_>, field: &'static str) -> Result<Self, FieldError> {
        Ok(Self {
            ton: r.u8(field)?,
            npi: r.u8(field)?,
            addr: r.cstr(field)?,
        })
    }

    pub(crate) fn write(&self, out: &mut BytesMut) {
        out.put_u8(self.ton);
        out.put_u8(self.npi);
        put_cstr(out, &self.addr);
    }
}

/// bind_transmitter, bind_receiver, bind_transceiver.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Bind {
    pub system_id: String,
    pub password: String,
    pub system_type: String,
    pub interface_version: u8,
    pub addr_ton: u8,
    pub addr_npi: u8,
    pub address_range: String,
}

impl Bind {
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, FieldError> {
        Ok(Self {
            system_id: r.cstr("system_id")?,
            password: r.cstr("password")?,
            system_type: r.cstr("system_type")?,
            interface_version: r.u8("interface_version")?,
            addr_ton: r.u8("addr_ton")?,
            addr_npi: r.u8("addr_npi")?,
            address_range: r.cstr("address_range")?,
        })
    }

    pub(crate) fn write(&self, out: &mut BytesMut) {
        put_cstr(out, &self.system_id);
        put_cstr(out, &self.password);
        put_cstr(out, &self.system_type);
        out.put_u8(self.interface_version);
        out.put_u8(self.addr_ton);
        out.put_u8(self.addr_npi);
        put_cstr(out, &self.address_range);
    }
}

/// submit_sm and deliver_sm share this body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sm {
    pub service_type: String,
    pub source: Address,
    pub dest: Address,
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

/// The most octets `short_message` may hold; longer text goes in `message_payload`.
pub const SHORT_MESSAGE_MAX: usize = 254;

pub(crate) fn read_short_message(r: &mut Reader<'_>) -> Result<Bytes, FieldError> {
    let len = usize::from(r.u8("sm_length")?);
    if len > SHORT_MESSAGE_MAX {
        return Err(field_error(
            "sm_length",
            CommandStatus::ESME_RINVMSGLEN,
            format!("sm_length {len} is over 254"),
        ));
    }
    if len > r.remaining() {
        return Err(field_error(
            "short_message",
            CommandStatus::ESME_RINVMSGLEN,
            format!("sm_length {len} but only {} bytes left in the PDU", r.remaining()),
        ));
    }
    Ok(Bytes::copy_from_slice(r.octets(len, "short_message")?))
}

pub(crate) fn write_short_message(out: &mut BytesMut, sm: &[u8]) {
    let len = sm.len().min(SHORT_MESSAGE_MAX);
    out.put_u8(len as u8);
    out.put_slice(&sm[..len]);
}

impl Sm {
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, FieldError> {
        Ok(Self {
            service_type: r.cstr("service_type")?,
            source: Address::read(r, "source_addr")?,
            dest: Address::read(r, "destination_addr")?,
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
        self.dest.write(out);
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

    /// The message text's octets: `message_payload` if present, else `short_message`.
    pub fn payload(&self) -> &[u8] {
        self.tlvs.message_payload().unwrap_or(&self.short_message)
    }
}

/// data_sm.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DataSm {
    pub service_type: String,
    pub source: Address,
    pub dest: Address,
    pub esm_class: u8,
    pub registered_delivery: u8,
    pub data_coding: u8,
    pub tlvs: Tlvs,
}

impl DataSm {
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, FieldError> {
        Ok(Self {
            service_type: r.cstr("service_type")?,
            source: Address::read(r, "source_addr")?,
            dest: Address::read(r, "destination_addr")?,
            esm_class: r.u8("esm_class")?,
            registered_delivery: r.u8("registered_delivery")?,
            data_coding: r.u8("data_coding")?,
            tlvs: Tlvs::read(r)?,
        })
    }

    pub(crate) fn write(&self, out: &mut BytesMut) {
        put_cstr(out, &self.service_type);
        self.source.write(out);
        self.dest.write(out);
        out.put_u8(self.esm_class);
        out.put_u8(self.registered_delivery);
        out.put_u8(self.data_coding);
        self.tlvs.write(out);
    }
}
