//! Passive open: SYNs reaching a listener, the SYN queue and SYN cookies.
//!
//! Linux: net/ipv4/tcp_ipv4.c (`tcp_v4_conn_request`), tcp_input.c (`tcp_conn_request`),
//! syncookies.c (`cookie_v4_check`), inet_connection_sock.c (`inet_csk_reqsk_queue_*`).

use super::output::tcp_time_stamp;
use super::sock::tcp_v4_addr;
use super::sock::{TcpSock, TcpState};
use crate::core::sock::SockId;
use crate::ip::IpMeta;
use crate::stack::Stack;
use crate::stats::DropReason;
use crate::time::Instant;
use crate::transport::Socket;
use crate::wire::tcp::{SeqNumber, TcpFlags, TcpRepr};
use std::net::{SocketAddr, SocketAddrV4};

impl Stack {
    /// A segment for a listener (no connection matched). RFC 9293 3.10.7.2.
    pub(crate) fn tcp_listen_rcv(
        &mut self,
        l: SockId,
        ip: &IpMeta,
        seg: &TcpRepr,
        payload: &[u8],
        now: Instant,
    ) {
        if seg.flags.contains(TcpFlags::RST) {
            return self.count_drop(DropReason::TcpReset);
        }
        if seg.ack_number.is_some() {
            if !seg.flags.contains(TcpFlags::SYN)
                && self.config.tcp.syncookies
                && self.tcp_cookie_check(l, ip, seg, payload, now)
            {
                return;
            }
            // RFC 9293: an ACK to a listener gets <SEQ=SEG.ACK><CTL=RST>.
            return self.tcp_v4_send_reset(ip.src, ip.dst, seg, now);
        }
        if !seg.flags.contains(TcpFlags::SYN) {
            return self.count_drop(DropReason::TcpFlags);
        }
        self.tcp_v4_conn_request(l, ip, seg, payload, now);
    }

    /// A SYN for a listener: make a SYN-RECEIVED child (or, with the SYN queue full, answer
    /// with a SYN cookie and keep nothing). Linux: `tcp_conn_request`.
    fn tcp_v4_conn_request(
        &mut self,
        l: SockId,
        ip: &IpMeta,
        seg: &TcpRepr,
        payload: &[u8],
        now: Instant,
    ) {
        let Ok(lsk) = self.sockets.tcp(l) else { return };
        if lsk.accept_queue.len() >= lsk.backlog as usize {
            // Linux drops SYNs while the accept queue is full.
            self.tcp.stats.listen_overflows += 1;
            self.tcp.stats.listen_drops += 1;
            return self.count_drop(DropReason::TcpListenOverflow);
        }
        let syn_limit = lsk
            .backlog
            .max(8)
            .min(self.config.tcp.max_syn_backlog.max(1));
        let local = SocketAddr::V4(SocketAddrV4::new(ip.dst, seg.dst_port));
        let remote = SocketAddr::V4(SocketAddrV4::new(ip.src, seg.src_port));
        if lsk.syn_qlen >= syn_limit {
            // Linux: tcp_syn_flood_action. The cookie path keeps nothing and looks the
            // route up once, for the MSS and the SYN-ACK (what a flood costs per SYN).
            if self.config.tcp.syncookies {
                self.tcp.stats.req_qfull_do_cookies += 1;
                let rt = self.ip_route_output(ip.src, Some(ip.dst));
                let adv_mss = self.tcp_route_mss_of(rt);
                return self.tcp_send_cookie_synack(local, remote, seg, adv_mss, rt, now);
            }
            self.tcp.stats.req_qfull_drop += 1;
            self.tcp.stats.listen_drops += 1;
            return self.count_drop(DropReason::TcpListenOverflow);
        }
        let cfg = self.config.tcp.clone();
        let adv_mss = self.tcp_route_mss(ip.src);
        let Ok(lsk) = self.sockets.tcp(l) else { return };
        let (rcv, snd) = (lsk.rcvbuf.capacity(), lsk.sndbuf.capacity());
        let locked = (lsk.rcvbuf_locked, lsk.sndbuf_locked);
        let sndbuf_limit = lsk.sndbuf_limit;
        let (nodelay, keepalive, linger) = (lsk.nodelay, lsk.keepalive, lsk.linger);
        let (user_mss, user_timeout) = (lsk.user_mss, lsk.user_timeout);
        let notsent_lowat = lsk.notsent_lowat;
        let md5 = lsk.md5.for_child(ip.src);
        let urg_inline = lsk.urg_inline;
        let (keep_idle, keep_intvl, keep_cnt) = (lsk.keep_idle, lsk.keep_intvl, lsk.keep_cnt);
        let cc_name = lsk.cc.name();
        let mut c = TcpSock::new(&cfg, rcv, snd);
        if let Ok(alg) = cc_name.parse() {
            c.cc = super::cong::new_cc(alg, c.mss);
            c.cc.set_hystart(cfg.hystart);
        }
        (c.rcvbuf_locked, c.sndbuf_locked) = locked;
        c.sndbuf_limit = sndbuf_limit;
        c.nodelay = nodelay;
        c.keepalive = keepalive;
        c.linger = linger;
        c.keep_idle = keep_idle;
        c.keep_intvl = keep_intvl;
        c.keep_cnt = keep_cnt;
        c.local = local;
        c.remote = remote;
        c.parent = Some(l);
        c.iss = SeqNumber(
            self.tcp
                .isn
                .isn(ip.dst, seg.dst_port, ip.src, seg.src_port, now),
        );
        c.snd_una = c.iss;
        c.snd_nxt = c.iss;
        c.snd_max = c.iss;
        c.ts_offset = self.tcp.isn.ts_offset(ip.dst, ip.src);
        c.user_mss = user_mss;
        c.user_timeout = user_timeout;
        c.notsent_lowat = notsent_lowat;
        c.md5 = md5;
        c.urg_inline = urg_inline;
        c.adv_mss = if user_mss != 0 {
            adv_mss.min(user_mss.min(u32::from(u16::MAX)) as u16)
        } else {
            adv_mss
        };
        c.ws_ok = cfg.window_scaling;
        c.rcv_wscale = if cfg.window_scaling {
            cfg.rcv_wscale_for(c.rcvbuf.capacity(), c.rcvbuf_locked)
        } else {
            0
        };
        c.sack_ok = cfg.sack;
        c.ts_ok = cfg.timestamps;
        c.ecn.ok = super::ecn::tcp_ecn_create_request(cfg.ecn, seg, ip.tos);
        self.tcp_negotiate(&mut c, seg, now);
        c.irs = seg.seq_number;
        c.rcv_nxt = seg.seq_number + 1;
        c.rcv_adv = c.rcv_nxt;
        c.state = TcpState::SynReceived;
        c.last_rcv = now;
        if !c.ts_ok {
            c.rtt_seq = Some((c.iss, now));
        }
        let fastopen = self.tcp_try_fastopen(l, ip, seg, payload, &mut c);
        let Ok(id) = self.sockets.insert(Socket::Tcp(Box::new(c))) else {
            self.tcp.stats.listen_drops += 1;
            return self.count_drop(DropReason::TcpListenOverflow);
        };
        self.tcp_child_inherit(l, id);
        self.tcp.ehash.insert((local, remote), id);
        self.tcp_bhash_add(id, local.port());
        if fastopen {
            // Linux: tcp_fastopen_create_child → tcp_init_transfer.
            self.tcp_init_transfer(id, false, now);
            self.tcp_fastopen_queued(l, id);
        } else if let Ok(lsk) = self.sockets.tcp_mut(l) {
            lsk.syn_qlen += 1;
        }
        self.tcp.stats.passive_opens += 1;
        self.trace_tcp_state(TcpState::Listen, TcpState::SynReceived);
        self.tcp_send_syn(id, now);
        self.tcp_sched(id);
    }

    /// A child takes its listener's socket-level flags (`SO_REUSEADDR`), so the port can be
    /// bound again once the listener is gone. Linux: `sk_clone_lock` copies `sk_reuse`.
    fn tcp_child_inherit(&mut self, l: SockId, id: SockId) {
        let reuse = self.sockets.get(l).is_ok_and(|e| e.reuseaddr);
        let inet6 = self.sockets.tcp(l).is_ok_and(|t| t.inet6);
        if let Ok(e) = self.sockets.get_mut(id) {
            e.reuseaddr = reuse;
            if let crate::transport::Socket::Tcp(t) = &mut e.sock {
                t.inet6 = inet6;
            }
        }
    }

    /// Answer a SYN with a stateless SYN-ACK whose ISN is a cookie. Linux:
    /// `cookie_v4_init_sequence` + `tcp_v4_send_synack`.
    fn tcp_send_cookie_synack(
        &mut self,
        local: SocketAddr,
        remote: SocketAddr,
        seg: &TcpRepr,
        adv_mss: u16,
        rt: Result<crate::ip::route::OutputRoute, crate::errno::Errno>,
        now: Instant,
    ) {
        let cfg = &self.config.tcp;
        let peer_mss = seg.max_seg_size.unwrap_or(536).min(adv_mss);
        let (cookie, mss) = self.tcp.cookies.encode(
            tcp_v4_addr(remote.ip()),
            remote.port(),
            tcp_v4_addr(local.ip()),
            local.port(),
            seg.seq_number.0,
            peer_mss,
            now,
        );
        let ws = if cfg.window_scaling && seg.window_scale.is_some() {
            Some(cfg.rcv_wscale_for(cfg.rmem_default, false))
        } else {
            None
        };
        let sack = cfg.sack && seg.sack_permitted;
        // Without timestamps the options cannot be remembered: no scaling, no SACK.
        let timestamp = match (cfg.timestamps, seg.timestamp) {
            (true, Some((tsval, _))) => {
                let off = self
                    .tcp
                    .isn
                    .ts_offset(tcp_v4_addr(local.ip()), tcp_v4_addr(remote.ip()));
                let ours = tcp_time_stamp(now).wrapping_add(off);
                Some((super::syncookie::encode_ts_options(ours, ws, sack), tsval))
            }
            _ => None,
        };
        let (ws, sack) = if timestamp.is_some() {
            (ws, sack)
        } else {
            (None, false)
        };
        let repr = TcpRepr {
            src_port: local.port(),
            dst_port: remote.port(),
            flags: TcpFlags::SYN | TcpFlags::ACK,
            seq_number: SeqNumber(cookie),
            ack_number: Some(seg.seq_number + 1),
            window_len: (cfg.rmem_default.min(65535)) as u16,
            max_seg_size: Some(mss),
            window_scale: ws,
            sack_permitted: sack,
            sack_ranges: [None; 4],
            timestamp,
            fastopen: None,
            payload_len: 0,
        };
        self.tcp.stats.syncookies_sent += 1;
        self.tcp_send_stateless_routed(
            tcp_v4_addr(local.ip()),
            tcp_v4_addr(remote.ip()),
            &repr,
            rt,
            now,
        );
    }

    /// An ACK to a listener may complete a cookie handshake: rebuild the connection from it.
    /// Linux: `cookie_v4_check`.
    fn tcp_cookie_check(
        &mut self,
        l: SockId,
        ip: &IpMeta,
        seg: &TcpRepr,
        payload: &[u8],
        now: Instant,
    ) -> bool {
        let Some(ack) = seg.ack_number else {
            return false;
        };
        let their_isn = (seg.seq_number - 1).0;
        let Some(mss) = self.tcp.cookies.decode(
            ip.src,
            seg.src_port,
            ip.dst,
            seg.dst_port,
            their_isn,
            (ack - 1).0,
            now,
        ) else {
            self.tcp.stats.syncookies_failed += 1;
            return false;
        };
        let Ok(lsk) = self.sockets.tcp(l) else {
            return false;
        };
        if lsk.accept_queue.len() >= lsk.backlog as usize {
            self.tcp.stats.listen_overflows += 1;
            self.tcp.stats.listen_drops += 1;
            self.count_drop(DropReason::TcpListenOverflow);
            return true;
        }
        self.tcp.stats.syncookies_recv += 1;
        let cfg = self.config.tcp.clone();
        let (ws, sack) = match seg.timestamp {
            Some((_, ecr)) if cfg.timestamps => super::syncookie::decode_ts_options(ecr),
            _ => (None, false),
        };
        let (rcv, snd) = (lsk.rcvbuf.capacity(), lsk.sndbuf.capacity());
        let locked = (lsk.rcvbuf_locked, lsk.sndbuf_locked);
        let sndbuf_limit = lsk.sndbuf_limit;
        let nodelay = lsk.nodelay;
        let md5 = lsk.md5.for_child(ip.src);
        let mut c = TcpSock::new(&cfg, rcv.max(cfg.rmem_default), snd);
        c.md5 = md5;
        (c.rcvbuf_locked, c.sndbuf_locked) = locked;
        c.sndbuf_limit = sndbuf_limit;
        c.nodelay = nodelay;
        c.local = SocketAddr::V4(SocketAddrV4::new(ip.dst, seg.dst_port));
        c.remote = SocketAddr::V4(SocketAddrV4::new(ip.src, seg.src_port));
        c.iss = ack - 1;
        c.snd_una = ack;
        c.snd_nxt = ack;
        c.snd_max = ack;
        c.irs = seg.seq_number - 1;
        c.rcv_nxt = seg.seq_number;
        c.ts_ok = seg.timestamp.is_some() && cfg.timestamps;
        c.ts_offset = self.tcp.isn.ts_offset(ip.dst, ip.src);
        if let Some((tsval, _)) = seg.timestamp {
            c.ts_recent = tsval;
            c.ts_recent_stamp = now;
        }
        c.sack_ok = sack;
        c.ws_ok = ws.is_some();
        c.snd_wscale = ws.unwrap_or(0).min(14);
        c.rcv_wscale = if c.ws_ok {
            // As offered in the cookie's SYN-ACK.
            cfg.rcv_wscale_for(cfg.rmem_default, false)
        } else {
            0
        };
        // The MSS the cookie encodes is the peer's; sized for the route as a child from the
        // SYN queue is (Linux: tcp_get_cookie_sock → tcp_v4_syn_recv_sock → tcp_sync_mss).
        c.mss_clamp = u32::from(mss);
        let pmtu = self.tcp_dst_mtu(ip.src, usize::from(mss) + 40, now);
        c.tcp_sync_mss(pmtu);
        c.snd_wnd = (seg.window_len as u32) << c.snd_wscale;
        c.max_snd_wnd = c.snd_wnd;
        c.snd_wl1 = seg.seq_number;
        c.snd_wl2 = ack;
        // The cookie SYN-ACK advertised at most 64 KiB unscaled; the window is now ours.
        c.rcv_adv = c.rcv_nxt + cfg.rmem_default.min(65535);
        c.rcv_wnd_max = cfg.rmem_default.min(65535) as u32;
        c.state = TcpState::Established;
        // The SYN-ACK was delivered (Linux: the SYN_RECV case of tcp_rcv_state_process).
        c.delivered_segs = 1;
        c.last_rcv = now;
        let local = c.local;
        let remote = c.remote;
        let Ok(id) = self.sockets.insert(Socket::Tcp(Box::new(c))) else {
            return true;
        };
        self.tcp_child_inherit(l, id);
        self.tcp.ehash.insert((local, remote), id);
        self.tcp_bhash_add(id, local.port());
        self.tcp_init_transfer(id, false, now);
        self.tcp.stats.curr_estab += 1;
        self.tcp.stats.passive_opens += 1;
        if let Ok(lsk) = self.sockets.tcp_mut(l) {
            lsk.accept_queue.push_back(id);
        }
        self.sk_wake(l);
        // The ACK may carry data (and a FIN): queued and acknowledged as on any connection,
        // or the peer, established since it sent it, would wait on a retransmission.
        if !payload.is_empty() || seg.flags.contains(TcpFlags::FIN) {
            self.tcp_child_process(id, seg, payload, now);
        }
        true
    }
}
