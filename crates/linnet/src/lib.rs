//! Linnet: a Linux-style TCP/IP network stack in user space.
//!
//! The crate is laid out along the seams of the Linux network stack:
//!
//! - [`core`]: socket identity below the protocols (`SockId`, the socket table).
//! - [`device`]: `net_device`, the transmit queue, GRO/GSO, offload features, loopback.
//! - [`driver`]: the drivers (TAP, AF_PACKET, the in-memory link) and the virtio-net header.
//! - [`link`]: Ethernet receive (`eth_type_trans`), ARP and the neighbour cache (`neigh_*`).
//! - [`ip`]: IPv4 receive (`ip_rcv`), local delivery, forwarding (`ip_forward`), output,
//!   routing tables, rules and route cache (`fib_lookup`), ICMP.
//! - [`qdisc`]: egress queueing disciplines on each device.
//! - [`netfilter`]: the IPv4 hooks, filter and nat tables (iptables syntax), conntrack, NAT.
//! - [`control`]: the netlink analogue, typed requests and responses served by the daemon.
//!
//! The protocol core ([`stack::Stack`], Linux's `struct net`) holds each layer's state in its
//! own struct (`device::netns`, `ip::netns`, ...) and is sans-I/O: it never reads a clock or
//! calls the OS. It is driven with `now` from outside; the [`runtime`] owns devices and threads.
//! Packets travel in one buffer type, [`buf::PacketBuf`] (the `sk_buff` analogue), and wire
//! formats are typed views in [`wire`].
//!
//! `unsafe` code is denied except in the modules that call the OS ([`driver`], [`runtime`],
//! the control socket) and the vectorised checksum, each block with a SAFETY note.

#![deny(unsafe_code)]

pub mod buf;
pub(crate) mod core;
pub mod device;
#[allow(unsafe_code)]
pub mod driver;
pub(crate) mod errno;
pub(crate) mod fasthash;
pub mod ip;
pub mod ipv6;
pub mod link;
pub mod netfilter;
pub mod qdisc;
pub mod stack;
pub mod stats;
pub mod time;
pub mod transport;
pub mod wire;

pub use errno::Errno;
pub use stack::{Stack, StackConfig};
pub use time::Instant;

// The curated surface: what a program embedding the stack, and the workspace's programs
// (linnetd, the CLI, the bench, the tools), name most often.
pub use api::{TcpListener, TcpStream, UdpSocket};
pub use control::client::Client;
pub use control::{Request, Response};
pub use device::NetDevice;
pub use driver::memlink::{LinkConfig, MemLink};
pub use driver::packet::PacketDevice;
pub use driver::tap::TapDevice;
pub use runtime::{Handle, Host, HostBuilder, HostError};
pub use sim::Sim;
pub use socket::{MsgFlags, Shutdown, SockId, SockOpt, SockType};
pub use wire::{EthernetAddress, Ipv4Addr, Ipv4Cidr};
pub mod api;
pub mod control;
#[allow(unsafe_code)]
pub mod runtime;
pub(crate) mod sim;
pub mod socket;
pub mod trace;
