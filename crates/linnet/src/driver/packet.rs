//! An existing Linux interface (e.g. one end of a veth pair) driven through an `AF_PACKET`
//! socket.
//!
//! Linux: packet sockets (net/packet/af_packet.c), `packet(7)`. The socket is `SOCK_RAW`, so
//! whole Ethernet frames are read and written; it is bound to one interface for every
//! protocol (`ETH_P_ALL`), puts that interface in promiscuous mode (Linnet has its own MAC
//! address, different from the interface's) and asks not to see its own transmissions.
//!
//! Frames that Linux hands to the interface with offloads pending are read as they are: over
//! a veth, a peer's UDP/TCP checksums may still be partial and TCP segments may be GSO
//! super-frames larger than the MTU. A plain socket cannot tell, so unless offloads are
//! turned off on the sending side (see [`super::ifreq::set_tx_checksum`]) such frames fail
//! verification. [`PacketDevice::open_offload`] asks for a virtio-net header in front of
//! every frame (`PACKET_VNET_HDR`): the header says which checksums are partial and which
//! frames are super-frames, so they are accepted as they are, and Linnet sends 64 KiB TSO
//! super-frames the same way ([`super::virtio_net`]). Reads and writes go through the path
//! shared with the TAP driver (`fd.rs`).

use super::fd::FdDevice;
use super::ifreq;
use crate::buf::{BufPool, Meta, PacketBuf};
use crate::device::features::NetdevFeatures;
use crate::device::{DeviceStats, NetDevice};
use crate::time::Instant;
use crate::wire::EthernetAddress;
use std::cell::Cell;
use std::io;
use std::mem;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

pub use super::fd::RX_HEADROOM;

/// MTU assumed when `SIOCGIFMTU` fails. Linux: `ETH_DATA_LEN`.
pub const DEFAULT_MTU: usize = 1500;

/// Receive buffer size requested for the socket (the kernel caps it at `net.core.rmem_max`).
pub const RCVBUF_BYTES: libc::c_int = 4 << 20;

/// "Do not loop my own transmissions back to me". Linux: `PACKET_IGNORE_OUTGOING` (4.20+).
const PACKET_IGNORE_OUTGOING: libc::c_int = 23;

/// "Send straight to the driver, not through the qdisc". Linux: `PACKET_QDISC_BYPASS` (3.14+).
const PACKET_QDISC_BYPASS: libc::c_int = 20;

/// `sll_pkttype` of a frame this host sent. Linux: `PACKET_OUTGOING`.
const PACKET_OUTGOING: u8 = 4;

/// An interface driven through a bound `AF_PACKET`/`SOCK_RAW` socket.
#[derive(Debug)]
pub struct PacketDevice {
    /// The descriptor, name, counters and vnet-header state.
    io: FdDevice,
    ifindex: u32,
    mtu: usize,
    /// Present in ring mode.
    ring: Option<super::packet_ring::RxRing>,
}

/// `setsockopt(fd, level, name, &value, sizeof value)`.
fn setsockopt<T>(fd: &OwnedFd, level: libc::c_int, name: libc::c_int, value: &T) -> io::Result<()> {
    // SAFETY: `value` points to `size_of::<T>()` readable bytes for the duration of the call.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (value as *const T).cast(),
            mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Wrap `e` with what was being done, keeping its kind (and so `WouldBlock` etc.).
fn context(e: io::Error, what: &str) -> io::Error {
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

impl PacketDevice {
    /// Open a packet socket on the existing interface `ifname` (in the calling thread's
    /// network namespace). Needs `CAP_NET_RAW`. The socket is non-blocking and close-on-exec.
    ///
    /// The socket is created with protocol 0, which receives nothing, and only starts
    /// receiving when bound to `ifname` with `ETH_P_ALL`: no frame from another interface
    /// can slip in between `socket` and `bind`.
    pub fn open(ifname: &str) -> io::Result<PacketDevice> {
        Self::open_with(ifname, false, false)
    }

    /// Like [`PacketDevice::open`], with a virtio-net header on every frame
    /// (`PACKET_VNET_HDR`): partial checksums and GSO super-frames from Linux are understood,
    /// and Linnet sends TSO super-frames with partial checksums.
    pub fn open_offload(ifname: &str) -> io::Result<PacketDevice> {
        Self::open_with(ifname, true, false)
    }

    /// Like [`PacketDevice::open_offload`], receiving through a `TPACKET_V3` mmap ring
    /// (`super::packet_ring`) instead of one `recvmsg` per frame. Blocks are handed over
    /// when full or after a millisecond, so this suits bulk traffic.
    pub fn open_ring(ifname: &str) -> io::Result<PacketDevice> {
        Self::open_with(ifname, true, true)
    }

    fn open_with(ifname: &str, vnet: bool, ring: bool) -> io::Result<PacketDevice> {
        let ifindex = ifreq::if_nametoindex(ifname).map_err(|e| context(e, ifname))?;

        // SAFETY: plain system call with constant arguments.
        let raw = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                0,
            )
        };
        if raw < 0 {
            return Err(context(io::Error::last_os_error(), "socket(AF_PACKET)"));
        }
        // SAFETY: `raw` was just returned by socket(2) and is owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };

        match setsockopt(
            &fd,
            libc::SOL_PACKET,
            PACKET_IGNORE_OUTGOING,
            &1 as &libc::c_int,
        ) {
            Ok(()) => {}
            // Kernels before 4.20: `recv_batch` skips PACKET_OUTGOING frames instead.
            Err(e) if e.raw_os_error() == Some(libc::ENOPROTOOPT) => {}
            Err(e) => return Err(context(e, "setsockopt(PACKET_IGNORE_OUTGOING)")),
        }

        let ifindex_c = libc::c_int::try_from(ifindex).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("ifindex {ifindex} out of range"),
            )
        })?;
        // SAFETY: `packet_mreq` is plain old data; all-zero bytes are a valid value.
        let mut mreq: libc::packet_mreq = unsafe { mem::zeroed() };
        mreq.mr_ifindex = ifindex_c;
        mreq.mr_type = libc::PACKET_MR_PROMISC as libc::c_ushort;
        setsockopt(&fd, libc::SOL_PACKET, libc::PACKET_ADD_MEMBERSHIP, &mreq)
            .map_err(|e| context(e, "setsockopt(PACKET_ADD_MEMBERSHIP, PACKET_MR_PROMISC)"))?;

        if vnet {
            setsockopt(
                &fd,
                libc::SOL_PACKET,
                libc::PACKET_VNET_HDR,
                &1 as &libc::c_int,
            )
            .map_err(|e| context(e, "setsockopt(PACKET_VNET_HDR)"))?;
        }
        let ring = if ring {
            Some(super::packet_ring::RxRing::setup(fd.as_raw_fd(), vnet)?)
        } else {
            None
        };

        // Best effort: a larger queue rides out bursts between polls.
        let _ = setsockopt(&fd, libc::SOL_SOCKET, libc::SO_RCVBUF, &RCVBUF_BYTES);

        // Hand frames straight to the driver, past the interface's Linux qdisc: Linnet has
        // its own, and a full device then fails the send with ENOBUFS, so the frame is kept
        // and retried ([`crate::device::txq`]). Through a qdisc the send succeeds and the driver drops
        // the frame silently when its queue is full (a TAP's ring whose reader lags, counted
        // only in the interface's `tx_dropped`). Best effort: kernels before 3.14 lack it.
        // (Frames sent this way skip the interface's packet taps: `tcpdump` on it sees only
        // what Linnet receives.)
        let _ = setsockopt(
            &fd,
            libc::SOL_PACKET,
            PACKET_QDISC_BYPASS,
            &1 as &libc::c_int,
        );

        // SAFETY: `sockaddr_ll` is plain old data; all-zero bytes are a valid value.
        let mut sll: libc::sockaddr_ll = unsafe { mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as libc::c_ushort;
        sll.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
        sll.sll_ifindex = ifindex_c;
        // SAFETY: `sll` is a valid `sockaddr_ll` and the length passed is its size.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&sll as *const libc::sockaddr_ll).cast(),
                mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(context(
                io::Error::last_os_error(),
                &format!("bind to {ifname}"),
            ));
        }

        let mtu = ifreq::get_mtu(ifname).unwrap_or(DEFAULT_MTU);
        Ok(PacketDevice {
            io: FdDevice::new(fd, ifname.to_string(), vnet),
            ifindex,
            mtu,
            ring,
        })
    }

    /// Whether frames carry virtio-net headers (opened with [`PacketDevice::open_offload`]).
    pub fn has_vnet_hdr(&self) -> bool {
        self.io.has_vnet_hdr()
    }

    /// Whether frames are received through a `TPACKET_V3` ring ([`PacketDevice::open_ring`]).
    pub fn has_rx_ring(&self) -> bool {
        self.ring.is_some()
    }

    /// The interface name.
    pub fn name(&self) -> &str {
        &self.io.name
    }

    /// The Linux interface index the socket is bound to. Linux: `dev->ifindex`.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }
}

/// `recvmsg(fd, iov, MSG_TRUNC)`, storing the frame's packet type (`sll_pkttype`) in
/// `pkttype`: the read call of a packet socket. MSG_TRUNC makes the result the frame's real
/// length even when it did not fit.
fn recvmsg_ll(fd: RawFd, iov: &mut [libc::iovec], pkttype: &Cell<u8>) -> io::Result<usize> {
    // SAFETY: `sockaddr_ll` is plain old data; all-zero bytes are a valid value.
    let mut sll: libc::sockaddr_ll = unsafe { mem::zeroed() };
    // SAFETY: `msghdr` is plain old data; all-zero bytes are a valid value.
    let mut msg: libc::msghdr = unsafe { mem::zeroed() };
    msg.msg_name = (&mut sll as *mut libc::sockaddr_ll).cast();
    msg.msg_namelen = mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
    msg.msg_iov = iov.as_mut_ptr();
    msg.msg_iovlen = iov.len() as _;
    // SAFETY: `msg` points to the address buffer and the caller's iovecs, all writable and
    // alive for the call.
    let n = unsafe { libc::recvmsg(fd, &mut msg, libc::MSG_TRUNC) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    pkttype.set(sll.sll_pkttype);
    Ok(n as usize)
}

impl NetDevice for PacketDevice {
    fn name(&self) -> &str {
        &self.io.name
    }

    fn mtu(&self) -> usize {
        self.mtu
    }

    fn hw_addr(&self) -> Option<EthernetAddress> {
        None
    }

    fn recv_batch(
        &mut self,
        pool: &mut BufPool,
        out: &mut Vec<PacketBuf>,
        max: usize,
        now: Instant,
    ) -> io::Result<usize> {
        if let Some(ring) = self.ring.as_mut() {
            return Ok(ring.recv_batch(pool, out, max, now, RX_HEADROOM, &mut self.io.stats));
        }
        let fd = self.io.raw_fd();
        // The packet type of the last frame read: our own transmissions (on kernels without
        // PACKET_IGNORE_OUTGOING) are skipped.
        let pkttype = Cell::new(0u8);
        let read = |iov: &mut [libc::iovec]| recvmsg_ll(fd, iov, &pkttype);
        let keep = || pkttype.get() != PACKET_OUTGOING;
        self.io.napi_poll(pool, out, max, now, read, keep)
    }

    fn transmit(&mut self, frame: &[u8], _now: Instant) -> io::Result<()> {
        self.io.start_xmit(&Meta::default(), frame)
    }

    fn raw_fd(&self) -> Option<RawFd> {
        Some(self.io.raw_fd())
    }

    fn stats(&self) -> DeviceStats {
        self.io.stats
    }

    fn features(&self) -> NetdevFeatures {
        self.io.features()
    }

    fn transmit_buf(&mut self, buf: &PacketBuf, _now: Instant) -> io::Result<()> {
        self.io.start_xmit(&buf.meta, buf.data())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_interface_names_are_errors_not_panics() {
        let e = PacketDevice::open("a-name-longer-than-15").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        let e = PacketDevice::open("nosuchif0").unwrap_err();
        assert!(e.to_string().contains("nosuchif0"), "{e}");
    }
}
