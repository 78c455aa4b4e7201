//! What a device can do for the stack: checksum and segmentation offloads, and how a socket
//! learns those of its route.
//!
//! Linux: `netdev_features_t` (include/linux/netdev_features.h), `dev->features` set by the
//! driver at registration, `sk_setup_caps` (net/core/sock.c).

use crate::stack::Stack;
use std::net::Ipv4Addr;

/// What a device can do for the stack. Linux: `netdev_features_t` (`NETIF_F_HW_CSUM`,
/// `NETIF_F_TSO`) with `dev->gso_max_size`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NetdevFeatures {
    /// The device finishes partial checksums on transmit (`NETIF_F_HW_CSUM`).
    pub hw_csum: bool,
    /// The device takes TCP/IPv4 super-frames up to `super::gso::GSO_MAX_SIZE`
    /// (`NETIF_F_TSO`).
    /// Implies `hw_csum`.
    pub tso: bool,
}

impl NetdevFeatures {
    /// What a vnet-header device (TAP with `IFF_VNET_HDR`, packet socket with
    /// `PACKET_VNET_HDR`) offers: the kernel finishes checksums and segments super-frames.
    pub const VNET: NetdevFeatures = NetdevFeatures {
        hw_csum: true,
        tso: true,
    };
}

impl Stack {
    /// Record what the device behind `ifindex` can offload (the runtime calls this when it
    /// attaches a driver). Linux: `dev->features`, set by the driver at registration.
    pub fn set_dev_features(&mut self, ifindex: u32, features: NetdevFeatures) {
        if let Some(i) = self.iface_mut(ifindex) {
            i.features = features;
            // Sockets cache their route's features by route generation (`route_caps`).
            self.ipv4.rt_cache_flush();
        }
    }

    /// The offloads of the device a locally generated packet to `dst` (from `src`) leaves by,
    /// none when there is no route. Linux: `sk_setup_caps` (`sk->sk_route_caps`).
    pub(crate) fn sk_route_caps(&self, dst: Ipv4Addr, src: Ipv4Addr) -> NetdevFeatures {
        match self.ip_route_output(dst, Some(src)) {
            Ok(rt) => self
                .iface(rt.ifindex)
                .map(|i| i.features)
                .unwrap_or_default(),
            Err(_) => NetdevFeatures::default(),
        }
    }
}
