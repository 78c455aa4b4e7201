//! `UdpSocket` over Linnet.

use super::{block_on, Mode};
use crate::runtime::Handle;
use crate::socket::{MsgFlags, SockId, SockOpt, SockType};
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

/// A UDP socket, like `std::net::UdpSocket`.
pub struct UdpSocket {
    h: Handle,
    id: SockId,
    nonblocking: bool,
    read_timeout: Option<Duration>,
}

impl UdpSocket {
    /// `socket(SOCK_DGRAM)` + `bind`.
    pub fn bind(h: &Handle, addr: impl Into<SocketAddr>) -> io::Result<UdpSocket> {
        let addr = addr.into();
        let id = h.call(|s, now| {
            let id = s.socket(SockType::Dgram)?;
            if let Err(e) = s.bind(id, addr) {
                let _ = s.close(id, now);
                return Err(e);
            }
            Ok(id)
        })??;
        Ok(UdpSocket {
            h: h.clone(),
            id,
            nonblocking: false,
            read_timeout: None,
        })
    }

    /// Set the default peer.
    pub fn connect(&self, addr: impl Into<SocketAddr>) -> io::Result<()> {
        Ok(self
            .h
            .call(|s, now| s.connect(self.id, addr.into(), now))??)
    }

    /// Send to the connected peer.
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        Ok(self.h.call(|s, now| s.send(self.id, buf, now))??)
    }

    /// Send to `addr`.
    pub fn send_to(&self, buf: &[u8], addr: impl Into<SocketAddr>) -> io::Result<usize> {
        Ok(self
            .h
            .call(|s, now| s.send_to(self.id, buf, addr.into(), now))??)
    }

    /// Receive a datagram and its sender.
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let mode = Mode {
            nonblocking: self.nonblocking,
            timeout: self.read_timeout,
        };
        block_on(&self.h, self.id, mode, |s, now| {
            s.recv_from(self.id, buf, MsgFlags::default(), now)
        })
    }

    /// Receive a datagram.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.recv_from(buf).map(|(n, _)| n)
    }

    /// `SO_BROADCAST`.
    pub fn set_broadcast(&self, v: bool) -> io::Result<()> {
        Ok(self
            .h
            .call(|s, now| s.setsockopt(self.id, SockOpt::Broadcast(v), now))??)
    }

    /// `SO_RCVTIMEO`.
    pub fn set_read_timeout(&mut self, t: Option<Duration>) {
        self.read_timeout = t;
    }

    /// `O_NONBLOCK`.
    pub fn set_nonblocking(&mut self, v: bool) {
        self.nonblocking = v;
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
