//! What tracing and capture cost: a 64 MiB TCP transfer between two simulated stacks (no
//! impairment, virtual time), timed in real time with the taps off, on with a filter that
//! selects nothing, and on for every packet (drained as the daemon would).
//!
//! ```text
//! cargo run --release -p linnet --example trace-overhead -- [off|trace-none|trace-all|capture-none|capture-all] [MiB]
//! ```

use linnet::LinkConfig;
use linnet::Sim;
use linnet::{MsgFlags, Shutdown, SockType};
use linnet::{Stack, StackConfig};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

// TAPS-BEGIN
fn setup_taps(sim: &mut Sim, mode: &str) {
    use linnet::trace::Filter;
    let none = Filter::parse("udp port 9").expect("filter");
    for s in 0..2 {
        let st = sim.stack(s);
        match mode {
            "trace-none" => st.trace_start(none.clone(), 65536).expect("trace"),
            "trace-all" => st.trace_start(Filter::all(), 65536).expect("trace"),
            "capture-none" => {
                st.capture_start(None, none.clone(), 128, 4096)
                    .expect("capture");
            }
            "capture-all" => {
                st.capture_start(None, Filter::all(), 128, 4096)
                    .expect("capture");
            }
            _ => {}
        }
    }
}

fn drain_taps(sim: &mut Sim, recs: &mut Vec<linnet::trace::TraceRecord>) -> u64 {
    let mut n = 0;
    for s in 0..2 {
        let st = sim.stack(s);
        recs.clear();
        st.trace_drain(recs);
        n += recs.len() as u64;
        if let Some(c) = st.capture_mut(1) {
            c.drain(|_| n += 1);
        }
    }
    n
}
// TAPS-END

fn run(mode: &str, mib: usize) -> (Duration, u64) {
    let mut sim = Sim::new();
    for seed in [1, 2] {
        sim.add_stack(Stack::new(StackConfig {
            seed,
            ..StackConfig::default()
        }));
    }
    sim.connect(
        0,
        1,
        LinkConfig {
            queue_limit: 10_000,
            ..LinkConfig::default()
        },
        "192.0.2.1/24".parse().expect("cidr"),
        "192.0.2.2/24".parse().expect("cidr"),
    );
    sim.advance(Duration::from_millis(100));
    let b = Ipv4Addr::new(192, 0, 2, 2);
    let l = sim.stack(1).socket(SockType::Stream).expect("socket");
    sim.stack(1)
        .bind(l, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 5001))
        .expect("bind");
    sim.stack(1).listen(l, 8).expect("listen");
    let c = sim.stack(0).socket(SockType::Stream).expect("socket");
    let now = sim.now();
    let _ = sim.stack(0).connect(c, SocketAddrV4::new(b, 5001), now);
    let mut server = None;
    let until = sim.now() + Duration::from_secs(5);
    sim.run_until_cond(until, |sim| {
        if server.is_none() {
            server = sim.stack(1).accept(l).ok().map(|(s, _)| s);
        }
        server.is_some()
    });
    let server = server.expect("accepted");
    setup_taps(&mut sim, mode);
    let data = vec![0xa5u8; 1 << 20];
    let total = mib << 20;
    let (mut sent, mut got, mut closed) = (0usize, 0usize, false);
    let mut buf = vec![0u8; 1 << 16];
    let mut recs = Vec::with_capacity(65536);
    let mut tapped = 0u64;
    let taps = mode != "off";
    let start = std::time::Instant::now();
    let until = sim.now() + Duration::from_secs(3600);
    sim.run_until_cond(until, |sim| {
        let now = sim.now();
        while sent < total {
            let n = (total - sent).min(data.len());
            match sim.stack(0).send(c, &data[..n], now) {
                Ok(k) => sent += k,
                Err(_) => break,
            }
        }
        if sent == total && !closed {
            let _ = sim.stack(0).shutdown(c, Shutdown::Write, now);
            closed = true;
        }
        while let Ok(k) = sim
            .stack(1)
            .recv(server, &mut buf, MsgFlags::default(), now)
        {
            if k == 0 {
                break;
            }
            got += k;
        }
        if taps {
            tapped += drain_taps(sim, &mut recs);
        }
        got == total
    });
    assert_eq!(got, total, "transfer incomplete");
    (start.elapsed(), tapped)
}

/// What tracing and capture cost on a simulated TCP transfer.
#[derive(clap::Parser, Debug)]
#[command(name = "trace-overhead")]
struct Args {
    /// Which taps are on.
    #[arg(default_value = "off", value_parser = ["off", "trace-none", "trace-all", "capture-none", "capture-all"])]
    mode: String,
    /// MiB moved per run.
    #[arg(default_value_t = 64)]
    mib: usize,
}

fn main() {
    let args = <Args as clap::Parser>::parse();
    let (mode, mib) = (args.mode.as_str(), args.mib);
    let mut best = Duration::MAX;
    let mut tapped = 0;
    for _ in 0..5 {
        let (t, n) = run(mode, mib);
        best = best.min(t);
        tapped = n;
    }
    println!(
        "{mode}: {mib} MiB in {:.1} ms (best of 5), {:.0} MB/s, {tapped} records/frames tapped",
        best.as_secs_f64() * 1e3,
        (mib << 20) as f64 / best.as_secs_f64() / 1e6
    );
}
