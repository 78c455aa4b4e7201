//! SYN cookies: a listener whose SYN queue is full encodes the connection in the ISN of its
//! SYN-ACK and keeps nothing; the final ACK brings it back.
//!
//! Linux: net/ipv4/syncookies.c (`__cookie_v4_init_sequence`, `__cookie_v4_check`,
//! `cookie_init_timestamp`, `cookie_timestamp_decode`). The layout follows the same idea:
//! `cookie = H1(tuple) + their_isn + (count << 24) + ((H2(tuple, count) + mss_index) mod 2^24)`,
//! with `count` a 64-second counter.

use super::siphash::SipHasher24;
use crate::time::Instant;
use std::net::Ipv4Addr;

/// MSS values a cookie can carry (Linux `msstab`).
pub const MSS_TABLE: [u16; 4] = [536, 1300, 1440, 1460];
/// Seconds per counter tick.
const PERIOD_SECS: u64 = 64;
/// Oldest cookie accepted, in ticks (Linux `MAX_SYNCOOKIE_AGE`).
const MAX_AGE: u32 = 2;
const COOKIE_BITS: u32 = 24;
const COOKIE_MASK: u32 = (1 << COOKIE_BITS) - 1;

/// The cookie secret.
#[derive(Debug, Clone)]
pub struct SynCookies {
    k0: u64,
    k1: u64,
}

impl SynCookies {
    /// Cookies under a secret key.
    pub fn new(k0: u64, k1: u64) -> SynCookies {
        SynCookies { k0, k1 }
    }

    fn hash(&self, salt: u64, s: Ipv4Addr, sp: u16, d: Ipv4Addr, dp: u16, count: u32) -> u32 {
        let mut h = SipHasher24::new(self.k0 ^ salt, self.k1);
        h.write(&s.octets());
        h.write(&d.octets());
        h.write_u16(sp);
        h.write_u16(dp);
        h.write_u32(count);
        h.finish() as u32
    }

    fn count(now: Instant) -> u32 {
        (now.total_micros() / 1_000_000 / PERIOD_SECS) as u32
    }

    /// Our ISN for a SYN from `(saddr, sport)` to `(daddr, dport)`, and the MSS it encodes
    /// (the largest table entry not above `mss`).
    #[allow(clippy::too_many_arguments)]
    pub fn encode(
        &self,
        saddr: Ipv4Addr,
        sport: u16,
        daddr: Ipv4Addr,
        dport: u16,
        their_isn: u32,
        mss: u16,
        now: Instant,
    ) -> (u32, u16) {
        let idx = MSS_TABLE.iter().rposition(|&m| m <= mss).unwrap_or(0);
        let count = Self::count(now);
        let h1 = self.hash(1, saddr, sport, daddr, dport, 0);
        let h2 = self.hash(2, saddr, sport, daddr, dport, count);
        let cookie = h1
            .wrapping_add(their_isn)
            .wrapping_add(count << COOKIE_BITS)
            .wrapping_add(h2.wrapping_add(idx as u32) & COOKIE_MASK);
        (cookie, MSS_TABLE[idx])
    }

    /// The MSS of a valid cookie (`cookie` = the ACK number − 1), or `None`.
    #[allow(clippy::too_many_arguments)]
    pub fn decode(
        &self,
        saddr: Ipv4Addr,
        sport: u16,
        daddr: Ipv4Addr,
        dport: u16,
        their_isn: u32,
        cookie: u32,
        now: Instant,
    ) -> Option<u16> {
        let h1 = self.hash(1, saddr, sport, daddr, dport, 0);
        let rest = cookie.wrapping_sub(h1).wrapping_sub(their_isn);
        let now_count = Self::count(now);
        // The top 8 bits hold the counter modulo 256.
        let age = (now_count.wrapping_sub(rest >> COOKIE_BITS)) & 0xff;
        if age > MAX_AGE {
            return None;
        }
        let count = now_count.wrapping_sub(age);
        let h2 = self.hash(2, saddr, sport, daddr, dport, count);
        let idx = (rest.wrapping_sub(h2)) & COOKIE_MASK;
        MSS_TABLE.get(idx as usize).copied()
    }
}

/// A TSval carrying the options a cookie cannot: the low 6 bits hold the window scale (4
/// bits, 0xf = none) and SACK-permitted (1 bit); never above `tsval_now`.
/// Linux: `cookie_init_timestamp`.
pub fn encode_ts_options(tsval_now: u32, wscale: Option<u8>, sack_ok: bool) -> u32 {
    let opts =
        (wscale.map_or(0xf, |w| w.min(14) as u32) & 0xf) | ((sack_ok as u32) << 4) | (1 << 5);
    let mut ts = (tsval_now & !0x3f) | opts;
    if ts > tsval_now {
        ts = ts.wrapping_sub(64);
    }
    ts
}

/// The options from the echoed TSval of a cookie ACK. Linux: `cookie_timestamp_decode`.
pub fn decode_ts_options(tsecr: u32) -> (Option<u8>, bool) {
    if tsecr & (1 << 5) == 0 {
        return (None, false);
    }
    let ws = (tsecr & 0xf) as u8;
    (
        if ws == 0xf { None } else { Some(ws) },
        tsecr & (1 << 4) != 0,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
    const D: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

    #[test]
    fn round_trip_every_mss() {
        let c = SynCookies::new(1, 2);
        let now = Instant::from_secs(1000);
        for (i, &mss) in MSS_TABLE.iter().enumerate() {
            let (cookie, m) = c.encode(S, 4000, D, 80, 777 + i as u32, mss + 3, now);
            assert_eq!(m, mss);
            assert_eq!(
                c.decode(S, 4000, D, 80, 777 + i as u32, cookie, now),
                Some(mss)
            );
            // Still good within two periods, not after.
            assert_eq!(
                c.decode(
                    S,
                    4000,
                    D,
                    80,
                    777 + i as u32,
                    cookie,
                    now + std::time::Duration::from_secs(120)
                ),
                Some(mss)
            );
            assert_eq!(
                c.decode(
                    S,
                    4000,
                    D,
                    80,
                    777 + i as u32,
                    cookie,
                    now + std::time::Duration::from_secs(200)
                ),
                None
            );
            assert_eq!(c.decode(S, 4001, D, 80, 777 + i as u32, cookie, now), None);
            // (An ISN off by a few would shift the MSS index, as in Linux; far off fails.)
            assert_eq!(
                c.decode(S, 4000, D, 80, 100_777 + i as u32, cookie, now),
                None
            );
        }
        assert_eq!(c.encode(S, 1, D, 2, 3, 100, now).1, 536);
    }

    #[test]
    fn forged_cookies_fail() {
        let c = SynCookies::new(3, 4);
        let now = Instant::from_secs(5000);
        let mut x: u32 = 12345;
        let mut ok = 0;
        for _ in 0..100_000 {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            if c.decode(S, 1, D, 2, 99, x, now).is_some() {
                ok += 1;
            }
        }
        // Chance per guess: 3 ages of 256 × 4 of 2^24 ≈ 7e-8.
        assert!(ok <= 2, "{ok} forged cookies accepted");
    }

    #[test]
    fn ts_options() {
        for ws in [None, Some(0), Some(7), Some(14)] {
            for sack in [false, true] {
                let ts = encode_ts_options(1_000_000, ws, sack);
                assert!(ts <= 1_000_000);
                assert_eq!(decode_ts_options(ts), (ws, sack));
            }
        }
    }
}
