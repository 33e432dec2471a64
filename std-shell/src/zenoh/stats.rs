//! [`BridgeStats`]: what a bridge sent, received and lost.

use crate::sync::{AtomicUsize, Ordering};

/// A snapshot of a bridge's counters, from
/// [`ServiceBridge::stats`](super::ServiceBridge::stats). Each counts events
/// since the bridge was attached; each event is counted once, in the first
/// column that applies (`backlogged` aside: it says how an event went, not
/// what became of it). A counter moves just after what it counts: a
/// subscriber may receive an imported event an instant before `imported`
/// counts it.
///
/// # Examples
///
/// ```
/// let stats = evlatch_std::zenoh::BridgeStats::default();
/// assert_eq!(stats.exported + stats.imported + stats.dropped, 0);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BridgeStats {
    /// Local events handed to zenoh (`put` returned `Ok`). zenoh does not
    /// say whether anyone received them: with no remote subscriber, or while
    /// the link is down, it drops them.
    pub exported: u64,
    /// Local events that could not be exported: encoding or `put` failed.
    pub export_errors: u64,
    /// Remote events published into the local service.
    pub imported: u64,
    /// Remote events lost on the way in: the import channel was full (the
    /// service queue stayed full, or the bridge thread fell behind), or the
    /// bridge was closing, or the service had shut down.
    pub dropped: u64,
    /// Events whose TTL ran out before they crossed: local ones at export,
    /// remote ones at import (by this machine's clock; see the
    /// [module docs](super#time-to-live-and-clocks)).
    pub expired: u64,
    /// Remote samples that were not events: a payload not in the wire
    /// format, a key that is not a topic's, a `sys` topic, a delete. Each is
    /// also announced on
    /// [`sys::BRIDGE_MALFORMED`](crate::service::sys::BRIDGE_MALFORMED).
    pub malformed: u64,
    /// Remote events the local service refused: its publish filter or its
    /// message size limit (the service counts them too).
    pub refused: u64,
    /// Remote events that could not be published on zenoh's thread at once
    /// (the service queue was full, or earlier events were still waiting)
    /// and waited in the import channel for the bridge thread. Each is also
    /// counted in the column of its outcome.
    pub backlogged: u64,
}

/// The live counters. Relaxed throughout: each is a plain tally that
/// orders nothing; a snapshot is not atomic across counters.
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) exported: AtomicUsize,
    pub(crate) export_errors: AtomicUsize,
    pub(crate) imported: AtomicUsize,
    pub(crate) dropped: AtomicUsize,
    pub(crate) expired: AtomicUsize,
    pub(crate) malformed: AtomicUsize,
    pub(crate) refused: AtomicUsize,
    pub(crate) backlogged: AtomicUsize,
}

/// Adds one to `counter`.
pub(crate) fn incr(counter: &AtomicUsize) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Counters {
    pub(crate) fn snapshot(&self) -> BridgeStats {
        let get = |c: &AtomicUsize| c.load(Ordering::Relaxed) as u64;
        BridgeStats {
            exported: get(&self.exported),
            export_errors: get(&self.export_errors),
            imported: get(&self.imported),
            dropped: get(&self.dropped),
            expired: get(&self.expired),
            malformed: get(&self.malformed),
            refused: get(&self.refused),
            backlogged: get(&self.backlogged),
        }
    }
}
