//! Readiness and staleness of the watches: ready once every expected kind has
//! delivered its initial list and no watch has been failing for longer than the
//! staleness bound.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::model::Kind;

/// One watch: its kind, and which part of the kind it covers when two watches
/// share one (`""`: all of it; the ConfigMaps other than `istio` are watched
/// apart, as metadata).
pub type WatchKey = (Kind, &'static str);

#[derive(Debug, Default, Clone)]
pub struct KindHealth {
    pub init_done: bool,
    pub failing_since: Option<Instant>,
    pub last_event: Option<Instant>,
    pub restarts: u64,
}

#[derive(Debug)]
pub struct Health {
    kinds: Mutex<BTreeMap<WatchKey, KindHealth>>,
    stale_after: Duration,
}

impl Health {
    pub fn new(stale_after: Duration) -> Health {
        Health {
            kinds: Mutex::new(BTreeMap::new()),
            stale_after,
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut BTreeMap<WatchKey, KindHealth>) -> R) -> R {
        f(&mut self.kinds.lock().unwrap_or_else(|p| p.into_inner()))
    }

    pub fn expect(&self, kind: WatchKey) {
        self.with(|k| {
            k.entry(kind).or_default();
        });
    }

    pub fn init_done(&self, kind: WatchKey) {
        self.with(|k| k.entry(kind).or_default().init_done = true);
    }

    pub fn event(&self, kind: WatchKey) {
        self.with(|k| {
            let h = k.entry(kind).or_default();
            h.failing_since = None;
            h.last_event = Some(Instant::now());
        });
    }

    pub fn error(&self, kind: WatchKey) {
        self.with(|k| {
            let h = k.entry(kind).or_default();
            h.restarts += 1;
            h.failing_since.get_or_insert_with(Instant::now);
        });
    }

    pub fn is_ready(&self, now: Instant) -> bool {
        self.with(|k| {
            !k.is_empty()
                && k.values().all(|h| {
                    h.init_done
                        && h.failing_since
                            .is_none_or(|since| now.duration_since(since) < self.stale_after)
                })
        })
    }

    pub fn snapshot(&self) -> BTreeMap<WatchKey, KindHealth> {
        self.with(|k| k.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_after_every_initial_list_and_stale_after_the_bound() {
        let h = Health::new(Duration::from_secs(30));
        let now = Instant::now();
        assert!(!h.is_ready(now), "nothing expected yet is not ready");
        h.expect((Kind::Service, ""));
        h.expect((Kind::Pod, ""));
        h.expect((Kind::Pod, "other"));
        h.init_done((Kind::Service, ""));
        assert!(!h.is_ready(now));
        h.init_done((Kind::Pod, ""));
        assert!(!h.is_ready(now), "every watch of a kind counts");
        h.init_done((Kind::Pod, "other"));
        assert!(h.is_ready(now));
        h.error((Kind::Pod, ""));
        assert!(h.is_ready(Instant::now()), "a brief failure keeps readiness");
        assert!(
            !h.is_ready(Instant::now() + Duration::from_secs(31)),
            "a long one does not"
        );
        h.event((Kind::Pod, ""));
        assert!(h.is_ready(Instant::now() + Duration::from_secs(31)));
        assert_eq!(h.snapshot()[&(Kind::Pod, "")].restarts, 1);
    }
}
