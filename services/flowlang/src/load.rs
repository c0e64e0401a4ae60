//! Loading flow files. Every problem names the file and the line (see [`crate::validate`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::compiled::{Compiled, Places};
use crate::template::Template;

use crate::lines::Lines;
use crate::model::{Flow, FlowFile, MessageSet};
use crate::validate::{self, Limits, Report};

/// A flow file that cannot be used, and why (or, as a warning, what to look at).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize)]
#[error("{file}{}: {reason}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct FlowError {
    pub file: String,
    pub line: Option<usize>,
    pub reason: String,
}

/// What a flow takes from its file.
#[derive(Debug, Clone, Default)]
pub struct FileInfo {
    pub path: String,
    pub languages: Vec<String>,
    pub globals: BTreeMap<String, String>,
}

impl FileInfo {
    /// The base language: every text has it.
    pub fn base(&self) -> &str {
        self.languages.first().map_or("eng", String::as_str)
    }
}

/// Every loaded flow and message set, by name, with the file each came from, and the flows'
/// texts compiled ([`Compiled`], shared by clones).
///
/// Nothing changes a `Flows` once [`check`] has made it: [`Places`] relies on its texts
/// staying where they are.
#[derive(Debug, Default)]
pub struct Flows {
    flows: BTreeMap<String, (Flow, usize)>,
    sets: BTreeMap<String, (MessageSet, usize)>,
    files: Vec<FileInfo>,
    compiled: Arc<Compiled>,
    /// Where these flows hold each compiled text.
    places: Places,
}

impl Clone for Flows {
    /// A copy, with the compiled texts shared and the places of its own copies of them.
    fn clone(&self) -> Flows {
        let mut copy = Flows {
            flows: self.flows.clone(),
            sets: self.sets.clone(),
            files: self.files.clone(),
            compiled: Arc::clone(&self.compiled),
            places: Places::default(),
        };
        copy.places = copy.compiled.places(copy.flows.values().map(|(f, _)| f));
        copy
    }
}

impl Flows {
    pub fn get(&self, name: &str) -> Option<&Flow> {
        self.flows.get(name).map(|(f, _)| f)
    }

    pub fn has(&self, name: &str) -> bool {
        self.flows.contains_key(name)
    }

    /// The file a flow came from.
    pub fn file_of(&self, flow: &str) -> Option<&FileInfo> {
        self.flows.get(flow).and_then(|(_, i)| self.files.get(*i))
    }

    /// The base language of the file the flow came from.
    pub fn base_language(&self, name: &str) -> &str {
        self.file_of(name).map_or("eng", FileInfo::base)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.flows.keys().map(String::as_str)
    }

    pub fn message_set(&self, name: &str) -> Option<&MessageSet> {
        self.sets.get(name).map(|(s, _)| s)
    }

    /// The file a message set came from.
    pub fn set_file(&self, name: &str) -> Option<&FileInfo> {
        self.sets.get(name).and_then(|(_, i)| self.files.get(*i))
    }

    /// The flows' texts, compiled when they were loaded.
    pub fn compiled(&self) -> &Compiled {
        &self.compiled
    }

    /// The compiled form of one of these flows' texts (found by where it is held).
    pub(crate) fn template(&self, text: &str) -> Option<&Template> {
        self.compiled.at(&self.places, text)
    }

    /// A flow with what a step reads of its file, found with one lookup.
    pub(crate) fn entry(&self, name: &str) -> Option<Entry<'_>> {
        let (name, (flow, i)) = self.flows.get_key_value(name)?;
        Some(Entry {
            name,
            flow,
            file: self.files.get(*i),
            globals: self.compiled.globals(*i),
        })
    }

    pub fn message_sets(&self) -> impl Iterator<Item = (&str, &MessageSet)> {
        self.sets.iter().map(|(n, (s, _))| (n.as_str(), s))
    }

    /// Adds a parsed file; duplicates of names already loaded are reported.
    fn add(&mut self, path: &str, lines: &Lines, file: FlowFile, report: &mut Report) {
        let index = self.files.len();
        self.files.push(FileInfo {
            path: path.to_string(),
            languages: file.languages,
            globals: file.globals,
        });
        for (name, flow) in file.flows {
            if self.flows.contains_key(&name) {
                report.error(
                    path,
                    lines.line(&format!("flows.{name}")),
                    format!("flow `{name}` is defined twice"),
                );
                continue;
            }
            self.flows.insert(name, (flow, index));
        }
        for (name, set) in file.message_sets {
            if self.sets.contains_key(&name) {
                report.error(
                    path,
                    lines.line(&format!("message_sets.{name}")),
                    format!("message set `{name}` is defined twice"),
                );
                continue;
            }
            self.sets.insert(name, (set, index));
        }
    }
}

/// A loaded flow, its file and its file's globals as expressions read them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry<'f> {
    pub name: &'f str,
    pub flow: &'f Flow,
    pub file: Option<&'f FileInfo>,
    pub globals: Option<&'f minijinja::Value>,
}

/// One file's text, named as errors will name it.
#[derive(Debug, Clone)]
pub struct Source {
    pub path: String,
    pub text: String,
}

fn parse(src: &Source, report: &mut Report) -> Option<FlowFile> {
    match serde_yaml_ng::from_str::<FlowFile>(&src.text) {
        Ok(f) => Some(f),
        Err(e) => {
            report.error(&src.path, e.location().map(|l| l.line()), e.to_string());
            None
        }
    }
}

/// Loads and checks `sources` together (gotos and subscriptions may cross files).
pub fn check(sources: &[Source], limits: &Limits) -> (Flows, Report) {
    let mut flows = Flows::default();
    let mut report = Report::default();
    let mut parsed = Vec::new();
    for src in sources {
        let lines = Lines::of(&src.text);
        if let Some(file) = parse(src, &mut report) {
            flows.add(&src.path, &lines, file.clone(), &mut report);
            parsed.push((src, lines, file));
        }
    }
    for (src, lines, file) in &parsed {
        validate::file(&flows, &src.path, lines, file, limits, &mut report);
    }
    flows.compiled = Arc::new(Compiled::of(
        flows.flows.values().map(|(f, _)| f),
        flows.files.iter().map(|f| &f.globals),
    ));
    flows.places = flows.compiled.places(flows.flows.values().map(|(f, _)| f));
    (flows, report)
}

/// Reads a flow file, or every `*.yaml`/`*.yml` file of a folder in name order.
pub fn read_path(path: &Path) -> Result<Vec<Source>, FlowError> {
    let io_err = |p: &Path, e: std::io::Error| FlowError {
        file: p.display().to_string(),
        line: None,
        reason: e.to_string(),
    };
    let paths: Vec<PathBuf> = if path.is_dir() {
        let mut v: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| io_err(path, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
            .collect();
        v.sort();
        v
    } else {
        vec![path.to_path_buf()]
    };
    paths
        .iter()
        .map(|p| {
            Ok(Source {
                path: p.display().to_string(),
                text: std::fs::read_to_string(p).map_err(|e| io_err(p, e))?,
            })
        })
        .collect()
}

fn first_error(flows: Flows, report: Report) -> Result<Flows, FlowError> {
    match report.errors.into_iter().next() {
        Some(e) => Err(e),
        None => Ok(flows),
    }
}

/// Parses and validates one file's text; the first error if it has any.
pub fn load_str(file: &str, text: &str) -> Result<Flows, FlowError> {
    let src = Source {
        path: file.into(),
        text: text.into(),
    };
    let (flows, report) = check(&[src], &Limits::default());
    first_error(flows, report)
}

/// Loads a flow file or a folder of them; the first error if there is any.
pub fn load_dir(dir: &Path) -> Result<Flows, FlowError> {
    let (flows, report) = check(&read_path(dir)?, &Limits::default());
    first_error(flows, report)
}

/// Loads a flow file or a folder of them with `limits`; the report of every problem.
pub fn load_checked(path: &Path, limits: &Limits) -> Result<(Flows, Report), FlowError> {
    Ok(check(&read_path(path)?, limits))
}

/// Loads a flow file or a folder of them with `limits`; the first error if there is one.
pub fn load_path(path: &Path, limits: &Limits) -> Result<Flows, FlowError> {
    let (flows, report) = load_checked(path, limits)?;
    first_error(flows, report)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where each text a flow renders is held.
    fn places(flows: &Flows) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        for (flow, _) in flows.flows.values() {
            crate::compiled::texts_of(flow, &mut |s| out.push((s.as_ptr() as usize, s.len())));
        }
        out
    }

    /// Runners share one `Flows` between tasks and threads.
    #[test]
    fn flows_can_be_shared_between_threads() {
        fn shared<T: Send + Sync + Clone + std::fmt::Debug + Default>() {}
        shared::<Flows>();
    }

    #[test]
    fn flows_and_their_copies_find_their_own_texts_by_place() {
        let flows = crate::builtin().unwrap();
        let copy = flows.clone();
        for f in [&flows, &copy] {
            let mut n = 0;
            for (flow, _) in f.flows.values() {
                crate::compiled::texts_of(flow, &mut |s| {
                    assert!(f.places.holds(s.as_ptr() as usize, s.len()), "{s:?}");
                    assert_eq!(f.template(s).map(Template::text), Some(s));
                    n += 1;
                });
            }
            assert!(n > 20, "{n} texts");
        }
        // The copy's texts are its own: none is where the original's are.
        let (a, b) = (places(&flows), places(&copy));
        assert_eq!(a.len(), b.len());
        assert!(a.iter().zip(&b).all(|(x, y)| x.0 != y.0 || x.1 == 0));
    }
}
