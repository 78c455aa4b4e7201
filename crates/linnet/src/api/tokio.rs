//! The async flavour: [`TcpListener`] and [`TcpStream`] for tokio, with `AsyncRead` and
//! `AsyncWrite`; [`UdpSocket`] with async `send_to`/`recv_from`. Behind the `tokio` feature.
//!
//! Every poll takes the stack's lock, tries the non-blocking socket call, and when it would
//! block registers the task's waker on the socket inside the same critical section, so a
//! readiness change between the attempt and the registration cannot be missed (Linux: the
//! socket's wait queue with `sk_wait_event`; here the wait queue wakes a task, not a thread).
//! The stack runs on its own thread ([`crate::runtime::spawn`]); no tokio reactor is needed
//! beyond the executor that polls these futures.

use super::tcp::errno_from_raw;
use crate::errno::Errno;
use crate::runtime::Handle;
use crate::socket::SockType;
use crate::socket::{MsgFlags, PollEvents, Shutdown, SockId, SockOpt, SockOptName, SockOptValue};
use crate::stack::Stack;
use crate::time::Instant;
use std::future::poll_fn;
use std::io;
use std::net::{SocketAddr, SocketAddrV4};
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Try `op`; on "would block" register `cx`'s waker in the same lock and return `Pending`.
fn poll_op<R>(
    h: &Handle,
    id: SockId,
    cx: &mut Context<'_>,
    op: impl FnOnce(&mut Stack, Instant) -> Result<R, Errno>,
) -> Poll<io::Result<R>> {
    let r = h.call(|s, now| {
        let r = op(s, now);
        if matches!(r, Err(Errno::EAGAIN | Errno::EINPROGRESS | Errno::EALREADY)) {
            let _ = s.register_waker(id, cx.waker());
        }
        r
    });
    match r {
        Err(e) => Poll::Ready(Err(e)),
        Ok(Err(Errno::EAGAIN | Errno::EINPROGRESS | Errno::EALREADY)) => Poll::Pending,
        Ok(r) => Poll::Ready(r.map_err(io::Error::from)),
    }
}

/// A listening TCP socket for async code, like `tokio::net::TcpListener`.
pub struct TcpListener {
    h: Handle,
    id: SockId,
}

impl TcpListener {
    /// `socket` + `SO_REUSEADDR` + `bind` + `listen(128)`. Does not wait, so it is not async.
    pub fn bind(h: &Handle, addr: impl Into<SocketAddr>) -> io::Result<TcpListener> {
        Self::bind_with_backlog(h, addr, 128)
    }

    /// Like [`TcpListener::bind`] with an explicit backlog (capped by `net.core.somaxconn`,
    /// so `u32::MAX` asks for the most the stack allows, as `listen(fd, -1)` does on Linux).
    pub fn bind_with_backlog(
        h: &Handle,
        addr: impl Into<SocketAddr>,
        backlog: u32,
    ) -> io::Result<TcpListener> {
        let l = super::TcpListener::bind_with_backlog(h, addr, backlog)?;
        // Take over the socket from the blocking wrapper without closing it.
        let id = l.id();
        std::mem::forget(l);
        Ok(TcpListener { h: h.clone(), id })
    }

    /// Accept a connection. Linux: `accept(2)` → `inet_csk_accept`.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddrV4)> {
        poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// Poll for a connection.
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddrV4)>> {
        poll_op(&self.h, self.id, cx, |s, _| s.accept(self.id)).map_ok(|(id, peer)| {
            (
                TcpStream {
                    h: self.h.clone(),
                    id,
                },
                peer,
            )
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddrV4> {
        Ok(self
            .h
            .call(|s, _| s.getsockname(self.id).and_then(crate::socket::inet4_only))??)
    }

    /// Any socket option; connections accepted later inherit the buffer sizes (Linux:
    /// `SO_RCVBUF`/`SO_SNDBUF` set on a listener).
    pub fn set_option(&self, opt: SockOpt) -> io::Result<()> {
        Ok(self.h.call(|s, now| s.setsockopt(self.id, opt, now))??)
    }
}

impl Drop for TcpListener {
    fn drop(&mut self) {
        let _ = self.h.call(|s, now| s.close(self.id, now));
    }
}

/// A TCP connection for async code, like `tokio::net::TcpStream`.
pub struct TcpStream {
    h: Handle,
    id: SockId,
}

impl TcpStream {
    /// Connect, completing the handshake asynchronously. Linux: `connect(2)` on a
    /// non-blocking socket, then waiting for POLLOUT and reading `SO_ERROR`.
    pub async fn connect(h: &Handle, addr: SocketAddrV4) -> io::Result<TcpStream> {
        let id = h.call(|s, _| s.socket(SockType::Stream))??;
        let stream = TcpStream { h: h.clone(), id };
        match h.call(|s, now| s.connect(id, addr, now))? {
            Ok(()) | Err(Errno::EINPROGRESS) => {}
            Err(e) => return Err(e.into()),
        }
        poll_fn(|cx| {
            poll_op(h, id, cx, |s, _| {
                let ev = s.poll_socket(id)?;
                if !ev.intersects(PollEvents::OUT | PollEvents::ERR | PollEvents::HUP) {
                    return Err(Errno::EINPROGRESS);
                }
                match s.getsockopt(id, SockOptName::Error)? {
                    SockOptValue::Error(Some(e)) => Err(errno_from_raw(e)),
                    _ => Ok(()),
                }
            })
        })
        .await?;
        Ok(stream)
    }

    /// The peer. Linux: `getpeername(2)`.
    pub fn peer_addr(&self) -> io::Result<SocketAddrV4> {
        Ok(self
            .h
            .call(|s, _| s.getpeername(self.id).and_then(crate::socket::inet4_only))??)
    }

    /// The local address. Linux: `getsockname(2)`.
    pub fn local_addr(&self) -> io::Result<SocketAddrV4> {
        Ok(self
            .h
            .call(|s, _| s.getsockname(self.id).and_then(crate::socket::inet4_only))??)
    }

    /// `TCP_NODELAY`.
    pub fn set_nodelay(&self, v: bool) -> io::Result<()> {
        self.set_option(SockOpt::NoDelay(v))
    }

    /// Any socket option.
    pub fn set_option(&self, opt: SockOpt) -> io::Result<()> {
        Ok(self.h.call(|s, now| s.setsockopt(self.id, opt, now))??)
    }

    /// Read without consuming (`MSG_PEEK`).
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        let flags = MsgFlags {
            peek: true,
            dontwait: true,
        };
        poll_fn(|cx| {
            poll_op(&self.h, self.id, cx, |s, now| {
                s.recv(self.id, buf, flags, now)
            })
        })
        .await
    }

    /// The socket handle in the stack.
    pub fn id(&self) -> SockId {
        self.id
    }
}

impl AsyncRead for TcpStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let id = self.id;
        let dst = buf.initialize_unfilled();
        let flags = MsgFlags {
            peek: false,
            dontwait: true,
        };
        match poll_op(&self.h, id, cx, |s, now| s.recv(id, dst, flags, now)) {
            Poll::Ready(Ok(n)) => {
                buf.advance(n);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncWrite for TcpStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let id = self.id;
        poll_op(&self.h, id, cx, |s, now| s.send(id, buf, now))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Bytes handed to `send` are the stack's to deliver; there is no user-space buffer.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let id = self.id;
        Poll::Ready(
            self.h
                .call(|s, now| s.shutdown(id, Shutdown::Write, now))
                .and_then(|r| r.map_err(io::Error::from)),
        )
    }
}

impl Drop for TcpStream {
    fn drop(&mut self) {
        let _ = self.h.call(|s, now| s.close(self.id, now));
    }
}

/// A UDP socket for async code, like `tokio::net::UdpSocket`.
pub struct UdpSocket {
    h: Handle,
    id: SockId,
}

impl UdpSocket {
    /// `socket(AF_INET or AF_INET6, SOCK_DGRAM)` + `bind`.
    pub fn bind(h: &Handle, addr: impl Into<SocketAddr>) -> io::Result<UdpSocket> {
        let addr = addr.into();
        let id = h.call(|s, now| -> Result<SockId, Errno> {
            let id = s.socket(SockType::Dgram)?;
            if let Err(e) = s.bind(id, addr) {
                let _ = s.close(id, now);
                return Err(e);
            }
            Ok(id)
        })??;
        Ok(UdpSocket { h: h.clone(), id })
    }

    /// Send one datagram. Linux: `udp_sendmsg`.
    pub async fn send_to(&self, buf: &[u8], to: impl Into<SocketAddr>) -> io::Result<usize> {
        let to = to.into();
        poll_fn(|cx| {
            poll_op(&self.h, self.id, cx, |s, now| {
                s.send_to(self.id, buf, to, now)
            })
        })
        .await
    }

    /// Receive one datagram and its sender. Linux: `udp_recvmsg`.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let flags = MsgFlags {
            peek: false,
            dontwait: true,
        };
        poll_fn(|cx| {
            poll_op(&self.h, self.id, cx, |s, now| {
                s.recv_from(self.id, buf, flags, now)
            })
        })
        .await
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.h.call(|s, _| s.getsockname(self.id))??)
    }
}

impl Drop for UdpSocket {
    fn drop(&mut self) {
        let _ = self.h.call(|s, now| s.close(self.id, now));
    }
}
