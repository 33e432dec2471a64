//! The listeners of one subscription: called one event at a time, never
//! after the subscription ends, safe to change from inside a listener.
//!
//! Protocol. `list` is locked for the whole of one event's listener calls
//! (so calls for one subscription never overlap, and listeners may be
//! `FnMut`). Ending a subscription stores `closed` and then takes the lock
//! once: when that returns, any call in progress has finished, and every
//! later holder sees `closed` and calls nothing. A thread inside a listener
//! of this subscription already holds the lock (one level up its stack), so
//! it must not take it again: [`CALLING`] records, per thread, the
//! subscriptions whose listeners it is running, and changes made from there
//! are *staged* and applied by the calling loop right after the listener
//! returns.

use core::any::Any;
use core::cell::RefCell;
use core::fmt;
use core::panic::AssertUnwindSafe;
use std::panic::catch_unwind;

use super::message::Delivery;
use crate::sync::{lock, AtomicBool, AtomicUsize, Mutex, MutexGuard, Ordering};

/// A boxed listener.
type ListenerFn = Box<dyn FnMut(&Delivery) + Send>;

/// Names a listener of a [`Subscription`](super::Subscription), from
/// [`add_listener`](super::Subscription::add_listener); give it back to
/// [`remove_listener`](super::Subscription::remove_listener). Not `Clone`:
/// a listener is removed at most once.
///
/// # Examples
///
/// ```
/// use evlatch_std::service::EventService;
/// let service = EventService::synchronous();
/// let sub = service.subscriber().subscribe("a")?;
/// let first = sub.add_listener(|_| {});
/// let second = sub.add_listener(|_| {});
/// assert!(second.get() > first.get());
/// sub.remove_listener(first);
/// # Ok::<(), evlatch_std::service::SubscribeError>(())
/// ```
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ListenerId(u64);

impl ListenerId {
    /// The number behind the id, as reported in `sys.listener.panic`
    /// events. Ids of one subscription increase in the order listeners
    /// were added.
    ///
    /// # Examples
    ///
    /// See [`ListenerId`].
    ///
    /// ```
    /// use evlatch_std::service::EventService;
    /// let service = EventService::synchronous();
    /// let sub = service.subscriber().subscribe("a")?;
    /// assert_eq!(sub.add_listener(|_| {}).get(), 0);
    /// # Ok::<(), evlatch_std::service::SubscribeError>(())
    /// ```
    #[must_use]
    pub fn get(&self) -> u64 {
        self.0
    }
}

std::thread_local! {
    /// Addresses of the [`Listeners`] whose lock this thread holds, because
    /// it is running one of their listeners (innermost last).
    static CALLING: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

struct Entry {
    id: u64,
    f: ListenerFn,
}

enum Change {
    Add(Entry),
    Remove(u64),
}

/// What [`Listeners::call`] did.
pub(super) enum Called {
    /// The listeners ran (or the subscription ended during the calls).
    Ran,
    /// There is no listener: deliver to the queue instead.
    NoListeners,
    /// The subscription has ended: deliver nothing.
    Closed,
}

/// The listeners of one subscription.
pub(super) struct Listeners {
    /// Whether any listener is registered (or staged): then events go to
    /// listeners instead of the queue. Written under `list`'s lock, or by a
    /// staged add (which the lock holder applies); read without it as a hint
    /// that [`call`](Listeners::call) confirms under the lock.
    active: AtomicBool,
    /// Set once when the subscription ends; never cleared.
    closed: AtomicBool,
    /// Registered listeners, ids strictly increasing.
    list: Mutex<Vec<Entry>>,
    /// Changes made from inside a listener call, applied by the caller.
    staged: Mutex<Vec<Change>>,
    /// Whether `staged` may be non-empty (a hint; the lock decides).
    has_staged: AtomicBool,
    next_id: AtomicUsize,
}

impl Listeners {
    pub(super) fn new() -> Self {
        Listeners {
            active: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            list: Mutex::new(Vec::new()),
            staged: Mutex::new(Vec::new()),
            has_staged: AtomicBool::new(false),
            next_id: AtomicUsize::new(0),
        }
    }

    /// Whether events should go to listeners (a hint, see `active`).
    pub(super) fn is_active(&self) -> bool {
        // Acquire: pairs with the Release store of a completed add, so a
        // publish that follows add_listener sees it.
        self.active.load(Ordering::Acquire)
    }

    pub(super) fn is_closed(&self) -> bool {
        // Acquire: pairs with close's Release store.
        self.closed.load(Ordering::Acquire)
    }

    pub(super) fn add(&self, f: ListenerFn) -> ListenerId {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) as u64;
        let entry = Entry { id, f };
        if self.is_calling_here() {
            self.stage(Change::Add(entry));
            self.active.store(true, Ordering::Release);
        } else {
            let mut list = lock(&self.list);
            self.apply_staged(&mut list);
            list.push(entry);
            self.active.store(true, Ordering::Release);
        }
        ListenerId(id)
    }

    /// Removes a listener: when this returns, it is not running (unless
    /// this very call is made from inside it) and will not be called again.
    pub(super) fn remove(&self, id: ListenerId) {
        if self.is_calling_here() {
            self.stage(Change::Remove(id.0));
        } else {
            let mut list = lock(&self.list);
            self.apply_staged(&mut list);
            list.retain(|e| e.id != id.0);
            self.active.store(!list.is_empty(), Ordering::Release);
        }
    }

    /// Ends the subscription: when this returns, no listener of it is
    /// running (but the caller, if called from one) and none will run again.
    pub(super) fn close(&self) {
        // Release: a later lock holder (or `is_closed` reader) sees it.
        self.closed.store(true, Ordering::Release);
        if !self.is_calling_here() {
            // Waits for a call in progress, then frees the closures now
            // rather than when the last reference to the subscription goes.
            let gone = core::mem::take(&mut *lock(&self.list));
            let staged = core::mem::take(&mut *lock(&self.staged));
            drop((gone, staged));
        }
    }

    /// Calls every listener with `event`, in the order they were added,
    /// catching panics (`on_panic(listener id, payload)`).
    pub(super) fn call(
        &self,
        event: &Delivery,
        mut on_panic: impl FnMut(u64, Box<dyn Any + Send>),
    ) -> Called {
        let mut list = lock(&self.list);
        if self.is_closed() {
            return Called::Closed;
        }
        self.apply_staged(&mut list);
        if list.is_empty() {
            return Called::NoListeners;
        }
        let _calling = CallingGuard::enter(self.addr());
        let mut i = 0;
        while i < list.len() {
            if self.is_closed() {
                break;
            }
            let id = list[i].id;
            let f = &mut list[i].f;
            if let Err(payload) = catch_unwind(AssertUnwindSafe(|| f(event))) {
                on_panic(id, payload);
            }
            if self.has_staged.load(Ordering::Acquire) {
                self.apply_staged(&mut list);
                // Go on after `id`, wherever it now is (it may be gone).
                i = list.partition_point(|e| e.id <= id);
            } else {
                i += 1;
            }
        }
        Called::Ran
    }

    fn addr(&self) -> usize {
        core::ptr::from_ref(self) as usize
    }

    fn is_calling_here(&self) -> bool {
        let me = self.addr();
        CALLING.with(|c| c.borrow().contains(&me))
    }

    fn stage(&self, change: Change) {
        lock(&self.staged).push(change);
        // Release: the change is in `staged` before the flag is seen.
        self.has_staged.store(true, Ordering::Release);
    }

    /// Applies staged changes; the caller holds `list`'s lock.
    fn apply_staged(&self, list: &mut MutexGuard<'_, Vec<Entry>>) {
        if !self.has_staged.load(Ordering::Acquire) {
            return;
        }
        let changes = {
            let mut staged = lock(&self.staged);
            self.has_staged.store(false, Ordering::Relaxed);
            core::mem::take(&mut *staged)
        };
        for change in changes {
            match change {
                // Ids are handed out in increasing order, but a staged add
                // may race with a direct one: keep the list sorted.
                Change::Add(entry) => {
                    let at = list.partition_point(|e| e.id < entry.id);
                    list.insert(at, entry);
                }
                Change::Remove(id) => list.retain(|e| e.id != id),
            }
        }
        self.active.store(!list.is_empty(), Ordering::Release);
    }
}

impl fmt::Debug for Listeners {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Listeners")
            .field("active", &self.is_active())
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

/// Marks this thread as running listeners of one subscription until dropped.
struct CallingGuard;

impl CallingGuard {
    fn enter(addr: usize) -> Self {
        CALLING.with(|c| c.borrow_mut().push(addr));
        CallingGuard
    }
}

impl Drop for CallingGuard {
    fn drop(&mut self) {
        CALLING.with(|c| {
            c.borrow_mut().pop();
        });
    }
}

/// The text of a panic payload, for `sys.listener.panic`.
pub(super) fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "(a panic payload that is not text)"
    }
}
