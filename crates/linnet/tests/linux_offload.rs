//! Offloads against Linux: a Linnet host on a TAP with virtio-net headers (TSO, checksum
//! offload) and on a veth end through an AF_PACKET socket with `PACKET_VNET_HDR`, with Linux's
//! offloads left at their defaults (a veth checksums and segments nothing itself, so Linux
//! hands over partial checksums and 64 KiB GSO super-frames). 64 MiB go each way with `nc`,
//! compared by SHA-256 (`sha256sum`) and byte for byte; the device counters show that
//! super-frames really crossed in both directions.
//! Needs root, nc and sha256sum: reported ignored, with the reason, otherwise.

mod common;
use common::pattern;

use linnet::driver::ifreq;
use linnet::Host;
use linnet::NetDevice;
use linnet::PacketDevice;
use linnet::TapDevice;
use linnet::TcpListener;
use linnet_testkit::peer;
use linnet_testkit::{addr, tests, Need, NetNs};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const SIZE: usize = 64 << 20;

const NEEDS: &[Need] = &[
    Need::Netns,
    Need::Tun,
    Need::Tool("nc"),
    Need::Tool("sha256sum"),
];

/// `sha256sum FILE`, run in `ns` (or here when `None`).
fn sha256(ns: Option<&NetNs>, file: &Path) -> String {
    let f = file.display().to_string();
    let out = match ns {
        Some(ns) => ns.exec_ok(&["sha256sum", &f]).unwrap(),
        None => String::from_utf8(
            Command::new("sha256sum")
                .arg(&f)
                .output()
                .expect("sha256sum")
                .stdout,
        )
        .unwrap(),
    };
    out.split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// Removes a file when dropped.
struct TempFile(std::path::PathBuf);

impl TempFile {
    /// A path of its own: the tests of this file run in parallel threads of one process.
    fn new(tag: &str) -> TempFile {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        TempFile(
            std::env::temp_dir().join(format!("linnet-offload-{}-{n}-{tag}", std::process::id())),
        )
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The device counters of Linnet's interface.
fn dev_stats(host: &Host) -> linnet::device::DeviceStats {
    // The runtime refreshes them every 100 ms.
    std::thread::sleep(Duration::from_millis(250));
    let ifindex = host.ifindex;
    host.handle
        .call(move |s, _| s.iface(ifindex).map(|i| i.dev_stats).unwrap_or_default())
        .unwrap()
}

/// 64 MiB Linux → Linnet (nc client, Linnet server), then 64 MiB Linnet → Linux (Linnet client,
/// nc server), each checked by SHA-256 and byte for byte. `linux`/`linnet` are the two
/// addresses; `ns` is where Linux's end lives.
/// `tag` keeps the temporary files of tests running in parallel apart.
fn transfer_both_ways(tag: &str, ns: &NetNs, host: &Host, linux: Ipv4Addr, linnet: Ipv4Addr) {
    // Linux → Linnet.
    let up = pattern(SIZE, 7);
    let up_file = TempFile::new(&format!("{tag}-up"));
    std::fs::write(&up_file.0, &up).unwrap();
    let listener =
        TcpListener::bind(&host.handle, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 5001)).unwrap();
    let sink = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut got = Vec::with_capacity(SIZE);
        s.read_to_end(&mut got).unwrap();
        got
    });
    let before = dev_stats(host);
    let out = peer::nc_send_file(ns, &linnet.to_string(), 5001, &up_file.0).unwrap();
    assert!(
        out.status.success(),
        "nc: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = sink.join().unwrap();
    let got_file = TempFile::new(&format!("{tag}-up-got"));
    std::fs::write(&got_file.0, &got).unwrap();
    assert_eq!(got.len(), SIZE);
    assert_eq!(sha256(None, &got_file.0), sha256(Some(ns), &up_file.0));
    assert!(got == up, "upload differs");
    let after = dev_stats(host);
    let (pkts, bytes) = (
        after.rx_packets - before.rx_packets,
        after.rx_bytes - before.rx_bytes,
    );
    assert!(bytes >= SIZE as u64, "{before:?} {after:?}");
    // Without GSO, at most 1448 payload bytes per frame; Linux's super-frames do far better.
    assert!(
        bytes / pkts > 3000,
        "Linux should hand Linnet GSO super-frames: {pkts} frames, {bytes} bytes"
    );
    eprintln!(
        "Linux → Linnet: {pkts} frames, {} bytes per frame",
        bytes / pkts
    );

    // Linnet → Linux.
    let down = pattern(SIZE, 9);
    let down_src = TempFile::new(&format!("{tag}-down-src"));
    std::fs::write(&down_src.0, &down).unwrap();
    let out_file = TempFile::new(&format!("{tag}-down"));
    let mut nc = peer::nc_receive_file(ns, &linux.to_string(), 5002, &out_file.0).unwrap();
    let target = SocketAddrV4::new(linux, 5002);
    let mut s = common::connect_retry(&host.handle, target);
    let before = dev_stats(host);
    s.write_all(&down).unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let mut rest = [0u8; 64];
    while s.read(&mut rest).unwrap_or(0) > 0 {}
    drop(s);
    assert!(nc.0.wait().unwrap().success());
    let after = dev_stats(host);
    assert_eq!(
        sha256(Some(ns), &out_file.0),
        sha256(None, &down_src.0),
        "download differs"
    );
    let got = std::fs::read(&out_file.0).unwrap();
    assert_eq!(got.len(), SIZE);
    assert!(got == down, "download differs");
    let (pkts, bytes) = (
        after.tx_packets - before.tx_packets,
        after.tx_bytes - before.tx_bytes,
    );
    assert!(bytes >= SIZE as u64, "{before:?} {after:?}");
    assert!(
        bytes / pkts > 3000,
        "Linnet should send TSO super-frames: {pkts} frames, {bytes} bytes"
    );
    eprintln!(
        "Linnet → Linux: {pkts} frames, {} bytes per frame",
        bytes / pkts
    );
    let (csum_errs, errs) = host
        .handle
        .call(|s, _| (s.snmp().tcp.in_csum_errors, s.snmp().tcp.in_errs))
        .unwrap();
    assert_eq!(
        (csum_errs, errs),
        (0, 0),
        "no TCP segment may fail its checks"
    );
    let st = dev_stats(host);
    assert_eq!((st.rx_errors, st.tx_errors), (0, 0), "{st:?}");
}

fn tap_with_vnet_headers_64_mib_each_way() {
    let tap = TapDevice::open_offload(&linnet_testkit::proc::unique("lo")).expect("tap");
    assert!(tap.has_vnet_hdr());
    let (ns, tap) = common::linux::tap_netns("loffa", tap);
    let name = tap.name().to_string();
    // TUNSETOFFLOAD turned the TAP's offloads on: Linux leaves checksums to Linnet.
    let n = name.clone();
    assert!(ns
        .run_in(move || ifreq::get_tx_checksum(&n))
        .unwrap()
        .unwrap());
    let host = common::linux::host_on(Box::new(tap), addr::LINNET_CIDR);
    transfer_both_ways(
        "tap",
        &ns,
        &host,
        Ipv4Addr::new(192, 0, 2, 1),
        Ipv4Addr::new(192, 0, 2, 2),
    );
    host.stop();
}

/// A veth pair: Linux's end in `b` at 198.51.100.1, Linnet on the other end in `a` through a
/// packet socket opened by `open`, with Linux's offloads left on.
fn veth_host(
    a: &NetNs,
    b: &NetNs,
    tag: &str,
    open: fn(&str) -> std::io::Result<PacketDevice>,
) -> Host {
    let pid = std::process::id() % 100_000;
    let (x, y) = (format!("lo{tag}x{pid}"), format!("lo{tag}y{pid}"));
    a.add_veth(&x, b, &y).unwrap();
    a.exec_ok(&["ip", "link", "set", &x, "up"]).unwrap();
    b.addr_up(&y, "198.51.100.1/24").unwrap();
    // Linux's offloads stay on (no set_tx_checksum(false) workaround).
    let yn = y.clone();
    assert!(b
        .run_in(move || ifreq::get_tx_checksum(&yn))
        .unwrap()
        .unwrap());
    let dev = a.run_in(move || open(&x)).unwrap().expect("packet socket");
    assert_eq!(dev.mtu(), 1500);
    assert!(dev.has_vnet_hdr());
    common::linux::host_on(Box::new(dev), "198.51.100.2/24")
}

fn packet_socket_with_vnet_headers_over_veth_64_mib_each_way() {
    let a = NetNs::new("loffpa").expect("netns");
    let b = NetNs::new("loffpb").expect("netns");
    let host = veth_host(&a, &b, "p", PacketDevice::open_offload);
    transfer_both_ways(
        "packet",
        &b,
        &host,
        Ipv4Addr::new(198, 51, 100, 1),
        Ipv4Addr::new(198, 51, 100, 2),
    );
    host.stop();
}

fn packet_socket_with_a_tpacket_v3_ring_over_veth_64_mib_each_way() {
    let a = NetNs::new("loffra").expect("netns");
    let b = NetNs::new("loffrb").expect("netns");
    let host = veth_host(&a, &b, "r", |n| {
        let d = PacketDevice::open_ring(n)?;
        assert!(d.has_rx_ring());
        Ok(d)
    });
    transfer_both_ways(
        "ring",
        &b,
        &host,
        Ipv4Addr::new(198, 51, 100, 1),
        Ipv4Addr::new(198, 51, 100, 2),
    );
    host.stop();
}

fn main() -> std::process::ExitCode {
    linnet_testkit::run(tests![NEEDS =>
        tap_with_vnet_headers_64_mib_each_way,
        packet_socket_with_vnet_headers_over_veth_64_mib_each_way,
        packet_socket_with_a_tpacket_v3_ring_over_veth_64_mib_each_way,
    ])
}
