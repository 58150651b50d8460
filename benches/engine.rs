//! Engine benchmarks at the product.md §6 view size:
//! `cargo bench --bench engine` (numbers go to docs/performance.md).

use std::sync::{Arc, OnceLock};

use meshgate::checks;
use meshgate::model::Object;
use meshgate::synthetic::{self, Scale};
use meshgate::view::{ClusterView, Entry, ViewSettings};

fn main() {
    divan::main();
}

fn objects() -> &'static Vec<Object> {
    static OBJECTS: OnceLock<Vec<Object>> = OnceLock::new();
    OBJECTS.get_or_init(|| {
        synthetic::objects(&Scale::PRODUCT)
            .into_iter()
            .map(|v| Object::from_value(v, "default").expect("synthetic objects are valid"))
            .collect()
    })
}

fn view() -> &'static ClusterView {
    static VIEW: OnceLock<ClusterView> = OnceLock::new();
    VIEW.get_or_init(|| build(objects()))
}

fn build(objects: &[Object]) -> ClusterView {
    let mut v = ClusterView::new(ViewSettings::default());
    for o in objects {
        v.apply(o.clone());
    }
    v
}

/// The whole §6 view (88,000 objects) indexed from scratch.
#[divan::bench(sample_count = 5, sample_size = 1)]
fn index_build_product_scale() -> ClusterView {
    build(divan::black_box(objects()))
}

fn subject(v: serde_json::Value) -> Arc<Entry> {
    let o = Object::from_value(v, "default").unwrap();
    Arc::new(Entry::new(o, view().settings()))
}

/// One review's check work: parse the object into an entry and run every check.
#[divan::bench(args = ["mesh-vs-with-subset", "gateway-vs", "destination-rule", "gateway"])]
fn check_one(bencher: divan::Bencher, which: &str) {
    let s = Scale::PRODUCT;
    let value = match which {
        "mesh-vs-with-subset" => synthetic::virtual_service(&s, 4242),
        "gateway-vs" => synthetic::virtual_service(&s, 4243),
        "destination-rule" => synthetic::destination_rule(&s, 77),
        _ => synthetic::gateway(&s, 5),
    };
    let view = view();
    assert!(
        checks::check(&subject(value.clone()), view).is_empty(),
        "synthetic objects are consistent"
    );
    bencher.bench(|| {
        let o = Object::from_value(divan::black_box(value.clone()), "default").unwrap();
        let entry = Entry::new(o, view.settings());
        checks::check(&entry, view)
    });
}
