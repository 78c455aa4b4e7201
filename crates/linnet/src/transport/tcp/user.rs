//! The TCP side of the socket calls: listen, accept, connect, send, receive, shutdown, close,
//! options and poll.
//!
//! Linux: net/ipv4/tcp.c (`tcp_sendmsg`, `tcp_recvmsg`, `tcp_shutdown`, `tcp_close`,
//! `tcp_poll`, `do_tcp_setsockopt`), tcp_ipv4.c (`tcp_v4_connect`), inet_connection_sock.c
//! (`inet_csk_listen_start`, `inet_csk_accept`, `inet_csk_listen_stop`).

use super::cong::new_cc;
use super::ring::RingBuffer;
use super::sock::tcp_v4_addr;
use super::sock::{TcpSock, TcpState};
use crate::core::inet_addr::InetBinding;
use crate::core::sock::{MsgFlags, PollEvents, Shutdown, SockId};
use crate::core::sockopt::SockOpt;
use crate::errno::Errno;
use crate::stack::Stack;
use crate::time::Instant;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

/// Smallest and largest socket buffer (bytes of data).
const BUF_MIN: usize = 4096;
const BUF_MAX: usize = 64 << 20;
/// The most SYN retransmissions `TCP_SYNCNT` may ask for. Linux: `MAX_TCP_SYNCNT`.
const MAX_TCP_SYNCNT: u8 = 127;

/// Readiness of a TCP socket. Linux: `tcp_poll`.
pub fn tcp_poll(sk: &TcpSock) -> PollEvents {
    let mut ev = PollEvents::default();
    if sk.state == TcpState::Listen {
        if !sk.accept_queue.is_empty() {
            ev |= PollEvents::IN;
        }
        return ev;
    }
    if sk.error.is_some() {
        ev |= PollEvents::ERR;
    }
    match sk.state {
        TcpState::Closed => {
            // Never connected: nothing; after a connection (reset or finished): hang-up.
            if sk.error.is_some() || sk.remote.port() != 0 {
                ev |= PollEvents::HUP | PollEvents::IN | PollEvents::OUT;
            }
            return ev;
        }
        // A connect deferred by TCP_FASTOPEN_CONNECT is writable: the write sends the SYN.
        TcpState::SynSent if sk.fastopen.defer_connect => return ev | PollEvents::OUT,
        // A Fast Open child is usable before its handshake completes.
        TcpState::SynReceived if sk.fastopen.passive() => {}
        TcpState::SynSent | TcpState::SynReceived => return ev,
        _ => {}
    }
    if sk.fin_rcvd || sk.rd_shutdown {
        ev |= PollEvents::IN | PollEvents::RDHUP;
    }
    if sk.rcv_queued() > 0 {
        ev |= PollEvents::IN;
    }
    if (sk.fin_rcvd || sk.rd_shutdown) && sk.fin_seq().is_some() {
        ev |= PollEvents::HUP;
    }
    // Writable with room (a Fast Open child before its handshake completes too); after
    // shutdown(SHUT_WR) a write fails at once (EPIPE), so Linux reports it writable too.
    if sk.fin_seq().is_some()
        || ((sk.state.can_send() || sk.fastopen.passive()) && sk.sndbuf.window() > 0)
    {
        ev |= PollEvents::OUT;
    }
    ev
}

impl Stack {
    /// A fresh socket with the stack's default buffers. Linux: `tcp_v4_init_sock`.
    pub(crate) fn tcp_new_sock(&self) -> TcpSock {
        let c = &self.config.tcp;
        TcpSock::new(c, c.rmem_default, c.wmem_default)
    }

    /// The MSS to advertise towards `dst`: the route's `advmss` metric, else its MTU (the
    /// `mtu` metric or the device's) less headers, bounded by what a pool buffer holds.
    /// Linux: `tcp_mss_clamp` / `dst_metric_advmss` (`ipv4_default_advmss`).
    pub(crate) fn tcp_route_mss(&self, dst: Ipv4Addr) -> u16 {
        self.tcp_route_mss_of(self.ip_route_output(dst, None))
    }

    /// [`Stack::tcp_route_mss`] for a route already looked up (a listener answering a SYN
    /// uses one lookup for the MSS and the SYN-ACK, as Linux's `inet_csk_route_req`).
    pub(crate) fn tcp_route_mss_of(&self, rt: Result<crate::ip::route::OutputRoute, Errno>) -> u16 {
        let rt = rt.ok();
        let mtu = rt
            .and_then(|rt| self.iface(rt.ifindex).map(|i| rt.mtu(i.mtu)))
            .unwrap_or(1500);
        let buf_room = self
            .pool
            .buf_size()
            .saturating_sub(crate::buf::MAX_HEADER + 60);
        let advmss = match rt.map_or(0, |rt| rt.metrics.advmss) {
            0 => mtu.saturating_sub(40),
            m => m as usize,
        };
        (advmss.min(buf_room.saturating_sub(40))).clamp(88, 65495) as u16
    }

    /// Start listening. Linux: `inet_listen` → `inet_csk_listen_start`.
    pub(crate) fn tcp_listen(&mut self, id: SockId, backlog: u32) -> Result<(), Errno> {
        let somaxconn = self.config.tcp.somaxconn;
        let state = self.sockets.tcp(id)?.state;
        match state {
            TcpState::Listen => {
                self.sockets.tcp_mut(id)?.backlog = backlog.clamp(1, somaxconn);
                return Ok(());
            }
            TcpState::Closed => {}
            _ => return Err(Errno::EINVAL),
        }
        if self.sockets.tcp(id)?.local.port() == 0 {
            self.tcp_bind(
                id,
                SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)),
            )?;
        }
        // A port bound with SO_REUSEADDR alongside others cannot listen if another listens.
        let local = self.sockets.tcp(id)?.local;
        let me = InetBinding::new(local.ip(), self.sockets.get(id)?.v6only);
        if let Some(v) = self.tcp.lhash.get(&local.port()) {
            let clash = v.iter().any(|&o| {
                self.sockets.get(o).is_ok_and(|e| match &e.sock {
                    crate::transport::Socket::Tcp(t) => {
                        me.overlaps(&InetBinding::new(t.local.ip(), e.v6only))
                    }
                    _ => false,
                })
            });
            if clash {
                return Err(Errno::EADDRINUSE);
            }
        }
        let sk = self.sockets.tcp_mut(id)?;
        sk.state = TcpState::Listen;
        // Linux allows backlog + 1 connections in the accept queue; 0 still allows one.
        sk.backlog = backlog.clamp(1, somaxconn);
        self.tcp.lhash.entry(local.port()).or_default().push(id);
        self.tcp_fastopen_listen(id, backlog);
        Ok(())
    }

    /// Take a connection from the accept queue. Linux: `inet_csk_accept`.
    pub(crate) fn inet_csk_accept(&mut self, id: SockId) -> Result<(SockId, SocketAddrV4), Errno> {
        let l = self.sockets.tcp_mut(id)?;
        if l.state != TcpState::Listen {
            return Err(Errno::EINVAL);
        }
        let Some(child) = l.accept_queue.pop_front() else {
            return Err(Errno::EAGAIN);
        };
        let c = self.sockets.tcp_mut(child)?;
        c.parent = None;
        let peer = SocketAddrV4::new(tcp_v4_addr(c.remote.ip()), c.remote.port());
        Ok((child, peer))
    }

    /// Active open. Linux: `tcp_v4_connect` → `tcp_connect`.
    pub(crate) fn tcp_v4_connect(
        &mut self,
        id: SockId,
        addr: SocketAddr,
        now: Instant,
    ) -> Result<(), Errno> {
        let sk = self.sockets.tcp_mut(id)?;
        match sk.state {
            TcpState::Closed => {
                if let Some(e) = sk.error.take() {
                    return Err(e);
                }
                if sk.remote.port() != 0 {
                    // A finished connection cannot be reused.
                    return Err(Errno::EISCONN);
                }
            }
            // Linux: `__inet_stream_connect` for a deferred Fast Open connect.
            TcpState::SynSent if sk.fastopen.defer_connect => return Err(Errno::EISCONN),
            TcpState::SynSent | TcpState::SynReceived => return Err(Errno::EALREADY),
            TcpState::Listen => return Err(Errno::EINVAL),
            _ => return Err(Errno::EISCONN),
        }
        if addr.port() == 0
            || addr.ip().is_unspecified()
            || tcp_v4_addr(addr.ip()).is_broadcast()
            || addr.ip().is_multicast()
        {
            return Err(Errno::EINVAL);
        }
        let bound = sk.local;
        let rt = match self.ip_route_output(tcp_v4_addr(addr.ip()), None) {
            Ok(rt) => rt,
            Err(e) => {
                // Linux: tcp_v4_connect counts OutNoRoutes when there is no route.
                if e == Errno::ENETUNREACH {
                    self.ipv4.ip_stats.out_no_routes += 1;
                }
                return Err(e);
            }
        };
        let local_ip = if bound.ip().is_unspecified() {
            rt.src
        } else {
            tcp_v4_addr(bound.ip())
        };
        let port = if bound.port() != 0 {
            if self.tcp.ehash.contains_key(&(
                SocketAddr::V4(SocketAddrV4::new(local_ip, bound.port())),
                addr,
            )) {
                return Err(Errno::EADDRNOTAVAIL);
            }
            bound.port()
        } else {
            self.tcp_connect_port(local_ip.into(), addr)
                .ok_or(Errno::EADDRNOTAVAIL)?
        };
        let local = SocketAddr::V4(SocketAddrV4::new(local_ip, port));
        let iss = self
            .tcp
            .isn
            .isn(local_ip, port, tcp_v4_addr(addr.ip()), addr.port(), now);
        let ts_off = self.tcp.isn.ts_offset(local_ip, tcp_v4_addr(addr.ip()));
        let adv_mss = self.tcp_route_mss(tcp_v4_addr(addr.ip()));
        let cfg = self.config.tcp.clone();
        let sk = self.sockets.tcp_mut(id)?;
        sk.local = local;
        sk.remote = addr;
        sk.iss = super::SeqNumber(iss);
        sk.snd_una = sk.iss;
        sk.snd_nxt = sk.iss;
        sk.snd_max = sk.iss;
        sk.wq.clear();
        sk.ts_offset = ts_off;
        sk.adv_mss = if sk.user_mss != 0 {
            adv_mss.min(sk.user_mss.min(u32::from(u16::MAX)) as u16)
        } else {
            adv_mss
        };
        sk.ws_ok = cfg.window_scaling;
        sk.rcv_wscale = if cfg.window_scaling {
            cfg.rcv_wscale_for(sk.rcvbuf.capacity(), sk.rcvbuf_locked)
        } else {
            0
        };
        sk.sack_ok = cfg.sack;
        sk.ts_ok = cfg.timestamps;
        sk.state = TcpState::SynSent;
        sk.rtt_seq = Some((sk.iss, now));
        self.tcp.ehash.insert((local, addr), id);
        self.tcp_bhash_add(id, port);
        self.tcp.stats.active_opens += 1;
        if self.tcp_fastopen_defer_connect(id, now) {
            // TCP_FASTOPEN_CONNECT with a cookie: the first write sends the SYN.
            return Ok(());
        }
        self.tcp_send_syn(id, now);
        self.tcp_sched(id);
        Err(Errno::EINPROGRESS)
    }

    /// A writer starts (`true`) or stops waiting on socket `id`: while one waits, a SYN-ACK
    /// leaves its ACK to the data the writer then sends. Linux: `sk->sk_write_pending`
    /// (`sk_stream_wait_connect`, `inet_wait_for_connect`).
    pub fn tcp_write_pending(&mut self, id: SockId, waiting: bool) {
        if let Ok(sk) = self.sockets.tcp_mut(id) {
            sk.write_pending = if waiting {
                sk.write_pending.saturating_add(1)
            } else {
                sk.write_pending.saturating_sub(1)
            };
        }
    }

    /// Queue data for sending. Linux: `tcp_sendmsg_locked`.
    pub(crate) fn tcp_sendmsg(
        &mut self,
        id: SockId,
        data: &[u8],
        now: Instant,
    ) -> Result<usize, Errno> {
        self.tcp_sendmsg_frags(id, data, None, now)
    }

    /// [`Stack::tcp_sendmsg`] with the lengths of the user buffers the data came from, for a
    /// `MSG_ZEROCOPY` send (each becomes an skb fragment; see
    /// [`super::sock::TcpSock::tcp_skb_entail_frags`]). Linux: `tcp_sendmsg_locked`.
    pub(crate) fn tcp_sendmsg_frags(
        &mut self,
        id: SockId,
        data: &[u8],
        frags: Option<&[usize]>,
        now: Instant,
    ) -> Result<usize, Errno> {
        let sk = self.sockets.tcp_mut(id)?;
        if let Some(e) = sk.error.take() {
            return Err(e);
        }
        match sk.state {
            // The first write after a deferred TCP_FASTOPEN_CONNECT goes in the SYN.
            TcpState::SynSent if sk.fastopen.defer_connect => {
                return self.tcp_sendmsg_fastopen(id, data, None, now)
            }
            // A Fast Open child may send before its handshake completes.
            TcpState::SynReceived if sk.fastopen.passive() => {}
            TcpState::SynSent | TcpState::SynReceived => return Err(Errno::EAGAIN),
            // Linux: sk_stream_wait_connect answers EPIPE for any state but SYN-SENT/-RECV,
            // also for a socket that never connected.
            TcpState::Closed | TcpState::Listen => return Err(Errno::EPIPE),
            _ => {}
        }
        if !(sk.state.can_send() || sk.fastopen.passive()) || sk.fin_seq().is_some() {
            return Err(Errno::EPIPE);
        }
        if data.is_empty() {
            return Ok(0);
        }
        if sk.notsent_lowat != u32::MAX {
            return self.tcp_sendmsg_lowat(id, data, now);
        }
        let want = data.len();
        // SO_SNDBUF's skb memory budget (sk_stream_memory_free at each new skb).
        let data = &data[..sk.tcp_sndbuf_budget(want)];
        let start = sk.data_end();
        let n = sk.sndbuf.enqueue_slice(data);
        if n == 0 {
            return Err(Errno::EAGAIN);
        }
        match frags {
            Some(f) => sk.tcp_skb_entail_frags(start, n, f),
            None => sk.tcp_skb_entail(start, n),
        }
        // tcp_push: the end of the write is pushed unless MSG_MORE (a full send buffer stops
        // the write, and Linux pushes before it waits for room).
        let more = sk.more && n == want;
        sk.tcp_push_mark(more);
        if sk.snd_max == sk.snd_una
            && now.saturating_since(sk.last_send) > sk.rtt.rto()
            && sk.bytes_sent > 0
        {
            // Restart after idle (RFC 5681 4.1).
            let rto = sk.rtt.rto();
            sk.cc.on_idle_restart(rto, now);
        }
        sk.in_sendmsg = true;
        self.tcp_write_xmit(id, now);
        if let Ok(sk) = self.sockets.tcp_mut(id) {
            sk.in_sendmsg = false;
        }
        Ok(n)
    }

    /// `tcp_sendmsg` under a not-sent low-water mark: data goes in skb by skb (of
    /// [`TcpSock::tcp_xmit_size_goal`] bytes); a skb filled at the head of the unsent data is
    /// sent at once and the call returns there (the caller calls again for the rest, after
    /// letting the device take what was sent, as Linux's synchronous transmit does); before
    /// opening a new skb the write stops if the unsent bytes reached the mark (`EAGAIN` if
    /// nothing was queued by this call). The end of the data, or the stop, is pushed.
    /// Linux: `tcp_sendmsg_locked`'s copy loop with `sk_stream_memory_free` at `new_segment`
    /// and `tcp_push_one`, then `tcp_push`.
    fn tcp_sendmsg_lowat(&mut self, id: SockId, data: &[u8], now: Instant) -> Result<usize, Errno> {
        let sk = self.sockets.tcp_mut(id)?;
        if sk.snd_max == sk.snd_una
            && now.saturating_since(sk.last_send) > sk.rtt.rto()
            && sk.bytes_sent > 0
        {
            // Restart after idle (RFC 5681 4.1).
            let rto = sk.rtt.rto();
            sk.cc.on_idle_restart(rto, now);
        }
        let mut copied = 0usize;
        let mut push = true;
        // Bounded: each round fills one skb or stops.
        for _ in 0..data.len() + 1 {
            let Ok(sk) = self.sockets.tcp_mut(id) else {
                break;
            };
            if copied == data.len() {
                break;
            }
            let goal = sk.tcp_xmit_size_goal();
            let end = sk.data_end();
            // The unsent part of the tail skb (tso_fragment cut the sent part off).
            let ws = sk.write_skb_start;
            let mut start = if ws > sk.snd_nxt && ws <= end {
                ws
            } else {
                sk.snd_nxt
            };
            let tail = (end - start).max(0) as usize;
            let mut room = goal.saturating_sub(tail);
            if tail == 0 || room == 0 {
                // new_segment: sk_stream_memory_free.
                if !sk.sk_stream_memory_free() {
                    break;
                }
                sk.write_skb_start = end;
                start = end;
                room = goal;
            }
            let want = room.min(data.len() - copied);
            let at = sk.data_end();
            let n = sk.sndbuf.enqueue_slice(&data[copied..copied + want]);
            sk.tcp_skb_entail(at, n);
            copied += n;
            if n < want {
                break; // the send buffer is full (sk_wmem_queued >= sk_sndbuf)
            }
            if n == room && copied < data.len() {
                if start == sk.snd_nxt {
                    // A full skb at the head of the unsent data: tcp_push_one, no PSH.
                    sk.in_sendmsg = true;
                    self.tcp_write_xmit(id, now);
                    if let Ok(sk) = self.sockets.tcp_mut(id) {
                        sk.in_sendmsg = false;
                    }
                }
                push = false;
                break;
            }
        }
        if push {
            // tcp_push: the end of the write (or where it stopped for memory) is pushed.
            if let Ok(sk) = self.sockets.tcp_mut(id) {
                let more = sk.more && copied == data.len();
                sk.tcp_push_mark(more);
                sk.in_sendmsg = true;
            }
            self.tcp_write_xmit(id, now);
            if let Ok(sk) = self.sockets.tcp_mut(id) {
                sk.in_sendmsg = false;
            }
        }
        if copied == 0 {
            return Err(Errno::EAGAIN);
        }
        Ok(copied)
    }

    /// End a record (`MSG_EOR`): what is written next never shares a segment with what is
    /// queued now. Linux: `TCP_SKB_CB(skb)->eor = 1` in `tcp_sendmsg_locked`.
    pub(crate) fn tcp_mark_eor(&mut self, id: SockId) -> Result<(), Errno> {
        let sk = self.sockets.tcp_mut(id)?;
        let end = sk.data_end();
        if sk.eor_marks.back() != Some(&end) && sk.snd_nxt < end {
            sk.eor_marks.push_back(end);
        }
        sk.tcp_skb_mark_eor();
        Ok(())
    }

    /// Read received data. Linux: `tcp_recvmsg_locked` (+ `tcp_cleanup_rbuf` for the window
    /// update after reading).
    pub(crate) fn tcp_recvmsg(
        &mut self,
        id: SockId,
        out: &mut [u8],
        flags: MsgFlags,
        now: Instant,
    ) -> Result<usize, Errno> {
        self.tcp_recvmsg_at(id, out, flags, now, false)
    }

    /// [`Stack::tcp_recvmsg`], or `tcp_read_sock` when `read_sock` (stops at the urgent
    /// byte rather than stepping over it).
    pub(crate) fn tcp_recvmsg_at(
        &mut self,
        id: SockId,
        out: &mut [u8],
        flags: MsgFlags,
        now: Instant,
        read_sock: bool,
    ) -> Result<usize, Errno> {
        let out = match self.tcp_urg_read_limit(id, out.len(), flags.peek, read_sock) {
            Some(n) => &mut out[..n],
            // At the urgent byte, which tcp_read_sock does not read.
            None => return Ok(0),
        };
        let sk = self.sockets.tcp_mut(id)?;
        if sk.state == TcpState::Listen {
            return Err(Errno::ENOTCONN);
        }
        if sk.rcv_queued() > 0 && !out.is_empty() {
            let pool = &mut self.pool;
            let n = sk.rcv_copy(out, flags.peek, |b| pool.put(b));
            if flags.peek {
                return Ok(n);
            }
            sk.bytes_copied += n as u64;
            sk.rcv_space_adjust(&self.config.tcp, now);
            // Tell the peer about the space we made if it matters (Linux: tcp_cleanup_rbuf:
            // what is left of the advertised window is at most half the buffer, and the new
            // window would at least double it). Otherwise the next ACK carries it.
            let growth = sk.window_growth();
            let cap = sk.rcvbuf.capacity() as u32;
            // The window we could advertise now: the free space, as far as the header's
            // 16 bits and our scale can say it, and no larger than any offered before
            // (Linux: __tcp_select_window, bounded by rcv_ssthresh).
            let max_wnd = 0xffffu32 << sk.rcv_wscale.min(14);
            let free = (sk.rcv_space() as u32).min(max_wnd).min(sk.rcv_wnd_max);
            let cur = (sk.rcv_adv - sk.rcv_nxt).max(0) as u32;
            // (Not from a Fast Open child before its handshake completes: Linux's
            // rcv_ssthresh keeps its window where the SYN-ACK put it.)
            // An ACK is due and this read emptied the queue after a pushed segment: send
            // it now, not at the delayed-ACK timer (Linux: tcp_cleanup_rbuf's
            // ICSK_ACK_PUSHED, not in ping-pong mode).
            let pushed = sk.ack_pushed
                && !sk.pingpong
                && sk.rcv_unacked_segs > 0
                && sk.rcv_queued() == 0
                && sk.state.can_receive();
            if pushed
                || (sk.state.can_receive()
                    && sk.state != TcpState::SynReceived
                    && growth > 0
                    && 2 * cur <= cap
                    && free >= 2 * cur)
            {
                sk.ack_now = true;
                self.tcp_output(id, now);
            }
            return Ok(n);
        }
        if out.is_empty() {
            return Ok(0);
        }
        if let Some(e) = sk.error.take() {
            return Err(e);
        }
        if sk.fin_rcvd || sk.rd_shutdown {
            return Ok(0);
        }
        match sk.state {
            TcpState::Closed => {
                if sk.remote.port() != 0 {
                    Ok(0)
                } else {
                    Err(Errno::ENOTCONN)
                }
            }
            _ => Err(Errno::EAGAIN),
        }
    }

    /// Shut down a direction. Linux: `tcp_shutdown` (+ `inet_shutdown`).
    pub(crate) fn tcp_shutdown(
        &mut self,
        id: SockId,
        how: Shutdown,
        now: Instant,
    ) -> Result<(), Errno> {
        let sk = self.sockets.tcp_mut(id)?;
        match sk.state {
            TcpState::Closed | TcpState::Listen | TcpState::SynSent => {
                if sk.state == TcpState::Listen && how != Shutdown::Write {
                    // Linux: shutdown(SHUT_RD) on a listener stops it.
                    return self.tcp_listen_stop(id, now);
                }
                return Err(Errno::ENOTCONN);
            }
            _ => {}
        }
        if matches!(how, Shutdown::Read | Shutdown::Both) {
            sk.rd_shutdown = true;
        }
        if matches!(how, Shutdown::Write | Shutdown::Both)
            && matches!(
                sk.state,
                TcpState::Established | TcpState::CloseWait | TcpState::SynReceived
            )
        {
            sk.queue_fin();
            self.tcp_write_xmit(id, now);
        }
        self.sk_wake(id);
        Ok(())
    }

    /// Stop a listener: reset queued and half-open children. Linux: `inet_csk_listen_stop`.
    fn tcp_listen_stop(&mut self, id: SockId, now: Instant) -> Result<(), Errno> {
        let queued: Vec<SockId> = self.sockets.tcp_mut(id)?.accept_queue.drain(..).collect();
        let half_open: Vec<SockId> = self
            .tcp
            .ehash
            .values()
            .copied()
            .filter(|&c| self.sockets.tcp(c).is_ok_and(|t| t.parent == Some(id)))
            .collect();
        for c in queued.into_iter().chain(half_open) {
            if let Ok(t) = self.sockets.tcp_mut(c) {
                t.parent = None;
                t.orphan = true;
                if t.state.is_synchronized() || t.state == TcpState::SynReceived {
                    self.tcp.stats.abort_on_close += 1;
                    self.tcp_send_active_reset(c, now);
                }
            }
            if self
                .sockets
                .tcp(c)
                .is_ok_and(|t| t.state != TcpState::Closed)
            {
                self.tcp_done(c);
            } else {
                self.tcp_sock_remove(c);
            }
        }
        self.tcp_unhash(id);
        if let Ok(sk) = self.sockets.tcp_mut(id) {
            sk.state = TcpState::Closed;
            sk.syn_qlen = 0;
        }
        Ok(())
    }

    /// Close. Linux: `tcp_close`.
    pub(crate) fn tcp_close(&mut self, id: SockId, now: Instant) -> Result<(), Errno> {
        let sk = self.sockets.tcp_mut(id)?;
        match sk.state {
            TcpState::Listen => {
                self.tcp_listen_stop(id, now)?;
                self.tcp_sock_remove(id);
                return Ok(());
            }
            TcpState::Closed | TcpState::SynSent => {
                self.tcp_unhash(id);
                self.tcp_sock_remove(id);
                return Ok(());
            }
            TcpState::TimeWait => {
                sk.orphan = true;
                return Ok(());
            }
            _ => {}
        }
        sk.orphan = true;
        let unread = sk.rcv_queued() > 0;
        let abort = sk.linger == Some(std::time::Duration::ZERO);
        if unread || abort {
            // RFC 9293 3.10.4 / Linux: data lost, so reset the peer.
            if unread {
                self.tcp.stats.abort_on_data += 1;
            } else {
                self.tcp.stats.abort_on_close += 1;
            }
            if matches!(sk.state, TcpState::Established | TcpState::CloseWait) {
                self.tcp.stats.estab_resets += 1;
            }
            self.tcp_send_active_reset(id, now);
            self.tcp_done(id);
            return Ok(());
        }
        match sk.state {
            TcpState::Established | TcpState::CloseWait | TcpState::SynReceived => {
                sk.queue_fin();
                self.tcp_write_xmit(id, now);
            }
            TcpState::FinWait2 => {
                sk.tw_at = Some(now + self.config.tcp.fin_timeout);
            }
            _ => {}
        }
        self.tcp_sched(id);
        Ok(())
    }

    /// Options. Linux: `do_tcp_setsockopt` / `sock_setsockopt`.
    pub(crate) fn tcp_setsockopt(
        &mut self,
        id: SockId,
        opt: SockOpt,
        now: Instant,
    ) -> Result<(), Errno> {
        let hystart = self.config.tcp.hystart;
        let sk = self.sockets.tcp_mut(id)?;
        let fresh = matches!(sk.state, TcpState::Closed | TcpState::Listen);
        match opt {
            SockOpt::NoDelay(v) => {
                sk.nodelay = v;
                if v {
                    // Linux: TCP_NAGLE_PUSH, one push that overrides a cork.
                    sk.nagle_push = true;
                    self.tcp_write_xmit(id, now);
                    if let Ok(sk) = self.sockets.tcp_mut(id) {
                        sk.nagle_push = false;
                    }
                }
            }
            SockOpt::MaxSeg(v) => {
                // Linux: tp->rx_opt.user_mss, which clamps the MSS offered in the SYN.
                sk.user_mss = v;
                if v != 0 && !sk.state.is_synchronized() {
                    sk.adv_mss = sk.adv_mss.min(v.min(u32::from(u16::MAX)) as u16);
                }
            }
            SockOpt::UserTimeout(d) => sk.user_timeout = d,
            SockOpt::NotsentLowat(v) => sk.notsent_lowat = v,
            SockOpt::Cork(v) => {
                let was = std::mem::replace(&mut sk.cork, v);
                if was && !v && !sk.more {
                    // Linux: tcp_push_pending_frames on uncork.
                    self.tcp_write_xmit(id, now);
                }
            }
            SockOpt::MsgMore(v) => {
                // (The send that follows pushes what it releases.)
                sk.more = v;
            }
            SockOpt::KeepAlive(v) => {
                sk.keepalive = v;
                sk.keepalive_at = if v && sk.state.is_synchronized() {
                    Some(now + sk.keep_idle)
                } else {
                    None
                };
                self.tcp_sched(id);
            }
            SockOpt::Linger(v) => sk.linger = v,
            SockOpt::KeepIdle(d) => {
                if d.is_zero() {
                    return Err(Errno::EINVAL);
                }
                sk.keep_idle = d;
                if sk.keepalive && sk.state.is_synchronized() {
                    sk.keepalive_at = Some(sk.last_rcv.max(now) + d);
                    self.tcp_sched(id);
                }
            }
            SockOpt::KeepIntvl(d) => {
                if d.is_zero() {
                    return Err(Errno::EINVAL);
                }
                sk.keep_intvl = d;
            }
            SockOpt::KeepCnt(n) => {
                if n == 0 {
                    return Err(Errno::EINVAL);
                }
                sk.keep_cnt = n;
            }
            SockOpt::SynCnt(n) => {
                // Linux: do_tcp_setsockopt, TCP_SYNCNT (1..=MAX_TCP_SYNCNT).
                if !(1..=MAX_TCP_SYNCNT).contains(&n) {
                    return Err(Errno::EINVAL);
                }
                sk.syn_count = n;
            }
            SockOpt::RcvBuf(n) => {
                let n = n.clamp(BUF_MIN, BUF_MAX);
                // (A closed connection may still hold unread data: that ring stays.)
                if !fresh || sk.rcv_queued() > 0 {
                    // Linux takes SO_RCVBUF at any time; a ring in use only grows here.
                    if n > sk.rcvbuf.capacity() {
                        sk.rcvbuf.grow(n);
                    }
                } else {
                    sk.rcvbuf = RingBuffer::new(n);
                }
                sk.rcvbuf_locked = true;
            }
            SockOpt::SndBuf(n) => {
                // Linux's sk_sndbuf: a budget of skb memory (see sndmem).
                sk.sndbuf_limit = Some(n.clamp(super::sndmem::SOCK_MIN_SNDBUF, BUF_MAX));
                let n = n.clamp(BUF_MIN, BUF_MAX);
                if !fresh {
                    // Linux takes SO_SNDBUF at any time; a ring in use only grows here.
                    if n > sk.sndbuf.capacity() {
                        sk.sndbuf.grow(n);
                    }
                } else {
                    sk.sndbuf = RingBuffer::new(n);
                }
                sk.sndbuf_locked = true;
            }
            SockOpt::Congestion(alg) => {
                sk.cc = new_cc(alg, sk.mss);
                sk.cc.set_hystart(hystart);
            }
            SockOpt::FastOpen(qlen) => return self.tcp_fastopen_set_qlen(id, qlen),
            SockOpt::FastOpenConnect(v) => {
                if self.config.tcp.fastopen & super::fastopen::TFO_CLIENT_ENABLE == 0 {
                    return Err(Errno::EOPNOTSUPP);
                }
                if sk.state != TcpState::Closed {
                    return Err(Errno::EINVAL);
                }
                sk.fastopen.connect = v;
            }
            SockOpt::FastOpenNoCookie(v) => sk.fastopen.no_cookie = v,
            SockOpt::OobInline(v) => sk.urg_inline = v,
            SockOpt::Md5Sig {
                addr,
                prefixlen,
                key,
                keylen,
            } => {
                let flat = key.concat();
                let secret = &flat[..usize::from(keylen).min(flat.len())];
                return self.tcp_md5_set_key(id, addr, prefixlen, secret);
            }
            SockOpt::FastOpenKey { primary, backup } => {
                sk.fastopen.keys = Some(super::fastopen::FastOpenKeys { primary, backup });
            }
            SockOpt::ReuseAddr(_) | SockOpt::Broadcast(_) | SockOpt::V6Only(_) => {}
        }
        Ok(())
    }
}
