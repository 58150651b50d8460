//! The audit (product.md §1.4): the findings of every existing Istio object and
//! Service, kept current as the view changes.
//!
//! Each object is checked under a recording of the view topics its checks read
//! (`view::reads`). A change publishes the topics of the object's old and new
//! version; only the objects that read one of them are checked again. A Pod
//! relabelled re-checks the subsets and selectors its labels meet, not the
//! cluster. The property test (`tests/audit.rs`) holds this equal to checking
//! every object from scratch after any sequence of changes.

mod report;
pub mod runner;

pub use report::{AuditReport, ReportFilter};
pub use runner::AuditResults;

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;
use std::sync::Arc;

use crate::checks;
use crate::finding::Finding;
use crate::model::{Kind, ObjKey};
use crate::view::reads::{self, Topic};
use crate::view::{ClusterView, Entry};

/// The kinds the audit reports on: Istio's, the Gateway API's and Services (their ports and
/// selectors are what routes and policies meet).
pub fn is_audited(kind: Kind) -> bool {
    kind.is_istio() || kind.is_gateway_api() || kind == Kind::Service
}

/// What one pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PassStats {
    /// Objects that changed in the view since the last pass.
    pub changed: usize,
    /// Objects checked again.
    pub rechecked: usize,
}

struct Audited {
    key: Arc<ObjKey>,
    /// Hashes of the topics its last check read.
    topics: Vec<u64>,
}

/// The audit's results at one moment: cheap to take (shares structure with the
/// audit) and to keep while the audit moves on.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// Every audited object with its findings (empty when it has none).
    pub findings: imbl::OrdMap<Arc<ObjKey>, Arc<[Finding]>>,
    /// The view they are of (labels and annotations for exemptions).
    pub view: Arc<ClusterView>,
}

/// The audit state: the findings of every audited object of one view.
pub struct Audit {
    view: Arc<ClusterView>,
    /// One key per object, shared by the id map, its slot and the findings.
    ids: HashMap<Arc<ObjKey>, u32, foldhash::fast::RandomState>,
    slots: Vec<Option<Audited>>,
    free: Vec<u32>,
    findings: imbl::OrdMap<Arc<ObjKey>, Arc<[Finding]>>,
    /// Topic hash → the objects that read it. A hash collision only adds work.
    readers: HashMap<u64, HashSet<u32, foldhash::fast::RandomState>, foldhash::fast::RandomState>,
    hasher: foldhash::fast::RandomState,
}

impl Audit {
    /// Audits every object of `view` (the cold start).
    pub fn new(view: Arc<ClusterView>) -> Audit {
        let mut audit = Audit {
            view: Arc::new(ClusterView::new(view.settings().clone())),
            ids: HashMap::default(),
            slots: Vec::new(),
            free: Vec::new(),
            findings: imbl::OrdMap::new(),
            readers: HashMap::default(),
            hasher: foldhash::fast::RandomState::default(),
        };
        audit.replace(view);
        audit
    }

    /// The view the findings are of.
    pub fn view(&self) -> &Arc<ClusterView> {
        &self.view
    }

    /// Checks every object of `next` again (after a change too large to track).
    pub fn replace(&mut self, next: Arc<ClusterView>) -> PassStats {
        self.ids.clear();
        self.slots.clear();
        self.free.clear();
        self.findings.clear();
        self.readers.clear();
        let mut keys: Vec<ObjKey> = next
            .entries()
            .map(|e| &e.object.key)
            .filter(|k| is_audited(k.kind))
            .cloned()
            .collect();
        keys.sort();
        for key in &keys {
            if let Some(entry) = next.get(key) {
                self.check(key, entry.clone(), &next);
            }
        }
        self.view = next;
        PassStats {
            changed: keys.len(),
            rechecked: keys.len(),
        }
    }

    /// Moves to `next`, in which the objects of `changed` (and only those) may
    /// differ from the current view: checks again the changed audited objects
    /// and every object that read a topic the change published.
    pub fn advance(&mut self, next: Arc<ClusterView>, changed: impl IntoIterator<Item = ObjKey>) -> PassStats {
        self.advance_with(next, changed, Vec::new())
    }

    /// `advance`, where remote clusters' objects changed too: `topics` are
    /// the answers they changed.
    pub fn advance_with(
        &mut self,
        next: Arc<ClusterView>,
        changed: impl IntoIterator<Item = ObjKey>,
        topics: Vec<Topic>,
    ) -> PassStats {
        let domain = next.cluster_domain().to_string();
        let mut published: HashSet<u64> = topics.iter().map(|t| self.hash(t)).collect();
        let mut recheck: HashSet<ObjKey> = HashSet::new();
        let mut seen: HashSet<ObjKey> = HashSet::new();
        let mut namespaces: HashSet<String> = HashSet::new();
        for key in changed {
            if !seen.insert(key.clone()) {
                continue;
            }
            let (old, new) = (self.view.get(&key), next.get(&key));
            if let (Some(o), Some(n)) = (old, new) {
                if Arc::ptr_eq(o, n) {
                    continue;
                }
            }
            for e in old.into_iter().chain(new) {
                published.extend(reads::published(e, &domain).iter().map(|t| self.hash(t)));
            }
            namespaces.insert(key.namespace.clone());
            if is_audited(key.kind) {
                if new.is_some() {
                    recheck.insert(key);
                } else {
                    self.forget(&key);
                }
            }
        }
        // In file mode an object's arrival can bring its namespace into being.
        if namespaces
            .iter()
            .any(|ns| self.view.namespace_exists(ns) != next.namespace_exists(ns))
        {
            published.insert(self.hash(&Topic::Namespaces));
        }
        for t in &published {
            if let Some(ids) = self.readers.get(t) {
                for id in ids {
                    if let Some(Some(a)) = self.slots.get(*id as usize) {
                        recheck.insert(ObjKey::clone(&a.key));
                    }
                }
            }
        }
        let stats = PassStats {
            changed: seen.len(),
            rechecked: recheck.len(),
        };
        let mut recheck: Vec<ObjKey> = recheck.into_iter().collect();
        recheck.sort();
        for key in recheck {
            match next.get(&key) {
                Some(entry) => self.check(&key, entry.clone(), &next),
                None => self.forget(&key),
            }
        }
        self.view = next;
        stats
    }

    /// The findings of one object (`None`: not audited or not in the view).
    pub fn findings_of(&self, key: &ObjKey) -> Option<&[Finding]> {
        self.findings.get(key).map(|f| &f[..])
    }

    /// How many objects are audited.
    pub fn len(&self) -> usize {
        self.findings.len()
    }

    pub fn is_empty(&self) -> bool {
        self.findings.is_empty()
    }

    /// Every audited object with its findings, in kind, namespace and name
    /// order; each object's findings in the order its checks found them.
    pub fn objects(&self) -> impl Iterator<Item = (&ObjKey, &[Finding])> {
        self.findings.iter().map(|(k, f)| (k.as_ref(), &f[..]))
    }

    /// The results as they stand, O(1).
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            findings: self.findings.clone(),
            view: self.view.clone(),
        }
    }

    fn hash(&self, topic: &Topic) -> u64 {
        self.hasher.hash_one(topic)
    }

    fn check(&mut self, key: &ObjKey, entry: Arc<Entry>, view: &ClusterView) {
        let (findings, topics) = reads::recording(|| checks::check(&entry, view));
        let mut hashes: Vec<u64> = topics.iter().map(|t| self.hash(t)).collect();
        hashes.sort_unstable();
        hashes.dedup();
        let (id, shared) = match self.ids.get_key_value(key) {
            Some((k, id)) => (*id, k.clone()),
            None => {
                let shared = Arc::new(key.clone());
                let id = self.free.pop().unwrap_or_else(|| {
                    self.slots.push(None);
                    (self.slots.len() - 1) as u32
                });
                self.ids.insert(shared.clone(), id);
                (id, shared)
            }
        };
        if let Some(old) = self.slots[id as usize].take() {
            self.unsubscribe(id, &old.topics);
        }
        for h in &hashes {
            self.readers.entry(*h).or_default().insert(id);
        }
        self.slots[id as usize] = Some(Audited {
            key: shared.clone(),
            topics: hashes,
        });
        self.findings.insert(shared, findings.into());
    }

    fn forget(&mut self, key: &ObjKey) {
        self.findings.remove(key);
        let Some(id) = self.ids.remove(key) else { return };
        if let Some(old) = self.slots[id as usize].take() {
            self.unsubscribe(id, &old.topics);
        }
        self.free.push(id);
    }

    fn unsubscribe(&mut self, id: u32, topics: &[u64]) {
        for h in topics {
            if let Some(set) = self.readers.get_mut(h) {
                set.remove(&id);
                if set.is_empty() {
                    self.readers.remove(h);
                }
            }
        }
    }
}
