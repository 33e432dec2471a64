//! The one door to atomics, cells, fences and spin hints.
//!
//! Every synchronisation primitive the core uses is imported from here, never
//! from `core::sync` directly, so that one switch decides what the whole crate
//! runs on. The choice, in order:
//!
//! 1. `loom` when the crate is built with `RUSTFLAGS="--cfg evlatch_loom"`: every
//!    access becomes a point loom can interleave and check;
//! 2. `portable-atomic` under the `portable-atomic` feature, for targets without
//!    native compare-and-swap (e.g. `thumbv6m-none-eabi`);
//! 3. `core::sync::atomic` otherwise.
//!
//! # Running loom models with evlatch inside
//!
//! A downstream crate that builds its own loom models can put evlatch in them:
//! build with `RUSTFLAGS="--cfg loom --cfg evlatch_loom"` (or only the second if
//! the downstream crate does not itself use `cfg(loom)`), and create evlatch
//! values *inside* `loom::model(|| ..)`. Under that cfg `Event::new` and the
//! queues' `new` are no longer `const fn` (loom atomics are not const), and the
//! static backend registry is left outside the model (it is write-once data).

#[cfg(evlatch_loom)]
#[allow(unused_imports)]
pub(crate) use loom::sync::atomic::{fence, AtomicU32, AtomicU8, AtomicUsize};

#[cfg(all(not(evlatch_loom), feature = "portable-atomic"))]
#[allow(unused_imports)]
pub(crate) use portable_atomic::{fence, AtomicU32, AtomicU8, AtomicUsize};

#[cfg(all(not(evlatch_loom), not(feature = "portable-atomic")))]
#[allow(unused_imports)]
pub(crate) use core::sync::atomic::{fence, AtomicU32, AtomicU8, AtomicUsize};

pub(crate) use core::sync::atomic::Ordering;

#[cfg(all(
    not(evlatch_loom),
    not(feature = "portable-atomic"),
    target_has_atomic = "64"
))]
#[allow(unused_imports)]
pub(crate) use core::sync::atomic::AtomicU64;
/// 64-bit atomics, where the target has them natively (the queues' drop
/// counter; see `queue::counter` for the 32-bit fallback).
#[cfg(evlatch_loom)]
#[allow(unused_imports)]
pub(crate) use loom::sync::atomic::AtomicU64;
#[cfg(all(
    not(evlatch_loom),
    feature = "portable-atomic",
    target_has_atomic = "64"
))]
#[allow(unused_imports)]
pub(crate) use portable_atomic::AtomicU64;

/// Atomics that live in `static`s (the backend registry). Loom atomics cannot
/// be `static`, so these are never modelled: the registry is write-once data
/// outside any loom model.
pub(crate) mod statics {
    #[cfg(not(feature = "portable-atomic"))]
    pub(crate) use core::sync::atomic::AtomicPtr;
    #[cfg(feature = "portable-atomic")]
    pub(crate) use portable_atomic::AtomicPtr;
}

/// The one way to write a constructor that is `const` except under loom
/// (whose atomics and cells are not `const`): wrap the whole `fn` item.
///
/// ```text
/// const_unless_loom! {
///     /// An empty queue.
///     pub(crate) fn new() -> Self { Self { head: AtomicUsize::new(0) } }
/// }
/// ```
///
/// expands to the same item twice, `const fn` under `not(evlatch_loom)` and
/// plain `fn` under `evlatch_loom`, so the body is written once, where the
/// reader looks for it.
macro_rules! const_unless_loom {
    ($(#[$attr:meta])* $vis:vis fn $name:ident $($rest:tt)*) => {
        #[cfg(not(evlatch_loom))]
        $(#[$attr])*
        $vis const fn $name $($rest)*

        #[cfg(evlatch_loom)]
        $(#[$attr])*
        $vis fn $name $($rest)*
    };
}
pub(crate) use const_unless_loom;

/// A hint that this thread is spinning on a value another thread will change.
///
/// Under loom this yields, so that a model with a spin loop stays finite.
#[inline]
pub(crate) fn spin_hint() {
    #[cfg(evlatch_loom)]
    loom::thread::yield_now();
    #[cfg(not(evlatch_loom))]
    core::hint::spin_loop();
}

/// An `UnsafeCell` whose accesses loom can check.
///
/// `with` hands out a `*const T`, `with_mut` a `*mut T`; the caller's SAFETY
/// comment says why no conflicting access exists at that moment.
#[derive(Debug)]
pub struct UnsafeCell<T>(Inner<T>);

#[cfg(evlatch_loom)]
type Inner<T> = loom::cell::UnsafeCell<T>;
#[cfg(not(evlatch_loom))]
type Inner<T> = core::cell::UnsafeCell<T>;

impl<T> UnsafeCell<T> {
    const_unless_loom! {
        #[inline]
        pub(crate) fn new(value: T) -> Self {
            Self(Inner::new(value))
        }
    }

    /// Runs `f` with a shared pointer to the contents.
    #[inline]
    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        #[cfg(evlatch_loom)]
        return self.0.with(f);
        #[cfg(not(evlatch_loom))]
        return f(self.0.get());
    }

    /// Runs `f` with an exclusive pointer to the contents.
    #[inline]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        #[cfg(evlatch_loom)]
        return self.0.with_mut(f);
        #[cfg(not(evlatch_loom))]
        return f(self.0.get());
    }
}
