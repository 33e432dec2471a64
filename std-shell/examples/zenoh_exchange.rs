//! The worker exchange across two processes over zenoh: two workers in
//! each, all-to-all.
//!
//! Run it twice (the README has the exact commands):
//!
//! ```text
//! cargo run --release -p evlatch-std --features zenoh --example zenoh_exchange -- --process 0 --listen tcp/127.0.0.1:7448
//! cargo run --release -p evlatch-std --features zenoh --example zenoh_exchange -- --process 1 --connect tcp/127.0.0.1:7448
//! ```
//!
//! Every worker (global index `process * 2 + local`) sends `--records N`
//! (default 100000) records `(from, n)` to every worker, itself included,
//! in batches, receiving in between; each receiver checks that every
//! sender's records arrive in order and counts them until every sender is
//! done. A worker prints `worker <i>: <count> records from 4 workers ok`;
//! the process exits 0 when both of its workers are ok, 1 otherwise or
//! after `--timeout-s S` (default 60).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use evlatch_std::exchange::{Receiver, TryRecvError};
use evlatch_std::zenoh::exchange::{initialize, ClusterConfig, ClusterWorker};
use evlatch_std::zenoh::{self as ez, engine::Wait};

const WORKERS_PER_PROCESS: usize = 2;
const BATCH: u64 = 256;

struct Args {
    process: usize,
    listen: Vec<String>,
    connect: Vec<String>,
    records: u64,
    timeout: Duration,
}

fn parse() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let mut parsed = Args {
        process: usize::MAX,
        listen: Vec::new(),
        connect: Vec::new(),
        records: 100_000,
        timeout: Duration::from_secs(60),
    };
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--process" => {
                parsed.process = value()?.parse().map_err(|e| format!("--process: {e}"))?
            }
            "--listen" => parsed.listen.push(value()?),
            "--connect" => parsed.connect.push(value()?),
            "--records" => {
                parsed.records = value()?.parse().map_err(|e| format!("--records: {e}"))?
            }
            "--timeout-s" => {
                parsed.timeout =
                    Duration::from_secs(value()?.parse().map_err(|e| format!("--timeout-s: {e}"))?);
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    if parsed.process > 1 {
        return Err("give --process 0 or --process 1".to_owned());
    }
    if parsed.listen.is_empty() && parsed.connect.is_empty() {
        return Err(
            "give --listen ENDPOINT or --connect ENDPOINT (like tcp/127.0.0.1:7448)".to_owned(),
        );
    }
    Ok(parsed)
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<bool, Box<dyn std::error::Error + Send + Sync>> {
    let args = parse()?;
    let timeout = args.timeout;
    std::thread::spawn(move || {
        std::thread::sleep(timeout);
        eprintln!("timed out after {timeout:?}");
        std::process::exit(1);
    });
    let listen: Vec<&str> = args.listen.iter().map(String::as_str).collect();
    let connect: Vec<&str> = args.connect.iter().map(String::as_str).collect();
    let session = ez::engine::open(ez::peer_config(&listen, &connect)?).wait()?;
    let config = ClusterConfig::new(
        "zenoh-exchange-example",
        args.process,
        2,
        WORKERS_PER_PROCESS,
    )?;
    let records = args.records;
    let guards = initialize(&session, config, move |worker| exchange(worker, records))?;
    let mut all_ok = true;
    for result in guards.join() {
        match result {
            Ok(Ok(line)) => println!("{line}"),
            Ok(Err(line))
            | Err(evlatch_std::exchange::WorkerError::Panicked { message: line, .. }) => {
                println!("{line}");
                all_ok = false;
            }
            Err(e) => {
                println!("{e}");
                all_ok = false;
            }
        }
    }
    session.close().wait()?;
    Ok(all_ok)
}

/// One worker: all-to-all, `records` per pair. `Ok` / `Err` carry the line
/// to print.
fn exchange(mut worker: ClusterWorker, records: u64) -> Result<String, String> {
    let me = worker.index();
    let peers = worker.peers();
    let (mut senders, mut receiver) = worker
        .allocate::<(usize, u64)>(0)
        .map_err(|e| format!("worker {me}: {e}"))?;
    let mut next = vec![0u64; peers];
    let mut buf = Vec::new();
    let mut batch = Vec::new();
    let start = Instant::now();
    let mut sent = 0;
    while sent < records {
        let end = (sent + BATCH).min(records);
        for s in &mut senders {
            batch.clear();
            batch.extend((sent..end).map(|n| (me, n)));
            while !batch.is_empty() {
                let k = s
                    .try_send_batch(&mut batch)
                    .map_err(|_| format!("worker {me}: worker {} is gone", s.target()))?;
                if k == 0 && !drain(&mut receiver, &mut buf, &mut next)? {
                    // Nothing to receive either: let the others run.
                    std::thread::yield_now();
                }
            }
        }
        sent = end;
        drain(&mut receiver, &mut buf, &mut next)?;
    }
    drop(senders);
    loop {
        match receiver.try_recv_batch(&mut buf, usize::MAX) {
            Ok(_) => {
                check(&buf, &mut next)?;
                buf.clear();
            }
            Err(TryRecvError::Empty) => {
                worker.wait(Some(Duration::from_millis(100)));
            }
            Err(TryRecvError::Disconnected) => break,
            Err(e) => return Err(format!("worker {me}: {e}")),
        }
    }
    if next.iter().any(|&n| n != records) {
        return Err(format!(
            "worker {me}: counts {next:?}, expected {records} from each"
        ));
    }
    let secs = start.elapsed().as_secs_f64();
    Ok(format!(
        "worker {me}: {} records from {peers} workers in {secs:.2} s ({:.0} records/s) ok",
        records * peers as u64,
        (records * peers as u64) as f64 / secs
    ))
}

/// Receives what is there; `Ok(true)` if anything was.
fn drain(
    rx: &mut Receiver<(usize, u64)>,
    buf: &mut Vec<(usize, u64)>,
    next: &mut [u64],
) -> Result<bool, String> {
    buf.clear();
    match rx.try_recv_batch(buf, usize::MAX) {
        Ok(n) => {
            check(buf, next)?;
            buf.clear();
            Ok(n > 0)
        }
        Err(TryRecvError::Empty | TryRecvError::Disconnected) => Ok(false),
        Err(e) => Err(e.to_string()),
    }
}

fn check(buf: &[(usize, u64)], next: &mut [u64]) -> Result<(), String> {
    for &(from, n) in buf {
        if n != next[from] {
            return Err(format!(
                "from worker {from}: record {n} where {} was due",
                next[from]
            ));
        }
        next[from] += 1;
    }
    Ok(())
}
