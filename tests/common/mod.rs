//! Shared helpers for the integration tests.
#![allow(dead_code)]

pub mod server;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

pub fn meshgate() -> Command {
    Command::new(env!("CARGO_BIN_EXE_meshgate"))
}

pub fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// `../shared` beside the checkout (CI lays a copy there), or `$MESHGATE_SHARED`.
pub fn shared(path: &str) -> PathBuf {
    let base = std::env::var_os("MESHGATE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo("../shared"));
    let p = base.join(path);
    assert!(
        p.exists(),
        "{} is missing: these tests read Istio's samples from ../shared",
        p.display()
    );
    p
}

pub fn run(args: &[&str]) -> Output {
    meshgate()
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("meshgate runs")
}

pub fn run_with_stdin(args: &[&str], input: &str) -> Output {
    use std::io::Write;
    let mut child = meshgate()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("meshgate runs");
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", stdout(o)))
}
