//! TCP output: building segments and deciding what to send.
//!
//! Linux: net/ipv4/tcp_output.c (`tcp_transmit_skb`, `tcp_write_xmit`, `tcp_send_ack`,
//! `tcp_send_delayed_ack`, `tcp_retransmit_skb`, `tcp_send_fin`, `tcp_send_active_reset`,
//! `tcp_xmit_probe_skb`) and net/ipv4/tcp_ipv4.c (`tcp_v4_send_reset`).

use super::fastretrans::{CaState, XmitTimer};
use super::md5sig;
use super::offload;
use super::rtx_queue::{TCPCB_EVER_RETRANS, TCPCB_LOST, TCPCB_SACKED_ACKED, TCPCB_SACKED_RETRANS};
use super::sock::{Chrono, TcpSock, TcpState};
use crate::buf::{BufPool, CsumState, PacketBuf, MAX_HEADER};
use crate::core::sock::SockId;
use crate::errno::Errno;
use crate::ip::output::IpSendParams;
use crate::stack::Stack;
use crate::time::Instant;
use crate::wire::checksum;
use crate::wire::ipv4::HEADER_LEN;
use crate::wire::tcp::{SeqNumber, TcpFlags, TcpPacket, TcpRepr};
use crate::wire::{IpProtocol, Ipv4Addr};
use std::time::Duration;

/// How often a probe retries data the local qdisc refused. Linux:
/// `TCP_RESOURCE_PROBE_INTERVAL` (500 ms).
const TCP_RESOURCE_PROBE_INTERVAL: Duration = Duration::from_millis(500);

/// How soon after data came in sending data counts as an answer (interactive mode).
/// Linux: `TCP_ATO_MIN`.
const TCP_ATO_MIN: Duration = Duration::from_millis(40);

/// One segment to build.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Seg {
    /// Sequence number of the first octet (of the SYN, or of the data).
    pub seq: SeqNumber,
    /// Flags (ACK is added in synchronized states).
    pub flags: TcpFlags,
    /// Payload: offset in the send queue and length.
    pub data_off: usize,
    /// Payload length.
    pub data_len: usize,
}

/// The timestamp clock: milliseconds (RFC 7323 recommends 1 ms to 1 s per tick).
pub fn tcp_time_stamp(now: Instant) -> u32 {
    now.total_millis() as u32
}

/// Build one segment of `sk` into a fresh buffer (payload copied once from the send queue).
/// Linux: `tcp_transmit_skb` (header and options), `tcp_options_write`.
pub(crate) fn tcp_build(sk: &mut TcpSock, pool: &mut BufPool, seg: Seg, now: Instant) -> PacketBuf {
    let syn = seg.flags.contains(TcpFlags::SYN);
    let mut flags = seg.flags;
    // Every segment but the very first SYN carries an ACK.
    if (!syn || sk.state != TcpState::SynSent) && !flags.contains(TcpFlags::RST) {
        flags.insert(TcpFlags::ACK);
    }
    let window = if syn {
        // Window in a SYN is never scaled (RFC 7323 2.2).
        let w = (sk.rcv_space() as u32).min(0xffff);
        sk.rcv_wnd_max = sk.rcv_wnd_max.max(w);
        if sk.state == TcpState::SynSent {
            // The window may open as far as the buffer is now (SO_RCVBUF may have changed
            // since the socket was made). Linux: tcp_connect_init's rcv_ssthresh.
            sk.rcv_ssthresh = sk.rcv_space().min(u32::MAX as usize) as u32;
        }
        if sk.state == TcpState::SynReceived {
            let edge = sk.rcv_nxt + w as usize;
            if edge > sk.rcv_adv {
                sk.rcv_adv = edge;
            }
        }
        w as u16
    } else {
        (sk.select_window() >> sk.rcv_wscale).min(0xffff) as u16
    };
    let mut repr = TcpRepr {
        src_port: sk.local.port(),
        dst_port: sk.remote.port(),
        flags,
        seq_number: seg.seq,
        ack_number: if flags.contains(TcpFlags::ACK) {
            Some(sk.rcv_nxt)
        } else {
            None
        },
        window_len: window,
        max_seg_size: None,
        window_scale: None,
        sack_permitted: false,
        sack_ranges: [None; 4],
        timestamp: None,
        fastopen: None,
        payload_len: seg.data_len,
    };
    if syn {
        repr.max_seg_size = Some(sk.adv_mss);
        // In SYN-SENT we offer what we are configured for; in a SYN-ACK we answer with what
        // the peer offered (the flags were set from its SYN).
        if sk.ws_ok {
            repr.window_scale = Some(sk.rcv_wscale);
        }
        repr.sack_permitted = sk.sack_ok;
        // The first SYN (or SYN-ACK) only: retransmissions go without it (Linux:
        // `tcp_send_syn_data` clears the cookie after the first transmission).
        repr.fastopen = sk.fastopen.syn_option.take();
    }
    if sk.ts_ok {
        let ts = tcp_time_stamp(now).wrapping_add(sk.ts_offset);
        let ts = match sk.ts_last {
            Some(last) if (ts.wrapping_sub(last) as i32) < 0 => last,
            _ => ts,
        };
        sk.ts_last = Some(ts);
        repr.timestamp = Some((ts, sk.ts_recent));
    }
    // The payload per wire segment once this segment's SACK/D-SACK blocks are counted.
    let seg_mss = if syn { sk.mss } else { sk.current_mss() };
    if sk.sack_ok && !syn {
        sk.rx_sack
            .take_option_blocks(sk.sack_max_blocks(), &mut repr.sack_ranges);
    }
    // RFC 2385: a signed segment's MD5 option comes first; what no longer fits in the
    // 40 bytes of options goes (Linux: tcp_syn_options / tcp_established_options count
    // the MD5 option's room first).
    let md5 = sk.md5.lookup(sk.inet_daddr()).is_some();
    if md5 && repr.header_len() + md5sig::TCPOLEN_MD5SIG_ALIGNED > 60 {
        repr.fastopen = None;
    }
    let hlen_plain = repr.header_len();
    let hlen = if md5 {
        hlen_plain + md5sig::TCPOLEN_MD5SIG_ALIGNED
    } else {
        hlen_plain
    };
    let total = hlen + seg.data_len;
    let mut buf = pool.get_sized(total, MAX_HEADER);
    // Offloads: leave the checksum to the device, and mark a super-segment for TSO/GSO.
    // A SYN is never split: its data (Fast Open) was sized to fit one segment.
    // Nor is an MTU probe: it is one packet larger than the MSS (Linux: tcp_mtu_probe's
    // tcp_init_tso_segs(nskb, nskb->len)).
    let gso = !syn && seg.data_len > seg_mss as usize && !sk.mtup.in_xmit;
    let partial = sk.route_caps.hw_csum || gso;
    {
        // Written in place in the tailroom: the header is emitted and the payload copied over
        // every byte, so nothing is zeroed first (Linux: skb_put without memset).
        let room = buf.tailroom_mut();
        let d = &mut room[..total];
        d[..hlen].fill(0);
        let (a, b) = if seg.data_len > 0 {
            sk.sndbuf.get_allocated(seg.data_off, seg.data_len)
        } else {
            (&[][..], &[][..])
        };
        let (src, dst) = (sk.inet_saddr(), sk.inet_daddr());
        if let Some(key) = sk.md5.lookup(dst).filter(|_| md5) {
            md5sig::tcp_md5_emit(&repr, &mut d[..hlen], &key.key, src, dst, total, [a, b]);
        } else {
            repr.emit(&mut d[..hlen]);
        }
        if partial {
            d[hlen..hlen + a.len()].copy_from_slice(a);
            d[hlen + a.len()..hlen + a.len() + b.len()].copy_from_slice(b);
            d[hlen + a.len() + b.len()..].fill(0);
            offload::tcp_csum_partial(&mut d[..], src, dst);
        } else {
            // The payload is summed as it is copied (one pass over it, not a copy and then a
            // second read of the copy), and the sums of header, payload pieces and
            // pseudo-header combined. Linux: `tcp_sendmsg` → `csum_and_copy_from_user` of
            // the pre-offload days, `skb_copy_and_csum_bits`.
            let pseudo = checksum::pseudo_header_v4(src, dst, 6, total as u16);
            let mut sum = checksum::sum64(&d[..hlen], u64::from(pseudo));
            let rest = &mut d[hlen..];
            let sa = checksum::copy_and_sum64(&mut rest[..a.len()], a, 0);
            sum = checksum::sum64_block_add(sum, sa, hlen);
            let sb = checksum::copy_and_sum64(&mut rest[a.len()..], b, 0);
            sum = checksum::sum64_block_add(sum, sb, hlen + a.len());
            // Whatever the send queue could not supply (never, as segments are cut from it)
            // is zero, as put() would have left it, and adds nothing to the sum.
            rest[a.len() + b.len()..].fill(0);
            TcpPacket::new_unchecked(&mut d[..]).set_checksum(!checksum::fold64(sum));
        }
        buf.commit_put(total);
    }
    if partial {
        buf.meta.csum = CsumState::Partial {
            start: HEADER_LEN as u16,
            offset: 16,
        };
    }
    if gso {
        // Also a segment cut for fewer option bytes than it now carries: GSO splits it
        // rather than letting it exceed the MTU.
        buf.meta.gso_size = seg_mss.min(u16::MAX.into()) as u16;
    }
    buf.reset_transport_header();
    if let Some(ack) = repr.ack_number {
        // Data going out while a delayed ACK waits, soon after data came in: interactive
        // mode. Linux: tcp_event_data_sent (inet_csk_inc_pingpong_cnt).
        if seg.data_len > 0
            && sk.delack_at.is_some()
            && sk.rcv_unacked_segs > 0
            && now.saturating_since(sk.last_rcv) < TCP_ATO_MIN
        {
            sk.pingpong = true;
        }
        sk.last_ack_sent = ack;
        sk.ack_now = false;
        sk.ack_deferred = false;
        sk.delack_at = None;
        sk.ack_pushed = false;
        sk.rcv_unacked_segs = 0;
    }
    buf
}

/// What IP is asked for a TCP segment: DF set (PMTU discovery), default TTL, the TOS
/// byte's ECN field `ecn`.
fn tcp_ip_params(src: Ipv4Addr, dst: Ipv4Addr, ecn: u8) -> IpSendParams {
    IpSendParams {
        src: Some(src),
        dst,
        protocol: IpProtocol::TCP,
        ttl: None,
        tos: ecn,
        dont_frag: true,
    }
}

impl Stack {
    /// Build and send one segment of socket `id`. Linux: `tcp_transmit_skb`.
    pub(crate) fn tcp_transmit(&mut self, id: SockId, seg: Seg, now: Instant) -> Result<(), Errno> {
        let Ok(sk) = self.sockets.tcp_mut(id) else {
            return Err(Errno::EBADF);
        };
        let (ecn, ecn_flags) = super::ecn::tcp_ecn_send(sk, seg.seq, seg.flags, seg.data_len);
        let seg = Seg {
            flags: TcpFlags(seg.flags.0 | ecn_flags.0),
            ..seg
        };
        if !(seg.flags.contains(TcpFlags::SYN) && sk.state == TcpState::SynSent) {
            // Every segment but the first SYN carries an ACK, and with it the ACKs of
            // out-of-order data held back (Linux: tcp_event_ack_sent).
            self.tcp.stats.ack_compressed += u64::from(sk.tcp_event_ack_sent_compressed());
        }
        let mut buf = tcp_build(sk, &mut self.pool, seg, now);
        buf.meta.sk = Some(id);
        let (src, dst) = (sk.inet_saddr(), sk.inet_daddr());
        if seg.data_len > 0 || seg.flags.intersects(TcpFlags::SYN | TcpFlags::FIN) {
            sk.last_send = now;
        }
        if seg.data_len > 0 {
            sk.tcp_update_skb_after_send(buf.len(), now);
        }
        // A super-segment counts as the segments it becomes (Linux: tcp_skb_pcount).
        let segs = match buf.meta.gso_size {
            0 => 1,
            g => seg.data_len.div_ceil(usize::from(g)).max(1),
        };
        self.tcp.stats.out_segs += segs as u64;
        if seg.flags.contains(TcpFlags::RST) {
            self.tcp.stats.out_rsts += 1;
        }
        // The socket's cached route while the routing generation holds (Linux: __sk_dst_check).
        let cached = sk.dst_cache;
        let genid = self.rt_genid();
        let rt = match cached {
            Some((g, rt)) if g == genid => Ok(rt),
            _ => {
                let rt = self.ip_route_output(dst, Some(src));
                if let (Ok(r), Ok(sk)) = (rt, self.sockets.tcp_mut(id)) {
                    sk.dst_cache = Some((genid, r));
                }
                rt
            }
        };
        self.tcp_rate_sent(id, seg.seq, seg.data_len, now);
        let res = self.ip_send_routed(buf, tcp_ip_params(src, dst, ecn), rt, now);
        // Its segments take consecutive IPv4 identifications (Linux: ip_select_ident_segs).
        self.ipv4.ip_ident_skip(segs as u16 - 1);
        res
    }

    /// Send a bare ACK now. Linux: `tcp_send_ack`.
    pub(crate) fn tcp_send_ack(&mut self, id: SockId, now: Instant) {
        let Ok(sk) = self.sockets.tcp_mut(id) else {
            return;
        };
        let seq = sk.snd_nxt;
        let _ = self.tcp_transmit(
            id,
            Seg {
                seq,
                flags: TcpFlags::ACK,
                data_off: 0,
                data_len: 0,
            },
            now,
        );
    }

    /// A probe the peer must answer with an ACK: a segment one below `snd_una`, no data
    /// (keepalive and zero-window probes). Linux: `tcp_xmit_probe_skb`.
    pub(crate) fn tcp_send_probe(&mut self, id: SockId, now: Instant) {
        let Ok(sk) = self.sockets.tcp_mut(id) else {
            return;
        };
        let seq = sk.snd_una - 1;
        let _ = self.tcp_transmit(
            id,
            Seg {
                seq,
                flags: TcpFlags::ACK,
                data_off: 0,
                data_len: 0,
            },
            now,
        );
    }

    /// Abort with a RST at `snd_nxt`. Linux: `tcp_send_active_reset`.
    pub(crate) fn tcp_send_active_reset(&mut self, id: SockId, now: Instant) {
        let Ok(sk) = self.sockets.tcp_mut(id) else {
            return;
        };
        let seq = sk.snd_nxt;
        let _ = self.tcp_transmit(
            id,
            Seg {
                seq,
                flags: TcpFlags::RST | TcpFlags::ACK,
                data_off: 0,
                data_len: 0,
            },
            now,
        );
    }

    /// Send (or resend) our SYN or SYN-ACK. Linux: `tcp_connect` / `tcp_v4_send_synack`.
    pub(crate) fn tcp_send_syn(&mut self, id: SockId, now: Instant) {
        self.tcp_send_syn_with_data(id, 0, now);
    }

    /// Send our SYN carrying the first `data_len` bytes of the send queue (a Fast Open SYN;
    /// 0 for a plain SYN). Linux: `tcp_connect` → `tcp_send_syn_data`.
    pub(crate) fn tcp_send_syn_with_data(&mut self, id: SockId, data_len: usize, now: Instant) {
        let Ok(sk) = self.sockets.tcp_mut(id) else {
            return;
        };
        let seq = sk.iss;
        // (A SYN sent again without the data leaves what the first one carried
        // outstanding: Linux resends the SYN skb alone.)
        sk.snd_nxt = sk.snd_nxt.max(sk.iss + 1 + data_len);
        if sk.snd_max < sk.snd_nxt {
            sk.snd_max = sk.snd_nxt;
        }
        if data_len > 0 {
            sk.bytes_sent += data_len as u64;
        }
        let rto = sk.rtt.rto();
        sk.rto_at = Some(now + rto);
        let ecn = if sk.state == TcpState::SynSent {
            let first = sk.syn_retries == 0;
            super::ecn::tcp_ecn_send_syn(sk, self.config.tcp.ecn, first)
        } else {
            super::ecn::tcp_ecn_make_synack(sk)
        };
        let _ = self.tcp_transmit(
            id,
            Seg {
                seq,
                flags: TcpFlags(TcpFlags::SYN.0 | ecn.0),
                data_off: 0,
                data_len,
            },
            now,
        );
        if let Ok(sk) = self.sockets.tcp_mut(id) {
            if sk.state == TcpState::SynSent && sk.syn_tsval.is_none() && sk.ts_ok {
                sk.syn_tsval = sk.ts_last;
            }
        }
    }

    /// Answer a segment that has no connection with a RST (never a RST to a RST).
    /// RFC 9293 3.10.7.1; Linux: `tcp_v4_send_reset`.
    pub(crate) fn tcp_v4_send_reset(
        &mut self,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        seg: &TcpRepr,
        now: Instant,
    ) {
        if seg.flags.contains(TcpFlags::RST) {
            return;
        }
        let (seq, ack, flags) = match seg.ack_number {
            Some(a) => (a, None, TcpFlags::RST),
            None => (
                SeqNumber(0),
                Some(seg.seq_number + seg.segment_len()),
                TcpFlags::RST | TcpFlags::ACK,
            ),
        };
        let repr = TcpRepr {
            src_port: seg.dst_port,
            dst_port: seg.src_port,
            flags,
            seq_number: seq,
            ack_number: ack,
            window_len: 0,
            max_seg_size: None,
            window_scale: None,
            sack_permitted: false,
            sack_ranges: [None; 4],
            timestamp: None,
            fastopen: None,
            payload_len: 0,
        };
        self.tcp_send_stateless(dst, src, &repr, now);
    }

    /// Send a segment that belongs to no socket (RST, SYN-ACK with a cookie).
    pub(crate) fn tcp_send_stateless(
        &mut self,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        repr: &TcpRepr,
        now: Instant,
    ) {
        let rt = self.ip_route_output(dst, Some(src));
        self.tcp_send_stateless_routed(src, dst, repr, rt, now);
    }

    /// [`Stack::tcp_send_stateless`] along a route already looked up.
    pub(crate) fn tcp_send_stateless_routed(
        &mut self,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        repr: &TcpRepr,
        rt: Result<crate::ip::route::OutputRoute, Errno>,
        now: Instant,
    ) {
        let hlen = repr.header_len();
        let mut buf = self.pool.get(MAX_HEADER);
        {
            let d = buf.put(hlen);
            repr.emit(d);
            TcpPacket::new_unchecked(&mut d[..]).fill_checksum(src, dst);
        }
        self.tcp.stats.out_segs += 1;
        if repr.flags.contains(TcpFlags::RST) {
            self.tcp.stats.out_rsts += 1;
        }
        let _ = self.ip_send_routed(buf, tcp_ip_params(src, dst, 0), rt, now);
    }

    /// Send what the windows allow: retransmissions of holes during recovery first, then new
    /// data, then a FIN; arm the retransmission or persist timer. Linux: `tcp_write_xmit`
    /// (with `tcp_nagle_test`, `tcp_snd_wnd_test`, `tcp_cwnd_test`) and
    /// `tcp_xmit_retransmit_queue`.
    pub(crate) fn tcp_write_xmit(&mut self, id: SockId, now: Instant) {
        if self.tcp_write_xmit_nosched(id, now) {
            self.tcp_sched(id);
        }
    }

    /// [`Stack::tcp_write_xmit`] without re-arming the timer entry, for callers that arm it
    /// themselves once they are done ([`Stack::tcp_output`]). Returns whether the timer entry
    /// needs re-arming (false when the socket is gone or not synchronized, as before).
    fn tcp_write_xmit_nosched(&mut self, id: SockId, now: Instant) -> bool {
        let genid = self.rt_genid();
        if let Ok(sk) = self.sockets.tcp(id) {
            if sk.route_caps_genid != genid {
                let caps = self.sk_route_caps(sk.inet_daddr(), sk.inet_saddr());
                if let Ok(sk) = self.sockets.tcp_mut(id) {
                    sk.route_caps = caps;
                    // No segmentation offload while signing (each segment's digest
                    // differs). Linux: sk_gso_disable in tcp_md5_do_add.
                    sk.route_caps.tso &= sk.md5.is_empty();
                    sk.route_caps_genid = genid;
                }
            }
        }
        // The MSS for the route's current MTU (Linux: tcp_current_mss at the top of
        // tcp_write_xmit's callers).
        self.tcp_mss_refresh(id, now);
        let Ok(sk) = self.sockets.tcp_mut(id) else {
            return false;
        };
        // A passive Fast Open child sends before its handshake completes (Linux:
        // `tcp_passive_fastopen` in `tcp_sendmsg_locked`).
        let tfo_child = sk.state == TcpState::SynReceived && sk.fastopen.passive();
        if (!sk.state.is_synchronized() && !tfo_child) || sk.state == TcpState::TimeWait {
            return false;
        }
        // 1. Retransmissions of what is marked lost (Linux: tcp_xmit_recovery), unless F-RTO
        // wants new data first (REXMIT_NEW).
        if sk.rexmit_new {
            sk.rexmit_new = false;
            let high_seq = sk.high_seq;
            self.tcp_write_xmit_new(id, now, false);
            let Ok(sk) = self.sockets.tcp_mut(id) else {
                return false;
            };
            if sk.snd_nxt <= high_seq {
                sk.frto = false;
                self.tcp_xmit_retransmit_queue(id, now);
            }
        } else {
            self.tcp_xmit_retransmit_queue(id, now);
        }
        // 2. New data.
        self.tcp_write_xmit_new(id, now, true)
    }

    /// Send new data (and the FIN) as the windows, Nagle and TSQ allow; schedule a tail
    /// loss probe when new data went out. Linux: the loop of `tcp_write_xmit` with
    /// `tcp_event_new_data_sent`, `tcp_cwnd_validate` and `tcp_schedule_loss_probe`.
    pub(crate) fn tcp_write_xmit_new(&mut self, id: SockId, now: Instant, probe: bool) -> bool {
        let mut sent_new = false;
        let mut cwnd_limited = false;
        // An MTU probe goes first when one is due (not for a send of one segment, as a
        // tail loss probe's); one waiting for the windows to drain holds new data back.
        // Linux: tcp_mtu_probe at the top of tcp_write_xmit.
        let mut mtu_probe = None;
        let mut rounds = 4096;
        if probe {
            match self.tcp_mtu_probe_check(id, now) {
                super::mtup::ProbeVerdict::Send(n) => mtu_probe = Some(n),
                super::mtup::ProbeVerdict::Wait => rounds = 0,
                super::mtup::ProbeVerdict::No => {}
            }
        }
        // Bounded: each round sends one segment or stops.
        for _ in 0..rounds {
            if self.tcp_small_queue_check(id) || self.tcp_pacing_check(id, now) {
                break;
            }
            let Ok(sk) = self.sockets.tcp_mut(id) else {
                return false;
            };
            // A passive Fast Open child sends before its handshake completes (Linux:
            // `tcp_passive_fastopen` in `tcp_sendmsg_locked`).
            let tfo_child = sk.state == TcpState::SynReceived && sk.fastopen.passive();
            if (!sk.state.is_synchronized() && !tfo_child) || sk.state == TcpState::TimeWait {
                return false;
            }
            let cwnd = sk.cc.cwnd();
            let off = (sk.snd_nxt - sk.data_seq()).max(0) as usize;
            let avail = sk.sndbuf.len().saturating_sub(off);
            let wnd_end = sk.tcp_wnd_end();
            let wnd_room = (wnd_end - sk.snd_nxt).max(0) as usize;
            let in_flight = sk.tcp_packets_in_flight();
            let cwnd_room = cwnd.saturating_sub(in_flight) as usize;
            // Sized for the options this segment will carry (SACK/D-SACK blocks).
            let mss = sk.current_mss() as usize;
            let goal =
                offload::tcp_xmit_size_goal(sk.route_caps, mss).min(sk.tcp_tso_autosize(mss));
            let mut len = avail.min(goal).min(wnd_room).min(cwnd_room);
            // The SYN's unacknowledged data goes again as one retransmission (neither
            // Nagle nor sender SWS avoidance hold it back).
            let syn_rexmit = sk.fastopen.syn_rexmit_end.filter(|&e| sk.snd_nxt < e);
            if let Some(e) = syn_rexmit {
                len = len.min((e - sk.snd_nxt).max(0) as usize);
            } else {
                sk.fastopen.syn_rexmit_end = None;
            }
            if avail > 0 && cwnd_room < mss.min(avail) {
                cwnd_limited = true;
            }
            if len > mss && len < avail {
                // A super-segment limited by a window carries whole segments only.
                len -= len % mss;
            }
            // A record end (MSG_EOR) ends the segment there.
            while sk.eor_marks.front().is_some_and(|&m| m <= sk.snd_una) {
                sk.eor_marks.pop_front();
            }
            let nxt = sk.snd_nxt;
            let mut at_eor = false;
            if let Some(&m) = sk.eor_marks.iter().find(|&&m| m > nxt) {
                if m - nxt <= len as i32 {
                    len = (m - nxt) as usize;
                    at_eor = true;
                }
            }
            // Nor does one cross the end of an skb, which goes out even if short (Linux:
            // tcp_write_xmit sends skb by skb; Nagle holds only the last).
            let (skb_end, _) = sk.tcp_send_head_skb();
            if skb_end > nxt && skb_end - nxt < len as i32 {
                len = (skb_end - nxt) as usize;
                at_eor = true;
            }
            // The probe: the head of the unsent data merged into one larger segment (its
            // size was checked against the windows and record ends).
            let mtu_probe_len = mtu_probe.take().filter(|&n| n <= avail);
            if let Some(n) = mtu_probe_len {
                len = n;
            }
            let fin_ready =
                sk.fin_seq() == Some(sk.snd_nxt + len) && !sk.fin_sent_at(sk.snd_nxt + len);
            if len == 0 && !(fin_ready && avail == 0) {
                break;
            }
            if len > 0
                && len < mss
                && len < avail
                && !sk.force_push
                && !at_eor
                && syn_rexmit.is_none()
            {
                // Window- or cwnd-limited to a runt: wait (sender SWS avoidance, RFC 9293
                // 3.8.6.2.1) unless it is half the largest window; the persist timer
                // overrides the wait.
                if len < (sk.max_snd_wnd as usize / 2) {
                    break;
                }
            }
            let pushed = std::mem::replace(&mut sk.force_push, false);
            // MSG_MORE holds only within the send that carried it (Linux: tcp_push with
            // TCP_NAGLE_CORK); ACKs later push by the socket's own Nagle setting.
            let held = (sk.cork || (sk.more && sk.in_sendmsg)) && !pushed && !sk.nagle_push;
            if len > 0 && len < mss && len == avail && held && !fin_ready {
                // Corked: partial segments wait for more data or the uncork (Linux:
                // tcp_nagle_test with TCP_NAGLE_CORK).
                break;
            }
            if len > 0
                && len < mss
                && len == avail
                && !sk.nodelay
                && !fin_ready
                && syn_rexmit.is_none()
            {
                // Nagle, Minshall's variant: no small segment while an earlier small one is
                // unacknowledged (Linux: tcp_nagle_check with tcp_minshall_check). A Fast
                // Open child's unacknowledged SYN-ACK is not one.
                if sk.snd_nxt > sk.data_seq()
                    && sk
                        .snd_sml
                        .is_some_and(|s| s > sk.snd_una && s <= sk.snd_nxt)
                {
                    break;
                }
            }
            let seq = sk.snd_nxt;
            let mut flags = TcpFlags::ACK;
            // PSH as Linux's skbs and GSO packets carry it (see super::wqueue): on the last
            // segment of a burst sent as one GSO packet, and where a write's pushed skb ends;
            // also on what the probe timer pushes out (tcp_write_wakeup).
            let rest = avail - len;
            let room = wnd_room.min(cwnd_room).saturating_sub(len);
            let limited = room == 0 || (room < mss && room < rest);
            let (mut psh_kept, mut skb_tail) = (false, true);
            if mtu_probe_len.is_some() {
                psh_kept = sk.tcp_probe_psh(seq, seq + len);
                if psh_kept {
                    flags.insert(TcpFlags::PSH);
                }
                sk.wq.cancel_burst();
            } else if len > 0 {
                let x = sk.tcp_xmit_psh(seq, seq + len, cwnd_room, wnd_room, limited);
                // The end of the Fast Open SYN's data sent again is its pushed skb's end.
                let syn_end = syn_rexmit.is_some_and(|e| seq + len == e);
                if x.psh || pushed || syn_end {
                    flags.insert(TcpFlags::PSH);
                }
                psh_kept = x.psh_kept || pushed || syn_end;
                skb_tail = x.burst_done;
            }
            if fin_ready {
                flags.insert(TcpFlags::FIN);
            }
            let prior_packets = sk.rtx.packets_out();
            let undo = (sk.snd_nxt, sk.snd_max, sk.rtt_seq, sk.prr_out, sk.snd_sml);
            sk.snd_nxt = seq + len + usize::from(fin_ready);
            if sk.snd_nxt > sk.snd_max {
                sk.snd_max = sk.snd_nxt;
            }
            sk.rtx.push(seq, sk.snd_nxt, fin_ready, now);
            sk.rtx.set_tail_flags(psh_kept, skb_tail);
            if len > 0 && len < mss && syn_rexmit.is_none() {
                // Linux: tcp_minshall_update (a partial segment of new data).
                sk.snd_sml = Some(seq + len);
            }
            if syn_rexmit.is_some() {
                // Marked lost, then retransmitted (tcp_rcv_fastopen_synack: tcp_mark_skb_lost,
                // then tcp_retransmit_skb): tp->lost_out and tp->retrans_out, total_retrans,
                // and no RTT sample from it (Karn). Lost again, RACK sends it once more.
                let last = sk.rtx.len().saturating_sub(1);
                if let Some(bits) = sk.rtx.get(last).map(|cb| cb.sacked) {
                    sk.rtx.set_bits(
                        last,
                        bits | TCPCB_LOST | TCPCB_SACKED_RETRANS | TCPCB_EVER_RETRANS,
                    );
                }
                sk.total_retrans += 1;
                self.tcp.stats.retrans_segs += 1;
            } else {
                sk.bytes_sent += len as u64;
            }
            if matches!(sk.ca_state, CaState::Cwr | CaState::Recovery) {
                sk.prr_out += (len + usize::from(fin_ready)) as u32;
            }
            if !sk.ts_ok && sk.rtt_seq.is_none() && len > 0 && syn_rexmit.is_none() {
                sk.rtt_seq = Some((seq, now));
            }
            if fin_ready {
                match sk.state {
                    TcpState::Established => {
                        sk.state = TcpState::FinWait1;
                        self.tcp.stats.curr_estab = self.tcp.stats.curr_estab.saturating_sub(1);
                    }
                    TcpState::CloseWait => {
                        sk.state = TcpState::LastAck;
                        self.tcp.stats.curr_estab = self.tcp.stats.curr_estab.saturating_sub(1);
                    }
                    _ => {}
                }
            }
            // The RTO runs from the first segment of a flight; a pending probe gives way
            // to it (Linux: tcp_event_new_data_sent).
            let rearm = prior_packets == 0 || sk.xmit_timer == XmitTimer::LossProbe;
            sk.mtup.in_xmit = mtu_probe_len.is_some();
            let res = self.tcp_transmit(
                id,
                Seg {
                    seq,
                    flags,
                    data_off: off,
                    data_len: len,
                },
                now,
            );
            let Ok(sk) = self.sockets.tcp_mut(id) else {
                return false;
            };
            sk.mtup.in_xmit = false;
            if res == Err(Errno::ENOBUFS) {
                // The local qdisc refused it (NET_XMIT_DROP): it was not sent. It stays
                // queued, and with nothing in flight the probe timer retries (Linux:
                // tcp_write_xmit stops when tcp_transmit_skb fails, then
                // tcp_check_probe_timer).
                (sk.snd_nxt, sk.snd_max, sk.rtt_seq, sk.prr_out, sk.snd_sml) = undo;
                // Its scoreboard bits (and counts) go with it.
                let last = sk.rtx.len().saturating_sub(1);
                sk.rtx.set_bits(last, 0);
                sk.rtx.unpush();
                if syn_rexmit.is_some() {
                    sk.total_retrans = sk.total_retrans.saturating_sub(1);
                    self.tcp.stats.retrans_segs = self.tcp.stats.retrans_segs.saturating_sub(1);
                } else {
                    sk.bytes_sent -= len as u64;
                }
                sk.wq.cancel_burst();
                sk.local_drop = true;
                break;
            }
            sk.local_drop = false;
            sk.tcp_wq_sent(seq + len);
            sent_new = true;
            // A probe IP refused (too big for this host's own route: EMSGSIZE) is no probe.
            // Linux: tcp_mtu_probe records it only when tcp_transmit_skb succeeded.
            if mtu_probe_len.is_some() && res.is_ok() {
                self.tcp_mtu_probe_sent(id, seq, len);
            }
            if rearm {
                self.tcp_rearm_rto(id, now);
            }
        }
        let Ok(sk) = self.sockets.tcp_mut(id) else {
            return false;
        };
        let cwnd_limited = cwnd_limited || sk.tcp_packets_in_flight() >= sk.cc.cwnd();
        if sent_new || cwnd_limited {
            sk.tcp_cwnd_validate(cwnd_limited);
        }
        if sent_new && probe {
            self.tcp_schedule_loss_probe(id, now, false);
        }
        let Ok(sk) = self.sockets.tcp_mut(id) else {
            return false;
        };
        if !sk.rtx.is_empty() && sk.rto_at.is_none() {
            // Data outstanding always has a timer running.
            self.tcp_rearm_rto(id, now);
        }
        let Ok(sk) = self.sockets.tcp_mut(id) else {
            return false;
        };
        // Zero window with data waiting and nothing in flight: probe (persist timer).
        let waiting = sk.data_end() > sk.snd_nxt || (sk.fin_seq().is_some() && !sk.fin_sent());
        let usable = (sk.tcp_wnd_end() - sk.snd_nxt).max(0) as u32;
        // Corked data with nothing in flight waits at most a probe interval too (Linux: the
        // probe0 timer's tcp_write_wakeup pushes it out).
        // So does data the local qdisc refused: first after an RTO, then every
        // TCP_RESOURCE_PROBE_INTERVAL without backoff (Linux: tcp_check_probe_timer, and
        // tcp_send_probe0 when tcp_write_wakeup failed locally).
        let stuck = usable < sk.mss || sk.cork || sk.more || sk.local_drop;
        if waiting && sk.snd_max == sk.snd_una && stuck {
            if sk.persist_at.is_none() {
                let backoff = match (sk.local_drop, sk.probes) {
                    (true, 0) => sk.rtt.rto(),
                    (true, _) => TCP_RESOURCE_PROBE_INTERVAL,
                    _ => sk.rtt.rto().saturating_mul(1 << sk.probes.min(6)),
                };
                let when =
                    sk.tcp_clamp_probe0_to_user_timeout(backoff.min(Duration::from_secs(120)), now);
                sk.persist_at = Some(now + when);
            }
        } else {
            sk.persist_at = None;
        }
        // tcp_info's chrono: busy while data is queued or in flight, receive-window limited
        // while the peer's window holds back the next segment (Linux: tcp_chrono_start/stop
        // at the end of tcp_write_xmit and when the queues drain).
        let unsent = (sk.data_end() - sk.snd_nxt).max(0) as u32;
        let rwnd_limited = unsent > 0 && usable < sk.mss.min(unsent);
        let chrono = if sk.sndbuf.is_empty() && sk.snd_nxt == sk.snd_una {
            Chrono::Idle
        } else if rwnd_limited {
            Chrono::RwndLimited
        } else {
            Chrono::Busy
        };
        sk.tcp_chrono_set(chrono, now);
        true
    }

    /// Retransmit (the front of) scoreboard record `i`: at most `max_len` bytes (whole
    /// segments; the record is split first if longer), marked RETRANS, its time restamped.
    /// Not beyond the peer's window unless it is the head. It carries PSH when its skb was
    /// pushed, when it is more than one segment, or when `gso_end` says it ends a burst of
    /// records retransmitted as one GSO packet. Returns whether it went out.
    /// Linux: `tcp_retransmit_skb` / `__tcp_retransmit_skb` (→ `__tcp_transmit_skb`).
    pub(crate) fn tcp_retransmit_skb(
        &mut self,
        id: SockId,
        i: usize,
        max_len: usize,
        gso_end: bool,
        now: Instant,
    ) -> bool {
        let Ok(sk) = self.sockets.tcp_mut(id) else {
            return false;
        };
        let Some(&e) = sk.rtx.get(i) else {
            return false;
        };
        let wnd_end = sk.tcp_wnd_end();
        if e.seq >= wnd_end && e.seq != sk.snd_una {
            return false;
        }
        // Sized for the SACK blocks the segment will carry (Linux: tcp_current_mss).
        let mss = sk.current_mss().max(1) as usize;
        let cap = max_len.max(mss);
        if e.len() as usize > cap {
            let at = e.seq + (cap - cap % mss).max(mss);
            sk.rtx.tcp_fragment(i, at);
        }
        let Some(&e) = sk.rtx.get(i) else {
            return false;
        };
        let off = (e.seq - sk.data_seq()).max(0) as usize;
        let data_len = (e.data_len() as usize).min(sk.sndbuf.len().saturating_sub(off));
        let mut flags = TcpFlags::ACK;
        if e.fin {
            flags.insert(TcpFlags::FIN);
        }
        if data_len > 0 && (e.psh || gso_end || data_len > mss) {
            flags.insert(TcpFlags::PSH);
        }
        if data_len == 0 && !e.fin {
            return false;
        }
        let segs = data_len.div_ceil(mss).max(1) as u64;
        sk.rtx
            .set_bits(i, e.sacked | TCPCB_SACKED_RETRANS | TCPCB_EVER_RETRANS);
        if sk.retrans_stamp.is_none() {
            sk.retrans_stamp = Some(tcp_time_stamp(now).wrapping_add(sk.ts_offset));
        }
        // The user timeout runs from when the first retransmitted segment was first sent
        // (Linux: `tp->retrans_stamp` from the skb's timestamp in `__tcp_retransmit_skb`).
        if sk.rto_stamp.is_none() {
            sk.rto_stamp = Some(e.tstamp);
        }
        sk.rtx.stamp(i, now);
        if sk.undo_retrans < 0 {
            sk.undo_retrans = 0;
        }
        sk.undo_retrans += i64::from(e.len());
        sk.rtt_seq = None;
        sk.total_retrans += segs;
        if matches!(sk.ca_state, CaState::Cwr | CaState::Recovery) {
            sk.prr_out += e.len();
        }
        self.tcp.stats.retrans_segs += segs;
        let _ = self.tcp_transmit(
            id,
            Seg {
                seq: e.seq,
                flags,
                data_off: off,
                data_len,
            },
            now,
        );
        // Retransmissions are not OutSegs.
        self.tcp.stats.out_segs = self.tcp.stats.out_segs.wrapping_sub(segs);
        true
    }

    /// Retransmit the records marked lost, oldest first, while the congestion window has
    /// room. Linux: `tcp_xmit_retransmit_queue`.
    pub(crate) fn tcp_xmit_retransmit_queue(&mut self, id: SockId, now: Instant) {
        let mut i = 0;
        let mut rearm = false;
        // Bounded by the queue: each step moves on by one record.
        loop {
            let Ok(sk) = self.sockets.tcp_mut(id) else {
                return;
            };
            if sk.rtx.retrans_out >= sk.rtx.lost_out {
                break;
            }
            let Some(&e) = sk.rtx.get(i) else { break };
            let room = sk.cc.cwnd().saturating_sub(sk.tcp_packets_in_flight());
            if room == 0 {
                break;
            }
            if e.sacked & TCPCB_LOST == 0
                || e.sacked & (TCPCB_SACKED_ACKED | TCPCB_SACKED_RETRANS) != 0
            {
                i += 1;
                continue;
            }
            let loss_state = sk.ca_state == CaState::Loss;
            let head = i == 0;
            let reo = sk.xmit_timer == XmitTimer::ReoTimeout;
            let goal = offload::tcp_xmit_size_goal(sk.route_caps, sk.current_mss() as usize);
            let max_len = (room as usize).min(goal);
            // The burst of records going out as one GSO packet (Linux retransmits an skb of
            // up to `tcp_tso_segs` segments): kept on the socket, as TSQ may stop this loop
            // inside it.
            let e_end = e.end_seq;
            let cur = sk
                .wq
                .rtx_burst
                .filter(|&(s0, e0, _)| s0 <= e.seq && e.seq < e0);
            let (_, b_end, multi) = match cur {
                Some(b) => b,
                None => {
                    let mss = (sk.current_mss() as usize).max(1);
                    let max_segs = (room as usize / mss).max(1).min(sk.tcp_tso_segs(mss));
                    let n = sk.tcp_rtx_burst(i, max_segs).max(1);
                    let b_end = sk.rtx.get(i + n - 1).map_or(e_end, |l| l.end_seq);
                    (e.seq, b_end, n > 1)
                }
            };
            let gso_end = multi && e_end >= b_end;
            if self.tcp_small_queue_check(id)
                || !self.tcp_retransmit_skb(id, i, max_len, gso_end, now)
            {
                break;
            }
            if let Ok(sk) = self.sockets.tcp_mut(id) {
                sk.wq.rtx_burst = (e_end < b_end).then_some((e_end, b_end, multi));
            }
            let segs = self
                .sockets
                .tcp(id)
                .ok()
                .and_then(|sk| sk.rtx.get(i).map(|e| e.len().div_ceil(sk.mss.max(1))))
                .unwrap_or(1) as u64;
            if loss_state {
                self.tcp.stats.slow_start_retrans += segs;
            } else {
                self.tcp.stats.fast_retrans += segs;
            }
            if head && !reo {
                rearm = true;
            }
            i += 1;
        }
        if rearm {
            if let Ok(sk) = self.sockets.tcp_mut(id) {
                sk.rto_at = Some(now + sk.rtt.rto());
                sk.xmit_timer = XmitTimer::Retrans;
            }
        }
    }

    /// Arm the tail loss probe if one is due, else leave the RTO. Returns whether it was
    /// armed. Linux: `tcp_schedule_loss_probe`.
    pub(crate) fn tcp_schedule_loss_probe(
        &mut self,
        id: SockId,
        now: Instant,
        advancing_rto: bool,
    ) -> bool {
        let rto_min = self.config.tcp.rto_min;
        let Ok(sk) = self.sockets.tcp_mut(id) else {
            return false;
        };
        if sk.tlp_high_seq.is_some() {
            return false;
        }
        match sk.tcp_loss_probe_timeout(now, rto_min, advancing_rto) {
            Some(at) => {
                sk.rto_at = Some(at);
                sk.xmit_timer = XmitTimer::LossProbe;
                true
            }
            None => false,
        }
    }

    /// The RTO again, from the oldest segment's last transmission when another event held
    /// the timer. Linux: `tcp_rearm_rto`.
    pub(crate) fn tcp_rearm_rto(&mut self, id: SockId, now: Instant) {
        let Ok(sk) = self.sockets.tcp_mut(id) else {
            return;
        };
        if sk.rtx.is_empty() && sk.snd_max == sk.snd_una {
            sk.rto_at = None;
            sk.xmit_timer = XmitTimer::Retrans;
            return;
        }
        let rto = if matches!(sk.xmit_timer, XmitTimer::ReoTimeout | XmitTimer::LossProbe) {
            sk.tcp_rto_delta(now).max(Duration::from_micros(1))
        } else {
            sk.rtt.rto()
        };
        sk.rto_at = Some(now + rto);
        sk.xmit_timer = XmitTimer::Retrans;
    }

    /// After input or a user call: push out data, and the ACK that is due (at once, or
    /// delayed). Linux: `tcp_data_snd_check` + `__tcp_ack_snd_check`.
    pub(crate) fn tcp_output(&mut self, id: SockId, now: Instant) {
        // The timer entry is re-armed once, below, for both the data and the ACK decision.
        self.tcp_write_xmit_nosched(id, now);
        let delack = self.config.tcp.delack;
        let Ok(sk) = self.sockets.tcp_mut(id) else {
            return;
        };
        if sk.ack_now {
            self.tcp_send_ack(id, now);
        } else if sk.ack_deferred {
            // Goes at the end of the receive batch (tcp_flush_deferred_acks).
        } else if sk.rcv_unacked_segs > 0 && sk.delack_at.is_none() {
            sk.delack_at = Some(now + delack);
        }
        self.tcp_sched(id);
    }
}

impl Stack {
    /// Send the ACKs that in-order data deferred to the end of the receive batch (one per
    /// socket, covering everything it received). Run by [`Stack::poll`] and [`Stack::take_tx`],
    /// so no ACK waits past the batch. Linux: `tcp_release_cb` → `tcp_send_ack` for
    /// `TCP_ACK_DEFERRED`.
    pub(crate) fn tcp_flush_deferred_acks(&mut self, now: Instant) {
        if self.tcp.ack_deferred.is_empty() {
            return;
        }
        let mut list = std::mem::take(&mut self.tcp.ack_deferred);
        for &id in &list {
            let Ok(sk) = self.sockets.tcp_mut(id) else {
                continue;
            };
            if !sk.ack_deferred {
                // Already carried by a later segment, or a stale entry.
                continue;
            }
            sk.ack_deferred = false;
            if sk.state.is_synchronized() && sk.state != TcpState::TimeWait {
                self.tcp_send_ack(id, now);
                self.tcp_sched(id);
            }
        }
        list.clear();
        // Keep the list's capacity: the steady state allocates nothing.
        list.append(&mut self.tcp.ack_deferred);
        self.tcp.ack_deferred = list;
    }
}

impl TcpSock {
    /// SACK blocks that fit a segment's options: three beside timestamps, else four.
    pub fn sack_max_blocks(&self) -> usize {
        if self.md5_signs() {
            // 40 option bytes less the MD5 option's 20: none beside a timestamp.
            return if self.ts_ok { 0 } else { 2 };
        }
        if self.ts_ok {
            3
        } else {
            4
        }
    }

    /// The payload bytes a segment sent now may carry: the MSS (which allows for the
    /// timestamp option) less the SACK and D-SACK blocks the segment will carry, so that a
    /// full segment with blocks never exceeds the path MTU. Linux: `tcp_current_mss`
    /// (`tcp_established_options` against `tcp_header_len`).
    pub fn current_mss(&self) -> u32 {
        if !self.sack_ok {
            return self.mss;
        }
        let n = self.rx_sack.option_blocks(self.sack_max_blocks()) as u32;
        let opt = if n == 0 { 0 } else { 4 + 8 * n };
        self.mss.saturating_sub(opt).max(8)
    }

    /// Whether a FIN at `fin` has already gone out.
    fn fin_sent_at(&self, fin: SeqNumber) -> bool {
        self.snd_max > fin && self.snd_nxt > fin
    }
}
