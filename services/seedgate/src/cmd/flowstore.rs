//! `seedgate flow export DIR` and `seedgate flow import DIR`: the store's flow files to a
//! folder and back, so a team that keeps flows in git can keep doing so.

use std::path::Path;

use seedgate_flowlang::load::{self, read_path, Source};
use seedgate_runtime::catalog::{self, file_name};
use seedgate_runtime::config::Config;
use seedgate_runtime::store::{Published, Saved};

use crate::failure::Failure;

/// Who the audit rows name for changes made from the command line.
const ACTOR: &str = "cli";

fn other(e: impl std::fmt::Display) -> Failure {
    Failure::Other(e.to_string())
}

#[allow(clippy::print_stdout)] // a command-line report
pub async fn export(config: &Config, dir: &Path, drafts: bool) -> Result<(), Failure> {
    let store = crate::open::store(config)?;
    std::fs::create_dir_all(dir).map_err(|e| Failure::Other(format!("{}: {e}", dir.display())))?;
    let mut files: Vec<(String, String, String)> = Vec::new();
    if drafts {
        for f in store.flow_files().await.map_err(other)? {
            if let Some(d) = store.flow_draft(&f.file).await.map_err(other)? {
                files.push((d.file, d.text, format!("draft revision {}", d.revision)));
            }
        }
    } else {
        for v in store.flow_live(None).await.map_err(other)? {
            files.push((v.file, v.text, format!("version {}", v.number)));
        }
    }
    for (file, text, what) in &files {
        let path = dir.join(file);
        std::fs::write(&path, text).map_err(|e| Failure::Other(format!("{}: {e}", path.display())))?;
        println!("{}: {what}", path.display());
    }
    println!("{} file(s) written to {}", files.len(), dir.display());
    Ok(())
}

#[allow(clippy::print_stdout)] // a command-line report
pub async fn import(config: &Config, dir: &Path, publish: bool) -> Result<(), Failure> {
    let store = crate::open::store(config)?;
    let sources = read_path(dir).map_err(other)?;
    if sources.is_empty() {
        return Err(Failure::Other(format!("no *.yaml files in {}", dir.display())));
    }
    let incoming: Vec<Source> = sources
        .iter()
        .map(|s| Source {
            path: file_name(&s.path),
            text: s.text.clone(),
        })
        .collect();
    // Check the folder together with the live files it does not replace.
    let live = store.flow_live(None).await.map_err(other)?;
    let mut all: Vec<Source> = live
        .iter()
        .filter(|v| !incoming.iter().any(|s| s.path == v.file))
        .map(|v| Source {
            path: v.file.clone(),
            text: v.text.clone(),
        })
        .collect();
    all.extend(incoming.iter().cloned());
    let (_, report) = load::check(&all, &seedgate_flows::check::limits(config));
    if !report.errors.is_empty() {
        for e in &report.errors {
            println!("error: {e}");
        }
        return Err(Failure::Other(format!(
            "{} error(s): nothing was imported",
            report.errors.len()
        )));
    }
    let mut changed = 0;
    for src in &incoming {
        if live.iter().any(|v| v.file == src.path && v.text == src.text) {
            println!("{}: unchanged", src.path);
            continue;
        }
        let draft = match store
            .flow_save(&src.path, &src.text, None, ACTOR)
            .await
            .map_err(other)?
        {
            Saved::Saved(d) => d,
            Saved::Conflict(d) => {
                return Err(Failure::Other(format!(
                    "{}: {} saved the draft at the same time; run the import again",
                    src.path, d.updated_by
                )))
            }
        };
        changed += 1;
        if !publish {
            println!("{}: saved as draft revision {}", src.path, draft.revision);
            continue;
        }
        match store
            .flow_publish(&src.path, Some(draft.revision), ACTOR)
            .await
            .map_err(other)?
        {
            Published::Published(v) => println!("{}: published as version {}", src.path, v.number),
            Published::Conflict(d) => {
                return Err(Failure::Other(format!(
                    "{}: {} changed the draft before it was published; run the import again",
                    src.path, d.updated_by
                )))
            }
            Published::NoDraft => return Err(Failure::Other(format!("{}: the draft vanished", src.path))),
        }
    }
    println!(
        "{changed} file(s) {} from {}; live within {} s in every process",
        if publish { "published" } else { "saved" },
        dir.display(),
        catalog::FOLLOW_EVERY.as_secs() + 1
    );
    Ok(())
}
