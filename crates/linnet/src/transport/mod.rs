//! Transport protocols above IPv4.
//!
//! Linux: net/ipv4/ping.c (ICMP echo sockets), udp.c. TCP joins with the socket layer.

pub(crate) mod offload;
pub mod ping;
pub mod tcp;
pub(crate) mod udp;
pub(crate) mod udp6;

use crate::core::sock::{SockId, SocketTable};
use crate::errno::Errno;
use tcp::sock::TcpSock;
use udp::UdpSock;

/// A socket of either protocol.
#[derive(Debug)]
pub enum Socket {
    /// TCP.
    Tcp(Box<TcpSock>),
    /// UDP.
    Udp(Box<UdpSock>),
}

impl SocketTable<Socket> {
    /// The TCP socket of a handle (`ENOTSOCK`-like `EBADF` for others).
    pub fn tcp(&self, id: SockId) -> Result<&TcpSock, Errno> {
        match &self.get(id)?.sock {
            Socket::Tcp(t) => Ok(t),
            _ => Err(Errno::EOPNOTSUPP),
        }
    }

    /// The TCP socket of a handle, mutably.
    pub fn tcp_mut(&mut self, id: SockId) -> Result<&mut TcpSock, Errno> {
        match &mut self.get_mut(id)?.sock {
            Socket::Tcp(t) => Ok(t),
            _ => Err(Errno::EOPNOTSUPP),
        }
    }

    /// The UDP socket of a handle.
    pub fn udp_mut(&mut self, id: SockId) -> Result<&mut UdpSock, Errno> {
        match &mut self.get_mut(id)?.sock {
            Socket::Udp(u) => Ok(u),
            _ => Err(Errno::EOPNOTSUPP),
        }
    }
}
