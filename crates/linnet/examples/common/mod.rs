//! Start-up shared by the examples: a Linnet host on a TAP device.

use linnet::device::packet::PacketDevice;
use linnet::device::tap::TapDevice;
use linnet::device::NetDevice;
use linnet::runtime::{spawn_host, Host, HostConfig};
use std::collections::HashMap;

/// `--key value` pairs from the command line.
pub fn args() -> HashMap<String, String> {
    let mut m = HashMap::new();
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        if let Some(k) = k.strip_prefix("--") {
            m.insert(k.to_string(), it.next().unwrap_or_default());
        }
    }
    m
}

/// Open `--tap NAME` (default `linnet0`; with virtio-net headers, TSO and checksum offload
/// unless `--offload off`), give it `--addr` (default 192.0.2.2/24) and an optional
/// `--gateway`, and start the stack.
///
/// `--packet IFNAME` attaches to an existing interface (e.g. a veth end) through an AF_PACKET
/// socket instead, with `--offload on|off|ring` (`ring`: also a TPACKET_V3 receive ring).
pub fn host(a: &HashMap<String, String>) -> Host {
    let offload = a.get("offload").map(String::as_str).unwrap_or("on");
    let device: Box<dyn NetDevice> = if let Some(ifname) = a.get("packet") {
        Box::new(
            match offload {
                "on" => PacketDevice::open_offload(ifname),
                "ring" => PacketDevice::open_ring(ifname),
                "off" => PacketDevice::open(ifname),
                other => fail(&format!("bad --offload \"{other}\": on, off or ring")),
            }
            .unwrap_or_else(|e| fail(&format!("cannot open AF_PACKET on {ifname}: {e}"))),
        )
    } else {
        let name = a.get("tap").map(String::as_str).unwrap_or("linnet0");
        let tap = match offload {
            "on" => TapDevice::open_offload(name),
            "off" => TapDevice::open(name),
            other => fail(&format!("bad --offload \"{other}\": on or off")),
        }
        .unwrap_or_else(|e| fail(&format!("cannot open TAP {name}: {e}")));
        let _ = tap.set_link_up(true);
        Box::new(tap)
    };
    let addr = a
        .get("addr")
        .map(String::as_str)
        .unwrap_or("192.0.2.2/24")
        .parse()
        .unwrap_or_else(|e| fail(&format!("bad --addr: {e}")));
    let gateway = a.get("gateway").map(|g| {
        g.parse()
            .unwrap_or_else(|e| fail(&format!("bad --gateway: {e}")))
    });
    spawn_host(HostConfig {
        device,
        ifname: None,
        mac: None,
        addrs: vec![addr],
        gateway,
        seed: linnet::runtime::random_seed(),
    })
    .unwrap_or_else(|e| fail(&e))
}

/// Print an error and exit with status 1.
pub fn fail(msg: &str) -> ! {
    eprintln!("error: {msg}");
    std::process::exit(1)
}
