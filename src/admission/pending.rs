//! The pending-object overlay: objects this replica admitted in the last
//! `pendingTTL` count as existing (deletions as gone) until its watch shows them.
//! It saves the read-through GET for a referrer that follows its referent to the
//! same replica within the watch lag; it decides nothing the API server would
//! not (other replicas read the same objects through). Dry-run admissions are
//! recorded only under `enforceOnDryRun` and satisfy only later dry-run lookups
//! on this replica (the old per-replica batch behaviour, product.md §3).
//!
//! The overlaid views are cached per base view and updated incrementally as
//! admissions are recorded, so a review pays for an `Arc` clone, not for
//! re-applying every pending object.

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
    /// The base the caches were built on, and the overlaid views for real and
    /// dry-run reviews.
    base: Option<Arc<ClusterView>>,
    real: Option<Arc<ClusterView>>,
    dry: Option<Arc<ClusterView>>,
}

fn apply(view: &mut ClusterView, key: &ObjKey, change: &Change) {
    match change {
        Change::Upsert(e) => {
            view.apply_entry(e.clone());
        }
        Change::Tombstone => {
            view.delete(key);
        }
    }
}

impl Inner {
    fn invalidate(&mut self) {
        self.base = None;
        self.real = None;
        self.dry = None;
    }

    fn expire(&mut self, now: Instant) {
        let before = self.records.len();
        self.records.retain(|_, r| r.expires > now);
        if self.records.len() != before {
            self.invalidate();
        }
    }

    fn build(&self, base: &ClusterView, dry_run: bool) -> ClusterView {
        let mut live: Vec<(&ObjKey, &Record)> = self
            .records
            .iter()
            .filter(|((_, dry), _)| dry_run || !*dry)
            .map(|((k, _), r)| (k, r))
            .collect();
        live.sort_by_key(|(_, r)| r.seq);
        let mut view = base.clone();
        for (key, r) in live {
            apply(&mut view, key, &r.change);
        }
        view
    }
}

impl Pending {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn record(&self, key: ObjKey, change: Change, dry_run: bool, ttl: Duration, now: Instant) {
        let mut inner = self.lock();
        // GitOps tools dry-run the same objects over and over: an unchanged object
        // only renews its lease, and the cached views stay as they are.
        if let Some(r) = inner.records.get_mut(&(key.clone(), dry_run)) {
            let same = match (&r.change, &change) {
                (Change::Upsert(a), Change::Upsert(b)) => a == b,
                (Change::Tombstone, Change::Tombstone) => true,
                _ => false,
            };
            if same {
                r.expires = now + ttl;
                return;
            }
        }
        inner.seq += 1;
        let seq = inner.seq;
        // The newest change applies last, so applying it on top of the cached
        // views gives what a rebuild would.
        let targets: &[bool] = if dry_run { &[true] } else { &[false, true] };
        for &dry in targets {
            let slot = if dry { &mut inner.dry } else { &mut inner.real };
            if let Some(view) = slot {
                apply(Arc::make_mut(view), &key, &change);
            }
        }
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
    /// apply to it.
    pub fn overlay(&self, base: &Arc<ClusterView>, dry_run: bool, now: Instant) -> Arc<ClusterView> {
        let mut inner = self.lock();
        inner.expire(now);
        if !inner.base.as_ref().is_some_and(|b| Arc::ptr_eq(b, base)) {
            inner.invalidate();
            inner.base = Some(base.clone());
        }
        if !inner.records.keys().any(|(_, dry)| dry_run || !*dry) {
            return base.clone();
        }
        let cached = if dry_run { &inner.dry } else { &inner.real };
        if let Some(v) = cached {
            return v.clone();
        }
        let built = Arc::new(inner.build(base, dry_run));
        if dry_run {
            inner.dry = Some(built.clone());
        } else {
            inner.real = Some(built.clone());
        }
        built
    }

    /// Drops what the real cluster now shows for `key` (the watch delivered it).
    pub fn forget_real(&self, key: &ObjKey) {
        let mut inner = self.lock();
        if inner.records.remove(&(key.clone(), false)).is_some() {
            inner.invalidate();
        }
    }

    pub fn len(&self) -> usize {
        self.lock().records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::testutil::view;

    fn entry(doc: &str) -> Arc<Entry> {
        let o = crate::manifest::parse_text("t", doc, "default")
            .unwrap()
            .remove(0)
            .object;
        Arc::new(Entry::new(o, &Default::default()))
    }

    #[test]
    fn cached_overlays_match_a_rebuild() {
        let base = Arc::new(view(&[]));
        let p = Pending::default();
        let now = Instant::now();
        let ttl = Duration::from_secs(60);
        let a = entry("apiVersion: v1\nkind: Service\nmetadata: {name: a, namespace: x}\n");
        let b = entry("apiVersion: v1\nkind: Service\nmetadata: {name: b, namespace: x}\n");
        p.record(a.object.key.clone(), Change::Upsert(a.clone()), false, ttl, now);
        let real = p.overlay(&base, false, now);
        let dry = p.overlay(&base, true, now);
        assert_eq!(real.len(), 1);
        // Recorded after the caches exist: applied to them incrementally.
        p.record(b.object.key.clone(), Change::Upsert(b.clone()), true, ttl, now);
        assert_eq!(p.overlay(&base, false, now).len(), 1);
        assert_eq!(p.overlay(&base, true, now).len(), 2);
        p.record(a.object.key.clone(), Change::Tombstone, false, ttl, now);
        assert_eq!(p.overlay(&base, false, now).len(), 0);
        assert_eq!(p.overlay(&base, true, now).len(), 1);
        // Earlier snapshots handed out are unchanged.
        assert_eq!((real.len(), dry.len()), (1, 1));
        // A new base rebuilds; expiry empties.
        let base2 = Arc::new(view(&[
            "apiVersion: v1\nkind: Service\nmetadata: {name: c, namespace: x}\n",
        ]));
        assert_eq!(p.overlay(&base2, true, now).len(), 2);
        assert_eq!(p.overlay(&base2, true, now + ttl * 2).len(), 1);
        assert!(p.is_empty());
    }
}
