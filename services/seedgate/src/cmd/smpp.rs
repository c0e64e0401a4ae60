//! `seedgate smpp hash-password`: the Argon2id hash an SMPP server account's `password_hash`
//! takes, from a password read on standard input.

use std::io::{BufRead, IsTerminal};

use crate::failure::Failure;

/// Reads one line (without its line ending) and prints its hash; exit 64 for an empty one.
/// SMPP 3.4 passwords are at most 8 characters: a longer one is refused here, because no
/// ESME could send it.
#[allow(clippy::print_stdout)] // the hash is this command's output
pub fn hash_password() -> Result<(), Failure> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprintln!("Type the account's password and press Enter:");
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .map_err(|e| Failure::Other(format!("cannot read the password from standard input: {e}")))?;
    let password = line.trim_end_matches(['\r', '\n']);
    if password.is_empty() {
        return Err(Failure::Config("the password is empty".into()));
    }
    if password.len() > 8 {
        return Err(Failure::Config(format!(
            "the password has {} bytes; SMPP 3.4 allows at most 8 (the bind's password field is 9 octets with its NUL)",
            password.len()
        )));
    }
    println!("{}", seedgate_api::staff::password::hash(password));
    eprintln!("put it in the account's section: [[smpp_server.accounts]] password_hash = \"…\"");
    Ok(())
}
