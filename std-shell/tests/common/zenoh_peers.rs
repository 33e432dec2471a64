//! Helpers shared by the zenoh integration tests: loopback endpoints on a
//! port the OS chose, linked peer sessions, bounded waits, and the
//! two-process runs of the examples.
//!
//! A test file includes it with `#[path = "common/zenoh_peers.rs"] mod
//! zenoh_peers;`.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use evlatch_std::zenoh::engine::{self, Session, Wait};
use evlatch_std::zenoh::{self as ez};

/// A loopback endpoint on a port the OS just handed out.
pub fn free_endpoint() -> String {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port();
    format!("tcp/127.0.0.1:{port}")
}

/// A peer session listening on and connecting to the given endpoints.
pub fn open(listen: &[&str], connect: &[&str]) -> Session {
    engine::open(ez::peer_config(listen, connect).unwrap())
        .wait()
        .expect("zenoh session")
}

/// Two connected sessions, (listening, connecting), and the endpoint; the
/// connection is awaited for at most `bound`.
pub fn linked(bound: Duration) -> (Session, Session, String) {
    let endpoint = free_endpoint();
    let a = open(&[&endpoint], &[]);
    let b = open(&[], &[&endpoint]);
    wait_until("the peers to connect", bound, || {
        b.info().peers_zid().wait().next().is_some()
    });
    (a, b, endpoint)
}

/// Polls `done` every 5 ms; fails the test after `bound`.
pub fn wait_until(what: &str, bound: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + bound;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Builds the std shell's example `name` (zenoh feature, in this test's
/// profile) and returns the path of its executable.
pub fn build_example(name: &str) -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut build = Command::new(&cargo);
    build.args([
        "build",
        "-q",
        "-p",
        "evlatch-std",
        "--features",
        "zenoh",
        "--example",
        name,
    ]);
    if !cfg!(debug_assertions) {
        build.arg("--release");
    }
    assert!(
        build.status().expect("cargo runs").success(),
        "the example {name} builds"
    );
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(|d| d.parent()).unwrap();
    dir.join("examples").join(name)
}

/// Waits for a spawned example (its output piped; it bounds its own run
/// with `--timeout-s`), asserts it succeeded and returns its stdout.
pub fn finished(name: &str, child: Child) -> String {
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{name} failed: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}
