//! Start-up shared by the examples: a Linnet host on a TAP device.

use linnet::Host;
use linnet::PacketDevice;

/// What device the example's host runs on, shared by the examples (flattened into each
/// one's arguments, so unknown ones are refused and `--help` lists them all).
#[derive(clap::Args, Debug)]
pub struct HostArgs {
    /// TAP interface to create or attach to.
    #[arg(long, value_name = "NAME", default_value = "linnet0")]
    pub tap: String,
    /// Attach to this existing interface (e.g. a veth end) through an AF_PACKET socket
    /// instead of a TAP.
    #[arg(long, value_name = "IFNAME")]
    pub packet: Option<String>,
    /// Offloads: virtio-net headers with TSO and checksum offload (on), none (off), or on
    /// with a TPACKET_V3 receive ring (ring, --packet only).
    #[arg(long, value_enum, default_value = "on")]
    pub offload: Offload,
    /// The host's IPv4 address with prefix.
    #[arg(long, value_name = "CIDR", default_value = "192.0.2.2/24")]
    pub addr: linnet::Ipv4Cidr,
    /// Default gateway.
    #[arg(long, value_name = "IP")]
    pub gateway: Option<linnet::Ipv4Addr>,
}

/// `--offload`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Offload {
    /// Offloads on.
    On,
    /// Offloads off: MTU-sized frames with complete checksums.
    Off,
    /// Offloads on and a TPACKET_V3 receive ring (AF_PACKET only).
    Ring,
}

/// Open the TAP (or the AF_PACKET interface), give it the address and gateway, and start
/// the stack.
pub fn host(a: &HostArgs) -> Host {
    let mut b = Host::builder()
        .offload(a.offload != Offload::Off)
        .addr(a.addr);
    b = match (&a.packet, a.offload) {
        (Some(ifname), Offload::Ring) => b
            .device(Box::new(PacketDevice::open_ring(ifname).unwrap_or_else(
                |e| fail(&format!("cannot open AF_PACKET on {ifname}: {e}")),
            ))),
        (Some(ifname), _) => b.packet(ifname),
        (None, Offload::Ring) => fail("--offload ring needs --packet"),
        (None, _) => b.tap(&a.tap),
    };
    if let Some(gw) = a.gateway {
        b = b.gateway(gw);
    }
    b.spawn().unwrap_or_else(|e| fail(&e.to_string()))
}

/// Print an error and exit with status 1.
pub fn fail(msg: &str) -> ! {
    eprintln!("error: {msg}");
    std::process::exit(1)
}
