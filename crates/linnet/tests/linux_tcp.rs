//! TCP between Linnet (on a TAP device) and the Linux kernel in a network namespace the test
//! creates: curl and nc against Linnet servers, a Linnet client against an nc server,
//! 64 MiB each way compared byte for byte, a Linnet client echoed by a Linux `socat` server,
//! and "Connection refused" from a closed port.
//! Needs root, curl, nc and socat: reported ignored, with the reason, otherwise.

mod common;
use common::pattern;

use linnet::Host;
use linnet::TcpListener;
use linnet_testkit::addr::LINUX;
use linnet_testkit::peer;
use linnet_testkit::{tests, Need, NetNs};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

const NEEDS: &[Need] = &[Need::Netns, Need::Tun, Need::Tool("curl"), Need::Tool("nc")];
const NEEDS_SOCAT: &[Need] = &[Need::Netns, Need::Tun, Need::Tool("socat")];

/// A namespace with the Linux end of a TAP at 192.0.2.1/24 and a Linnet host at 192.0.2.2.
fn setup(tag: &str) -> (NetNs, Host) {
    common::linux::tap_host(&format!("ltcp{tag}"), "lt")
}

fn curl_gets_a_page_from_linnet_and_a_closed_port_refuses() {
    let (ns, host) = setup("a");
    let listener =
        TcpListener::bind(&host.handle, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80)).unwrap();
    let server = std::thread::spawn(move || {
        let (mut s, peer) = listener.accept().unwrap();
        let mut req = Vec::new();
        let mut buf = [0u8; 1024];
        while !req.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = s.read(&mut buf).unwrap();
            assert!(n > 0, "client closed early");
            req.extend_from_slice(&buf[..n]);
        }
        let body = b"hello from linnet\n";
        let resp = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        s.write_all(resp.as_bytes()).unwrap();
        s.write_all(body).unwrap();
        s.shutdown(std::net::Shutdown::Write).unwrap();
        while s.read(&mut buf).unwrap_or(0) > 0 {}
        (peer, String::from_utf8_lossy(&req).into_owned())
    });
    let out = ns
        .exec(&[
            "curl",
            "-sS",
            "--max-time",
            "10",
            "http://192.0.2.2/index.html",
        ])
        .unwrap();
    assert!(
        out.status.success(),
        "curl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello from linnet\n");
    let (peer, req) = server.join().unwrap();
    assert_eq!(*peer.ip(), LINUX);
    assert!(req.starts_with("GET /index.html HTTP/1.1\r\n"), "{req}");
    // Nobody listens on 81: Linnet answers the SYN with RST, curl reports the refusal.
    let out = ns
        .exec(&["curl", "-sS", "--max-time", "10", "http://192.0.2.2:81/"])
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(7),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let snmp = host.handle.call(|s, _| s.snmp()).unwrap();
    assert!(snmp.tcp.out_rsts >= 1);
    assert!(snmp.tcp.passive_opens >= 1);
    host.stop();
}

fn sixty_four_mib_each_way_with_nc() {
    let (ns, host) = setup("b");
    let size = 64 << 20;
    let up = pattern(size, 7);
    let file = std::env::temp_dir().join(format!("linnet-up-{}.bin", std::process::id()));
    std::fs::write(&file, &up).unwrap();
    // Linux → Linnet: nc sends the file, Linnet reads to EOF.
    let listener =
        TcpListener::bind(&host.handle, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 5001)).unwrap();
    let sink = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut got = Vec::with_capacity(64 << 20);
        s.read_to_end(&mut got).unwrap();
        got
    });
    let out = peer::nc_send_file(&ns, "192.0.2.2", 5001, &file).unwrap();
    assert!(
        out.status.success(),
        "nc: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = sink.join().unwrap();
    let _ = std::fs::remove_file(&file);
    assert_eq!(got.len(), size);
    assert!(got == up, "upload differs");
    // Linnet → Linux: nc listens and writes what it gets to a file.
    let down = pattern(size, 9);
    let out_file = std::env::temp_dir().join(format!("linnet-down-{}.bin", std::process::id()));
    let mut nc = peer::nc_receive_file(&ns, "192.0.2.1", 5002, &out_file).unwrap();
    let target = SocketAddrV4::new(LINUX, 5002);
    let mut s = common::connect_retry(&host.handle, target);
    s.write_all(&down).unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let mut rest = [0u8; 64];
    while s.read(&mut rest).unwrap_or(0) > 0 {}
    drop(s);
    assert!(nc.0.wait().unwrap().success());
    let got = std::fs::read(&out_file).unwrap();
    let _ = std::fs::remove_file(&out_file);
    assert_eq!(got.len(), size);
    assert!(got == down, "download differs");
    host.stop();
}

fn linnet_client_echoed_by_a_linux_socat_server() {
    let (ns, host) = setup("c");
    // socat echoes every byte back (PIPE) and closes after our FIN.
    let _socat = peer::spawn(
        &ns,
        Duration::from_secs(30),
        &[
            "socat",
            // Blocks of PIPE_BUF: socat only knows its pipe has room for that much, and a
            // larger write into a nearly full pipe blocks socat, the pipe's only reader.
            "-b",
            "4096",
            "TCP-LISTEN:5003,bind=192.0.2.1,reuseaddr",
            "PIPE",
        ],
    )
    .unwrap();
    let target = SocketAddrV4::new(LINUX, 5003);
    let mut s = common::connect_retry(&host.handle, target);
    s.set_read_timeout(Some(Duration::from_secs(20)));
    assert_eq!(s.peer_addr().unwrap(), target);
    let size = 8 << 20;
    let data = pattern(size, 11);
    // Write and read at once: socat echoes as it reads, so neither side's buffers fill.
    // The writer drives the same socket through the handle (a `TcpStream` is not `Clone`).
    let h = host.handle.clone();
    let id = s.id();
    let to_send = data.clone();
    let writer = std::thread::spawn(move || {
        let mut off = 0;
        while off < to_send.len() {
            let end = (off + 65536).min(to_send.len());
            let n = h
                .call(|st, now| st.send(id, &to_send[off..end], now))
                .unwrap();
            match n {
                Ok(n) => off += n,
                Err(linnet::Errno::EAGAIN) => std::thread::sleep(Duration::from_millis(1)),
                Err(e) => panic!("send: {e:?}"),
            }
        }
        h.call(|st, now| st.shutdown(id, linnet::Shutdown::Write, now))
            .unwrap()
            .unwrap();
    });
    let mut back = Vec::with_capacity(size);
    s.read_to_end(&mut back).unwrap();
    writer.join().unwrap();
    assert_eq!(back.len(), size);
    assert!(back == data, "echo differs");
    host.stop();
}

fn main() -> std::process::ExitCode {
    let mut t = tests![NEEDS =>
        curl_gets_a_page_from_linnet_and_a_closed_port_refuses,
        sixty_four_mib_each_way_with_nc,
    ];
    t.extend(tests![NEEDS_SOCAT => linnet_client_echoed_by_a_linux_socat_server]);
    linnet_testkit::run(t)
}
