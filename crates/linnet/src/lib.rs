//! Linnet: a Linux-style TCP/IP network stack in user space.
//!
//! # Embedding the stack
//!
//! A [`Stack`] (Linux's `struct net`) is the protocol core. [`runtime::spawn`] runs it on a
//! thread of its own with its devices, and [`TcpListener`], [`TcpStream`] and [`UdpSocket`]
//! are sockets over it shaped like `std::net`'s. With no device at all the stack still has
//! its loopback, so this runs without root:
//!
//! ```
//! use linnet::{Stack, TcpListener, TcpStream};
//! use std::io::{Read, Write};
//! use std::net::SocketAddrV4;
//!
//! let (handle, thread) = linnet::runtime::spawn(Stack::default(), Vec::new())?;
//! let addr: SocketAddrV4 = "127.0.0.1:7".parse()?;
//! let listener = TcpListener::bind(&handle, addr)?;
//! let echo = std::thread::spawn(move || -> std::io::Result<()> {
//!     let (mut conn, _peer) = listener.accept()?;
//!     let mut buf = [0u8; 64];
//!     let n = conn.read(&mut buf)?;
//!     conn.write_all(&buf[..n])
//! });
//! let mut client = TcpStream::connect(&handle, addr)?;
//! client.write_all(b"hello")?;
//! let mut back = [0u8; 5];
//! client.read_exact(&mut back)?;
//! assert_eq!(&back, b"hello");
//! echo.join().unwrap()?;
//! handle.stop();
//! thread.join().unwrap();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! On a real network the stack runs on a TAP device (or an existing interface through
//! AF_PACKET), which needs root or `CAP_NET_ADMIN`; [`Host::builder`] sets that up:
//!
//! ```no_run
//! let host = linnet::Host::builder()
//!     .tap("tap0")
//!     .addr("192.0.2.2/24".parse()?)
//!     .spawn()?;
//! let listener = linnet::TcpListener::bind(&host.handle, "[::]:7".parse::<std::net::SocketAddr>()?)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Deterministic simulation
//!
//! The core is sans-I/O: it never reads a clock or calls the OS, and is driven with `now`
//! from outside. A [`Sim`] joins stacks with in-memory links under a virtual clock, and
//! the socket calls are the stack's own (`socket`, `bind`, `listen`, `connect`, `accept`,
//! `send`, `recv`, as the system calls): a run is a pure function of its seeds.
//!
//! ```
//! use linnet::{Errno, LinkConfig, MsgFlags, Sim, SockType, Stack, StackConfig};
//! use std::net::SocketAddrV4;
//! use std::time::Duration;
//!
//! let mut sim = Sim::new();
//! for seed in [1, 2] {
//!     sim.add_stack(Stack::new(StackConfig { seed, ..StackConfig::default() }));
//! }
//! sim.connect(0, 1, LinkConfig::default(), "192.0.2.1/24".parse()?, "192.0.2.2/24".parse()?);
//!
//! let server: SocketAddrV4 = "192.0.2.2:7".parse()?;
//! let l = sim.stack(1).socket(SockType::Stream)?;
//! sim.stack(1).bind(l, server)?;
//! sim.stack(1).listen(l, 8)?;
//! let c = sim.stack(0).socket(SockType::Stream)?;
//! let now = sim.now();
//! assert_eq!(sim.stack(0).connect(c, server, now), Err(Errno::EINPROGRESS));
//!
//! // Virtual time: the handshake and the data take no wall-clock time at all.
//! sim.advance(Duration::from_millis(10));
//! let (s, _peer) = sim.stack(1).accept(l)?;
//! let now = sim.now();
//! sim.stack(0).send(c, b"ping", now)?;
//! sim.advance(Duration::from_millis(10));
//! let mut buf = [0u8; 16];
//! let now = sim.now();
//! let n = sim.stack(1).recv(s, &mut buf, MsgFlags::default(), now)?;
//! assert_eq!(&buf[..n], b"ping");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Layout
//!
//! The crate is laid out along the seams of the Linux network stack:
//!
//! - [`device`]: `net_device`, the transmit queue, GRO/GSO, offload features, loopback.
//! - [`driver`]: the drivers (TAP, AF_PACKET, the in-memory link) and the virtio-net header.
//! - [`link`]: Ethernet receive (`eth_type_trans`), ARP and the neighbour cache (`neigh_*`).
//! - [`ip`]: IPv4 receive (`ip_rcv`), local delivery, forwarding (`ip_forward`), output,
//!   routing tables, rules and route cache (`fib_lookup`), ICMP.
//! - [`transport`]: TCP, UDP and ping sockets.
//! - [`qdisc`]: egress queueing disciplines on each device.
//! - [`netfilter`]: the IPv4 hooks, filter and nat tables (iptables syntax), conntrack, NAT.
//! - [`control`]: the netlink analogue, typed requests and responses served by the daemon.
//!
//! Socket identity sits below the protocols (`core`, with [`SockId`] and the socket table).
//! The protocol core ([`Stack`]) holds each layer's state in its own struct and the
//! [`runtime`] owns devices and threads. Packets travel in one buffer type,
//! [`buf::PacketBuf`] (the `sk_buff` analogue), and wire formats are typed views in
//! [`wire`].
//!
//! Modules only the stack itself uses are private; what linnetd, the CLI, the bench and the
//! tools need stays public, and the names most programs use are re-exported here.
//!
//! `unsafe` code is denied except in the modules that call the OS ([`driver`], [`runtime`],
//! the control socket) and the vectorised checksum, each block with a SAFETY note.

#![deny(unsafe_code)]
#![warn(missing_docs)]

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
pub use runtime::{Handle, Host, HostBuilder, HostError, HostIface, IfAddr};
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
