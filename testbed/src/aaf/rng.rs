//! Deterministic pseudo-random draws for the AAF generator (brief: "deterministic
//! from the seed").
//!
//! Every generated entity (school, pupil, family, member of staff) draws from
//! its own stream, keyed by the export seed and the entity's number, so any
//! entity can be rebuilt on its own (the accessors) and the files can be
//! written in one streaming pass with flat memory. The mixing function is
//! SplitMix64's finaliser: the values never depend on a library version.

/// Mixes 64 bits (SplitMix64 finaliser).
pub(crate) fn mix(value: u64) -> u64 {
    let mut z = value;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Golden-ratio increment of SplitMix64.
const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// What a stream is drawn for: keeps the streams of different entities apart.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Stream {
    /// A school.
    School = 1,
    /// A pupil.
    Pupil = 2,
    /// A family (its guardians, its surname).
    Family = 3,
    /// A member of staff.
    Staff = 4,
    /// A school-wide or export-wide choice (offsets, organisme blocks).
    Layout = 5,
    /// The picks of a delta.
    Delta = 6,
}

/// One stream of draws.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    /// The stream of entity `keys` of kind `stream` for export seed `seed`.
    pub(crate) fn new(seed: u64, stream: Stream, keys: &[u64]) -> Self {
        let mut state = mix(seed ^ GAMMA);
        state = mix(state ^ (stream as u64).wrapping_mul(GAMMA));
        for key in keys {
            state = mix(state.wrapping_add(GAMMA) ^ mix(*key));
        }
        Self(state)
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GAMMA);
        mix(self.0)
    }

    /// A value in `0..n` (0 when `n` is 0).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    /// True with probability `percent` / 100.
    pub(crate) fn percent(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// One item of a non-empty table (the default value for an empty one).
    pub(crate) fn pick<T: Copy + Default>(&mut self, items: &[T]) -> T {
        let index = usize::try_from(self.below(items.len() as u64)).unwrap_or(0);
        items.get(index).copied().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_deterministic_and_distinct() {
        let a: Vec<u64> = (0..4)
            .map({
                let mut r = Rng::new(7, Stream::Pupil, &[1, 2]);
                move |_| r.next_u64()
            })
            .collect();
        let b: Vec<u64> = (0..4)
            .map({
                let mut r = Rng::new(7, Stream::Pupil, &[1, 2]);
                move |_| r.next_u64()
            })
            .collect();
        assert_eq!(a, b);
        let mut other_seed = Rng::new(8, Stream::Pupil, &[1, 2]);
        let mut other_kind = Rng::new(7, Stream::Staff, &[1, 2]);
        let mut other_key = Rng::new(7, Stream::Pupil, &[2, 1]);
        assert_ne!(other_seed.next_u64(), a[0]);
        assert_ne!(other_kind.next_u64(), a[0]);
        assert_ne!(other_key.next_u64(), a[0]);
    }

    #[test]
    fn below_and_pick_stay_in_range() {
        let mut r = Rng::new(1, Stream::Layout, &[]);
        for _ in 0..1000 {
            assert!(r.below(23) < 23);
        }
        assert_eq!(r.below(0), 0);
        let items = ["a", "b", "c"];
        for _ in 0..100 {
            assert!(items.contains(&r.pick(&items)));
        }
        let empty: [&str; 0] = [];
        assert_eq!(r.pick(&empty), "");
    }
}
