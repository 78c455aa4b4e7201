//! Device drivers: the code that moves frames between a [`crate::device::NetDevice`] and
//! something outside the stack.
//!
//! Linux: drivers/net/ (tun.c, veth.c) and the packet-socket side of net/packet/af_packet.c.
//!
//! - [`tap::TapDevice`]: a Linux TAP interface (`/dev/net/tun`, `IFF_TAP | IFF_NO_PI`).
//! - [`packet::PacketDevice`]: an `AF_PACKET` socket bound to an existing interface (e.g. a
//!   veth end), optionally receiving through a `TPACKET_V3` ring (`packet_ring`).
//! - [`memlink::MemLink`]: an in-memory point-to-point link with seeded loss, delay,
//!   duplication and reordering, for tests and simulations.
//!
//! TAP and AF_PACKET share one descriptor-backed transmit/receive path (`fd.rs`) and can
//! exchange frames behind virtio-net headers, with TSO/GSO super-frames and partial
//! checksums ([`virtio_net`]). Interface configuration ioctls are in [`ifreq`].
//!
//! This is the only part of the library, with the runtime and the control socket, that
//! talks to the OS: the module is allowed `unsafe` code, each block with a SAFETY note.

pub(crate) mod fd;
/// Public for `crates/linnet/tests/{devices,linux_offload}.rs`, which check the kernel's view
/// of an interface; not part of the API.
#[doc(hidden)]
pub mod ifreq;
pub mod memlink;
pub mod packet;
pub(crate) mod packet_ring;
pub mod tap;
pub mod virtio_net;
