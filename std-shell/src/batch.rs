//! A short list that keeps its first few items inline: wake-ups are
//! collected under a lock and delivered after it, and one or two wake-ups
//! (the common case) should not allocate.

const INLINE: usize = 4;

pub(crate) struct Batch<T> {
    inline: [Option<T>; INLINE],
    len: usize,
    spill: Vec<T>,
}

impl<T> Batch<T> {
    pub(crate) fn new() -> Self {
        Self {
            inline: [const { None }; INLINE],
            len: 0,
            spill: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, item: T) {
        if self.len < INLINE {
            self.inline[self.len] = Some(item);
        } else {
            self.spill.push(item);
        }
        self.len += 1;
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The items in push order.
    pub(crate) fn drain(self) -> impl Iterator<Item = T> {
        self.inline.into_iter().flatten().chain(self.spill)
    }
}

#[cfg(test)]
mod tests {
    use super::Batch;

    #[test]
    fn keeps_push_order_across_the_spill() {
        let mut b = Batch::new();
        for i in 0..10 {
            b.push(i);
        }
        assert_eq!(b.len(), 10);
        assert_eq!(b.drain().collect::<Vec<_>>(), (0..10).collect::<Vec<_>>());
        assert_eq!(Batch::<u8>::new().drain().count(), 0);
    }
}
