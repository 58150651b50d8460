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
    piped(meshgate().args(args), input.as_bytes())
}

/// Runs `cmd` with `input` on its stdin; its output.
pub fn piped(cmd: &mut Command, input: &[u8]) -> Output {
    use std::io::Write;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the command runs");
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

/// A Go binary that `script` builds with tests/go-testbin.sh (or finds in its
/// cache): its path.
pub fn go_binary(script: &str, what: &str) -> String {
    let out = Command::new("bash")
        .arg(repo(script))
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("run {script}: {e}"));
    assert!(
        out.status.success(),
        "building {what} failed (needs Go and the module proxy)"
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .trim()
        .to_string()
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

/// splitmix64: deterministic random cases without a dependency.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    pub fn coin(&mut self) -> bool {
        self.next() & 1 == 1
    }
}
