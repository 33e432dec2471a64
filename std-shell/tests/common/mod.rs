//! Helpers shared by the std shell's integration tests.
#![allow(dead_code)]

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread;

/// A waker that unparks the thread that made it.
struct ThreadWaker(thread::Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// A waker that unparks the current thread (make it before counting
/// allocations: making it allocates, using it does not).
pub fn thread_waker() -> Waker {
    Waker::from(Arc::new(ThreadWaker(thread::current())))
}

/// A minimal executor: poll, park the thread until woken, repeat.
pub fn block_on<F: Future>(fut: F) -> F::Output {
    block_on_with(&thread_waker(), fut)
}

/// [`block_on`] with a waker made beforehand (by [`thread_waker`] on this
/// thread): polling and parking allocate nothing.
pub fn block_on_with<F: Future>(waker: &Waker, fut: F) -> F::Output {
    let mut cx = Context::from_waker(waker);
    let mut fut = pin!(fut);
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        thread::park();
    }
}

/// A waker that does nothing, for polling by hand.
pub fn noop_waker() -> Waker {
    struct Noop;
    impl Wake for Noop {
        fn wake(self: Arc<Self>) {}
    }
    Waker::from(Arc::new(Noop))
}
