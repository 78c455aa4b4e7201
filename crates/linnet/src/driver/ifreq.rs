//! Interface configuration through `struct ifreq` ioctls on a control socket.
//!
//! Linux: `dev_ioctl` (net/core/dev_ioctl.c), reached from `sock_ioctl` on any socket; the
//! classic tools (`ifconfig`, glibc's `if_nametoindex`) use an `AF_INET`/`SOCK_DGRAM` socket
//! for this, and so do these helpers.
//!
//! Every helper opens a fresh control socket, so it acts in the network namespace of the
//! calling thread at the time of the call (the tests move a thread into a namespace with
//! `linnet_testkit::NetNs::run_in`).

use std::io;
use std::mem;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// Longest interface name plus its terminating NUL. Linux: `IFNAMSIZ`.
pub const IFNAMSIZ: usize = libc::IFNAMSIZ;

/// Check that `name` fits in `ifr_name` (at most `IFNAMSIZ - 1` bytes, no NUL), returning
/// an `InvalidInput` error otherwise. Linux: the length half of `dev_valid_name`.
pub fn check_name(name: &str) -> io::Result<()> {
    if name.len() >= IFNAMSIZ {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "interface name {name:?} is {} bytes long; at most {} are allowed",
                name.len(),
                IFNAMSIZ - 1
            ),
        ));
    }
    if name.bytes().any(|b| b == 0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("interface name {name:?} contains a NUL byte"),
        ));
    }
    Ok(())
}

/// A zeroed `struct ifreq` with `ifr_name` set to `name` (validated with [`check_name`]).
pub(crate) fn ifreq_for(name: &str) -> io::Result<libc::ifreq> {
    check_name(name)?;
    // SAFETY: `ifreq` is plain old data (arrays, integers, a raw pointer in a union); all-zero
    // bytes are a valid value.
    let mut ifr: libc::ifreq = unsafe { mem::zeroed() };
    for (dst, src) in ifr.ifr_name.iter_mut().zip(name.bytes()) {
        *dst = src as libc::c_char;
    }
    Ok(ifr)
}

/// The name held in `ifr.ifr_name` (up to the first NUL), as the kernel wrote it back.
pub(crate) fn ifreq_name(ifr: &libc::ifreq) -> String {
    let bytes: Vec<u8> = ifr
        .ifr_name
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// An `AF_INET`/`SOCK_DGRAM` socket to issue interface ioctls on.
fn control_socket() -> io::Result<OwnedFd> {
    // SAFETY: plain system call with constant arguments.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by socket(2) and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Issue `request` with `ifr` on a fresh control socket.
fn ifreq_ioctl(request: libc::c_ulong, ifr: &mut libc::ifreq) -> io::Result<()> {
    let sock = control_socket()?;
    // SAFETY: every request passed here (SIOCGIF*/SIOCSIF*) reads and writes at most one
    // `struct ifreq`, which `ifr` points to for the duration of the call; for SIOCETHTOOL the
    // caller has pointed `ifr_data` at a live ethtool command struct.
    let rc = unsafe { libc::ioctl(sock.as_raw_fd(), request as _, ifr as *mut libc::ifreq) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The index of interface `name`. Linux: `if_nametoindex(3)`, done with `SIOCGIFINDEX` as
/// glibc does.
pub fn if_nametoindex(name: &str) -> io::Result<u32> {
    let mut ifr = ifreq_for(name)?;
    ifreq_ioctl(libc::SIOCGIFINDEX, &mut ifr)?;
    // SAFETY: SIOCGIFINDEX succeeded, so the kernel filled `ifru_ifindex`.
    let index = unsafe { ifr.ifr_ifru.ifru_ifindex };
    u32::try_from(index).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("kernel returned ifindex {index} for {name:?}"),
        )
    })
}

/// The MTU of interface `name`. Linux: `SIOCGIFMTU`.
pub fn get_mtu(name: &str) -> io::Result<usize> {
    let mut ifr = ifreq_for(name)?;
    ifreq_ioctl(libc::SIOCGIFMTU, &mut ifr)?;
    // SAFETY: SIOCGIFMTU succeeded, so the kernel filled `ifru_mtu`.
    let mtu = unsafe { ifr.ifr_ifru.ifru_mtu };
    usize::try_from(mtu).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("kernel returned MTU {mtu} for {name:?}"),
        )
    })
}

/// The interface flags of `name` (`IFF_UP`, `IFF_RUNNING`, ... as `libc::IFF_*`); only the
/// 16 bits `ifr_flags` carries. Linux: `SIOCGIFFLAGS`.
pub fn get_flags(name: &str) -> io::Result<libc::c_int> {
    let mut ifr = ifreq_for(name)?;
    ifreq_ioctl(libc::SIOCGIFFLAGS, &mut ifr)?;
    // SAFETY: SIOCGIFFLAGS succeeded, so the kernel filled `ifru_flags`.
    let flags = unsafe { ifr.ifr_ifru.ifru_flags };
    // Zero-extend: bit 15 (IFF_DYNAMIC) must not smear into the upper bits.
    Ok(libc::c_int::from(flags as u16))
}

/// Set the interface flags of `name`. `flags` must fit in 16 bits (the size of `ifr_flags`),
/// otherwise an `InvalidInput` error is returned. Needs `CAP_NET_ADMIN`. Linux: `SIOCSIFFLAGS`.
pub fn set_flags(name: &str, flags: libc::c_int) -> io::Result<()> {
    let bits = u16::try_from(flags).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("interface flags {flags:#x} do not fit in 16 bits"),
        )
    })?;
    let mut ifr = ifreq_for(name)?;
    ifr.ifr_ifru.ifru_flags = bits as libc::c_short;
    ifreq_ioctl(libc::SIOCSIFFLAGS, &mut ifr)
}

/// Bring interface `name` administratively up or down (`ip link set NAME up|down`), leaving
/// the other flags as they are. Linux: `dev_change_flags` with `IFF_UP`.
pub fn set_up(name: &str, up: bool) -> io::Result<()> {
    let flags = get_flags(name)?;
    let wanted = if up {
        flags | libc::IFF_UP
    } else {
        flags & !libc::IFF_UP
    };
    if wanted == flags {
        return Ok(());
    }
    set_flags(name, wanted)
}

/// The hardware address of interface `name` (the first six bytes of `ifr_hwaddr.sa_data`;
/// all zero for interfaces without one, such as `lo`). Linux: `SIOCGIFHWADDR`.
pub fn get_hwaddr(name: &str) -> io::Result<[u8; 6]> {
    let mut ifr = ifreq_for(name)?;
    ifreq_ioctl(libc::SIOCGIFHWADDR, &mut ifr)?;
    // SAFETY: SIOCGIFHWADDR succeeded, so the kernel filled `ifru_hwaddr`.
    let sa = unsafe { ifr.ifr_ifru.ifru_hwaddr };
    let mut mac = [0u8; 6];
    for (dst, src) in mac.iter_mut().zip(sa.sa_data.iter()) {
        *dst = *src as u8;
    }
    Ok(mac)
}

/// Get the transmit-checksum-offload setting. Linux: `ETHTOOL_GTXCSUM`.
const ETHTOOL_GTXCSUM: u32 = 0x16;

/// Set the transmit-checksum-offload setting. Linux: `ETHTOOL_STXCSUM`.
const ETHTOOL_STXCSUM: u32 = 0x17;

/// A one-value ethtool command. Linux: `struct ethtool_value`.
#[repr(C)]
struct EthtoolValue {
    cmd: u32,
    data: u32,
}

/// Issue a one-value ethtool command on `name`, returning the value the kernel left.
fn ethtool_value(name: &str, cmd: u32, data: u32) -> io::Result<u32> {
    let mut value = EthtoolValue { cmd, data };
    let mut ifr = ifreq_for(name)?;
    ifr.ifr_ifru.ifru_data = (&mut value as *mut EthtoolValue).cast();
    ifreq_ioctl(libc::SIOCETHTOOL, &mut ifr)?;
    Ok(value.data)
}

/// Whether interface `name` offloads transmit checksums. Linux: `ethtool -k NAME`
/// (`ETHTOOL_GTXCSUM` via `SIOCETHTOOL`).
pub fn get_tx_checksum(name: &str) -> io::Result<bool> {
    ethtool_value(name, ETHTOOL_GTXCSUM, 0).map(|v| v != 0)
}

/// Turn transmit checksum offload of interface `name` on or off (turning it off also turns
/// off TSO, which depends on it). Needs `CAP_NET_ADMIN`. Linux: `ethtool -K NAME tx on|off`
/// (`ETHTOOL_STXCSUM` via `SIOCETHTOOL`).
///
/// Useful on the Linux end of a veth pair whose other end Linnet drives with a
/// [`super::packet::PacketDevice`]: with offload on, Linux hands UDP/TCP over the veth with
/// checksums not yet filled in (`CHECKSUM_PARTIAL`) and TCP as GSO super-frames, and a packet
/// socket reads them that way.
pub fn set_tx_checksum(name: &str, on: bool) -> io::Result<()> {
    ethtool_value(name, ETHTOOL_STXCSUM, u32::from(on)).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_or_nul_names_are_invalid_input() {
        let long = "abcdefghijklmnop"; // 16 bytes
        for r in [
            if_nametoindex(long).map(|_| ()),
            get_mtu(long).map(|_| ()),
            get_flags(long).map(|_| ()),
            set_flags(long, 0),
            set_up(long, true),
            get_hwaddr(long).map(|_| ()),
            check_name("a\0b"),
        ] {
            assert_eq!(r.unwrap_err().kind(), io::ErrorKind::InvalidInput);
        }
        assert!(check_name("abcdefghijklmno").is_ok()); // 15 bytes
        assert_eq!(
            set_flags("lo", 0x1_0000).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
        assert_eq!(
            set_flags("lo", -1).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
    }

    #[test]
    fn name_round_trips_through_ifreq() {
        let ifr = ifreq_for("veth-x1").unwrap();
        assert_eq!(ifreq_name(&ifr), "veth-x1");
        let ifr = ifreq_for("abcdefghijklmno").unwrap();
        assert_eq!(ifreq_name(&ifr), "abcdefghijklmno");
    }
    // The ioctls against a real interface (root) are checked in tests/devices.rs.
}
