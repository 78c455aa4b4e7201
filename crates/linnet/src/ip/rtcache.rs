//! A small cache of route lookup results, so the per-packet lookup is a hash and a compare.
//!
//! Linux no longer keeps a per-destination cache (removed in 3.6); it caches the output
//! `rtable` on each next hop and invalidates everything by bumping a generation number
//! (`rt_cache_flush` → `rt_genid_bump_ipv4`, checked by `rt_is_expired`). This cache keeps
//! that invalidation scheme: each entry records the generation it was computed at, and any
//! change to the tables, the rules, an address or a link's state makes every older entry a
//! miss. Entries live in a fixed, direct-mapped array: memory is bounded, a collision only
//! costs a slow-path lookup.

use super::fib::Route;
use super::route::Flowi4;
use crate::errno::Errno;
use serde::{Deserialize, Serialize};

/// Slots in the cache (a power of two).
const SLOTS: usize = 256;

/// Cache counters. Linux: `/proc/net/stat/rt_cache` (`in_hit`, `in_slow_tot`...).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RtCacheStats {
    /// Lookups answered from the cache.
    pub hits: u64,
    /// Lookups that walked the rules and tries.
    pub misses: u64,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    key: Flowi4,
    genid: u64,
    result: Result<Route, Errno>,
}

/// The route cache. Linux: the `rt_genid`-checked cached routes of each `fib_nh`.
#[derive(Debug)]
pub struct RouteCache {
    slots: Box<[Option<Entry>]>,
    seed: u64,
    stats: RtCacheStats,
}

impl RouteCache {
    /// An empty cache hashing with `seed` (so slot placement is not predictable from outside).
    pub fn new(seed: u64) -> RouteCache {
        RouteCache {
            slots: vec![None; SLOTS].into_boxed_slice(),
            seed: seed | 1,
            stats: RtCacheStats::default(),
        }
    }

    fn slot(&self, key: &Flowi4) -> usize {
        let a = (u64::from(u32::from(key.dst)) << 32) | u64::from(u32::from(key.src));
        let b = (u64::from(key.iif) << 32) | u64::from(key.mark);
        let h = (a ^ self.seed)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .rotate_left(29)
            ^ b.wrapping_mul(0xc2b2_ae3d_27d4_eb4f);
        (h.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - SLOTS.trailing_zeros())) as usize
    }

    /// The cached result for `key`, if one was stored at generation `genid`.
    pub fn get(&mut self, key: &Flowi4, genid: u64) -> Option<Result<Route, Errno>> {
        let i = self.slot(key);
        match &self.slots[i] {
            Some(e) if e.genid == genid && e.key == *key => {
                self.stats.hits += 1;
                Some(e.result)
            }
            _ => {
                self.stats.misses += 1;
                None
            }
        }
    }

    /// Remember `result` for `key` at generation `genid`, replacing whatever held the slot.
    pub fn put(&mut self, key: Flowi4, genid: u64, result: Result<Route, Errno>) {
        let i = self.slot(&key);
        self.slots[i] = Some(Entry { key, genid, result });
    }

    #[cfg(test)]
    /// Entries valid at generation `genid`.
    pub fn valid_entries(&self, genid: u64) -> usize {
        self.slots
            .iter()
            .flatten()
            .filter(|e| e.genid == genid)
            .count()
    }

    /// Counters.
    pub fn stats(&self) -> RtCacheStats {
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Ipv4Addr;

    fn key(d: u32) -> Flowi4 {
        Flowi4 {
            dst: Ipv4Addr::from(d),
            src: Ipv4Addr::UNSPECIFIED,
            iif: 1,
            mark: 0,
        }
    }

    #[test]
    fn hit_only_at_the_same_generation_and_key() {
        let mut c = RouteCache::new(7);
        let r = Route::unicast("10.0.0.0/8".parse().unwrap(), None, 2);
        assert_eq!(c.get(&key(1), 0), None);
        c.put(key(1), 0, Ok(r));
        assert_eq!(c.get(&key(1), 0), Some(Ok(r)));
        assert_eq!(c.get(&key(1), 1), None, "stale after a generation bump");
        let mut other = key(1);
        other.iif = 2;
        assert_eq!(
            c.get(&other, 0),
            None,
            "the input interface is part of the key"
        );
        c.put(key(5), 0, Err(Errno::ENETUNREACH));
        assert_eq!(c.get(&key(5), 0), Some(Err(Errno::ENETUNREACH)));
        assert_eq!(c.stats(), RtCacheStats { hits: 2, misses: 3 });
    }

    #[test]
    fn bounded_and_spread() {
        let mut c = RouteCache::new(3);
        let r = Route::unicast("10.0.0.0/8".parse().unwrap(), None, 2);
        for d in 0..10_000u32 {
            c.put(key(0x0a00_0000 + d), 9, Ok(r));
        }
        // Sequential destinations fill most slots rather than piling into a few.
        let used = c.valid_entries(9);
        assert!(used <= SLOTS);
        assert!(used > SLOTS * 3 / 4, "{used} slots used");
    }
}
