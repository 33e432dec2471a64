//! The queue's progress guarantee on real threads: one producer (then one
//! consumer) is parked by the stall hook between its reservation and its
//! completion, at each stall point in turn, and the other threads must still
//! complete at least 100 000 pushes and pops.
//!
//! Needs `RUSTFLAGS="--cfg evlatch_stall_hook"`; without it this file only
//! holds an ignored placeholder saying so.

#[cfg(not(evlatch_stall_hook))]
#[test]
#[ignore = "build with RUSTFLAGS=\"--cfg evlatch_stall_hook\" to run the stall tests"]
fn stall_tests_need_the_stall_hook_cfg() {}

#[cfg(evlatch_stall_hook)]
mod stalled {
    use std::cell::Cell;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
    use std::sync::{Arc, Mutex};
    use std::thread;
    use std::time::{Duration, Instant};

    use evlatch::stall::{set_hook, StallPoint};
    use evlatch::{EventQueue, Full};

    /// Pushes and pops the other threads must complete while one is parked.
    const OPS: u64 = 100_000;
    /// Producers and consumers besides the parked thread.
    const OTHERS: usize = 2;
    /// A generous limit after which a test reports "the others are stuck"
    /// instead of hanging CI. Not a timing assertion: on progress the test
    /// finishes as soon as the work is done.
    const STUCK_AFTER: Duration = Duration::from_secs(120);

    /// One stall scenario at a time (the hook is process-wide).
    static SERIAL: Mutex<()> = Mutex::new(());
    static REACHED: AtomicBool = AtomicBool::new(false);
    static RELEASE: AtomicBool = AtomicBool::new(false);

    thread_local! {
        static STALL_AT: Cell<Option<StallPoint>> = const { Cell::new(None) };
    }

    fn hook(at: StallPoint) {
        if STALL_AT.with(|s| s.get()) == Some(at) {
            STALL_AT.with(|s| s.set(None));
            REACHED.store(true, SeqCst);
            while !RELEASE.load(SeqCst) {
                thread::park_timeout(Duration::from_millis(1));
            }
        }
    }

    fn wait(flag: &AtomicBool, what: &str) {
        let start = Instant::now();
        while !flag.load(SeqCst) {
            assert!(start.elapsed() < STUCK_AFTER, "{what}");
            thread::yield_now();
        }
    }

    /// Runs OTHERS producers and OTHERS consumers for `OPS` pushes and `OPS`
    /// pops in all while the parked thread holds its reservation; returns
    /// the values popped.
    fn others_complete(q: &Arc<EventQueue<u64, 8>>) -> Vec<u64> {
        let pushed = Arc::new(AtomicU64::new(0));
        let popped = Arc::new(AtomicU64::new(0));
        let start = Instant::now();
        let producers: Vec<_> = (0..OTHERS)
            .map(|_| {
                let (q, pushed) = (q.clone(), pushed.clone());
                thread::spawn(move || loop {
                    let n = pushed.fetch_add(1, SeqCst);
                    if n >= OPS {
                        return;
                    }
                    let mut v = n;
                    while let Err(Full(back)) = q.try_push(v) {
                        v = back;
                        assert!(
                            start.elapsed() < STUCK_AFTER,
                            "producers stuck behind the parked thread"
                        );
                        thread::yield_now();
                    }
                })
            })
            .collect();
        let consumers: Vec<_> = (0..OTHERS)
            .map(|_| {
                let (q, popped) = (q.clone(), popped.clone());
                thread::spawn(move || {
                    let mut got = Vec::new();
                    while popped.load(SeqCst) < OPS {
                        match q.try_pop() {
                            Some(v) => {
                                got.push(v);
                                popped.fetch_add(1, SeqCst);
                            }
                            None => {
                                assert!(
                                    start.elapsed() < STUCK_AFTER,
                                    "consumers stuck behind the parked thread"
                                );
                                thread::yield_now();
                            }
                        }
                    }
                    got
                })
            })
            .collect();
        for p in producers {
            p.join().unwrap();
        }
        let mut all: Vec<u64> = consumers
            .into_iter()
            .flat_map(|c| c.join().unwrap())
            .collect();
        all.sort_unstable();
        all
    }

    fn reset(at: StallPoint) {
        REACHED.store(false, SeqCst);
        RELEASE.store(false, SeqCst);
        set_hook(Some(hook));
        let _ = at;
    }

    /// A producer parked at each push stall point in turn.
    #[test]
    fn parked_producer_does_not_stop_the_others() {
        let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        for at in StallPoint::PUSH {
            reset(at);
            let q = Arc::new(EventQueue::<u64, 8>::new());
            let parked = {
                let q = q.clone();
                thread::spawn(move || {
                    STALL_AT.with(|s| s.set(Some(at)));
                    q.try_push(u64::MAX).unwrap();
                })
            };
            wait(&REACHED, "the producer never reached its stall point");
            let all = others_complete(&q);
            assert!(
                all.iter().copied().eq(0..OPS),
                "{at:?}: values lost or duplicated"
            );
            RELEASE.store(true, SeqCst);
            parked.join().unwrap();
            assert_eq!(q.try_pop(), Some(u64::MAX), "{at:?}");
            assert_eq!(q.try_pop(), None);
        }
        set_hook(None);
    }

    /// A consumer parked at each pop stall point in turn.
    #[test]
    fn parked_consumer_does_not_stop_the_others() {
        let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        for at in StallPoint::POP {
            reset(at);
            let q = Arc::new(EventQueue::<u64, 8>::new());
            q.try_push(u64::MAX).unwrap();
            let parked = {
                let q = q.clone();
                thread::spawn(move || {
                    STALL_AT.with(|s| s.set(Some(at)));
                    q.try_pop()
                })
            };
            wait(&REACHED, "the consumer never reached its stall point");
            let all = others_complete(&q);
            assert!(
                all.iter().copied().eq(0..OPS),
                "{at:?}: values lost or duplicated"
            );
            RELEASE.store(true, SeqCst);
            assert_eq!(parked.join().unwrap(), Some(u64::MAX), "{at:?}");
            assert_eq!(q.try_pop(), None);
        }
        set_hook(None);
    }
}
