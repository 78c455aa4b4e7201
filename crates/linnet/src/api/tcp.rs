//! `TcpListener` and `TcpStream` over Linnet.

use super::{block_on, Mode};
use crate::errno::Errno;
use crate::runtime::Handle;
use crate::socket::{
    MsgFlags, PollEvents, Shutdown, SockId, SockOpt, SockOptName, SockOptValue, SockType,
};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, SocketAddrV4};
use std::time::Duration;

/// A listening TCP socket, like `std::net::TcpListener`.
pub struct TcpListener {
    h: Handle,
    id: SockId,
    nonblocking: bool,
}

impl TcpListener {
    /// `socket` + `SO_REUSEADDR` + `bind` + `listen(128)`, as `std::net::TcpListener::bind`.
    pub fn bind(h: &Handle, addr: impl Into<SocketAddr>) -> io::Result<TcpListener> {
        Self::bind_with_backlog(h, addr, 128)
    }

    /// Like [`TcpListener::bind`] with an explicit backlog.
    pub fn bind_with_backlog(
        h: &Handle,
        addr: impl Into<SocketAddr>,
        backlog: u32,
    ) -> io::Result<TcpListener> {
        let addr: SocketAddr = addr.into();
        let id = h.call(move |s, now| -> Result<SockId, Errno> {
            let id = s.socket(SockType::Stream)?;
            let r = (|| {
                s.setsockopt(id, SockOpt::ReuseAddr(true), now)?;
                s.bind(id, addr)?;
                s.listen(id, backlog)
            })();
            match r {
                Ok(()) => Ok(id),
                Err(e) => {
                    let _ = s.close(id, now);
                    Err(e)
                }
            }
        })??;
        Ok(TcpListener {
            h: h.clone(),
            id,
            nonblocking: false,
        })
    }

    /// Wait for a connection. Linux: `accept(2)` → `inet_csk_accept`.
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddrV4)> {
        let mode = Mode {
            nonblocking: self.nonblocking,
            timeout: None,
        };
        let (id, peer) = block_on(&self.h, self.id, mode, |s, _| s.accept(self.id))?;
        Ok((TcpStream::from_parts(self.h.clone(), id), peer))
    }

    /// An iterator of accepted connections.
    pub fn incoming(&self) -> impl Iterator<Item = io::Result<TcpStream>> + '_ {
        std::iter::from_fn(move || Some(self.accept().map(|(s, _)| s)))
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddrV4> {
        Ok(self
            .h
            .call(|s, _| s.getsockname(self.id).and_then(crate::socket::inet4_only))??)
    }

    /// `O_NONBLOCK`.
    pub fn set_nonblocking(&mut self, v: bool) {
        self.nonblocking = v;
    }

    /// The socket handle in the stack.
    pub fn id(&self) -> SockId {
        self.id
    }
}

impl Drop for TcpListener {
    fn drop(&mut self) {
        let _ = self.h.call(|s, now| s.close(self.id, now));
    }
}

/// A connected TCP socket, like `std::net::TcpStream`.
pub struct TcpStream {
    h: Handle,
    id: SockId,
    nonblocking: bool,
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
}

impl TcpStream {
    fn from_parts(h: Handle, id: SockId) -> TcpStream {
        TcpStream {
            h,
            id,
            nonblocking: false,
            read_timeout: None,
            write_timeout: None,
        }
    }

    /// Connect, waiting for the handshake. Linux: `connect(2)` → `inet_stream_connect`.
    pub fn connect(h: &Handle, addr: SocketAddrV4) -> io::Result<TcpStream> {
        Self::connect_timeout(h, addr, None)
    }

    /// Connect with a time limit.
    pub fn connect_timeout(
        h: &Handle,
        addr: SocketAddrV4,
        timeout: Option<Duration>,
    ) -> io::Result<TcpStream> {
        let id = h.call(|s, _| s.socket(SockType::Stream))??;
        let stream = TcpStream::from_parts(h.clone(), id);
        let first = h.call(|s, now| s.connect(id, addr, now))?;
        match first {
            Ok(()) | Err(Errno::EINPROGRESS) => {}
            Err(e) => return Err(e.into()),
        }
        wait_connected(h, id, timeout)?;
        Ok(stream)
    }

    /// Connect with TCP Fast Open (RFC 7413), `data` first: with a cookie for `addr` cached
    /// (or `net.ipv4.tcp_fastopen` bit 0x4) it goes in the SYN, otherwise the SYN asks for a
    /// cookie and the data follows the handshake. Waits for the connection and sends what did
    /// not fit in the SYN. Linux: a blocking `sendto(MSG_FASTOPEN)`.
    pub fn connect_fastopen(h: &Handle, addr: SocketAddrV4, data: &[u8]) -> io::Result<TcpStream> {
        let id = h.call(|s, _| s.socket(SockType::Stream))??;
        let mut stream = TcpStream::from_parts(h.clone(), id);
        let sent = match h.call(|s, now| s.send_fastopen(id, data, Some(addr), now))? {
            Ok(n) => n,
            Err(Errno::EINPROGRESS) => 0,
            Err(e) => return Err(e.into()),
        };
        wait_connected(h, id, None)?;
        stream.write_all(&data[sent..])?;
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

    /// Shut down one or both directions.
    pub fn shutdown(&self, how: std::net::Shutdown) -> io::Result<()> {
        let how = match how {
            std::net::Shutdown::Read => Shutdown::Read,
            std::net::Shutdown::Write => Shutdown::Write,
            std::net::Shutdown::Both => Shutdown::Both,
        };
        Ok(self.h.call(|s, now| s.shutdown(self.id, how, now))??)
    }

    /// `TCP_NODELAY`.
    pub fn set_nodelay(&self, v: bool) -> io::Result<()> {
        Ok(self
            .h
            .call(|s, now| s.setsockopt(self.id, SockOpt::NoDelay(v), now))??)
    }

    /// Any socket option.
    pub fn set_option(&self, opt: SockOpt) -> io::Result<()> {
        Ok(self.h.call(|s, now| s.setsockopt(self.id, opt, now))??)
    }

    /// `O_NONBLOCK`.
    pub fn set_nonblocking(&mut self, v: bool) {
        self.nonblocking = v;
    }

    /// `SO_RCVTIMEO`.
    pub fn set_read_timeout(&mut self, t: Option<Duration>) {
        self.read_timeout = t;
    }

    /// `SO_SNDTIMEO`.
    pub fn set_write_timeout(&mut self, t: Option<Duration>) {
        self.write_timeout = t;
    }

    /// Read without consuming (`MSG_PEEK`).
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        let mode = Mode {
            nonblocking: self.nonblocking,
            timeout: self.read_timeout,
        };
        let flags = MsgFlags {
            peek: true,
            dontwait: false,
        };
        block_on(&self.h, self.id, mode, |s, now| {
            s.recv(self.id, buf, flags, now)
        })
    }

    /// The socket handle in the stack.
    pub fn id(&self) -> SockId {
        self.id
    }
}

impl Read for TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mode = Mode {
            nonblocking: self.nonblocking,
            timeout: self.read_timeout,
        };
        let id = self.id;
        block_on(&self.h, id, mode, |s, now| {
            s.recv(id, buf, MsgFlags::default(), now)
        })
    }
}

impl Write for TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mode = Mode {
            nonblocking: self.nonblocking,
            timeout: self.write_timeout,
        };
        let id = self.id;
        block_on(&self.h, id, mode, |s, now| s.send(id, buf, now))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for TcpStream {
    fn drop(&mut self) {
        let _ = self.h.call(|s, now| s.close(self.id, now));
    }
}

/// The `Errno` for a raw value returned by `SO_ERROR`.
pub(crate) fn errno_from_raw(raw: i32) -> Errno {
    match raw {
        libc::ECONNREFUSED => Errno::ECONNREFUSED,
        libc::ECONNRESET => Errno::ECONNRESET,
        libc::ETIMEDOUT => Errno::ETIMEDOUT,
        libc::EHOSTUNREACH => Errno::EHOSTUNREACH,
        libc::ENETUNREACH => Errno::ENETUNREACH,
        libc::EPIPE => Errno::EPIPE,
        _ => Errno::EINVAL,
    }
}

/// Wait until a connect ends: `Ok` once established, or the error that ended it (`TimedOut`
/// past `timeout`). Linux: `inet_wait_for_connect`.
fn wait_connected(h: &Handle, id: SockId, timeout: Option<Duration>) -> io::Result<()> {
    let mode = Mode {
        nonblocking: false,
        timeout,
    };
    block_on(h, id, mode, |s, _| {
        let ev = s.poll_socket(id)?;
        if ev.intersects(PollEvents::OUT | PollEvents::ERR | PollEvents::HUP) {
            match s.getsockopt(id, SockOptName::Error)? {
                SockOptValue::Error(Some(e)) => Err(errno_from_raw(e)),
                _ => Ok(()),
            }
        } else {
            Err(Errno::EINPROGRESS)
        }
    })
    .map_err(|e| {
        if e.kind() == io::ErrorKind::WouldBlock {
            io::Error::new(io::ErrorKind::TimedOut, "connection timed out")
        } else {
            e
        }
    })?;
    Ok(())
}
