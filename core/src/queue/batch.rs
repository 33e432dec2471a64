//! `pop_batch`, written once for both rings.

/// Moves up to `max` values from `pop` into `out`, stopping at the first
/// `None`; returns how many moved. Pops lazily, one value per item `out`
/// asks for: an `Extend` that stops early leaves the rest in the queue.
pub(crate) fn pop_into<T>(
    mut pop: impl FnMut() -> Option<T>,
    out: &mut impl Extend<T>,
    max: usize,
) -> usize {
    let mut taken = 0;
    out.extend(core::iter::from_fn(|| {
        if taken == max {
            return None;
        }
        let value = pop()?;
        taken += 1;
        Some(value)
    }));
    taken
}
