//! The audit as `serve` runs it: follows the shared view's journal, a pass per
//! burst of changes (debounced), on a blocking thread so a large pass never
//! stalls the webhook's runtime. Whatever feeds the view (watches, files, the
//! demo) feeds the audit.

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use super::{Audit, PassStats, Snapshot};
use crate::view::{Changes, SharedView};

/// Changes closer together than this are audited in one pass.
pub const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(200);

/// The last pass, for `/report` and the metrics.
#[derive(Clone, Debug)]
pub struct Pass {
    pub results: Snapshot,
    pub stats: PassStats,
    pub finished: SystemTime,
    pub duration: Duration,
    /// Passes since start.
    pub number: u64,
}

/// Where the runner publishes its passes. `None` until the first pass, which
/// waits for the view to be ready (a partial view would report false findings).
#[derive(Debug, Default)]
pub struct AuditResults {
    last: RwLock<Option<Arc<Pass>>>,
    /// Objects re-checked since start (a counter for metrics).
    rechecked_total: Mutex<u64>,
}

impl AuditResults {
    pub fn last(&self) -> Option<Arc<Pass>> {
        self.last.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn rechecked_total(&self) -> u64 {
        *self.rechecked_total.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn publish(&self, pass: Pass) {
        *self.rechecked_total.lock().unwrap_or_else(|p| p.into_inner()) += pass.stats.rechecked as u64;
        *self.last.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(pass));
    }
}

/// Runs for the life of the runtime.
pub async fn run(view: Arc<SharedView>, results: Arc<AuditResults>, debounce: Duration) {
    let mut audit: Option<Audit> = None;
    let mut number = 0u64;
    loop {
        view.changed().await;
        tokio::time::sleep(debounce).await;
        if !view.is_ready() {
            continue; // set_ready(true) wakes us again
        }
        let (next, changes) = view.take_changes();
        if audit.is_some() && changes == Changes::none() {
            continue;
        }
        let started = Instant::now();
        let current = audit.take();
        let done = tokio::task::spawn_blocking(move || match (current, changes) {
            (Some(mut a), Changes::Objects { keys, topics }) => {
                let stats = a.advance_with(next, keys, topics);
                (a, stats)
            }
            (Some(mut a), Changes::Everything) => {
                let stats = a.replace(next);
                (a, stats)
            }
            (None, _) => {
                let a = Audit::new(next);
                let stats = PassStats {
                    changed: a.len(),
                    rechecked: a.len(),
                };
                (a, stats)
            }
        })
        .await;
        let (a, stats) = match done {
            Ok(x) => x,
            Err(e) => {
                // A panic in a check: start over from the whole view next time.
                tracing::error!(error = %e, "audit pass failed");
                continue;
            }
        };
        number += 1;
        let pass = Pass {
            results: a.snapshot(),
            stats,
            finished: SystemTime::now(),
            duration: started.elapsed(),
            number,
        };
        if stats.rechecked > 0 || number == 1 {
            tracing::info!(
                changed = stats.changed,
                rechecked = stats.rechecked,
                objects = a.len(),
                millis = pass.duration.as_millis() as u64,
                "audit pass"
            );
        }
        results.publish(pass);
        audit = Some(a);
    }
}
