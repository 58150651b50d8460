//! The pending-object overlay: objects meshgate admitted in the last `pendingTTL`
//! count as existing for reference lookups, so `kubectl apply -f dir/` (referrers
//! and referents in one batch) is not denied by the order of its files or by watch
//! lag. Dry-run admissions satisfy only later dry-run lookups; real ones satisfy
//! all. Deletions leave tombstones likewise.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::model::ObjKey;
use crate::view::{ClusterView, Entry};

#[derive(Clone, Debug)]
pub enum Change {
    Upsert(Arc<Entry>),
    Tombstone,
}

#[derive(Debug)]
struct Record {
    change: Change,
    expires: Instant,
    seq: u64,
}

#[derive(Debug, Default)]
pub struct Pending {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// (object, admitted in a dry run) → latest change.
    records: BTreeMap<(ObjKey, bool), Record>,
    seq: u64,
}

impl Pending {
    pub fn record(&self, key: ObjKey, change: Change, dry_run: bool, ttl: Duration, now: Instant) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.seq += 1;
        let seq = inner.seq;
        inner.records.insert(
            (key, dry_run),
            Record {
                change,
                expires: now + ttl,
                seq,
            },
        );
    }

    /// The view a review should see: `base` plus the live pending changes that
    /// apply to it, oldest first. `None` when nothing applies (use `base` as is).
    pub fn overlay(&self, base: &ClusterView, dry_run: bool, now: Instant) -> Option<ClusterView> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.records.retain(|_, r| r.expires > now);
        let mut live: Vec<(&ObjKey, &Record)> = inner
            .records
            .iter()
            .filter(|((_, dry), _)| dry_run || !*dry)
            .map(|((k, _), r)| (k, r))
            .collect();
        if live.is_empty() {
            return None;
        }
        live.sort_by_key(|(_, r)| r.seq);
        let mut view = base.clone();
        for (key, r) in live {
            match &r.change {
                Change::Upsert(e) => {
                    view.apply_entry(e.clone());
                }
                Change::Tombstone => {
                    view.delete(key);
                }
            }
        }
        Some(view)
    }

    /// Drops what the real cluster now shows for `key` (the watch delivered it).
    pub fn forget_real(&self, key: &ObjKey) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.records.remove(&(key.clone(), false));
    }

    pub fn len(&self) -> usize {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
