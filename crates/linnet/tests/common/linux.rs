//! Linnet hosts facing the Linux kernel in a namespace, for the `linux_*` tests: the TAP
//! (or veth) plumbing comes from `linnet_testkit`, the Linnet side from here.

use linnet::Host;
use linnet::NetDevice;
use linnet::TapDevice;
use linnet_testkit::{addr, NetNs};

/// A namespace (its name starts with `ns_prefix`) holding the Linux end of `tap` at
/// 192.0.2.1/24, up; the TAP's descriptor, which stays valid after the move, comes back for
/// a Linnet host.
pub fn tap_netns(ns_prefix: &str, tap: TapDevice) -> (NetNs, TapDevice) {
    let ns = NetNs::new(ns_prefix).expect("netns");
    ns.attach(tap.name(), addr::LINUX_CIDR, None)
        .expect("move the TAP into the namespace");
    (ns, tap)
}

/// A Linnet host on `device`, its interface called `eth0`, with address `cidr`.
pub fn host_on(device: Box<dyn NetDevice>, cidr: &str) -> Host {
    Host::builder()
        .device(device)
        .ifname("eth0")
        .addr(cidr.parse().expect("cidr"))
        .spawn()
        .expect("host")
}

/// The usual pair: a namespace with the Linux end of a new TAP at 192.0.2.1/24 and a Linnet
/// host on the TAP at 192.0.2.2/24. `tap_prefix` (2 or 3 letters) names the TAP.
pub fn tap_host(ns_prefix: &str, tap_prefix: &str) -> (NetNs, Host) {
    let tap = TapDevice::open(&linnet_testkit::proc::unique(tap_prefix)).expect("tap");
    let (ns, tap) = tap_netns(ns_prefix, tap);
    (ns, host_on(Box::new(tap), addr::LINNET_CIDR))
}
