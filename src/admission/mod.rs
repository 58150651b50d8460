//! Admission: from an AdmissionReview to a decision (product.md §3). Knows Istio
//! only through the check engine; knows nothing of HTTP.

mod apply_order;
mod decide;
mod impact;
mod pending;
pub mod review;

pub use decide::{decide, DecideError, Decision};
pub use impact::{analyze as analyze_impact, Change as ImpactChange, Impact};
pub use pending::{Change as PendingChange, Pending};
