//! [`ExchangeStats`]: what a process's cluster sent and received.

use crate::sync::{AtomicU64, Ordering};

/// A snapshot of one process's cluster counters, from
/// [`ClusterGuards::stats`](super::ClusterGuards::stats).
///
/// # Examples
///
/// ```
/// let stats = evlatch_std::zenoh::exchange::ExchangeStats::default();
/// assert_eq!(stats.sent + stats.received + stats.malformed, 0);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExchangeStats {
    /// Records sent to remote workers.
    pub sent: u64,
    /// Frames (batches) they went in.
    pub frames_sent: u64,
    /// Records received from remote workers and handed to local receivers.
    pub received: u64,
    /// Remote payloads that did not decode (each also a
    /// [`Fault::Malformed`](super::Fault::Malformed)).
    pub malformed: u64,
    /// Faults not kept because the list was full.
    pub faults_lost: u64,
}

/// The live counters (Relaxed tallies; a snapshot is not atomic across them).
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) sent: AtomicU64,
    pub(crate) frames_sent: AtomicU64,
    pub(crate) received: AtomicU64,
    pub(crate) malformed: AtomicU64,
    pub(crate) faults_lost: AtomicU64,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> ExchangeStats {
        let r = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ExchangeStats {
            sent: r(&self.sent),
            frames_sent: r(&self.frames_sent),
            received: r(&self.received),
            malformed: r(&self.malformed),
            faults_lost: r(&self.faults_lost),
        }
    }
}
