//! `meshgate check` reads every manifest kubectl's reader accepts (product.md §1.2).
//! A table of valid but unusual YAML, each case judged by kubectl 1.33 itself
//! (`create --dry-run=client`, its reader is go-yaml): whatever kubectl parses,
//! meshgate must parse to the same object. Cases kubectl rejects are listed too,
//! so the table shows where the two readers differ.

mod common;

use common::*;
use std::process::Command;

fn kubectl() -> String {
    std::env::var("MESHGATE_KUBECTL").unwrap_or_else(|_| "/usr/lib/google-cloud-sdk/bin/kubectl.1.33".to_string())
}

/// Whether kubectl's reader parses the file: it then fails only later, at
/// discovery against an unreachable server ("unable to recognize").
fn kubectl_parses(file: &std::path::Path) -> bool {
    let o = Command::new(kubectl())
        .args([
            "create",
            "--dry-run=client",
            "--validate=false",
            "-o",
            "name",
            "--server=http://127.0.0.1:1",
            "-f",
        ])
        .arg(file)
        .env("KUBECONFIG", "/dev/null")
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "{} does not run ({e}): set MESHGATE_KUBECTL to a kubectl 1.33",
                kubectl()
            )
        });
    let err = String::from_utf8_lossy(&o.stderr);
    if err.contains("unable to recognize") || o.status.success() {
        return true;
    }
    assert!(
        err.contains("error parsing") || err.contains("error converting YAML") || err.contains("yaml:"),
        "kubectl failed for another reason: {err}"
    );
    false
}

const SVC_HEAD: &str = "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n  namespace: shop\n";

#[test]
fn every_document_kubectl_reads_meshgate_reads_alike() {
    let cases: Vec<(&str, String, bool)> = vec![
        ("flow sequence closed at the key's indentation", format!("{SVC_HEAD}spec:\n  ports: [\n  {{port: 80, name: http}}\n  ]\n"), true),
        ("flow sequence over lines, closed at column 0", format!("{SVC_HEAD}spec:\n  ports: [{{port: 80,\nname: http}}\n]\n"), true),
        ("flow mapping over lines", "apiVersion: v1\nkind: Service\nmetadata: {name: s,\n  namespace: shop}\nspec:\n  ports: [{port: 80, name: http}]\n".to_string(), true),
        ("BOM and CRLF", format!("\u{feff}{}spec:\r\n  ports: [{{port: 80, name: http}}]\r\n", SVC_HEAD.replace('\n', "\r\n")), true),
        ("explicit document markers and a trailing comment-only document", format!("--- \n{SVC_HEAD}spec:\n  ports: [{{port: 80, name: http}}]\n...\n---\n# nothing\n"), true),
        ("anchors, aliases and merge keys", format!("{SVC_HEAD}  labels: &l {{app: web}}\nspec:\n  selector:\n    <<: *l\n  ports: [{{port: 80, name: http}}]\n"), true),
        ("duplicate keys (the last wins)", format!("{SVC_HEAD}spec:\n  ports: [{{port: 81, name: http}}]\n  ports: [{{port: 80, name: http}}]\n"), true),
        ("block scalars with indentation indicators", format!("{SVC_HEAD}  annotations:\n    a: |2\n        indented\n    b: >-\n      folded\n      text\nspec:\n  ports: [{{port: 80, name: http}}]\n"), true),
        ("sequence not indented under its key", format!("{SVC_HEAD}spec:\n  ports:\n  - port: 80\n    name: http\n"), true),
        ("quoted keys and a complex key", format!("{SVC_HEAD}  \"labels\":\n    'app': web\n    ? tier\n    : front\nspec:\n  ports: [{{port: 80, name: http}}]\n"), true),
        ("multi-line plain and quoted scalars", format!("{SVC_HEAD}  annotations:\n    a: \"one\n      two\"\n    b: plain\n      continued\nspec:\n  ports: [{{port: 80, name: http}}]\n"), true),
        ("JSON", "{\"apiVersion\": \"v1\", \"kind\": \"Service\",\n \"metadata\": {\"name\": \"s\", \"namespace\": \"shop\"},\n \"spec\": {\"ports\": [{\"port\": 80, \"name\": \"http\"}]}}\n".to_string(), true),
        ("tags", format!("{SVC_HEAD}  labels: {{v: !!str 1}}\nspec:\n  ports: [{{port: !!int 80, name: http}}]\n"), true),
        ("a tab where indentation is expected", format!("{SVC_HEAD}spec:\n  ports:\n  - port: 80\n\tname: http\n"), false),
        ("an unclosed flow sequence", format!("{SVC_HEAD}spec:\n  ports: [{{port: 80}}\n"), false),
    ];
    let dir = tempfile::tempdir().unwrap();
    let mut report = Vec::new();
    for (i, (name, text, kubectl_expected)) in cases.iter().enumerate() {
        let file = dir.path().join(format!("case-{i}.yaml"));
        std::fs::write(&file, text).unwrap();
        let by_kubectl = kubectl_parses(&file);
        assert_eq!(by_kubectl, *kubectl_expected, "{name}: kubectl's verdict changed");
        let o = run(&["check", "-o", "json", "--fail-on", "never", &file.display().to_string()]);
        let by_meshgate = o.status.code() == Some(0);
        report.push(format!("{name}: kubectl {by_kubectl}, meshgate {by_meshgate}"));
        if by_kubectl {
            assert!(
                by_meshgate,
                "{name}: kubectl reads it, meshgate does not: {}",
                stderr(&o)
            );
            // The same object: the Service with port 80 (not the duplicate's 81).
            let v = json(&o);
            assert_eq!(v["skipped"], serde_json::json!([]), "{name}");
            let dump = run(&["check", "--fail-on", "never", &file.display().to_string()]);
            assert!(
                stdout(&dump).starts_with("1 objects checked"),
                "{name}: {}",
                stdout(&dump)
            );
        } else {
            assert_eq!(o.status.code(), Some(2), "{name}: kubectl rejects it, so must meshgate");
        }
    }
    eprintln!("{}", report.join("\n"));
}
