//! An intrusive doubly linked list of pinned waiter nodes: the storage of
//! both wait lists (the event waiter table and the channels' `Notify`).
//!
//! A node lives where its waiter lives — on a blocked thread's stack, or
//! inside a pinned future — so registering allocates nothing, and removing a
//! node (a cancelled wait) is O(1) wherever it sits.
//!
//! Ownership: the list is always inside a `ListLock`, and every node's links
//! are read and written only through `&mut List`, that is, under that lock.
//! A node is in at most one list at a time, and its owner keeps it at its
//! address (pinned) from `push_back` until it is no longer linked; the
//! owners' `Drop` unlinks it first, so a linked node is always valid.
//!
//! States of a node's `linked` flag (under the lock):
//!
//! | linked | meaning                     | who moves it out          |
//! |--------|-----------------------------|---------------------------|
//! | false  | not in any list             | its owner (`push_back`)    |
//! | true   | in exactly one list         | its owner (cancel) or the waking side (`remove`) |

use core::ptr;

use crate::sync::UnsafeCell;

/// The list-owned part of a node; embed one in each node type.
pub(crate) struct Links<T> {
    cell: UnsafeCell<LinkFields<T>>,
}

struct LinkFields<T> {
    prev: *const T,
    next: *const T,
    linked: bool,
}

impl<T> Links<T> {
    pub(crate) fn new() -> Self {
        Self {
            cell: UnsafeCell::new(LinkFields {
                prev: ptr::null(),
                next: ptr::null(),
                linked: false,
            }),
        }
    }
}

/// A node type that embeds [`Links`] to itself.
///
/// # Safety
///
/// `links` must return the same `Links` every time for the same node.
pub(crate) unsafe trait Linked: Sized {
    fn links(&self) -> &Links<Self>;
}

/// The list: first and last node, and how many there are.
pub(crate) struct List<T: Linked> {
    head: *const T,
    tail: *const T,
    len: usize,
}

// SAFETY: the list only holds pointers to nodes that are `Sync` (they are
// touched from the waking thread); the lock around the list serialises
// every access to the links.
unsafe impl<T: Linked + Sync> Send for List<T> {}

impl<T: Linked> List<T> {
    pub(crate) const fn new() -> Self {
        Self {
            head: ptr::null(),
            tail: ptr::null(),
            len: 0,
        }
    }

    /// How many nodes are linked.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The oldest node, if any.
    #[cfg(all(test, not(evlatch_loom)))]
    pub(crate) fn front(&self) -> *const T {
        self.head
    }

    /// The node after `node` (null at the end).
    ///
    /// # Safety
    ///
    /// `node` is linked in this list.
    #[cfg(all(test, not(evlatch_loom)))]
    pub(crate) unsafe fn next(&self, node: &T) -> *const T {
        // SAFETY: links are only accessed under the list's lock (`&self`
        // here is borrowed from the guard).
        node.links().cell.with(|l| unsafe { (*l).next })
    }

    /// Whether `node` is linked (in this list, the only one it can be in).
    pub(crate) fn contains(&self, node: &T) -> bool {
        // SAFETY: as in `next`.
        node.links().cell.with(|l| unsafe { (*l).linked })
    }

    /// Links `node` at the back.
    ///
    /// # Safety
    ///
    /// `node` is not linked, and stays at its address until it is no longer
    /// linked in this list.
    pub(crate) unsafe fn push_back(&mut self, node: &T) {
        let p: *const T = node;
        // SAFETY: the links of `node` and of the tail are accessed under the
        // lock; the tail is a linked, hence valid, node.
        unsafe {
            node.links().cell.with_mut(|l| {
                debug_assert!(!(*l).linked, "a node is in at most one list");
                (*l).prev = self.tail;
                (*l).next = ptr::null();
                (*l).linked = true;
            });
            match self.tail.as_ref() {
                None => self.head = p,
                Some(tail) => tail.links().cell.with_mut(|l| (*l).next = p),
            }
        }
        self.tail = p;
        self.len += 1;
    }

    /// Unlinks `node`; `false` if it was not linked.
    ///
    /// # Safety
    ///
    /// `node` is linked in this list or in none.
    pub(crate) unsafe fn remove(&mut self, node: &T) -> bool {
        // SAFETY: links are accessed under the lock; `prev` and `next` of a
        // linked node are linked, hence valid, nodes (or null).
        unsafe {
            let (linked, prev, next) = node
                .links()
                .cell
                .with(|l| ((*l).linked, (*l).prev, (*l).next));
            if !linked {
                return false;
            }
            match prev.as_ref() {
                None => self.head = next,
                Some(p) => p.links().cell.with_mut(|l| (*l).next = next),
            }
            match next.as_ref() {
                None => self.tail = prev,
                Some(n) => n.links().cell.with_mut(|l| (*l).prev = prev),
            }
            // `prev` / `next` go stale; only `push_back` reads them again,
            // after overwriting them.
            node.links().cell.with_mut(|l| (*l).linked = false);
        }
        self.len -= 1;
        true
    }

    /// If the list holds exactly one node and `pick` selects it, unlinks it
    /// and returns it; else returns null and changes nothing. `pick` is not
    /// called on a list of more than one node.
    ///
    /// The single-node form of [`unlink_where`](Self::unlink_where) for the
    /// usual wake-up (one waiter alone in its list): the same contract, and
    /// the returned pointer is what `release` would get (the caller's last
    /// touch of the node may hand it back to its owner).
    ///
    /// # Safety
    ///
    /// `pick` must not touch the links of any node and must not unwind.
    #[inline(always)]
    pub(crate) unsafe fn take_lone(&mut self, pick: impl FnOnce(&T) -> bool) -> *const T {
        if self.len != 1 {
            return ptr::null();
        }
        let p = self.head;
        // SAFETY: the one linked node is valid while we hold the lock.
        let node = unsafe { &*p };
        if !pick(node) {
            return ptr::null();
        }
        // SAFETY: links are accessed under the lock. `prev` / `next` (both
        // null: it was the only node) go stale; only `push_back` reads them
        // again, after overwriting them.
        node.links()
            .cell
            .with_mut(|l| unsafe { (*l).linked = false });
        self.head = ptr::null();
        self.tail = ptr::null();
        self.len = 0;
        p
    }

    /// Walks the list from the front and unlinks every node `pick` selects
    /// (`Some(true)`), handing each to `release` right after unlinking it;
    /// stops early when `pick` returns `None` (that node and the rest stay,
    /// in order). Returns whether it stopped early.
    ///
    /// The bulk form of [`remove`](Self::remove) for a waking side that
    /// releases many nodes in one walk: a run of consecutive removed nodes
    /// costs one flag store each (their `linked` flag) and one relinking of
    /// the run's two neighbours, instead of a full unlink per node. The
    /// link fields are consistent again by the time this returns (the
    /// caller's lock is held throughout).
    ///
    /// `release` is the walk's last touch of a node: it may hand the node
    /// back to its owner (who may then free it), since nothing here reads a
    /// removed node again. It gets a raw pointer, not a reference: a
    /// reference argument would be protected for the whole call (Stacked
    /// Borrows), and the owner may free the node before `release` returns.
    ///
    /// # Safety
    ///
    /// `pick` and `release` must not touch the links of any node and must
    /// not unwind.
    #[inline(always)]
    pub(crate) unsafe fn unlink_where(
        &mut self,
        mut pick: impl FnMut(&T) -> Option<bool>,
        mut release: impl FnMut(*const T),
    ) -> bool {
        // The last node kept (null: none yet, the new head is still open).
        let mut kept: *const T = ptr::null();
        // Whether nodes were removed since `kept` (its `next` is stale).
        let mut gap = false;
        let mut removed = 0;
        let mut cur = self.head;
        let mut stopped = false;
        // SAFETY: linked nodes are valid while we hold the lock, and a
        // removed node is not read after `release`.
        while let Some(node) = unsafe { cur.as_ref() } {
            match pick(node) {
                None => {
                    stopped = true;
                    break;
                }
                Some(true) => {
                    // SAFETY: links are accessed under the lock. `prev` /
                    // `next` go stale; only `push_back` reads them again,
                    // after overwriting them.
                    let next = node.links().cell.with_mut(|l| unsafe {
                        (*l).linked = false;
                        (*l).next
                    });
                    release(cur);
                    removed += 1;
                    gap = true;
                    cur = next;
                }
                Some(false) => {
                    if gap {
                        // SAFETY: `kept` (if not null) and `node` are linked.
                        unsafe { self.join(kept, cur) };
                        gap = false;
                    }
                    kept = cur;
                    // SAFETY: as above.
                    cur = node.links().cell.with(|l| unsafe { (*l).next });
                }
            }
        }
        if gap {
            // `cur`: the first node not visited (null at the end).
            // SAFETY: `kept` and `cur` are linked or null.
            unsafe { self.join(kept, cur) };
        }
        self.len -= removed;
        stopped
    }

    /// Makes `a` and `b` neighbours (`a` null: `b` is the head; `b` null:
    /// `a` is the tail).
    ///
    /// # Safety
    ///
    /// `a` and `b` are linked in this list, or null; the lock is held.
    unsafe fn join(&mut self, a: *const T, b: *const T) {
        // SAFETY: see the contract.
        unsafe {
            match a.as_ref() {
                None => self.head = b,
                Some(a) => a.links().cell.with_mut(|l| (*l).next = b),
            }
            match b.as_ref() {
                None => self.tail = a,
                Some(b) => b.links().cell.with_mut(|l| (*l).prev = a),
            }
        }
    }
}

#[cfg(all(test, not(evlatch_loom)))]
mod tests {
    use super::{Linked, Links, List};

    struct N {
        links: Links<N>,
        id: u32,
    }

    // SAFETY: `links` returns the node's own field.
    unsafe impl Linked for N {
        fn links(&self) -> &Links<N> {
            &self.links
        }
    }

    fn node(id: u32) -> N {
        N {
            links: Links::new(),
            id,
        }
    }

    fn ids(list: &List<N>) -> Vec<u32> {
        let mut out = Vec::new();
        let mut cur = list.front();
        // SAFETY: every node below outlives the list's use of it.
        while let Some(n) = unsafe { cur.as_ref() } {
            out.push(n.id);
            // SAFETY: `n` is linked.
            cur = unsafe { list.next(n) };
        }
        out
    }

    #[test]
    fn push_and_remove_anywhere_keep_order() {
        let nodes: Vec<N> = (0..5).map(node).collect();
        let mut list = List::new();
        for n in &nodes {
            // SAFETY: `nodes` is not moved while linked.
            unsafe { list.push_back(n) };
        }
        assert_eq!(ids(&list), [0, 1, 2, 3, 4]);
        // SAFETY: each node is in this list or in none.
        unsafe {
            assert!(list.remove(&nodes[2]));
            assert!(!list.remove(&nodes[2]), "a second remove finds it gone");
            assert!(list.remove(&nodes[0]));
            assert!(list.remove(&nodes[4]));
        }
        assert_eq!(ids(&list), [1, 3]);
        assert_eq!(list.len(), 2);
        assert!(list.contains(&nodes[1]) && !list.contains(&nodes[0]));
        // SAFETY: as above.
        unsafe {
            assert!(list.remove(&nodes[1]));
            assert!(list.remove(&nodes[3]));
            list.push_back(&nodes[0]);
        }
        assert_eq!(ids(&list), [0]);
        // SAFETY: as above.
        unsafe { assert!(list.remove(&nodes[0])) };
        assert_eq!(list.len(), 0);
        assert!(list.front().is_null());
    }

    #[test]
    fn take_lone_takes_only_a_lone_picked_node() {
        let nodes: Vec<N> = (0..2).map(node).collect();
        let mut list: List<N> = List::new();
        let mut asked = false;
        // SAFETY: every `pick` touches no links and does not unwind; `nodes`
        // outlives the list, and each node is in this list or in none.
        unsafe {
            assert!(list.take_lone(|_| true).is_null(), "empty");
            list.push_back(&nodes[0]);
            assert!(list.take_lone(|n| n.id == 1).is_null(), "not picked");
            assert_eq!(ids(&list), [0]);
            list.push_back(&nodes[1]);
            let two = list.take_lone(|_| {
                asked = true;
                true
            });
            assert!(two.is_null() && !asked, "two nodes: `pick` is not asked");
            assert_eq!(ids(&list), [0, 1]);
            assert!(list.remove(&nodes[1]));
            let taken = list.take_lone(|n| n.id == 0);
            assert!(core::ptr::eq(taken, &nodes[0]));
            assert_eq!(list.len(), 0);
            assert!(list.front().is_null() && list.tail.is_null());
            assert!(!list.contains(&nodes[0]));
            // A taken node can be linked again.
            list.push_back(&nodes[0]);
            assert_eq!(ids(&list), [0]);
            assert_eq!(ids_backwards(&list), [0]);
            assert!(list.remove(&nodes[0]));
        }
    }

    /// Walks `list` back to front through the `prev` links (the bulk
    /// unlink must keep both directions consistent).
    fn ids_backwards(list: &List<N>) -> Vec<u32> {
        let mut out = Vec::new();
        let mut cur = list.tail;
        // SAFETY: every node below outlives the list's use of it.
        while let Some(n) = unsafe { cur.as_ref() } {
            out.push(n.id);
            // SAFETY: links are read by the test thread only.
            cur = n.links.cell.with(|l| unsafe { (*l).prev });
        }
        out.reverse();
        out
    }

    #[test]
    fn unlink_where_removes_runs_and_stops_early() {
        let nodes: Vec<N> = (0..10).map(node).collect();
        let mut list = List::new();
        for n in &nodes {
            // SAFETY: `nodes` is not moved while linked.
            unsafe { list.push_back(n) };
        }
        // Odd ids and runs: remove 0, 1, 2 (head run), 4, 6, 7 (inner runs);
        // stop at 8 (it and 9 stay).
        let mut released = Vec::new();
        // SAFETY: the closures touch no links and do not unwind.
        let stopped = unsafe {
            list.unlink_where(
                |n| match n.id {
                    8 => None,
                    0 | 1 | 2 | 4 | 6 | 7 => Some(true),
                    _ => Some(false),
                },
                // (The nodes outlive the list: `n` is valid.)
                |n| released.push((*n).id),
            )
        };
        assert!(stopped);
        assert_eq!(released, [0, 1, 2, 4, 6, 7]);
        assert_eq!(ids(&list), [3, 5, 8, 9]);
        assert_eq!(ids_backwards(&list), [3, 5, 8, 9]);
        assert_eq!(list.len(), 4);
        assert!(!list.contains(&nodes[0]) && !list.contains(&nodes[7]));
        assert!(list.contains(&nodes[3]) && list.contains(&nodes[9]));

        // A tail run, walked to the end: 5 and 9 go, 3 and 8 stay.
        let mut released = Vec::new();
        // SAFETY: as above.
        let stopped = unsafe {
            list.unlink_where(|n| Some(n.id == 5 || n.id == 9), |n| released.push((*n).id))
        };
        assert!(!stopped);
        assert_eq!(released, [5, 9]);
        assert_eq!(ids(&list), [3, 8]);
        assert_eq!(ids_backwards(&list), [3, 8]);

        // Everything: the list ends empty, and removed nodes can be linked again.
        // SAFETY: as above.
        unsafe { list.unlink_where(|_| Some(true), |_| {}) };
        assert_eq!(list.len(), 0);
        assert!(list.front().is_null() && list.tail.is_null());
        // SAFETY: each node is in no list now.
        unsafe {
            list.push_back(&nodes[7]);
            list.push_back(&nodes[0]);
        }
        assert_eq!(ids(&list), [7, 0]);
        assert_eq!(ids_backwards(&list), [7, 0]);
        // SAFETY: as above.
        unsafe {
            assert!(list.remove(&nodes[7]));
            assert!(list.remove(&nodes[0]));
        }
    }
}
