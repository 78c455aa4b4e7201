//! The link layer: Ethernet receive and transmit, ARP and the neighbour cache.
//!
//! Linux: net/ethernet/eth.c, net/ipv4/arp.c, net/core/neighbour.c.

pub(crate) mod arp;
pub(crate) mod ethernet;
pub(crate) mod neigh_output;
pub mod neighbour;

pub use neighbour::{NeighEvent, NeighKey, NeighParams, NeighTable, NudState};
