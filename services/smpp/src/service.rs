//! The SMPP connectors as a service of the process (`seedgate run smpp`): simulated
//! carriers, ESME binds to carriers' SMSCs, and the SMPP server partners bind to.

use seedgate_runtime::config::Config;
use seedgate_runtime::service::{BoxFuture, Running, ServiceError};
use seedgate_runtime::Runtime;
use tokio_util::sync::CancellationToken;

/// Everything the SMPP connectors refuse in `config`, before any port is bound: USSD
/// profiles of ESME channels and, with the server on, its accounts and TLS files.
pub fn check(config: &Config) -> Result<(), ServiceError> {
    for (name, ch) in &config.channels {
        if let Some(p) = ch.smpp().and_then(|e| e.ussd_profile.as_deref()) {
            if crate::ussd::profile(p).is_none() {
                return Err(ServiceError::Config(format!(
                    "invalid config at `channels.{name}.smpp.ussd_profile`: unknown profile `{p}` (use tata, 6d or mica)"
                )));
            }
        }
    }
    if config.smpp_server.enabled {
        crate::server::Server::check(config)
            .map_err(|e| ServiceError::Config(format!("invalid config at `smpp_server.accounts`: {e}")))?;
        if let Some(tls) = &config.smpp_server.tls {
            crate::tls::acceptor(&tls.cert_file, &tls.key_file)
                .map_err(|e| ServiceError::Config(format!("invalid config at `smpp_server.tls`: {e}")))?;
        }
    }
    Ok(())
}

/// The SMPP connectors as a service of the process.
#[derive(Debug, Default)]
pub struct Service;

impl seedgate_runtime::Service for Service {
    fn name(&self) -> &'static str {
        "smpp"
    }

    fn check(&mut self, config: &Config) -> Result<(), ServiceError> {
        check(config)
    }

    /// Binds the SMPP server's ports (plain, and TLS if configured) when it is on.
    fn start(
        self: Box<Self>,
        rt: &Runtime,
        shutdown: CancellationToken,
    ) -> BoxFuture<'static, Result<Running, ServiceError>> {
        let rt = rt.clone();
        Box::pin(async move {
            let c = &rt;
            let mut running = Running::default()
                .task(
                    "simulated-carrier",
                    crate::sim::run(
                        c.config.clone(),
                        c.registry.clone(),
                        c.bus.clone(),
                        c.monitor.clone(),
                        shutdown.clone(),
                    ),
                )
                .task(
                    "smpp-esme",
                    crate::esme::run(
                        c.config.clone(),
                        c.registry.clone(),
                        c.bus.clone(),
                        c.sessions.clone(),
                        c.store.clone(),
                        c.monitor.clone(),
                        shutdown.clone(),
                    ),
                );
            if rt.config.smpp_server.enabled {
                running = running.task("smpp-server", server(&rt, shutdown).await?);
            }
            Ok(running)
        })
    }
}

/// The SMPP server on its bound ports, ready to run until `shutdown`.
async fn server(
    rt: &Runtime,
    shutdown: CancellationToken,
) -> Result<impl std::future::Future<Output = Result<(), seedgate_runtime::bus::BusError>>, ServiceError> {
    let config = &rt.config;
    let server = crate::server::Server::for_runtime(rt)
        .map_err(|e| ServiceError::Config(format!("invalid config at `smpp_server.accounts`: {e}")))?;
    let listener = crate::server::bind(config).await.map_err(|e| {
        ServiceError::Failed(format!(
            "cannot listen on {} (`smpp_server.listen`): {e}",
            config.smpp_server.listen
        ))
    })?;
    let tls = crate::server::bind_tls(config)
        .await
        .map_err(|e| ServiceError::Config(format!("invalid config at `smpp_server.tls`: {e}")))?;
    let addr = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
    let tls_addr = tls
        .as_ref()
        .and_then(|(l, _)| l.local_addr().ok())
        .map(|a| a.to_string());
    tracing::info!(listen = %addr, tls_listen = ?tls_addr, "SMPP server listening");
    Ok(crate::server::run(server, listener, tls, shutdown))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn config(toml: &str) -> Config {
        let dir = std::env::temp_dir().join(format!("smpp-check-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("c.toml"), toml).unwrap();
        Config::load(Some(&dir.join("c.toml")), Vec::<(String, String)>::new()).unwrap()
    }

    fn refused_key(config: &Config) -> String {
        match check(config) {
            Err(ServiceError::Config(msg)) => msg,
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    #[test]
    fn the_default_config_passes() {
        check(&Config::default()).unwrap();
    }

    #[test]
    fn an_unknown_ussd_profile_of_an_esme_channel_is_refused_naming_its_key() {
        let c = config(
            "[channels.gw]\ntype = \"smpp-esme\"\nflow = \"demo\"\n[channels.gw.smpp]\naddress = \"127.0.0.1:1\"\n\
             system_id = \"x\"\npassword = \"x\"\nussd_profile = \"nokia\"\n[smpp_server]\nenabled = false\n",
        );
        assert!(refused_key(&c).contains("`channels.gw.smpp.ussd_profile`"));
    }

    #[test]
    fn the_servers_accounts_and_tls_files_are_checked_only_when_it_is_on() {
        let mut c = Config::default();
        c.smpp_server.accounts[0].ussd_channel = Some("demo-at".into());
        c.smpp_server.accounts[0].ussd_profile = Some("nokia".into());
        assert!(refused_key(&c).contains("`smpp_server.accounts`"));
        c.smpp_server.enabled = false;
        check(&c).unwrap();

        let mut c = Config::default();
        c.smpp_server.tls = Some(seedgate_runtime::config::SmppTlsConfig {
            listen: "127.0.0.1:0".into(),
            cert_file: "/nonexistent/cert.pem".into(),
            key_file: "/nonexistent/key.pem".into(),
        });
        assert!(refused_key(&c).contains("`smpp_server.tls`"));
        c.smpp_server.enabled = false;
        check(&c).unwrap();
    }
}
