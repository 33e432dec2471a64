//! Errors of the channels: each hands back the value it could not send.

use core::fmt;

/// `send` failed because every receiver is gone; the value comes back.
///
/// # Examples
///
/// ```
/// let (tx, rx) = evlatch_std::channel::bounded::<u32>(1).unwrap();
/// drop(rx);
/// assert_eq!(tx.send(7).unwrap_err().into_inner(), 7);
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SendError<T>(pub T);

impl<T> SendError<T> {
    /// The value that was not sent.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(evlatch_std::channel::SendError(3).into_inner(), 3);
    /// ```
    pub fn into_inner(self) -> T {
        self.0
    }
}

/// `try_send` failed; the value comes back.
///
/// # Examples
///
/// ```
/// use evlatch_std::channel::{bounded, TrySendError};
/// let (tx, _rx) = bounded(1).unwrap();
/// tx.try_send(1).unwrap();
/// assert_eq!(tx.try_send(2), Err(TrySendError::Full(2)));
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum TrySendError<T> {
    /// The channel is full.
    Full(T),
    /// Every receiver is gone.
    Disconnected(T),
}

impl<T> TrySendError<T> {
    /// The value that was not sent.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(evlatch_std::channel::TrySendError::Full(5).into_inner(), 5);
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            TrySendError::Full(v) | TrySendError::Disconnected(v) => v,
        }
    }
}

/// `send_timeout` failed; the value comes back.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use evlatch_std::channel::{bounded, SendTimeoutError};
/// let (tx, _rx) = bounded(1).unwrap();
/// tx.send(1).unwrap();
/// assert_eq!(tx.send_timeout(2, Duration::from_millis(1)), Err(SendTimeoutError::Timeout(2)));
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum SendTimeoutError<T> {
    /// Still full when the time ran out.
    Timeout(T),
    /// Every receiver is gone.
    Disconnected(T),
}

impl<T> SendTimeoutError<T> {
    /// The value that was not sent.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(evlatch_std::channel::SendTimeoutError::Timeout(5).into_inner(), 5);
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            SendTimeoutError::Timeout(v) | SendTimeoutError::Disconnected(v) => v,
        }
    }
}

/// `recv` failed: every sender is gone and the channel is drained.
///
/// # Examples
///
/// ```
/// let (tx, rx) = evlatch_std::channel::bounded::<u8>(1).unwrap();
/// drop(tx);
/// assert_eq!(rx.recv(), Err(evlatch_std::channel::RecvError));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecvError;

/// `try_recv` failed.
///
/// # Examples
///
/// ```
/// use evlatch_std::channel::{bounded, TryRecvError};
/// let (_tx, rx) = bounded::<u8>(1).unwrap();
/// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TryRecvError {
    /// Nothing to receive now.
    Empty,
    /// Every sender is gone and the channel is drained.
    Disconnected,
}

/// `recv_timeout` failed.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use evlatch_std::channel::{bounded, RecvTimeoutError};
/// let (_tx, rx) = bounded::<u8>(1).unwrap();
/// assert_eq!(rx.recv_timeout(Duration::from_millis(1)), Err(RecvTimeoutError::Timeout));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecvTimeoutError {
    /// Nothing arrived in time.
    Timeout,
    /// Every sender is gone and the channel is drained.
    Disconnected,
}

/// A channel could not be made with the capacity asked for: the core's
/// [`evlatch::CapacityError`], the same type (so importing both paths needs
/// no rename). A channel takes any capacity from 1 to
/// [`evlatch::MAX_QUEUE_CAPACITY`], so it reports `Zero`, `TooLarge` or
/// `OutOfMemory`, never `NotPowerOfTwo`.
///
/// # Examples
///
/// ```
/// use evlatch_std::channel::{bounded, CapacityError};
/// assert_eq!(bounded::<u8>(0).unwrap_err(), CapacityError::Zero);
/// assert_eq!(bounded::<u8>(usize::MAX).unwrap_err(), CapacityError::TooLarge);
/// ```
pub use evlatch::CapacityError;

macro_rules! opaque_debug {
    ($($ty:ident { $($variant:ident),* $(,)? }),* $(,)?) => {$(
        impl<T> fmt::Debug for $ty<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self { $( $ty::$variant(_) => f.write_str(concat!(stringify!($ty), "::", stringify!($variant), "(..)")), )* }
            }
        }
    )*};
}

opaque_debug!(
    TrySendError { Full, Disconnected },
    SendTimeoutError {
        Timeout,
        Disconnected
    }
);

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendError(..)")
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("sending on a channel whose receivers are all gone; the value is handed back")
    }
}

impl<T> fmt::Display for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str(
                "channel is full; the value is handed back (retry, or use send to block)",
            ),
            TrySendError::Disconnected(_) => f.write_str(
                "sending on a channel whose receivers are all gone; the value is handed back",
            ),
        }
    }
}

impl<T> fmt::Display for SendTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendTimeoutError::Timeout(_) => {
                f.write_str("channel stayed full until the timeout; the value is handed back")
            }
            SendTimeoutError::Disconnected(_) => f.write_str(
                "sending on a channel whose receivers are all gone; the value is handed back",
            ),
        }
    }
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("receiving on a channel whose senders are all gone and which is drained")
    }
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.write_str("channel is empty"),
            TryRecvError::Disconnected => f.write_str(
                "receiving on a channel whose senders are all gone and which is drained",
            ),
        }
    }
}

impl fmt::Display for RecvTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvTimeoutError::Timeout => f.write_str("nothing arrived before the timeout"),
            RecvTimeoutError::Disconnected => f.write_str(
                "receiving on a channel whose senders are all gone and which is drained",
            ),
        }
    }
}

impl<T> std::error::Error for SendError<T> {}
impl<T> std::error::Error for TrySendError<T> {}
impl<T> std::error::Error for SendTimeoutError<T> {}
impl std::error::Error for RecvError {}
impl std::error::Error for TryRecvError {}
impl std::error::Error for RecvTimeoutError {}
