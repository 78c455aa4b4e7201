//! A Linux TAP interface as a Linnet device.
//!
//! Linux: the TUN/TAP driver (drivers/net/tun.c). Opening `/dev/net/tun` and issuing
//! `TUNSETIFF` with `IFF_TAP | IFF_NO_PI` creates (or attaches to) an Ethernet interface whose
//! transmitted frames can be `read` from the descriptor, and whose received frames are what we
//! `write` to it. The Linux side of the interface keeps its own MAC address; Linnet is another
//! host on that virtual link.
//!
//! With [`TapDevice::open_offload`] the interface is created with `IFF_VNET_HDR` and told
//! (`TUNSETOFFLOAD`) that Linnet takes partial checksums and TCP/IPv4 super-frames: every
//! frame in either direction is preceded by a virtio-net header ([`super::virtio_net`]), Linux
//! hands over up to 64 KiB per read, and Linnet writes 64 KiB TSO segments. Reads and
//! writes go through the path shared with the packet-socket driver (`fd.rs`).
//!
//! The interface lives in the network namespace of the thread that opened it; the descriptor
//! keeps working if the interface is later moved (`ip link set NAME netns NS`), but
//! [`TapDevice::set_link_up`] then fails because it configures by name in the caller's
//! namespace.

use super::fd::{self, FdDevice};
use super::ifreq;
use super::virtio_net::VNET_HDR_LEN;
use crate::buf::{BufPool, Meta, PacketBuf};
use crate::device::features::NetdevFeatures;
use crate::device::{DeviceStats, NetDevice};
use crate::time::Instant;
use crate::wire::EthernetAddress;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

pub use super::fd::RX_HEADROOM;

/// MTU assumed when `SIOCGIFMTU` fails. Linux: `ETH_DATA_LEN`.
pub const DEFAULT_MTU: usize = 1500;

/// The TUN/TAP control device. Linux: `/dev/net/tun` (`tun_miscdev`).
const TUN_PATH: &std::ffi::CStr = c"/dev/net/tun";

/// A TAP interface opened through `/dev/net/tun`.
#[derive(Debug)]
pub struct TapDevice {
    /// The descriptor, name, counters and vnet-header state.
    io: FdDevice,
    mtu: usize,
}

/// What Linnet accepts from the kernel: partial checksums, TCP/IPv4 super-frames.
/// Linux: `TUN_F_CSUM | TUN_F_TSO4` for `TUNSETOFFLOAD`.
const TUN_OFFLOADS: libc::c_uint = libc::TUN_F_CSUM | libc::TUN_F_TSO4;

impl TapDevice {
    /// Create the TAP interface `name`, or attach to it if it already exists and is a TAP.
    /// `name` may be a pattern such as `tap%d`, in which case the kernel picks the number; an
    /// empty name lets the kernel choose entirely. The descriptor is non-blocking and
    /// close-on-exec. Needs `CAP_NET_ADMIN`. Linux: `tun_set_iff` via `TUNSETIFF`.
    pub fn open(name: &str) -> io::Result<TapDevice> {
        Self::open_with(name, false)
    }

    /// Like [`TapDevice::open`], with offloads: `IFF_VNET_HDR`, a 10-byte virtio-net header
    /// (`TUNSETVNETHDRSZ`), and `TUNSETOFFLOAD` with checksum and TCP/IPv4 segmentation
    /// offload, so that frames of up to 64 KiB with partial checksums go both ways.
    /// Attaching to an existing TAP needs it to have been created with the same flags.
    /// Linux: `tun_set_iff` with `IFF_VNET_HDR`, `set_offload`.
    pub fn open_offload(name: &str) -> io::Result<TapDevice> {
        Self::open_with(name, true)
    }

    fn open_with(name: &str, vnet: bool) -> io::Result<TapDevice> {
        let mut ifr = ifreq::ifreq_for(name)?;
        let mut flags = libc::IFF_TAP | libc::IFF_NO_PI;
        if vnet {
            flags |= libc::IFF_VNET_HDR;
        }
        ifr.ifr_ifru.ifru_flags = flags as libc::c_short;

        // SAFETY: `TUN_PATH` is a NUL-terminated string; open(2) does not retain it.
        let raw = unsafe {
            libc::open(
                TUN_PATH.as_ptr(),
                libc::O_RDWR | libc::O_NONBLOCK | libc::O_CLOEXEC,
            )
        };
        if raw < 0 {
            let e = io::Error::last_os_error();
            return Err(io::Error::new(e.kind(), format!("open /dev/net/tun: {e}")));
        }
        // SAFETY: `raw` was just returned by open(2) and is owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };

        // SAFETY: TUNSETIFF reads and writes one `struct ifreq`, which `ifr` is.
        let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TUNSETIFF, &mut ifr as *mut _) };
        if rc < 0 {
            let e = io::Error::last_os_error();
            return Err(io::Error::new(e.kind(), format!("TUNSETIFF {name:?}: {e}")));
        }
        if vnet {
            let size = VNET_HDR_LEN as libc::c_int;
            // SAFETY: TUNSETVNETHDRSZ reads one int, which `size` is.
            let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TUNSETVNETHDRSZ, &size) };
            if rc < 0 {
                let e = io::Error::last_os_error();
                return Err(io::Error::new(e.kind(), format!("TUNSETVNETHDRSZ: {e}")));
            }
            // SAFETY: TUNSETOFFLOAD takes the flags as its integer argument.
            let rc = unsafe {
                libc::ioctl(
                    fd.as_raw_fd(),
                    libc::TUNSETOFFLOAD,
                    TUN_OFFLOADS as libc::c_ulong,
                )
            };
            if rc < 0 {
                let e = io::Error::last_os_error();
                return Err(io::Error::new(e.kind(), format!("TUNSETOFFLOAD: {e}")));
            }
        }
        // The kernel writes back the actual name (it resolves patterns such as `tap%d`).
        let name = ifreq::ifreq_name(&ifr);
        let mtu = ifreq::get_mtu(&name).unwrap_or(DEFAULT_MTU);
        Ok(TapDevice {
            io: FdDevice::new(fd, name, vnet),
            mtu,
        })
    }

    /// Whether frames carry virtio-net headers (opened with [`TapDevice::open_offload`]).
    pub fn has_vnet_hdr(&self) -> bool {
        self.io.has_vnet_hdr()
    }

    /// The interface name the kernel assigned.
    pub fn name(&self) -> &str {
        &self.io.name
    }

    /// Bring the Linux side of the interface up or down (`ip link set NAME up|down`). Acts in
    /// the calling thread's namespace: it fails (`ENODEV`) if the interface has been moved to
    /// another one. Linux: `SIOCSIFFLAGS` with `IFF_UP`.
    pub fn set_link_up(&self, up: bool) -> io::Result<()> {
        ifreq::set_up(&self.io.name, up)
    }
}

impl NetDevice for TapDevice {
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
        let fd = self.io.raw_fd();
        self.io
            .napi_poll(pool, out, max, now, |iov| fd::readv(fd, iov), || true)
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
    fn invalid_names_are_errors_not_panics() {
        let e = TapDevice::open("a-name-longer-than-15").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        let e = TapDevice::open("nul\0name").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        // What the kernel refuses (needs root) is checked in tests/devices.rs.
    }
}
