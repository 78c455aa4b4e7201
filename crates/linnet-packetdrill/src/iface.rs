//! The stack packetdrill talks to: Linux's defaults and one raw-IP interface (`tun0`, as
//! packetdrill's own tun device is named) with the local address, an on-link default route
//! and the remote end as a permanent neighbour.
//!
//! Linux: what packetdrill's `netdev_new` sets up on a tun device (`ip addr add`, `ip route
//! add`), here inside the virtual stack only.

use crate::device::RawIpDevice;
use crate::Config;
use linnet::ip::fib::Route;
use linnet::{EthernetAddress, Ipv4Cidr};
use linnet::{Instant, Stack, StackConfig};

/// Our end's link address (never seen on a wire: the device strips Ethernet headers).
const LOCAL_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x01]);
/// The address the device answers ARP with for every neighbour.
pub(crate) const PEER_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x02]);

/// Linux's defaults where Linnet's differ for what packetdrill scripts assume.
fn linux_config() -> StackConfig {
    let mut c = StackConfig::default();
    // net.ipv4.tcp_rmem / tcp_wmem defaults before defaults.sh runs (131072 / 16384).
    c.tcp.rmem_default = 131_072;
    c.tcp.wmem_default = 16_384;
    // The tun device carries IPv4 only (packetdrill's default mode): no router
    // solicitations or MLD timers running the virtual clock while a script waits.
    c.disable_ipv6 = true;
    c
}

/// Build the stack and its device.
pub fn build_stack(cfg: &Config, now: Instant) -> (Stack, RawIpDevice) {
    let mut stack = Stack::new(linux_config());
    let ifindex = stack.add_interface("tun0", LOCAL_MAC, cfg.mtu);
    let _ = stack.set_link_up(ifindex, true, now);
    if let Some(cidr) = Ipv4Cidr::new(cfg.local_ip, cfg.prefix) {
        let _ = stack.add_addr(ifindex, cidr, now);
    }
    if let Some(any) = Ipv4Cidr::new(std::net::Ipv4Addr::UNSPECIFIED, 0) {
        let _ = stack.add_route(Route::unicast(any, None, ifindex));
    }
    let _ = stack.add_neighbour(ifindex, cfg.remote_ip, PEER_MAC, now);
    (stack, RawIpDevice::new(ifindex, LOCAL_MAC, PEER_MAC))
}
