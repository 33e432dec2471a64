//! How the stamp ring gives up its core while it waits out a neighbour.
//!
//! The stamp ring ([`StampQueue`](super::StampQueue)) is linearizable by
//! waiting: a push or pop that finds a neighbour's operation in flight on
//! the slot it needs waits until that neighbour finishes. The core is
//! `no_std` and cannot yield, so by default it spins (a doubling backoff up
//! to 64 spin hints a round). On a machine with more threads than cores the
//! neighbour may be preempted, and spinning then burns the rest of the
//! waiter's time slice for nothing; a program that has an OS can register
//! its yield function once, and the ring calls it on every round of waiting
//! past the spin limit. `evlatch-std` registers `std::thread::yield_now`.

use core::sync::atomic::Ordering;

use crate::sync::statics::AtomicPtr;

/// The registered yield function, as a pointer (null: none, spin instead).
static YIELD: AtomicPtr<()> = AtomicPtr::new(core::ptr::null_mut());

/// Registers `yield_now` as what the stamp ring calls, once its spinning
/// backoff is at its limit, while it waits out a neighbour's push or pop in
/// flight (for example `std::thread::yield_now`). A later call replaces the
/// earlier function. `yield_now` must return (it may block only briefly).
///
/// # Examples
///
/// ```
/// fn yield_now() { /* e.g. std::thread::yield_now() or an RTOS yield */ }
/// evlatch::queue::register_yield(yield_now);
/// ```
pub fn register_yield(yield_now: fn()) {
    // Release: a waiter that loads the pointer (acquire) may call it.
    YIELD.store(yield_now as *mut (), Ordering::Release);
}

/// One round of waiting past the spin limit: yields if a function is
/// registered; `false` if none is (the caller spins instead).
#[inline]
pub(crate) fn yield_now() -> bool {
    let f = YIELD.load(Ordering::Acquire);
    if f.is_null() {
        return false;
    }
    // SAFETY: only `fn()` pointers are stored (`register_yield`), and a
    // function pointer round-trips through `*mut ()` unchanged.
    let f: fn() = unsafe { core::mem::transmute::<*mut (), fn()>(f) };
    f();
    true
}
