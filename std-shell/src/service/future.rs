//! The future of [`Subscription::recv_async`].

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::sync::Arc as StdArc;

use super::error::SubscriptionRecvError;
use super::message::Delivery;
use super::subscription::Subscription;
use crate::channel::RecvFuture;

/// The future of [`Subscription::recv_async`]: the next event, or the lag
/// notice, or `Closed`.
///
/// Dropping it before it completes takes nothing from the queue. Once it
/// has returned `Ready`, polling it again returns `Pending` (it never
/// panics, never takes a second event, and never wakes).
///
/// # Examples
///
/// ```
/// use evlatch_std::service::{EventService, Message, SubscriptionRecvFuture};
/// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// # rt.block_on(async {
/// let service = EventService::synchronous();
/// let sub = service.subscriber().subscribe("a").unwrap();
/// service.publisher().publish("a", Message::new()).unwrap();
/// service.process_events().unwrap();
/// let next: SubscriptionRecvFuture<'_> = sub.recv_async();
/// assert_eq!(next.await.unwrap().topic(), "a");
/// # });
/// ```
#[must_use = "futures do nothing unless you `.await` or poll them: nothing is received"]
pub struct SubscriptionRecvFuture<'a> {
    sub: &'a Subscription,
    /// The channel receive in progress (structurally pinned); `None`
    /// between events.
    recv: Option<RecvFuture<'a, StdArc<Delivery>>>,
    done: bool,
}

impl<'a> SubscriptionRecvFuture<'a> {
    pub(super) fn new(sub: &'a Subscription) -> Self {
        SubscriptionRecvFuture {
            sub,
            recv: None,
            done: false,
        }
    }
}

impl Future for SubscriptionRecvFuture<'_> {
    type Output = Result<StdArc<Delivery>, SubscriptionRecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: only `recv` is pinned, and it is only used through the
        // `Pin` made below (replaced with `Pin::set`, never moved out);
        // `sub` and `done` are never pinned.
        let this = unsafe { self.get_unchecked_mut() };
        if this.done {
            return Poll::Pending;
        }
        // SAFETY: `recv` is structurally pinned (see above).
        let mut recv = unsafe { Pin::new_unchecked(&mut this.recv) };
        loop {
            if recv.is_none() {
                if let Some(n) = this.sub.take_lag() {
                    this.done = true;
                    return Poll::Ready(Err(SubscriptionRecvError::Lagged(n)));
                }
                recv.set(Some(this.sub.rx().recv_async()));
            }
            let Some(pending) = recv.as_mut().as_pin_mut() else {
                continue;
            };
            let got = match pending.poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(got) => got,
            };
            recv.set(None);
            match got {
                Ok(event) => {
                    if let Some(event) = this.sub.accept(event) {
                        this.done = true;
                        return Poll::Ready(Ok(event));
                    }
                }
                Err(_) => {
                    this.done = true;
                    return Poll::Ready(Err(SubscriptionRecvError::Closed));
                }
            }
        }
    }
}

impl fmt::Debug for SubscriptionRecvFuture<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubscriptionRecvFuture")
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}
