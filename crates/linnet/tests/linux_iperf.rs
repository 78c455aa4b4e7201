//! Linux's stock `iperf3` client against Linnet's iperf3 server (the `linnet-iperf3` crate)
//! over a TAP device in a network namespace the test creates: one stream, two parallel
//! streams, reverse mode, and a refused UDP test. The bytes the server counted must be the
//! bytes iperf3 reports as received (or, with `-R`, sent), stream by stream.
//! Needs root, `iperf3` and `timeout`: reported ignored, with the reason, otherwise.

mod common;

use linnet::Host;
use linnet_iperf3::proto::Role;
use linnet_iperf3::server::{gbit_per_s, Limits, Server, TestReport};
use linnet_testkit::addr::LINUX;
use linnet_testkit::{tests, Need, NetNs};
use serde_json::Value;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::process::Output;
use std::time::Duration;

const LINNET: &str = "192.0.2.2";
/// Hard limit on one iperf3 run (`timeout(1)` kills it after this long).
const CLIENT_LIMIT: Duration = Duration::from_secs(60);

const NEEDS: &[Need] = &[
    Need::Netns,
    Need::Tun,
    Need::Tool("iperf3"),
    Need::Tool("timeout"),
];

/// A namespace with the Linux end of a TAP at 192.0.2.1/24 and a Linnet host at 192.0.2.2.
fn setup(tag: &str) -> (NetNs, Host) {
    common::linux::tap_host(&format!("lip{tag}"), "li")
}

/// Serve one test on the Linnet host while `iperf3 -c 192.0.2.2 -J ARGS` runs in the
/// namespace; the client's output and what the server made of the test. With `intruder`, a
/// second client tries its luck 0.7 s into the test; its output comes back too.
fn run_iperf3(
    tag: &str,
    args: &[&str],
    intruder: bool,
) -> (Output, std::io::Result<TestReport>, Option<Output>) {
    let (ns, host) = setup(tag);
    let limits = Limits {
        accept: Some(Duration::from_secs(30)),
        step: Duration::from_secs(10),
        grace: Duration::from_secs(20),
        idle: Duration::from_secs(20),
    };
    let mut server = Server::bind(
        &host.handle,
        SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, linnet_iperf3::proto::DEFAULT_PORT),
        limits,
    )
    .expect("bind 5201");
    // Every wait in serve_one is bounded by `limits`, so the join below is too.
    let served = std::thread::spawn(move || server.serve_one());
    let client = |args: &[&str]| {
        let mut cmd = vec!["iperf3", "-c", LINNET, "-J", "--connect-timeout", "5000"];
        cmd.extend_from_slice(args);
        ns.exec_timeout(CLIENT_LIMIT, &cmd).expect("run iperf3")
    };
    let (out, second) = std::thread::scope(|sc| {
        let second = intruder.then(|| {
            sc.spawn(|| {
                std::thread::sleep(Duration::from_millis(700));
                client(&["-t", "1"])
            })
        });
        let out = client(args);
        (out, second.map(|t| t.join().expect("second client")))
    });
    let report = served.join().expect("server thread");
    host.stop();
    (out, report, second)
}

/// Run a test that must succeed; the client's JSON and the server's report.
fn good_run(tag: &str, args: &[&str]) -> (Value, TestReport) {
    let (out, report, _) = run_iperf3(tag, args, false);
    check_success(args, out, report)
}

/// The client's JSON and the server's report of a test that succeeded.
fn check_success(
    args: &[&str],
    out: Output,
    report: std::io::Result<TestReport>,
) -> (Value, TestReport) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "iperf3 {args:?} failed ({}): {stdout} {} / server: {report:?}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let report = report.expect("server side of the test");
    let json: Value = serde_json::from_str(&stdout).expect("iperf3 -J output");
    assert!(json.get("error").is_none(), "{}", json["error"]);
    assert!(report.clean_end, "client did not send IPERF_DONE");
    assert_eq!(*report.client.ip(), LINUX);
    eprint!("{}", report.summary());
    (json, report)
}

fn u64_at(v: &Value, path: &str) -> u64 {
    let x = v
        .pointer(path)
        .unwrap_or_else(|| panic!("no {path} in {v}"));
    x.as_u64()
        .or_else(|| x.as_f64().map(|f| f as u64))
        .unwrap_or_else(|| panic!("{path} = {x} is not a count"))
}

fn f64_at(v: &Value, path: &str) -> f64 {
    v.pointer(path)
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("no number {path}"))
}

/// Client → Linnet checks: iperf3's received bytes are the server's counts, stream by stream.
fn check_upload(json: &Value, report: &TestReport, streams: usize, what: &str) {
    assert_eq!(report.streams.len(), streams);
    assert!(report.streams.iter().all(|s| s.role == Role::Receive));
    assert!(
        report.streams.iter().all(|s| s.error.is_none()),
        "{report:?}"
    );
    let received = u64_at(json, "/end/sum_received/bytes");
    let sent = u64_at(json, "/end/sum_sent/bytes");
    assert!(received > 0, "nothing received");
    assert_eq!(received, report.bytes(Role::Receive));
    assert!(received <= sent, "received {received} > sent {sent}");
    // What the client reported in the results exchange is what it prints as sent.
    assert_eq!(report.client_bytes(Role::Receive), sent);
    let per_stream = json["end"]["streams"].as_array().expect("end.streams");
    assert_eq!(per_stream.len(), streams);
    for (s, j) in report.streams.iter().zip(per_stream) {
        assert_eq!(u64_at(j, "/receiver/bytes"), s.bytes, "stream {}", s.id);
        assert!(s.bytes > 0, "stream {} idle", s.id);
    }
    let ids: Vec<u32> = report.streams.iter().map(|s| s.id).collect();
    assert_eq!(ids, [1, 3, 4, 5][..streams]);
    // The client computes the receiver's rate from the interval the server reported.
    let secs = f64_at(json, "/end/sum_received/seconds");
    assert!((secs - report.seconds).abs() < 1e-3, "{secs} vs {report:?}");
    assert!(report.seconds > 1.5 && report.seconds < 10.0, "{report:?}");
    let bps = f64_at(json, "/end/sum_received/bits_per_second");
    eprintln!(
        "linux_iperf: {what}: Linux iperf3 -> Linnet: {received} bytes in {:.2} s = {:.3} Gbit/s \
         (iperf3: {:.3} Gbit/s; client sent {sent})",
        report.seconds,
        gbit_per_s(received, report.seconds),
        bps / 1e9
    );
}

fn iperf3_client_to_linnet_one_stream() {
    let (out, report, second) = run_iperf3("a", &["-t", "2"], true);
    let (json, report) = check_success(&["-t", "2"], out, report);
    assert_eq!(report.params.time, 2);
    // The second client was told the server is busy (ACCESS_DENIED).
    let second = second.expect("second client's output");
    let busy: Value = serde_json::from_slice(&second.stdout).expect("second iperf3 -J output");
    let err = busy["error"].as_str().unwrap_or_else(|| panic!("{busy}"));
    assert!(err.contains("busy"), "{err}");
    assert_eq!(report.params.parallel, 1);
    check_upload(&json, &report, 1, "-t 2");
}

fn iperf3_client_to_linnet_two_parallel_streams() {
    let (json, report) = good_run("b", &["-t", "2", "-P", "2"]);
    assert_eq!(report.params.parallel, 2);
    check_upload(&json, &report, 2, "-t 2 -P 2");
    assert_eq!(u64_at(&json, "/start/test_start/num_streams"), 2);
}

fn iperf3_reverse_linnet_sends() {
    let (json, report) = good_run("c", &["-t", "2", "-R"]);
    assert!(report.params.reverse);
    assert_eq!(report.streams.len(), 1);
    let s = &report.streams[0];
    assert_eq!(s.role, Role::Send);
    assert!(s.error.is_none(), "{s:?}");
    let sent = u64_at(&json, "/end/sum_sent/bytes");
    let received = u64_at(&json, "/end/sum_received/bytes");
    // iperf3 prints the server's count as the sender's, and counts what it read itself.
    assert_eq!(sent, report.bytes(Role::Send));
    assert!(received > 0 && received <= sent, "{received} of {sent}");
    assert_eq!(report.client_bytes(Role::Send), received);
    // Linnet reports real retransmit counts for the streams it sends.
    let retrans = s.retransmits.expect("retransmits of a sending stream");
    assert_eq!(u64_at(&json, "/end/sum_sent/retransmits"), retrans);
    assert_eq!(
        json.pointer("/end/sender_tcp_congestion")
            .and_then(Value::as_str),
        report.congestion.as_deref()
    );
    eprintln!(
        "linux_iperf: -R: Linnet -> Linux iperf3: {sent} bytes sent, {received} received in {:.2} s \
         = {:.3} Gbit/s, {retrans} retransmits",
        report.seconds,
        gbit_per_s(received, report.seconds)
    );
}

fn iperf3_udp_test_is_refused_with_a_reason() {
    let (out, report, _) = run_iperf3("d", &["-u", "-t", "1"], false);
    // With -J, iperf3 3.12 reports the refusal in its JSON (and exits 0 regardless).
    let json: Value = serde_json::from_slice(&out.stdout).expect("iperf3 -J output");
    let err = json["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error in {json}"));
    // SERVER_ERROR with IEUNIMP, in iperf3's words.
    assert!(err.contains("not implemented yet"), "{err}");
    assert!(json["intervals"].as_array().is_some_and(|i| i.is_empty()));
    let e = report.expect_err("the server refuses UDP");
    assert_eq!(e.kind(), std::io::ErrorKind::Unsupported, "{e}");
}

fn main() -> std::process::ExitCode {
    linnet_testkit::run(tests![NEEDS =>
        iperf3_client_to_linnet_one_stream,
        iperf3_client_to_linnet_two_parallel_streams,
        iperf3_reverse_linnet_sends,
        iperf3_udp_test_is_refused_with_a_reason,
    ])
}
