//! The receiver's iterators.

use core::fmt;

use super::{Kind, Receiver};

/// A blocking iterator over received values
/// ([`Receiver::iter`](super::Receiver::iter), or `for v in &rx`): it ends
/// when every sender is gone and the channel is drained.
///
/// # Examples
///
/// ```
/// let (tx, rx) = evlatch_std::channel::bounded(4).unwrap();
/// tx.send(1).unwrap();
/// tx.send(2).unwrap();
/// drop(tx);
/// let mut sum = 0;
/// for v in &rx {
///     sum += v;
/// }
/// assert_eq!(sum, 3);
/// ```
pub struct Iter<'a, T, K: Kind> {
    pub(super) rx: &'a Receiver<T, K>,
}

impl<T, K: Kind> Iterator for Iter<'_, T, K> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

/// A non-blocking iterator over the values queued now
/// ([`Receiver::try_iter`](super::Receiver::try_iter)): it ends at the
/// first receive that finds the channel empty (or disconnected and
/// drained).
///
/// # Examples
///
/// ```
/// let (tx, rx) = evlatch_std::channel::bounded(4).unwrap();
/// tx.send(1).unwrap();
/// tx.send(2).unwrap();
/// assert_eq!(rx.try_iter().collect::<Vec<_>>(), [1, 2]);
/// assert_eq!(rx.try_iter().next(), None); // the senders are still there
/// ```
pub struct TryIter<'a, T, K: Kind> {
    pub(super) rx: &'a Receiver<T, K>,
}

impl<T, K: Kind> Iterator for TryIter<'_, T, K> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.rx.try_recv().ok()
    }
}

/// A blocking iterator that owns its receiver (`for v in rx`): it ends
/// when every sender is gone and the channel is drained.
///
/// # Examples
///
/// ```
/// let (tx, rx) = evlatch_std::channel::bounded(4).unwrap();
/// std::thread::spawn(move || {
///     for i in 0..3 {
///         tx.send(i).unwrap();
///     }
/// });
/// assert_eq!(rx.into_iter().collect::<Vec<_>>(), [0, 1, 2]);
/// ```
pub struct IntoIter<T, K: Kind> {
    pub(super) rx: Receiver<T, K>,
}

impl<T, K: Kind> Iterator for IntoIter<T, K> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

impl<'a, T, K: Kind> IntoIterator for &'a Receiver<T, K> {
    type Item = T;
    type IntoIter = Iter<'a, T, K>;

    fn into_iter(self) -> Iter<'a, T, K> {
        self.iter()
    }
}

impl<T, K: Kind> IntoIterator for Receiver<T, K> {
    type Item = T;
    type IntoIter = IntoIter<T, K>;

    fn into_iter(self) -> IntoIter<T, K> {
        IntoIter { rx: self }
    }
}

impl<T, K: Kind> fmt::Debug for Iter<'_, T, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Iter").finish_non_exhaustive()
    }
}

impl<T, K: Kind> fmt::Debug for TryIter<'_, T, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TryIter").finish_non_exhaustive()
    }
}

impl<T, K: Kind> fmt::Debug for IntoIter<T, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntoIter").finish_non_exhaustive()
    }
}
