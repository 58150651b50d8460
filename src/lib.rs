//! meshgate: an admission validating webhook for Istio configuration.
//!
//! Layers, one direction of dependencies: `model` (objects and lenient typed views)
//! → `semantics` (Istio naming and visibility rules) → `view` (the indexed cluster
//! view) → `checks` (pure functions of object and view) → `cli` (and the server).
#![forbid(unsafe_code)]

pub mod admission;
pub mod audit;
pub mod certs;
pub mod checks;
pub mod cli;
pub mod explain;
pub mod finding;
pub mod live;
pub mod manifest;
pub mod model;
pub mod multicluster;
pub mod policy;
pub mod report;
pub mod semantics;
pub mod server;
pub mod synthetic;
pub mod view;
