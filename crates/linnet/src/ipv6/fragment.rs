//! IPv6 fragmentation, on the sending host only (RFC 8200 section 4.5: routers never
//! fragment): a datagram of ours over the link MTU leaves as fragments, each with the
//! unfragmentable part and a fragment header.
//!
//! Linux: net/ipv6/ip6_output.c (`ip6_fragment`, `ip6_find_1stfragopt`) and
//! `ipv6_select_ident`.

use super::route::Rt6Result;
use crate::buf::{PacketBuf, MAX_HEADER};
use crate::errno::Errno;
use crate::stack::Stack;
use crate::stats::DropReason;
use crate::time::Instant;
use crate::wire::ipv6::HEADER_LEN;
use crate::wire::ipv6ext::{Ipv6FragHeader, Ipv6OptionsHeader, FRAG_HEADER_LEN};
use crate::wire::{IpProtocol, Ipv6Packet};

impl Stack {
    /// Send `buf` (IPv6 header at the data start) towards `rt` as fragments of at most `mtu`
    /// bytes. The unfragmentable part is the fixed header and a hop-by-hop header if there
    /// is one; every fragment but the last carries a multiple of 8 bytes.
    /// Linux: `ip6_fragment` (the slow path).
    pub(crate) fn ip6_fragment(
        &mut self,
        buf: PacketBuf,
        rt: Rt6Result,
        mtu: usize,
        now: Instant,
    ) -> Result<(), Errno> {
        let d = buf.data();
        let p = Ipv6Packet::new_unchecked(d);
        // ip6_find_1stfragopt: the fixed header, and hop-by-hop options if they come first.
        let (mut unfrag_len, mut nh_field, mut nh) = (HEADER_LEN, 6usize, p.next_header());
        if nh == IpProtocol::HOPOPTS {
            if let Ok(h) = Ipv6OptionsHeader::new_checked(&d[HEADER_LEN..]) {
                nh_field = HEADER_LEN;
                nh = h.next_header();
                unfrag_len += h.header_len();
            }
        }
        let room = mtu.saturating_sub(unfrag_len + FRAG_HEADER_LEN) & !7;
        if room < 8 || d.len() <= unfrag_len {
            self.ipv6.stats.out_discards += 1;
            self.drop_pkt(buf, DropReason::PktTooBig);
            return Err(Errno::EMSGSIZE);
        }
        self.ipv6.frag_ident = self.ipv6.frag_ident.wrapping_add(1);
        let ident = self.ipv6.frag_ident;
        let body = &d[unfrag_len..];
        let mut offset = 0;
        let mut res = Ok(());
        let mut frags = Vec::with_capacity(body.len().div_ceil(room));
        while offset < body.len() {
            let n = room.min(body.len() - offset);
            let more = offset + n < body.len();
            let mut f = self.pool.get(MAX_HEADER);
            let b = f.put(unfrag_len + FRAG_HEADER_LEN + n);
            b[..unfrag_len].copy_from_slice(&d[..unfrag_len]);
            b[nh_field] = IpProtocol::FRAGMENT.0;
            let plen = (unfrag_len - HEADER_LEN + FRAG_HEADER_LEN + n) as u16;
            Ipv6Packet::new_unchecked(&mut b[..HEADER_LEN]).set_payload_len(plen);
            Ipv6FragHeader::new_unchecked(&mut b[unfrag_len..unfrag_len + FRAG_HEADER_LEN])
                .set(nh, offset, more, ident);
            b[unfrag_len + FRAG_HEADER_LEN..].copy_from_slice(&body[offset..offset + n]);
            f.reset_network_header();
            f.meta.sk = buf.meta.sk;
            frags.push(f);
            offset += n;
        }
        self.ipv6.stats.frag_oks += 1;
        self.ipv6.stats.frag_creates += frags.len() as u64;
        self.pool.put(buf);
        for f in frags {
            let r = self.ip6_finish_output2(f, rt, now);
            if res.is_ok() {
                res = r;
            }
        }
        res
    }
}
