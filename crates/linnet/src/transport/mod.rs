//! Transport protocols above IPv4.
//!
//! Linux: net/ipv4/ping.c (ICMP echo sockets), udp.c. TCP joins with the socket layer.

pub mod ping;
pub mod tcp;
pub mod udp;
