//! `seedgate init FILE`: a commented starter config. It keeps the demo channels (a config
//! that names channels replaces the built-in ones, so a file that only added one would lose
//! them) and shows, commented out, how to add a carrier and a partner's SMPP account.

use std::io::Write;
use std::path::Path;

use crate::failure::Failure;

/// The starter config; `seedgate up --config FILE` runs it as the built-in defaults do.
pub const STARTER: &str = r#"# seedgate's config. `seedgate doctor` checks it; every key and its default is in
# deploy/seedgate.split.toml. Point every command at this file (the server and the CLI then
# read the same store): `export SEEDGATE_CONFIG=/path/to/this.toml`. A SEEDGATE_* variable
# overrides any key: SEEDGATE_HTTP__LISTEN=0.0.0.0:8080 sets [http] listen.

[http]
listen = "127.0.0.1:8080"           # 0.0.0.0:8080 to take aggregators' callbacks from outside

[store]
# SQLite, relative to the folder seedgate runs in (write an absolute path to run the CLI from
# anywhere): sqlite:///var/lib/seedgate/data/seedgate.db. Back it up with `seedgate backup FILE`.
url = "sqlite://data/seedgate.db"

[flows]
dir = "flows"                       # the flow files; the studio publishes over them

# ---- Channels ---------------------------------------------------------------------------
# Naming any channel here replaces the built-in demo channels, so they are listed: keep them
# while you try seedgate, delete them before you go live.

[channels.demo-at]                  # Africa's Talking USSD: POST /channels/demo-at/callback
type = "africastalking-ussd"
flow = "demo"

[channels.momconnect-at]
type = "africastalking-ussd"
flow = "registration"

[channels.demo-sms]                 # a simulated carrier: acknowledges and "delivers" every SMS
type = "simulated-carrier"

# A carrier's SMSC, with seedgate binding as an ESME (uncomment and fill in):
# [channels.mtn-sms]
# type = "smpp-esme"
# [channels.mtn-sms.smpp]
# address = "smsc.example.net:2775"
# system_id = "programme"
# password_file = "/etc/seedgate/secrets/mtn-smpp-password"   # the file holds the password
# binds = 1
# tps_per_bind = 50

# ---- SMPP server: partners binding to us ---------------------------------------------------
[smpp_server]
listen = "127.0.0.1:2775"

# The demo account (password `demo`, this host only). Before a partner binds, give their
# account its own password: `seedgate smpp hash-password`, and paste the hash below.
[[smpp_server.accounts]]
system_id = "demo"
password_hash = "$argon2id$v=19$m=19456,t=2,p=1$0do57pWTnlDyIWDVTk7NEQ$7TtWw/OPUeptuWNXynd/59gPC3ykKjdHf6Ny046Hd80"
allowed_ips = ["127.0.0.0/8", "::1/128"]
route = "demo-sms"                  # the channel their submits go out on

# [[smpp_server.accounts]]
# system_id = "partner"
# password_hash = "$argon2id$…"     # seedgate smpp hash-password
# allowed_ips = ["203.0.113.0/24"]
# tps = 20
# route = "mtn-sms"

[log]
level = "info"                      # JSON lines on stdout; phone numbers masked
"#;

/// Writes [`STARTER`] to `file`, which must not exist.
pub fn run(file: &Path) -> Result<(), Failure> {
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(file)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => Failure::Config(format!(
                "{} exists; init never overwrites a config",
                file.display()
            )),
            _ => Failure::Other(format!("cannot write {}: {e}", file.display())),
        })?;
    out.write_all(STARTER.as_bytes())
        .and_then(|()| out.sync_all())
        .map_err(|e| Failure::Other(format!("cannot write {}: {e}", file.display())))?;
    eprintln!(
        "wrote {}: check it with `seedgate --config {} doctor`, run it with `seedgate --config {} up`",
        file.display(),
        file.display(),
        file.display()
    );
    Ok(())
}
