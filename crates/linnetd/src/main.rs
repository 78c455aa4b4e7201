//! `linnetd`: runs a Linnet stack on a real device and serves the control socket that the
//! `linnet` command speaks to (the way the kernel serves rtnetlink to iproute2).

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
    /// Create (or attach to) this TAP interface, e.g. tap0.
    #[arg(
        long,
        value_name = "NAME",
        conflicts_with = "packet",
        required_unless_present = "packet"
    )]
    tap: Option<String>,
    /// Attach to this existing interface (e.g. one end of a veth) with an AF_PACKET socket.
    #[arg(long, value_name = "IFNAME")]
    packet: Option<String>,
    /// IPv4 address with prefix for the stack, e.g. 192.0.2.2/24 (repeatable).
    #[arg(long, value_name = "CIDR", required = true)]
    addr: Vec<Ipv4Cidr>,
    /// Default gateway.
    #[arg(long, value_name = "IP")]
    gateway: Option<Ipv4Addr>,
    /// Link address for the stack (default: a locally administered one).
    #[arg(long, value_name = "MAC")]
    mac: Option<EthernetAddress>,
    /// Name of the interface inside Linnet (default: the device's name).
    #[arg(long, value_name = "NAME")]
    ifname: Option<String>,
    /// Path of the control socket.
    #[arg(long, value_name = "PATH", default_value = linnet::control::DEFAULT_SOCKET)]
    control: PathBuf,
    /// Serve RFC 862 echo over TCP on this port of the Linnet stack (like inetd's internal
    /// echo), so Linux clients have a Linnet server to talk to.
    #[arg(long, value_name = "PORT")]
    echo: Option<u16>,
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

fn run(args: Args) -> Result<(), String> {
    let signals = block_signals();
    let device: Box<dyn NetDevice> = match (&args.tap, &args.packet) {
        (Some(name), _) => {
            let tap = TapDevice::open(name).map_err(|e| format!("cannot open TAP {name}: {e}"))?;
            tap.set_link_up(true)
                .map_err(|e| format!("cannot bring {} up: {e}", tap.name()))?;
            Box::new(tap)
        }
        (None, Some(ifname)) => Box::new(
            PacketDevice::open(ifname)
                .map_err(|e| format!("cannot open AF_PACKET on {ifname}: {e}"))?,
        ),
        (None, None) => return Err("one of --tap or --packet is required".into()),
    };
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
        ^ (std::process::id() as u64) << 32;
    let mac = args
        .mac
        .or(device.hw_addr())
        .unwrap_or_else(|| EthernetAddress::local_from_seed(seed));
    let clock = HostClock::new();
    let mut stack = Stack::new(StackConfig {
        seed,
        ..StackConfig::default()
    });
    let ifname = args
        .ifname
        .clone()
        .unwrap_or_else(|| device.name().to_string());
    let ifindex = stack.add_interface(&ifname, mac, device.mtu());
    let now = clock.now();
    for cidr in &args.addr {
        stack
            .add_addr(ifindex, *cidr, now)
            .map_err(|e| format!("cannot add address {cidr}: {e}"))?;
    }
    stack
        .set_link_up(ifindex, true, now)
        .map_err(|e| format!("cannot bring {ifname} up: {e}"))?;
    if let Some(gw) = args.gateway {
        stack
            .add_default_gateway(gw)
            .map_err(|e| format!("cannot add default route via {gw}: {e}"))?;
    }
    let dev_name = device.name().to_string();
    let (handle, thread) = runtime::spawn(stack, vec![Attached { ifindex, device }])
        .map_err(|e| format!("cannot start the stack: {e}"))?;
    let control = linnet::control::server::serve(&args.control, handle.clone())
        .map_err(|e| format!("cannot serve {}: {e}", args.control.display()))?;
    if let Some(port) = args.echo {
        echo_service(&handle, port).map_err(|e| format!("cannot serve echo on {port}: {e}"))?;
    }
    let addrs: Vec<String> = args.addr.iter().map(|c| c.to_string()).collect();
    println!(
        "linnetd: {ifname} (device {dev_name}) mac {mac} addr {} control {}",
        addrs.join(","),
        args.control.display()
    );
    tracing::info!(device = %dev_name, %mac, "stack running");
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
