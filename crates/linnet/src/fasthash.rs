//! A fast keyed hash for the tables looked up on every packet (TCP connections by 4-tuple,
//! neighbours by address).
//!
//! The standard library's SipHash-1-3 costs more than the rest of a lookup for keys of a few
//! bytes. Linux hashes these tables with `jhash`, keyed with a random secret chosen at boot
//! (`inet_ehashfn` with `inet_ehash_secret`, `arp_hashfn` with `hash_rnd`), so that a peer
//! cannot choose 4-tuples that collide. This hasher plays the same role: two 64-bit keys
//! derived from the stack's seed, each word of input mixed by a folded 64x64→128-bit
//! multiply, and the state finished by another multiply with the second key. It is not a
//! cryptographic MAC; like jhash, it keeps bucket placement unpredictable without the key.
//! Because the keys come from the stack's seed, iteration order is reproducible in
//! simulations.
//!
//! Linux: `jhash_3words` / `inet_ehashfn` (net/ipv4/inet_hashtables.c).

use std::hash::{BuildHasher, Hasher};

/// Odd multiplier (from the fractional part of the golden ratio) used by every mixing step.
const MULT: u64 = 0x9e37_79b9_7f4a_7c15;

/// `a * b` as a 128-bit product, high and low halves xor-ed together.
#[inline]
fn folded_mul(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ ((p >> 64) as u64)
}

/// splitmix64: spreads a seed into well-mixed keys.
fn splitmix(x: &mut u64) -> u64 {
    *x = x.wrapping_add(MULT);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The keys of one table: builds [`KeyedHasher`]s. Linux: a table's hash secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyedState {
    k0: u64,
    k1: u64,
}

impl KeyedState {
    /// Keys derived from `seed` (the stack's seed mixed with a per-table constant).
    pub fn new(seed: u64) -> KeyedState {
        let mut x = seed;
        let k0 = splitmix(&mut x);
        // The finishing key must be odd so the final multiply loses nothing.
        let k1 = splitmix(&mut x) | 1;
        KeyedState { k0, k1 }
    }
}

impl BuildHasher for KeyedState {
    type Hasher = KeyedHasher;

    fn build_hasher(&self) -> KeyedHasher {
        KeyedHasher {
            h: self.k0,
            k1: self.k1,
        }
    }
}

/// One hash computation.
#[derive(Debug, Clone)]
pub struct KeyedHasher {
    h: u64,
    k1: u64,
}

impl KeyedHasher {
    #[inline]
    fn mix(&mut self, word: u64) {
        self.h = folded_mul(self.h ^ word, MULT);
    }
}

impl Hasher for KeyedHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.mix(u64::from_le_bytes([
                c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7],
            ]));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut b = [0u8; 8];
            b[..rest.len()].copy_from_slice(rest);
            // The length goes into the top byte so that [1] and [1, 0] differ.
            self.mix(u64::from_le_bytes(b) ^ ((rest.len() as u64) << 56));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.mix(u64::from(i));
    }

    #[inline]
    fn write_u16(&mut self, i: u16) {
        self.mix(u64::from(i));
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.mix(u64::from(i));
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.mix(i);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.mix(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        folded_mul(self.h, self.k1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::net::{Ipv4Addr, SocketAddrV4};

    fn h<T: std::hash::Hash>(s: &KeyedState, v: T) -> u64 {
        s.hash_one(v)
    }

    #[test]
    fn deterministic_per_key_and_different_across_keys() {
        let a = KeyedState::new(1);
        let b = KeyedState::new(2);
        let t = (
            SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), 80),
            SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 2), 40000),
        );
        assert_eq!(h(&a, t), h(&a, t));
        assert_ne!(h(&a, t), h(&b, t));
        assert_ne!(h(&a, [1u8].as_slice()), h(&a, [1u8, 0].as_slice()));
    }

    #[test]
    fn four_tuples_differing_in_one_port_spread_over_buckets() {
        // 4096 connections from one client differing only in the source port: the low 12
        // bits of the hash (a 4096-bucket table) must take most of the possible values.
        let s = KeyedState::new(0x1234);
        let local = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 2), 5001);
        let buckets: HashSet<u64> = (0..4096u16)
            .map(|p| {
                h(
                    &s,
                    (
                        local,
                        SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), 32768 + p),
                    ),
                ) & 4095
            })
            .collect();
        // A uniform hash fills about 63% (1 - 1/e) of the buckets.
        assert!(
            buckets.len() > 2400,
            "only {} of 4096 buckets used",
            buckets.len()
        );
    }
}
