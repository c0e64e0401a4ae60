//! `seedgate dial`: a phone in the terminal. Each screen is printed; each line typed is the
//! answer; an `END` screen (or an empty line after it, or end of input) hangs up.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use seedgate_flowlang::interp::{step, Effect, Input, Output, RunContact};
use seedgate_flowlang::model::FlowChannel;
use seedgate_runtime::config::Config;

use crate::failure::Failure;

/// What `seedgate dial` was asked.
#[derive(Debug)]
pub struct Dial {
    pub code: String,
    pub flows: Option<PathBuf>,
    pub flow: Option<String>,
    pub url: Option<String>,
    pub channel: String,
    pub msisdn: String,
    pub language: Option<String>,
}

#[allow(clippy::print_stdout)] // the terminal is the phone's screen
fn show(text: &str, end: bool) {
    println!("┌──────────────────────────────");
    for line in text.lines() {
        println!("│ {line}");
    }
    println!(
        "└── {}",
        if end {
            "END (session closed)"
        } else {
            "reply, or Ctrl-D to hang up"
        }
    );
}

fn read_answer() -> Option<String> {
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    match std::io::stdin().lock().read_line(&mut line) {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(line.trim_end_matches(['\r', '\n']).to_string()),
    }
}

pub async fn run(config: &Config, d: Dial) -> Result<(), Failure> {
    match &d.flows {
        Some(path) => local(config, &d, path).await,
        None => gateway(config, &d).await,
    }
}

/// Against a flow file: the interpreter runs here.
#[allow(clippy::print_stdout)]
async fn local(config: &Config, d: &Dial, path: &std::path::Path) -> Result<(), Failure> {
    let flows = seedgate_flowlang::load::load_path(path, &seedgate_flows::check::limits(config))
        .map_err(|e| Failure::Config(format!("bad flow file: {e}")))?;
    let flow = match &d.flow {
        Some(f) if flows.has(f) => f.clone(),
        Some(f) => {
            return Err(Failure::Other(format!(
                "no flow named `{f}` in {}",
                path.display()
            )))
        }
        None => flows
            .names()
            .find(|n| flows.get(n).is_some_and(|f| f.channel == FlowChannel::Ussd))
            .or_else(|| flows.names().next())
            .ok_or_else(|| Failure::Other(format!("no flows in {}", path.display())))?
            .to_string(),
    };
    println!(
        "dialling {} → flow `{flow}` from {} (nothing is stored)",
        d.code,
        path.display()
    );
    let mut contact = RunContact {
        msisdn: seedgate_proto::msisdn::normalise(&d.msisdn),
        language: d.language.clone(),
        ..Default::default()
    };
    let http = reqwest::Client::new();
    let mut out = step(&flows, &flow, None, &contact, Input::Start, chrono::Utc::now())
        .map_err(|e| Failure::Other(e.to_string()))?;
    loop {
        while let Some(call) = out.call.take() {
            println!("  (webhook {} {} …)", call.method, call.url);
            let resp = call_once(&http, &call).await;
            println!("  (… answered {})", resp.status);
            out = step(
                &flows,
                &flow,
                out.state.take(),
                &contact,
                Input::Webhook(&resp),
                chrono::Utc::now(),
            )
            .map_err(|e| Failure::Other(e.to_string()))?;
        }
        print_effects(&out);
        contact = out.contact.clone();
        let end = out.end || out.state.is_none();
        show(out.text.as_deref().unwrap_or(""), end);
        if end {
            return Ok(());
        }
        let Some(answer) = read_answer() else {
            return Ok(());
        };
        out = step(
            &flows,
            &flow,
            out.state.take(),
            &contact,
            Input::Reply(&answer),
            chrono::Utc::now(),
        )
        .map_err(|e| Failure::Other(e.to_string()))?;
    }
}

async fn call_once(
    http: &reqwest::Client,
    call: &seedgate_flowlang::interp::WebhookCall,
) -> seedgate_flowlang::interp::WebhookResponse {
    let method = reqwest::Method::from_bytes(call.method.as_bytes()).unwrap_or(reqwest::Method::POST);
    let mut req = http
        .request(method, &call.url)
        .timeout(std::time::Duration::from_millis(call.timeout_ms));
    for (k, v) in &call.headers {
        req = req.header(k, v);
    }
    if let Some(b) = &call.body {
        req = req.header("content-type", "application/json").body(b.clone());
    }
    match req.send().await {
        Ok(r) => seedgate_flowlang::interp::WebhookResponse {
            status: r.status().as_u16(),
            body: r.text().await.unwrap_or_default(),
        },
        Err(_) => seedgate_flowlang::interp::WebhookResponse {
            status: 0,
            body: String::new(),
        },
    }
}

#[allow(clippy::print_stdout)]
fn print_effects(out: &Output) {
    for e in &out.effects {
        match e {
            Effect::Contact(c) => println!("  (contact: {c:?})"),
            Effect::Subscribe(s) => println!("  (subscribed to `{s}`)"),
            Effect::Unsubscribe(s) => println!("  (unsubscribed from `{s}`)"),
            Effect::SendSms { to, text, .. } => println!("  (SMS to {to}: {text})"),
        }
    }
}

/// Against a running gateway: Africa's Talking callbacks to `channel`.
async fn gateway(config: &Config, d: &Dial) -> Result<(), Failure> {
    let base = d
        .url
        .clone()
        .unwrap_or_else(|| format!("http://{}", config.http.listen));
    let url = format!("{}/channels/{}/callback", base.trim_end_matches('/'), d.channel);
    let session = format!("dial-{}", uuid::Uuid::now_v7().simple());
    let http = reqwest::Client::new();
    let mut inputs: Vec<String> = Vec::new();
    loop {
        let text = inputs.join("*");
        let form = [
            ("sessionId", session.as_str()),
            ("serviceCode", d.code.as_str()),
            ("phoneNumber", d.msisdn.as_str()),
            ("networkCode", "dial"),
            ("text", text.as_str()),
        ];
        let resp = http
            .post(&url)
            .form(&form)
            .send()
            .await
            .map_err(|e| Failure::Other(format!("{url}: {e}")))?;
        let status = resp.status();
        let body = resp.text().await.unwrap_or_default();
        if !status.is_success() {
            return Err(Failure::Other(format!("{url} answered {status}: {body}")));
        }
        let (end, screen) = match body.split_once(' ') {
            Some(("END", rest)) => (true, rest),
            Some(("CON", rest)) => (false, rest),
            _ => (true, body.as_str()),
        };
        show(screen, end);
        if end {
            return Ok(());
        }
        let Some(answer) = read_answer() else {
            return Ok(());
        };
        inputs.push(answer);
    }
}
