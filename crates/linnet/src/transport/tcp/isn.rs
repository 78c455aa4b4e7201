//! Initial sequence numbers (RFC 6528): ISN = M + F(localip, localport, remoteip, remoteport,
//! secretkey), M a 4-µs clock. Linux: `secure_tcp_seq` / `secure_tcp_ts_off`
//! (net/core/secure_seq.c).

use super::siphash::SipHasher24;
use crate::time::Instant;
use std::net::Ipv4Addr;

/// The keyed generator.
#[derive(Debug, Clone)]
pub struct IsnGenerator {
    k0: u64,
    k1: u64,
}

impl IsnGenerator {
    /// A generator with a secret key.
    pub fn new(k0: u64, k1: u64) -> IsnGenerator {
        IsnGenerator { k0, k1 }
    }

    /// The ISN for a connection at `now`. Linux: `secure_tcp_seq`.
    pub fn isn(
        &self,
        saddr: Ipv4Addr,
        sport: u16,
        daddr: Ipv4Addr,
        dport: u16,
        now: Instant,
    ) -> u32 {
        let mut h = SipHasher24::new(self.k0, self.k1);
        h.write(&saddr.octets());
        h.write(&daddr.octets());
        h.write_u16(sport);
        h.write_u16(dport);
        let f = h.finish() as u32;
        f.wrapping_add((now.total_micros() / 4) as u32)
    }

    /// A per-pair offset for the timestamp clock, so TSvals reveal no uptime.
    /// Linux: `secure_tcp_ts_off`.
    pub fn ts_offset(&self, saddr: Ipv4Addr, daddr: Ipv4Addr) -> u32 {
        let mut h = SipHasher24::new(self.k1, self.k0);
        h.write(&saddr.octets());
        h.write(&daddr.octets());
        h.finish() as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_tuple_and_clocked() {
        let g = IsnGenerator::new(7, 9);
        let a = Ipv4Addr::new(192, 0, 2, 1);
        let b = Ipv4Addr::new(192, 0, 2, 2);
        let t0 = Instant::from_secs(1);
        let x = g.isn(a, 1000, b, 80, t0);
        assert_ne!(x, g.isn(a, 1001, b, 80, t0));
        assert_ne!(x, g.isn(b, 1000, a, 80, t0));
        assert_eq!(
            g.isn(a, 1000, b, 80, t0 + std::time::Duration::from_micros(400)),
            x.wrapping_add(100)
        );
        assert_ne!(x, IsnGenerator::new(8, 9).isn(a, 1000, b, 80, t0));
        assert_ne!(g.ts_offset(a, b), g.ts_offset(b, a));
    }
}
