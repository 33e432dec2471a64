//! Two event services in two processes, linked by a zenoh bridge.
//!
//! Run it twice (the README has the exact commands):
//!
//! ```text
//! cargo run --release -p evlatch-std --features zenoh --example zenoh_service -- --listen tcp/127.0.0.1:7447
//! cargo run --release -p evlatch-std --features zenoh --example zenoh_service -- --connect tcp/127.0.0.1:7447
//! ```
//!
//! Each process publishes `demo.<role>.tick` (role `listen` or `connect`)
//! ten times a second, exports and imports `demo.*`, and prints each remote
//! event it receives. With `--count N` it stops after N remote events: it
//! then publishes `demo.<role>.done` until it has seen the other side's
//! `done` (so both can finish), and exits 0; after `--timeout-s S`
//! (default 30) it exits 1.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use evlatch_std::service::{EventService, Message};
use evlatch_std::zenoh::{self as ez, engine::Wait, BridgeOptions, ServiceBridge};

struct Args {
    role: &'static str,
    endpoint: String,
    count: Option<u64>,
    timeout: Duration,
}

fn parse() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let mut parsed = None;
    let mut count = None;
    let mut timeout = Duration::from_secs(30);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--listen" => parsed = Some(("listen", value()?)),
            "--connect" => parsed = Some(("connect", value()?)),
            "--count" => count = Some(value()?.parse().map_err(|e| format!("--count: {e}"))?),
            "--timeout-s" => {
                timeout =
                    Duration::from_secs(value()?.parse().map_err(|e| format!("--timeout-s: {e}"))?);
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    let (role, endpoint) =
        parsed.ok_or("give --listen ENDPOINT or --connect ENDPOINT (like tcp/127.0.0.1:7447)")?;
    Ok(Args {
        role,
        endpoint,
        count,
        timeout,
    })
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("timed out");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<bool, Box<dyn std::error::Error + Send + Sync>> {
    let args = parse()?;
    let endpoint = args.endpoint.as_str();
    let config = if args.role == "listen" {
        ez::peer_config(&[endpoint], &[])?
    } else {
        ez::peer_config(&[], &[endpoint])?
    };
    let session = ez::engine::open(config).wait()?;
    let service = EventService::asynchronous(1)?;
    let options = BridgeOptions::new().export("demo.*")?.import("demo.*")?;
    let bridge = ServiceBridge::attach(&service, &session, options)?;
    let inbox = service.subscriber().subscribe("demo.*")?;
    let publisher = service.publisher();
    println!("{} {} as {}", args.role, endpoint, bridge.origin());

    let start = Instant::now();
    let (mut ticks, mut seen, mut their_done, mut done_since) = (0_i64, 0_u64, false, None);
    let tick = format!("demo.{}.tick", args.role);
    let done = format!("demo.{}.done", args.role);
    let finished = loop {
        if start.elapsed() > args.timeout {
            break false;
        }
        let reached = args.count.is_some_and(|n| seen >= n);
        let topic = if reached { &done } else { &tick };
        publisher.publish(topic, Message::new().with_body("n", ticks))?;
        ticks += 1;
        let until = Instant::now() + Duration::from_millis(100);
        while let Some(left) = until.checked_duration_since(Instant::now()) {
            let Ok(event) = inbox.recv_timeout(left) else {
                continue;
            };
            if event.publisher() != bridge.importer_id() {
                continue; // our own
            }
            let origin = event.header().get_str(ez::ORIGIN_HEADER).unwrap_or("?");
            println!(
                "received {} n={} from {origin}",
                event.topic(),
                event.body().get_i64("n").unwrap_or(-1)
            );
            seen += 1;
            their_done |= event.topic().ends_with(".done");
        }
        if reached && their_done {
            // Keep saying `done` a little so the other side sees it too.
            let since = *done_since.get_or_insert_with(Instant::now);
            if since.elapsed() > Duration::from_secs(1) {
                break true;
            }
        }
    };
    let stats = bridge.close();
    println!("{} done: {stats:?}", args.role);
    drop(service);
    session.close().wait()?;
    Ok(finished)
}
