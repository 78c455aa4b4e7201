//! The socket system calls, in Rust: descriptors in, Linux's errno out.
//!
//! Linux: net/socket.c (`__sys_socket`, `__sys_bind`, `__sys_listen`, `do_accept`,
//! `__sys_connect`, `__sys_sendto`, `__sys_recvfrom`, `___sys_sendmsg`, `___sys_recvmsg`,
//! `__sys_shutdown`, `__sys_getsockname`, `__sys_getpeername`), fs/fcntl.c, fs/ioctl.c +
//! `tcp_ioctl`, and fs/select.c (`do_sys_poll`).

use crate::consts::*;
use crate::errno::{Errno, SysResult, EAGAIN, EINVAL, ENOTCONN, EOPNOTSUPP};
use crate::fd::{FdTable, File};
use crate::net::Net;
use crate::posix::{lx, Posix, Wait};
use linnet::socket::{MsgFlags, PollEvents, Shutdown, SockOpt, SockType};
use linnet::transport::tcp::sock::TcpState;
use std::net::{Ipv4Addr, SocketAddrV4};

/// What `recvmsg` returns besides the byte count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecvInfo {
    /// Bytes returned (for `MSG_TRUNC` on a datagram socket: the datagram's real length).
    pub len: usize,
    /// The sender (datagram sockets) or peer.
    pub from: Option<SocketAddrV4>,
    /// `msg_flags` (`MSG_TRUNC`...).
    pub flags: i32,
}

/// One entry of [`Posix::poll`]. Linux: `struct pollfd`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PollFd {
    /// Descriptor (negative: ignored).
    pub fd: i32,
    /// Requested events.
    pub events: i16,
    /// Returned events.
    pub revents: i16,
}

/// One event of [`Posix::epoll_wait`]. Linux: `struct epoll_event`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EpollEvent {
    /// `EPOLLIN`...
    pub events: u32,
    /// The user's data.
    pub data: u64,
}

/// Linux's full poll mask of a socket (`POLLIN|POLLRDNORM`, `POLLOUT|POLLWRNORM`, ...).
/// Linux: `tcp_poll` / `datagram_poll`.
pub(crate) fn sock_poll_mask(n: &Net, fd: i32) -> SysResult<u32> {
    let s = n.fds.sock(fd)?;
    let ev = lx(n.stack.poll_socket(s.id))?;
    let mut m = 0u32;
    if !s.errq.is_empty() {
        // Linux: a queued error-queue report raises POLLERR (sock_poll's sk_error_queue).
        m |= libc::POLLERR as u32;
    }
    if ev.contains(PollEvents::IN) {
        m |= (libc::POLLIN | libc::POLLRDNORM) as u32;
    }
    if ev.contains(PollEvents::OUT) {
        m |= (libc::POLLOUT | libc::POLLWRNORM) as u32;
    }
    if ev.contains(PollEvents::ERR) {
        m |= libc::POLLERR as u32;
    }
    if ev.contains(PollEvents::HUP) {
        m |= libc::POLLHUP as u32;
    }
    if ev.contains(PollEvents::RDHUP) {
        m |= libc::POLLRDHUP as u32;
    }
    // A TCP socket that is connected, or was, and is not listening: Linux reports a
    // never-connected socket as POLLOUT|POLLHUP ("closed"), see tcp_poll.
    if let Ok(t) = n.stack.tcp_sock(s.id) {
        if t.state == TcpState::Closed && t.remote.port() == 0 && t.error.is_none() {
            m |= (libc::POLLOUT | libc::POLLWRNORM | libc::POLLHUP) as u32;
        }
        // Linux: tcp_poll's __sk_stream_is_writeable(sk, 1) → tcp_stream_memory_free(sk, 1).
        if t.state.is_synchronized()
            && m & libc::POLLOUT as u32 != 0
            && !t.tcp_stream_memory_free(true)
        {
            m &= !((libc::POLLOUT | libc::POLLWRNORM) as u32);
        }
    }
    Ok(m)
}

fn parse_type(ty: i32) -> SysResult<(SockType, bool, bool)> {
    let base = ty & !(SOCK_NONBLOCK | SOCK_CLOEXEC);
    let st = match base {
        libc::SOCK_STREAM => SockType::Stream,
        libc::SOCK_DGRAM => SockType::Dgram,
        _ => return Err(Errno(libc::ESOCKTNOSUPPORT)),
    };
    Ok((st, ty & SOCK_NONBLOCK != 0, ty & SOCK_CLOEXEC != 0))
}

impl Posix {
    /// `socket(AF_INET, SOCK_STREAM|SOCK_DGRAM [|SOCK_NONBLOCK|SOCK_CLOEXEC], 0|IPPROTO_*)`.
    /// Linux: `__sys_socket` → `inet_create`.
    pub fn socket(&self, domain: i32, ty: i32, protocol: i32) -> SysResult<i32> {
        if domain != libc::AF_INET {
            return Err(Errno(libc::EAFNOSUPPORT));
        }
        if ty & !(SOCK_NONBLOCK | SOCK_CLOEXEC | 0xf) != 0 {
            return Err(EINVAL);
        }
        let (st, nonblock, cloexec) = parse_type(ty)?;
        let protocol = match (st, protocol) {
            (SockType::Stream, 0 | libc::IPPROTO_TCP) => libc::IPPROTO_TCP,
            (SockType::Dgram, 0 | libc::IPPROTO_UDP) => libc::IPPROTO_UDP,
            _ => return Err(Errno(libc::EPROTONOSUPPORT)),
        };
        self.sys(|n| {
            let id = lx(n.stack.socket(st))?;
            match n
                .fds
                .install(FdTable::new_sock(id, st, protocol, nonblock, cloexec))
            {
                Ok(fd) => {
                    let lowat = n.defaults.notsent_lowat;
                    n.fds.sock_mut(fd)?.opts.notsent_lowat = lowat;
                    if st == SockType::Stream && lowat != u32::MAX {
                        let now = n.now;
                        lx(n.stack.setsockopt(id, SockOpt::NotsentLowat(lowat), now))?;
                    }
                    Ok(fd)
                }
                Err(e) => {
                    let now = n.now;
                    let _ = n.stack.close(id, now);
                    Err(e)
                }
            }
        })
    }

    /// `bind`. Linux: `inet_bind`.
    pub fn bind(&self, fd: i32, addr: SocketAddrV4) -> SysResult<()> {
        self.sys(|n| {
            let id = n.fds.sock(fd)?.id;
            lx(n.stack.bind(id, addr))
        })
    }

    /// `listen`. Linux: `inet_listen`.
    pub fn listen(&self, fd: i32, backlog: i32) -> SysResult<()> {
        self.sys(|n| {
            let s = n.fds.sock(fd)?;
            if s.ty != SockType::Stream {
                return Err(EOPNOTSUPP);
            }
            let id = s.id;
            lx(n.stack.listen(id, backlog.max(0) as u32))
        })
    }

    /// `accept4`: the new descriptor and the peer. Linux: `do_accept` → `inet_accept`.
    pub fn accept4(&self, fd: i32, flags: i32) -> SysResult<(i32, SocketAddrV4)> {
        if flags & !(SOCK_NONBLOCK | SOCK_CLOEXEC) != 0 {
            return Err(EINVAL);
        }
        self.block(fd, Wait::Rcv, false, |n| {
            let s = n.fds.sock(fd)?;
            if s.ty != SockType::Stream {
                return Err(EOPNOTSUPP);
            }
            let (id, protocol) = (s.id, s.protocol);
            let (child, peer) = lx(n.stack.accept(id))?;
            let f = FdTable::new_sock(
                child,
                SockType::Stream,
                protocol,
                flags & SOCK_NONBLOCK != 0,
                flags & SOCK_CLOEXEC != 0,
            );
            // The child inherits the listener's options (Linux: sk_clone_lock copies the
            // sock, inet_sock and tcp_sock settings).
            let mut opts = n.fds.sock(fd)?.opts.clone();
            opts.connecting = false;
            opts.more = false;
            match n.fds.install(f) {
                Ok(nfd) => {
                    n.fds.sock_mut(nfd)?.opts = opts;
                    Ok((nfd, peer))
                }
                Err(e) => {
                    let now = n.now;
                    let _ = n.stack.close(child, now);
                    Err(e)
                }
            }
        })
    }

    /// `connect`. A blocking TCP socket waits for the handshake (up to `SO_SNDTIMEO`, then
    /// `EINPROGRESS`); a non-blocking one returns `EINPROGRESS`, later calls `EALREADY`, then
    /// 0 once, then `EISCONN`. `None` (`AF_UNSPEC`) dissolves a datagram association.
    /// Linux: `__inet_stream_connect` / `ip4_datagram_connect`.
    pub fn connect(&self, fd: i32, addr: Option<SocketAddrV4>) -> SysResult<()> {
        let Some(addr) = addr else {
            return self.sys(|n| {
                let s = n.fds.sock(fd)?;
                if s.ty == SockType::Dgram {
                    Ok(())
                } else {
                    Err(Errno(libc::EAFNOSUPPORT))
                }
            });
        };
        let first = self.sys(|n| {
            let s = n.fds.sock(fd)?;
            let (id, ty) = (s.id, s.ty);
            let now = n.now;
            let r = n.stack.connect(id, addr, now);
            let connecting = n.fds.sock(fd).map(|s| s.opts.connecting).unwrap_or(false);
            match r {
                Err(linnet::Errno::EINPROGRESS) => {
                    n.fds.sock_mut(fd)?.opts.connecting = true;
                    Err(Errno(libc::EINPROGRESS))
                }
                Err(linnet::Errno::EISCONN) if ty == SockType::Stream && connecting => {
                    n.fds.sock_mut(fd)?.opts.connecting = false;
                    Ok(())
                }
                Err(e) => {
                    if let Ok(s) = n.fds.sock_mut(fd) {
                        if e != linnet::Errno::EALREADY {
                            s.opts.connecting = false;
                        }
                    }
                    Err(e.into())
                }
                Ok(()) => Ok(()),
            }
        });
        if first != Err(Errno(libc::EINPROGRESS))
            || self.sys(|n| n.fds.sock(fd).map_or(true, |s| s.nonblock))
        {
            return first;
        }
        let r = self.block(fd, Wait::Snd, false, |n| {
            let s = n.fds.sock(fd)?;
            let id = s.id;
            match n.stack.tcp_state(id) {
                Some(TcpState::SynSent | TcpState::SynReceived) => Err(EAGAIN),
                _ => {
                    let now = n.now;
                    match n.stack.connect(id, addr, now) {
                        Err(linnet::Errno::EISCONN) => Ok(()),
                        r => lx(r),
                    }
                }
            }
        });
        match r {
            Err(e) if e == EAGAIN => Err(Errno(libc::EINPROGRESS)),
            r => {
                if let Ok(()) = r {
                    self.sys(|n| {
                        if let Ok(s) = n.fds.sock_mut(fd) {
                            s.opts.connecting = false;
                        }
                    });
                }
                r
            }
        }
    }

    /// `sendmsg` with the data in `bufs`, to `dst` for an unconnected datagram socket.
    /// A blocking stream socket waits for room until everything is queued (or its
    /// `SO_SNDTIMEO` passes: then the count so far, or `EAGAIN`). Linux: `tcp_sendmsg_locked`
    /// (`sk_stream_wait_memory`) / `udp_sendmsg`.
    pub fn sendmsg(
        &self,
        fd: i32,
        bufs: &[&[u8]],
        dst: Option<SocketAddrV4>,
        flags: i32,
    ) -> SysResult<usize> {
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        let gathered;
        let data: &[u8] = match bufs {
            [] => &[],
            [one] => one,
            _ => {
                gathered = bufs.concat();
                &gathered
            }
        };
        debug_assert_eq!(data.len(), total);
        let dontwait = flags & libc::MSG_DONTWAIT != 0;
        let more = flags & libc::MSG_MORE != 0;
        let zerocopy = flags & libc::MSG_ZEROCOPY != 0
            && self.sys(|n| n.fds.sock(fd).is_ok_and(|s| s.opts.zerocopy));
        let mut sent = 0usize;
        let mut zc_id = None;
        // The first write after a deferred TCP_FASTOPEN_CONNECT connects as
        // sendto(MSG_FASTOPEN) does (Linux: tcp_sendmsg_locked with DEFER_CONNECT).
        let deferred = self.sys(|n| {
            n.fds.sock(fd).is_ok_and(|s| {
                s.ty == SockType::Stream
                    && n.stack
                        .tcp_sock(s.id)
                        .is_ok_and(|t| t.fastopen.defer_connect)
            })
        });
        if flags & libc::MSG_FASTOPEN != 0 || deferred {
            if let Some(k) = self.sendmsg_fastopen(fd, data, dst, dontwait)? {
                if k > 0 && zerocopy {
                    // The SYN's data is a zerocopy send of its own (Linux:
                    // tcp_sendmsg_fastopen with the msg's uarg).
                    self.sys(|n| {
                        let id = n.fds.sock(fd)?.id;
                        zerocopy_record(n, fd, id, &mut zc_id)
                    })?;
                }
                if k == data.len() {
                    return Ok(k);
                }
                sent = k;
            }
        }
        let r = self.block(fd, Wait::Write, dontwait, |n| {
            let s = n.fds.sock(fd)?;
            let (id, ty) = (s.id, s.ty);
            let now = n.now;
            if ty == SockType::Dgram {
                return match dst {
                    Some(d) => lx(n.stack.send_to(id, data, d, now)),
                    None => lx(n.stack.send(id, data, now)),
                };
            }
            if flags & libc::MSG_OOB != 0 {
                return Err(EOPNOTSUPP);
            }
            if more != n.fds.sock(fd)?.opts.more {
                n.fds.sock_mut(fd)?.opts.more = more;
                lx(n.stack.setsockopt(id, SockOpt::MsgMore(more), now))?;
            }
            loop {
                if sent == data.len() && !(data.is_empty() && sent == 0) {
                    return Ok(sent);
                }
                let r = if zerocopy {
                    // Each user buffer is a fragment of its own (Linux pins their pages).
                    let mut skip = sent;
                    let frags: Vec<usize> = bufs
                        .iter()
                        .filter_map(|b| {
                            let l = b.len().saturating_sub(skip);
                            skip = skip.saturating_sub(b.len());
                            (l > 0).then_some(l)
                        })
                        .collect();
                    n.stack.send_zerocopy(id, &data[sent..], &frags, now)
                } else {
                    n.stack.send(id, &data[sent..], now)
                };
                if let Ok(k) = r {
                    if k > 0 && zerocopy {
                        zerocopy_record(n, fd, id, &mut zc_id)?;
                    }
                }
                if flags & libc::MSG_EOR != 0 && matches!(r, Ok(k) if sent + k == data.len()) {
                    lx(n.stack.send_eor(id))?;
                }
                match r {
                    Ok(0) if data.is_empty() => return Ok(0),
                    Ok(k) => {
                        sent += k;
                        if sent < data.len() {
                            // Let the device take what that part sent before queueing
                            // more (Linux transmits synchronously within tcp_sendmsg).
                            n.run();
                        }
                    }
                    Err(linnet::Errno::EAGAIN)
                        if sent > 0 && (dontwait || n.fds.sock(fd)?.nonblock) =>
                    {
                        return Ok(sent)
                    }
                    Err(linnet::Errno::EAGAIN) => return Err(EAGAIN),
                    Err(e) if sent > 0 => {
                        let _ = e;
                        return Ok(sent);
                    }
                    Err(linnet::Errno::EPIPE) => return Err(Errno(libc::EPIPE)),
                    Err(e) => return Err(e.into()),
                }
            }
        });
        let r = match r {
            Err(e) if e == EAGAIN && sent > 0 => Ok(sent),
            r => r,
        };
        if matches!(r, Ok(k) if k > 0) {
            self.sys(|n| tx_timestamp_record(n, fd));
        }
        r
    }

    /// `sendto(MSG_FASTOPEN)` on a stream socket: connect with the data in the SYN
    /// (`Stack::send_fastopen`). Non-blocking: the bytes the SYN took, or `EINPROGRESS`. Blocking:
    /// waits for the connection's outcome (its error, if it failed), then `Some(bytes sent)`
    /// for the caller to send the rest. `None` for a datagram socket. Linux:
    /// `tcp_sendmsg_fastopen` → `__inet_stream_connect`.
    fn sendmsg_fastopen(
        &self,
        fd: i32,
        data: &[u8],
        dst: Option<SocketAddrV4>,
        dontwait: bool,
    ) -> SysResult<Option<usize>> {
        let first = self.sys(
            |n| -> SysResult<Option<(Result<usize, linnet::Errno>, bool)>> {
                let s = n.fds.sock(fd)?;
                let (id, nb) = (s.id, s.nonblock);
                if s.ty == SockType::Dgram {
                    return Ok(None);
                }
                let now = n.now;
                let r = n.stack.send_fastopen(id, data, dst, now);
                n.run();
                Ok(Some((r, nb || dontwait)))
            },
        )?;
        let (r, nonblock) = match first {
            None => return Ok(None),
            Some(x) => x,
        };
        let k = match r {
            Ok(k) if nonblock => return Ok(Some(k)),
            Err(linnet::Errno::EINPROGRESS) if nonblock => return Err(Errno(libc::EINPROGRESS)),
            Ok(k) => k,
            Err(linnet::Errno::EINPROGRESS) => 0,
            Err(e) => return Err(e.into()),
        };
        // The waiter counts as a pending writer only while data is left for after the
        // handshake (Linux: inet_wait_for_connect's writebias, fastopen_req->data).
        let wait = if k < data.len() {
            Wait::Write
        } else {
            Wait::Snd
        };
        self.block(fd, wait, false, |n| {
            let id = n.fds.sock(fd)?.id;
            if n.stack.tcp_state(id) == Some(TcpState::SynSent) {
                return Err(EAGAIN);
            }
            match n.stack.getsockopt(id, linnet::socket::SockOptName::Error) {
                Ok(linnet::socket::SockOptValue::Error(Some(e))) => Err(Errno(e)),
                _ => Ok(()),
            }
        })?;
        Ok(Some(k))
    }

    /// `sendto(MSG_FASTOPEN)` to an `AF_UNSPEC` address: a stream socket refuses it with
    /// `EOPNOTSUPP` (other sockets ignore the flag). Linux: `tcp_sendmsg_fastopen`.
    pub fn fastopen_af_unspec(&self, fd: i32) -> SysResult<()> {
        self.sys(|n| match n.fds.sock(fd)?.ty {
            SockType::Stream => Err(EOPNOTSUPP),
            _ => Ok(()),
        })
    }

    /// `send`/`write`.
    pub fn send(&self, fd: i32, buf: &[u8], flags: i32) -> SysResult<usize> {
        self.sendmsg(fd, &[buf], None, flags)
    }

    /// `recvmsg` into `bufs`. `MSG_PEEK` leaves the data queued, `MSG_WAITALL` waits until
    /// every buffer is full (or end of stream / an error), `MSG_TRUNC` on a stream discards the
    /// bytes. A blocking socket waits for data up to `SO_RCVTIMEO`. Linux: `tcp_recvmsg` /
    /// `udp_recvmsg`.
    pub fn recvmsg(&self, fd: i32, bufs: &mut [&mut [u8]], flags: i32) -> SysResult<RecvInfo> {
        if flags & libc::MSG_ERRQUEUE != 0 {
            // The error queue carries only zerocopy reports, which need a control message:
            // see Posix::recv_errqueue.
            return self.recv_errqueue(fd).map(|_| RecvInfo {
                len: 0,
                from: None,
                flags: libc::MSG_ERRQUEUE,
            });
        }
        if flags & libc::MSG_OOB != 0 {
            return self.recv_oob(fd, bufs, flags);
        }
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        let peek = flags & libc::MSG_PEEK != 0;
        let trunc = flags & libc::MSG_TRUNC != 0;
        let waitall = flags & libc::MSG_WAITALL != 0 && !peek;
        let dontwait = flags & libc::MSG_DONTWAIT != 0;
        let mut got = 0usize;
        let mut scratch: Vec<u8> = Vec::new();
        let r = self.block(fd, Wait::Rcv, dontwait, |n| {
            let s = n.fds.sock(fd)?;
            let (id, ty) = (s.id, s.ty);
            let now = n.now;
            let mf = MsgFlags {
                peek,
                dontwait: true,
            };
            if ty == SockType::Dgram {
                let (k, from) = match bufs.len() {
                    1 => lx(n.stack.recv_from(id, bufs[0], mf, now))?,
                    _ => {
                        scratch.resize(total, 0);
                        let (k, from) = lx(n.stack.recv_from(id, &mut scratch, mf, now))?;
                        scatter(&scratch[..k], bufs);
                        (k, from)
                    }
                };
                return Ok(RecvInfo {
                    len: k,
                    from: linnet::socket::inet4_only(from).ok(),
                    flags: 0,
                });
            }
            let peer = n
                .stack
                .getpeername(id)
                .and_then(linnet::socket::inet4_only)
                .ok();
            loop {
                if got == total && (total > 0 || got > 0) {
                    break;
                }
                let want = total - got;
                let r = if trunc || bufs.len() != 1 || peek {
                    scratch.resize(if peek { total } else { want }, 0);
                    let r = lx(n.stack.recv(id, &mut scratch, mf, now));
                    if let Ok(k) = r {
                        if peek {
                            if !trunc {
                                scatter(&scratch[..k], bufs);
                            }
                            return Ok(RecvInfo {
                                len: k,
                                from: peer,
                                flags: 0,
                            });
                        }
                        if !trunc {
                            scatter_at(&scratch[..k], bufs, got);
                        }
                    }
                    r
                } else {
                    lx(n.stack.recv(id, &mut bufs[0][got..], mf, now))
                };
                match r {
                    Ok(0) => break,
                    Ok(k) => {
                        got += k;
                        if !waitall {
                            break;
                        }
                    }
                    Err(e) if e == EAGAIN && got > 0 && (!waitall || dontwait) => break,
                    Err(e) if e == EAGAIN => return Err(EAGAIN),
                    Err(_) if got > 0 => break,
                    Err(e) => return Err(e),
                }
            }
            Ok(RecvInfo {
                len: got,
                from: peer,
                flags: 0,
            })
        });
        match r {
            Err(e) if e == EAGAIN && got > 0 => Ok(RecvInfo {
                len: got,
                from: None,
                flags: 0,
            }),
            r => r,
        }
    }

    /// `recvmsg(MSG_OOB)`: the urgent byte of a stream socket (`EINVAL` if there is none,
    /// `EAGAIN` while announced but not here; blocking sockets wait for it). Linux:
    /// `tcp_recv_urg`.
    fn recv_oob(&self, fd: i32, bufs: &mut [&mut [u8]], flags: i32) -> SysResult<RecvInfo> {
        let peek = flags & libc::MSG_PEEK != 0;
        let dontwait = flags & libc::MSG_DONTWAIT != 0;
        self.block(fd, Wait::Rcv, dontwait, |n| {
            let s = n.fds.sock(fd)?;
            if s.ty != SockType::Stream {
                return Err(EOPNOTSUPP);
            }
            let id = s.id;
            let b = lx(n.stack.recv_urg(id, peek))?;
            let total: usize = bufs.iter().map(|b| b.len()).sum();
            if total == 0 {
                return Ok(RecvInfo {
                    len: 0,
                    from: None,
                    flags: libc::MSG_TRUNC,
                });
            }
            scatter(&[b], bufs);
            Ok(RecvInfo {
                len: 1,
                from: None,
                flags: libc::MSG_OOB,
            })
        })
    }

    /// `recv`/`read`.
    pub fn recv(&self, fd: i32, buf: &mut [u8], flags: i32) -> SysResult<usize> {
        self.recvmsg(fd, &mut [buf], flags).map(|r| r.len)
    }

    /// `shutdown` (`SHUT_RD`, `SHUT_WR`, `SHUT_RDWR`). Linux: `inet_shutdown`.
    pub fn shutdown(&self, fd: i32, how: i32) -> SysResult<()> {
        let how = match how {
            libc::SHUT_RD => Shutdown::Read,
            libc::SHUT_WR => Shutdown::Write,
            libc::SHUT_RDWR => Shutdown::Both,
            _ => return Err(EINVAL),
        };
        self.sys(|n| {
            let s = n.fds.sock(fd)?;
            let (id, ty) = (s.id, s.ty);
            if ty == SockType::Dgram && n.stack.getpeername(id).is_err() {
                return Err(ENOTCONN);
            }
            let now = n.now;
            lx(n.stack.shutdown(id, how, now))
        })
    }

    /// `close`. Linux: `close_fd` → `sock_close` → `inet_release`.
    pub fn close(&self, fd: i32) -> SysResult<()> {
        self.sys(|n| {
            let f = n.fds.remove(fd)?;
            if let File::Sock(s) = f {
                let now = n.now;
                let _ = n.stack.close(s.id, now);
            }
            Ok(())
        })
    }

    /// `getsockname`. Linux: `inet_getname(peer = 0)`.
    pub fn getsockname(&self, fd: i32) -> SysResult<SocketAddrV4> {
        self.sys(|n| {
            let id = n.fds.sock(fd)?.id;
            lx(n.stack.getsockname(id).and_then(linnet::socket::inet4_only))
        })
    }

    /// `getpeername`. Linux: `inet_getname(peer = 1)`.
    pub fn getpeername(&self, fd: i32) -> SysResult<SocketAddrV4> {
        self.sys(|n| {
            let id = n.fds.sock(fd)?.id;
            lx(n.stack.getpeername(id).and_then(linnet::socket::inet4_only))
        })
    }

    /// `fcntl` with `F_GETFL`, `F_SETFL` (`O_NONBLOCK`), `F_GETFD`, `F_SETFD` (`FD_CLOEXEC`).
    /// Linux: `do_fcntl`.
    pub fn fcntl(&self, fd: i32, cmd: i32, arg: i64) -> SysResult<i32> {
        self.sys(|n| {
            let f = n.fds.get_mut(fd)?;
            let (nonblock, cloexec) = match f {
                File::Sock(s) => (&mut s.nonblock, &mut s.cloexec),
                File::Epoll(e) => {
                    let mut nb = false;
                    return match cmd {
                        libc::F_GETFL => Ok(libc::O_RDWR),
                        libc::F_SETFL => Ok(0),
                        libc::F_GETFD => Ok(e.cloexec as i32),
                        libc::F_SETFD => {
                            e.cloexec = arg & libc::FD_CLOEXEC as i64 != 0;
                            nb |= false;
                            Ok(nb as i32)
                        }
                        _ => Err(EINVAL),
                    };
                }
            };
            match cmd {
                libc::F_GETFL => Ok(libc::O_RDWR | if *nonblock { libc::O_NONBLOCK } else { 0 }),
                libc::F_SETFL => {
                    *nonblock = arg & libc::O_NONBLOCK as i64 != 0;
                    Ok(0)
                }
                libc::F_GETFD => Ok(if *cloexec { libc::FD_CLOEXEC } else { 0 }),
                libc::F_SETFD => {
                    *cloexec = arg & libc::FD_CLOEXEC as i64 != 0;
                    Ok(0)
                }
                _ => Err(EINVAL),
            }
        })
    }

    /// `ioctl` requests that read an int: `FIONREAD`/`SIOCINQ` (unread bytes; `EINVAL` on a
    /// listener), `SIOCOUTQ` (unacknowledged + unsent), `SIOCOUTQNSD` (unsent). Linux:
    /// `tcp_ioctl` / `udp_ioctl`.
    pub fn ioctl_get(&self, fd: i32, request: u64) -> SysResult<i32> {
        self.sys(|n| {
            let s = n.fds.sock(fd)?;
            let (id, ty) = (s.id, s.ty);
            if ty == SockType::Dgram {
                return match request {
                    r if r == FIONREAD => {
                        let info = n.stack.sockets_info();
                        Ok(info
                            .iter()
                            .find(|i| i.id == id)
                            .map_or(0, |i| i.recv_q as i32))
                    }
                    r if r == SIOCOUTQ => Ok(0),
                    _ => Err(Errno(libc::ENOTTY)),
                };
            }
            let t = lx(n.stack.tcp_sock(id))?;
            match request {
                r if r == FIONREAD => {
                    if t.state == TcpState::Listen {
                        Err(EINVAL)
                    } else {
                        Ok(t.rcv_queued() as i32)
                    }
                }
                r if r == SIOCOUTQ => {
                    if t.state == TcpState::Listen {
                        Err(EINVAL)
                    } else {
                        Ok(t.sndbuf.len() as i32)
                    }
                }
                r if r == SIOCOUTQNSD => {
                    if t.state == TcpState::Listen {
                        Err(EINVAL)
                    } else {
                        Ok(crate::sockopt::notsent_bytes(t) as i32)
                    }
                }
                _ => Err(Errno(libc::ENOTTY)),
            }
        })
    }

    /// `ioctl(FIONBIO, &on)`: set or clear `O_NONBLOCK`.
    pub fn ioctl_fionbio(&self, fd: i32, on: bool) -> SysResult<()> {
        self.sys(|n| match n.fds.get_mut(fd)? {
            File::Sock(s) => {
                s.nonblock = on;
                Ok(())
            }
            File::Epoll(_) => Ok(()),
        })
    }

    /// `poll`: fills each `revents`, returns how many are nonzero; waits up to `timeout_ms`
    /// (negative: forever) of virtual time. Linux: `do_sys_poll`.
    pub fn poll(&self, fds: &mut [PollFd], timeout_ms: i32) -> SysResult<usize> {
        self.wait_ready(timeout_ms, |n| {
            let mut count = 0;
            for p in fds.iter_mut() {
                p.revents = 0;
                if p.fd < 0 {
                    continue;
                }
                let m = match n.fds.get(p.fd) {
                    Err(_) => libc::POLLNVAL as u32,
                    Ok(File::Epoll(_)) => 0,
                    Ok(File::Sock(_)) => sock_poll_mask(n, p.fd)?,
                };
                let want = p.events as u16 as u32
                    | (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) as u32;
                p.revents = (m & want) as u16 as i16;
                if p.revents != 0 {
                    count += 1;
                }
            }
            Ok(count)
        })
    }
}

/// With `SO_TIMESTAMPING` transmit reports on, follow the last byte queued (Linux:
/// `tcp_tx_timestamp` on the tail skb at the end of `tcp_sendmsg`).
fn tx_timestamp_record(n: &mut Net, fd: i32) {
    use crate::fd::{
        SOF_TIMESTAMPING_OPT_ID, SOF_TIMESTAMPING_TX_ACK, SOF_TIMESTAMPING_TX_SCHED,
        SOF_TIMESTAMPING_TX_SOFTWARE,
    };
    let Ok(s) = n.fds.sock(fd) else { return };
    let flags = s.opts.timestamping as u32;
    let tx = SOF_TIMESTAMPING_TX_SCHED | SOF_TIMESTAMPING_TX_SOFTWARE | SOF_TIMESTAMPING_TX_ACK;
    if flags & tx == 0 {
        return;
    }
    let Ok(t) = n.stack.tcp_sock(s.id) else {
        return;
    };
    let last = t.data_end() - 1;
    let Ok(s) = n.fds.sock_mut(fd) else { return };
    let key = if flags & SOF_TIMESTAMPING_OPT_ID != 0 {
        (last - s.ts.base) as u32
    } else {
        0
    };
    s.ts.inflight.push_back((last, key, false));
}

/// A `MSG_ZEROCOPY` send queued bytes: it completes when they are acknowledged. A send that
/// queues in several steps (blocking) is one id, complete with its last byte.
fn zerocopy_record(
    n: &mut Net,
    fd: i32,
    id: linnet::SockId,
    this: &mut Option<u32>,
) -> SysResult<()> {
    let end = lx(n.stack.tcp_sock(id))?.data_end();
    let zc = &mut n.fds.sock_mut(fd)?.zc;
    match *this {
        Some(zid) => {
            if let Some(last) = zc.inflight.iter_mut().rev().find(|e| e.1 == zid) {
                last.0 = end;
            }
        }
        None => {
            let zid = zc.next;
            zc.next = zc.next.wrapping_add(1);
            zc.inflight.push_back((end, zid));
            *this = Some(zid);
        }
    }
    Ok(())
}

/// A report on the error queue. Linux: `struct sock_extended_err` (+ `scm_timestamping`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrReport {
    /// `MSG_ZEROCOPY` sends `lo..=hi` completed (`SO_EE_ORIGIN_ZEROCOPY`, `ee_info` = lo,
    /// `ee_data` = hi, `SO_EE_CODE_ZEROCOPY_COPIED`: Linnet copies).
    Zerocopy {
        /// First id.
        lo: u32,
        /// Last id.
        hi: u32,
    },
    /// A transmit timestamp (`SO_EE_ORIGIN_TIMESTAMPING`, `ee_info` = `SCM_TSTAMP_*`,
    /// `ee_data` = key) taken at `at`.
    Timestamp {
        /// `SCM_TSTAMP_SND` (0), `SCM_TSTAMP_SCHED` (1) or `SCM_TSTAMP_ACK` (2).
        kind: u32,
        /// The key (`SOF_TIMESTAMPING_OPT_ID`: the last byte's offset).
        key: u32,
        /// When.
        at: linnet::Instant,
        /// `SOF_TIMESTAMPING_OPT_TSONLY`: no packet comes with it (no `MSG_TRUNC`).
        tsonly: bool,
    },
}

impl Posix {
    /// `recvmsg(MSG_ERRQUEUE)`: the oldest report, `EAGAIN` if none. Linux:
    /// `ip_recv_error`.
    pub fn recv_errqueue(&self, fd: i32) -> SysResult<ErrReport> {
        self.sys(|n| n.fds.sock_mut(fd)?.errq.pop_front().ok_or(EAGAIN))
    }

    /// Whether `fd` is a datagram socket.
    pub fn is_dgram(&self, fd: i32) -> bool {
        self.sys(|n| n.fds.sock(fd).is_ok_and(|s| s.ty == SockType::Dgram))
    }

    /// With `TCP_INQ` on, the bytes left to read on `fd` (what `TCP_CM_INQ` reports).
    pub fn tcp_inq(&self, fd: i32) -> Option<i32> {
        self.sys(|n| {
            let s = n.fds.sock(fd).ok()?;
            if !s.opts.inq {
                return None;
            }
            let t = n.stack.tcp_sock(s.id).ok()?;
            // Linux: tcp_inq_hint counts one byte for a received FIN when nothing is left.
            let q = t.rcv_queued() as i32;
            Some(if q == 0 && t.fin_rcvd { 1 } else { q })
        })
    }

    /// `EBADF` unless `fd` is open.
    pub fn fd_exists(&self, fd: i32) -> SysResult<()> {
        self.sys(|n| n.fds.get(fd).map(|_| ()))
    }
}

/// Copy `src` across `bufs` in order.
fn scatter(src: &[u8], bufs: &mut [&mut [u8]]) {
    scatter_at(src, bufs, 0);
}

/// Copy `src` across `bufs` starting `at` bytes into their concatenation.
fn scatter_at(mut src: &[u8], bufs: &mut [&mut [u8]], mut at: usize) {
    for b in bufs.iter_mut() {
        if src.is_empty() {
            break;
        }
        if at >= b.len() {
            at -= b.len();
            continue;
        }
        let k = (b.len() - at).min(src.len());
        b[at..at + k].copy_from_slice(&src[..k]);
        src = &src[k..];
        at = 0;
    }
}

/// An `AF_INET` address of `sockaddr_in`'s bytes.
pub fn unspecified() -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)
}
