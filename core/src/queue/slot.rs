//! One value slot, shared by both rings.

use core::mem::MaybeUninit;

use crate::sync::UnsafeCell;

/// One value slot: a cell loom can check, holding a value or nothing. Each
/// ring says when it is initialised (SCQ: while its index is in the ready
/// ring or held by the producer that wrote it or the consumer about to read
/// it; stamp ring: while its stamp says full, or while the thread that
/// claimed its position holds it).
pub type Slot<T> = UnsafeCell<MaybeUninit<T>>;
