//! The exchange's errors: one enum per concern.

use core::fmt;

/// Why [`initialize`](super::initialize) or an allocation on a
/// [`Worker`](super::Worker) failed.
///
/// # Examples
///
/// ```
/// use evlatch_std::exchange::{initialize, Config, Error};
///
/// assert!(matches!(initialize(Config::Process(0), |_w| ()), Err(Error::NoWorkers)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The configuration asks for zero workers.
    NoWorkers,
    /// A worker thread could not be started (the OS error's message).
    Spawn(String),
    /// A channel capacity of zero was asked for.
    ZeroCapacity {
        /// The channel id.
        id: usize,
    },
    /// This worker already allocated channel `id`.
    AlreadyAllocated {
        /// The channel id.
        id: usize,
    },
    /// Another worker allocated channel `id` with a different message type.
    TypeMismatch {
        /// The channel id.
        id: usize,
        /// The type the channel was first allocated with.
        expected: &'static str,
        /// The type this worker asked for.
        found: &'static str,
    },
    /// Another worker allocated channel `id` with a different capacity.
    CapacityMismatch {
        /// The channel id.
        id: usize,
        /// The capacity the channel was first allocated with.
        expected: usize,
        /// The capacity this worker asked for.
        found: usize,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NoWorkers => f.write_str("an exchange needs at least one worker"),
            Error::Spawn(e) => write!(f, "could not start a worker thread: {e}"),
            Error::ZeroCapacity { id } => {
                write!(f, "channel {id}: a capacity of zero cannot carry any message; ask for at least 1")
            }
            Error::AlreadyAllocated { id } => write!(
                f,
                "channel {id} is already allocated by this worker; every id is allocated once per worker"
            ),
            Error::TypeMismatch { id, expected, found } => write!(
                f,
                "channel {id} carries `{expected}` (as first allocated), but this worker asked for `{found}`; \
                 every worker must allocate an id with the same type"
            ),
            Error::CapacityMismatch { id, expected, found } => write!(
                f,
                "channel {id} has capacity {expected} (as first allocated), but this worker asked for {found}; \
                 every worker must allocate an id with the same capacity"
            ),
        }
    }
}

impl std::error::Error for Error {}

/// Why a worker produced no result, from [`WorkerGuards::join`](super::WorkerGuards::join).
///
/// # Examples
///
/// ```
/// use evlatch_std::exchange::{initialize, Config, WorkerError};
///
/// let guards = initialize(Config::Thread, |_w| -> u32 { panic!("boom") }).unwrap();
/// let results = guards.join();
/// assert!(matches!(&results[0], Err(WorkerError::Panicked { message, .. }) if message == "boom"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WorkerError {
    /// The worker's closure panicked; its channels were closed (its peers
    /// see its senders as dropped).
    Panicked {
        /// The worker's index.
        index: usize,
        /// The panic message (or a note that the payload was not a string).
        message: String,
    },
}

impl fmt::Display for WorkerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WorkerError::Panicked { index, message } => {
                write!(f, "worker {index} panicked: {message}")
            }
        }
    }
}

impl std::error::Error for WorkerError {}

/// Why [`Sender::try_send`](super::Sender::try_send) did not send; the
/// message comes back.
///
/// # Examples
///
/// ```
/// use evlatch_std::exchange::{initialize, Config, TrySendError};
///
/// initialize(Config::Thread, |mut w| {
///     let (mut tx, _rx) = w.allocate_bounded::<u8>(0, 1).unwrap();
///     tx[0].try_send(1).unwrap();
///     assert_eq!(tx[0].try_send(2), Err(TrySendError::Full(2)));
/// })
/// .unwrap()
/// .join();
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TrySendError<T> {
    /// The channel holds its capacity of messages.
    Full(T),
    /// The receiving worker is gone: nothing sent is received any more.
    Disconnected(T),
}

impl<T> TrySendError<T> {
    /// The message that was not sent.
    ///
    /// # Examples
    ///
    /// ```
    /// use evlatch_std::exchange::TrySendError;
    /// assert_eq!(TrySendError::Full(7).into_inner(), 7);
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            TrySendError::Full(v) | TrySendError::Disconnected(v) => v,
        }
    }
}

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("Full(..)"),
            TrySendError::Disconnected(_) => f.write_str("Disconnected(..)"),
        }
    }
}

impl<T> fmt::Display for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => {
                f.write_str("the exchange channel is full; the receiver has not caught up")
            }
            TrySendError::Disconnected(_) => f.write_str(
                "the receiving worker is gone; nothing sent on this channel is received any more",
            ),
        }
    }
}

impl<T> std::error::Error for TrySendError<T> {}

/// The receiving worker is gone: [`Sender::send`](super::Sender::send)
/// hands the message back.
///
/// # Examples
///
/// ```
/// use evlatch_std::exchange::SendError;
/// assert_eq!(SendError(3).0, 3);
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SendError<T>(pub T);

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendError(..)")
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "the receiving worker is gone; nothing sent on this channel is received any more",
        )
    }
}

impl<T> std::error::Error for SendError<T> {}

/// Why [`Receiver::try_recv`](super::Receiver::try_recv) returned no message.
///
/// # Examples
///
/// ```
/// use evlatch_std::exchange::{initialize, Config, TryRecvError};
///
/// initialize(Config::Thread, |mut w| {
///     let (tx, mut rx) = w.allocate::<u8>(0).unwrap();
///     assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
///     drop(tx);
///     assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
/// })
/// .unwrap()
/// .join();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TryRecvError {
    /// No message now; some sender is still there.
    Empty,
    /// Every sender is gone and every message was received.
    Disconnected,
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.write_str("no message yet on this exchange channel"),
            TryRecvError::Disconnected => f.write_str(
                "every sender of this exchange channel is gone and every message was received",
            ),
        }
    }
}

impl std::error::Error for TryRecvError {}

/// Why a blocking receive ([`Receiver::recv`](super::Receiver::recv),
/// [`recv_timeout`](super::Receiver::recv_timeout)) returned no message.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use evlatch_std::exchange::{initialize, Config, RecvError};
///
/// initialize(Config::Thread, |mut w| {
///     let (_tx, mut rx) = w.allocate::<u8>(0).unwrap();
///     assert_eq!(rx.recv_timeout(Duration::from_millis(1)), Err(RecvError::Timeout));
/// })
/// .unwrap()
/// .join();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecvError {
    /// The timeout passed with no message.
    Timeout,
    /// Every sender is gone and every message was received.
    Disconnected,
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvError::Timeout => {
                f.write_str("no message arrived on this exchange channel in time")
            }
            RecvError::Disconnected => f.write_str(
                "every sender of this exchange channel is gone and every message was received",
            ),
        }
    }
}

impl std::error::Error for RecvError {}
