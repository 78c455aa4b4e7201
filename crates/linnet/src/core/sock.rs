//! Socket identity: handles and the table behind them, below the protocols that fill it.
//!
//! Linux: net/core/sock.c (`struct sock`'s common part) and the file descriptor table
//! (`struct files_struct`); the uapi types every layer shares (`SOCK_STREAM`, `SHUT_*`,
//! `POLL*`, `MSG_*`). Transport keys its hash tables by [`SockId`], buffers carry the
//! owning socket's id, and the socket layer above maps calls onto the protocols.

use crate::errno::Errno;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::task::Waker;

/// A socket handle (the file descriptor analogue). Stale handles of closed sockets are
/// detected by a generation number and yield [`Errno::EBADF`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SockId {
    pub(crate) idx: u32,
    pub(crate) gen: u32,
}

impl fmt::Display for SockId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sk{}", self.idx)
    }
}

/// `SOCK_STREAM` (TCP) or `SOCK_DGRAM` (UDP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SockType {
    /// TCP.
    Stream,
    /// UDP.
    Dgram,
}

/// `shutdown()`'s `how`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Shutdown {
    /// `SHUT_RD`.
    Read,
    /// `SHUT_WR`.
    Write,
    /// `SHUT_RDWR`.
    Both,
}

/// Readiness bits, as `poll(2)` reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollEvents(pub u16);

impl PollEvents {
    /// `POLLIN`: data (or EOF, or a connection to accept) can be read.
    pub const IN: PollEvents = PollEvents(0x001);
    /// `POLLOUT`: data can be written.
    pub const OUT: PollEvents = PollEvents(0x004);
    /// `POLLERR`: an error is pending.
    pub const ERR: PollEvents = PollEvents(0x008);
    /// `POLLHUP`: both directions are closed.
    pub const HUP: PollEvents = PollEvents(0x010);
    /// `POLLRDHUP`: the peer closed its sending side.
    pub const RDHUP: PollEvents = PollEvents(0x2000);

    /// Whether all bits of `other` are set.
    pub fn contains(self, other: PollEvents) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether any bit of `other` is set.
    pub fn intersects(self, other: PollEvents) -> bool {
        self.0 & other.0 != 0
    }
}

impl std::ops::BitOr for PollEvents {
    type Output = PollEvents;
    fn bitor(self, rhs: PollEvents) -> PollEvents {
        PollEvents(self.0 | rhs.0)
    }
}

impl std::ops::BitOrAssign for PollEvents {
    fn bitor_assign(&mut self, rhs: PollEvents) {
        self.0 |= rhs.0;
    }
}

/// Flags of `send`/`recv`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MsgFlags {
    /// `MSG_PEEK`: read without consuming.
    pub peek: bool,
    /// `MSG_DONTWAIT`: never block (every call of the core is non-blocking; the wrappers read it).
    pub dontwait: bool,
}

/// Most sockets one stack holds (the `RLIMIT_NOFILE` analogue); beyond it `socket` and
/// incoming connections fail with `EMFILE` / are refused.
pub const MAX_SOCKETS: usize = 1 << 20;

/// A table entry: the socket and what the socket layer keeps beside it.
#[derive(Debug)]
pub struct SockEntry<S> {
    /// The protocol socket.
    pub sock: S,
    /// `SO_REUSEADDR`.
    pub reuseaddr: bool,
    /// `IPV6_V6ONLY` (an IPv6 socket at `::` takes no IPv4 traffic); set from
    /// `net.ipv6.bindv6only` when the socket is made.
    pub v6only: bool,
    /// Wakers to fire on the next readiness change.
    pub wakers: Vec<Waker>,
}

#[derive(Debug)]
struct Slot<S> {
    gen: u32,
    entry: Option<SockEntry<S>>,
}

/// The table, of sockets of type `S` (the protocols' socket enum above this layer).
#[derive(Debug)]
pub struct SocketTable<S> {
    slots: Vec<Slot<S>>,
    free: Vec<u32>,
    count: usize,
}

impl<S> Default for SocketTable<S> {
    fn default() -> Self {
        SocketTable {
            slots: Vec::new(),
            free: Vec::new(),
            count: 0,
        }
    }
}

impl<S> SocketTable<S> {
    /// Insert a socket, returning its handle.
    pub fn insert(&mut self, sock: S) -> Result<SockId, Errno> {
        if self.count >= MAX_SOCKETS {
            return Err(Errno::EMFILE);
        }
        let entry = SockEntry {
            sock,
            reuseaddr: false,
            v6only: false,
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
    pub fn get(&self, id: SockId) -> Result<&SockEntry<S>, Errno> {
        match self.slots.get(id.idx as usize) {
            Some(Slot {
                gen,
                entry: Some(e),
            }) if *gen == id.gen => Ok(e),
            _ => Err(Errno::EBADF),
        }
    }

    /// The entry of a live handle, mutably.
    pub fn get_mut(&mut self, id: SockId) -> Result<&mut SockEntry<S>, Errno> {
        match self.slots.get_mut(id.idx as usize) {
            Some(Slot {
                gen,
                entry: Some(e),
            }) if *gen == id.gen => Ok(e),
            _ => Err(Errno::EBADF),
        }
    }

    /// Remove a socket; its handle becomes stale.
    pub fn remove(&mut self, id: SockId) -> Option<SockEntry<S>> {
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
    pub fn iter(&self) -> impl Iterator<Item = (SockId, &SockEntry<S>)> {
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

    #[test]
    fn stale_handles_are_refused() {
        let mut t = SocketTable::default();
        let a = t.insert("udp").unwrap();
        assert!(t.get(a).is_ok());
        t.remove(a).unwrap();
        assert_eq!(t.get(a).err(), Some(Errno::EBADF));
        let b = t.insert("udp").unwrap();
        assert_eq!(b.idx, a.idx);
        assert_ne!(b, a);
        assert_eq!(t.get(a).err(), Some(Errno::EBADF));
        assert!(t.remove(a).is_none());
        assert_eq!(t.len(), 1);
    }
}
