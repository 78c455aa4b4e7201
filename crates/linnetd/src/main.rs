//! `linnetd`: runs a Linnet stack on a real device and serves the control socket that the
//! `linnet` command speaks to (the way the kernel serves rtnetlink to iproute2).

mod http;

use clap::Parser;
use linnet::device::packet::PacketDevice;
use linnet::device::tap::TapDevice;
use linnet::device::NetDevice;
use linnet::runtime::{self, Attached};
use linnet::stack::{Stack, StackConfig};
use linnet::time::HostClock;
use linnet::wire::{EthernetAddress, Ipv4Addr, Ipv4Cidr};
use std::path::PathBuf;
use std::process::ExitCode;

/// Run the Linnet TCP/IP stack on a TAP device or an existing interface.
#[derive(Parser, Debug)]
#[command(name = "linnetd", version)]
struct Args {
    /// Create (or attach to) this TAP interface, e.g. tap0 (repeatable: several devices).
    #[arg(long, value_name = "NAME", required_unless_present = "packet")]
    tap: Vec<String>,
    /// Attach to this existing interface (e.g. one end of a veth) with an AF_PACKET socket
    /// (repeatable).
    #[arg(long, value_name = "IFNAME")]
    packet: Vec<String>,
    /// IPv4 address with prefix, e.g. 192.0.2.2/24 for the first device, or DEV=CIDR for the
    /// device named DEV (repeatable).
    #[arg(long, value_name = "[DEV=]CIDR", required = true)]
    addr: Vec<String>,
    /// Forward IPv4 between interfaces (Linux: net.ipv4.ip_forward=1).
    #[arg(long)]
    forward: bool,
    /// Default gateway.
    #[arg(long, value_name = "IP")]
    gateway: Option<Ipv4Addr>,
    /// Link address of the first device (default: the device's, or a locally administered one).
    #[arg(long, value_name = "MAC")]
    mac: Option<EthernetAddress>,
    /// Name of the first interface inside Linnet (default: the device's name).
    #[arg(long, value_name = "NAME")]
    ifname: Option<String>,
    /// Path of the control socket.
    #[arg(long, value_name = "PATH", default_value = linnet::control::DEFAULT_SOCKET)]
    control: PathBuf,
    /// Serve RFC 862 echo over TCP and UDP on this port of the Linnet stack (like inetd's
    /// internal echo), so Linux clients have a Linnet server to talk to.
    #[arg(long, value_name = "PORT")]
    echo: Option<u16>,
    /// Serve a small HTTP/1.1 page on this port of the Linnet stack (for curl).
    #[arg(long, value_name = "PORT")]
    http: Option<u16>,
    /// Open TAP and AF_PACKET devices without virtio-net headers (no TSO/GSO super-frames, no
    /// checksum offload): every frame is MTU-sized with complete checksums.
    #[arg(long)]
    no_offload: bool,
    /// Receive on --packet devices through a TPACKET_V3 mmap ring (many frames per wakeup;
    /// a lone frame may wait up to 1 ms). Ignored with --no-offload.
    #[arg(long)]
    packet_ring: bool,
    /// Log filter (tracing's env-filter syntax), e.g. info or linnet=debug.
    #[arg(long, default_value = "info")]
    log: String,
}

fn block_signals() -> libc::sigset_t {
    // SAFETY: sigset operations on a zeroed local set; pthread_sigmask on the main thread,
    // before any other thread exists, so every thread inherits the mask.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    }
}

fn wait_for_signal(set: &libc::sigset_t) -> i32 {
    let mut sig: libc::c_int = 0;
    // SAFETY: set is a valid sigset; sig is a valid out-pointer.
    unsafe { libc::sigwait(set, &mut sig) };
    sig
}

/// Split `[DEV=]CIDR`.
fn parse_addr(spec: &str) -> Result<(Option<&str>, Ipv4Cidr), String> {
    let (dev, cidr) = match spec.split_once('=') {
        Some((d, c)) => (Some(d), c),
        None => (None, spec),
    };
    let cidr = cidr
        .parse()
        .map_err(|_| format!("--addr {spec}: \"{cidr}\" is not an IPv4 address/prefix"))?;
    Ok((dev, cidr))
}

fn open_devices(args: &Args) -> Result<Vec<Box<dyn NetDevice>>, String> {
    let mut devices: Vec<Box<dyn NetDevice>> = Vec::new();
    for name in &args.tap {
        let tap = if args.no_offload {
            TapDevice::open(name)
        } else {
            TapDevice::open_offload(name)
        }
        .map_err(|e| format!("cannot open TAP {name}: {e}"))?;
        tap.set_link_up(true)
            .map_err(|e| format!("cannot bring {} up: {e}", tap.name()))?;
        devices.push(Box::new(tap));
    }
    for ifname in &args.packet {
        devices.push(Box::new(
            if args.no_offload {
                PacketDevice::open(ifname)
            } else if args.packet_ring {
                PacketDevice::open_ring(ifname)
            } else {
                PacketDevice::open_offload(ifname)
            }
            .map_err(|e| format!("cannot open AF_PACKET on {ifname}: {e}"))?,
        ));
    }
    Ok(devices)
}

fn run(args: Args) -> Result<(), String> {
    let signals = block_signals();
    // Check every --addr before touching a device.
    let addr_specs = args
        .addr
        .iter()
        .map(|a| parse_addr(a))
        .collect::<Result<Vec<_>, _>>()?;
    let devices = open_devices(&args)?;
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
        ^ (std::process::id() as u64) << 32;
    let clock = HostClock::new();
    let mut stack = Stack::new(StackConfig {
        seed,
        ..StackConfig::default()
    });
    let now = clock.now();
    let mut attached = Vec::new();
    let mut names = Vec::new();
    for (n, device) in devices.into_iter().enumerate() {
        let mac = if n == 0 { args.mac } else { None }
            .or(device.hw_addr())
            .unwrap_or_else(|| EthernetAddress::local_from_seed(seed.wrapping_add(n as u64)));
        let ifname = match (n, &args.ifname) {
            (0, Some(name)) => name.clone(),
            _ => device.name().to_string(),
        };
        let ifindex = stack.add_interface(&ifname, mac, device.mtu());
        names.push((ifname, device.name().to_string(), mac, ifindex));
        attached.push(Attached { ifindex, device });
    }
    for (dev, cidr) in &addr_specs {
        let ifindex = match dev {
            None => names[0].3,
            Some(d) => names
                .iter()
                .find(|(name, devname, _, _)| name == d || devname == d)
                .map(|x| x.3)
                .ok_or_else(|| format!("--addr {d}={cidr}: no device \"{d}\""))?,
        };
        stack
            .add_addr(ifindex, *cidr, now)
            .map_err(|e| format!("cannot add address {cidr}: {e}"))?;
    }
    for (ifname, _, _, ifindex) in &names {
        stack
            .set_link_up(*ifindex, true, now)
            .map_err(|e| format!("cannot bring {ifname} up: {e}"))?;
    }
    if args.forward {
        stack.set_ip_forward(true);
    }
    if let Some(gw) = args.gateway {
        stack
            .add_default_gateway(gw)
            .map_err(|e| format!("cannot add default route via {gw}: {e}"))?;
    }
    let (handle, thread) =
        runtime::spawn(stack, attached).map_err(|e| format!("cannot start the stack: {e}"))?;
    let control = linnet::control::server::serve(&args.control, handle.clone())
        .map_err(|e| format!("cannot serve {}: {e}", args.control.display()))?;
    if let Some(port) = args.echo {
        echo_service(&handle, port).map_err(|e| format!("cannot serve echo on {port}: {e}"))?;
    }
    if let Some(port) = args.http {
        http::serve(&handle, port).map_err(|e| format!("cannot serve http on {port}: {e}"))?;
    }
    let addrs: Vec<String> = args.addr.to_vec();
    let devs: Vec<String> = names
        .iter()
        .map(|(ifname, devname, mac, _)| format!("{ifname} (device {devname}) mac {mac}"))
        .collect();
    println!(
        "linnetd: {} addr {} control {}",
        devs.join(", "),
        addrs.join(","),
        args.control.display()
    );
    for (ifname, devname, mac, _) in &names {
        tracing::info!(ifname = %ifname, device = %devname, %mac, "stack running");
    }
    let sig = wait_for_signal(&signals);
    tracing::info!(sig, "stopping");
    handle.stop();
    let _ = thread.join();
    let _ = std::fs::remove_file(&args.control);
    drop(control);
    Ok(())
}

/// Most echo connections served at once; more wait in the accept queue.
const ECHO_MAX_CONNS: usize = 64;

/// RFC 862 echo on a Linnet listener: every byte read is written back, until the peer closes.
fn echo_service(handle: &runtime::Handle, port: u16) -> std::io::Result<()> {
    use std::io::{Read, Write};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let listener = linnet::api::TcpListener::bind(
        handle,
        std::net::SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port),
    )?;
    // TCP Fast Open once `net.ipv4.tcp_fastopen` has the server bit (0x2): a request in the
    // SYN is echoed before the handshake completes.
    let lid = listener.id();
    handle
        .call(|s, now| s.setsockopt(lid, linnet::socket::SockOpt::FastOpen(64), now))?
        .map_err(std::io::Error::from)?;
    // UDP: each datagram goes back to its sender (up to 64 KiB, so reassembled ones too).
    let udp = linnet::api::UdpSocket::bind(
        handle,
        std::net::SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port),
    )?;
    std::thread::Builder::new()
        .name("linnet-echo-udp".into())
        .spawn(move || {
            let mut buf = vec![0u8; 65536];
            while let Ok((n, from)) = udp.recv_from(&mut buf) {
                if let Err(e) = udp.send_to(&buf[..n], from) {
                    tracing::debug!(%from, "udp echo: {e}");
                }
            }
        })?;
    let active = Arc::new(AtomicUsize::new(0));
    std::thread::Builder::new()
        .name("linnet-echo".into())
        .spawn(move || {
            while let Ok((mut s, peer)) = listener.accept() {
                while active.load(Ordering::SeqCst) >= ECHO_MAX_CONNS {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                active.fetch_add(1, Ordering::SeqCst);
                let active = active.clone();
                let _ = std::thread::Builder::new()
                    .name("linnet-echo-conn".into())
                    .spawn(move || {
                        tracing::debug!(%peer, "echo connection");
                        let mut buf = vec![0u8; 16 * 1024];
                        while let Ok(n) = s.read(&mut buf) {
                            if n == 0 || s.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                        let _ = s.shutdown(std::net::Shutdown::Write);
                        active.fetch_sub(1, Ordering::SeqCst);
                    });
            }
        })?;
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    let filter = tracing_subscriber::EnvFilter::try_new(&args.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("linnetd: {e}");
            ExitCode::FAILURE
        }
    }
}
