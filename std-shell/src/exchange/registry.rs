//! The allocation registry: which channel ids exist, with which message
//! type and capacity, and which workers claimed their endpoints.
//!
//! The first worker to allocate an id creates the whole channel (every
//! ring of every pair); the others claim their endpoints from it. Nobody
//! waits for a peer to allocate: a worker that never claims its endpoints
//! (it exited, panicked, or asked for another type) has them *abandoned* —
//! its senders count as dropped and its receiver as gone — so its peers
//! see it disconnect instead of waiting forever.

use core::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::Arc;

use super::doorbell::{Doorbell, Spin};
use super::error::Error;
use super::ring::{Column, Matrix};
use crate::sync::{lock, Mutex};

pub(crate) struct Registry {
    doorbells: Arc<[Doorbell]>,
    /// The shim's mutex: under loom the channel a worker creates here is
    /// handed to its peers through it, and loom must see that hand-over.
    inner: Mutex<Inner>,
}

struct Inner {
    /// Channels some worker has not claimed yet (an entry is removed when
    /// every worker claimed or abandoned it).
    entries: HashMap<usize, Entry>,
    /// Workers that exited: they claim nothing any more.
    departed: Vec<bool>,
}

struct Entry {
    type_id: TypeId,
    type_name: &'static str,
    capacity: usize,
    /// An `Arc<Matrix<T>>` for the entry's `T`.
    matrix: Arc<dyn Any + Send + Sync>,
    column: Arc<dyn Column>,
    /// Per worker: claimed or abandoned.
    settled: Vec<bool>,
}

impl Registry {
    pub(crate) fn new(peers: usize) -> Self {
        Self {
            doorbells: {
                // Spin before parking if every worker can have a core, else
                // yield (see `Spin`; measured on 2 cores, 2 workers:
                // ping-pong 13 µs → 0.4 µs with the spin; with 4 workers
                // spinning cost 1.3–5×, yielding gained ~25%).
                let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
                let spin = Spin::for_workers(peers, cores);
                (0..peers).map(|_| Doorbell::new(spin)).collect()
            },
            inner: Mutex::new(Inner {
                entries: HashMap::new(),
                departed: vec![false; peers],
            }),
        }
    }

    pub(crate) fn doorbell(&self, worker: usize) -> &Doorbell {
        &self.doorbells[worker]
    }

    /// Whether the workers outnumber the cores (their waiters yield to
    /// each other, see `Spin`).
    pub(crate) fn shares_cores(&self) -> bool {
        self.doorbells
            .first()
            .is_some_and(|d| matches!(d.spin(), Spin::Yields(_)))
    }

    /// Worker `worker` claims its endpoints of channel `id` carrying `T`.
    /// The caller checked that it did not claim `id` before.
    pub(crate) fn claim<T: Send + 'static>(
        &self,
        worker: usize,
        id: usize,
        capacity: usize,
    ) -> Result<Arc<Matrix<T>>, Error> {
        let mut inner = lock(&self.inner);
        let peers = self.doorbells.len();
        let Inner { entries, departed } = &mut *inner;
        let entry = entries.entry(id).or_insert_with(|| {
            let matrix = Arc::new(Matrix::<T>::new(self.doorbells.clone(), capacity));
            let mut settled = vec![false; peers];
            for (w, gone) in departed.iter().enumerate() {
                if *gone {
                    matrix.abandon(w);
                    settled[w] = true;
                }
            }
            Entry {
                type_id: TypeId::of::<T>(),
                type_name: core::any::type_name::<T>(),
                capacity,
                matrix: matrix.clone(),
                column: matrix,
                settled,
            }
        });
        debug_assert!(!entry.settled[worker], "the worker checks its own ids");
        entry.settled[worker] = true;
        let result = if entry.type_id != TypeId::of::<T>() {
            Err(Error::TypeMismatch {
                id,
                expected: entry.type_name,
                found: core::any::type_name::<T>(),
            })
        } else if entry.capacity != capacity {
            Err(Error::CapacityMismatch {
                id,
                expected: entry.capacity,
                found: capacity,
            })
        } else {
            match entry.matrix.clone().downcast::<Matrix<T>>() {
                Ok(m) => Ok(m),
                // The `TypeId` matched, so the downcast cannot fail; report
                // it as a mismatch rather than panic if it ever did.
                Err(_) => Err(Error::TypeMismatch {
                    id,
                    expected: entry.type_name,
                    found: core::any::type_name::<T>(),
                }),
            }
        };
        if result.is_err() {
            // This worker will never hold endpoints of `id`: its peers must
            // see it disconnect, not wait for it.
            entry.column.abandon(worker);
        }
        if entry.settled.iter().all(|s| *s) {
            entries.remove(&id);
        }
        result
    }

    /// Worker `worker` exited: abandons every channel it did not claim,
    /// now and in future allocations. Idempotent.
    pub(crate) fn depart(&self, worker: usize) {
        let mut inner = lock(&self.inner);
        let Inner { entries, departed } = &mut *inner;
        if departed[worker] {
            return;
        }
        departed[worker] = true;
        entries.retain(|_, entry| {
            if !entry.settled[worker] {
                entry.settled[worker] = true;
                entry.column.abandon(worker);
            }
            !entry.settled.iter().all(|s| *s)
        });
    }
}
