//! Thread placement against ns per item through one no-op sync stage, with
//! the three threads (source, stage, consumer) pinned to chosen cores.
//!
//! On a machine with fewer cores than a pipeline has threads, the
//! `pipeline.overhead.1` line depends on where the kernel puts them; this
//! probe takes each placement apart (Linux only):
//!
//! ```text
//! cargo run --release -p evlatch-bench --example placement -- <what> <cores> [items] [runs]
//!   what:  crossbeam | sync | async
//!   cores: three digits, the cores of source, stage and consumer ("010");
//!          "-" leaves the threads where the kernel puts them
//! ```
//!
//! The evlatch pipeline's threads are found by name in `/proc/self/task`
//! just after `build` (`*-source`, `*-worker-*`) and pinned then.

use std::time::Instant;

use evlatch_std::pipeline::{BuildOptions, Pipeline, StageOptions};

/// Pins thread `tid` (0: the calling thread) to `cpus`.
#[cfg(target_os = "linux")]
fn pin(tid: i32, cpus: &[usize]) {
    // SAFETY: an all-zero `cpu_set_t` is the empty set; `CPU_SET` writes
    // bits below `CPU_SETSIZE` (core numbers here are single digits), and
    // `sched_setaffinity` reads a `cpu_set_t` of the size it is given.
    let ok = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for &c in cpus {
            libc::CPU_SET(c, &mut set);
        }
        libc::sched_setaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
    };
    assert!(ok, "sched_setaffinity({tid}, {cpus:?}) failed");
}

/// Pinning is Linux-only.
#[cfg(not(target_os = "linux"))]
fn pin(_tid: i32, _cpus: &[usize]) {
    panic!("the placement probe pins threads on Linux only");
}

/// The cores of source, stage and consumer (`None`: not pinned).
type Placement = Option<[usize; 3]>;

fn parse(cores: &str) -> Placement {
    if cores == "-" {
        return None;
    }
    let d: Vec<usize> = cores
        .chars()
        .map(|c| c.to_digit(10).expect("cores: three digits or -") as usize)
        .collect();
    Some([d[0], d[1], d[2]])
}

fn pin_me(p: Placement, i: usize) {
    if let Some(p) = p {
        pin(0, &[p[i]]);
    }
}

fn unpin_me(p: Placement) {
    if let Some(p) = p {
        pin(0, &p);
    }
}

fn crossbeam(n: u64, p: Placement) -> f64 {
    let (tx, rx) = crossbeam_channel::bounded::<u64>(16);
    let (tx2, rx2) = crossbeam_channel::bounded::<u64>(16);
    let start = std::sync::Arc::new(std::sync::Barrier::new(3));
    let (s1, s2) = (start.clone(), start.clone());
    let source = std::thread::spawn(move || {
        pin_me(p, 0);
        s1.wait();
        for i in 0..n {
            tx.send(i).expect("send");
        }
    });
    let stage = std::thread::spawn(move || {
        pin_me(p, 1);
        s2.wait();
        for x in rx {
            tx2.send(std::hint::black_box(x)).expect("send");
        }
    });
    pin_me(p, 2);
    start.wait();
    let t = Instant::now();
    let mut count = 0u64;
    for x in rx2 {
        std::hint::black_box(x);
        count += 1;
    }
    let e = t.elapsed();
    assert_eq!(count, n);
    source.join().expect("source");
    stage.join().expect("stage");
    unpin_me(p);
    e.as_nanos() as f64 / n as f64
}

/// The threads of this process: (tid, name).
fn threads() -> Vec<(i32, String)> {
    let mut v = vec![];
    for e in std::fs::read_dir("/proc/self/task").expect("/proc/self/task") {
        let e = e.expect("task entry");
        let Some(tid) = e.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        let name = std::fs::read_to_string(e.path().join("comm")).unwrap_or_default();
        v.push((tid, name.trim().to_owned()));
    }
    v
}

fn ours(n: u64, p: Placement, sync_op: bool) -> f64 {
    pin_me(p, 2);
    let t = Instant::now();
    let b = Pipeline::source(0..n);
    let opts = StageOptions::new("s0").buffer(16);
    let built = if sync_op {
        b.pipe_with(opts, |x: u64| Ok::<_, &str>(x))
            .build(BuildOptions::default().sink_buffer(16))
    } else {
        b.pipe_async_with(opts, |x: u64| async move { Ok::<_, &str>(x) })
            .build(BuildOptions::default().sink_buffer(16))
    };
    let pipeline = built.expect("pipeline");
    if let Some(p) = p {
        for (tid, name) in threads() {
            if name.contains("source") {
                pin(tid, &[p[0]]);
            } else if name.contains("worker") {
                pin(tid, &[p[1]]);
            }
        }
    }
    let mut count = 0u64;
    for r in pipeline {
        std::hint::black_box(r.expect("no failures"));
        count += 1;
    }
    assert_eq!(count, n);
    let e = t.elapsed();
    unpin_me(p);
    e.as_nanos() as f64 / n as f64
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(what), Some(cores)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: placement crossbeam|sync|async <cores, e.g. 010, or -> [items] [runs]");
        std::process::exit(2);
    };
    let p = parse(cores);
    let n: u64 = args.get(3).map_or(200_000, |s| s.parse().expect("items"));
    let runs: usize = args.get(4).map_or(5, |s| s.parse().expect("runs"));
    let mut ns: Vec<f64> = (0..runs)
        .map(|_| match what.as_str() {
            "crossbeam" => crossbeam(n, p),
            "sync" => ours(n, p, true),
            _ => ours(n, p, false),
        })
        .collect();
    let each: Vec<String> = ns.iter().map(|x| format!("{x:.0}")).collect();
    ns.sort_by(f64::total_cmp);
    println!(
        "{what} {cores}: median {:.0} ns/item  [{}]",
        ns[ns.len() / 2],
        each.join(" ")
    );
}
