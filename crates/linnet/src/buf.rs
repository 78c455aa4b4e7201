//! The packet buffer that carries a frame through every layer: Linnet's `sk_buff`.
//!
//! Linux: `struct sk_buff` (include/linux/skbuff.h), with `skb_push`, `skb_pull`, `skb_put`,
//! `skb_reserve`, `skb_trim` and the header offsets `mac_header`, `network_header`,
//! `transport_header`.
//!
//! A buffer owns one fixed allocation. The valid bytes are `storage[head..tail]`. On output a
//! layer prepends its header into the headroom with [`PacketBuf::push`]; on input a layer
//! records where its header starts and [`PacketBuf::pull`]s past it. Nothing is copied between
//! layers. Buffers are recycled through a [`BufPool`], so the steady state allocates nothing.

use crate::time::Instant;

/// Headroom reserved in transmit buffers: Ethernet (14) + IPv4 with options (60) + TCP with
/// options (60), rounded up.
pub const MAX_HEADER: usize = 160;

/// Default size of one buffer's storage: headroom plus a jumbo-ish frame.
pub const DEFAULT_BUF_SIZE: usize = MAX_HEADER + 9216;

/// Size of the pool's large buffers: headroom, a virtio-net header and the largest GSO
/// super-frame (an Ethernet header plus a 64 KiB IPv4 datagram). Linux: `GSO_MAX_SIZE`.
pub const LARGE_BUF_SIZE: usize = MAX_HEADER + 16 + 14 + 65536;

/// Most received buffers one TCP socket holds queued zero-copy (see
/// `TcpSock::rx_skb_fits`).
pub const MAX_RX_SKBS: usize = 96;

/// Idle large buffers a pool keeps: enough for a receive batch of GSO super-frames (64) plus
/// what one TCP socket may hold queued zero-copy ([`MAX_RX_SKBS`]), so that a socket filling
/// and draining its receive queue does not make the pool free and then allocate buffers
/// again in steady state. At most about 10 MiB idle, as the normal buffers' default bound.
pub const MAX_FREE_LARGE: usize = 64 + MAX_RX_SKBS;

/// How a received frame was addressed at the link layer.
/// Linux: `skb->pkt_type` (`PACKET_HOST`, `PACKET_BROADCAST`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PacketType {
    /// To this host's link address.
    #[default]
    Host,
    /// To the link broadcast address.
    Broadcast,
    /// To a link multicast address.
    Multicast,
    /// To some other host (seen in promiscuous mode).
    OtherHost,
    /// Sent by this host (looped back).
    Outgoing,
}

/// What is known about a packet's transport checksum. Linux: `skb->ip_summed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CsumState {
    /// Nothing known: receivers verify, senders have filled it in (`CHECKSUM_NONE`).
    #[default]
    None,
    /// A device verified it; receivers need not (`CHECKSUM_UNNECESSARY`).
    Unnecessary,
    /// Unfinished (`CHECKSUM_PARTIAL`): the field at `start + offset` holds the pseudo-header
    /// sum, and whoever transmits must sum from `start` to the end and store the result there
    /// (or leave it to a device with checksum offload). `start` counts from the network header.
    /// The data came from this host (or a local kernel), so receivers need not verify it.
    Partial {
        /// Where summing starts, in bytes from the network header (Linux: `csum_start`).
        start: u16,
        /// Where the result goes, in bytes from `start` (Linux: `csum_offset`).
        offset: u16,
    },
}

/// Per-packet metadata that travels with the buffer.
#[derive(Debug, Clone, Copy, Default)]
pub struct Meta {
    /// Interface the packet arrived on, or leaves by (Linux: `skb->dev->ifindex`).
    pub ifindex: u32,
    /// Link-layer addressing class (Linux: `skb->pkt_type`).
    pub pkt_type: PacketType,
    /// EtherType of the payload (Linux: `skb->protocol`).
    pub protocol: u16,
    /// Firewall mark (Linux: `skb->mark`).
    pub mark: u32,
    /// When the packet was received or queued (Linux: `skb->tstamp`).
    pub timestamp: Instant,
    /// Connection tracking reference, 0 for none (Linux: `skb->_nfct`); see
    /// [`crate::netfilter::conntrack`].
    pub nfct: u32,
    /// The TCP socket that sent it, for TCP Small Queues (Linux: `skb->sk`).
    pub sk: Option<crate::core::sock::SockId>,
    /// Trace id while the packet is followed by a trace (0: not traced).
    pub trace_id: u32,
    /// Checksum state (Linux: `skb->ip_summed`, `csum_start`, `csum_offset`).
    pub csum: CsumState,
    /// Non-zero for a TCP/IPv4 GSO super-packet: the payload bytes of each segment it stands
    /// for (Linux: `skb_shinfo(skb)->gso_size` with `SKB_GSO_TCPV4`).
    pub gso_size: u16,
}

/// A packet buffer with headroom, tailroom and header offsets.
#[derive(Clone)]
pub struct PacketBuf {
    storage: Box<[u8]>,
    head: usize,
    tail: usize,
    // Header offsets into `storage` (u32 keeps the buffer small: buffers stay far below 4 GiB).
    mac_header: Option<u32>,
    network_header: Option<u32>,
    transport_header: Option<u32>,
    /// Metadata carried with the packet.
    pub meta: Meta,
}

impl std::fmt::Debug for PacketBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PacketBuf")
            .field("len", &self.len())
            .field("headroom", &self.headroom())
            .field("tailroom", &self.tailroom())
            .field("meta", &self.meta)
            .finish()
    }
}

impl PacketBuf {
    /// An empty buffer of `capacity` bytes with `headroom` bytes reserved in front.
    /// Linux: `alloc_skb` + `skb_reserve`.
    pub fn with_headroom(capacity: usize, headroom: usize) -> PacketBuf {
        let headroom = headroom.min(capacity);
        PacketBuf {
            storage: vec![0u8; capacity].into_boxed_slice(),
            head: headroom,
            tail: headroom,
            mac_header: None,
            network_header: None,
            transport_header: None,
            meta: Meta::default(),
        }
    }

    /// A buffer around existing storage whose valid bytes are `storage[head..tail]` (both
    /// clamped to the storage), for packets larger than pool buffers such as reassembled
    /// datagrams; the pool does not keep buffers of another size. Linux: `build_skb`.
    pub fn build(storage: Box<[u8]>, head: usize, tail: usize) -> PacketBuf {
        let tail = tail.min(storage.len());
        let head = head.min(tail);
        PacketBuf {
            storage,
            head,
            tail,
            mac_header: None,
            network_header: None,
            transport_header: None,
            meta: Meta::default(),
        }
    }

    /// A buffer holding a copy of `data`, with `headroom` bytes free in front.
    pub fn from_slice(data: &[u8], headroom: usize) -> PacketBuf {
        let mut b = PacketBuf::with_headroom(headroom + data.len(), headroom);
        b.put(data.len()).copy_from_slice(data);
        b
    }

    /// Forget contents and offsets, leaving `headroom` bytes in front. Linux: `skb_reset` +
    /// `skb_reserve`, as done when an skb is recycled.
    pub fn reset(&mut self, headroom: usize) {
        let headroom = headroom.min(self.storage.len());
        self.head = headroom;
        self.tail = headroom;
        self.mac_header = None;
        self.network_header = None;
        self.transport_header = None;
        self.meta = Meta::default();
    }

    /// The valid bytes.
    pub fn data(&self) -> &[u8] {
        &self.storage[self.head..self.tail]
    }

    /// The valid bytes, writable.
    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.storage[self.head..self.tail]
    }

    /// Number of valid bytes.
    pub fn len(&self) -> usize {
        self.tail - self.head
    }

    /// True when no bytes are valid.
    pub fn is_empty(&self) -> bool {
        self.head == self.tail
    }

    /// Total storage size.
    pub fn capacity(&self) -> usize {
        self.storage.len()
    }

    /// Free bytes in front of the data. Linux: `skb_headroom`.
    pub fn headroom(&self) -> usize {
        self.head
    }

    /// Free bytes after the data. Linux: `skb_tailroom`.
    pub fn tailroom(&self) -> usize {
        self.storage.len() - self.tail
    }

    /// Prepend `n` bytes and return them for the caller to fill, or `None` if the headroom is
    /// too small. Linux: `skb_push`.
    pub fn push(&mut self, n: usize) -> Option<&mut [u8]> {
        if n > self.head {
            return None;
        }
        self.head -= n;
        Some(&mut self.storage[self.head..self.head + n])
    }

    /// Remove `n` bytes from the front (the header just parsed), returning false if fewer are
    /// present. Linux: `skb_pull`.
    pub fn pull(&mut self, n: usize) -> bool {
        if n > self.len() {
            return false;
        }
        self.head += n;
        true
    }

    /// Append `n` bytes (zeroed) and return them for the caller to fill. Panics if the tailroom is
    /// smaller; callers size buffers first (use [`PacketBuf::try_put`] otherwise). Linux: `skb_put`.
    pub fn put(&mut self, n: usize) -> &mut [u8] {
        self.try_put(n).expect("PacketBuf::put beyond tailroom")
    }

    /// Append `n` bytes (zeroed), or `None` if the tailroom is too small.
    pub fn try_put(&mut self, n: usize) -> Option<&mut [u8]> {
        if n > self.tailroom() {
            return None;
        }
        let start = self.tail;
        self.tail += n;
        let s = &mut self.storage[start..self.tail];
        s.fill(0);
        Some(s)
    }

    /// The free bytes after the data, for a driver to read a frame into without zeroing or
    /// copying; follow with [`PacketBuf::commit_put`] for the bytes actually written.
    pub fn tailroom_mut(&mut self) -> &mut [u8] {
        &mut self.storage[self.tail..]
    }

    /// Extend the data by `n` bytes already written through [`PacketBuf::tailroom_mut`].
    /// Clamped to the tailroom.
    pub fn commit_put(&mut self, n: usize) {
        self.tail += n.min(self.tailroom());
    }

    /// Append a copy of `bytes`, or return false if they do not fit.
    pub fn extend_from_slice(&mut self, bytes: &[u8]) -> bool {
        match self.try_put(bytes.len()) {
            Some(s) => {
                s.copy_from_slice(bytes);
                true
            }
            None => false,
        }
    }

    /// Cut the data to `len` bytes (no-op if already shorter). Linux: `skb_trim` / `pskb_trim_rcsum`.
    pub fn trim(&mut self, len: usize) {
        if len < self.len() {
            self.tail = self.head + len;
        }
    }

    /// Record that the link header starts at the current data start. Linux: `skb_reset_mac_header`.
    pub fn reset_mac_header(&mut self) {
        self.mac_header = Some(self.head as u32);
    }

    /// Record that the network header starts at the current data start.
    /// Linux: `skb_reset_network_header`.
    pub fn reset_network_header(&mut self) {
        self.network_header = Some(self.head as u32);
    }

    /// Record that the transport header starts at the current data start.
    /// Linux: `skb_reset_transport_header`.
    pub fn reset_transport_header(&mut self) {
        self.transport_header = Some(self.head as u32);
    }

    /// Bytes from the link header (if recorded) to the end of the data. Linux: `skb_mac_header`.
    pub fn mac_header(&self) -> Option<&[u8]> {
        self.mac_header
            .map(|o| o as usize)
            .filter(|&o| o <= self.tail)
            .map(|o| &self.storage[o..self.tail])
    }

    /// Bytes from the network header (if recorded) to the end of the data.
    /// Linux: `skb_network_header`.
    pub fn network_header(&self) -> Option<&[u8]> {
        self.network_header
            .map(|o| o as usize)
            .filter(|&o| o <= self.tail)
            .map(|o| &self.storage[o..self.tail])
    }

    /// Bytes from the transport header (if recorded) to the end of the data.
    /// Linux: `skb_transport_header`.
    pub fn transport_header(&self) -> Option<&[u8]> {
        self.transport_header
            .map(|o| o as usize)
            .filter(|&o| o <= self.tail)
            .map(|o| &self.storage[o..self.tail])
    }

    /// Move the data start back to the network header (undoing pulls past it), returning false if
    /// none was recorded. Used when a received packet is turned around (e.g. an ICMP error quoting it).
    pub fn push_to_network_header(&mut self) -> bool {
        match self.network_header.map(|o| o as usize) {
            Some(o) if o <= self.tail => {
                self.head = o;
                true
            }
            _ => false,
        }
    }
}

/// A bounded free list of packet buffers, so that the steady state allocates nothing.
#[derive(Debug)]
pub struct BufPool {
    free: Vec<PacketBuf>,
    large: Vec<PacketBuf>,
    buf_size: usize,
    max_free: usize,
    allocations: u64,
}

impl BufPool {
    /// A pool of buffers of `buf_size` bytes keeping at most `max_free` idle buffers.
    pub fn new(buf_size: usize, max_free: usize) -> BufPool {
        BufPool {
            free: Vec::with_capacity(max_free),
            large: Vec::new(),
            buf_size,
            max_free,
            allocations: 0,
        }
    }

    /// A buffer with `headroom` reserved, recycled when one is free.
    pub fn get(&mut self, headroom: usize) -> PacketBuf {
        match self.free.pop() {
            Some(mut b) => {
                b.reset(headroom);
                b
            }
            None => {
                self.allocations += 1;
                PacketBuf::with_headroom(self.buf_size, headroom)
            }
        }
    }

    /// Give a buffer back. Buffers of another size or beyond the bound are freed.
    pub fn put(&mut self, buf: PacketBuf) {
        if buf.capacity() == self.buf_size && self.free.len() < self.max_free {
            self.free.push(buf);
        } else if buf.capacity() == LARGE_BUF_SIZE
            && self.buf_size != LARGE_BUF_SIZE
            && self.large.len() < MAX_FREE_LARGE
        {
            self.large.push(buf);
        }
    }

    /// A buffer with `headroom` reserved and room for `len` bytes after it: a normal one when
    /// that fits, else a recycled large one ([`LARGE_BUF_SIZE`], for GSO super-frames), else
    /// (beyond even that) a fresh allocation of the exact size.
    pub fn get_sized(&mut self, len: usize, headroom: usize) -> PacketBuf {
        if headroom + len <= self.buf_size {
            return self.get(headroom);
        }
        if headroom + len > LARGE_BUF_SIZE {
            self.allocations += 1;
            return PacketBuf::with_headroom(headroom + len, headroom);
        }
        match self.large.pop() {
            Some(mut b) => {
                b.reset(headroom);
                b
            }
            None => {
                self.allocations += 1;
                PacketBuf::with_headroom(LARGE_BUF_SIZE, headroom)
            }
        }
    }

    /// A buffer holding a copy of `bytes` (a packet to quote in an ICMP error), with
    /// [`MAX_HEADER`] of headroom and its network header at the data start.
    pub fn copy_of(&mut self, bytes: &[u8]) -> PacketBuf {
        let mut b = self.get_sized(bytes.len(), MAX_HEADER);
        b.put(bytes.len()).copy_from_slice(bytes);
        b.reset_network_header();
        b
    }

    /// Size of each buffer's storage.
    pub fn buf_size(&self) -> usize {
        self.buf_size
    }

    /// How many buffers this pool has ever allocated (a steady state stops this growing).
    pub fn allocations(&self) -> u64 {
        self.allocations
    }

    /// Idle buffers held.
    pub fn idle(&self) -> usize {
        self.free.len()
    }

    /// Idle large buffers ([`LARGE_BUF_SIZE`], for GSO super-frames) held.
    pub fn large_idle(&self) -> usize {
        self.large.len()
    }
}

impl Default for BufPool {
    fn default() -> Self {
        BufPool::new(DEFAULT_BUF_SIZE, 1024)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_pull_put_trim() {
        let mut b = PacketBuf::with_headroom(64, 32);
        assert_eq!(b.headroom(), 32);
        b.put(4).copy_from_slice(b"data");
        b.push(2).unwrap().copy_from_slice(b"hd");
        assert_eq!(b.data(), b"hddata");
        b.reset_network_header();
        assert!(b.pull(2));
        b.reset_transport_header();
        assert_eq!(b.data(), b"data");
        assert_eq!(b.network_header().unwrap(), b"hddata");
        assert!(!b.pull(5));
        b.trim(2);
        assert_eq!(b.data(), b"da");
        assert_eq!(b.transport_header().unwrap(), b"da");
        assert!(b.push_to_network_header());
        assert_eq!(b.data(), b"hdda");
        assert!(b.push(30).is_some());
        assert!(b.push(1).is_none());
        assert!(b.try_put(1000).is_none());
    }

    #[test]
    fn build_wraps_storage_and_the_pool_refuses_it() {
        let mut b = PacketBuf::build(vec![7u8; 100].into_boxed_slice(), 40, 90);
        assert_eq!((b.headroom(), b.len(), b.tailroom()), (40, 50, 10));
        assert!(b.push(40).is_some());
        let c = PacketBuf::build(vec![0u8; 10].into_boxed_slice(), 20, 30);
        assert_eq!((c.headroom(), c.len()), (10, 0));
        let mut pool = BufPool::new(256, 4);
        pool.put(b);
        assert_eq!(pool.idle(), 0);
    }

    #[test]
    fn pool_recycles_without_allocating() {
        let mut pool = BufPool::new(256, 4);
        let a = pool.get(16);
        pool.put(a);
        for _ in 0..100 {
            let mut b = pool.get(16);
            b.put(10);
            assert_eq!(b.headroom(), 16);
            pool.put(b);
        }
        assert_eq!(pool.allocations(), 1);
        // Foreign sizes are not kept.
        pool.put(PacketBuf::with_headroom(10, 0));
        assert_eq!(pool.idle(), 1);
        // Large buffers are kept apart, and handed out again for large requests only.
        let big = pool.get_sized(LARGE_BUF_SIZE - 16, 16);
        assert_eq!((big.capacity(), pool.large_idle()), (LARGE_BUF_SIZE, 0));
        pool.put(big);
        assert_eq!((pool.idle(), pool.large_idle()), (1, 1));
        assert_eq!(pool.get_sized(100, 16).capacity(), 256);
        assert_eq!(pool.get_sized(1000, 16).capacity(), LARGE_BUF_SIZE);
        assert_eq!((pool.large_idle(), pool.allocations()), (0, 2));
    }
}
