//! The callback list of one event: a Treiber stack that the finisher closes.
//!
//! `head` holds `EMPTY`, `CLOSED`, or a node handle. Registrations push while
//! the list is open; the finisher swaps in `CLOSED` and so takes every node
//! pushed before it, and a registration that then finds `CLOSED` runs its
//! callback itself. Only a reset reopens the list, and only while no
//! registration holds the generation pinned (see `state.rs`), so `CLOSED` is
//! never stale for a registrant that sees it.
//!
//! Node storage: boxed nodes under `alloc`; without it, a pool of
//! [`INLINE_CALLBACKS`] slots inside the event, handed out per generation and
//! given back at reset.

#[cfg(feature = "alloc")]
use alloc::boxed::Box;

#[cfg(not(feature = "alloc"))]
use crate::sync::{AtomicU8, UnsafeCell};
use crate::sync::{AtomicUsize, Ordering};
use crate::EventStatus;

/// How many function-pointer callbacks one generation of an event can hold
/// when the crate is built without `alloc` (with `alloc`, there is no limit).
pub const INLINE_CALLBACKS: usize = 4;

/// Handle value of an empty, open list.
const EMPTY: usize = 0;
/// Handle value of a list the finisher has taken.
const CLOSED: usize = 1;

/// One callback, in either form.
pub(crate) enum Callback {
    Fn(fn(EventStatus, usize), usize),
    #[cfg(feature = "alloc")]
    Boxed(Box<dyn FnOnce(EventStatus) + Send + 'static>),
}

impl Callback {
    pub(crate) fn call(self, status: EventStatus) {
        match self {
            Callback::Fn(f, ctx) => f(status, ctx),
            #[cfg(feature = "alloc")]
            Callback::Boxed(f) => f(status),
        }
    }
}

struct Node {
    /// Handle of the node registered just before this one (or `EMPTY`).
    next: usize,
    callback: Option<Callback>,
}

/// A node the current thread owns and has not yet published.
pub(crate) struct Handle(usize);

pub(crate) struct CallbackList {
    /// `EMPTY`, `CLOSED`, or the handle of the most recently pushed node.
    head: AtomicUsize,
    #[cfg(not(feature = "alloc"))]
    pool: [PoolSlot; INLINE_CALLBACKS],
}

#[cfg(not(feature = "alloc"))]
struct PoolSlot {
    /// 0 free, 1 handed out for this generation (cleared only by reopen).
    used: AtomicU8,
    node: UnsafeCell<Node>,
}

impl CallbackList {
    #[cfg(not(evlatch_loom))]
    pub(crate) const fn new() -> Self {
        Self {
            head: AtomicUsize::new(EMPTY),
            #[cfg(not(feature = "alloc"))]
            pool: [const {
                PoolSlot {
                    used: AtomicU8::new(0),
                    node: UnsafeCell::new(Node {
                        next: EMPTY,
                        callback: None,
                    }),
                }
            }; INLINE_CALLBACKS],
        }
    }

    #[cfg(evlatch_loom)]
    pub(crate) fn new() -> Self {
        Self {
            head: AtomicUsize::new(EMPTY),
            #[cfg(not(feature = "alloc"))]
            pool: core::array::from_fn(|_| PoolSlot {
                used: AtomicU8::new(0),
                node: UnsafeCell::new(Node {
                    next: EMPTY,
                    callback: None,
                }),
            }),
        }
    }

    /// Stores `callback` in a fresh node, or hands it back when the inline
    /// pool is exhausted. The caller holds a registration pin.
    pub(crate) fn allocate(&self, callback: Callback) -> Result<Handle, Callback> {
        #[cfg(feature = "alloc")]
        {
            let node = Box::new(Node {
                next: EMPTY,
                callback: Some(callback),
            });
            Ok(Handle(Box::into_raw(node) as usize))
        }
        #[cfg(not(feature = "alloc"))]
        {
            for (i, slot) in self.pool.iter().enumerate() {
                // Acquire: pairs with nothing in particular; the slot's node is
                // ours alone once this swap wins (reopen, the only other writer,
                // cannot run while we hold a registration pin).
                if slot
                    .used
                    .compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
                {
                    // SAFETY: we won the slot; nobody else touches its node until
                    // we publish it with `push`.
                    slot.node.with_mut(|n| unsafe {
                        (*n).next = EMPTY;
                        (*n).callback = Some(callback);
                    });
                    return Ok(Handle(i + 2));
                }
            }
            Err(callback)
        }
    }

    /// Publishes the node, or gives it back if the finisher already closed
    /// the list.
    pub(crate) fn push(&self, node: Handle) -> Result<(), Handle> {
        let mut current = self.head.load(Ordering::Acquire);
        loop {
            if current == CLOSED {
                return Err(node);
            }
            self.with_node(node.0, |n| n.next = current);
            // Release: the finisher's acquiring swap must see the node's
            // contents written above.
            match self.head.compare_exchange_weak(
                current,
                node.0,
                Ordering::Release,
                Ordering::Acquire,
            ) {
                Ok(_) => return Ok(()),
                Err(actual) => current = actual,
            }
        }
    }

    /// Takes back a node that `push` returned, and its callback.
    pub(crate) fn reclaim(&self, node: Handle) -> Callback {
        let callback = self.with_node(node.0, |n| n.callback.take());
        self.free(node.0);
        callback.expect("a reclaimed node holds its callback")
    }

    /// Closes the list and takes its callbacks in registration order.
    ///
    /// Called once per generation by the finisher, while COLLECTING is set;
    /// everything read from the nodes is copied out or owned before this
    /// returns, so reset may reuse the storage as soon as COLLECTING clears.
    pub(crate) fn take(&self, status: EventStatus) -> Taken {
        // Acquire: see every node published by a releasing push.
        let mut handle = self.head.swap(CLOSED, Ordering::AcqRel);
        debug_assert_ne!(handle, CLOSED, "a generation's list is taken once");
        #[cfg(feature = "alloc")]
        {
            // Reverse the chain in place (newest-first → registration order);
            // the boxed nodes are ours now and move into `Taken`.
            let mut ordered = EMPTY;
            while handle != EMPTY {
                let next = self.with_node(handle, |n| core::mem::replace(&mut n.next, ordered));
                ordered = handle;
                handle = next;
            }
            Taken {
                status,
                head: ordered,
            }
        }
        #[cfg(not(feature = "alloc"))]
        {
            // Pool nodes stay in the event: copy the callbacks out, newest
            // first into the back of the array, giving registration order.
            let mut taken = Taken {
                status,
                items: [const { None }; INLINE_CALLBACKS],
                start: INLINE_CALLBACKS,
            };
            while handle != EMPTY {
                let (next, callback) = self.with_node(handle, |n| (n.next, n.callback.take()));
                // At most INLINE_CALLBACKS nodes exist per generation.
                taken.start -= 1;
                taken.items[taken.start] = callback;
                handle = next;
            }
            taken
        }
    }

    /// Reopens a closed list for a new generation. The caller holds the
    /// RESETTING claim: no registration, finisher or reset runs meanwhile.
    pub(crate) fn reopen(&self) {
        // Relaxed: published by the caller's releasing store of the new state.
        self.head.store(EMPTY, Ordering::Relaxed);
        #[cfg(not(feature = "alloc"))]
        for slot in &self.pool {
            slot.used.store(0, Ordering::Relaxed);
        }
    }

    fn with_node<R>(&self, handle: usize, f: impl FnOnce(&mut Node) -> R) -> R {
        debug_assert!(handle > CLOSED, "a node handle is neither EMPTY nor CLOSED");
        #[cfg(feature = "alloc")]
        {
            // SAFETY: `handle` came from `Box::into_raw` in `allocate` and the
            // caller owns the node at this moment (before publishing it, or
            // after taking the list), so no other reference exists.
            f(unsafe { &mut *(handle as *mut Node) })
        }
        #[cfg(not(feature = "alloc"))]
        {
            let slot = &self.pool[handle - 2];
            // SAFETY: as above: the caller owns the slot's node right now.
            slot.node.with_mut(|n| f(unsafe { &mut *n }))
        }
    }

    /// Frees a node the caller owns (its callback already taken).
    fn free(&self, handle: usize) {
        #[cfg(feature = "alloc")]
        {
            let _ = self;
            // SAFETY: from `Box::into_raw`, owned by the caller, freed once.
            drop(unsafe { Box::from_raw(handle as *mut Node) });
        }
        #[cfg(not(feature = "alloc"))]
        self.pool[handle - 2].used.store(0, Ordering::Release);
    }
}

impl Drop for CallbackList {
    /// Callbacks of an event dropped before it finished are dropped unrun.
    fn drop(&mut self) {
        let mut handle = self.head.load(Ordering::Acquire);
        if handle == CLOSED {
            return;
        }
        while handle != EMPTY {
            // The callback, moved out of its node, is dropped unrun at the
            // end of this iteration.
            let (next, _callback) = self.with_node(handle, |n| (n.next, n.callback.take()));
            self.free(handle);
            handle = next;
        }
    }
}

/// Callbacks taken from a closed list, in registration order, with the
/// outcome they run with.
///
/// A `Taken` is made only by the finisher, and it runs what it holds however
/// it goes away: `run` runs every callback; if one panics, `drop` (called
/// while the panic unwinds) runs the ones after it. So a panicking callback
/// loses no other callback. A second panic during that unwinding aborts the
/// process (a panic escaping a destructor during unwinding always does; the
/// core is `no_std` and cannot catch one).
pub(crate) struct Taken {
    status: EventStatus,
    /// Under `alloc`: a chain of boxed nodes, oldest first, owned.
    #[cfg(feature = "alloc")]
    head: usize,
    #[cfg(not(feature = "alloc"))]
    items: [Option<Callback>; INLINE_CALLBACKS],
    #[cfg(not(feature = "alloc"))]
    start: usize,
}

impl Taken {
    /// Runs every callback in order (see the type's docs for panics).
    pub(crate) fn run(mut self) {
        self.run_rest();
    }

    /// Runs the callbacks not yet run, each removed from `self` *before* it
    /// is called, so that `drop` never runs one twice.
    fn run_rest(&mut self) {
        let status = self.status;
        #[cfg(feature = "alloc")]
        while self.head != EMPTY {
            // SAFETY: `head` is a node from `Box::into_raw` that this
            // `Taken` owns alone; it is unlinked before its callback runs.
            let node = unsafe { Box::from_raw(self.head as *mut Node) };
            self.head = node.next;
            if let Some(callback) = node.callback {
                callback.call(status);
            }
        }
        #[cfg(not(feature = "alloc"))]
        while self.start < INLINE_CALLBACKS {
            let callback = self.items[self.start].take();
            self.start += 1;
            if let Some(callback) = callback {
                callback.call(status);
            }
        }
    }
}

impl Drop for Taken {
    /// Nothing is left after `run`; while a callback's panic unwinds, runs
    /// the callbacks after it.
    fn drop(&mut self) {
        self.run_rest();
    }
}
