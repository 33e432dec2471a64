//! The kinds of channel, as the type parameter `K` of [`Sender`] and
//! [`Receiver`]: which operations the handles offer. One channel type
//! serves every kind; the kind only decides the API, so a value can be
//! sent with a priority only on a priority channel.
//!
//! [`Sender`]: super::Sender
//! [`Receiver`]: super::Receiver

/// A kind of channel: [`Fifo`] (from [`bounded`](super::bounded) and
/// [`bounded_lossy`](super::bounded_lossy)) or [`TwoLevel`] (from
/// [`bounded_priority`](super::bounded_priority)). Sealed: no other kinds
/// exist.
///
/// # Examples
///
/// ```
/// use evlatch_std::channel::{Kind, Receiver};
/// // Code that receives from any kind of channel.
/// fn drain<T, K: Kind>(rx: &Receiver<T, K>) -> Vec<T> {
///     rx.try_iter().collect()
/// }
/// let (tx, rx) = evlatch_std::channel::bounded(2).unwrap();
/// tx.send(1).unwrap();
/// assert_eq!(drain(&rx), [1]);
/// ```
pub trait Kind: sealed::Sealed + 'static {}

/// The kind of a FIFO channel (plain or lossy): one level, `send` only.
///
/// # Examples
///
/// ```
/// use evlatch_std::channel::{Fifo, Sender};
/// let (tx, _rx) = evlatch_std::channel::bounded::<u8>(1).unwrap();
/// let _: &Sender<u8, Fifo> = &tx; // `Sender<u8>` for short
/// ```
#[derive(Debug)]
pub enum Fifo {}

/// The kind of a two-level priority channel: its sender adds
/// [`send_with_priority`](super::PrioritySender::send_with_priority) and
/// its companions.
///
/// # Examples
///
/// ```
/// use evlatch_std::channel::{PrioritySender, Sender, TwoLevel};
/// let (tx, _rx) = evlatch_std::channel::bounded_priority::<u8>(1).unwrap();
/// let _: &Sender<u8, TwoLevel> = &tx; // the same as `PrioritySender<u8>`
/// let _: &PrioritySender<u8> = &tx;
/// ```
#[derive(Debug)]
pub enum TwoLevel {}

impl Kind for Fifo {}
impl Kind for TwoLevel {}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::Fifo {}
    impl Sealed for super::TwoLevel {}
}
