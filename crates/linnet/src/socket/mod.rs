//! The socket layer: the user's side of the stack.
//!
//! Linux: net/socket.c and net/ipv4/af_inet.c (`inet_bind`, `inet_listen`, `inet_accept`,
//! `inet_stream_connect`, `inet_sendmsg`, `inet_recvmsg`, `inet_shutdown`, `inet_release`),
//! with the socket table standing in for the file descriptor table.
//!
//! Every call here is sans-I/O and never blocks: where Linux would sleep it returns
//! [`Errno::EAGAIN`] (or [`Errno::EINPROGRESS`] for `connect`), and the caller waits for
//! readiness with [`Stack::register_waker`] (which the blocking and async wrappers in
//! [`crate::api`] do).

use crate::errno::Errno;
use crate::stack::Stack;
use crate::time::Instant;
use crate::transport::tcp::sock::{TcpInfo, TcpState};
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, SocketAddr, SocketAddrV4};
use std::task::Waker;

pub use crate::core::sock::{
    MsgFlags, PollEvents, Shutdown, SockEntry, SockId, SockType, MAX_SOCKETS,
};
pub use crate::core::sockopt::SockOpt;
pub use crate::transport::Socket;

/// The stack's socket table, of TCP and UDP sockets.
pub type SocketTable = crate::core::sock::SocketTable<Socket>;

/// Names of socket options for `getsockopt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SockOptName {
    /// `SO_REUSEADDR`.
    ReuseAddr,
    /// `SO_RCVBUF`.
    RcvBuf,
    /// `SO_SNDBUF`.
    SndBuf,
    /// `SO_KEEPALIVE`.
    KeepAlive,
    /// `SO_LINGER`.
    Linger,
    /// `SO_BROADCAST`.
    Broadcast,
    /// `TCP_NODELAY`.
    NoDelay,
    /// `TCP_KEEPIDLE`.
    KeepIdle,
    /// `TCP_KEEPINTVL`.
    KeepIntvl,
    /// `TCP_KEEPCNT`.
    KeepCnt,
    /// `TCP_CONGESTION`.
    Congestion,
    /// `TCP_FASTOPEN`.
    FastOpen,
    /// `TCP_FASTOPEN_CONNECT`.
    FastOpenConnect,
    /// `TCP_FASTOPEN_NO_COOKIE`.
    FastOpenNoCookie,
    /// `TCP_FASTOPEN_KEY` (the listener's key, else the stack's).
    FastOpenKey,
    /// `SO_ERROR` (reading it clears the pending error).
    Error,
    /// `IPV6_V6ONLY`.
    V6Only,
}

/// What `getsockopt` returns.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum SockOptValue {
    /// An option's value.
    Opt(SockOpt),
    /// `SO_ERROR`: the pending error, if any.
    Error(Option<i32>),
}

/// One socket as `ss` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SocketInfo {
    /// Handle.
    pub id: SockId,
    /// `tcp` or `udp`.
    pub proto: String,
    /// State (`LISTEN`, `ESTAB`, `UNCONN`...).
    pub state: String,
    /// Bytes queued for reading (for a listener: the accept queue length).
    pub recv_q: u64,
    /// Bytes queued for sending (for a listener: the backlog).
    pub send_q: u64,
    /// Local address (`[2001:db8::2]:80` for an IPv6 socket, as `ss` prints it).
    pub local: SocketAddr,
    /// Peer address (`0.0.0.0:*` or `[::]:*` when none).
    pub remote: SocketAddr,
    /// TCP internals, for connected TCP sockets.
    pub tcp: Option<TcpInfo>,
    /// `IPV6_V6ONLY`: an IPv6 socket at `[::]` without it serves IPv4 too, and `ss` prints
    /// its wildcard as `*` (Linux: `INET_DIAG_SKV6ONLY`).
    #[serde(default)]
    pub v6only: bool,
}

impl Stack {
    /// Create a socket. Linux: `__sys_socket` → `inet_create`.
    pub fn socket(&mut self, ty: SockType) -> Result<SockId, Errno> {
        let sock = match ty {
            SockType::Stream => Socket::Tcp(Box::new(self.tcp_new_sock())),
            SockType::Dgram => Socket::Udp(Box::new(crate::transport::udp::UdpSock::new(
                self.config.tcp.rmem_default,
            ))),
        };
        let id = self.sockets.insert(sock)?;
        self.sockets.get_mut(id)?.v6only = self.ipv6.bindv6only;
        Ok(id)
    }

    /// Bind to a local address and port (port 0: pick an ephemeral one); an IPv6 address
    /// makes an IPv6 socket (a v4-mapped one binds its IPv4 address, `EINVAL` with
    /// `IPV6_V6ONLY`). Linux: `inet_bind` / `inet6_bind` → `inet_csk_get_port` /
    /// `udp_v4_get_port` / `udp_v6_get_port`.
    pub fn bind(&mut self, id: SockId, addr: impl Into<SocketAddr>) -> Result<(), Errno> {
        let addr = addr.into();
        let v4_ok = |s: &Self, ip: std::net::Ipv4Addr| {
            ip.is_unspecified() || s.is_local_addr(ip) || ip.is_broadcast()
        };
        match addr {
            SocketAddr::V4(a) if !v4_ok(self, *a.ip()) => return Err(Errno::EADDRNOTAVAIL),
            SocketAddr::V6(a) => match a.ip().to_ipv4_mapped() {
                Some(_) if self.sockets.get(id)?.v6only => return Err(Errno::EINVAL),
                Some(m) if !v4_ok(self, m) => return Err(Errno::EADDRNOTAVAIL),
                None if !a.ip().is_unspecified()
                    && !a.ip().is_loopback()
                    && !self.ipv6.ipv6_chk_addr(a.ip()) =>
                {
                    return Err(Errno::EADDRNOTAVAIL)
                }
                _ => {}
            },
            _ => {}
        }
        match &self.sockets.get(id)?.sock {
            Socket::Tcp(_) => self.tcp_bind(id, tcp_bind_addr(addr)?),
            Socket::Udp(_) => self.udp_bind(id, addr),
        }
    }

    /// Start listening. Linux: `inet_listen` → `inet_csk_listen_start`.
    pub fn listen(&mut self, id: SockId, backlog: u32) -> Result<(), Errno> {
        match &self.sockets.get(id)?.sock {
            Socket::Tcp(_) => self.tcp_listen(id, backlog),
            Socket::Udp(_) => Err(Errno::EOPNOTSUPP),
        }
    }

    /// Take an established connection from a listener's accept queue, with its peer.
    /// `EAGAIN` if none is ready. Linux: `inet_csk_accept`.
    pub fn accept(&mut self, id: SockId) -> Result<(SockId, SocketAddrV4), Errno> {
        match &self.sockets.get(id)?.sock {
            Socket::Tcp(_) => self.inet_csk_accept(id),
            Socket::Udp(_) => Err(Errno::EOPNOTSUPP),
        }
    }

    /// Connect. For TCP this sends a SYN and returns `EINPROGRESS`; later calls return
    /// `EALREADY` while connecting, `Ok` (or `EISCONN`) once established, or the error that
    /// ended the attempt. For UDP it sets the default peer. Linux: `inet_stream_connect` /
    /// `ip4_datagram_connect`.
    pub fn connect(
        &mut self,
        id: SockId,
        addr: impl Into<SocketAddr>,
        now: Instant,
    ) -> Result<(), Errno> {
        let addr = addr.into();
        match &self.sockets.get(id)?.sock {
            Socket::Tcp(t) => {
                // An IPV6_V6ONLY socket bound at [::] reaches no IPv4 peer. Linux:
                // tcp_v6_connect's ipv6_only_sock test on a v4-mapped destination.
                let e = self.sockets.get(id)?;
                if t.inet6
                    && e.v6only
                    && !matches!(addr.ip(), std::net::IpAddr::V6(a) if a.to_ipv4_mapped().is_none())
                {
                    return Err(Errno::ENETUNREACH);
                }
                self.tcp_v4_connect(id, inet4_only(addr)?.into(), now)
            }
            Socket::Udp(_) => self.udp_connect(id, addr),
        }
    }

    /// Send bytes on a connected socket; returns how many were queued (a partial write when
    /// the send buffer fills; `EAGAIN` when nothing fit). Linux: `tcp_sendmsg` / `udp_sendmsg`.
    pub fn send(&mut self, id: SockId, data: &[u8], now: Instant) -> Result<usize, Errno> {
        match &self.sockets.get(id)?.sock {
            Socket::Tcp(_) => self.tcp_sendmsg(id, data, now),
            Socket::Udp(_) => self.udp_sendmsg(id, data, None, now),
        }
    }

    /// [`Stack::send`] of a `MSG_ZEROCOPY` send: `frags` are the lengths of the user buffers
    /// the data was gathered from (a TCP skb holds at most 17 of them, as Linux's holds the
    /// pinned pages as fragments). Linnet copies; datagram sockets send as [`Stack::send`].
    pub fn send_zerocopy(
        &mut self,
        id: SockId,
        data: &[u8],
        frags: &[usize],
        now: Instant,
    ) -> Result<usize, Errno> {
        match &self.sockets.get(id)?.sock {
            Socket::Tcp(_) => self.tcp_sendmsg_frags(id, data, Some(frags), now),
            Socket::Udp(_) => self.udp_sendmsg(id, data, None, now),
        }
    }

    /// TCP Fast Open send (`sendto` with `MSG_FASTOPEN`, or the first `write` after a
    /// deferred `TCP_FASTOPEN_CONNECT`): connect to `dst` with the data in the SYN. Returns
    /// the bytes that went in the SYN, or `EINPROGRESS` when none could (no cookie yet: the
    /// SYN asks for one). On a connected socket it is a plain send (`dst` ignored);
    /// `EALREADY` while a connect is in progress; `EOPNOTSUPP` when `net.ipv4.tcp_fastopen`
    /// has the client bit off. The call never blocks: a blocking caller waits for the
    /// connection and sends the rest with [`Stack::send`]. Linux: `tcp_sendmsg_fastopen`.
    pub fn send_fastopen(
        &mut self,
        id: SockId,
        data: &[u8],
        dst: Option<SocketAddrV4>,
        now: Instant,
    ) -> Result<usize, Errno> {
        match &self.sockets.get(id)?.sock {
            Socket::Tcp(_) => self.tcp_sendmsg_fastopen(id, data, dst, now),
            Socket::Udp(_) => Err(Errno::EOPNOTSUPP),
        }
    }

    /// Mark the end of the data queued so far as a record end (`MSG_EOR`): no TCP segment
    /// will carry bytes from both sides of it. Datagram sockets: nothing to do.
    pub fn send_eor(&mut self, id: SockId) -> Result<(), Errno> {
        match &self.sockets.get(id)?.sock {
            Socket::Tcp(_) => self.tcp_mark_eor(id),
            Socket::Udp(_) => Ok(()),
        }
    }

    /// Send a datagram to `dst` (UDP). Linux: `udp_sendmsg` with `msg_name`.
    pub fn send_to(
        &mut self,
        id: SockId,
        data: &[u8],
        dst: impl Into<SocketAddr>,
        now: Instant,
    ) -> Result<usize, Errno> {
        match &self.sockets.get(id)?.sock {
            Socket::Tcp(_) => Err(Errno::EISCONN),
            Socket::Udp(_) => self.udp_sendmsg(id, data, Some(dst.into()), now),
        }
    }

    /// Receive bytes; `Ok(0)` is end of stream (TCP) or an empty datagram (UDP); `EAGAIN`
    /// when nothing is ready. Linux: `tcp_recvmsg` / `udp_recvmsg`.
    pub fn recv(
        &mut self,
        id: SockId,
        buf: &mut [u8],
        flags: MsgFlags,
        now: Instant,
    ) -> Result<usize, Errno> {
        match &self.sockets.get(id)?.sock {
            Socket::Tcp(_) => self.tcp_recvmsg(id, buf, flags, now),
            Socket::Udp(_) => self.udp_recvmsg(id, buf, flags).map(|(n, _)| n),
        }
    }

    /// Read a stream socket as `splice` does: like [`Stack::recv`], but stopping at the
    /// urgent byte without stepping over it (0 there). Linux: `tcp_read_sock`.
    pub fn recv_read_sock(
        &mut self,
        id: SockId,
        buf: &mut [u8],
        now: Instant,
    ) -> Result<usize, Errno> {
        self.sockets.tcp(id)?;
        self.tcp_recvmsg_at(
            id,
            buf,
            MsgFlags {
                peek: false,
                dontwait: true,
            },
            now,
            true,
        )
    }

    /// `recv(MSG_OOB)` on a stream socket: the urgent byte. Linux: `tcp_recv_urg`.
    pub fn recv_urg(&mut self, id: SockId, peek: bool) -> Result<u8, Errno> {
        self.tcp_recv_urg(id, peek)
    }

    /// Receive a datagram and its sender (UDP; an IPv4 sender of an IPv6 socket as
    /// `::ffff:a.b.c.d`); for TCP the peer address is returned.
    pub fn recv_from(
        &mut self,
        id: SockId,
        buf: &mut [u8],
        flags: MsgFlags,
        now: Instant,
    ) -> Result<(usize, SocketAddr), Errno> {
        match &self.sockets.get(id)?.sock {
            Socket::Tcp(t) => {
                let peer = t.remote;
                self.tcp_recvmsg(id, buf, flags, now).map(|n| (n, peer))
            }
            Socket::Udp(_) => self.udp_recvmsg(id, buf, flags),
        }
    }

    /// Shut down one or both directions. Linux: `inet_shutdown` → `tcp_shutdown`.
    pub fn shutdown(&mut self, id: SockId, how: Shutdown, now: Instant) -> Result<(), Errno> {
        match &self.sockets.get(id)?.sock {
            Socket::Tcp(_) => self.tcp_shutdown(id, how, now),
            Socket::Udp(_) => Ok(()),
        }
    }

    /// Close the handle. A TCP connection goes on in the background to deliver queued data and
    /// its FIN (or is reset: unread data, or `SO_LINGER` 0). Linux: `inet_release` → `tcp_close`.
    pub fn close(&mut self, id: SockId, now: Instant) -> Result<(), Errno> {
        match &self.sockets.get(id)?.sock {
            Socket::Tcp(_) => self.tcp_close(id, now),
            Socket::Udp(_) => {
                self.udp_unhash(id);
                self.sockets.remove(id);
                Ok(())
            }
        }
    }

    /// The local address. Linux: `inet_getname(peer = 0)`.
    pub fn getsockname(&self, id: SockId) -> Result<SocketAddr, Errno> {
        Ok(match &self.sockets.get(id)?.sock {
            Socket::Tcp(t) if t.inet6 => crate::core::inet_addr::v4_mapped(t.local),
            Socket::Tcp(t) => t.local,
            Socket::Udp(u) => u.local,
        })
    }

    /// The peer address, `ENOTCONN` if none. Linux: `inet_getname(peer = 1)`.
    pub fn getpeername(&self, id: SockId) -> Result<SocketAddr, Errno> {
        match &self.sockets.get(id)?.sock {
            Socket::Tcp(t) => match t.state {
                TcpState::Closed | TcpState::Listen | TcpState::SynSent => Err(Errno::ENOTCONN),
                _ if t.inet6 => Ok(crate::core::inet_addr::v4_mapped(t.remote)),
                _ => Ok(t.remote),
            },
            Socket::Udp(u) => u.remote.ok_or(Errno::ENOTCONN),
        }
    }

    /// Set an option. Linux: `sock_setsockopt` / `do_tcp_setsockopt`.
    pub fn setsockopt(&mut self, id: SockId, opt: SockOpt, now: Instant) -> Result<(), Errno> {
        let e = self.sockets.get_mut(id)?;
        match opt {
            SockOpt::ReuseAddr(v) => e.reuseaddr = v,
            SockOpt::V6Only(v) => {
                // Linux: EINVAL once bound (`inet_sk(sk)->inet_num`).
                let bound = match &e.sock {
                    Socket::Tcp(t) => t.local.port() != 0,
                    Socket::Udp(u) => u.local.port() != 0,
                };
                if bound {
                    return Err(Errno::EINVAL);
                }
                e.v6only = v;
            }
            SockOpt::Broadcast(v) => match &mut e.sock {
                Socket::Udp(u) => u.broadcast = v,
                Socket::Tcp(_) => {}
            },
            _ => {
                let Socket::Tcp(_) = &mut e.sock else {
                    return match opt {
                        SockOpt::RcvBuf(n) => {
                            if let Socket::Udp(u) = &mut e.sock {
                                u.rcvbuf = n.clamp(2048, 64 << 20);
                            }
                            Ok(())
                        }
                        SockOpt::SndBuf(_) => Ok(()),
                        _ => Err(Errno::ENOPROTOOPT),
                    };
                };
                return self.tcp_setsockopt(id, opt, now);
            }
        }
        Ok(())
    }

    /// Read an option. Linux: `sock_getsockopt` / `do_tcp_getsockopt`.
    pub fn getsockopt(&mut self, id: SockId, name: SockOptName) -> Result<SockOptValue, Errno> {
        let e = self.sockets.get_mut(id)?;
        let opt = match (name, &mut e.sock) {
            (SockOptName::ReuseAddr, _) => SockOpt::ReuseAddr(e.reuseaddr),
            (SockOptName::V6Only, _) => SockOpt::V6Only(e.v6only),
            (SockOptName::Error, Socket::Tcp(t)) => {
                return Ok(SockOptValue::Error(t.error.take().map(Errno::raw)))
            }
            (SockOptName::Error, Socket::Udp(u)) => {
                return Ok(SockOptValue::Error(u.error.take().map(Errno::raw)))
            }
            (SockOptName::Broadcast, Socket::Udp(u)) => SockOpt::Broadcast(u.broadcast),
            (SockOptName::RcvBuf, Socket::Udp(u)) => SockOpt::RcvBuf(u.rcvbuf),
            (SockOptName::RcvBuf, Socket::Tcp(t)) => SockOpt::RcvBuf(t.rcvbuf.capacity()),
            (SockOptName::SndBuf, Socket::Tcp(t)) => SockOpt::SndBuf(t.sndbuf.capacity()),
            (SockOptName::KeepAlive, Socket::Tcp(t)) => SockOpt::KeepAlive(t.keepalive),
            (SockOptName::Linger, Socket::Tcp(t)) => SockOpt::Linger(t.linger),
            (SockOptName::NoDelay, Socket::Tcp(t)) => SockOpt::NoDelay(t.nodelay),
            (SockOptName::KeepIdle, Socket::Tcp(t)) => SockOpt::KeepIdle(t.keep_idle),
            (SockOptName::KeepIntvl, Socket::Tcp(t)) => SockOpt::KeepIntvl(t.keep_intvl),
            (SockOptName::KeepCnt, Socket::Tcp(t)) => SockOpt::KeepCnt(t.keep_cnt),
            (SockOptName::Congestion, Socket::Tcp(t)) => {
                SockOpt::Congestion(t.cc.name().parse().map_err(|_| Errno::ENOPROTOOPT)?)
            }
            (SockOptName::FastOpen, Socket::Tcp(t)) => SockOpt::FastOpen(t.fastopen.max_qlen),
            (SockOptName::FastOpenConnect, Socket::Tcp(t)) => {
                SockOpt::FastOpenConnect(t.fastopen.connect)
            }
            (SockOptName::FastOpenNoCookie, Socket::Tcp(t)) => {
                SockOpt::FastOpenNoCookie(t.fastopen.no_cookie)
            }
            (SockOptName::FastOpenKey, Socket::Tcp(t)) => {
                let k = t.fastopen.keys.unwrap_or(self.tcp.fastopen_keys);
                SockOpt::FastOpenKey {
                    primary: k.primary,
                    backup: k.backup,
                }
            }
            _ => return Err(Errno::ENOPROTOOPT),
        };
        Ok(SockOptValue::Opt(opt))
    }

    /// Readiness of a socket. Linux: `tcp_poll` / `udp_poll`.
    pub fn poll_socket(&self, id: SockId) -> Result<PollEvents, Errno> {
        Ok(match &self.sockets.get(id)?.sock {
            Socket::Tcp(t) => crate::transport::tcp::user::tcp_poll(t),
            Socket::Udp(u) => u.poll(),
        })
    }

    /// Ask to be woken when the socket's readiness may have changed. Wakers fire once (after
    /// the next change) and are then forgotten; register again after each wake-up.
    pub fn register_waker(&mut self, id: SockId, waker: &Waker) -> Result<(), Errno> {
        let e = self.sockets.get_mut(id)?;
        if !e.wakers.iter().any(|w| w.will_wake(waker)) {
            e.wakers.push(waker.clone());
        }
        Ok(())
    }

    /// Wakers whose sockets changed since the last call; the runtime wakes them after
    /// releasing the stack.
    pub fn take_wakers(&mut self, out: &mut Vec<Waker>) {
        out.append(&mut self.pending_wakers);
    }

    /// Note that a socket's readiness may have changed. Linux: `sk->sk_data_ready` /
    /// `sk_state_change` / `sk_write_space`.
    pub(crate) fn sk_wake(&mut self, id: SockId) {
        self.trace_cur(crate::trace::Stage::SkWake, crate::trace::Detail::None);
        if let Ok(e) = self.sockets.get_mut(id) {
            self.pending_wakers.append(&mut e.wakers);
        }
    }

    /// The TCP socket behind a handle, read-only (`EBADF` for a stale handle, `EOPNOTSUPP`
    /// for a UDP socket): what `getsockopt(TCP_INFO)` and the `SIOC*` ioctls report.
    /// Linux: `tcp_sk(sock->sk)`.
    pub fn tcp_sock(&self, id: SockId) -> Result<&crate::transport::tcp::sock::TcpSock, Errno> {
        self.sockets.tcp(id)
    }

    /// The TCP state of a socket (`None` for a stale handle or a UDP socket).
    pub fn tcp_state(&self, id: SockId) -> Option<TcpState> {
        self.sockets.tcp(id).ok().map(|t| t.state)
    }

    /// `struct tcp_info` of a TCP socket (`None` for a stale handle or a UDP socket).
    /// Linux: `getsockopt(TCP_INFO)`.
    pub fn tcp_info(&self, id: SockId) -> Option<crate::transport::tcp::TcpInfo> {
        self.sockets.tcp(id).ok().map(|t| t.info())
    }

    /// Unread bytes of a TCP connection as (held in packet buffers queued zero-copy, copied
    /// into the receive ring), `None` for a stale handle or a UDP socket: diagnostics and
    /// tests of the receive path. Linux: no direct counterpart (`ss -m` shows the memory the
    /// receive queue holds, `skmem:r`).
    pub fn tcp_rcv_queues(&self, id: SockId) -> Option<(usize, usize)> {
        self.sockets
            .tcp(id)
            .ok()
            .map(|t| (t.rx_skb_bytes, t.rcv_queued() - t.rx_skb_bytes))
    }

    /// All sockets as `ss` lists them.
    pub fn sockets_info(&self) -> Vec<SocketInfo> {
        let unspec = SocketAddr::V4(SocketAddrV4::new(std::net::Ipv4Addr::UNSPECIFIED, 0));
        let unspec_of = |local: SocketAddr| match local {
            SocketAddr::V4(_) => unspec,
            SocketAddr::V6(_) => SocketAddr::new(IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED), 0),
        };
        self.sockets
            .iter()
            .map(|(id, e)| match &e.sock {
                Socket::Tcp(t) => SocketInfo {
                    id,
                    proto: "tcp".into(),
                    state: t.state.ss_name().into(),
                    recv_q: if t.state == TcpState::Listen {
                        t.accept_queue.len() as u64
                    } else {
                        t.rcv_queued() as u64
                    },
                    send_q: if t.state == TcpState::Listen {
                        t.backlog as u64
                    } else {
                        t.sndbuf.len() as u64
                    },
                    local: t.local,
                    remote: if t.state == TcpState::Listen {
                        unspec_of(t.local)
                    } else {
                        t.remote
                    },
                    tcp: if t.state.is_synchronized() || t.state == TcpState::SynSent {
                        Some(t.info())
                    } else {
                        None
                    },
                    v6only: e.v6only,
                },
                Socket::Udp(u) => SocketInfo {
                    id,
                    proto: "udp".into(),
                    state: if u.remote.is_some() {
                        "ESTAB"
                    } else {
                        "UNCONN"
                    }
                    .into(),
                    recv_q: u.rx_bytes as u64,
                    send_q: 0,
                    local: u.local,
                    remote: u.remote.unwrap_or(unspec_of(u.local)),
                    tcp: None,
                    v6only: e.v6only,
                },
            })
            .collect()
    }
}

/// The local address a TCP socket binds: IPv4 ones and v4-mapped ones (as their IPv4
/// address), and the IPv6 wildcard `[::]`, which receives IPv4 connections unless
/// `IPV6_V6ONLY` (a dual-stack listener); other IPv6 addresses are `EAFNOSUPPORT` until TCP
/// runs over IPv6.
fn tcp_bind_addr(a: SocketAddr) -> Result<SocketAddr, Errno> {
    match a {
        SocketAddr::V6(v) if v.ip().is_unspecified() => Ok(a),
        _ => inet4_only(a).map(SocketAddr::V4),
    }
}

/// The IPv4 address TCP (IPv4 only so far) takes: an IPv4 one, or a v4-mapped IPv6 one;
/// other IPv6 addresses are `EAFNOSUPPORT`.
pub fn inet4_only(a: SocketAddr) -> Result<SocketAddrV4, Errno> {
    match a {
        SocketAddr::V4(v) => Ok(v),
        SocketAddr::V6(v) => v
            .ip()
            .to_ipv4_mapped()
            .map(|m| SocketAddrV4::new(m, v.port()))
            .ok_or(Errno::EAFNOSUPPORT),
    }
}
