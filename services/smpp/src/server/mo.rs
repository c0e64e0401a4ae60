//! MO for partners: inbound SMS on an account's `mo_channels` go to one of its receiving binds
//! as `deliver_sm`; the bus delivery is acknowledged only once the partner answered `ESME_ROK`.

use std::sync::Arc;

use bytes::Bytes;
use seedgate_proto::Message;
use seedgate_runtime::bus::BusError;
use seedgate_runtime::topology::SMPP_SERVER_INBOUND_QUEUE;
use seedgate_runtime::worker::{decode, ErrorCode, HandleError};
use tokio_util::sync::CancellationToken;

use super::Server;
use crate::pdu::{Address, Pdu, Sm, SHORT_MESSAGE_MAX};
use crate::text::{data_coding, gsm7, split::coding_for, ucs2};
use crate::tlv::{tag, Tlvs};

impl Server {
    async fn on_inbound(&self, payload: &[u8]) -> Result<(), HandleError> {
        let msg: Message = decode(payload)?;
        if msg.session.is_some() {
            return Ok(()); // USSD belongs to the session engine
        }
        let Some(account) = self
            .config
            .smpp_server
            .accounts
            .iter()
            .find(|a| a.mo_channels.contains(&msg.channel))
        else {
            return Ok(());
        };
        let Some(link) = self.receiver(&account.system_id) else {
            return Err(HandleError::new(
                ErrorCode::Unavailable,
                format!("no receiving bind for account {}", account.system_id),
            ));
        };
        let coding = coding_for(&msg.content);
        let octets = if coding == data_coding::UCS2 {
            ucs2::encode(&msg.content)
        } else {
            gsm7::encode(&msg.content).unwrap_or_default()
        };
        let mut sm = Sm {
            source: Address::new(1, 1, msg.from.trim_start_matches('+')),
            dest: Address::new(0, 1, msg.to.clone()),
            data_coding: coding,
            ..Sm::default()
        };
        if octets.len() > SHORT_MESSAGE_MAX {
            sm.tlvs = Tlvs::default().with(tag::MESSAGE_PAYLOAD, octets);
        } else {
            sm.short_message = Bytes::from(octets);
        }
        match link.request(Pdu::DeliverSm(sm)).await {
            Ok(resp) if resp.status.is_ok() => {
                metrics::counter!("seedgate_smpp_server_mo_total", "account" => account.system_id.clone())
                    .increment(1);
                Ok(())
            }
            Ok(resp) => Err(HandleError::new(
                ErrorCode::Unavailable,
                format!("partner answered the MO with {}", resp.status),
            )),
            Err(e) => Err(HandleError::new(
                ErrorCode::Unavailable,
                format!("MO not answered: {e}"),
            )),
        }
    }
}

pub(super) async fn run(server: Arc<Server>, shutdown: CancellationToken) -> Result<(), BusError> {
    if !server
        .config
        .smpp_server
        .accounts
        .iter()
        .any(|a| !a.mo_channels.is_empty())
    {
        shutdown.cancelled().await;
        return Ok(());
    }
    let handler = {
        let server = server.clone();
        move |_key: String, payload: Vec<u8>| {
            let server = server.clone();
            async move { server.on_inbound(&payload).await }
        }
    };
    let (bus, prefetch) = (server.bus.clone(), server.config.bus.prefetch);
    seedgate_runtime::worker::consume(
        "smpp-server-mo",
        bus,
        SMPP_SERVER_INBOUND_QUEUE,
        prefetch,
        shutdown,
        handler,
    )
    .await
}
