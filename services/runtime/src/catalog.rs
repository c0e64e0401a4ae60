//! The live flows: the published version of every flow file in the store, checked together,
//! followed by every process (a publish is live everywhere within [`FOLLOW_EVERY`] plus a load),
//! and the sets that were live at earlier publishes, so a run finishes on the version it
//! started on.
//!
//! A set is named by its `seq`: the highest publish `seq` in it (`0` for the flows folder or
//! the built-in flows, used while the store has none or cannot be reached). At start the
//! folder's files are imported as version 1 when nothing is published yet
//! ([`Catalog::start`]); after that the store's versions are what runs.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use seedgate_flowlang::load::{self, Flows, Source};
use seedgate_flowlang::validate::{Limits, Report};
use tokio_util::sync::CancellationToken;

use crate::store::{FlowVersion, Store, StoreError};

/// How often a process looks for a new publish.
pub const FOLLOW_EVERY: Duration = Duration::from_secs(1);
/// Earlier sets kept in memory for runs still on them (older ones are rebuilt from the store).
const KEEP: usize = 16;
/// Who imports the flows folder.
pub const IMPORT_ACTOR: &str = "import";

/// One set of flows that was live.
#[derive(Debug)]
pub struct Live {
    /// The highest publish in it; 0 for the folder or built-in flows.
    pub seq: i64,
    pub flows: Flows,
    /// Each file's text and the version it is (version 0 for folder files).
    pub files: Vec<FlowVersion>,
    /// The set's own errors (a file another file's publish broke), as the validator words them:
    /// a draft's check leaves these out and reports only what the draft adds.
    pub errors: Vec<String>,
}

impl Live {
    /// The file (name and text) each source came from, for checking a draft against the rest.
    pub fn sources_except(&self, file: &str) -> Vec<Source> {
        self.files
            .iter()
            .filter(|f| f.file != file)
            .map(|f| Source {
                path: f.file.clone(),
                text: f.text.clone(),
            })
            .collect()
    }

    pub fn version_of(&self, file: &str) -> Option<&FlowVersion> {
        self.files.iter().find(|f| f.file == file)
    }
}

/// The live flows of this process (cheap to clone).
#[derive(Debug, Clone)]
pub struct Catalog {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    current: RwLock<Arc<Live>>,
    earlier: Mutex<BTreeMap<i64, Arc<Live>>>,
    limits: RwLock<Limits>,
    following: std::sync::atomic::AtomicBool,
    /// The folder import was tried against the store (and the store answered).
    started: std::sync::atomic::AtomicBool,
    changed: tokio::sync::watch::Sender<i64>,
}

/// The validator's limits for a deployment: the smallest screen of its USSD channels.
pub fn limits_for(config: &crate::config::Config) -> Limits {
    let mut l = Limits::default();
    if let Some(min) = config
        .channels
        .values()
        .filter(|c| c.channel_type().is_ussd())
        .map(|c| c.max_screen_chars)
        .min()
    {
        l.max_screen_chars = min;
    }
    l
}

/// Checks a set of files together: the flows that load and every problem.
pub fn check(files: &[FlowVersion], limits: &Limits) -> (Flows, Report) {
    let sources: Vec<Source> = files
        .iter()
        .map(|f| Source {
            path: f.file.clone(),
            text: f.text.clone(),
        })
        .collect();
    load::check(&sources, limits)
}

impl Default for Catalog {
    fn default() -> Self {
        Self::fixed(Flows::default(), Vec::new())
    }
}

impl Catalog {
    /// A catalog holding `flows` (from `files`) as set 0, until [`Catalog::start`].
    pub fn fixed(flows: Flows, files: Vec<FlowVersion>) -> Self {
        // The folder's set was checked (and refused on any error) before it got here.
        let live = Arc::new(Live {
            seq: 0,
            flows,
            files,
            errors: Vec::new(),
        });
        Self {
            inner: Arc::new(Inner {
                current: RwLock::new(live),
                earlier: Mutex::new(BTreeMap::new()),
                limits: RwLock::new(Limits::default()),
                following: std::sync::atomic::AtomicBool::new(false),
                started: std::sync::atomic::AtomicBool::new(false),
                changed: tokio::sync::watch::channel(0).0,
            }),
        }
    }

    /// Folder files as set 0 (`path` is the file name errors name).
    pub fn from_sources(flows: Flows, sources: &[Source]) -> Self {
        let now = chrono::Utc::now();
        let files = sources
            .iter()
            .map(|s| FlowVersion {
                file: file_name(&s.path),
                number: 0,
                seq: 0,
                text: s.text.clone(),
                published_by: IMPORT_ACTOR.into(),
                published_at: now,
            })
            .collect();
        Self::fixed(flows, files)
    }

    /// Takes `folder`'s flows (and limits) while nothing from the store is loaded yet.
    pub fn install(&self, folder: &Catalog) {
        self.set_limits(folder.limits());
        let mut current = self.inner.current.write().unwrap_or_else(PoisonError::into_inner);
        if current.seq == 0 {
            *current = folder.current();
        }
    }

    /// The validator's limits publishes are checked with.
    pub fn set_limits(&self, limits: Limits) {
        *self.inner.limits.write().unwrap_or_else(PoisonError::into_inner) = limits;
    }

    pub fn limits(&self) -> Limits {
        self.inner
            .limits
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The set live now.
    pub fn current(&self) -> Arc<Live> {
        self.inner
            .current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Told the new `seq` after every change.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<i64> {
        self.inner.changed.subscribe()
    }

    /// The set that was live at `seq`: the current one, one kept in memory, or rebuilt from
    /// the store (a run that started before a publish finishes on its version).
    pub async fn at(&self, store: &dyn Store, seq: i64) -> Result<Arc<Live>, StoreError> {
        let current = self.current();
        if seq == current.seq || seq == 0 {
            return Ok(current);
        }
        if let Some(live) = self.earlier().get(&seq) {
            return Ok(live.clone());
        }
        let files = store.flow_live(Some(seq)).await?;
        let (flows, report) = check(&files, &self.limits());
        let errors = report.errors.iter().map(ToString::to_string).collect();
        let live = Arc::new(Live {
            seq,
            flows,
            files,
            errors,
        });
        self.remember(live.clone());
        Ok(live)
    }

    fn earlier(&self) -> std::sync::MutexGuard<'_, BTreeMap<i64, Arc<Live>>> {
        self.inner.earlier.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn remember(&self, live: Arc<Live>) {
        let mut earlier = self.earlier();
        earlier.insert(live.seq, live);
        while earlier.len() > KEEP {
            earlier.pop_first();
        }
    }

    /// Imports `folder` (the flows folder's files) as version 1 when nothing is published
    /// yet, then loads what is live. A store that cannot be reached leaves set 0 running;
    /// [`Catalog::follow`] picks the store's flows up once it answers.
    pub async fn start(&self, store: &dyn Store) -> Result<(), StoreError> {
        let folder: Vec<(String, String)> = self
            .current()
            .files
            .iter()
            .filter(|f| f.seq == 0)
            .map(|f| (f.file.clone(), f.text.clone()))
            .collect();
        if !folder.is_empty() && store.flow_import_initial(&folder, IMPORT_ACTOR).await? {
            tracing::info!(
                files = folder.len(),
                "imported the flows folder as version 1 of each file"
            );
        }
        self.refresh(store).await?;
        self.inner
            .started
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let live = self.current();
        for (name, text) in &folder {
            match live.version_of(name) {
                Some(v) if v.text != *text => {
                    tracing::warn!(file = %name, version = v.number, "this flows-folder file differs from its published version, which is what runs; `seedgate flow import` publishes the folder")
                }
                None if live.seq > 0 => {
                    tracing::warn!(file = %name, "this flows-folder file is not in the store and does not run; `seedgate flow import` publishes the folder")
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Loads the store's live set if a publish happened since the current one; true if it did.
    pub async fn refresh(&self, store: &dyn Store) -> Result<bool, StoreError> {
        let seq = store.flow_live_seq().await?;
        if seq == 0 || seq == self.current().seq {
            return Ok(false);
        }
        let files = store.flow_live(None).await?;
        let seq = files.iter().map(|f| f.seq).max().unwrap_or(0);
        let (flows, report) = check(&files, &self.limits());
        for e in &report.errors {
            tracing::warn!(error = %e, "a live flow file has an error; the flows it could load run");
        }
        let errors = report.errors.iter().map(ToString::to_string).collect();
        let live = Arc::new(Live {
            seq,
            flows,
            files,
            errors,
        });
        let old = {
            let mut current = self.inner.current.write().unwrap_or_else(PoisonError::into_inner);
            std::mem::replace(&mut *current, live)
        };
        if old.seq > 0 {
            self.remember(old);
        }
        tracing::info!(seq, "flows live");
        metrics::gauge!("seedgate_flows_live_seq").set(seq as f64);
        self.inner.changed.send_replace(seq);
        Ok(true)
    }

    /// Follows the store's publishes until `shutdown` (once per process: later calls return
    /// at once).
    pub async fn follow(self, store: Arc<dyn Store>, shutdown: CancellationToken) {
        if self
            .inner
            .following
            .swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            return;
        }
        let mut warned = false;
        loop {
            let step = if self.inner.started.load(std::sync::atomic::Ordering::SeqCst) {
                self.refresh(store.as_ref()).await.map(drop)
            } else {
                self.start(store.as_ref()).await
            };
            match step {
                Ok(_) => warned = false,
                Err(e) if !warned => {
                    tracing::warn!(error = %e, "cannot read the live flows; the ones loaded keep running");
                    warned = true;
                }
                Err(_) => {}
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(FOLLOW_EVERY) => {}
            }
        }
    }
}

/// The file name of a folder path (`flows/registration.yaml` → `registration.yaml`;
/// `(built-in) demo.yaml` → `demo.yaml`).
pub fn file_name(path: &str) -> String {
    let base = path.rsplit(['/', '\\']).next().unwrap_or(path);
    base.rsplit(' ').next().unwrap_or(base).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_drop_folders_and_the_built_in_mark() {
        assert_eq!(file_name("flows/registration.yaml"), "registration.yaml");
        assert_eq!(file_name("(built-in) demo.yaml"), "demo.yaml");
        assert_eq!(file_name("x.yml"), "x.yml");
    }
}
