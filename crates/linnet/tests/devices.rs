//! The TAP and AF_PACKET drivers against real Linux interfaces in throwaway network
//! namespaces. Needs root (namespaces, TAP devices): reported ignored, with the reason, otherwise.
//!
//! The exchange in both tests: Linux sends a UDP datagram to an address nobody has yet, so it
//! broadcasts an ARP request; the driver must read that request; we answer it through the
//! driver with a hand-built ARP reply and check that Linux's neighbour table learned it; the
//! datagram Linux had queued then arrives through the driver, addressed to our MAC.

use linnet::buf::{BufPool, CsumState, PacketBuf};
use linnet::device::features::NetdevFeatures;
use linnet::device::skb_checksum_help;
use linnet::driver::ifreq;
use linnet::wire::checksum;
use linnet::wire::{
    ArpOperation, ArpPacket, ArpRepr, EtherType, EthernetAddress, EthernetFrame, EthernetRepr,
    Ipv4Addr,
};
use linnet::Instant;
use linnet::NetDevice;
use linnet::PacketDevice;
use linnet::TapDevice;
use linnet_testkit::{tests, Need, NetNs};
use std::net::UdpSocket;
use std::time::Duration;

/// Our (Linnet's) MAC address on the test links.
const OUR_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x02]);

/// Longest any test waits for one event.
const WAIT: Duration = Duration::from_secs(3);

/// Every test here makes namespaces and interfaces.
const NEEDS: &[Need] = &[Need::Netns, Need::Tun];

/// Wait (at most [`WAIT`]) for a frame satisfying `want`, recycling the others. Returns the
/// frame and everything else seen before it.
fn recv_matching(
    dev: &mut dyn NetDevice,
    pool: &mut BufPool,
    want: impl Fn(&[u8]) -> bool,
) -> (Option<PacketBuf>, Vec<Vec<u8>>) {
    let deadline = std::time::Instant::now() + WAIT;
    let mut others = Vec::new();
    let mut batch = Vec::new();
    while std::time::Instant::now() < deadline {
        batch.clear();
        let n = dev
            .recv_batch(pool, &mut batch, 16, Instant::ZERO)
            .expect("recv_batch");
        assert_eq!(n, batch.len());
        let mut found = None;
        for b in batch.drain(..) {
            if found.is_none() && want(b.data()) {
                found = Some(b);
            } else {
                others.push(b.data().to_vec());
                pool.put(b);
            }
        }
        if found.is_some() {
            return (found, others);
        }
        if n == 0 {
            let mut pfd = libc::pollfd {
                fd: dev.raw_fd().expect("raw_fd"),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd, bounded timeout.
            unsafe { libc::poll(&mut pfd, 1, 50) };
        }
    }
    (None, others)
}

/// The ARP packet in `frame`, if it is one.
fn arp_of(frame: &[u8]) -> Option<ArpRepr> {
    let eth = EthernetFrame::new_checked(frame).ok()?;
    if eth.ethertype() != EtherType::ARP {
        return None;
    }
    ArpRepr::parse(&ArpPacket::new_checked(eth.payload()).ok()?).ok()
}

/// An ARP reply from (`OUR_MAC`, `our_ip`) to (`their_mac`, `their_ip`).
fn arp_reply(our_ip: Ipv4Addr, their_mac: EthernetAddress, their_ip: Ipv4Addr) -> [u8; 14 + 28] {
    let mut frame = [0u8; 14 + 28];
    EthernetRepr {
        src_addr: OUR_MAC,
        dst_addr: their_mac,
        ethertype: EtherType::ARP,
    }
    .emit(&mut frame[..14]);
    ArpRepr {
        operation: ArpOperation::REPLY,
        source_hardware_addr: OUR_MAC,
        source_protocol_addr: our_ip,
        target_hardware_addr: their_mac,
        target_protocol_addr: their_ip,
    }
    .emit(&mut frame[14..]);
    frame
}

/// Poll `ip neigh show ADDR` in `ns` until it lists `OUR_MAC`, for at most [`WAIT`].
fn wait_for_neigh(ns: &NetNs, addr: &str) -> String {
    let deadline = std::time::Instant::now() + WAIT;
    let mut last = String::new();
    while std::time::Instant::now() < deadline {
        last = ns.exec_ok(&["ip", "neigh", "show", addr]).unwrap();
        if last.contains("lladdr 02:00:00:00:00:02") {
            return last;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("Linux did not learn {addr} at {OUR_MAC}; `ip neigh show {addr}`: {last:?}");
}

/// If `frame` is an IPv4/UDP datagram to port 9 addressed to `OUR_MAC`, whether its UDP
/// checksum verifies.
fn udp_to_discard(frame: &[u8]) -> Option<bool> {
    let eth = EthernetFrame::new_checked(frame).ok()?;
    if eth.ethertype() != EtherType::IPV4 || eth.dst_addr() != OUR_MAC {
        return None;
    }
    let ip = eth.payload();
    let ihl = usize::from(ip.first()? & 0x0f) * 4;
    if ip.get(9) != Some(&17) || ip.len() < ihl + 8 {
        return None;
    }
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]])).min(ip.len());
    let udp = &ip[ihl..total];
    if u16::from_be_bytes([udp[2], udp[3]]) != 9 {
        return None;
    }
    let src = Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
    let dst = Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]);
    let pseudo = checksum::pseudo_header_v4(src, dst, 17, udp.len() as u16);
    Some(checksum::fold(checksum::sum(udp, pseudo)) == 0xffff)
}

/// Send one UDP datagram from inside `ns` to `to`, so Linux has to resolve it with ARP.
fn send_udp_from(ns: &NetNs, to: &str) {
    let to = to.to_string();
    ns.run_in(move || {
        let s = UdpSocket::bind("0.0.0.0:0")?;
        s.send_to(b"linnet device test", to.as_str())
    })
    .unwrap()
    .unwrap();
}

/// Drive the ARP exchange described at the top through `dev`. `linux_ns` holds the Linux side
/// (address `linux_ip`), which sends to `our_ip` via `send_ns`. Returns whether the UDP
/// checksum of the datagram that follows verified (once finished, if the driver's metadata
/// marks it partial) and the checksum state the driver reported.
fn arp_exchange(
    dev: &mut dyn NetDevice,
    linux_ns: &NetNs,
    linux_ip: Ipv4Addr,
    our_ip: Ipv4Addr,
) -> (bool, CsumState) {
    let mut pool = BufPool::default();
    send_udp_from(linux_ns, &format!("{our_ip}:9"));

    let (req, others) = recv_matching(dev, &mut pool, |f| {
        arp_of(f).is_some_and(|a| {
            a.operation == ArpOperation::REQUEST && a.target_protocol_addr == our_ip
        })
    });
    let req = req.unwrap_or_else(|| {
        panic!(
            "no ARP request for {our_ip} within {WAIT:?}; saw {} other frames",
            others.len()
        )
    });
    let stats = dev.stats();
    assert!(stats.rx_packets >= 1, "{stats:?}");
    assert!(stats.rx_bytes >= 42, "{stats:?}");
    assert_eq!(req.headroom(), 64);
    let arp = arp_of(req.data()).unwrap();
    assert_eq!(arp.source_protocol_addr, linux_ip);
    let eth = EthernetFrame::new_checked(req.data()).unwrap();
    assert!(eth.dst_addr().is_broadcast());
    assert_eq!(eth.src_addr(), arp.source_hardware_addr);
    let linux_mac = arp.source_hardware_addr;

    let before = dev.stats();
    let reply = arp_reply(our_ip, linux_mac, linux_ip);
    dev.transmit(&reply, Instant::ZERO).unwrap();
    let after = dev.stats();
    assert_eq!(after.tx_packets, before.tx_packets + 1);
    assert_eq!(after.tx_bytes, before.tx_bytes + reply.len() as u64);

    let neigh = wait_for_neigh(linux_ns, &our_ip.to_string());
    eprintln!("neighbour learned: {}", neigh.trim());

    // The queued datagram follows, to our MAC (which is not the interface's: this also shows
    // that frames for other hosts get through). Our own reply must not be read back.
    let (udp, others) = recv_matching(dev, &mut pool, |f| udp_to_discard(f).is_some());
    let mut udp = udp.expect("the datagram Linux queued behind ARP resolution");
    for f in &others {
        let src = EthernetFrame::new_checked(&f[..]).unwrap().src_addr();
        assert_ne!(src, OUR_MAC, "read back our own transmission: {f:02x?}");
    }
    // A checksum the vnet header marks unfinished is finished the way the stack would.
    let state = udp.meta.csum;
    if let CsumState::Partial { start, offset } = udp.meta.csum {
        assert!(
            !udp_to_discard(udp.data()).unwrap(),
            "partial, so it cannot verify yet"
        );
        let d = &mut udp.data_mut()[14..];
        assert!(skb_checksum_help(
            d,
            usize::from(start),
            usize::from(offset)
        ));
    }
    (udp_to_discard(udp.data()).unwrap(), state)
}

fn tap_arp_exchange_with_linux() {
    let ns = NetNs::new("lntap").unwrap();
    let name = format!("lt{}", std::process::id());
    let n = name.clone();
    // Opened inside the namespace, so the interface is created there.
    let mut tap = ns
        .run_in(move || -> std::io::Result<TapDevice> {
            let tap = TapDevice::open(&n)?;
            tap.set_link_up(true)?;
            Ok(tap)
        })
        .unwrap()
        .unwrap();
    assert_eq!(tap.name(), name);
    assert_eq!(NetDevice::name(&tap), name);
    assert_eq!(tap.mtu(), 1500);
    assert!(tap.hw_addr().is_none());
    assert!(tap.raw_fd().is_some());
    let link = ns.exec_ok(&["ip", "link", "show", &name]).unwrap();
    assert!(link.contains(",UP"), "{link}");
    ns.exec_ok(&["ip", "addr", "add", "192.0.2.1/24", "dev", &name])
        .unwrap();

    let (csum_ok, state) = arp_exchange(
        &mut tap,
        &ns,
        Ipv4Addr::new(192, 0, 2, 1),
        Ipv4Addr::new(192, 0, 2, 2),
    );
    // TAP without IFF_VNET_HDR gets fully checksummed frames.
    assert!(csum_ok, "UDP checksum from Linux over TAP should verify");
    assert_eq!(state, CsumState::None);
    let s = tap.stats();
    assert_eq!((s.rx_errors, s.tx_errors, s.tx_dropped), (0, 0, 0), "{s:?}");

    // Runt frames are refused by the kernel or counted, never passed up.
    let before = tap.stats();
    let _ = tap.transmit(&[0u8; 4], Instant::ZERO);
    let after = tap.stats();
    assert_eq!(
        after.tx_packets + after.tx_errors,
        before.tx_packets + before.tx_errors + 1,
        "{after:?}"
    );

    drop(tap);
    let gone = ns.exec(&["ip", "link", "show", &name]).unwrap();
    assert!(!gone.status.success(), "TAP should vanish with its fd");
}

fn tap_name_pattern_and_moved_interface() {
    let ns1 = NetNs::new("lntapa").unwrap();
    let ns2 = NetNs::new("lntapb").unwrap();
    let tap = ns1.run_in(|| TapDevice::open("lnt%d")).unwrap().unwrap();
    assert!(
        tap.name().starts_with("lnt") && !tap.name().contains('%'),
        "{}",
        tap.name()
    );
    ns1.exec_ok(&["ip", "link", "show", tap.name()]).unwrap();

    let name = tap.name().to_string();

    // Moved to another namespace, the descriptor stays valid but configuring by name from
    // the old namespace fails.
    ns1.exec_ok(&["ip", "link", "set", &name, "netns", ns2.name()])
        .unwrap();
    let err = ns1.run_in(|| tap.set_link_up(true)).unwrap().unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ENODEV), "{err}");
    ns2.run_in(|| tap.set_link_up(true)).unwrap().unwrap();
    let link = ns2.exec_ok(&["ip", "link", "show", &name]).unwrap();
    assert!(link.contains(",UP"), "{link}");
    drop(tap);
}

fn packet_socket_arp_exchange_over_veth() {
    let a = NetNs::new("lnpkta").unwrap();
    let b = NetNs::new("lnpktb").unwrap();
    let pid = std::process::id();
    let (x, y) = (format!("lpa{pid}"), format!("lpb{pid}"));
    assert!(x.len() <= 15 && y.len() <= 15);
    a.add_veth(&x, &b, &y).unwrap();
    a.exec_ok(&["ip", "link", "set", &x, "up"]).unwrap();
    b.exec_ok(&["ip", "addr", "add", "198.51.100.1/24", "dev", &y])
        .unwrap();
    b.exec_ok(&["ip", "link", "set", &y, "up"]).unwrap();

    let xn = x.clone();
    let mut dev = a
        .run_in(move || PacketDevice::open_offload(&xn))
        .unwrap()
        .unwrap();
    assert!(dev.has_vnet_hdr());
    assert_eq!(dev.features(), NetdevFeatures::VNET);
    assert_eq!(dev.name(), x);
    assert_eq!(dev.mtu(), 1500);
    assert!(dev.hw_addr().is_none());
    // Membership-driven promiscuity shows as a count, not as the PROMISC flag (that one is
    // only what `ip link set promisc on` sets: Linux `dev->gflags`).
    let link = a.exec_ok(&["ip", "-d", "link", "show", &x]).unwrap();
    assert!(link.contains("promiscuity 1"), "{link}");
    let idx = a.run_in(|| ifreq::if_nametoindex(&x)).unwrap().unwrap();
    assert_eq!(dev.ifindex(), idx);

    // Transmit checksum offload stays on (the veth default): Linux in B hands the UDP
    // datagram over with its checksum unfinished, and the vnet header says so.
    let yn = y.clone();
    assert!(b
        .run_in(move || ifreq::get_tx_checksum(&yn))
        .unwrap()
        .unwrap());

    let (csum_ok, state) = arp_exchange(
        &mut dev,
        &b,
        Ipv4Addr::new(198, 51, 100, 1),
        Ipv4Addr::new(198, 51, 100, 2),
    );
    assert!(
        csum_ok,
        "UDP checksum should verify once the partial checksum is finished"
    );
    assert!(
        matches!(state, CsumState::Partial { .. }),
        "the vnet header should mark the offloaded checksum: {state:?}"
    );
    let s = dev.stats();
    assert_eq!((s.rx_errors, s.tx_errors, s.tx_dropped), (0, 0, 0), "{s:?}");

    drop(dev);
    let link = a.exec_ok(&["ip", "link", "show", &x]).unwrap();
    assert!(
        !link.contains("PROMISC"),
        "promiscuity dropped with the socket: {link}"
    );
}

/// What the kernel refuses when a TAP is opened: names `dev_valid_name` rejects, and an
/// existing interface that is not a TAP (moved here from driver/tap.rs's unit tests, which
/// cannot be reported as skipped when not root).
fn tap_names_the_kernel_refuses() {
    let ns = NetNs::new("lntapbad").unwrap();
    ns.run_in(|| {
        assert!(TapDevice::open("bad/name").is_err());
        assert!(TapDevice::open("..").is_err());
        assert!(TapDevice::open("lo").is_err());
    })
    .unwrap();
}

/// The ifreq ioctls on loopback in a fresh namespace (moved here from driver/ifreq.rs's unit
/// tests).
fn ifreq_on_loopback_in_a_fresh_namespace() {
    let ns = NetNs::new("lnifr").unwrap();
    ns.run_in(|| {
        assert_eq!(ifreq::if_nametoindex("lo").unwrap(), 1);
        assert_eq!(ifreq::get_mtu("lo").unwrap(), 65536);
        assert_eq!(ifreq::get_hwaddr("lo").unwrap(), [0; 6]);
        // NetNs::new brought lo up; take it down and up again.
        assert_ne!(ifreq::get_flags("lo").unwrap() & libc::IFF_UP, 0);
        ifreq::set_up("lo", false).unwrap();
        assert_eq!(ifreq::get_flags("lo").unwrap() & libc::IFF_UP, 0);
        ifreq::set_up("lo", true).unwrap();
        assert_ne!(ifreq::get_flags("lo").unwrap() & libc::IFF_LOOPBACK, 0);
        assert_ne!(ifreq::get_flags("lo").unwrap() & libc::IFF_UP, 0);
        // Loopback has no checksum offload to toggle.
        assert!(ifreq::get_tx_checksum("lo").is_ok());
        assert!(ifreq::set_tx_checksum("lo", false).is_err());
        let err = ifreq::get_mtu("nosuchif0").unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENODEV));
    })
    .unwrap();
}

fn main() -> std::process::ExitCode {
    linnet_testkit::run(tests![NEEDS =>
        tap_arp_exchange_with_linux,
        tap_name_pattern_and_moved_interface,
        packet_socket_arp_exchange_over_veth,
        tap_names_the_kernel_refuses,
        ifreq_on_loopback_in_a_fresh_namespace,
    ])
}
