//! The view as the server shares it: readers take an O(1) snapshot; writers swap.
//! Writers also journal which objects they changed, so the audit can follow the
//! view change by change instead of re-checking everything.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use tokio::sync::Notify;

use super::reads::Topic;
use super::ClusterView;
use crate::model::ObjKey;

/// Beyond this many journaled keys, the next reader re-checks everything (and
/// the journal stops growing when nobody reads it).
const JOURNAL_LIMIT: usize = 50_000;

/// What changed since the journal was last taken.
#[derive(Debug, PartialEq, Eq)]
pub enum Changes {
    /// Exactly these objects (added, replaced or deleted) may differ, and
    /// the answers of these topics (remote clusters' objects, which are not
    /// objects of the view).
    Objects { keys: Vec<ObjKey>, topics: Vec<Topic> },
    /// Anything may differ.
    Everything,
}

impl Changes {
    /// Nothing changed.
    pub fn none() -> Changes {
        Changes::Objects {
            keys: Vec::new(),
            topics: Vec::new(),
        }
    }
}

#[derive(Debug)]
struct Published {
    view: Arc<ClusterView>,
    changes: Changes,
}

#[derive(Debug)]
pub struct SharedView {
    state: RwLock<Published>,
    ready: AtomicBool,
    changed: Notify,
}

impl Default for SharedView {
    fn default() -> Self {
        SharedView::new(ClusterView::default(), false)
    }
}

impl SharedView {
    /// A shared view whose journal starts at `Everything`: its first reader
    /// sees the whole view as new.
    pub fn new(view: ClusterView, ready: bool) -> SharedView {
        let changed = Notify::new();
        changed.notify_one();
        SharedView {
            state: RwLock::new(Published {
                view: Arc::new(view),
                changes: Changes::Everything,
            }),
            ready: AtomicBool::new(ready),
            changed,
        }
    }

    pub fn snapshot(&self) -> Arc<ClusterView> {
        self.state.read().unwrap_or_else(|p| p.into_inner()).view.clone()
    }

    /// Applies `f` to a copy of the current view and publishes the result; the
    /// journal records that anything may have changed.
    pub fn update(&self, f: impl FnOnce(&mut ClusterView)) {
        self.write(None, |v| {
            f(v);
            Vec::new()
        });
    }

    /// As `update`, where `f` changes only the objects of `keys`.
    pub fn update_objects(&self, keys: impl IntoIterator<Item = ObjKey>, f: impl FnOnce(&mut ClusterView)) {
        self.write(Some(keys.into_iter().collect()), |v| {
            f(v);
            Vec::new()
        });
    }

    /// As `update`, where `f` changes remote clusters' objects only and
    /// returns the topics whose answers changed.
    pub fn update_remote(&self, f: impl FnOnce(&mut ClusterView) -> Vec<Topic>) {
        self.write(Some(Vec::new()), f);
    }

    fn write(&self, keys: Option<Vec<ObjKey>>, f: impl FnOnce(&mut ClusterView) -> Vec<Topic>) {
        {
            let mut guard = self.state.write().unwrap_or_else(|p| p.into_inner());
            let mut next = (*guard.view).clone();
            let changed_topics = f(&mut next);
            guard.view = Arc::new(next);
            match (&mut guard.changes, keys) {
                (Changes::Objects { keys: journal, topics }, Some(keys))
                    if journal.len() + topics.len() + keys.len() + changed_topics.len() <= JOURNAL_LIMIT =>
                {
                    journal.extend(keys);
                    topics.extend(changed_topics);
                }
                (changes, _) => *changes = Changes::Everything,
            }
        }
        self.changed.notify_one();
    }

    /// The current view and what changed since the last call (the journal
    /// restarts empty).
    pub fn take_changes(&self) -> (Arc<ClusterView>, Changes) {
        let mut guard = self.state.write().unwrap_or_else(|p| p.into_inner());
        let changes = std::mem::replace(&mut guard.changes, Changes::none());
        (guard.view.clone(), changes)
    }

    /// Resolves once the view has changed since the last `take_changes` (at
    /// once for a new view).
    pub async fn changed(&self) {
        self.changed.notified().await;
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    pub fn set_ready(&self, ready: bool) {
        let was = self.ready.swap(ready, Ordering::AcqRel);
        if ready && !was {
            self.changed.notify_one();
        }
    }
}
