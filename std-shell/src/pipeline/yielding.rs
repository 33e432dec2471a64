//! How the pipeline's own threads wait: the source thread on a full first
//! queue, the consumer on an empty sink, and an idle worker for a task.
//! They yield their core and retry a few times before the blocking wait
//! (the channel's spin, then park; a worker's token channel).
//!
//! A pipeline usually has more threads than cores: the source, the workers
//! and the consumer. Where two of them share a core, the one that waits
//! should hand the core over at once, not spin (its peer cannot run while
//! it spins); where the waiter has a core of its own, a yield returns at
//! once, so the tries are a short poll that saves a park and the peer's
//! futex wake-up (several microseconds on a VM; an idle worker that is
//! still polling also spares the waker its token send). Measured on 2
//! cores, one no-op sync stage, each placement of the three threads
//! pinned, ns per item (4 runs of 5 × 200k items each): source + stage on
//! one core 970–1,260 → 430–500, stage + consumer 1,140–1,410 → 420–680,
//! source + consumer 600–1,270 → 350–460; crossbeam's thread per stage
//! 840–1,040, 1,000–1,090 and 550–720. The tries are bounded, so an idle
//! pipeline still sleeps (the bench's `pipeline.idle`: 0 CPU-s over 10 s).

use std::time::Instant;

use crate::channel::{Receiver, Sender, TryRecvError, TrySendError};
use crate::sync::thread;

/// Yields before the blocking wait takes over (~5 µs on an idle core).
const TRIES: u32 = 20;

/// Sends `x`, yielding and retrying while the channel is full, then
/// blocking. `Err` gives the item back: every receiver is gone.
pub(crate) fn send<T>(tx: &Sender<T>, mut x: T) -> Result<(), T> {
    for _ in 0..TRIES {
        thread::yield_now();
        match tx.try_send(x) {
            Ok(()) => return Ok(()),
            Err(TrySendError::Full(y)) => x = y,
            Err(TrySendError::Disconnected(y)) => return Err(y),
        }
    }
    tx.send(x).map_err(|e| e.into_inner())
}

/// Receives an item within the tries (stopping early at `deadline`), or
/// `None`: the caller blocks (or learns that the channel is closed) with
/// the channel's own wait.
pub(crate) fn try_recv<T>(rx: &Receiver<T>, deadline: Option<Instant>) -> Option<T> {
    for _ in 0..TRIES {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return None;
        }
        thread::yield_now();
        match rx.try_recv() {
            Ok(v) => return Some(v),
            Err(TryRecvError::Disconnected) => return None,
            Err(TryRecvError::Empty) => {}
        }
    }
    None
}

/// Yields until `ready` (a hint) or the tries are spent; the caller then
/// checks under its lock, as it would have without the tries.
pub(crate) fn until(ready: impl Fn() -> bool) {
    for _ in 0..TRIES {
        if ready() {
            return;
        }
        thread::yield_now();
    }
}

#[cfg(all(test, not(evlatch_loom)))]
mod tests {
    use super::*;
    use crate::channel::bounded;

    #[test]
    fn send_gives_the_item_back_once_every_receiver_is_gone() {
        let (tx, rx) = bounded::<u32>(1).unwrap();
        tx.try_send(1).unwrap();
        drop(rx);
        assert_eq!(send(&tx, 2), Err(2));
    }

    #[test]
    fn send_waits_for_room_past_the_tries() {
        let (tx, rx) = bounded::<u32>(1).unwrap();
        tx.try_send(1).unwrap();
        // The receiver takes its first item only after the sender's tries
        // are spent or the room was made: either way `send` must succeed.
        let t = std::thread::spawn(move || (rx.recv(), rx.recv()));
        assert_eq!(send(&tx, 2), Ok(()));
        assert_eq!(t.join().unwrap(), (Ok(1), Ok(2)));
    }

    #[test]
    fn try_recv_takes_an_item_and_reports_the_end() {
        let (tx, rx) = bounded::<u32>(2).unwrap();
        tx.try_send(7).unwrap();
        assert_eq!(try_recv(&rx, None), Some(7));
        drop(tx);
        assert_eq!(try_recv(&rx, None), None);
    }

    #[test]
    fn try_recv_gives_up_at_once_at_a_past_deadline() {
        let (tx, rx) = bounded::<u32>(1).unwrap();
        let past = Instant::now();
        assert_eq!(try_recv(&rx, Some(past)), None);
        tx.try_send(3).unwrap();
        // Even with an item there: the deadline is checked before a try
        // (the caller's own last attempt takes it).
        assert_eq!(try_recv(&rx, Some(past)), None);
        assert_eq!(rx.try_recv(), Ok(3));
    }

    #[test]
    fn until_returns_at_once_when_ready_and_after_the_tries_otherwise() {
        let calls = core::cell::Cell::new(0);
        until(|| {
            calls.set(calls.get() + 1);
            true
        });
        assert_eq!(calls.get(), 1);
        calls.set(0);
        until(|| {
            calls.set(calls.get() + 1);
            false
        });
        assert_eq!(calls.get(), TRIES);
    }
}
