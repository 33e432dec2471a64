//! Callback storage of one event: an inline slot for the first callback of a
//! generation, and a Treiber stack, closed by the finisher, for the rest.
//!
//! **The slot** ([`Slot`]) holds one type-erased [`Entry`]: the callback
//! itself when it fits in two words (the fn-pointer form always; a closure
//! capturing up to two words), else its box. Its protocol lives in the
//! event's state word (`SLOT_CLAIMED`, `SLOT_READY`; see `state.rs`): the
//! first registration claims it, writes the entry, then publishes. Whoever
//! moves the word second owns the entry (the finisher, or the claimant if
//! the event finished in between); the owner moves it out and frees the slot
//! (`busy`) before running it, and the next generation's claimant waits for
//! that before writing.
//!
//! **The list** holds every later registration. `head` holds `EMPTY`,
//! `CLOSED`, or a node handle. Registrations push while the list is open; the
//! finisher swaps in `CLOSED` and so takes every node pushed before it, and a
//! registration that then finds `CLOSED` runs its callback itself. Only a
//! reset reopens the list, and only while no registration holds the
//! generation pinned (see `state.rs`), so `CLOSED` is never stale for a
//! registrant that sees it.
//!
//! List node storage: under `alloc`, one allocation per callback (a
//! [`Node`] generic over the callback, erased through a function pointer);
//! without it, a pool of `INLINE_CALLBACKS - 1` slots inside the event,
//! handed out per generation and given back at reset. Every node field the
//! protocol hands between threads is a sync-shim cell, so loom checks those
//! hand-overs (verify/tests/loom_event.rs; the pool: `loom_pool.rs`).

#[cfg(feature = "alloc")]
use alloc::boxed::Box;
use core::mem;

#[cfg(not(feature = "alloc"))]
use crate::sync::AtomicU8;
use crate::sync::{spin_hint, AtomicU32, AtomicUsize, Ordering, UnsafeCell};
use crate::EventStatus;
use core::mem::MaybeUninit;

/// How many function-pointer callbacks one generation of an event can hold
/// when the crate is built without `alloc` (with `alloc`, there is no limit).
pub const INLINE_CALLBACKS: usize = 4;

const _: () = assert!(INLINE_CALLBACKS >= 1, "the inline slot counts as one");

/// Pool nodes besides the inline slot, without `alloc`.
#[cfg(not(feature = "alloc"))]
const POOL_NODES: usize = INLINE_CALLBACKS - 1;

/// Handle value of an empty, open list.
const EMPTY: usize = 0;
/// Handle value of a list the finisher has taken.
const CLOSED: usize = 1;

// ---------------------------------------------------------------------------
// The two callback forms
// ---------------------------------------------------------------------------

/// A callback the event can store: the fn-pointer form, or (under `alloc`)
/// a closure.
pub(crate) trait Callback: Send + Sized + 'static {
    /// Runs it with the outcome.
    fn run(self, status: EventStatus);

    /// The fn-pointer form: the only form without `alloc`.
    #[cfg(not(feature = "alloc"))]
    fn into_fn(self) -> FnCallback;
}

/// `f(status, context)`.
pub(crate) struct FnCallback {
    pub(crate) f: fn(EventStatus, usize),
    pub(crate) context: usize,
}

impl Callback for FnCallback {
    #[inline]
    fn run(self, status: EventStatus) {
        (self.f)(status, self.context);
    }

    #[cfg(not(feature = "alloc"))]
    fn into_fn(self) -> FnCallback {
        self
    }
}

/// A closure callback.
#[cfg(feature = "alloc")]
pub(crate) struct Closure<F>(pub(crate) F);

#[cfg(feature = "alloc")]
impl<F: FnOnce(EventStatus) + Send + 'static> Callback for Closure<F> {
    #[inline]
    fn run(self, status: EventStatus) {
        (self.0)(status);
    }
}

// ---------------------------------------------------------------------------
// Entries: type-erased callbacks, inline when small
// ---------------------------------------------------------------------------

/// Where an entry keeps its callback: the callback itself when it fits
/// (the fn-pointer form always does; so does a closure capturing up to two
/// words), else (under `alloc`) a pointer to its box.
type Storage = MaybeUninit<[usize; 2]>;

/// Whether a `C` lives inline in a [`Storage`].
const fn fits<C>() -> bool {
    mem::size_of::<C>() <= mem::size_of::<Storage>()
        && mem::align_of::<C>() <= mem::align_of::<Storage>()
}

const _: () = assert!(fits::<FnCallback>(), "the fn-pointer form is inline");

/// Runs (`Some(status)`) or drops unrun (`None`) the callback in `storage`.
///
/// # Safety
///
/// `storage` holds what the `Entry::new` that chose this function stored,
/// and the entry is consumed exactly once.
type CallFn = unsafe fn(*mut Storage, Option<EventStatus>);

/// The `CallFn` of an inline `C`.
///
/// # Safety
///
/// As for [`CallFn`]: `storage` holds a `C`, moved out here once.
unsafe fn call_inline<C: Callback>(storage: *mut Storage, status: Option<EventStatus>) {
    // SAFETY: see the contract.
    let callback = unsafe { storage.cast::<C>().read() };
    if let Some(status) = status {
        callback.run(status);
    }
}

/// The `CallFn` of a boxed `C`.
///
/// # Safety
///
/// As for [`CallFn`]: `storage` holds a `*mut C` from `Box::into_raw`,
/// consumed here once.
#[cfg(feature = "alloc")]
unsafe fn call_boxed<C: Callback>(storage: *mut Storage, status: Option<EventStatus>) {
    // SAFETY: see the contract; the box is freed before the call.
    let callback = *unsafe { Box::from_raw(storage.cast::<*mut C>().read()) };
    if let Some(status) = status {
        callback.run(status);
    }
}

/// A type-erased callback this thread owns. Dropping it drops the callback
/// unrun (and frees its box, if any).
pub(crate) struct Entry {
    call: CallFn,
    storage: Storage,
}

impl Entry {
    /// Erases `callback`: inline if it fits, else boxed.
    #[inline]
    pub(crate) fn new<C: Callback>(callback: C) -> Self {
        let mut storage = Storage::uninit();
        if fits::<C>() {
            // SAFETY: `C` fits `Storage` in size and alignment.
            unsafe { storage.as_mut_ptr().cast::<C>().write(callback) };
            return Self {
                call: call_inline::<C>,
                storage,
            };
        }
        #[cfg(feature = "alloc")]
        {
            let boxed = Box::into_raw(Box::new(callback));
            // SAFETY: a pointer fits `Storage`.
            unsafe { storage.as_mut_ptr().cast::<*mut C>().write(boxed) };
            Self {
                call: call_boxed::<C>,
                storage,
            }
        }
        #[cfg(not(feature = "alloc"))]
        unreachable!("without alloc, only the fn-pointer form exists, and it fits")
    }

    /// Runs the callback.
    #[inline]
    pub(crate) fn run(self, status: EventStatus) {
        let mut this = mem::ManuallyDrop::new(self);
        // SAFETY: we own the entry and consume it here once (`ManuallyDrop`
        // keeps `drop` from consuming it again).
        unsafe { (this.call)(&mut this.storage, Some(status)) }
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        // SAFETY: we own the entry; it is consumed here once.
        unsafe { (self.call)(&mut self.storage, None) }
    }
}

// ---------------------------------------------------------------------------
// The inline slot
// ---------------------------------------------------------------------------

/// The first callback of a generation. Its ownership moves by the state
/// word (module docs, `state.rs`); `busy` orders the *next* generation's
/// write after this generation's consumer moved the entry out:
///
/// | `busy` | meaning | moved by |
/// |--------|---------|----------|
/// | 0 | no entry: a claimant may write | the consumer, after moving the entry out (release) |
/// | 1 | holds an entry | the claimant, after writing it, before publishing `SLOT_READY` |
///
/// A claimant waits for 0 before writing: the consumer (the finisher, or the
/// claimant itself) sets 0 a few instructions after the CAS that made it
/// the owner, before any user code runs, so the wait is bounded.
pub(crate) struct Slot {
    /// Initialised exactly while `busy` is 1 (or being read by the consumer).
    entry: UnsafeCell<MaybeUninit<Entry>>,
    busy: AtomicU32,
}

impl Slot {
    #[cfg(not(evlatch_loom))]
    pub(crate) const fn new() -> Self {
        Self {
            entry: UnsafeCell::new(MaybeUninit::uninit()),
            busy: AtomicU32::new(0),
        }
    }

    #[cfg(evlatch_loom)]
    pub(crate) fn new() -> Self {
        Self {
            entry: UnsafeCell::new(MaybeUninit::uninit()),
            busy: AtomicU32::new(0),
        }
    }

    /// Stores `entry`. The caller holds the slot claim of a generation and
    /// publishes the entry with `SLOT_READY` after this returns.
    #[inline]
    pub(crate) fn fill(&self, entry: Entry) {
        // Acquire: our write below comes after the previous consumer moved
        // its entry out (loom: slot_reuse_racing_previous_finisher).
        while self.busy.load(Ordering::Acquire) != 0 {
            // The previous generation's consumer is between its CAS and its
            // move: a few instructions, never user code.
            spin_hint();
        }
        // SAFETY: we hold the claim and `busy` is 0: nobody else touches the
        // cell until we publish.
        self.entry.with_mut(|e| unsafe { (*e).write(entry) });
        // Relaxed: published with the entry by the caller's releasing
        // SLOT_READY.
        self.busy.store(1, Ordering::Relaxed);
    }

    /// Moves the entry out and frees the slot for the next claimant.
    ///
    /// # Safety
    ///
    /// The caller owns the entry by the slot protocol (its finishing CAS
    /// started from a word with `SLOT_READY`, or its publish found the event
    /// finished), which also orders the entry's write before this read.
    #[inline]
    pub(crate) unsafe fn take(&self) -> Entry {
        // SAFETY: see the contract; `busy` is 1, so the cell is initialised.
        let entry = self.entry.with(|e| unsafe { (*e).assume_init_read() });
        // Release: the next claimant's write comes after the read above
        // (loom: slot_reuse_racing_previous_finisher).
        self.busy.store(0, Ordering::Release);
        entry
    }
}

// ---------------------------------------------------------------------------
// The list
// ---------------------------------------------------------------------------

/// The type-erased head of a boxed list node (`#[repr(C)]`, first field of
/// every [`Node`]).
#[cfg(feature = "alloc")]
#[repr(C)]
struct Link {
    /// Handle of the node registered just before this one (or `EMPTY`).
    next: UnsafeCell<usize>,
    /// `finish_node::<C>` for this node's callback type.
    finish: unsafe fn(*mut Link, Option<EventStatus>),
}

/// One boxed list node: the link and the callback in one allocation.
#[cfg(feature = "alloc")]
#[repr(C)]
struct Node<C> {
    link: Link,
    callback: UnsafeCell<Option<C>>,
}

/// Frees the node, then runs (`Some`) or drops (`None`) its callback.
///
/// # Safety
///
/// `link` is the first field of a `Box<Node<C>>` leaked by `allocate`, owned
/// by the caller, and finished once.
#[cfg(feature = "alloc")]
unsafe fn finish_node<C: Callback>(link: *mut Link, status: Option<EventStatus>) {
    // SAFETY: `Link` is the first field of the `#[repr(C)]` `Node<C>` this
    // came from (see the contract).
    let node = unsafe { Box::from_raw(link.cast::<Node<C>>()) };
    // SAFETY: we own the node; no other reference to its cell exists.
    let callback = node.callback.with_mut(|c| unsafe { (*c).take() });
    drop(node);
    if let (Some(callback), Some(status)) = (callback, status) {
        callback.run(status);
    }
}

/// A node the current thread owns and has not yet published.
pub(crate) struct Handle(usize);

/// A node `push` handed back, taken back by `reclaim`: run it after unpinning.
pub(crate) struct Reclaimed {
    #[cfg(feature = "alloc")]
    node: usize,
    #[cfg(not(feature = "alloc"))]
    callback: FnCallback,
}

impl Reclaimed {
    pub(crate) fn run(self, status: EventStatus) {
        #[cfg(feature = "alloc")]
        // SAFETY: the reclaimed node is ours alone and finished here once.
        unsafe {
            finish_link(self.node, Some(status))
        }
        #[cfg(not(feature = "alloc"))]
        self.callback.run(status);
    }
}

pub(crate) struct CallbackList {
    /// `EMPTY`, `CLOSED`, or the handle of the most recently pushed node.
    head: AtomicUsize,
    #[cfg(not(feature = "alloc"))]
    pool: [PoolSlot; POOL_NODES],
}

#[cfg(not(feature = "alloc"))]
struct PoolSlot {
    /// 0 free, 1 handed out for this generation (cleared only by reopen).
    used: AtomicU8,
    /// Handle of the node registered just before this one (or `EMPTY`).
    next: UnsafeCell<usize>,
    callback: UnsafeCell<Option<FnCallback>>,
}

#[cfg(not(feature = "alloc"))]
impl PoolSlot {
    #[cfg(not(evlatch_loom))]
    const fn new() -> Self {
        Self {
            used: AtomicU8::new(0),
            next: UnsafeCell::new(EMPTY),
            callback: UnsafeCell::new(None),
        }
    }

    #[cfg(evlatch_loom)]
    fn new() -> Self {
        Self {
            used: AtomicU8::new(0),
            next: UnsafeCell::new(EMPTY),
            callback: UnsafeCell::new(None),
        }
    }
}

impl CallbackList {
    #[cfg(not(evlatch_loom))]
    pub(crate) const fn new() -> Self {
        Self {
            head: AtomicUsize::new(EMPTY),
            #[cfg(not(feature = "alloc"))]
            pool: [const { PoolSlot::new() }; POOL_NODES],
        }
    }

    #[cfg(evlatch_loom)]
    pub(crate) fn new() -> Self {
        Self {
            head: AtomicUsize::new(EMPTY),
            #[cfg(not(feature = "alloc"))]
            pool: core::array::from_fn(|_| PoolSlot::new()),
        }
    }

    /// Stores `callback` in a fresh node, or hands it back when the inline
    /// pool is exhausted. The caller holds a registration pin.
    pub(crate) fn allocate<C: Callback>(&self, callback: C) -> Result<Handle, C> {
        #[cfg(feature = "alloc")]
        {
            let _ = self;
            let node = Box::new(Node {
                link: Link {
                    next: UnsafeCell::new(EMPTY),
                    finish: finish_node::<C>,
                },
                callback: UnsafeCell::new(Some(callback)),
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
                    slot.callback
                        .with_mut(|c| unsafe { *c = Some(callback.into_fn()) });
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
            // SAFETY: we own the unpublished node.
            unsafe { self.set_next(node.0, current) };
            // Release: the finisher's acquiring swap must see the node's
            // contents written above (loom: list_push_racing_finish).
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

    /// Takes back a node that `push` returned. The pool storage (without
    /// `alloc`) is free again when this returns; the callback is in the
    /// `Reclaimed`.
    pub(crate) fn reclaim(&self, node: Handle) -> Reclaimed {
        #[cfg(feature = "alloc")]
        {
            let _ = self;
            Reclaimed { node: node.0 }
        }
        #[cfg(not(feature = "alloc"))]
        {
            let slot = &self.pool[node.0 - 2];
            // SAFETY: we own the unpublished node.
            let callback = slot.callback.with_mut(|c| unsafe { (*c).take() });
            slot.used.store(0, Ordering::Release);
            Reclaimed {
                callback: callback.expect("a reclaimed node holds its callback"),
            }
        }
    }

    /// Closes the list and takes its callbacks in registration order.
    ///
    /// Called once per generation by the finisher, while COLLECTING is set;
    /// everything read from the nodes is copied out or owned before this
    /// returns, so reset may reuse the storage as soon as COLLECTING clears.
    pub(crate) fn take(&self, status: EventStatus) -> Taken {
        // Acquire: see every node published by a releasing push (loom:
        // list_push_racing_finish).
        let mut handle = self.head.swap(CLOSED, Ordering::AcqRel);
        debug_assert_ne!(handle, CLOSED, "a generation's list is taken once");
        #[cfg(feature = "alloc")]
        {
            // Reverse the chain in place (newest-first → registration order);
            // the boxed nodes are ours now and move into `Taken`.
            let mut ordered = EMPTY;
            while handle != EMPTY {
                // SAFETY: the taken nodes are ours alone.
                let next = unsafe { self.next_of(handle) };
                // SAFETY: as above.
                unsafe { self.set_next(handle, ordered) };
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
                items: [const { None }; POOL_NODES],
                start: POOL_NODES,
            };
            while handle != EMPTY {
                // SAFETY: the taken nodes are ours alone until COLLECTING clears.
                let next = unsafe { self.next_of(handle) };
                let slot = &self.pool[handle - 2];
                // SAFETY: as above.
                let callback = slot.callback.with_mut(|c| unsafe { (*c).take() });
                // At most POOL_NODES nodes exist per generation.
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

    /// The `next` field of a node.
    ///
    /// # Safety
    ///
    /// The caller owns the node right now (before publishing it, or after
    /// taking the list).
    unsafe fn next_of(&self, handle: usize) -> usize {
        debug_assert!(handle > CLOSED, "a node handle is neither EMPTY nor CLOSED");
        #[cfg(feature = "alloc")]
        {
            let _ = self;
            // SAFETY: `handle` is a live `Link` from `allocate`, owned by the
            // caller (see the contract).
            unsafe { (*(handle as *const Link)).next.with(|n| *n) }
        }
        #[cfg(not(feature = "alloc"))]
        // SAFETY: as above, for the pool slot.
        self.pool[handle - 2].next.with(|n| unsafe { *n })
    }

    /// Sets the `next` field of a node.
    ///
    /// # Safety
    ///
    /// As for [`next_of`](Self::next_of).
    unsafe fn set_next(&self, handle: usize, next: usize) {
        debug_assert!(handle > CLOSED, "a node handle is neither EMPTY nor CLOSED");
        #[cfg(feature = "alloc")]
        {
            let _ = self;
            // SAFETY: as in `next_of`.
            unsafe { (*(handle as *const Link)).next.with_mut(|n| *n = next) }
        }
        #[cfg(not(feature = "alloc"))]
        // SAFETY: as in `next_of`.
        self.pool[handle - 2]
            .next
            .with_mut(|n| unsafe { *n = next })
    }
}

/// Finishes the boxed node behind `handle` through its erased function.
///
/// # Safety
///
/// `handle` is a node from `allocate`, owned by the caller, finished once.
#[cfg(feature = "alloc")]
unsafe fn finish_link(handle: usize, status: Option<EventStatus>) {
    let link = handle as *mut Link;
    // SAFETY: a live node (see the contract); `finish` frees it.
    unsafe { ((*link).finish)(link, status) }
}

impl Drop for CallbackList {
    /// Callbacks of an event dropped before it finished are dropped unrun.
    fn drop(&mut self) {
        let mut handle = self.head.load(Ordering::Acquire);
        if handle == CLOSED {
            return;
        }
        while handle != EMPTY {
            // SAFETY: `&mut self`: the nodes are ours alone.
            let next = unsafe { self.next_of(handle) };
            #[cfg(feature = "alloc")]
            // SAFETY: as above; each node is finished once.
            unsafe {
                finish_link(handle, None)
            };
            #[cfg(not(feature = "alloc"))]
            {
                let slot = &self.pool[handle - 2];
                // SAFETY: as above. (A fn pointer and a context: nothing to
                // drop.)
                slot.callback.with_mut(|c| unsafe { *c = None });
            }
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
    items: [Option<FnCallback>; POOL_NODES],
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
            let node = self.head;
            // SAFETY: `head` is a node this `Taken` owns alone.
            self.head = unsafe { (*(node as *const Link)).next.with(|n| *n) };
            // SAFETY: unlinked above, so finished once.
            unsafe { finish_link(node, Some(status)) };
        }
        #[cfg(not(feature = "alloc"))]
        while self.start < POOL_NODES {
            let callback = self.items[self.start].take();
            self.start += 1;
            if let Some(callback) = callback {
                callback.run(status);
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
