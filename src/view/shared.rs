//! The view as the server shares it: readers take an O(1) snapshot; writers swap.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use super::ClusterView;

#[derive(Debug, Default)]
pub struct SharedView {
    view: RwLock<Arc<ClusterView>>,
    ready: AtomicBool,
}

impl SharedView {
    pub fn new(view: ClusterView, ready: bool) -> SharedView {
        SharedView {
            view: RwLock::new(Arc::new(view)),
            ready: AtomicBool::new(ready),
        }
    }

    pub fn snapshot(&self) -> Arc<ClusterView> {
        self.view.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Applies `f` to a copy of the current view and publishes the result.
    pub fn update(&self, f: impl FnOnce(&mut ClusterView)) {
        let mut guard = self.view.write().unwrap_or_else(|p| p.into_inner());
        let mut next = (**guard).clone();
        f(&mut next);
        *guard = Arc::new(next);
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Release);
    }
}
