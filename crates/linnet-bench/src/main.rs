//! `linnet-bench`: Linnet against smoltcp on the same in-memory link, and against the Linux
//! kernel over TAP and veth. Prints a table (row, linnet, reference, unit, ratio), saves it
//! as JSON with `--json FILE`, and compares with a saved baseline (`--baseline FILE`),
//! flagging rows more than 10% worse (exit code 3 with `--fail-on-regression`).
//!
//! Build in release mode for real figures:
//! `cargo run --release -p linnet-bench -- --json bench.json`.

mod alloc;
mod impair;
mod link;
mod linnet_pair;
mod linux;
mod probe;
mod report;
mod rig;
mod rxcost;
mod sha256;
mod smol_pair;
mod transfer;
mod workload;

use clap::Parser;
use report::{Better, Report, Row};
use std::time::Duration;

#[global_allocator]
static GLOBAL: alloc::Counting = alloc::Counting;

/// Benchmarks of Linnet against smoltcp and the Linux kernel.
#[derive(Parser, Debug)]
#[command(name = "linnet-bench", version)]
struct Args {
    /// Short runs (CI smoke test): figures are noisy.
    #[arg(long)]
    quick: bool,
    /// Seconds measured per row and stack (default 1, or 0.1 with --quick).
    #[arg(long)]
    secs: Option<f64>,
    /// Save the results as JSON.
    #[arg(long, value_name = "FILE")]
    json: Option<String>,
    /// Compare with a JSON file saved by --json and flag rows more than 10% worse.
    #[arg(long, value_name = "FILE")]
    baseline: Option<String>,
    /// Exit with status 3 when the baseline comparison finds a regression.
    #[arg(long)]
    fail_on_regression: bool,
    /// Skip the rows against the Linux kernel (TAP, veth).
    #[arg(long)]
    skip_linux: bool,
    /// Run only the rows whose name contains this text (repeatable).
    #[arg(long, value_name = "TEXT")]
    only: Vec<String>,
    /// Measure Linnet only, not the references (for profiling Linnet alone).
    #[arg(long)]
    no_reference: bool,
    /// Also print the table as Markdown (for the README).
    #[arg(long)]
    markdown: bool,
    /// Impairment rows: MiB per transfer (default 8, or 2 with --quick).
    #[arg(long, value_name = "MIB")]
    impair_mib: Option<u32>,
    /// Impairment rows: seconds after which a transfer is cut and counted as failed
    /// (default 60, or 20 with --quick).
    #[arg(long, value_name = "SECS")]
    impair_timeout: Option<f64>,
    /// Impairment rows: transfers per side of a case at most, the median kept (default 5,
    /// or 1 with --quick: a single RTO of 200 ms decides a 0.1 s row, so one run is a coin
    /// toss); a case whose first pair takes over 4 s runs once.
    #[arg(long, value_name = "N")]
    impair_runs: Option<usize>,
    /// Impairment rows: the path under the impairments, "line" (the bare link), "wan" (200
    /// Mbit/s and 5 ms each way) or "all" (both, the default).
    #[arg(long, value_name = "PATH", default_value = "all")]
    impair_path: String,
}

/// The rule counts of the per-packet receive cost rows.
const RX_RULES: [usize; 2] = [0, 1000];

/// The plain in-memory bulk row at MTU 1500 (the target row).
const BULK_1500: &str = "tcp bulk mtu 1500";
/// The same on a veth-like link: TSO/GSO and checksum offload, as Linux's veth.
const BULK_1500_VETH: &str = "tcp bulk mtu 1500 veth offloads";
/// The plain-link row with GRO off in Linnet's driver loop.
const BULK_1500_NO_GRO: &str = "tcp bulk mtu 1500 no GRO";

fn main() {
    let args = Args::parse();
    if let Some(s) = args.secs {
        if !(s.is_finite() && s > 0.0 && s <= 600.0) {
            eprintln!("linnet-bench: --secs {s}: must be a number of seconds in (0, 600]");
            std::process::exit(2);
        }
    }
    if let Some(t) = args.impair_timeout {
        if !(t.is_finite() && t > 0.0 && t <= 3600.0) {
            eprintln!(
                "linnet-bench: --impair-timeout {t}: must be a number of seconds in (0, 3600]"
            );
            std::process::exit(2);
        }
    }
    let impair_paths: Vec<impair::Path> = match impair::PATHS
        .into_iter()
        .find(|p| p.label == args.impair_path)
    {
        Some(p) => vec![p],
        None if args.impair_path == "all" => impair::PATHS.to_vec(),
        None => {
            eprintln!(
                "linnet-bench: --impair-path {}: must be line, wan or all",
                args.impair_path
            );
            std::process::exit(2);
        }
    };
    if args.impair_mib == Some(0) || args.impair_runs == Some(0) {
        eprintln!("linnet-bench: --impair-mib and --impair-runs must be at least 1");
        std::process::exit(2);
    }
    let baseline = args.baseline.as_ref().map(|path| {
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
            eprintln!("linnet-bench: --baseline {path}: {e}");
            std::process::exit(2)
        });
        serde_json::from_str::<Report>(&text).unwrap_or_else(|e| {
            eprintln!("linnet-bench: --baseline {path}: not a linnet-bench JSON file: {e}");
            std::process::exit(2)
        })
    });
    let secs = args.secs.unwrap_or(if args.quick { 0.1 } else { 1.0 });
    let dur = Duration::from_secs_f64(secs);
    let warmup = dur / 5;
    let want =
        |name: &str| args.only.is_empty() || args.only.iter().any(|o| name.contains(o.as_str()));
    let mut rows = Vec::new();
    let mut push = |row: Row| {
        eprintln!(
            "  {:<40} linnet {:>12} {} {:>12} {}",
            row.name,
            row.linnet.map_or("-".into(), |v| format!("{v:.3}")),
            row.reference_name,
            row.reference.map_or("-".into(), |v| format!("{v:.3}")),
            row.unit
        );
        rows.push(row);
    };

    // Frames per data segment's worth of bytes: 1 + the ACK ratio (a stack that ACKs less
    // often does less work per byte).
    let per_seg = |r: &workload::BulkResult, mtu: usize| {
        r.frames as f64 / (r.bytes as f64 / (mtu - 52) as f64).max(1.0)
    };
    let fmt_seg = |r: Option<&workload::BulkResult>, mtu: usize| {
        r.map_or("-".into(), |r| format!("{:.2}", per_seg(r, mtu)))
    };
    for mtu in [1500usize, 9000, 65535] {
        let name = format!("tcp bulk mtu {mtu}");
        // smoltcp's figure at this MTU, measured once: the reference of the plain row and
        // (at 1500) of the veth-offload row, which smoltcp cannot run (it has no offloads).
        let mut smol: Option<workload::BulkResult> = None;
        if want(&name) {
            let l = linnet_pair::bulk(mtu, false, true, warmup, dur);
            smol = (!args.no_reference).then(|| smol_pair::bulk(mtu, warmup, dur));
            let s = smol.as_ref();
            let mut row = Row::new(
                &name,
                l.gbps(),
                s.map(|s| s.gbps()),
                "smoltcp",
                "Gbit/s",
                Better::Higher,
            );
            row.note = format!(
                "frames/segment: linnet {}, smoltcp {}",
                fmt_seg(Some(&l), mtu),
                fmt_seg(s, mtu)
            );
            let sdrops = s.map_or(0, |s| s.drops);
            if l.drops + sdrops > 0 {
                row.note += &format!("; link drops: linnet {} smoltcp {}", l.drops, sdrops);
            }
            push(row);
            if mtu == 1500 && want(BULK_1500_NO_GRO) {
                // The same without GRO: every wire frame through TCP/IP on its own.
                let n = linnet_pair::bulk(mtu, false, false, warmup, dur);
                let mut row = Row::new(
                    BULK_1500_NO_GRO,
                    n.gbps(),
                    s.map(|s| s.gbps()),
                    "smoltcp",
                    "Gbit/s",
                    Better::Higher,
                );
                row.note = format!(
                    "frames/segment: linnet {}, smoltcp {}",
                    fmt_seg(Some(&n), mtu),
                    fmt_seg(s, mtu)
                );
                push(row);
            }
            if mtu == 1500 && want("allocs per packet") {
                let mut row = Row::new(
                    "allocs per packet (bulk 1500)",
                    l.allocs_per_frame(),
                    s.map(|s| s.allocs_per_frame()),
                    "smoltcp",
                    "allocs/frame",
                    Better::Lower,
                );
                row.note = format!("{} frames", l.frames);
                push(row);
            }
        }
        if mtu != 1500 || !want(BULK_1500_VETH) {
            continue;
        }
        // Linnet on a veth-like link: both interfaces offer TSO and checksum offload, the
        // link carries 64 KiB GSO super-frames with partial checksums (as Linux's veth does
        // at MTU 1500). The reference stays smoltcp on the plain link at MTU 1500.
        let l = linnet_pair::bulk(mtu, true, true, warmup, dur);
        if smol.is_none() && !args.no_reference {
            smol = Some(smol_pair::bulk(mtu, warmup, dur));
        }
        let s = smol.as_ref();
        let mut row = Row::new(
            BULK_1500_VETH,
            l.gbps(),
            s.map(|s| s.gbps()),
            "smoltcp",
            "Gbit/s",
            Better::Higher,
        );
        row.note = format!(
            "frames/segment: linnet {}, smoltcp {}; the link carries GSO frames with partial \
             checksums, like veth ({} super-frames, up to {} bytes); smoltcp has no offloads \
             (plain link)",
            fmt_seg(Some(&l), mtu),
            fmt_seg(s, mtu),
            l.gso_frames,
            l.largest
        );
        if l.drops > 0 {
            row.note += &format!("; link drops: linnet {}", l.drops);
        }
        push(row);
        if want("allocs per packet") {
            let mut row = Row::new(
                "allocs per packet (bulk 1500 veth offloads)",
                l.allocs_per_frame(),
                s.map(|s| s.allocs_per_frame()),
                "smoltcp",
                "allocs/frame",
                Better::Lower,
            );
            row.note = format!("{} frames; smoltcp on the plain link", l.frames);
            push(row);
        }
    }
    for (name, unit, linnet_fn, smol_fn) in [
        (
            "tcp rr 1 byte",
            "trans/s",
            linnet_pair::rr as fn(Duration) -> workload::CountResult,
            smol_pair::rr as fn(Duration) -> workload::CountResult,
        ),
        (
            "tcp connect+close",
            "conn/s",
            linnet_pair::conns,
            smol_pair::conns,
        ),
    ] {
        if !want(name) {
            continue;
        }
        let l = linnet_fn(dur);
        let s = (!args.no_reference).then(|| smol_fn(dur));
        let per = |r: &workload::CountResult| r.frames as f64 / (r.count as f64).max(1.0);
        let mut row = Row::new(
            name,
            l.rate(),
            s.as_ref().map(|s| s.rate()),
            "smoltcp",
            unit,
            Better::Higher,
        );
        row.note = format!(
            "frames each: linnet {:.2}, smoltcp {}",
            per(&l),
            s.as_ref().map_or("-".into(), |s| format!("{:.2}", per(s)))
        );
        push(row);
    }
    // The rule-less cost is the reference of the rows with rules (their ratio is the cost
    // of the chain).
    let mut rx_base = None;
    for rules in RX_RULES {
        let name = format!("rx cost ipv4+tcp, {rules} nf rules");
        if !want(&name) {
            continue;
        }
        match rxcost::rx_cost(rules, dur) {
            Ok(c) => {
                let (reference, ref_name) = if rules == 0 {
                    rx_base = Some(c.ns_per_packet);
                    (None, "-")
                } else {
                    (rx_base, "0 nf rules")
                };
                let mut row = Row::new(
                    &name,
                    c.ns_per_packet,
                    reference,
                    ref_name,
                    "ns/packet",
                    Better::Lower,
                );
                row.note = format!(
                    "{} packets, {:.3} allocs/packet",
                    c.packets, c.allocs_per_packet
                );
                push(row);
            }
            Err(e) => push(Row::missing(&name, "-", "ns/packet", Better::Lower, &e)),
        }
    }
    // Linnet on a TAP with offloads (virtio-net headers, TSO, checksum offload: how linnetd
    // opens it by default), and without (one MTU-sized frame per write); the Linux veth
    // figure, measured once, is the reference of both.
    let mut veth: Option<Result<f64, String>> = None;
    for (name, offload, send) in [
        ("tcp linnet tap vs linux veth", true, false),
        ("tcp linnet tap send vs linux veth", true, true),
        ("tcp linnet tap no offload vs linux veth", false, false),
    ] {
        if !want(name) {
            continue;
        }
        let why = if args.skip_linux {
            Some("skipped: --skip-linux".to_string())
        } else {
            linux::unavailable()
        };
        if let Some(why) = why {
            eprintln!("  {name}: {why}");
            push(Row::missing(
                name,
                "linux veth",
                "Gbit/s",
                Better::Higher,
                &why,
            ));
            continue;
        }
        let linux_dur = dur.max(Duration::from_millis(500));
        let l = if send {
            linux::tap_linnet_send(linux_dur)
        } else {
            linux::tap_linnet(linux_dur, offload)
        };
        let v = if args.no_reference {
            Ok(f64::NAN)
        } else {
            veth.get_or_insert_with(|| linux::veth_linux(linux_dur))
                .clone()
        };
        match (l, v) {
            (Ok(l), Ok(v)) => push(Row::new(
                name,
                l,
                (!v.is_nan()).then_some(v),
                "linux veth",
                "Gbit/s",
                Better::Higher,
            )),
            (l, v) => {
                let why = format!(
                    "failed: {}",
                    [l.err(), v.err()]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join("; ")
                );
                eprintln!("  {name}: {why}");
                let mut row = Row::missing(name, "linux veth", "Gbit/s", Better::Higher, &why);
                row.linnet = None;
                push(row);
            }
        }
    }

    // TCP under impairment: Linnet and Linux on the same impaired path (issue 14).
    let impair_cases: Vec<impair::Case> = impair::cases()
        .into_iter()
        .filter(|c| impair_paths.contains(&c.path) && want(&c.name()))
        .collect();
    let impair_settings = impair::Settings {
        bytes: (args.impair_mib.unwrap_or(if args.quick { 2 } else { 8 }) as usize) << 20,
        timeout: Duration::from_secs_f64(args.impair_timeout.unwrap_or(if args.quick {
            20.0
        } else {
            60.0
        })),
        reference: !args.no_reference,
        runs: args.impair_runs.unwrap_or(if args.quick { 1 } else { 5 }),
    };
    let mut impaired = Vec::new();
    let mut impair_done = 0;
    if !impair_cases.is_empty() {
        let why = if args.skip_linux {
            Some("skipped: --skip-linux".to_string())
        } else {
            linux::unavailable()
        };
        let result = match why {
            Some(why) => Err(why),
            None => impair::run(&impair_cases, &impair_settings, |m| {
                impair_done += 1;
                push(impair::row(m, &impair_settings))
            }),
        };
        match result {
            Ok(ms) => impaired = ms,
            Err(why) => {
                eprintln!("  impair: {why}");
                for c in &impair_cases[impair_done..] {
                    push(Row::missing(&c.name(), "linux", "s", Better::Lower, &why));
                }
            }
        }
    }

    let rep = Report {
        quick: args.quick,
        secs_per_row: secs,
        rows,
    };
    println!();
    print!("{}", report::table(&rep));
    println!();
    targets(&rep);
    impair::target(&impaired);
    if args.markdown {
        println!();
        print!("{}", report::markdown(&rep));
        if !impaired.is_empty() {
            println!();
            print!("{}", impair::markdown(&impaired, &impair_settings));
        }
    }
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&rep).expect("serialise");
        if let Err(e) = std::fs::write(path, text + "\n") {
            eprintln!("linnet-bench: --json {path}: {e}");
            std::process::exit(2);
        }
        println!("saved {path}");
    }
    if let Some(base) = baseline {
        let regs = report::compare(&base, &rep, 0.10);
        if regs.is_empty() {
            println!("baseline: no row more than 10% worse");
        } else {
            for r in &regs {
                println!(
                    "REGRESSION {}: {:.3} -> {:.3} ({:.0}% worse)",
                    r.name,
                    r.before,
                    r.after,
                    r.worse_by * 100.0
                );
            }
            if args.fail_on_regression {
                std::process::exit(3);
            }
        }
    }
}

/// Print the targets, as ratios of this run. The bulk target (Linnet >= 2x smoltcp
/// at MTU 1500) is checked on both links, each ratio printed: the plain link (no offloads for
/// either stack) and the veth-like link (offloads for Linnet; smoltcp has none).
fn targets(rep: &Report) {
    let ratio = |name: &str| {
        rep.rows
            .iter()
            .find(|r| r.name == name)
            .and_then(|r| r.ratio())
    };
    let verdict = |r: f64, min: f64| if r >= min { "met" } else { "NOT met" };
    let check = |name: &str, min: f64, what: &str| {
        if let Some(r) = ratio(name) {
            println!(
                "target {what}: {r:.2}x (want >= {min}x): {}",
                verdict(r, min)
            );
        }
    };
    check(
        BULK_1500,
        2.0,
        "linnet >= 2x smoltcp bulk (mtu 1500, plain link, no offloads)",
    );
    check(
        BULK_1500_VETH,
        2.0,
        "linnet >= 2x smoltcp bulk (mtu 1500, veth-like link with TSO/GSO + checksum \
         offload for linnet; smoltcp has no offloads)",
    );
    if let (Some(plain), Some(veth)) = (ratio(BULK_1500), ratio(BULK_1500_VETH)) {
        let summary = match (plain >= 2.0, veth >= 2.0) {
            (true, true) => "met on both links",
            (false, true) => "met only with veth-like offloads, NOT on the plain link",
            (true, false) => "met on the plain link only",
            (false, false) => "NOT met on either link",
        };
        println!(
            "target linnet >= 2x smoltcp bulk (mtu 1500): plain {plain:.2}x, veth offloads \
             {veth:.2}x: {summary}"
        );
    }
    check(
        "tcp linnet tap vs linux veth",
        0.5,
        "linnet tap >= 50% of linux veth (Linux sends, Linnet receives)",
    );
    check(
        "tcp linnet tap send vs linux veth",
        0.5,
        "linnet tap >= 50% of linux veth (Linnet sends, Linux receives)",
    );
}
