//! `seedgate healthcheck`: a plain HTTP/1.0 GET of `/healthz`, so the image needs no curl.

use std::time::Duration;

use seedgate_runtime::config::Config;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::failure::Failure;

pub async fn run(config: &Config, url: Option<String>) -> Result<(), Failure> {
    let url = url.unwrap_or_else(|| format!("http://{}/healthz", config.http.listen));
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| Failure::Other(format!("only http:// URLs: {url}")))?;
    let (host, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_string()), |(h, p)| (h, format!("/{p}")));
    let check = async {
        let mut stream = tokio::net::TcpStream::connect(host).await?;
        stream
            .write_all(format!("GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").as_bytes())
            .await?;
        let mut head = Vec::new();
        stream.read_to_end(&mut head).await?;
        Ok::<_, std::io::Error>(
            String::from_utf8_lossy(&head)
                .lines()
                .next()
                .unwrap_or_default()
                .to_string(),
        )
    };
    match tokio::time::timeout(Duration::from_secs(3), check).await {
        Ok(Ok(status)) if status.split_whitespace().nth(1) == Some("200") => Ok(()),
        Ok(Ok(status)) => Err(Failure::Other(format!("{url}: {status}"))),
        Ok(Err(e)) => Err(Failure::Other(format!("{url}: {e}"))),
        Err(_) => Err(Failure::Other(format!("{url}: no answer within 3 s"))),
    }
}
