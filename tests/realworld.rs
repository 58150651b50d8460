//! The real-world regression suite (tests/realworld/README.md): valid sets give
//! no error finding; broken sets give exactly the findings they document.

mod common;

use common::*;
use std::path::Path;

fn findings_of(set: &Path) -> Vec<String> {
    let cluster = repo("tests/realworld/_cluster");
    let o = run(&[
        "check",
        "-o",
        "json",
        "--fail-on",
        "never",
        &cluster.display().to_string(),
        &set.display().to_string(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}: {}", set.display(), stderr(&o));
    let v = json(&o);
    let prefix = set.display().to_string();
    let mut lines: Vec<String> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["file"].as_str().is_some_and(|file| file.starts_with(&prefix)))
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap_or_default().to_string();
            format!(
                "{} {} {} {}/{} {}",
                s("severity"),
                s("code"),
                s("kind"),
                s("namespace"),
                s("name"),
                s("pointer")
            )
        })
        .collect();
    lines.sort();
    lines
}

#[test]
fn real_world_sets_valid_ones_give_no_error_broken_ones_exactly_theirs() {
    let root = repo("tests/realworld");
    let mut sets: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir() && !p.file_name().unwrap().to_string_lossy().starts_with('_'))
        .collect();
    sets.sort();
    let bless = std::env::var_os("MESHGATE_BLESS").is_some();
    let (mut valid, mut broken, mut failures) = (0, 0, Vec::new());
    for set in &sets {
        let name = set.file_name().unwrap().to_string_lossy().to_string();
        let got = findings_of(set);
        let expected_path = set.join("expected.txt");
        if bless {
            let text: String = got.iter().map(|l| format!("{l}\n")).collect();
            std::fs::write(&expected_path, text).unwrap();
        }
        let expected: Vec<String> = std::fs::read_to_string(&expected_path)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect();
        if got != expected {
            failures.push(format!("{name}:\n  expected {expected:#?}\n  got {got:#?}"));
        }
        let errors = got.iter().filter(|l| l.starts_with("error ")).count();
        if name.starts_with("ok-") {
            valid += 1;
            if errors > 0 {
                failures.push(format!(
                    "{name} is valid configuration but gives {errors} error(s): {got:#?}"
                ));
            }
        } else if name.starts_with("broken-") {
            broken += 1;
            if errors == 0 {
                failures.push(format!("{name} is broken but gives no error"));
            }
        } else {
            failures.push(format!("{name}: a set is named ok-* or broken-*"));
        }
    }
    eprintln!("real-world sets: {valid} valid (no error), {broken} broken (their findings exactly)");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(sets.len() >= 30, "only {} sets", sets.len());
}
