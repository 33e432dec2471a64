//! The encoding of an event's state word, and small pure helpers to read it.
//!
//! ```text
//!  31                 14  13   12  11    8   7    6    5    4    3    2   1 0
//! +---------------------+----+----+-------+----+----+----+----+----+----+-----+
//! |     GENERATION      | SR | SC |  REG  | PF | RS | WT | CO | CB | FN | ST  |
//! +---------------------+----+----+-------+----+----+----+----+----+----+-----+
//! ```
//!
//! | field | bits | meaning |
//! |-------|------|---------|
//! | `ST`  | 0–1  | visible status: 0 Initialized, 1 Scheduled, 2 Success, 3 Failed |
//! | `FN`  | 2    | FINISHING: a `set_failed` has claimed the finish and is writing its message; `ST` still shows the unfinished status |
//! | `CB`  | 3    | CALLBACKS: a callback went to the callback *list* this generation, so the list must be collected at the finish and reopened at reset |
//! | `CO`  | 4    | COLLECTING: the finisher is taking the callback list (`ST` is already finished) |
//! | `WT`  | 5    | WAITERS: a shell armed a wake-up for this generation's finish |
//! | `RS`  | 6    | RESETTING: a reset is reopening the callback list (`ST` still finished) |
//! | `PF`  | 7    | PREV_FAILED: the previous generation ended `Failed` |
//! | `REG` | 8–11 | list registrations in progress (0..=15); while non-zero the generation cannot change |
//! | `SC`  | 12   | SLOT_CLAIMED: the first registration of this generation owns the inline slot |
//! | `SR`  | 13   | SLOT_READY: the slot's entry is written and published (`SC` is set too) |
//! | `GENERATION` | 14–31 | +1 (mod 2^18) at every reset out of a finished status |
//!
//! The inline slot, `{SC, SR}`: `{0, 0}` free → (claim, CAS) `{1, 0}` the
//! claimant is writing its entry (a pin: reset waits) → (publish,
//! `fetch_add`) `{1, 1}`. Whoever moves the word second owns the entry: the
//! finisher if its CAS starts from `{1, 1}`, the claimant if its publish
//! finds the status already finished. Only a reset clears `{SC, SR}`, and only
//! from `{0, 0}` or `{1, 1}`; the slot's own `busy` flag then keeps the next
//! claimant from writing before the owner has moved the entry out (see
//! `callbacks.rs`).
//!
//! Who moves the word (every move is one compare-and-swap unless noted):
//!
//! | from | by | to |
//! |------|----|----|
//! | Initialized | `record` | Scheduled |
//! | Initialized/Scheduled, no FN | `set_finished` | Success (+CO if CB), WT cleared |
//! | Initialized/Scheduled, no FN | `set_failed` | same status +FN; after the message: Failed (+CO if CB), FN and WT cleared |
//! | finished +CO | the finisher, after taking the list (`fetch_and`) | finished |
//! | unfinished, no SC | the first callback registration | +SC; after writing the slot: +SR (`fetch_add`, also when finished by then) |
//! | unfinished, SC | a later callback registration | REG+1, +CB; later REG−1 (`fetch_sub`) |
//! | unfinished | a shell arming a wake-up | +WT |
//! | finished, no CB/CO/RS/REG, SC = SR | `reset` | Initialized, GENERATION+1, PF = (was Failed) |
//! | finished +CB, no CO/RS/REG, SC = SR | `reset` | +RS; then (plain store, RS excludes every other writer) Initialized, GENERATION+1, PF |

use crate::EventStatus;

pub(crate) const STATUS_MASK: u32 = 0b11;
pub(crate) const INITIALIZED: u32 = 0;
pub(crate) const SCHEDULED: u32 = 1;
pub(crate) const SUCCESS: u32 = 2;
pub(crate) const FAILED: u32 = 3;

pub(crate) const FINISHING: u32 = 1 << 2;
pub(crate) const CALLBACKS: u32 = 1 << 3;
pub(crate) const COLLECTING: u32 = 1 << 4;
pub(crate) const WAITERS: u32 = 1 << 5;
pub(crate) const RESETTING: u32 = 1 << 6;
pub(crate) const PREV_FAILED: u32 = 1 << 7;

pub(crate) const REG_SHIFT: u32 = 8;
pub(crate) const REG_ONE: u32 = 1 << REG_SHIFT;
pub(crate) const REG_MAX: u32 = 15;
pub(crate) const REG_MASK: u32 = REG_MAX << REG_SHIFT;

pub(crate) const SLOT_CLAIMED: u32 = 1 << 12;
pub(crate) const SLOT_READY: u32 = 1 << 13;

pub(crate) const GEN_SHIFT: u32 = 14;
/// Number of distinct generations before the counter wraps.
pub(crate) const GEN_MODULUS: u32 = 1 << (32 - GEN_SHIFT);

#[inline]
pub(crate) const fn status_bits(s: u32) -> u32 {
    s & STATUS_MASK
}

#[inline]
pub(crate) const fn status(s: u32) -> EventStatus {
    EventStatus::from_bits(status_bits(s))
}

/// Success or Failed (bit 1 of the status field).
#[inline]
pub(crate) const fn is_finished(s: u32) -> bool {
    s & SUCCESS != 0
}

#[inline]
pub(crate) const fn generation(s: u32) -> u32 {
    s >> GEN_SHIFT
}

#[inline]
pub(crate) const fn registrations(s: u32) -> u32 {
    (s & REG_MASK) >> REG_SHIFT
}

/// Whether a slot claimant is between its claim and its publish (a pin on
/// the generation, like a list registration in flight).
#[inline]
pub(crate) const fn slot_in_flight(s: u32) -> bool {
    s & (SLOT_CLAIMED | SLOT_READY) == SLOT_CLAIMED
}

/// The word a finish moves `s` to: the outcome, FINISHING and WAITERS cleared,
/// COLLECTING set when there is a callback list to take.
#[inline]
pub(crate) const fn finished_word(s: u32, outcome: u32) -> u32 {
    debug_assert!(outcome == SUCCESS || outcome == FAILED);
    let mut next = (s & !(STATUS_MASK | FINISHING | WAITERS)) | outcome;
    if s & CALLBACKS != 0 {
        next |= COLLECTING;
    }
    next
}

/// The word a reset moves the finished word `s` to.
#[inline]
pub(crate) const fn reset_word(s: u32) -> u32 {
    debug_assert!(is_finished(s));
    let next_gen = (generation(s) + 1) % GEN_MODULUS;
    let prev = if status_bits(s) == FAILED {
        PREV_FAILED
    } else {
        0
    };
    (next_gen << GEN_SHIFT) | prev | INITIALIZED
}

/// The outcome of the generation before the one `s` belongs to.
#[inline]
pub(crate) const fn previous_outcome(s: u32) -> EventStatus {
    if s & PREV_FAILED != 0 {
        EventStatus::Failed
    } else {
        EventStatus::Success
    }
}
