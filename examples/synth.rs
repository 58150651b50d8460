//! Writes a synthetic cluster as YAML manifests, one object per file:
//! `cargo run --release --example synth -- DIR [OBJECTS]` (default 10,000 objects,
//! in the proportions of product.md §6). Used to measure `meshgate check` at scale.

use meshgate::synthetic::{self, Scale};

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next() else {
        eprintln!("usage: synth DIR [OBJECTS]");
        std::process::exit(2);
    };
    let want: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(10_000);
    let divisor = (Scale::PRODUCT.total() / want.max(1)).max(1);
    let scale = Scale::PRODUCT.divided(divisor);
    let objects = synthetic::objects(&scale);
    std::fs::create_dir_all(&dir).expect("create output dir");
    for (i, v) in objects.iter().enumerate() {
        let path = format!("{dir}/{i:06}.yaml");
        std::fs::write(&path, synthetic::to_yaml(v)).expect("write manifest");
    }
    println!("wrote {} manifests to {dir}", objects.len());
}
