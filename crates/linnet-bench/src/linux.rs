//! Rows against the Linux kernel, run in network namespaces the bench creates (root only):
//!
//! - Linnet on a TAP device: the Linnet host (`linnet::runtime`, its own thread) runs a TCP
//!   sink on 192.0.2.2; the Linux end of the TAP is in a namespace at 192.0.2.1, where a
//!   `std::net` client writes for the measured time. Measured with offloads (virtio-net
//!   headers, TSO, checksum offload) and without.
//! - The ceiling: the same client and a `std::net` sink, Linux to Linux over a veth pair
//!   between two namespaces (198.51.100.1 ↔ 198.51.100.2).
//!
//! Namespaces carry unique names (`NetNs`) and are removed on drop, also on error. Every
//! socket has a timeout.

use linnet::runtime::{random_seed, spawn_host, HostConfig};
use linnet::TapDevice;
use linnet_testkit::netns::{have_netns, NetNs};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

const PORT: u16 = 5001;
const CHUNK: usize = 128 * 1024;
const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the Linux rows cannot run here, if they cannot.
pub fn unavailable() -> Option<String> {
    if !have_netns() {
        return Some("skipped: needs root and `ip netns`".into());
    }
    None
}

/// Client side: connect (retrying while the sink starts) and write for `dur`; returns the
/// bytes written and the seconds it took, from first byte to the peer's EOF.
fn client(dst: SocketAddrV4, dur: Duration) -> Result<(u64, f64), String> {
    let deadline = Instant::now() + IO_TIMEOUT;
    let mut s = loop {
        match TcpStream::connect_timeout(&dst.into(), IO_TIMEOUT) {
            Ok(s) => break s,
            Err(e) if Instant::now() >= deadline => return Err(format!("connect {dst}: {e}")),
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    s.set_write_timeout(Some(IO_TIMEOUT))
        .map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(IO_TIMEOUT))
        .map_err(|e| e.to_string())?;
    send_for(&mut s, dur, |s| s.shutdown(std::net::Shutdown::Write))
}

/// Write for `dur`, shut down the write side with `shut`, then wait for the peer to close
/// (the sink closes after reading everything, so every byte counted arrived). Returns the
/// bytes written and the seconds from the first byte to the peer's EOF.
fn send_for<S: Read + Write>(
    s: &mut S,
    dur: Duration,
    shut: impl FnOnce(&S) -> std::io::Result<()>,
) -> Result<(u64, f64), String> {
    let buf = vec![0x3cu8; CHUNK];
    let t0 = Instant::now();
    let mut sent = 0u64;
    while t0.elapsed() < dur {
        s.write_all(&buf).map_err(|e| format!("write: {e}"))?;
        sent += CHUNK as u64;
    }
    shut(s).map_err(|e| format!("shutdown: {e}"))?;
    let mut one = [0u8; 1];
    let _ = s.read(&mut one);
    Ok((sent, t0.elapsed().as_secs_f64()))
}

/// A Linux sink (run inside a namespace): listen on `bind`:PORT, accept one connection
/// (waiting at most twice the I/O timeout), and read it to EOF; returns the byte count.
fn linux_sink(bind: &str) -> Result<u64, String> {
    let l = TcpListener::bind((bind, PORT)).map_err(|e| e.to_string())?;
    l.set_nonblocking(true).map_err(|e| e.to_string())?;
    let deadline = Instant::now() + 2 * IO_TIMEOUT;
    let (mut st, _) = loop {
        match l.accept() {
            Ok(x) => break x,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if Instant::now() >= deadline {
                    return Err("accept: timed out".into());
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => return Err(format!("accept: {e}")),
        }
    };
    st.set_nonblocking(false).map_err(|e| e.to_string())?;
    st.set_read_timeout(Some(IO_TIMEOUT))
        .map_err(|e| e.to_string())?;
    sink(&mut st)
}

/// Read until EOF; returns the byte count.
fn sink(mut r: impl Read) -> Result<u64, String> {
    let mut buf = vec![0u8; CHUNK];
    let mut got = 0u64;
    loop {
        match r.read(&mut buf) {
            Ok(0) => return Ok(got),
            Ok(n) => got += n as u64,
            Err(e) => return Err(format!("sink read: {e}")),
        }
    }
}

fn ip_ok(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(())
}

/// Move the interface `name` (a TAP's Linux end, in this thread's namespace) into `ns`, give
/// it `addr` there if any, and bring it up. The TAP's descriptor keeps working.
pub fn move_into_ns(name: &str, ns: &NetNs, addr: Option<&str>) -> Result<(), String> {
    ip_ok(&["link", "set", name, "netns", ns.name()])?;
    if let Some(addr) = addr {
        ns.exec_ok(&["ip", "addr", "add", addr, "dev", name])
            .map_err(|e| e.to_string())?;
    }
    ns.exec_ok(&["ip", "link", "set", name, "up"])
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// A Linnet host (`linnet::runtime`, its own thread) on a TAP device at 192.0.2.2, whose
/// Linux end is in a new namespace at 192.0.2.1; with `offload`, the TAP carries virtio-net
/// headers (TSO, checksum offload), as linnetd opens it by default.
fn tap_host(offload: bool) -> Result<(NetNs, linnet::runtime::Host), String> {
    let ns = NetNs::new("lbench-tap").map_err(|e| e.to_string())?;
    let name = format!("lbt{}", std::process::id() % 100_000);
    let tap = if offload {
        TapDevice::open_offload(&name)
    } else {
        TapDevice::open(&name)
    }
    .map_err(|e| format!("tap: {e}"))?;
    move_into_ns(tap.name(), &ns, Some("192.0.2.1/24"))?;
    let host = spawn_host(HostConfig {
        device: Box::new(tap),
        ifname: Some("eth0".into()),
        mac: None,
        addrs: vec!["192.0.2.2/24".parse().expect("cidr")],
        gateway: None,
        seed: random_seed(),
    })?;
    Ok((ns, host))
}

/// Linux client → Linnet on a TAP device: Gbit/s received by Linnet. With `offload`, the TAP
/// carries virtio-net headers with TSO and checksum offload ([`TapDevice::open_offload`], as
/// linnetd opens it by default), so Linux writes 64 KiB super-frames with partial checksums;
/// without, every frame is at most one MTU and fully checksummed.
pub fn tap_linnet(dur: Duration, offload: bool) -> Result<f64, String> {
    let (ns, host) = tap_host(offload)?;
    let mut listener = linnet::api::TcpListener::bind(
        &host.handle,
        SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, PORT),
    )
    .map_err(|e| format!("linnet listen: {e}"))?;
    listener.set_nonblocking(true);
    let result = std::thread::scope(|sc| {
        let srv = sc.spawn(|| -> Result<u64, String> {
            let deadline = Instant::now() + 2 * IO_TIMEOUT;
            let (mut st, _) = loop {
                match listener.accept() {
                    Ok(x) => break x,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        if Instant::now() >= deadline {
                            return Err("linnet accept: timed out".into());
                        }
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(e) => return Err(format!("linnet accept: {e}")),
                }
            };
            st.set_nonblocking(false);
            st.set_read_timeout(Some(IO_TIMEOUT));
            let n = sink(&mut st)?;
            drop(st);
            Ok(n)
        });
        let cli = ns.run_in(|| client(SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 2), PORT), dur));
        let got = srv.join().map_err(|_| "sink panicked".to_string())?;
        let (sent, secs) = cli.map_err(|e| e.to_string())??;
        let got = got?;
        if got != sent {
            return Err(format!("Linux sent {sent} bytes, Linnet read {got}"));
        }
        Ok(got as f64 * 8.0 / secs / 1e9)
    });
    drop(listener);
    host.stop();
    result
}

/// Linnet → Linux over a TAP device with offloads: a Linnet client writes for `dur` to a
/// `std::net` sink in the namespace; Gbit/s the Linux end read (every byte counted arrived:
/// the sink closes only after the client's FIN).
pub fn tap_linnet_send(dur: Duration) -> Result<f64, String> {
    let (ns, host) = tap_host(true)?;
    let result = std::thread::scope(|sc| {
        let srv = sc.spawn(|| ns.run_in(|| linux_sink("192.0.2.1")));
        let dst = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), PORT);
        let cli = (|| -> Result<(u64, f64), String> {
            // Retry while the Linux listener comes up (refused until then).
            let deadline = Instant::now() + IO_TIMEOUT;
            let mut s = loop {
                match linnet::api::TcpStream::connect_timeout(&host.handle, dst, Some(IO_TIMEOUT)) {
                    Ok(s) => break s,
                    Err(e) if Instant::now() >= deadline => {
                        return Err(format!("linnet connect {dst}: {e}"))
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            };
            s.set_write_timeout(Some(IO_TIMEOUT));
            s.set_read_timeout(Some(IO_TIMEOUT));
            send_for(&mut s, dur, |s| s.shutdown(std::net::Shutdown::Write))
                .map_err(|e| format!("linnet {e}"))
        })();
        let got = srv.join().map_err(|_| "sink panicked".to_string())?;
        let (sent, secs) = cli?;
        let got = got.map_err(|e| e.to_string())??;
        if got != sent {
            return Err(format!("Linnet sent {sent} bytes, Linux read {got}"));
        }
        Ok(got as f64 * 8.0 / secs / 1e9)
    });
    host.stop();
    result
}

/// Linux to Linux over a veth pair between two namespaces: Gbit/s.
pub fn veth_linux(dur: Duration) -> Result<f64, String> {
    let a = NetNs::new("lbench-va").map_err(|e| e.to_string())?;
    let b = NetNs::new("lbench-vb").map_err(|e| e.to_string())?;
    let tag = std::process::id() % 100_000;
    let (va, vb) = (format!("lbva{tag}"), format!("lbvb{tag}"));
    a.add_veth(&va, &b, &vb).map_err(|e| e.to_string())?;
    for (ns, dev, addr) in [(&a, &va, "198.51.100.1/24"), (&b, &vb, "198.51.100.2/24")] {
        ns.exec_ok(&["ip", "addr", "add", addr, "dev", dev])
            .map_err(|e| e.to_string())?;
        ns.exec_ok(&["ip", "link", "set", dev, "up"])
            .map_err(|e| e.to_string())?;
    }
    std::thread::scope(|sc| {
        let srv = sc.spawn(|| b.run_in(|| linux_sink("0.0.0.0")));
        let cli = a.run_in(|| client(SocketAddrV4::new(Ipv4Addr::new(198, 51, 100, 2), PORT), dur));
        let got = srv.join().map_err(|_| "sink panicked".to_string())?;
        let (sent, secs) = cli.map_err(|e| e.to_string())??;
        let got = got.map_err(|e| e.to_string())??;
        if got != sent {
            return Err(format!("sent {sent} bytes, read {got}"));
        }
        Ok(got as f64 * 8.0 / secs / 1e9)
    })
}
