//! Both demos as users start them, against clients that hold connections: headers sent one
//! byte at a time are cut off by the server, and a verified number is never cached.

mod common;

use std::time::{Duration, Instant};

use common::Demo;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// The longest this test waits for the server to close a stalled connection; the demos' header
/// deadline is 10 s, so a server without one fails here.
const PATIENCE: Duration = Duration::from_secs(30);

/// Sends a request head a byte at a time, 1 byte a second, and returns whether the server closed
/// the connection before the head was complete (within [`PATIENCE`]).
async fn slow_headers_are_cut_off(app: &str) -> bool {
    let addr = app.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "GET /healthz HTTP/1.1\r\nHost: {addr}\r\nX-Padding: {}\r\n\r\n",
        "a".repeat(64)
    );
    let started = Instant::now();
    for byte in head.as_bytes() {
        if started.elapsed() > PATIENCE {
            return false;
        }
        if stream.write_all(&[*byte]).await.is_err() {
            return true;
        }
        // A closed connection shows as a read of 0 (or an error) while we dawdle.
        let mut buf = [0u8; 256];
        match tokio::time::timeout(Duration::from_secs(1), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => return true, // an answer (408) before the head was complete
            Err(_) => {}
        }
    }
    false
}

async fn check(binary: &str) {
    let demo = Demo::start(binary);
    assert!(
        slow_headers_are_cut_off(&demo.app).await,
        "{binary}: a client sending its headers at 1 byte/s kept its connection"
    );
    let me = reqwest::get(format!("{}/me", demo.app)).await.expect("me");
    assert_eq!(me.status(), 401);
    drop(demo);
}

#[tokio::test]
async fn axum_demo_cuts_off_slow_headers() {
    check(env!("CARGO_BIN_EXE_axum-demo")).await;
}

#[tokio::test]
async fn actix_demo_cuts_off_slow_headers() {
    check(env!("CARGO_BIN_EXE_actix-demo")).await;
}
