//! TCP input: from a validated segment to socket state, following RFC 9293 section 3.10.7.
//!
//! Linux: net/ipv4/tcp_ipv4.c (`tcp_v4_rcv`, `tcp_v4_conn_request`), tcp_input.c
//! (`tcp_rcv_state_process`, `tcp_rcv_synsent_state_process`, `tcp_validate_incoming`,
//! `tcp_ack`, `tcp_data_queue`, `tcp_fin`), tcp_minisocks.c (`tcp_check_req`,
//! `tcp_timewait_state_process`).

use super::fastretrans::{AckFlag, CaState, Rexmit, XmitTimer};
use super::output::tcp_time_stamp;
use super::rtx_queue::{tcp_pcount, TCPCB_SACKED_ACKED};
use super::sock::{RxDst, TcpSock, TcpState};
use crate::buf::PacketBuf;
use crate::core::sock::SockId;
use crate::errno::Errno;
use crate::ip::IpMeta;
use crate::stack::Stack;
use crate::stats::DropReason;
use crate::time::Instant;
use crate::trace::{Detail, Stage};
use crate::transport::Socket;
use crate::wire::tcp::{SeqNumber, TcpFlags, TcpPacket, TcpRepr};
use crate::wire::WireError;
use std::net::{SocketAddr, SocketAddrV4};
use std::time::Duration;

/// PAWS: TS.Recent older than this is no longer trusted (RFC 7323 5.5: 24 days).
const PAWS_IDLE: Duration = Duration::from_secs(24 * 24 * 3600);

/// Most sockets with an ACK deferred to the end of a receive batch; beyond it ACKs go at once.
const ACK_DEFER_MAX: usize = 4096;

/// Most segments quick-ACK mode answers at once. Linux: `TCP_MAX_QUICKACKS`.
const TCP_MAX_QUICKACKS: u32 = 16;
/// Longest an ACK is delayed. Linux: `TCP_DELACK_MAX`.
const TCP_DELACK_MAX: Duration = Duration::from_millis(200);

/// What the caller of a segment handler should do with the socket afterwards.
enum After {
    /// Run output (data, due ACKs).
    Output,
    /// Nothing more.
    Nothing,
    /// The connection is gone (TIME-WAIT reuse): hand the segment to the listener.
    Relisten,
}

impl Stack {
    /// Receive a TCP segment (data at the TCP header). Linux: `tcp_v4_rcv`.
    pub(crate) fn tcp_v4_rcv(&mut self, mut buf: PacketBuf, ip: &IpMeta, now: Instant) {
        self.tcp.stats.in_segs += 1;
        if ip.broadcast {
            return self.drop_pkt(buf, DropReason::IpNotForUs);
        }
        // A checksum the local kernel left partial, or a device verified, is not checked again.
        let verify = buf.meta.csum == crate::buf::CsumState::None;
        // The header length read once, here, rather than carried out of the parse with the
        // segment (a copy of the whole TcpRepr).
        let (parsed, hlen) = match TcpPacket::new_checked(buf.data()) {
            Ok(p) => (TcpRepr::parse(&p, ip.src, ip.dst, verify), p.header_len()),
            Err(e) => (Err(e), 0),
        };
        let seg = match parsed {
            Ok(v) => v,
            Err(WireError::Checksum) => {
                self.tcp.stats.in_csum_errors += 1;
                self.tcp.stats.in_errs += 1;
                return self.drop_pkt(buf, DropReason::TcpCsum);
            }
            Err(_) => {
                self.tcp.stats.in_errs += 1;
                return self.drop_pkt(buf, DropReason::TcpHdr);
            }
        };
        let hlen = hlen as usize;
        // What an RFC 2385 signature check needs of the header, before it is pulled.
        let rx_md5 = super::md5sig::RxMd5::from_header(&buf.data()[..hlen]);
        let urg_ptr = if seg.flags.contains(TcpFlags::URG) {
            let d = buf.data();
            Some(u16::from_be_bytes([d[18], d[19]]))
        } else {
            None
        };
        buf.pull(hlen);
        buf.trim(seg.payload_len);
        let local = SocketAddr::V4(SocketAddrV4::new(ip.dst, seg.dst_port));
        let remote = SocketAddr::V4(SocketAddrV4::new(ip.src, seg.src_port));
        // Early demux already found the connection by this same 4-tuple (Linux:
        // `skb_steal_sock`).
        let found = match buf.meta.sk.take() {
            Some(id) => Some(id),
            None => self.tcp_lookup_established(local, remote),
        };
        if let Some(id) = found {
            if let Err(r) =
                self.tcp_inbound_md5_hash(id, ip.src, ip.dst, rx_md5.as_ref(), buf.data())
            {
                return self.drop_pkt(buf, r);
            }
            if urg_ptr.is_some() || self.sockets.tcp(id).is_ok_and(|s| s.urg.is_some()) {
                self.tcp_urg(id, seg.seq_number, urg_ptr, buf.data());
            }
            self.trace(&buf, Stage::TcpV4Rcv, Detail::Note("established socket"));
            self.trace_enter(&buf);
            self.tcp_ecn_check_ce(id, ip.tos, &seg);
            let mut slot = Some(buf);
            let relisten = self.tcp_rcv(id, &seg, &mut slot, now);
            self.trace_leave();
            // The fast path may have queued the buffer itself on the socket.
            let Some(b) = slot else { return };
            buf = b;
            if !relisten {
                return self.recycle(buf);
            }
            // A SYN that ended a TIME-WAIT connection opens a new one through the listener.
        }
        if let Some(l) = self.tcp_lookup_listener(local) {
            if let Err(r) =
                self.tcp_inbound_md5_hash(l, ip.src, ip.dst, rx_md5.as_ref(), buf.data())
            {
                return self.drop_pkt(buf, r);
            }
            self.trace(&buf, Stage::TcpV4Rcv, Detail::Note("listener"));
            self.trace_enter(&buf);
            self.tcp_listen_rcv(l, ip, &seg, buf.data(), now);
            self.trace_leave();
            return self.recycle(buf);
        }
        self.trace(&buf, Stage::TcpV4Rcv, Detail::Note("no socket"));
        self.tcp_v4_send_reset(ip.src, ip.dst, &seg, now);
        self.drop_pkt(buf, DropReason::NoSocket)
    }

    /// The connection a received datagram (network header at the data start, validated by
    /// `ip_rcv`) is a segment of, with the input route its socket remembers. Only whole
    /// datagrams with room for the ports are looked at. Linux: `tcp_v4_early_demux`.
    pub(crate) fn tcp_v4_early_demux(&self, buf: &PacketBuf) -> Option<(SockId, Option<RxDst>)> {
        let pkt = crate::wire::Ipv4Packet::new_unchecked(buf.data());
        if pkt.protocol() != crate::wire::IpProtocol::TCP || pkt.is_fragment() {
            return None;
        }
        let ihl = pkt.header_len();
        let ports = buf.data().get(ihl..ihl + 4)?;
        let local = SocketAddr::V4(SocketAddrV4::new(
            pkt.dst_addr(),
            u16::from_be_bytes([ports[2], ports[3]]),
        ));
        let remote = SocketAddr::V4(SocketAddrV4::new(
            pkt.src_addr(),
            u16::from_be_bytes([ports[0], ports[1]]),
        ));
        let id = self.tcp_lookup_established(local, remote)?;
        let sk = self.sockets.tcp(id).ok()?;
        Some((id, sk.rx_dst))
    }

    /// Remember that segments of `id` arriving with this (route generation, interface,
    /// mark) are delivered locally. Linux: `inet_sk_rx_dst_set`.
    pub(crate) fn tcp_set_rx_dst(&mut self, id: SockId, key: RxDst) {
        if let Ok(sk) = self.sockets.tcp_mut(id) {
            sk.rx_dst = Some(key);
        }
    }

    /// A segment for a connection. Linux: `tcp_v4_do_rcv` → `tcp_rcv_state_process`.
    /// Returns true when the segment must go on to the listener (TIME-WAIT reuse). `slot`
    /// holds the buffer, its data the payload; the fast path may take it to queue it on the
    /// socket (then `slot` is left empty).
    fn tcp_rcv(
        &mut self,
        id: SockId,
        seg: &TcpRepr,
        slot: &mut Option<PacketBuf>,
        now: Instant,
    ) -> bool {
        let Ok(sk) = self.sockets.tcp_mut(id) else {
            return false;
        };
        let Some(payload) = slot.as_ref() else {
            return false;
        };
        sk.last_rcv = now;
        let before = sk.state;
        // The receiver's RTT, for receive buffer autotuning, from full-sized data segments.
        if before == TcpState::Established && sk.ts_ok && payload.len() >= sk.mss as usize {
            if let Some((_, ecr)) = seg.timestamp {
                sk.rcv_rtt_measure_ts(ecr, now);
            }
        }
        self.trace_tcp_rcv(before, seg.flags.0);
        let fast = if before == TcpState::Established {
            self.tcp_rcv_established_fast(id, seg, slot, now)
        } else {
            None
        };
        let after = match (before, slot.as_ref()) {
            _ if fast.is_some() => After::Output,
            (TcpState::SynSent, Some(payload)) => {
                self.tcp_rcv_synsent(id, seg, payload.data(), now)
            }
            (TcpState::Closed | TcpState::Listen, _) | (_, None) => After::Nothing,
            (_, Some(payload)) => self.tcp_rcv_synchronized(id, seg, payload.data(), now),
        };
        self.trace_tcp_state_after(before, id);
        match after {
            // tcp_output re-arms the socket's timer entry itself.
            After::Output => self.tcp_output(id, now),
            After::Relisten => return true,
            After::Nothing => self.tcp_sched(id),
        }
        false
    }

    /// Header prediction: the fast path for the common segment of an established connection,
    /// the next in-order one carrying only ACK (and PSH), acknowledging nothing beyond what
    /// was sent, with a timestamp no older than TS.Recent, no SACK blocks, and either data
    /// that fits the window or an ACK of new data, while nothing is out of order and no loss
    /// recovery runs. Such a segment needs none of the RFC 9293 3.10.7.4 checks beyond these,
    /// so it goes straight to `tcp_ack` and the in-order receive queue. Returns `None` when
    /// the prediction fails: the caller then takes the full path, which handles every case.
    /// The buffer in `slot` itself is queued (zero-copy) while the bound on held buffers
    /// allows (see [`TcpSock::rx_skb_fits`]); otherwise the payload is copied into the ring.
    /// Linux: the fast path of `tcp_rcv_established` (`pred_flags`, counted as `TCPHPHits`
    /// and `TCPHPAcks`), with `tcp_queue_rcv`.
    fn tcp_rcv_established_fast(
        &mut self,
        id: SockId,
        seg: &TcpRepr,
        slot: &mut Option<PacketBuf>,
        now: Instant,
    ) -> Option<After> {
        let sk = self.sockets.tcp_mut(id).ok()?;
        let payload = slot.as_ref()?.data();
        if seg.flags.0 & !(TcpFlags::ACK.0 | TcpFlags::PSH.0) != 0 {
            return None;
        }
        let ack = seg.ack_number?;
        if sk.state != TcpState::Established
            || seg.seq_number != sk.rcv_nxt
            || ack < sk.snd_una
            || ack > sk.snd_max
            || sk.orphan
            || sk.ca_state != CaState::Open
            || !sk.ofo.is_empty()
            || seg.sack_ranges[0].is_some()
        {
            return None;
        }
        // PAWS passes trivially for a timestamp not older than TS.Recent.
        match (sk.ts_ok, seg.timestamp) {
            (true, Some((tsval, _))) if (tsval.wrapping_sub(sk.ts_recent) as i32) >= 0 => {}
            (false, None) => {}
            _ => return None,
        }
        let len = payload.len();
        if len == 0 {
            // Duplicate ACKs (and pure window updates) take the full path.
            if ack == sk.snd_una {
                return None;
            }
        } else {
            let wnd = (sk.rcv_adv - sk.rcv_nxt).max(0) as usize;
            if len > wnd || len > sk.rcv_space() {
                return None;
            }
        }
        // RFC 7323 4.3: TS.Recent from an in-order segment, as on the full path.
        if let Some((tsval, _)) = seg.timestamp {
            if seg.seq_number <= sk.last_ack_sent {
                sk.ts_recent = tsval;
                sk.ts_recent_stamp = now;
            }
        }
        if len == 0 {
            self.tcp.stats.hp_acks += 1;
            self.tcp_ack(id, seg, 0, now);
            return Some(After::Output);
        }
        self.tcp.stats.hp_hits += 1;
        self.tcp_ack(id, seg, len, now);
        // In-order data with nothing out of order: straight onto the receive queue
        // (Linux: tcp_queue_rcv), then the ACK decision of tcp_data_queue. The buffer itself
        // while the socket's bound on held buffers allows, else a copy into the ring.
        let sk = self.sockets.tcp_mut(id).ok()?;
        let n = match slot.take() {
            Some(b) if sk.rx_skb_fits(b.capacity()) => match sk.rx_skb_queue(b) {
                Ok(n) => n,
                Err(b) => {
                    *slot = Some(b);
                    0
                }
            },
            Some(b) => {
                let n = sk.rcv_queue_copy(b.data());
                *slot = Some(b);
                n
            }
            None => 0,
        };
        sk.rcv_nxt += n;
        sk.bytes_received += n as u64;
        sk.tcp_event_data_recv(now, n);
        sk.tcp_measure_rcv_psh(seg.flags.contains(TcpFlags::PSH));
        // A GRO/GSO super-segment counts as the MSS-sized segments it stands for.
        sk.rcv_unacked_segs += (len as u32).div_ceil(sk.mss.max(1)).max(1);
        // (Interactive mode leaves the ACK to the answer: Linux's tcp_in_quickack_mode.)
        let quick = sk.quickack > 0 && !sk.pingpong;
        let want_ack = sk.rcv_unacked_segs >= 2;
        if quick {
            // Quick-ACK mode: this segment's own ACK, at once, not one for the whole receive
            // batch, so that a sender in slow start is clocked per segment and one lost ACK
            // does not stall its whole flight. Linux: `__tcp_ack_snd_check` →
            // `tcp_send_ack` from the softirq (deferral only while a user holds the socket).
            sk.quickack -= 1;
            sk.ack_now = true;
        } else if want_ack {
            self.tcp_ack_defer(id);
        }
        self.trace_cur(Stage::TcpDataQueue, Detail::Num("bytes", n as u64));
        self.sk_wake(id);
        Some(After::Output)
    }

    /// The rest of a segment that just made a connection out of a listener's state (the
    /// ACK completing a SYN-cookie handshake): its data and FIN are processed as on any
    /// established connection, queued and acknowledged. Linux: `tcp_child_process`.
    pub(super) fn tcp_child_process(
        &mut self,
        id: SockId,
        seg: &TcpRepr,
        payload: &[u8],
        now: Instant,
    ) {
        match self.tcp_rcv_synchronized(id, seg, payload, now) {
            After::Output => self.tcp_output(id, now),
            After::Nothing | After::Relisten => self.tcp_sched(id),
        }
    }

    /// Adopt the options of the peer's SYN. Linux: `tcp_parse_options` + the negotiation in
    /// `tcp_rcv_synsent_state_process` / `tcp_openreq_init`.
    pub(crate) fn tcp_negotiate(&self, sk: &mut TcpSock, seg: &TcpRepr, now: Instant) {
        let cfg = &self.config.tcp;
        sk.ts_ok = sk.ts_ok && cfg.timestamps && seg.timestamp.is_some();
        sk.sack_ok = sk.sack_ok && cfg.sack && seg.sack_permitted;
        if sk.ws_ok && cfg.window_scaling && seg.window_scale.is_some() {
            sk.snd_wscale = seg.window_scale.unwrap_or(0).min(14);
        } else {
            sk.ws_ok = false;
            sk.snd_wscale = 0;
            sk.rcv_wscale = 0;
        }
        if let Some((tsval, _)) = seg.timestamp {
            sk.ts_recent = tsval;
            sk.ts_recent_stamp = now;
        }
        // The peer's MSS (536 without the option), within TCP_MAXSEG. Linux:
        // tcp_parse_options' mss_clamp.
        let peer_mss = u32::from(seg.max_seg_size.unwrap_or(536));
        sk.mss_clamp = match sk.user_mss {
            0 => peer_mss,
            u => peer_mss.min(u),
        };
        // Sized for the route's MTU, a path MTU learnt earlier included (Linux:
        // tcp_sync_mss with dst_mtu in tcp_v4_syn_recv_sock and at connect).
        let pmtu = self.tcp_dst_mtu(sk.inet_daddr(), sk.adv_mss as usize + 40, now);
        sk.tcp_sync_mss(pmtu);
        sk.snd_wnd = seg.window_len as u32;
        sk.max_snd_wnd = sk.snd_wnd;
        sk.snd_wl1 = seg.seq_number;
        sk.snd_wl2 = seg.ack_number.unwrap_or(sk.iss);
    }

    /// SYN-SENT. Linux: `tcp_rcv_synsent_state_process`.
    fn tcp_rcv_synsent(
        &mut self,
        id: SockId,
        seg: &TcpRepr,
        payload: &[u8],
        now: Instant,
    ) -> After {
        let Ok(sk) = self.sockets.tcp_mut(id) else {
            return After::Nothing;
        };
        let (iss, snd_max) = (sk.iss, sk.snd_max);
        if let Some(ack) = seg.ack_number {
            if ack <= iss || ack > snd_max {
                if !seg.flags.contains(TcpFlags::RST) {
                    let (l, r) = (sk.inet_saddr(), sk.inet_daddr());
                    self.tcp_v4_send_reset(r, l, seg, now);
                }
                self.count_drop(DropReason::TcpAckUnsent);
                return After::Nothing;
            }
        }
        // A SYN-ACK echoing a timestamp from before our SYN, or from the future, is not for
        // this connection: reset it, keep waiting (RFC 7323 5.5; Linux: PAWSActive).
        if let (Some(_), false, Some(sent), Some((_, ecr))) = (
            seg.ack_number,
            seg.flags.contains(TcpFlags::RST),
            sk.syn_tsval,
            seg.timestamp,
        ) {
            let now_ts = tcp_time_stamp(now).wrapping_add(sk.ts_offset);
            let in_range =
                (ecr.wrapping_sub(sent) as i32) >= 0 && (now_ts.wrapping_sub(ecr) as i32) >= 0;
            if ecr != 0 && !in_range {
                let (l, r) = (sk.inet_saddr(), sk.inet_daddr());
                self.tcp.stats.paws_active_rejected += 1;
                self.tcp_v4_send_reset(r, l, seg, now);
                self.count_drop(DropReason::TcpRfc7323Paws);
                return After::Nothing;
            }
        }
        if seg.flags.contains(TcpFlags::RST) {
            if seg.ack_number.is_some() {
                self.tcp.stats.attempt_fails += 1;
                self.tcp_reset(id, Errno::ECONNREFUSED);
            } else {
                self.count_drop(DropReason::TcpReset);
            }
            return After::Nothing;
        }
        if !seg.flags.contains(TcpFlags::SYN) {
            self.count_drop(DropReason::TcpFlags);
            return After::Nothing;
        }
        let mut sk_box = match self.sockets.get_mut(id) {
            Ok(e) => match &mut e.sock {
                Socket::Tcp(t) => {
                    std::mem::replace(t, Box::new(TcpSock::new(&self.config.tcp, 0, 0)))
                }
                _ => return After::Nothing,
            },
            Err(_) => return After::Nothing,
        };
        let sk = &mut *sk_box;
        self.tcp_negotiate(sk, seg, now);
        sk.irs = seg.seq_number;
        sk.rcv_nxt = seg.seq_number + 1;
        // Our SYN offered an unscaled window of up to 64 KiB.
        sk.rcv_adv = sk.rcv_nxt + (sk.rcv_space().min(0xffff));
        let mut syn_acked = 0;
        let established = if let Some(ack) = seg.ack_number {
            // Data a Fast Open SYN carried and the SYN-ACK covers leaves the send queue.
            syn_acked = ((ack - (sk.iss + 1)).max(0) as usize).min(sk.sndbuf.len());
            if syn_acked > 0 {
                sk.sndbuf.dequeue_allocated(syn_acked);
                sk.bytes_acked += syn_acked as u64;
            }
            super::ecn::tcp_ecn_rcv_synack(sk, seg);
            sk.snd_una = ack;
            if sk.snd_nxt < ack {
                sk.snd_nxt = ack;
            }
            // The SYN (with the data it carried: one segment) was delivered. Linux: its
            // skb's pcount in tcp_clean_rtx_queue.
            sk.delivered_segs = sk.delivered_segs.wrapping_add(1);
            sk.state = TcpState::Established;
            sk.rto_at = None;
            sk.retransmits = 0;
            sk.rto_stamp = None;
            sk.syn_retries = 0;
            if !sk.ts_ok {
                // RTT of the handshake (Karn: only if the SYN was not retransmitted).
                if let Some((_, t)) = sk.rtt_seq.take() {
                    sk.rtt.sample(now.saturating_since(t));
                }
            } else if let Some((_, ecr)) = seg.timestamp {
                let rtt = tcp_time_stamp(now)
                    .wrapping_add(sk.ts_offset)
                    .wrapping_sub(ecr);
                if rtt < 60_000 {
                    sk.rtt.sample(Duration::from_millis(rtt as u64));
                }
            }
            sk.rtt_seq = None;
            if sk.write_pending > 0 || sk.pingpong {
                // Save one ACK: the data the waiting writer sends carries it, or the
                // delayed-ACK timer sends it. Linux: tcp_rcv_synsent_state_process
                // (sk_write_pending: inet_csk_schedule_ack + tcp_enter_quickack_mode +
                // ICSK_TIME_DACK of TCP_DELACK_MAX).
                sk.tcp_enter_quickack_mode(TCP_MAX_QUICKACKS);
                sk.rcv_unacked_segs = sk.rcv_unacked_segs.max(1);
                sk.delack_at = Some(now + TCP_DELACK_MAX);
            } else {
                sk.ack_now = true;
            }
            true
        } else {
            // Simultaneous open (RFC 9293 3.5, figure 8).
            super::ecn::tcp_ecn_rcv_syn(sk, seg);
            sk.state = TcpState::SynReceived;
            false
        };
        if sk.keepalive {
            sk.keepalive_at = Some(now + sk.keep_idle);
        }
        if established
            && (sk.fastopen.syn_fastopen || sk.fastopen.syn_data > 0)
            && !self.tcp_rcv_fastopen_synack(sk, seg, syn_acked as u32, now)
        {
            // A Fast Open SYN-ACK may bring data (and a FIN).
            super::fastopen::tcp_fastopen_add_synack_data(sk, seg, payload);
        }
        if let Ok(Socket::Tcp(t)) = self.sockets.get_mut(id).map(|e| &mut e.sock) {
            *t = sk_box;
        }
        if established {
            self.tcp_init_transfer(id, true, now);
            self.tcp.stats.curr_estab += 1;
            self.trace_tcp_state(TcpState::SynSent, TcpState::Established);
            self.sk_wake(id);
            After::Output
        } else {
            // The SYN-ACK of a simultaneous open goes without our SYN's data (Linux:
            // tcp_send_synack from the SYN skb); the data stays outstanding behind it.
            self.tcp_send_syn(id, now);
            if let Ok(sk) = self.sockets.tcp_mut(id) {
                let d = sk.fastopen.syn_data as usize;
                if d > 0 && sk.rtx.is_empty() {
                    let start = sk.iss + 1;
                    sk.rtx.push(start, start + d, false, now);
                }
            }
            After::Nothing
        }
    }

    /// Every state after SYN-SENT. RFC 9293 3.10.7.4; Linux: `tcp_rcv_state_process` with
    /// `tcp_validate_incoming`, `tcp_ack`, `tcp_data_queue` and `tcp_fin`.
    fn tcp_rcv_synchronized(
        &mut self,
        id: SockId,
        seg: &TcpRepr,
        payload: &[u8],
        now: Instant,
    ) -> After {
        let Ok(sk) = self.sockets.tcp_mut(id) else {
            return After::Nothing;
        };
        let rst = seg.flags.contains(TcpFlags::RST);
        let syn = seg.flags.contains(TcpFlags::SYN);
        let fin = seg.flags.contains(TcpFlags::FIN);

        // TIME-WAIT: a new SYN may reopen (Linux: tcp_timewait_state_process).
        if sk.state == TcpState::TimeWait && syn && !rst && seg.ack_number.is_none() {
            let newer = seg.seq_number > sk.rcv_nxt
                || matches!((sk.ts_ok, seg.timestamp), (true, Some((tsval, _))) if (tsval.wrapping_sub(sk.ts_recent) as i32) > 0);
            if newer {
                // Linux: TCP_TW_SYN — the TIME-WAIT socket goes, the listener takes the SYN.
                self.tcp_done(id);
                return After::Relisten;
            }
        }

        // PAWS (RFC 7323 5.3).
        if sk.ts_ok && !rst {
            if let Some((tsval, _)) = seg.timestamp {
                let older = (tsval.wrapping_sub(sk.ts_recent) as i32) < 0;
                // Often the late original of a segment whose retransmission overtook it: the
                // duplicate ACK says so in a D-SACK block. A duplicate ACK overtaken by a
                // later one passes (tcp_disordered_ack).
                if older
                    && now.saturating_since(sk.ts_recent_stamp) < PAWS_IDLE
                    && !sk.tcp_disordered_ack(seg, tsval)
                {
                    self.tcp.stats.paws_estab_rejected += 1;
                    self.tcp_send_dupack(id, seg, payload.len());
                    self.count_drop(DropReason::TcpRfc7323Paws);
                    return After::Output;
                }
            }
        }

        // A retransmitted SYN in SYN-RECEIVED (it lies before rcv_nxt, so the window test
        // below would only re-ACK it) gets the SYN-ACK again: our SYN-ACK was lost. Linux:
        // `tcp_check_req` → `inet_rtx_syn_ack`.
        if syn
            && !rst
            && seg.ack_number.is_none()
            && sk.state == TcpState::SynReceived
            && seg.seq_number == sk.irs
        {
            self.tcp_send_syn(id, now);
            return After::Nothing;
        }

        // 1. Sequence number acceptability (RFC 9293 table in 3.10.7.4).
        let seg_len = seg.segment_len();
        let wnd = (sk.rcv_adv - sk.rcv_nxt).max(0) as usize;
        let seq = seg.seq_number;
        let in_window = |s: SeqNumber| s >= sk.rcv_nxt && s < sk.rcv_nxt + wnd;
        let acceptable = match (seg_len, wnd) {
            (0, 0) => seq == sk.rcv_nxt,
            (0, _) => in_window(seq),
            (_, 0) => false,
            (n, _) => in_window(seq) || in_window(seq + (n - 1)),
        };
        // A zero window still takes the ACK of a segment at rcv_nxt (RFC 9293 "special
        // allowance"), but not its data.
        let ack_only_ok = !acceptable && wnd == 0 && seq == sk.rcv_nxt;
        if !acceptable && !ack_only_ok {
            if !rst {
                // Old duplicate or out of window: re-ACK (RFC 9293).
                if seg_len > 0 && seq + seg_len <= sk.rcv_nxt {
                    self.tcp.stats.dup_segs += 1;
                }
                self.tcp_send_dupack(id, seg, payload.len());
                self.count_drop(DropReason::TcpInvalidSequence);
                return After::Output;
            }
            self.count_drop(DropReason::TcpInvalidSequence);
            return After::Nothing;
        }

        // 2. RST (RFC 5961 3.2: exact match resets, in-window gets a challenge ACK).
        if rst {
            if seq == sk.rcv_nxt {
                let err = match sk.state {
                    // An accepted-early Fast Open child has a user: it sees the reset.
                    TcpState::SynReceived if sk.fastopen.passive() => Some(Errno::ECONNRESET),
                    TcpState::SynReceived if sk.parent.is_some() => None,
                    TcpState::SynReceived => Some(Errno::ECONNREFUSED),
                    TcpState::Established
                    | TcpState::FinWait1
                    | TcpState::FinWait2
                    | TcpState::CloseWait => Some(Errno::ECONNRESET),
                    _ => None,
                };
                match sk.state {
                    TcpState::SynReceived => self.tcp.stats.attempt_fails += 1,
                    TcpState::Established | TcpState::CloseWait => self.tcp.stats.estab_resets += 1,
                    _ => {}
                }
                match err {
                    Some(e) => self.tcp_reset(id, e),
                    None => self.tcp_done(id),
                }
                return After::Nothing;
            }
            self.tcp_challenge_ack(id, now);
            self.count_drop(DropReason::TcpReset);
            return After::Nothing;
        }

        // 4. SYN in a synchronized state: challenge ACK (RFC 5961 4.2). (A retransmitted SYN
        // in SYN-RECEIVED got the SYN-ACK again above.)
        if syn {
            self.tcp.stats.syn_challenges += 1;
            self.tcp_challenge_ack(id, now);
            self.count_drop(DropReason::TcpFlags);
            return After::Nothing;
        }

        // 5. ACK.
        let Some(ack) = seg.ack_number else {
            self.count_drop(DropReason::TcpFlags);
            return After::Nothing;
        };
        if sk.state == TcpState::SynReceived {
            if ack <= sk.snd_una || ack > sk.snd_max {
                let (l, r) = (sk.inet_saddr(), sk.inet_daddr());
                self.tcp_v4_send_reset(r, l, seg, now);
                return After::Nothing;
            }
            if !self.tcp_synrecv_established(id, seg, now) {
                return After::Nothing;
            }
        }
        let Ok(sk) = self.sockets.tcp_mut(id) else {
            return After::Nothing;
        };
        // ACKs of data never sent are dropped silently (Linux: tcp_ack's
        // TCP_ACK_UNSENT_DATA, RFC 793 3.9); very old ones are answered and dropped
        // (RFC 5961 5.2, below).
        if ack > sk.snd_max {
            self.count_drop(DropReason::TcpAckUnsent);
            return After::Nothing;
        }
        let oldest_ok = sk.snd_una - (sk.max_snd_wnd as usize).max(65535);
        if ack < oldest_ok {
            sk.ack_now = true;
            self.count_drop(DropReason::TcpAckUnsent);
            return After::Output;
        }
        // RFC 7323 4.3: update TS.Recent from in-order segments.
        if let Some((tsval, _)) = seg.timestamp {
            if sk.ts_ok && seq <= sk.last_ack_sent && (tsval.wrapping_sub(sk.ts_recent) as i32) >= 0
            {
                sk.ts_recent = tsval;
                sk.ts_recent_stamp = now;
            }
        }
        self.tcp_ack(id, seg, payload.len(), now);

        // State transitions driven by the ACK of our FIN.
        let Ok(sk) = self.sockets.tcp_mut(id) else {
            return After::Nothing;
        };
        if sk.fin_acked() {
            match sk.state {
                TcpState::FinWait1 => {
                    sk.state = TcpState::FinWait2;
                    if sk.orphan {
                        sk.tw_at = Some(now + self.config.tcp.fin_timeout);
                    }
                    self.sk_wake(id);
                }
                TcpState::Closing => {
                    self.tcp_time_wait(id, now);
                    return After::Nothing;
                }
                TcpState::LastAck => {
                    self.tcp_done(id);
                    return After::Nothing;
                }
                _ => {}
            }
        }
        let Ok(sk) = self.sockets.tcp_mut(id) else {
            return After::Nothing;
        };
        if sk.state == TcpState::TimeWait {
            // A retransmitted FIN: ACK it and restart the 2*MSL timer.
            if fin {
                sk.ack_now = true;
                sk.tw_at = Some(now + self.config.tcp.time_wait);
                return After::Output;
            }
            return After::Nothing;
        }

        // 7. Data.
        if !payload.is_empty() && ack_only_ok {
            sk.ack_now = true;
        }
        if !payload.is_empty() && !ack_only_ok {
            if !sk.state.can_receive() {
                // CLOSE-WAIT, CLOSING, LAST-ACK: the peer already sent its FIN.
                return After::Output;
            }
            if sk.orphan && sk.fin_seq().is_some() && seq + payload.len() > sk.rcv_nxt {
                // Nobody will ever read it: abort, and answer the segment with a reset
                // built from it (Linux: TCPAbortOnData, tcp_reset, then tcp_v4_do_rcv's
                // tcp_v4_send_reset: seq from its ACK, no ACK flag).
                self.tcp.stats.abort_on_data += 1;
                let (remote, local) = (sk.inet_daddr(), sk.inet_saddr());
                self.tcp_done(id);
                self.tcp_v4_send_reset(remote, local, seg, now);
                return After::Nothing;
            }
            let psh = seg.flags.contains(TcpFlags::PSH);
            self.tcp_data_queue(id, seq, payload, psh, now);
        }

        // 8. FIN, once everything before it has arrived.
        let Ok(sk) = self.sockets.tcp_mut(id) else {
            return After::Nothing;
        };
        if fin && !ack_only_ok && seq + payload.len() == sk.rcv_nxt && !sk.fin_rcvd {
            sk.fin_rcvd = true;
            sk.rcv_nxt += 1;
            sk.ack_now = true;
            match sk.state {
                TcpState::SynReceived | TcpState::Established => sk.state = TcpState::CloseWait,
                TcpState::FinWait1 => {
                    if sk.fin_acked() {
                        self.tcp_send_ack(id, now);
                        self.tcp_time_wait(id, now);
                        return After::Nothing;
                    }
                    sk.state = TcpState::Closing;
                }
                TcpState::FinWait2 => {
                    self.tcp_send_ack(id, now);
                    self.tcp_time_wait(id, now);
                    return After::Nothing;
                }
                _ => {}
            }
            self.sk_wake(id);
        }
        After::Output
    }

    /// An ICMP error quoting one of our segments. A hard error ends a connection attempt
    /// (SYN-SENT); for an established connection it is only a soft error (Linux keeps it in
    /// `sk_err_soft` and retransmission carries on). The quoted sequence number must lie in
    /// the send window (RFC 5927 4.1). "Fragmentation needed" (RFC 1191, `info` the next-hop
    /// MTU) goes to [`Stack::tcp_v4_mtu_reduced`]. Linux: `tcp_v4_err`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn tcp_v4_err(
        &mut self,
        src: std::net::Ipv4Addr,
        dst: std::net::Ipv4Addr,
        l4: &[u8],
        msg_type: u8,
        code: u8,
        info: u32,
        err: Option<Errno>,
        now: Instant,
    ) {
        if l4.len() < 8 {
            return;
        }
        let sport = u16::from_be_bytes([l4[0], l4[1]]);
        let dport = u16::from_be_bytes([l4[2], l4[3]]);
        let seq = SeqNumber(u32::from_be_bytes([l4[4], l4[5], l4[6], l4[7]]));
        let local = SocketAddr::V4(SocketAddrV4::new(src, sport));
        let remote = SocketAddr::V4(SocketAddrV4::new(dst, dport));
        let Some(id) = self.tcp_lookup_established(local, remote) else {
            return;
        };
        let Ok(sk) = self.sockets.tcp_mut(id) else {
            return;
        };
        // Only errors about what is in flight count (RFC 5927 section 4.1); a request not
        // yet accepted has sent only its SYN-ACK (Linux: tcp_req_err checks snt_isn).
        let request = sk.state == TcpState::SynReceived && !sk.fastopen.passive();
        let in_window = if request {
            seq == sk.iss
        } else {
            seq >= sk.snd_una && seq <= sk.snd_max
        };
        if !in_window {
            self.tcp.stats.out_of_window_icmps += 1;
            return;
        }
        if msg_type == crate::wire::Icmpv4Message::DST_UNREACHABLE.0
            && code == crate::wire::icmpv4::dst_unreachable::FRAG_NEEDED
        {
            return self.tcp_v4_mtu_reduced(id, info, now);
        }
        let Some(e) = err else { return };
        match sk.state {
            TcpState::SynSent => {
                self.tcp.stats.attempt_fails += 1;
                self.tcp_reset(id, e);
            }
            // A Fast Open child has (or will have) a user: it sees the error.
            TcpState::SynReceived if sk.fastopen.passive() => {
                self.tcp.stats.attempt_fails += 1;
                self.tcp_reset(id, e);
            }
            TcpState::SynReceived if sk.parent.is_some() => {
                self.tcp.stats.attempt_fails += 1;
                self.tcp_done(id);
            }
            _ => {}
        }
    }

    /// SYN-RECEIVED → ESTABLISHED on a valid ACK; a passive child joins its listener's accept
    /// queue (or the ACK is dropped if that queue is full). Returns whether it got there.
    /// Linux: `tcp_check_req` → `inet_csk_complete_hashdance`.
    fn tcp_synrecv_established(&mut self, id: SockId, seg: &TcpRepr, now: Instant) -> bool {
        let Ok(sk) = self.sockets.tcp_mut(id) else {
            return false;
        };
        // A Fast Open child is in the accept queue already.
        let tfo = sk.fastopen.passive();
        let parent = if tfo { None } else { sk.parent };
        if let Some(p) = parent {
            match self.sockets.tcp(p) {
                Ok(l) if l.state == TcpState::Listen => {
                    if l.accept_queue.len() >= l.backlog as usize {
                        self.tcp.stats.listen_overflows += 1;
                        self.tcp.stats.listen_drops += 1;
                        self.count_drop(DropReason::TcpListenOverflow);
                        return false;
                    }
                }
                _ => {
                    // The listener is gone.
                    self.tcp_send_active_reset(id, now);
                    self.tcp_done(id);
                    return false;
                }
            }
        }
        let Ok(sk) = self.sockets.tcp_mut(id) else {
            return false;
        };
        sk.state = TcpState::Established;
        // Linux: tcp_rcv_state_process's SYN_RECV case ("SYN-ACK delivery isn't tracked
        // in tcp_ack").
        sk.delivered_segs = sk.delivered_segs.wrapping_add(1);
        sk.snd_wnd = (seg.window_len as u32) << sk.snd_wscale;
        sk.max_snd_wnd = sk.max_snd_wnd.max(sk.snd_wnd);
        sk.snd_wl1 = seg.seq_number;
        sk.snd_wl2 = seg.ack_number.unwrap_or(sk.snd_una);
        sk.rto_at = None;
        sk.syn_retries = 0;
        if sk.keepalive {
            sk.keepalive_at = Some(now + sk.keep_idle);
        }
        // A Fast Open child started its transfer when it was created.
        if !tfo {
            self.tcp_init_transfer(id, false, now);
        }
        self.tcp.stats.curr_estab += 1;
        self.trace_tcp_state(TcpState::SynReceived, TcpState::Established);
        if tfo {
            self.reqsk_fastopen_remove(id);
        }
        if let Some(p) = parent {
            if let Ok(l) = self.sockets.tcp_mut(p) {
                l.syn_qlen = l.syn_qlen.saturating_sub(1);
                l.accept_queue.push_back(id);
            }
            self.sk_wake(p);
        } else {
            self.sk_wake(id);
        }
        true
    }

    /// Process the ACK field and window of an acceptable segment: SACK blocks into the
    /// scoreboard, the acknowledged segments off the retransmit queue, the RTT sample, the
    /// recovery state machine for dubious ACKs, the congestion window (PRR during a
    /// reduction, growth only when cwnd-limited), the tail loss probe / RTO timer.
    /// Linux: `tcp_ack` with `tcp_sacktag_write_queue`, `tcp_clean_rtx_queue`,
    /// `tcp_ack_update_window`, `tcp_fastretrans_alert`, `tcp_cong_control`,
    /// `tcp_set_xmit_timer`.
    fn tcp_ack(&mut self, id: SockId, seg: &TcpRepr, payload_len: usize, now: Instant) {
        let rto_min = self.config.tcp.rto_min;
        let Ok(sk) = self.sockets.tcp_mut(id) else {
            return;
        };
        let Some(ack) = seg.ack_number else { return };
        let stats = &mut self.tcp.stats;
        let seq = seg.seq_number;
        let window = (seg.window_len as u32) << sk.snd_wscale;
        let mut wake = false;
        let prior_snd_una = sk.snd_una;
        let prior_fack = sk.tcp_highest_sack_seq();
        let prior_delivered = sk.delivered;
        let prior_in_flight = sk.tcp_packets_in_flight();
        let mut flag = AckFlag {
            data: payload_len > 0,
            win_update: window != sk.snd_wnd,
            ..AckFlag::default()
        };
        sk.rcv_tsecr = seg.timestamp.map(|(_, ecr)| ecr);
        let had_outstanding = !sk.rtx.is_empty();
        // Duplicate ACK (RFC 5681 section 2).
        let dupack = ack == sk.snd_una
            && had_outstanding
            && payload_len == 0
            && !seg.flags.intersects(TcpFlags::SYN | TcpFlags::FIN)
            && window == sk.snd_wnd;
        let mut newly_sacked = 0;
        if sk.sack_ok && had_outstanding && seg.sack_ranges[0].is_some() {
            let tag = sk.tcp_sacktag_write_queue(&seg.sack_ranges, ack, now, stats);
            newly_sacked = tag.newly_sacked;
            sk.delivered_segs = sk.delivered_segs.wrapping_add(tag.newly_sacked_segs);
            flag.data_sacked = tag.newly_sacked > 0;
            flag.dsack = tag.dsack;
            flag.dsack_tlp = tag.dsack_tlp;
            flag.orig_sack_acked |= tag.orig_sacked;
            if let Some(r) = tag.reord {
                if r < prior_fack {
                    sk.tcp_check_sack_reordering(r, false, stats);
                }
            }
        }
        let mut rtt = None;
        let mut acked_bytes = 0u32;
        if ack > sk.snd_una {
            // New data acknowledged.
            flag.snd_una_advanced = true;
            let acked = (ack - sk.snd_una) as u32;
            acked_bytes = acked;
            let data_seq = sk.data_seq();
            let data_acked = if ack > data_seq {
                ((ack - data_seq) as usize).min(sk.sndbuf.len())
            } else {
                0
            };
            // Nothing queued was left unsent: the sample may be application-limited.
            let app_limited = sk.data_end() <= sk.snd_max;
            sk.sndbuf.dequeue_allocated(data_acked);
            sk.bytes_acked += data_acked as u64;
            let (d, srtt) = (sk.bytes_acked, sk.rtt.srtt());
            sk.delivery
                .tcp_rate_gen(d, data_acked as u64, now, srtt, app_limited);
            sk.snd_una = ack;
            if sk.snd_nxt < ack {
                sk.snd_nxt = ack;
            }
            let min_rtt = sk.rtt.min_rtt();
            let mss = sk.mss;
            // Segments this ACK delivers (Linux: tcp_clean_rtx_queue's acked_pcount): the
            // whole records, and of a record acknowledged in part the segments trimmed off
            // its head (tcp_tso_acked).
            let mut acked_segs = 0u32;
            if let Some(e) = sk.rtx.get(sk.rtx.find(ack)) {
                if e.seq < ack && e.sacked & TCPCB_SACKED_ACKED == 0 {
                    let left = (e.end_seq - ack).max(0) as u32 - u32::from(e.fin);
                    acked_segs = e.pcount(mss).saturating_sub(tcp_pcount(left, mss));
                }
            }
            let rack = &mut sk.rack;
            let clean = sk.rtx.tcp_clean_rtx_queue(ack, |e| {
                acked_segs += e.pcount(mss);
                rack.tcp_rack_advance(e.sacked, e.end_seq, e.tstamp, e.tx_order, now, min_rtt)
            });
            flag.data_acked = clean.acked > 0 || data_acked > 0;
            if clean.orig_acked_end.is_some_and(|e| e <= sk.high_seq) {
                flag.orig_sack_acked = true;
            }
            if sk.tcp_is_reno() {
                sk.tcp_remove_reno_sacks(acked);
            } else {
                sk.delivered += u64::from(clean.newly_delivered);
                sk.delivered_segs = sk.delivered_segs.wrapping_add(acked_segs);
                if let Some(r) = clean.reord {
                    if r < prior_fack {
                        sk.tcp_check_sack_reordering(r, false, stats);
                    }
                }
            }
            if sk.highest_sack.is_some_and(|h| h <= ack) {
                sk.highest_sack = None;
            }
            // RTT samples, Linux's way (tcp_ack_update_rtt): the ACK's own timing first,
            // in microseconds from when the data it acknowledges was sent — the smoothed RTT
            // from the oldest segment (seq_rtt_us), the minimum and congestion control from
            // the newest (ca_rtt_us) — unless retransmitted data is acknowledged (Karn's
            // rule); only then the timestamp echo, whose millisecond clock reads 0 on a LAN.
            let mut seq_rtt = None;
            if let (Some(t), false) = (clean.first_ackt, clean.retrans_acked) {
                seq_rtt = Some(now.saturating_since(t));
                rtt = Some(now.saturating_since(clean.last_ackt.unwrap_or(t)));
                sk.rtt_seq = None;
            } else if sk.ts_ok {
                if let Some((_, ecr)) = seg.timestamp {
                    if ecr != 0 {
                        let r = tcp_time_stamp(now)
                            .wrapping_add(sk.ts_offset)
                            .wrapping_sub(ecr);
                        if r < 60_000 {
                            rtt = Some(Duration::from_millis(r as u64));
                            seq_rtt = rtt;
                        }
                    }
                }
            } else if let Some((s, t)) = sk.rtt_seq {
                // The timed segment (rtt_seq is cleared on retransmission).
                if ack > s {
                    rtt = Some(now.saturating_since(t));
                    seq_rtt = rtt;
                    sk.rtt_seq = None;
                }
            }
            if let (Some(s), Some(c)) = (seq_rtt, rtt) {
                sk.rtt.sample_ack(s, c);
            }
            // Delay-based congestion state (CUBIC's delay_min, HyStart) sees every sample.
            // Linux: tcp_clean_rtx_queue → ca_ops->pkts_acked.
            let sample = super::cong::AckSample {
                rtt,
                snd_una: sk.snd_una,
                snd_nxt: sk.snd_nxt,
                pacing_rate: sk.sk_pacing_rate(),
                paced: sk.tcp_pacing_rate().is_some(),
                now,
            };
            let exits = (sk.cc.hystart_exits(), sk.cc.hystart_train_exits());
            sk.cc.pkts_acked(&sample);
            stats.hystart_exits += sk.cc.hystart_exits() - exits.0;
            stats.hystart_train_exits += sk.cc.hystart_train_exits() - exits.1;
            sk.rtt.reset_backoff();
            sk.retransmits = 0;
            sk.rto_stamp = None;
            sk.probes = 0;
            // The MTU probe arrived: the path takes its size. Linux: tcp_clean_rtx_queue.
            if sk.mtup.probe_size != 0 && sk.mtup.probe_seq_end <= sk.snd_una {
                sk.tcp_mtup_probe_success(stats);
            }
            wake = data_acked > 0;
        }
        sk.delivered += u64::from(newly_sacked);
        let delivered = sk.delivered;
        sk.rack.tcp_rack_update_reo_wnd(prior_delivered, delivered);
        // What this ACK newly delivered (acknowledged without having been SACKed, or
        // SACKed): the unit of window growth and of PRR. Linux: tcp_newly_delivered.
        let acked_sacked = (delivered - prior_delivered).min(u64::from(u32::MAX)) as u32;
        sk.tcp_process_tlp_ack(ack, &flag, now, stats);
        // Dubious: a duplicate, SACK or D-SACK news, or recovery in progress.
        let dubious =
            !flag.not_dup() || flag.data_sacked || flag.dsack || sk.ca_state != CaState::Open;
        let mut reo = None;
        let mut rexmit = Rexmit::None;
        if had_outstanding && dubious {
            let num_dupack = u32::from(dupack && !flag.snd_una_advanced && !flag.dsack);
            (rexmit, reo) =
                sk.tcp_fastretrans_alert(prior_snd_una, num_dupack, &mut flag, now, stats);
        }
        // ECE starts a reduction now, so this ACK takes its first PRR step.
        super::ecn::tcp_ecn_ack(sk, seg, now, stats);
        // Congestion control. Linux: tcp_cong_control.
        if matches!(sk.ca_state, CaState::Cwr | CaState::Recovery) {
            let newly_lost = flag.lost_retrans;
            sk.tcp_cwnd_reduction(acked_sacked, newly_lost, flag.snd_una_advanced);
        } else {
            let may_raise = if sk.reordering > self.config.tcp.reordering {
                flag.forward_progress()
            } else {
                flag.data_acked
            };
            // Not while a reduction for ECE runs, nor on an ACK that echoes congestion.
            let may_raise = may_raise && super::ecn::tcp_ecn_may_raise_cwnd(sk, seg, ack);
            if may_raise && sk.tcp_is_cwnd_limited() {
                // Growth by the bytes the cumulative ACK covers (RFC 5681 byte counting, as
                // Linnet did before): Linux counts `delivered` here, SACKed data when it is
                // SACKed, but with Linnet's CUBIC that cost a fifth of the goodput under
                // random loss (sim_recovery), so the window grows per RFC 5681 instead.
                sk.cc.on_ack(acked_bytes, rtt, prior_in_flight, now);
            }
        }
        let Ok(sk) = self.sockets.tcp_mut(id) else {
            return;
        };
        sk.rexmit_new = rexmit == Rexmit::New;
        // Timers: RACK's reordering timer, else the loss probe or the RTO.
        // Linux: tcp_set_xmit_timer / tcp_rack_mark_lost's REO timer.
        if sk.rtx.is_empty() {
            sk.rto_at = None;
            sk.xmit_timer = XmitTimer::Retrans;
        } else if let Some(t) = reo {
            sk.rto_at = Some(now + t);
            sk.xmit_timer = XmitTimer::ReoTimeout;
        } else if flag.snd_una_advanced {
            match sk.tcp_loss_probe_timeout(now, rto_min, true) {
                Some(at) if sk.tlp_high_seq.is_none() => {
                    sk.rto_at = Some(at);
                    sk.xmit_timer = XmitTimer::LossProbe;
                }
                _ => {
                    sk.rto_at = Some(now + sk.rtt.rto());
                    sk.xmit_timer = XmitTimer::Retrans;
                }
            }
        } else if sk.xmit_timer == XmitTimer::ReoTimeout {
            // Nothing left for RACK to wait on: the RTO again.
            let at = now + sk.tcp_rto_delta(now);
            sk.rto_at = Some(at);
            sk.xmit_timer = XmitTimer::Retrans;
        }
        let wmem_max = self.config.tcp.wmem_max;
        if wake {
            sk.sndbuf_expand(wmem_max);
        }
        // Window update (RFC 9293 3.10.7.4, SND.WL1/SND.WL2 rule).
        if sk.snd_wl1 < seq || (sk.snd_wl1 == seq && sk.snd_wl2 <= ack) {
            let opened = sk.snd_wnd == 0 && window > 0;
            sk.snd_wnd = window;
            sk.max_snd_wnd = sk.max_snd_wnd.max(window);
            sk.snd_wl1 = seq;
            sk.snd_wl2 = ack;
            if opened {
                sk.persist_at = None;
                sk.probes = 0;
            }
        }
        if wake {
            self.sk_wake(id);
        }
        self.tcp_cong_control(id, seg, now);
        if rexmit == Rexmit::MtuProbeLost {
            self.tcp_simple_retransmit(id, now);
        }
    }

    /// Queue the data of an acceptable segment: in order into the receive queue, out of
    /// order beyond it (remembered by the assembler and reported in SACK blocks, newest
    /// first). Data already held is reported in a D-SACK block (RFC 2883) and answered at
    /// once in quick-ACK mode; out-of-order data and data that fills a hole are ACKed at
    /// once (RFC 5681 4.2). Linux: `tcp_data_queue` / `tcp_data_queue_ofo` /
    /// `tcp_ofo_queue`.
    fn tcp_data_queue(
        &mut self,
        id: SockId,
        seq: SeqNumber,
        payload: &[u8],
        psh: bool,
        now: Instant,
    ) {
        let Ok(sk) = self.sockets.tcp_mut(id) else {
            return;
        };
        let end = seq + payload.len();
        let off = seq - sk.rcv_nxt;
        let mut wake = false;
        let mut defer_ack = false;
        let mut queued = 0;
        if off <= 0 {
            let skip = (-off) as usize;
            if skip >= payload.len() {
                // All of it arrived before: a retransmission the sender did not need.
                self.tcp.stats.dup_segs += 1;
                self.tcp_dsack_set(id, seq, end);
                if let Ok(sk) = self.sockets.tcp_mut(id) {
                    sk.tcp_enter_quickack_mode(TCP_MAX_QUICKACKS);
                    sk.ack_now = true;
                }
                return;
            }
            if skip > 0 {
                let rcv_nxt = sk.rcv_nxt;
                self.tcp_dsack_set(id, seq, rcv_nxt);
            }
            let Ok(sk) = self.sockets.tcp_mut(id) else {
                return;
            };
            let data = &payload[skip..];
            let had_ofo = !sk.ofo.is_empty();
            let n = sk.rcv_queue_copy(data);
            if n == 0 {
                sk.ack_now = true;
                self.tcp.stats.rcvq_drop += 1;
                self.count_drop(DropReason::SocketRcvbuff);
                return;
            }
            sk.rcv_nxt += n;
            sk.bytes_received += n as u64;
            sk.tcp_event_data_recv(now, n);
            sk.tcp_measure_rcv_psh(psh);
            if had_ofo {
                // Out-of-order data now at rcv_nxt, or overlapped by the new data: in the
                // queue. What the new data overlapped was received twice (D-SACK).
                if let Some((a, b)) = sk.ofo.overlap(0, n) {
                    let (s, e) = (sk.rcv_nxt - n + a, sk.rcv_nxt - n + b);
                    if sk.sack_ok {
                        match sk.rx_sack.tcp_dsack_extend(s, e, sk.rcv_nxt) {
                            Some(true) => self.tcp.stats.dsack_old_sent += 1,
                            Some(false) => self.tcp.stats.dsack_ofo_sent += 1,
                            None => {}
                        }
                    }
                }
                sk.ofo.shift(n);
                let more = sk.ofo.remove_front();
                if more > 0 {
                    sk.rcv_queue_ofo_front(more);
                    sk.rcv_nxt += more;
                    sk.bytes_received += more as u64;
                }
                let empty = sk.ofo.is_empty();
                sk.rx_sack.tcp_sack_remove(sk.rcv_nxt, empty);
            } else {
                sk.ofo.shift(n);
            }
            // A GRO/GSO super-segment counts as the MSS-sized segments it stands for.
            sk.rcv_unacked_segs += (data.len() as u32).div_ceil(sk.mss.max(1)).max(1);
            queued = n;
            let quick = sk.quickack > 0 && !sk.pingpong;
            let want_ack = sk.rcv_unacked_segs >= 2;
            if quick {
                // Quick-ACK mode: this segment's own ACK, at once (as in the fast path).
                sk.quickack -= 1;
                sk.ack_now = true;
            }
            if had_ofo {
                // Data that fills (part of) a hole is acknowledged at once (RFC 5681 4.2).
                // No quick-ACK mode after it (Linux 4.18 on): the in-order data that follows
                // is ACKed as usual, and more out-of-order data as SACK compression decides.
                sk.ack_now = true;
            } else if want_ack && !quick {
                defer_ack = true;
            }
            wake = true;
        } else {
            let off = off as usize;
            let room = sk.rcv_space();
            if off >= room {
                // Beyond the window: answered at once. Linux: tcp_data_queue's
                // out_of_window.
                sk.ack_now = true;
                sk.tcp_enter_quickack_mode(TCP_MAX_QUICKACKS);
                self.tcp.stats.ofo_drop += 1;
                self.count_drop(DropReason::TcpOfoDrop);
                return;
            }
            let len = payload.len().min(room - off);
            if let Some((a, b)) = sk.ofo.overlap(off, len) {
                let rcv_nxt = sk.rcv_nxt;
                let covered = a == off && b == off + len;
                self.tcp_dsack_set(id, rcv_nxt + a, rcv_nxt + b);
                if covered {
                    // All of it is held already (Linux: TCPOFOMerge, dropped; its block
                    // still moves to the front).
                    self.tcp.stats.ofo_merge += 1;
                    self.tcp_ofo_sack_and_ack(id, seq, end, now);
                    return;
                }
            }
            let Ok(sk) = self.sockets.tcp_mut(id) else {
                return;
            };
            let max = super::assembler::Assembler::max_ranges(sk.rcvbuf.capacity());
            let added = match sk.ofo.add(off, len, max) {
                Ok(a) => a,
                Err(_) => {
                    sk.ack_now = true;
                    self.tcp.stats.ofo_drop += 1;
                    self.count_drop(DropReason::TcpOfoDrop);
                    return;
                }
            };
            if added.pruned > 0 {
                // Pruned data may have been SACKed: the blocks start over (Linux:
                // tcp_prune_ofo_queue → tcp_sack_reset).
                sk.rx_sack.tcp_sack_reset();
                self.tcp.stats.ofo_pruned += 1;
            }
            if added.merged {
                self.tcp.stats.ofo_merge += 1;
            }
            sk.rcvbuf.write_unallocated(off, &payload[..len]);
            // A reordering or lossy path needs a window over the hole and what lies past it:
            // the buffer grows to cover the span the queue reaches (not for a connection
            // nobody accepted or holds any more). Linux 6.16: `tcp_rcvbuf_grow` from
            // `tcp_data_queue_ofo`. Linux charges only the skbs held; the ring here is
            // allocated whole, so a peer can make it at most four times what it has sent
            // (in order and out of order), never megabytes for a few sparse segments.
            sk.ofo_bytes_rcvd += len as u64;
            if sk.parent.is_none() && !sk.orphan {
                let space = sk.rcvq_space.space;
                let sent = sk.bytes_received.saturating_add(sk.ofo_bytes_rcvd);
                let limit = usize::try_from(sent.saturating_mul(4)).unwrap_or(usize::MAX);
                sk.tcp_rcvbuf_grow(&self.config.tcp, space, limit);
            }
            self.tcp.stats.ofo_queue += 1;
            // (Not without SACK: the window stays put so that the sender's duplicate ACKs
            // stay duplicates. Linux: tcp_data_queue_ofo.)
            if sk.sack_ok {
                sk.tcp_grow_window(len);
            }
            self.tcp_ofo_sack_and_ack(id, seq, seq + len, now);
        }
        if defer_ack {
            self.tcp_ack_defer(id);
        }
        if wake {
            self.trace_cur(Stage::TcpDataQueue, Detail::Num("bytes", queued as u64));
            self.sk_wake(id);
        }
    }

    /// A segment that is not accepted (old, out of window, or rejected by PAWS) is answered
    /// at once; if it carried data below `RCV.NXT`, the ACK reports it in a D-SACK block and
    /// the receiver enters quick-ACK mode (RFC 2883; the sender learns its retransmission
    /// was spurious). Linux: `tcp_send_dupack`.
    fn tcp_send_dupack(&mut self, id: SockId, seg: &TcpRepr, payload_len: usize) {
        let Ok(sk) = self.sockets.tcp_mut(id) else {
            return;
        };
        sk.ack_now = true;
        let seq = seg.seq_number;
        // The segment's sequence space: its data, and a SYN or FIN (end_seq != seq).
        let seg_len = payload_len
            + usize::from(seg.flags.contains(TcpFlags::SYN))
            + usize::from(seg.flags.contains(TcpFlags::FIN));
        if seg_len > 0 && seq < sk.rcv_nxt {
            sk.tcp_enter_quickack_mode(TCP_MAX_QUICKACKS);
            let end = (seq + seg_len).min(sk.rcv_nxt);
            self.tcp_dsack_set(id, seq, end);
        }
    }

    /// Report `[seq, end)` as a duplicate in a D-SACK block of the next ACK (when SACK was
    /// negotiated). Linux: `tcp_dsack_set`.
    fn tcp_dsack_set(&mut self, id: SockId, seq: SeqNumber, end: SeqNumber) {
        let Ok(sk) = self.sockets.tcp_mut(id) else {
            return;
        };
        if !sk.sack_ok || end <= seq {
            return;
        }
        // Below RCV.NXT: TCPDSACKOldSent, else TCPDSACKOfoSent.
        if sk.rx_sack.tcp_dsack_set(seq, end, sk.rcv_nxt) {
            self.tcp.stats.dsack_old_sent += 1;
        } else {
            self.tcp.stats.dsack_ofo_sent += 1;
        }
    }

    /// In-order data wants an ACK: send it once the receive batch is over (the next
    /// [`Stack::poll`] or [`Stack::take_tx`]), so that the frames of one batch share one
    /// cumulative ACK, as GRO and the deferred ACK of a busy socket give Linux one ACK per
    /// NAPI poll. Only ACKs of in-order data wait: out-of-order data, holes filled, duplicates,
    /// window probes and FINs set `ack_now` and go at once, and so does the ACK once half the
    /// window last offered is unacknowledged. A segment that carries an ACK (data, a window
    /// update) in the meantime takes the deferred one along.
    /// Linux: `__tcp_ack_snd_check` setting `TCP_ACK_DEFERRED` while the socket is owned
    /// (`tcp_release_cb` sends it).
    /// With `tcp_backlog_ack_defer` off the ACK goes at once, as from Linux's softirq.
    fn tcp_ack_defer(&mut self, id: SockId) {
        let full = self.tcp.ack_deferred.len() >= ACK_DEFER_MAX;
        let defer = self.config.tcp.backlog_ack_defer;
        let Ok(sk) = self.sockets.tcp_mut(id) else {
            return;
        };
        if !defer {
            sk.ack_now = true;
            return;
        }
        // Half the window we last offered used up without an ACK: the sender must hear from
        // us before it stalls, batch or not. And a caller that never polls must not make
        // the list grow.
        let unacked = (sk.rcv_nxt - sk.last_ack_sent).max(0) as usize;
        let offered = (sk.rcv_adv - sk.last_ack_sent).max(0) as usize;
        if full || 2 * unacked >= offered {
            sk.ack_now = true;
            return;
        }
        if sk.ack_deferred {
            return;
        }
        sk.ack_deferred = true;
        self.tcp.ack_deferred.push(id);
    }

    /// Send a challenge ACK, at most `tcp_challenge_ack_limit` a second (RFC 5961 section 7).
    /// Linux: `tcp_send_challenge_ack`.
    fn tcp_challenge_ack(&mut self, id: SockId, now: Instant) {
        let sec = now.total_micros() / 1_000_000;
        if sec != self.tcp.challenge_second {
            self.tcp.challenge_second = sec;
            self.tcp.challenge_count = 0;
        }
        if self.tcp.challenge_count >= self.config.tcp.challenge_ack_limit {
            return;
        }
        self.tcp.challenge_count += 1;
        self.tcp.stats.challenge_acks += 1;
        self.tcp_send_ack(id, now);
    }

    /// Enter TIME-WAIT. Linux: `tcp_time_wait`.
    pub(crate) fn tcp_time_wait(&mut self, id: SockId, now: Instant) {
        let tw = self.config.tcp.time_wait;
        let Ok(sk) = self.sockets.tcp_mut(id) else {
            return;
        };
        if matches!(sk.state, TcpState::Established | TcpState::CloseWait) {
            self.tcp.stats.curr_estab = self.tcp.stats.curr_estab.saturating_sub(1);
        }
        sk.state = TcpState::TimeWait;
        sk.rto_at = None;
        sk.persist_at = None;
        sk.delack_at = None;
        sk.compressed_ack_at = None;
        sk.compressed_ack = 0;
        sk.keepalive_at = None;
        sk.tw_at = Some(now + tw);
        self.sk_wake(id);
        self.tcp_sched(id);
    }

    /// The connection was reset or timed out: record the error for the user and finish.
    /// Linux: `tcp_reset` / `tcp_write_err` → `tcp_done`.
    pub(crate) fn tcp_reset(&mut self, id: SockId, err: Errno) {
        if let Ok(sk) = self.sockets.tcp_mut(id) {
            sk.error = Some(err);
        }
        self.tcp_done(id);
    }

    /// The connection is over: leave the tables; an orphan (or an unaccepted child) is freed,
    /// a socket the user still holds stays, CLOSED, until `close`. Linux: `tcp_done`.
    pub(crate) fn tcp_done(&mut self, id: SockId) {
        let Ok(sk) = self.sockets.tcp_mut(id) else {
            return;
        };
        // A Fast Open child stays in the accept queue, closed, like an established one.
        let tfo = sk.fastopen.passive();
        if tfo {
            self.reqsk_fastopen_remove(id);
        }
        let Ok(sk) = self.sockets.tcp_mut(id) else {
            return;
        };
        let prev = sk.state;
        if matches!(prev, TcpState::Established | TcpState::CloseWait) {
            self.tcp.stats.curr_estab = self.tcp.stats.curr_estab.saturating_sub(1);
        }
        if prev == TcpState::TimeWait {
            self.tcp.stats.tw += 1;
        }
        let parent = sk.parent;
        let orphan = sk.orphan;
        sk.rto_at = None;
        sk.persist_at = None;
        sk.delack_at = None;
        sk.compressed_ack_at = None;
        sk.compressed_ack = 0;
        sk.keepalive_at = None;
        sk.tw_at = None;
        self.tcp_unhash(id);
        let Ok(sk) = self.sockets.tcp_mut(id) else {
            return;
        };
        sk.state = TcpState::Closed;
        if let Some(p) = parent {
            // Not yet accepted: the listener owns it.
            if let Ok(l) = self.sockets.tcp_mut(p) {
                if prev == TcpState::SynReceived && !tfo {
                    l.syn_qlen = l.syn_qlen.saturating_sub(1);
                    l.accept_queue.retain(|&c| c != id);
                    self.tcp_sock_remove(id);
                    return;
                }
            } else {
                self.tcp_sock_remove(id);
                return;
            }
            // In the accept queue: stays there, closed; accept() hands it out and the user
            // sees the error (as Linux does).
            self.sk_wake(id);
            return;
        }
        if orphan {
            self.tcp_sock_remove(id);
        } else {
            self.sk_wake(id);
        }
    }

    /// Free a TCP socket: its queued receive buffers go back to the pool, then it leaves the
    /// table. Linux: `inet_csk_destroy_sock` (`sk_stream_kill_queues`).
    pub(crate) fn tcp_sock_remove(&mut self, id: SockId) {
        if let Ok(sk) = self.sockets.tcp_mut(id) {
            let pool = &mut self.pool;
            sk.rx_skb_purge(|b| pool.put(b));
        }
        self.sockets.remove(id);
    }
}

impl TcpSock {
    /// Let the next `max` at most (or as many as half the window holds, at least two)
    /// in-order segments be ACKed at once. Linux: `tcp_incr_quickack`.
    pub fn tcp_incr_quickack(&mut self, max: u32) {
        let rcv_wnd = (self.rcv_adv - self.rcv_nxt).max(0) as u32;
        let quickacks = (rcv_wnd / (2 * self.mss.max(1))).max(2).min(max);
        if quickacks > self.quickack {
            self.quickack = quickacks;
        }
    }

    /// In-order data arrived at `now`: after a silence longer than the retransmission
    /// timeout (the sender timed out and restarts from one segment) every segment is ACKed
    /// at once for a while, so its slow start is not held back by delayed ACKs; `len` bytes
    /// of it (at least 128) let the window open further. Linux: the "too long gap" of
    /// `tcp_event_data_recv` (`icsk_ack.lrcvtime`) and its `tcp_grow_window`.
    pub fn tcp_event_data_recv(&mut self, now: Instant, len: usize) {
        if let Some(last) = self.lrcvtime {
            if now.saturating_since(last) > self.rtt.rto() {
                self.tcp_incr_quickack(TCP_MAX_QUICKACKS);
            }
        }
        self.lrcvtime = Some(now);
        if len >= 128 {
            self.tcp_grow_window(len);
        }
    }

    /// `len` bytes were queued (in order, or out of order with SACK): while the buffer has
    /// room beyond `rcv_ssthresh`, open the window by two segments or twice the data, and
    /// ACK at once (one quick ACK) so that the sender hears of it. A connection whose
    /// buffer autotuning grew thus ACKs every segment until its window has caught up, as
    /// Linux's receivers do through slow start and after each buffer growth. Linux:
    /// `tcp_grow_window` (`icsk_ack.quick |= 1`), for a buffer without skb overhead.
    pub fn tcp_grow_window(&mut self, len: usize) {
        let clamp = 0xffffu32 << self.rcv_wscale.min(14);
        let space = self.rcv_space().min(u32::MAX as usize) as u32;
        let room = space.min(clamp).saturating_sub(self.rcv_ssthresh);
        if room == 0 {
            return;
        }
        let len = len.min(u32::MAX as usize / 2) as u32;
        let incr = (2 * u32::from(self.adv_mss)).max(2 * len);
        self.rcv_ssthresh += room.min(incr);
        self.quickack |= 1;
    }

    /// In-order data with PSH arrived: likely the end of a write, after which the sender
    /// may wait for an ACK (cwnd-bound), so a read that empties the queue ACKs at once
    /// instead of leaving it to the delayed-ACK timer. Linux: the `ICSK_ACK_PUSHED` of
    /// `tcp_measure_rcv_mss`, read by `tcp_cleanup_rbuf`.
    pub fn tcp_measure_rcv_psh(&mut self, psh: bool) {
        if psh {
            self.ack_pushed = true;
        }
    }

    /// After loss or reordering the sender needs to hear of every segment: quick-ACK
    /// mode. Linux: `tcp_enter_quickack_mode`.
    pub fn tcp_enter_quickack_mode(&mut self, max: u32) {
        self.tcp_incr_quickack(max);
        self.pingpong = false;
    }
}
