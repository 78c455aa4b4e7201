//! IPv4 fragmentation on output: a datagram longer than the MTU of its way out is cut into
//! fragments whose payloads are multiples of 8 bytes (RFC 791 section 3.2, "Fragmentation and
//! Reassembly", and the fragmentation procedure in its section 3.2 example).
//!
//! Linux: net/ipv4/ip_output.c (`ip_fragment`, `ip_do_fragment`) and
//! net/ipv4/ip_options.c (`ip_options_fragment`).
//!
//! The first fragment is the datagram's own buffer, trimmed: its header and options stay in
//! place. Every other fragment is one buffer from the pool holding a copy of the header (with
//! only the options whose copied flag is set, as RFC 791 requires) and its slice of payload.

use super::output::NextHop;
use crate::buf::{BufPool, PacketBuf, MAX_HEADER};
use crate::errno::Errno;
use crate::stack::Stack;
use crate::stats::DropReason;
use crate::time::Instant;
use crate::wire::icmpv4::dst_unreachable;
use crate::wire::ipv4::{HEADER_LEN, MAX_HEADER_LEN};
use crate::wire::{Icmpv4Message, Ipv4Packet};

/// Room for the options of a header (60 − 20 bytes).
const MAX_OPTIONS_LEN: usize = MAX_HEADER_LEN - HEADER_LEN;

/// Option type: end of option list (RFC 791).
const IPOPT_END: u8 = 0;
/// Option type: no operation (RFC 791).
const IPOPT_NOOP: u8 = 1;
/// The copied flag of an option type: the option goes into every fragment (RFC 791).
const IPOPT_COPY: u8 = 0x80;

/// The options a fragment other than the first carries: those whose type has the copied flag,
/// in order, padded with end-of-list bytes to a multiple of 4. Returns their length. A
/// malformed option ends the scan (nothing after it is copied).
/// Linux: `ip_options_fragment` (which overwrites the other options with NOPs instead of
/// dropping them; RFC 791 lets a fragment's header shrink).
pub fn ip_options_fragment(options: &[u8], out: &mut [u8; MAX_OPTIONS_LEN]) -> usize {
    out.fill(IPOPT_END);
    let options = &options[..options.len().min(MAX_OPTIONS_LEN)];
    let mut i = 0;
    let mut n = 0;
    while i < options.len() {
        match options[i] {
            IPOPT_END => break,
            IPOPT_NOOP => i += 1,
            t => {
                let Some(&len) = options.get(i + 1) else {
                    break;
                };
                let len = len as usize;
                if len < 2 || i + len > options.len() {
                    break;
                }
                if t & IPOPT_COPY != 0 {
                    out[n..n + len].copy_from_slice(&options[i..i + len]);
                    n += len;
                }
                i += len;
            }
        }
    }
    n.div_ceil(4) * 4
}

/// Cut `buf` (an IPv4 datagram, header at the data start) into fragments of at most `mtu`
/// bytes, appended to `out` in order. The original buffer becomes the first fragment; each
/// other one comes from `pool`. A datagram that is itself a fragment is cut further, keeping
/// its offset and its more-fragments flag on the last piece. DF is not looked at here.
/// On failure the datagram is handed back with the error (`EMSGSIZE` when `mtu` leaves no
/// room for 8 bytes of payload, `EINVAL` for a malformed header).
/// Linux: `ip_do_fragment` (its slow path, one fresh buffer per fragment).
pub fn ip_do_fragment(
    mut buf: PacketBuf,
    mtu: usize,
    pool: &mut BufPool,
    out: &mut Vec<PacketBuf>,
) -> Result<(), (PacketBuf, Errno)> {
    let Ok(pkt) = Ipv4Packet::new_checked(buf.data()) else {
        return Err((buf, Errno::EINVAL));
    };
    let hlen = pkt.header_len();
    let total = usize::from(pkt.total_len());
    if total <= mtu {
        buf.trim(total);
        out.push(buf);
        return Ok(());
    }
    let mut opts = [0u8; MAX_OPTIONS_LEN];
    let frag_hlen = HEADER_LEN + ip_options_fragment(pkt.options(), &mut opts);
    // Payload per fragment: what the MTU leaves after the header, in 8-byte units.
    let first_room = mtu.saturating_sub(hlen) & !7;
    let room = mtu.saturating_sub(frag_hlen) & !7;
    if first_room < 8 || room < 8 {
        return Err((buf, Errno::EMSGSIZE));
    }
    let base_offset = pkt.frag_offset();
    let last_mf = pkt.more_frags();
    let payload_len = total - hlen;
    let meta = buf.meta;
    let start = out.len();
    {
        let data = buf.data();
        let payload = &data[hlen..total];
        let mut off = first_room;
        while off < payload_len {
            let len = room.min(payload_len - off);
            let last = off + len == payload_len;
            let flen = frag_hlen + len;
            let mut f = if MAX_HEADER + flen <= pool.buf_size() {
                pool.get(MAX_HEADER)
            } else {
                PacketBuf::with_headroom(MAX_HEADER + flen, MAX_HEADER)
            };
            {
                let d = &mut f.tailroom_mut()[..flen];
                d[..HEADER_LEN].copy_from_slice(&data[..HEADER_LEN]);
                d[HEADER_LEN..frag_hlen].copy_from_slice(&opts[..frag_hlen - HEADER_LEN]);
                d[frag_hlen..].copy_from_slice(&payload[off..off + len]);
                let mut p = Ipv4Packet::new_unchecked(d);
                p.set_header_len(frag_hlen);
                p.set_total_len(flen as u16);
                p.set_flags_frag(false, !last || last_mf, base_offset + off);
                p.fill_checksum();
            }
            f.commit_put(flen);
            f.meta = meta;
            f.reset_network_header();
            out.push(f);
            off += len;
        }
    }
    // The first fragment: the datagram itself, cut after `first_room` bytes of payload.
    buf.trim(hlen + first_room);
    {
        let mut p = Ipv4Packet::new_unchecked(buf.data_mut());
        p.set_total_len((hlen + first_room) as u16);
        p.set_flags_frag(false, true, base_offset);
        p.fill_checksum();
    }
    buf.reset_network_header();
    out.insert(start, buf);
    Ok(())
}

impl Stack {
    /// A datagram is longer than `mtu`: with DF set it is refused (`FragFails`, ICMP
    /// "fragmentation needed" carrying `mtu` to its source — which for our own datagrams is
    /// this host, so the sending socket learns the MTU — and `EMSGSIZE`); otherwise its
    /// fragments go out one by one (`FragOKs`, `FragCreates`).
    /// Linux: `ip_fragment` → `ip_do_fragment` → `ip_finish_output2` per fragment.
    pub(crate) fn ip_fragment(
        &mut self,
        buf: PacketBuf,
        hop: NextHop,
        mtu: usize,
        now: Instant,
    ) -> Result<(), Errno> {
        self.trace(
            &buf,
            crate::trace::Stage::IpFragment,
            crate::trace::Detail::Num("mtu", mtu as u64),
        );
        if buf.len() < HEADER_LEN {
            self.ipv4.ip_stats.out_discards += 1;
            self.drop_pkt(buf, DropReason::PktTooSmall);
            return Err(Errno::EINVAL);
        }
        if Ipv4Packet::new_unchecked(buf.data()).dont_frag() {
            self.ipv4.ip_stats.frag_fails += 1;
            self.icmp_send_error(
                &buf,
                Icmpv4Message::DST_UNREACHABLE,
                dst_unreachable::FRAG_NEEDED,
                mtu as u32,
                now,
            );
            self.drop_pkt(buf, DropReason::PktTooBig);
            return Err(Errno::EMSGSIZE);
        }
        let mut frags = std::mem::take(&mut self.ipv4.frag_scratch);
        frags.clear();
        if let Err((buf, e)) = ip_do_fragment(buf, mtu, &mut self.pool, &mut frags) {
            self.ipv4.ip_stats.frag_fails += 1;
            self.drop_pkt(buf, DropReason::PktTooBig);
            self.ipv4.frag_scratch = frags;
            return Err(e);
        }
        let mut res = Ok(());
        for f in frags.drain(..) {
            if res.is_err() {
                // Linux stops at the first fragment the device refuses and frees the rest.
                self.pool.put(f);
                continue;
            }
            res = self.ip_finish_output2(f, hop, now);
            if res.is_ok() {
                self.ipv4.ip_stats.frag_creates += 1;
            }
        }
        if res.is_ok() {
            self.ipv4.ip_stats.frag_oks += 1;
        } else {
            self.ipv4.ip_stats.frag_fails += 1;
        }
        self.ipv4.frag_scratch = frags;
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{IpProtocol, Ipv4Addr, Ipv4Repr};

    /// A datagram with `payload_len` bytes of patterned payload and the given options.
    fn datagram(payload_len: usize, options: &[u8], df: bool) -> PacketBuf {
        let hlen = HEADER_LEN + options.len();
        let mut b = PacketBuf::with_headroom(MAX_HEADER + hlen + payload_len, MAX_HEADER);
        let d = b.put(hlen + payload_len);
        Ipv4Repr {
            src_addr: Ipv4Addr::new(192, 0, 2, 1),
            dst_addr: Ipv4Addr::new(192, 0, 2, 2),
            protocol: IpProtocol::UDP,
            payload_len,
            ttl: 64,
            tos: 0,
            ident: 0x4242,
            dont_frag: df,
        }
        .emit(d);
        d[HEADER_LEN..hlen].copy_from_slice(options);
        for (i, x) in d[hlen..].iter_mut().enumerate() {
            *x = (i % 251) as u8;
        }
        let mut p = Ipv4Packet::new_unchecked(&mut d[..]);
        p.set_header_len(hlen);
        p.set_total_len((hlen + payload_len) as u16);
        p.fill_checksum();
        b.reset_network_header();
        b
    }

    fn fragment(b: PacketBuf, mtu: usize) -> Vec<PacketBuf> {
        let mut pool = BufPool::new(crate::buf::DEFAULT_BUF_SIZE, 8);
        let mut out = Vec::new();
        ip_do_fragment(b, mtu, &mut pool, &mut out)
            .map_err(|(_, e)| e)
            .unwrap();
        out
    }

    /// Put the fragments' payloads back together by offset, checking every header.
    fn rebuild(frags: &[PacketBuf], mtu: usize) -> Vec<u8> {
        let mut whole = Vec::new();
        for (i, f) in frags.iter().enumerate() {
            let p = Ipv4Packet::new_checked(f.data()).unwrap();
            assert!(p.verify_checksum(), "fragment {i} checksum");
            assert!(f.len() <= mtu, "fragment {i} is {} > {mtu}", f.len());
            assert_eq!(p.ident(), 0x4242);
            assert!(!p.dont_frag());
            let last = i == frags.len() - 1;
            assert_eq!(p.more_frags(), !last, "MF of fragment {i}");
            if !last {
                assert_eq!(p.payload().len() % 8, 0, "fragment {i} not in 8-byte units");
            }
            assert_eq!(p.frag_offset(), whole.len(), "offset of fragment {i}");
            whole.extend_from_slice(p.payload());
        }
        whole
    }

    #[test]
    fn sizes_offsets_and_flags_for_20000_bytes_over_1500() {
        let b = datagram(20_008, &[], false);
        let original = b.data()[HEADER_LEN..].to_vec();
        let frags = fragment(b, 1500);
        // 1480 payload bytes per fragment: 13 full ones and 768 bytes in the last.
        assert_eq!(frags.len(), 14);
        let lens: Vec<usize> = frags.iter().map(|f| f.len()).collect();
        assert!(lens[..13].iter().all(|&l| l == 1500));
        assert_eq!(lens[13], 20 + 20_008 - 13 * 1480);
        assert_eq!(rebuild(&frags, 1500), original);
    }

    #[test]
    fn odd_mtu_rounds_payload_down_to_eight() {
        let b = datagram(3000, &[], false);
        let original = b.data()[HEADER_LEN..].to_vec();
        let frags = fragment(b, 1006);
        // 1006 − 20 = 986 → 984 bytes per fragment.
        assert_eq!(
            frags
                .iter()
                .map(|f| f.len() - HEADER_LEN)
                .collect::<Vec<_>>(),
            vec![984, 984, 984, 48]
        );
        assert_eq!(rebuild(&frags, 1006), original);
    }

    #[test]
    fn fitting_datagram_is_left_alone_and_tiny_mtu_is_refused() {
        let frags = fragment(datagram(100, &[], false), 1500);
        assert_eq!(frags.len(), 1);
        assert!(!Ipv4Packet::new_checked(frags[0].data())
            .unwrap()
            .is_fragment());
        let mut pool = BufPool::new(crate::buf::DEFAULT_BUF_SIZE, 8);
        let mut out = Vec::new();
        let err = ip_do_fragment(datagram(100, &[], false), 27, &mut pool, &mut out);
        assert_eq!(err.map_err(|(_, e)| e), Err(Errno::EMSGSIZE));
        assert!(out.is_empty());
    }

    #[test]
    fn only_copied_options_follow_into_later_fragments() {
        // NOP, record route (7, not copied, 11 bytes), security-like option 130 (copied, 4
        // bytes): 16 bytes of options, IHL 9.
        let mut opts = vec![1u8, 7, 11, 4];
        opts.extend_from_slice(&[0; 8]);
        opts.extend_from_slice(&[130, 4, 0xab, 0xcd]);
        assert_eq!(opts.len(), 16);
        let mut copied = [0u8; MAX_OPTIONS_LEN];
        assert_eq!(ip_options_fragment(&opts, &mut copied), 4);
        assert_eq!(&copied[..4], &[130, 4, 0xab, 0xcd]);

        let b = datagram(2000, &opts, false);
        let original = b.data()[36..].to_vec();
        let frags = fragment(b, 600);
        let first = Ipv4Packet::new_checked(frags[0].data()).unwrap();
        assert_eq!(first.header_len(), 36);
        assert_eq!(first.options(), &opts[..]);
        assert_eq!(first.payload().len(), 560); // (600 − 36) & !7
        for f in &frags[1..] {
            let p = Ipv4Packet::new_checked(f.data()).unwrap();
            assert_eq!(p.header_len(), 24);
            assert_eq!(p.options(), &[130, 4, 0xab, 0xcd]);
        }
        assert_eq!(rebuild(&frags, 600), original);
    }

    #[test]
    fn malformed_options_stop_the_copy_without_panicking() {
        let mut copied = [0u8; MAX_OPTIONS_LEN];
        assert_eq!(ip_options_fragment(&[0x83, 0], &mut copied), 0);
        assert_eq!(ip_options_fragment(&[0x83, 9, 0, 0], &mut copied), 0);
        assert_eq!(ip_options_fragment(&[0x83], &mut copied), 0);
        assert_eq!(
            ip_options_fragment(&[0x83, 3, 1, 0x83, 2, 0], &mut copied),
            8
        );
        assert_eq!(&copied[..8], &[0x83, 3, 1, 0x83, 2, 0, 0, 0]);
    }

    #[test]
    fn a_fragment_is_cut_again_keeping_offset_and_mf() {
        let mut b = datagram(4000, &[], false);
        {
            let mut p = Ipv4Packet::new_unchecked(b.data_mut());
            p.set_flags_frag(false, true, 8000);
            p.fill_checksum();
        }
        let frags = fragment(b, 1500);
        let offs: Vec<(usize, bool)> = frags
            .iter()
            .map(|f| {
                let p = Ipv4Packet::new_checked(f.data()).unwrap();
                (p.frag_offset(), p.more_frags())
            })
            .collect();
        assert_eq!(
            offs,
            vec![(8000, true), (9480, true), (10960, true)],
            "the last piece keeps the original MF"
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(128))]
        /// Any datagram, options and MTU: either refused for lack of room, or cut into
        /// fragments that fit and put back together give the payload.
        #[test]
        fn any_size_any_mtu_any_options(
            payload_len in 0usize..20_000,
            mtu in 28usize..4000,
            words in proptest::collection::vec(proptest::prelude::any::<u32>(), 0..10),
        ) {
            let opts: Vec<u8> = words.iter().flat_map(|w| w.to_be_bytes()).collect();
            let b = datagram(payload_len, &opts, false);
            let hlen = HEADER_LEN + opts.len();
            let original = b.data()[hlen..].to_vec();
            let mut pool = BufPool::new(crate::buf::DEFAULT_BUF_SIZE, 8);
            let mut out = Vec::new();
            match ip_do_fragment(b, mtu, &mut pool, &mut out) {
                Ok(()) if hlen + payload_len <= mtu => proptest::prop_assert_eq!(out.len(), 1),
                Ok(()) => {
                    let mut whole = Vec::new();
                    for (i, f) in out.iter().enumerate() {
                        let p = Ipv4Packet::new_checked(f.data()).unwrap();
                        proptest::prop_assert!(p.verify_checksum() && f.len() <= mtu);
                        proptest::prop_assert_eq!(p.frag_offset(), whole.len());
                        proptest::prop_assert_eq!(p.more_frags(), i + 1 < out.len());
                        whole.extend_from_slice(p.payload());
                    }
                    proptest::prop_assert_eq!(whole, original);
                }
                Err((_, e)) => {
                    proptest::prop_assert_eq!(e, Errno::EMSGSIZE);
                    proptest::prop_assert!(mtu < hlen + 8);
                }
            }
        }
    }

    mod stack_output {
        use super::*;
        use crate::ip::output::IpSendParams;
        use crate::wire::EthernetAddress;

        const ME: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
        const PEER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

        fn stack() -> (Stack, u32) {
            let mut s = Stack::default();
            let now = Instant::ZERO;
            let i = s.add_interface("eth0", EthernetAddress([2, 0, 0, 0, 0, 1]), 1500);
            s.add_addr(i, "192.0.2.1/24".parse().unwrap(), now).unwrap();
            s.set_link_up(i, true, now).unwrap();
            s.add_neighbour(i, PEER, EthernetAddress([2, 0, 0, 0, 0, 2]), now)
                .unwrap();
            while let Some(b) = s.take_tx(i, now) {
                s.recycle(b);
            }
            (s, i)
        }

        fn send(s: &mut Stack, len: usize, df: bool) -> Result<(), Errno> {
            let mut b = PacketBuf::with_headroom(MAX_HEADER + len, MAX_HEADER);
            for (i, x) in b.put(len).iter_mut().enumerate() {
                *x = i as u8;
            }
            let p = IpSendParams {
                src: None,
                dst: PEER,
                protocol: IpProtocol::UDP,
                ttl: None,
                tos: 0,
                dont_frag: df,
            };
            s.ip_send(b, p, Instant::ZERO)
        }

        /// The IPv4 packets queued on `ifindex`, Ethernet header removed.
        fn sent(s: &mut Stack, ifindex: u32) -> Vec<Vec<u8>> {
            let mut v = Vec::new();
            while let Some(b) = s.take_tx(ifindex, Instant::ZERO) {
                v.push(b.data()[14..].to_vec());
                s.recycle(b);
            }
            v
        }

        #[test]
        fn ip_send_fragments_a_datagram_without_df() {
            let (mut s, i) = stack();
            send(&mut s, 4000, false).unwrap();
            let frames = sent(&mut s, i);
            assert_eq!(
                frames.iter().map(|f| f.len()).collect::<Vec<_>>(),
                vec![1500, 1500, 20 + 4000 - 2960]
            );
            let mut payload = Vec::new();
            for f in &frames {
                let p = Ipv4Packet::new_checked(&f[..]).unwrap();
                assert!(p.verify_checksum());
                assert_eq!((p.src_addr(), p.dst_addr()), (ME, PEER));
                assert_eq!(p.frag_offset(), payload.len());
                payload.extend_from_slice(p.payload());
            }
            assert_eq!(payload, (0..4000).map(|i| i as u8).collect::<Vec<_>>());
            let st = s.snmp().ip;
            assert_eq!((st.frag_oks, st.frag_creates, st.frag_fails), (1, 3, 0));
        }

        #[test]
        fn df_refusal_is_emsgsize_and_icmp_to_ourselves() {
            let (mut s, i) = stack();
            assert_eq!(send(&mut s, 1481, true), Err(Errno::EMSGSIZE));
            assert!(sent(&mut s, i).is_empty());
            assert_eq!(s.snmp().ip.frag_fails, 1);
            assert_eq!(s.drops().get(DropReason::PktTooBig), 1);
            // The "fragmentation needed" went to our own address through loopback.
            s.poll(Instant::ZERO);
            let icmp = s.snmp().icmp;
            assert_eq!((icmp.out_dest_unreachs, icmp.in_dest_unreachs), (1, 1));
            assert_eq!(s.ipv4_mtu(PEER, Instant::ZERO), Some(1500));
            // What fits goes out whole, DF set.
            send(&mut s, 1480, true).unwrap();
            let f = sent(&mut s, i);
            assert_eq!(f.len(), 1);
            assert!(Ipv4Packet::new_checked(&f[0][..]).unwrap().dont_frag());
        }

        #[test]
        fn output_follows_the_path_mtu() {
            let (mut s, i) = stack();
            let now = Instant::ZERO;
            assert_eq!(s.ip_rt_update_pmtu(PEER, 1280, now), Some(1280));
            send(&mut s, 3000, false).unwrap();
            let frames = sent(&mut s, i);
            assert_eq!(frames.len(), 3);
            assert!(frames.iter().all(|f| f.len() <= 1280));
            assert_eq!(send(&mut s, 1261, true), Err(Errno::EMSGSIZE));
            // A locked path MTU (a report below min_pmtu) clears DF: routers may fragment.
            assert_eq!(s.ip_rt_update_pmtu(PEER, 300, now), Some(552));
            send(&mut s, 1000, true).unwrap();
            let frames = sent(&mut s, i);
            assert_eq!(frames.len(), 2);
            for f in &frames {
                let p = Ipv4Packet::new_checked(&f[..]).unwrap();
                assert!(f.len() <= 552 && !p.dont_frag());
            }
        }
    }
}
