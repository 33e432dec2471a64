//! A three-stage "load → decode → batch" pipeline: sleeps stand in for I/O
//! (load, async, high concurrency) and CPU work (decode, sync, a few
//! workers); the batches go to the consumer, which prints progress and the
//! final stats table.
//!
//! ```text
//! cargo run --release -p evlatch-std --example pipeline
//! ```

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use evlatch_std::pipeline::{BuildOptions, Pipeline, PipelineStats, StageOptions};

fn main() {
    let items = 2000u32;
    let last = Arc::new(Mutex::new(None::<PipelineStats>));
    let l = last.clone();
    let started = Instant::now();
    // The I/O stand-in runs on a tokio runtime the op is handed (see the
    // module docs: "Using it from a tokio program").
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_time()
        .build()
        .expect("tokio runtime");
    let io = rt.handle().clone();
    let mut pipeline = Pipeline::source(0..items)
        .pipe_async_with(StageOptions::new("load").concurrency(16), move |i: u32| {
            let read = io.spawn(async move {
                tokio::time::sleep(Duration::from_millis(4)).await;
                vec![i as u8; 1024]
            });
            async move { read.await.map_err(|e| e.to_string()) }
        })
        .pipe_with(
            StageOptions::new("decode").concurrency(4).ordered(),
            |bytes: Vec<u8>| {
                std::thread::sleep(Duration::from_millis(1));
                if bytes.is_empty() {
                    return Err("empty record");
                }
                Ok(bytes.iter().map(|&b| u64::from(b)).sum::<u64>())
            },
        )
        .aggregate(32, Some(Duration::from_millis(20)))
        .build(
            BuildOptions::default().report_stats(Duration::from_millis(250), move |s| {
                eprintln!("{}", s.progress_line());
                *l.lock().unwrap() = Some(s.clone());
            }),
        )
        .expect("valid pipeline");

    let mut batches = 0;
    let mut records = 0;
    for batch in pipeline.by_ref() {
        let batch = batch.expect("no stage went over its failure budget");
        batches += 1;
        records += batch.len();
    }
    println!(
        "{records} records in {batches} batches in {:.2}s (ideal, set by the slowest stage: {:.2}s)",
        started.elapsed().as_secs_f64(),
        // load: 4 ms at concurrency 16; decode: 1 ms at concurrency 4.
        f64::from(items) * (0.004 / 16.0_f64).max(0.001 / 4.0)
    );
    drop(pipeline); // joins every thread; the final report has been made
    let last = last.lock().unwrap();
    let stats = last.as_ref().expect("the final report");
    assert!(stats.finished);
    println!("{stats}");
}
