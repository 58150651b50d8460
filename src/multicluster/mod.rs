//! Multi-cluster meshes (product.md §4 "Multi-cluster meshes", issue #22): the
//! remote secrets through which meshgate, like istiod, reads other clusters'
//! service registries. This part reads and sanitises them; watching remote
//! clusters and merging their registries build on it.

pub mod remote_secret;

pub use remote_secret::{is_remote_secret, read, sanitize, RemoteCluster, RemoteSecret, RemoteSecretError};
