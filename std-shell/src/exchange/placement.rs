//! Where a worker thread starts: each on its own core of the ones the
//! process may use, in turn, before the kernel takes over.
//!
//! Linux places a new thread on the idlest core at the instant it is
//! spawned. Workers spawned back to back often start unevenly: with 4
//! workers on 2 cores, three on one core and one on the other. An
//! oversubscribed waiter yields its core instead of sleeping (see
//! [`Spin`](super::doorbell::Spin)), so neither core ever looks idle and
//! the scheduler's balancer (every few tens of milliseconds on a busy core)
//! seldom moves anyone. Measured on 2 cores, 4 workers all-to-all: one
//! start in three or four was uneven, and such a run stayed uneven for all
//! of its 800 rounds, at 10.7–13 µs a round against 6.8–8.5 µs when even.
//!
//! So a worker, as its thread starts, moves itself to the core of its seat
//! (`seat mod n` of the `n` cores its thread may run on), then gives its
//! thread the affinity it had back, unchanged: a place to start, not a pin.
//! The kernel may move it afterwards as it likes, and a process limited to
//! some cores (`taskset`, cgroups) stays within them. Where the thread may
//! use one core only, on other systems, and under miri and loom, nothing
//! happens. A failing system call leaves the affinity as it was (the only
//! step after which one can fail is giving the affinity back, with the
//! very mask the kernel just reported).

/// Moves the calling thread to the core of `seat` among the cores it may
/// use, then restores its affinity (see the module docs).
#[cfg(all(target_os = "linux", not(miri), not(evlatch_loom)))]
pub(crate) fn start_on_own_core(seat: usize) {
    use core::mem::{size_of, zeroed};

    let size = size_of::<libc::cpu_set_t>();
    // SAFETY: `cpu_set_t` is a plain array of bits; all zeroes is the
    // empty set, a valid value.
    let mut allowed: libc::cpu_set_t = unsafe { zeroed() };
    // SAFETY: pid 0 is the calling thread; `allowed` is a writable
    // `cpu_set_t` of `size` bytes. On a machine with more CPUs than a
    // `cpu_set_t` holds the call fails (EINVAL) and we do nothing.
    if unsafe { libc::sched_getaffinity(0, size, &mut allowed) } != 0 {
        return;
    }
    let cpus = (0..libc::CPU_SETSIZE as usize).map(|cpu| {
        // SAFETY: `cpu` is below `CPU_SETSIZE`, the set's size in bits.
        unsafe { libc::CPU_ISSET(cpu, &allowed) }
    });
    let Some(cpu) = seat_core(cpus, seat) else {
        return;
    };
    // SAFETY: as above, the empty set.
    let mut own: libc::cpu_set_t = unsafe { zeroed() };
    // SAFETY: `cpu` came from the set's own bit range.
    unsafe { libc::CPU_SET(cpu, &mut own) };
    // SAFETY: pid 0 is the calling thread; both sets are valid
    // `cpu_set_t`s of `size` bytes. The first call moves this thread to
    // `cpu` before it returns; the second hands back the mask the kernel
    // reported above.
    unsafe {
        if libc::sched_setaffinity(0, size, &own) == 0 {
            libc::sched_setaffinity(0, size, &allowed);
        }
    }
}

/// Does nothing (see the module docs).
#[cfg(not(all(target_os = "linux", not(miri), not(evlatch_loom))))]
pub(crate) fn start_on_own_core(_seat: usize) {}

/// The core of `seat`: the `seat mod n`-th of the `n` allowed cores, in
/// the order of `allowed` (one flag per core number); `None` when fewer
/// than two cores are allowed (nowhere to spread to).
#[cfg_attr(
    not(all(target_os = "linux", not(miri), not(evlatch_loom))),
    allow(dead_code)
)]
fn seat_core(allowed: impl Iterator<Item = bool> + Clone, seat: usize) -> Option<usize> {
    let n = allowed.clone().filter(|&a| a).count();
    if n < 2 {
        return None;
    }
    allowed
        .enumerate()
        .filter(|&(_, a)| a)
        .nth(seat % n)
        .map(|(cpu, _)| cpu)
}

#[cfg(all(test, not(evlatch_loom)))]
mod tests {
    use super::seat_core;

    fn cores(bits: &[u8]) -> impl Iterator<Item = bool> + Clone + '_ {
        bits.iter().map(|&b| b == 1)
    }

    #[test]
    fn seats_take_the_allowed_cores_in_turn() {
        // Cores 1, 3 and 4 allowed.
        let allowed = [0, 1, 0, 1, 1, 0];
        let got: Vec<_> = (0..7).map(|s| seat_core(cores(&allowed), s)).collect();
        assert_eq!(
            got,
            [1, 3, 4, 1, 3, 4, 1].map(Some),
            "seat s goes to allowed core s mod 3"
        );
    }

    #[test]
    fn one_allowed_core_or_none_means_no_move() {
        assert_eq!(seat_core(cores(&[0, 0, 1, 0]), 0), None);
        assert_eq!(seat_core(cores(&[0, 0, 1, 0]), 5), None);
        assert_eq!(seat_core(cores(&[0, 0, 0]), 1), None);
        assert_eq!(seat_core(cores(&[]), 0), None);
    }
}
