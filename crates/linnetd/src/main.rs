//! `linnetd`: runs a Linnet stack on a real device and serves the control socket that the
//! `linnet` command speaks to (the way the kernel serves rtnetlink to iproute2).

mod services;

use clap::Parser;
use linnet::runtime;
use linnet::NetDevice;
use linnet::PacketDevice;
use linnet::StackConfig;
use linnet::TapDevice;
use linnet::{EthernetAddress, IfAddr, Ipv4Addr};
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
    /// IPv4 or IPv6 address with prefix, e.g. 192.0.2.2/24 or 2001:db8::2/64 for the first
    /// device (a link-local address comes by itself), or DEV=CIDR for the
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
    /// Path of the control socket. Only a stale socket there is replaced; its directory must
    /// exist, except /run/linnet, which is made (or pass --mkdir).
    #[arg(long, value_name = "PATH", default_value = linnet::control::DEFAULT_SOCKET)]
    control: PathBuf,
    /// Create the control socket's directory if it is missing.
    #[arg(long)]
    mkdir: bool,
    /// Serve RFC 862 echo over TCP and UDP on this port of the Linnet stack (like inetd's
    /// internal echo), so Linux clients have a Linnet server to talk to.
    #[arg(long, value_name = "PORT")]
    echo: Option<u16>,
    /// Serve a small HTTP/1.1 page on this port of the Linnet stack (for curl).
    #[arg(long, value_name = "PORT")]
    http: Option<u16>,
    /// Connections each service (--echo, --http) serves at once; more wait in the accept
    /// queue (its backlog is net.core.somaxconn).
    #[arg(long, value_name = "N", default_value_t = 16384, value_parser = clap::value_parser!(u32).range(1..))]
    max_conns: u32,
    /// Seconds a service connection may stay silent (no request, no progress) before it is
    /// closed.
    #[arg(long, value_name = "SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    idle_timeout: u64,
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

/// Split `[DEV=]CIDR`; an IPv6 CIDR has colons (`2001:db8::2/64`).
fn parse_addr(spec: &str) -> Result<(Option<&str>, IfAddr), String> {
    let (dev, cidr) = match spec.split_once('=') {
        Some((d, c)) => (Some(d), c),
        None => (None, spec),
    };
    // A bare address would silently be a /32 with no on-link route: ask for the prefix.
    if !cidr.contains('/') {
        return Err(format!(
            "--addr {spec}: give the prefix length too, e.g. --addr {cidr}/24 (a /32 has no on-link neighbours)"
        ));
    }
    if cidr.contains(':') {
        let c = cidr
            .parse()
            .map_err(|e| format!("--addr {spec}: \"{cidr}\" is not an IPv6 address/prefix: {e}"))?;
        return Ok((dev, IfAddr::V6(c)));
    }
    let cidr = cidr
        .parse()
        .map_err(|_| format!("--addr {spec}: \"{cidr}\" is not an IPv4 address/prefix"))?;
    Ok((dev, IfAddr::V4(cidr)))
}

/// The hint for a device that could not be opened for lack of privilege.
fn needs_admin(e: &std::io::Error) -> &'static str {
    if e.kind() == std::io::ErrorKind::PermissionDenied {
        " (needs root or CAP_NET_ADMIN: run linnetd with sudo)"
    } else {
        ""
    }
}

fn open_devices(args: &Args) -> Result<Vec<Box<dyn NetDevice>>, String> {
    let mut devices: Vec<Box<dyn NetDevice>> = Vec::new();
    for name in &args.tap {
        let tap = if args.no_offload {
            TapDevice::open(name)
        } else {
            TapDevice::open_offload(name)
        }
        .map_err(|e| format!("cannot open TAP {name}: {e}{}", needs_admin(&e)))?;
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
            .map_err(|e| format!("cannot open AF_PACKET on {ifname}: {e}{}", needs_admin(&e)))?,
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
    // And the control socket's path: nothing is replaced but a stale socket.
    let in_run_linnet = args
        .control
        .parent()
        .is_some_and(|d| d == std::path::Path::new(RUN_DIR));
    linnet::control::server::prepare_path(&args.control, args.mkdir || in_run_linnet)
        .map_err(|e| format!("cannot serve {}: {e}", args.control.display()))?;
    let devices = open_devices(&args)?;
    // The host through the library's builder: every device, --mac and --ifname for the
    // first, each address on its device (the first when none is named).
    let mut builder = linnet::Host::builder().config(StackConfig {
        seed: linnet::runtime::random_seed(),
        ip_forward: args.forward,
        ..StackConfig::default()
    });
    let mut first = None;
    for (n, device) in devices.into_iter().enumerate() {
        if n == 0 {
            first = Some(
                args.ifname
                    .clone()
                    .unwrap_or_else(|| device.name().to_string()),
            );
        }
        builder = builder.device(device);
        if n == 0 {
            if let Some(name) = &args.ifname {
                builder = builder.ifname(name);
            }
            if let Some(mac) = args.mac {
                builder = builder.mac(mac);
            }
        }
    }
    let first = first.ok_or("no device: give --tap NAME or --packet IFNAME")?;
    for (dev, cidr) in &addr_specs {
        builder = builder.dev_addr(dev.unwrap_or(&first), *cidr);
    }
    if let Some(gw) = args.gateway {
        builder = builder.gateway(gw);
    }
    let host = builder.spawn().map_err(|e| e.to_string())?;
    let (handle, thread) = (host.handle, host.thread);
    let control = linnet::control::server::serve_with(
        &args.control,
        handle.clone(),
        linnet::control::server::ServeConfig::default(),
    )
    .map_err(|e| format!("cannot serve {}: {e}", args.control.display()))?;
    let services = services::Services::new(
        &handle,
        services::Limits {
            max_conns: args.max_conns as usize,
            idle_timeout: std::time::Duration::from_secs(args.idle_timeout),
        },
    )
    .map_err(|e| format!("cannot start the services: {e}"))?;
    if let Some(port) = args.echo {
        services::echo::serve(&services, port)
            .map_err(|e| format!("cannot serve echo on {port}: {e}"))?;
    }
    if let Some(port) = args.http {
        services::http::serve(&services, port)
            .map_err(|e| format!("cannot serve http on {port}: {e}"))?;
    }
    let addrs: Vec<String> = args.addr.to_vec();
    let devs: Vec<String> = host
        .ifaces
        .iter()
        .map(|f| format!("{} (device {}) mac {}", f.ifname, f.device, f.mac))
        .collect();
    println!(
        "linnetd: {} addr {} control {}",
        devs.join(", "),
        addrs.join(","),
        args.control.display()
    );
    for f in &host.ifaces {
        tracing::info!(ifname = %f.ifname, device = %f.device, mac = %f.mac, "stack running");
    }
    let sig = wait_for_signal(&signals);
    tracing::info!(sig, "stopping");
    shutdown(&handle, services);
    handle.stop();
    let _ = thread.join();
    let _ = std::fs::remove_file(&args.control);
    drop(control);
    Ok(())
}

/// The directory of the default control socket, made when missing.
const RUN_DIR: &str = "/run/linnet";

/// How long the stack gets to send the resets of a shutdown.
const SHUTDOWN_FLUSH: std::time::Duration = std::time::Duration::from_millis(50);

/// Go down the way a dying host's kernel takes its processes' connections with it: every
/// connection still open is aborted with a RST so the peers know at once (those the
/// application already closed keep their FIN), the services stop, and the stack gets a
/// moment to put the resets on the wire.
fn shutdown(handle: &runtime::Handle, services: services::Services) {
    let aborted = handle.call(|s, now| s.tcp_abort_all(now)).unwrap_or(0);
    services.shutdown();
    // Whatever the services' sockets did as they closed is aborted too.
    let late = handle.call(|s, now| s.tcp_abort_all(now)).unwrap_or(0);
    tracing::info!(connections = aborted + late, "aborted with RST");
    std::thread::sleep(SHUTDOWN_FLUSH);
}

fn main() -> ExitCode {
    let args = Args::parse();
    let filter = tracing_subscriber::EnvFilter::try_new(&args.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only for a person at a terminal, never into a log file or a pipe.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
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
