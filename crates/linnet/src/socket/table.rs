//! The socket table: handles to sockets, with generations so a stale handle is refused.
//!
//! Linux: the file descriptor table (`struct files_struct`) together with `struct socket`.

use super::SockId;
use crate::errno::Errno;
use crate::transport::tcp::sock::TcpSock;
use crate::transport::udp::UdpSock;
use std::task::Waker;

/// Most sockets one stack holds (the `RLIMIT_NOFILE` analogue); beyond it `socket` and
/// incoming connections fail with `EMFILE` / are refused.
pub const MAX_SOCKETS: usize = 1 << 20;

/// A socket of either protocol.
#[derive(Debug)]
pub enum Socket {
    /// TCP.
    Tcp(Box<TcpSock>),
    /// UDP.
    Udp(Box<UdpSock>),
}

/// A table entry: the socket and what the socket layer keeps beside it.
#[derive(Debug)]
pub struct SockEntry {
    /// The protocol socket.
    pub sock: Socket,
    /// `SO_REUSEADDR`.
    pub reuseaddr: bool,
    /// Wakers to fire on the next readiness change.
    pub wakers: Vec<Waker>,
}

#[derive(Debug)]
struct Slot {
    gen: u32,
    entry: Option<SockEntry>,
}

/// The table.
#[derive(Debug, Default)]
pub struct SocketTable {
    slots: Vec<Slot>,
    free: Vec<u32>,
    count: usize,
}

impl SocketTable {
    /// Insert a socket, returning its handle.
    pub fn insert(&mut self, sock: Socket) -> Result<SockId, Errno> {
        if self.count >= MAX_SOCKETS {
            return Err(Errno::EMFILE);
        }
        let entry = SockEntry {
            sock,
            reuseaddr: false,
            wakers: Vec::new(),
        };
        self.count += 1;
        if let Some(idx) = self.free.pop() {
            let slot = &mut self.slots[idx as usize];
            slot.gen = slot.gen.wrapping_add(1);
            slot.entry = Some(entry);
            return Ok(SockId { idx, gen: slot.gen });
        }
        let idx = self.slots.len() as u32;
        self.slots.push(Slot {
            gen: 0,
            entry: Some(entry),
        });
        Ok(SockId { idx, gen: 0 })
    }

    /// The entry of a live handle.
    pub fn get(&self, id: SockId) -> Result<&SockEntry, Errno> {
        match self.slots.get(id.idx as usize) {
            Some(Slot {
                gen,
                entry: Some(e),
            }) if *gen == id.gen => Ok(e),
            _ => Err(Errno::EBADF),
        }
    }

    /// The entry of a live handle, mutably.
    pub fn get_mut(&mut self, id: SockId) -> Result<&mut SockEntry, Errno> {
        match self.slots.get_mut(id.idx as usize) {
            Some(Slot {
                gen,
                entry: Some(e),
            }) if *gen == id.gen => Ok(e),
            _ => Err(Errno::EBADF),
        }
    }

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

    /// Remove a socket; its handle becomes stale.
    pub fn remove(&mut self, id: SockId) -> Option<SockEntry> {
        let slot = self.slots.get_mut(id.idx as usize)?;
        if slot.gen != id.gen {
            return None;
        }
        let e = slot.entry.take()?;
        self.free.push(id.idx);
        self.count -= 1;
        Some(e)
    }

    /// Number of live sockets.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Live sockets with their handles.
    pub fn iter(&self) -> impl Iterator<Item = (SockId, &SockEntry)> {
        self.slots.iter().enumerate().filter_map(|(i, s)| {
            s.entry.as_ref().map(|e| {
                (
                    SockId {
                        idx: i as u32,
                        gen: s.gen,
                    },
                    e,
                )
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::udp::UdpSock;

    #[test]
    fn stale_handles_are_refused() {
        let mut t = SocketTable::default();
        let a = t.insert(Socket::Udp(Box::new(UdpSock::new(1024)))).unwrap();
        assert!(t.get(a).is_ok());
        t.remove(a).unwrap();
        assert_eq!(t.get(a).err(), Some(Errno::EBADF));
        let b = t.insert(Socket::Udp(Box::new(UdpSock::new(1024)))).unwrap();
        assert_eq!(b.idx, a.idx);
        assert_ne!(b, a);
        assert_eq!(t.get(a).err(), Some(Errno::EBADF));
        assert!(t.remove(a).is_none());
        assert_eq!(t.len(), 1);
    }
}
