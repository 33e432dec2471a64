//! What can go wrong in a cluster: at start ([`ClusterError`]) and while it
//! runs ([`Fault`]).

use core::fmt;

/// A cluster could not start.
///
/// # Examples
///
/// ```
/// use evlatch_std::zenoh::exchange::ClusterConfig;
/// let err = ClusterConfig::new("job", 2, 2, 1).unwrap_err();
/// assert_eq!(err.to_string(), "process 2 is not one of the cluster's 2 processes");
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum ClusterError {
    /// The job name is not one zenoh key chunk (empty, or with `/`, `*`,
    /// `$`, `?`, `#` or whitespace).
    InvalidJob(String),
    /// No processes or no workers per process.
    NoWorkers,
    /// The process index is not below the number of processes.
    NoSuchProcess {
        /// The index given.
        process: usize,
        /// The number of processes.
        processes: usize,
    },
    /// The in-process part failed to start.
    Exchange(crate::exchange::Error),
    /// zenoh refused a declaration.
    Zenoh {
        /// What was being declared.
        what: &'static str,
        /// zenoh's error.
        source: ::zenoh::Error,
    },
    /// A thread could not be started.
    Spawn(std::io::Error),
}

impl fmt::Display for ClusterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidJob(job) => write!(
                f,
                "job name {job:?} is not one zenoh key chunk (non-empty, no '/', '*', '$', '?', '#' or whitespace)"
            ),
            Self::NoWorkers => f.write_str("a cluster needs at least one process and one worker per process"),
            Self::NoSuchProcess { process, processes } => {
                write!(f, "process {process} is not one of the cluster's {processes} processes")
            }
            Self::Exchange(e) => write!(f, "the exchange could not start: {e}"),
            Self::Zenoh { what, source } => write!(f, "zenoh could not {what}: {source}"),
            Self::Spawn(e) => write!(f, "the cluster's network thread could not start: {e}"),
        }
    }
}

impl std::error::Error for ClusterError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Exchange(e) => Some(e),
            Self::Zenoh { source, .. } => Some(&**source),
            Self::Spawn(e) => Some(e),
            _ => None,
        }
    }
}

/// Something that went wrong while a cluster ran, as reported by
/// [`ClusterWorker::faults`](super::ClusterWorker::faults) and
/// [`ClusterGuards::faults`](super::ClusterGuards::faults). Each one also
/// shows where it hurts: the channel pairs it concerns disconnect (a
/// receiver reports disconnected, a sender returns `Disconnected`), so
/// nothing waits for it.
///
/// # Examples
///
/// ```
/// use evlatch_std::zenoh::exchange::Fault;
/// let f = Fault::PeerLost { process: 1 };
/// assert_eq!(f.to_string(), "process 1 went away (its liveliness token was lost)");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// A remote payload that did not decode (counted in
    /// [`ExchangeStats::malformed`](super::ExchangeStats::malformed)).
    Malformed {
        /// The zenoh key it came on.
        key: String,
        /// What was wrong with it.
        message: String,
    },
    /// Two workers allocated channel `id` with different record types or
    /// capacities.
    Mismatch {
        /// The channel.
        id: usize,
        /// The sending worker.
        from: usize,
        /// The receiving worker.
        to: usize,
        /// Type and capacity on the sending side.
        sender: String,
        /// Type and capacity on the receiving side.
        receiver: String,
    },
    /// A frame arrived out of order: a gap or a repeat.
    OutOfOrder {
        /// The channel.
        id: usize,
        /// The sending worker.
        from: usize,
        /// The receiving worker.
        to: usize,
        /// The sequence number expected.
        expected: u64,
        /// The sequence number received.
        got: u64,
    },
    /// A record could not be encoded for the wire (serde refused it).
    Encode {
        /// The channel.
        id: usize,
        /// serde's message.
        message: String,
    },
    /// A remote process went away: its senders count as dropped, sends to
    /// its workers fail.
    PeerLost {
        /// The process.
        process: usize,
    },
    /// zenoh refused to send.
    Zenoh {
        /// zenoh's message.
        message: String,
    },
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed { key, message } => write!(f, "malformed payload on {key}: {message}"),
            Self::Mismatch { id, from, to, sender, receiver } => write!(
                f,
                "channel {id} from worker {from} to worker {to}: the sender allocated {sender}, the receiver {receiver}"
            ),
            Self::OutOfOrder { id, from, to, expected, got } => write!(
                f,
                "channel {id} from worker {from} to worker {to}: frame {got} arrived where {expected} was due"
            ),
            Self::Encode { id, message } => write!(f, "channel {id}: a record could not be encoded: {message}"),
            Self::PeerLost { process } => {
                write!(f, "process {process} went away (its liveliness token was lost)")
            }
            Self::Zenoh { message } => write!(f, "zenoh refused to send: {message}"),
        }
    }
}

impl std::error::Error for Fault {}
