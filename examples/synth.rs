//! Writes a synthetic cluster as YAML manifests:
//! `cargo run --release --example synth -- DIR [OBJECTS] [FILES]` (default 10,000
//! objects, in the proportions of product.md §6). Without FILES one object per file;
//! with FILES the objects are spread over that many multi-document files. Used to
//! measure `meshgate check` at scale (benches/vs-istioctl.sh). `SYNTH_GATEWAY_API=1`
//! adds Gateway API Gateways and HTTPRoutes (500 and 5,000 at the full size).

use meshgate::synthetic::{self, Scale};

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next() else {
        eprintln!("usage: synth DIR [OBJECTS] [FILES]");
        std::process::exit(2);
    };
    let want: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(10_000);
    let files: Option<usize> = args.next().and_then(|n| n.parse().ok()).filter(|n| *n > 0);
    let full = if std::env::var_os("SYNTH_GATEWAY_API").is_some() {
        Scale::PRODUCT_GATEWAY_API
    } else {
        Scale::PRODUCT
    };
    let divisor = (full.total() / want.max(1)).max(1);
    let scale = full.divided(divisor);
    let objects = synthetic::objects(&scale);
    std::fs::create_dir_all(&dir).expect("create output dir");
    match files {
        None => {
            for (i, v) in objects.iter().enumerate() {
                let path = format!("{dir}/{i:06}.yaml");
                std::fs::write(&path, synthetic::to_yaml(v)).expect("write manifest");
            }
            println!("wrote {} manifests to {dir}", objects.len());
        }
        Some(n) => {
            let per = objects.len().div_ceil(n);
            for (k, chunk) in objects.chunks(per).enumerate() {
                let docs: Vec<String> = chunk.iter().map(synthetic::to_yaml).collect();
                std::fs::write(format!("{dir}/part-{k:03}.yaml"), docs.join("---\n")).expect("write manifest");
            }
            println!("wrote {} objects in {n} files to {dir}", objects.len());
        }
    }
}
