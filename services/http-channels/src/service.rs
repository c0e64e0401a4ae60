//! The HTTP channel connectors as a service of the process (`seedgate run http-channels`):
//! the callback routes on the process's HTTP port and the outbound consumer behind them.

use seedgate_runtime::service::{BoxFuture, Running, ServiceError};
use seedgate_runtime::Runtime;
use tokio_util::sync::CancellationToken;

use crate::Channels;

/// The HTTP channel connectors as a service of the process.
#[derive(Debug, Default)]
pub struct Service;

impl seedgate_runtime::Service for Service {
    fn name(&self) -> &'static str {
        "http-channels"
    }

    fn start(
        self: Box<Self>,
        rt: &Runtime,
        shutdown: CancellationToken,
    ) -> BoxFuture<'static, Result<Running, ServiceError>> {
        let channels = Channels::new(
            rt.config.clone(),
            rt.registry.clone(),
            rt.bus.clone(),
            Some(rt.sessions.clone()),
            rt.monitor.clone(),
        );
        let running = Running::default()
            .routes(crate::app(channels.clone()))
            .task("http-channels", crate::run(channels, shutdown));
        Box::pin(std::future::ready(Ok(running)))
    }
}
