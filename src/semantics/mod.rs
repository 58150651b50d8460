//! Istio's naming and visibility rules (product.md §4), as istiod applies them.

pub mod ambient;
pub mod cluster_local;
pub mod envoy_names;
pub mod export_to;
pub mod gateway_ref;
pub mod host;
