//! Load generator for `meshgate serve`: keep-alive HTTPS connections (hyper over
//! rustls) sending a realistic mix of AdmissionReviews drawn from the synthetic
//! cluster, reporting throughput and latency percentiles.
//!
//! cargo run --release --example loadgen -- --addr 127.0.0.1:8443 --ca certs/ca.crt \
//!     --connections 32 --seconds 20 [--objects-scale 1] [--pid PID]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use meshgate::synthetic::{self, Scale};
use serde_json::{json, Value};
use tokio::net::TcpStream;

struct Args {
    addr: String,
    ca: String,
    connections: usize,
    seconds: u64,
    pid: Option<u32>,
}

fn args() -> Args {
    let mut a = Args {
        addr: "127.0.0.1:8443".into(),
        ca: "certs/ca.crt".into(),
        connections: 32,
        seconds: 20,
        pid: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().unwrap_or_default();
        match k.as_str() {
            "--addr" => a.addr = v,
            "--ca" => a.ca = v,
            "--connections" => a.connections = v.parse().expect("--connections N"),
            "--seconds" => a.seconds = v.parse().expect("--seconds N"),
            "--pid" => a.pid = Some(v.parse().expect("--pid PID")),
            other => panic!("unknown flag {other}"),
        }
    }
    a
}

fn review(uid: usize, op: &str, group: &str, kind: &str, object: Option<Value>, old: Option<Value>) -> Vec<u8> {
    let meta = object.as_ref().or(old.as_ref()).unwrap()["metadata"].clone();
    serde_json::to_vec(
        &json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": format!("load-{uid}"), "kind": {"group": group, "version": "v1", "kind": kind},
        "namespace": meta["namespace"], "name": meta["name"], "operation": op,
        "object": object, "oldObject": old, "dryRun": true}}),
    )
    .unwrap()
}

/// The mix: 40% VirtualService create, 20% VirtualService update, 15% DestinationRule,
/// 10% Gateway, 10% ServiceEntry, 5% Service delete (impact analysis). Dry runs, so
/// the pending overlay stays as a real cluster's would between applies.
fn mix() -> Vec<Vec<u8>> {
    let s = Scale::PRODUCT;
    let mut out = Vec::new();
    for i in 0..100usize {
        let n = 1000 + i * 37;
        let body = match i % 20 {
            0..=7 => review(
                i,
                "CREATE",
                "networking.istio.io",
                "VirtualService",
                Some(synthetic::virtual_service(&s, n)),
                None,
            ),
            8..=11 => {
                let old = synthetic::virtual_service(&s, n);
                let mut new = old.clone();
                new["metadata"]["labels"] = json!({"rev": "2"});
                review(
                    i,
                    "UPDATE",
                    "networking.istio.io",
                    "VirtualService",
                    Some(new),
                    Some(old),
                )
            }
            12..=14 => review(
                i,
                "CREATE",
                "networking.istio.io",
                "DestinationRule",
                Some(synthetic::destination_rule(&s, n % s.destination_rules)),
                None,
            ),
            15..=16 => review(
                i,
                "CREATE",
                "networking.istio.io",
                "Gateway",
                Some(synthetic::gateway(&s, n % s.gateways)),
                None,
            ),
            17..=18 => review(
                i,
                "CREATE",
                "networking.istio.io",
                "ServiceEntry",
                Some(synthetic::service_entry(&s, n % s.service_entries)),
                None,
            ),
            _ => review(
                i,
                "DELETE",
                "",
                "Service",
                None,
                Some(synthetic::service(&s, n + 10_000)),
            ),
        };
        out.push(body);
    }
    out
}

/// utime + stime of a process, in seconds.
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let a = args();
    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(&a.ca).expect("read --ca");
    for c in rustls_pemfile::certs(&mut &pem[..]) {
        roots.add(c.unwrap()).unwrap();
    }
    let tls = tokio_rustls::TlsConnector::from(Arc::new(
        rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    ));
    let bodies = Arc::new(mix());
    let stop = Arc::new(AtomicBool::new(false));
    let deadline = Duration::from_secs(a.seconds);
    let mut tasks = Vec::new();
    for c in 0..a.connections {
        let (tls, bodies, stop, addr) = (tls.clone(), bodies.clone(), stop.clone(), a.addr.clone());
        tasks.push(tokio::spawn(async move {
            let tcp = TcpStream::connect(&addr).await.expect("connect");
            tcp.set_nodelay(true).ok();
            let stream = tls
                .connect(rustls::pki_types::ServerName::try_from("localhost").unwrap(), tcp)
                .await
                .expect("TLS handshake");
            let (mut send, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .expect("HTTP handshake");
            tokio::spawn(conn);
            let mut lat = Vec::with_capacity(100_000);
            let (mut errors, mut i) = (0u64, c * 7);
            while !stop.load(Ordering::Relaxed) {
                let body = bodies[i % bodies.len()].clone();
                i += 1;
                let t = Instant::now();
                let req = hyper::Request::post("/validate")
                    .header("host", "localhost")
                    .header("content-type", "application/json")
                    .body(Full::new(Bytes::from(body)))
                    .unwrap();
                let ok = match send.send_request(req).await {
                    Ok(resp) => resp.status() == 200 && resp.into_body().collect().await.is_ok(),
                    Err(_) => false,
                };
                if ok {
                    lat.push(t.elapsed());
                } else {
                    errors += 1;
                    break;
                }
            }
            (lat, errors)
        }));
    }
    let start = Instant::now();
    let cpu_start = a.pid.and_then(cpu_seconds);
    let mut peak_rss = 0;
    while start.elapsed() < deadline {
        tokio::time::sleep(Duration::from_millis(250)).await;
        if let Some(r) = a.pid.and_then(rss_kib) {
            peak_rss = peak_rss.max(r);
        }
    }
    stop.store(true, Ordering::Relaxed);
    let elapsed = start.elapsed();
    let server_cpu = a
        .pid
        .and_then(cpu_seconds)
        .zip(cpu_start)
        .map(|(end, begin)| end - begin);
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (lat, e) = t.await.unwrap();
        all.extend(lat);
        errors += e;
    }
    all.sort();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    println!("connections: {}", a.connections);
    println!(
        "requests:    {} in {:.1} s, {} errors",
        all.len(),
        elapsed.as_secs_f64(),
        errors
    );
    println!("throughput:  {:.0} reviews/s", all.len() as f64 / elapsed.as_secs_f64());
    println!(
        "latency:     p50 {:?}  p99 {:?}  p99.9 {:?}  max {:?}",
        pct(0.50),
        pct(0.99),
        pct(0.999),
        all.last().copied().unwrap_or_default()
    );
    if let Some(cpu) = server_cpu {
        println!(
            "server CPU:  {:.2} s over {:.1} s ({:.0} µs per review; the rest of 2 cores is this load generator)",
            cpu,
            elapsed.as_secs_f64(),
            cpu * 1e6 / all.len().max(1) as f64
        );
    }
    if a.pid.is_some() {
        println!("server RSS:  peak {} MiB", peak_rss / 1024);
    }
}
