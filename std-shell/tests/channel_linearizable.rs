//! crossbeam-channel's linearizability check on `channel::bounded`: 4
//! threads, each `send(0)` then `try_recv().unwrap()`, 25 000 times,
//! capacity 4. A thread's own send returned before its `try_recv` began, so
//! the channel held a value then: `try_recv` must not say `Empty`.
//!
//! A correctness test, not a timing: repeated many times in release, where
//! the race window is narrowest.

use std::thread;

use evlatch_std::channel::bounded;

const THREADS: usize = 4;
const ROUNDS: usize = 25_000;
const RUNS: usize = if cfg!(debug_assertions) { 2 } else { 50 };

#[test]
fn try_recv_after_own_send_never_says_empty() {
    for run in 0..RUNS {
        let (tx, rx) = bounded::<u32>(4).unwrap();
        thread::scope(|s| {
            for _ in 0..THREADS {
                let (tx, rx) = (tx.clone(), rx.clone());
                s.spawn(move || {
                    for round in 0..ROUNDS {
                        tx.send(0).unwrap();
                        if let Err(e) = rx.try_recv() {
                            panic!("run {run} round {round}: {e:?} after this thread's own send");
                        }
                    }
                });
            }
        });
        assert!(rx.try_recv().is_err());
    }
}
