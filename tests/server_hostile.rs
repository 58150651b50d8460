//! Hostile and broken input: every case gets a clear 4xx or a clean close, never a
//! panic, and the server keeps serving afterwards. Certificate rotation under load.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::server::*;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const OK_REVIEW: &str = r#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u-ok","kind":{"group":"networking.istio.io","version":"v1","kind":"VirtualService"},"namespace":"default","name":"x","operation":"CREATE","object":{"apiVersion":"networking.istio.io/v1","kind":"VirtualService","metadata":{"name":"x","namespace":"default"},"spec":{"hosts":["x"]}}}}"#;

async fn still_serving(s: &TestServer) {
    let (status, body) = s.post(OK_REVIEW).await;
    assert_eq!(status, 200);
    assert_eq!(body["response"]["uid"], "u-ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_reviews_get_a_400_with_a_json_error() {
    let s = TestServer::start(Setup::default()).await;
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("not JSON", b"garbage".to_vec(), 400, "request body is not JSON"),
        ("empty body", Vec::new(), 400, "request body is not JSON"),
        ("wrong apiVersion", br#"{"apiVersion":"v1","kind":"AdmissionReview","request":{}}"#.to_vec(), 400, "expected an AdmissionReview"),
        ("wrong kind", br#"{"apiVersion":"admission.k8s.io/v1","kind":"Pod"}"#.to_vec(), 400, "expected an AdmissionReview"),
        ("missing request", br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#.to_vec(), 400, "has no `request`"),
        (
            "missing uid",
            br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"kind":{"kind":"Gateway"},"operation":"CREATE"}}"#.to_vec(),
            400,
            "`request.uid` is missing",
        ),
        (
            "request of the wrong type",
            br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":"x"}"#.to_vec(),
            400,
            "`request` is malformed",
        ),
        (
            "unknown kind",
            br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"group":"example.com","version":"v1","kind":"Widget"},"operation":"CREATE","object":{}}}"#.to_vec(),
            400,
            "does not review kind example.com/Widget",
        ),
        ("deeply nested JSON", "[".repeat(100_000).into_bytes(), 400, "request body is not JSON"),
    ];
    for (name, body, want_status, want_error) in cases {
        let (status, v) = s.post(body).await;
        assert_eq!(status, want_status, "{name}: {v}");
        let err = v["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: no JSON error in {v}"));
        assert!(err.contains(want_error), "{name}: {err}");
        still_serving(&s).await;
    }
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_20_mib_body_gets_413_and_the_server_keeps_serving() {
    let s = TestServer::start(Setup::default()).await;
    // Declared size over the limit: refused before the body is read.
    let mut tls = tls_stream(&s).await;
    tls.write_all(b"POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 20971520\r\n\r\n")
        .await
        .unwrap();
    tls.flush().await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), tls.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(text.contains("\"error\":\"cannot read request body"), "{text}");
    // Streamed without a declared size: cut off at the limit. The server answers 413
    // or closes the connection while the client is still writing; either is clean.
    let mut chunked = tls_stream(&s).await;
    chunked
        .write_all(b"POST /validate HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n")
        .await
        .unwrap();
    let chunk = vec![b' '; 1024 * 1024];
    for _ in 0..20 {
        let head = format!("{:x}\r\n", chunk.len());
        if chunked.write_all(head.as_bytes()).await.is_err()
            || chunked.write_all(&chunk).await.is_err()
            || chunked.write_all(b"\r\n").await.is_err()
        {
            break;
        }
    }
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), chunked.read_to_end(&mut rest)).await;
    let text = String::from_utf8_lossy(&rest);
    assert!(text.is_empty() || text.starts_with("HTTP/1.1 413"), "{text}");
    still_serving(&s).await;
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unparsable_object_is_denied_naming_why() {
    let s = TestServer::start(Setup::default()).await;
    let body = review(
        "admission.k8s.io/v1",
        "CREATE",
        ("networking.istio.io", "VirtualService"),
        Some(
            json!({"apiVersion": "networking.istio.io/v1", "kind": "VirtualService", "metadata": {"name": "x", "namespace": "d"}, "spec": {"hosts": "x", "http": [{"route": 5}]}}),
        ),
        None,
        false,
    );
    let (status, v) = s.post(body).await;
    assert_eq!(status, 200);
    assert_eq!(v["response"]["allowed"], false);
    assert_eq!(
        v["response"]["status"]["message"],
        "MG0001 /spec/hosts: cannot read this field: expected a list, found a string; Istio's validation rejects the object, or istiod ignores the field; \
         MG0001 /spec/http/0/route: cannot read this field: expected a list, found a number; Istio's validation rejects the object, or istiod ignores the field"
    );
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_tls_handshake_is_closed_cleanly() {
    let s = TestServer::start(Setup::default()).await;
    // The first bytes of a ClientHello, then nothing.
    let mut tcp = TcpStream::connect(s.addr).await.unwrap();
    tcp.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03])
        .await
        .unwrap();
    drop(tcp);
    // Not TLS at all.
    let mut tcp = TcpStream::connect(s.addr).await.unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut buf)).await;
    still_serving(&s).await;
    s.stop().await.unwrap();
}

async fn tls_stream(s: &TestServer) -> tokio_rustls::client::TlsStream<TcpStream> {
    let tcp = TcpStream::connect(s.addr).await.unwrap();
    tls_connector(&s.cas)
        .connect(rustls::pki_types::ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_sent_byte_by_byte_are_served_and_stalled_headers_time_out() {
    let s = TestServer::start(Setup {
        header_read_timeout: Duration::from_millis(1500),
        ..Setup::default()
    })
    .await;
    let mut tls = tls_stream(&s).await;
    let head = format!(
        "POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        OK_REVIEW.len()
    );
    for b in head.bytes() {
        tls.write_all(&[b]).await.unwrap();
        tls.flush().await.unwrap();
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    tls.write_all(OK_REVIEW.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), tls.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");

    // Half a header, then silence: the server closes the connection.
    let mut slow = tls_stream(&s).await;
    slow.write_all(b"POST /validate HTTP/1.1\r\nHost: loc").await.unwrap();
    slow.flush().await.unwrap();
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(6), slow.read_to_end(&mut rest)).await;
    assert!(
        closed.is_ok(),
        "stalled headers must be cut off by the header-read timeout"
    );
    still_serving(&s).await;
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_rotation_under_load_drops_nothing() {
    let mut s = TestServer::start(Setup::default()).await;
    let old_cert = s.client().await.unwrap().peer_cert;
    // Clients trust both the current CA and the next one, as a CA bundle does
    // during a rotation.
    let next_dir = tempfile::tempdir().unwrap();
    let next_ca = write_pair(next_dir.path());
    s.cas.push(next_ca);
    let cas = Arc::new(s.cas.clone());
    let ok = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut workers = Vec::new();
    for w in 0..4 {
        let (cas, ok, failed, stop, addr) = (cas.clone(), ok.clone(), failed.clone(), stop.clone(), s.addr);
        workers.push(tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) && i < 5000 {
                i += 1;
                // Half the workers reconnect every request (new handshakes see the
                // new certificate); half keep their connection alive.
                let result = async {
                    let mut c = Client::connect(addr, &cas).await?;
                    let n = if w % 2 == 0 { 1 } else { 20 };
                    for _ in 0..n {
                        let (status, v) = c.post("/validate", OK_REVIEW.as_bytes().to_vec()).await?;
                        if status != 200 || v["response"]["uid"] != "u-ok" {
                            return Err(format!("bad answer {status} {v}"));
                        }
                    }
                    Ok::<_, String>(n)
                }
                .await;
                match result {
                    Ok(n) => ok.fetch_add(n, Ordering::Relaxed),
                    Err(e) => {
                        eprintln!("request failed: {e}");
                        failed.fetch_add(1, Ordering::Relaxed)
                    }
                };
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Rotate: the new pair appears, as a Secret volume update does.
    std::fs::copy(next_dir.path().join("tls.key"), s.path("tls.key.new")).unwrap();
    std::fs::copy(next_dir.path().join("tls.crt"), s.path("tls.crt.new")).unwrap();
    std::fs::rename(s.path("tls.key.new"), s.path("tls.key")).unwrap();
    std::fs::rename(s.path("tls.crt.new"), s.path("tls.crt")).unwrap();
    let mut rotated = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if s.client().await.unwrap().peer_cert != old_cert {
            rotated = true;
            break;
        }
    }
    assert!(rotated, "the new certificate is served without a restart");
    // A broken pair (key of another certificate) is rejected; the current one stays.
    let served = s.client().await.unwrap().peer_cert;
    let third = tempfile::tempdir().unwrap();
    write_pair(third.path());
    std::fs::copy(third.path().join("tls.key"), s.path("tls.key")).unwrap();
    let mut rejected = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if s.admin_get("/metrics")
            .await
            .1
            .contains("meshgate_certificate_reload_failures_total 1")
        {
            rejected = true;
            break;
        }
    }
    assert!(rejected, "the broken pair is counted");
    assert_eq!(s.client().await.unwrap().peer_cert, served, "the last good pair stays");
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }
    let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    assert_eq!(failed, 0, "{failed} failed of {}", ok + failed);
    assert!(ok > 100, "load ran: {ok} requests");
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_finishes_in_flight_reviews() {
    let s = TestServer::start(Setup::default()).await;
    // A request whose body arrives after shutdown has begun still gets its answer.
    let mut tls = tls_stream(&s).await;
    let head = format!(
        "POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        OK_REVIEW.len()
    );
    tls.write_all(head.as_bytes()).await.unwrap();
    tls.write_all(&OK_REVIEW.as_bytes()[..10]).await.unwrap();
    tls.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let stopping = tokio::spawn(s.stop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    tls.write_all(&OK_REVIEW.as_bytes()[10..]).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), tls.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("u-ok"), "{text}");
    stopping.await.unwrap().unwrap();
}
