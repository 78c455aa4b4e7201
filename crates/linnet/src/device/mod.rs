//! Network devices, the core side: Linnet's `net_device`, its transmit queue, and what the
//! core does for every device (GRO on receive; GSO, checksum help and offload features on
//! transmit; the loopback device).
//!
//! Linux: `struct net_device` (include/linux/netdevice.h), net/core/dev.c, gro.c, gso.c,
//! drivers/net/loopback.c.
//!
//! A [`NetDevice`] is owned by the runtime (the I/O edge), never by the protocol core. The
//! runtime reads batches of frames from each device and hands them to
//! [`crate::stack::Stack::receive`]; it drains [`crate::stack::Stack::take_tx`] into
//! [`NetDevice::transmit`]. The drivers (TAP, AF_PACKET, the in-memory link) are in
//! [`crate::driver`].
//!
//! A driver whose device is full refuses a frame rather than drop it; the frame waits at
//! the head of the device's queue (`txq`) until the driver is retried.
//!
//! Before a frame is queued, `xmit` makes it fit the device (`validate_xmit_skb`): a TSO
//! super-frame is segmented in software (`gso`) for a device without TSO, a partial
//! checksum finished for one without checksum offload ([`features`]). Received in-order TCP
//! segments merge before TCP (`gro`).
//!
//! The loopback device needs no I/O and lives in the core (`loopback`).

pub mod features;
pub(crate) mod gro;
pub(crate) mod gso;
pub(crate) mod loopback;
pub(crate) mod napi;
pub(crate) mod netns;
pub(crate) mod offload;
pub(crate) mod txq;
pub(crate) mod xmit;

/// Public for the checksum tests in `crates/linnet/tests/devices.rs`; not part of the API.
#[doc(hidden)]
pub use xmit::skb_checksum_help;

use crate::buf::{BufPool, PacketBuf};
use crate::time::Instant;
use crate::wire::EthernetAddress;
use serde::{Deserialize, Serialize};
use std::io;
use std::os::fd::RawFd;

/// Per-device counters, as `ip -s link` shows them.
/// Linux: `struct rtnl_link_stats64`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceStats {
    /// Frames received.
    pub rx_packets: u64,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Receive errors (short frames, read errors).
    pub rx_errors: u64,
    /// Frames received but dropped (no buffer, queue full).
    pub rx_dropped: u64,
    /// Frames transmitted.
    pub tx_packets: u64,
    /// Bytes transmitted.
    pub tx_bytes: u64,
    /// Transmit errors (write failures).
    pub tx_errors: u64,
    /// Frames dropped before transmission (queue full, device busy).
    pub tx_dropped: u64,
}

impl DeviceStats {
    /// Count one received frame of `len` bytes.
    pub fn count_rx(&mut self, len: usize) {
        self.rx_packets += 1;
        self.rx_bytes += len as u64;
    }

    /// Count one transmitted frame of `len` bytes.
    pub fn count_tx(&mut self, len: usize) {
        self.tx_packets += 1;
        self.tx_bytes += len as u64;
    }
}

/// A device driver as the runtime uses it. Frames are whole Ethernet II frames.
///
/// `now` is passed to both directions so that drivers which model time (the in-memory link's
/// delay) stay sans-clock; drivers that do real I/O ignore it.
pub trait NetDevice: Send {
    /// Interface name (e.g. `tap0`).
    fn name(&self) -> &str;

    /// The link MTU (payload bytes after the Ethernet header).
    fn mtu(&self) -> usize;

    /// Hardware address the stack should use on this link, if the driver dictates one.
    /// `None` lets the stack choose (TAP and AF_PACKET drivers return `None`: the Linux-side
    /// interface keeps its own address and Linnet is a separate host on the link).
    fn hw_addr(&self) -> Option<EthernetAddress>;

    /// Read up to `max` frames that are ready now, without blocking, appending them to `out`.
    /// Buffers come from `pool`. Returns how many frames were appended.
    /// Linux: the NAPI poll of a driver (`napi_poll` with a budget).
    fn recv_batch(
        &mut self,
        pool: &mut BufPool,
        out: &mut Vec<PacketBuf>,
        max: usize,
        now: Instant,
    ) -> io::Result<usize>;

    /// Send one frame. Linux: `ndo_start_xmit`.
    ///
    /// A device with no room for the frame now returns an error for which
    /// `txq::is_tx_busy` holds (Linux: `NETDEV_TX_BUSY`): the frame was not sent and the
    /// caller keeps it for a retry ([`crate::stack::Stack::dev_requeue_skb`]), instead of the
    /// device dropping it silently.
    fn transmit(&mut self, frame: &[u8], now: Instant) -> io::Result<()>;

    /// A file descriptor that becomes readable when frames arrive, for poll/epoll.
    fn raw_fd(&self) -> Option<RawFd>;

    /// The earliest time at which a frame not yet readable will become readable (in-memory
    /// links with delay), so the runtime can sleep until then.
    fn next_event(&self) -> Option<Instant> {
        None
    }

    /// Counters.
    fn stats(&self) -> DeviceStats;

    /// What the device offloads (the stack builds TSO super-frames and leaves checksums
    /// partial only for a device that says so). Default: nothing.
    /// Linux: `dev->features`.
    fn features(&self) -> features::NetdevFeatures {
        features::NetdevFeatures::default()
    }

    /// Send one frame with its metadata (a driver with offloads turns the partial checksum
    /// and GSO state into a virtio-net header). Default: [`NetDevice::transmit`] of the bytes.
    /// A full device is reported as by [`NetDevice::transmit`]. Linux: `ndo_start_xmit` with
    /// the skb.
    fn transmit_buf(&mut self, buf: &PacketBuf, now: Instant) -> io::Result<()> {
        self.transmit(buf.data(), now)
    }
}
