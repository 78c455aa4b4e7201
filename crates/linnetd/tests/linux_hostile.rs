//! linnetd under heavy and hostile use, against the Linux kernel (needs root, /dev/net/tun,
//! iproute2). Each test makes its own namespaces: the client namespace holds the Linux end
//! of linnetd's TAP (192.0.2.1, Linnet at 192.0.2.2) and, for the comparisons, a veth to a
//! second namespace where Linux serves the same clients (203.0.113.1 ↔ 203.0.113.2).
//!
//! Sizes: `LINNET_HOSTILE_CONNS` connections (default 10,000) for the echo and idle-http
//! tests, `LINNET_HOSTILE_PINGS` interrupted `linnet ping` runs (default 2,000: more than the
//! stack's 1,024 ping sockets, so a leak of one per run would show; about 5 s).

mod common;

use common::{attach, bin, linnet, ok, start_daemon_with, text, unique, Daemon};
use linnet_testkit::{tests, Need, NetNs};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const NEEDS: &[Need] = &[
    Need::Netns,
    Need::Tun,
    Need::Tool("ping"),
    Need::Tool("python3"),
];

fn env_count(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Let this process hold as many sockets as it may (the soft limit up to the hard one).
fn raise_nofile() {
    // SAFETY: getrlimit/setrlimit with a valid rlimit; failure only keeps the old limit.
    unsafe {
        let mut cur: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut cur) == 0 && cur.rlim_cur < cur.rlim_max {
            cur.rlim_cur = cur.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &cur);
        }
    }
}

/// The two 10,000-connection tests hold that many sockets each in this process: one at a
/// time.
static BIG: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Linux serving the same clients: an asyncio echo server (one thread, a task per
/// connection) in its own process in the server namespace, so its descriptors, threads and
/// memory are its own.
const LINUX_ECHO_PY: &str = r#"
import asyncio, resource, sys
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
async def echo(r, w):
    try:
        while True:
            b = await r.read(4096)
            if not b:
                break
            w.write(b)
            await w.drain()
    except Exception:
        pass
    w.close()
async def main():
    srv = await asyncio.start_server(echo, sys.argv[1], int(sys.argv[2]), backlog=4096)
    print("ready", flush=True)
    await srv.serve_forever()
asyncio.run(main())
"#;

/// Start the Linux echo server on `port` in `ns`; killed when dropped.
fn linux_server(ns: &NetNs, port: u16) -> common::Reap {
    let mut child = Command::new("ip")
        .args(["netns", "exec", ns.name(), "python3", "-c", LINUX_ECHO_PY])
        .arg(LINUX_SERVER.to_string())
        .arg(port.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready");
    common::Reap(child)
}

const LINNET: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const LINUX_SERVER: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 2);

/// The client namespace with linnetd's TAP in it, and (with `linux`) a Linux server
/// namespace beside it.
struct Rig {
    client: NetNs,
    server: Option<NetNs>,
    daemon: Daemon,
}

fn rig(extra: &[&str], linux: bool) -> Rig {
    rig_logged(extra, linux, Stdio::inherit())
}

/// [`rig`] with linnetd's log sent to `log`.
fn rig_logged(extra: &[&str], linux: bool, log: Stdio) -> Rig {
    let client = NetNs::new("lnt-hc").expect("namespace");
    let tap = unique("lnh");
    let mut args = vec!["--tap", &tap, "--addr", "192.0.2.2/24"];
    args.extend_from_slice(extra);
    let daemon = start_daemon_with(None, &args, log);
    attach(&client, &tap, "192.0.2.1/24", None);
    let server = linux.then(|| {
        let server = NetNs::new("lnt-hs").expect("namespace");
        let (a, b) = (unique("lha"), unique("lhb"));
        client.add_veth(&a, &server, &b).expect("veth");
        client.addr_up(&a, "203.0.113.1/24").unwrap();
        server.addr_up(&b, "203.0.113.2/24").unwrap();
        // Linux's defaults (somaxconn 4096 since 5.4), as linnetd's.
        server
    });
    // Neighbours resolved before the load starts.
    client
        .exec_ok(&["ping", "-c", "1", "-W", "2", "192.0.2.2"])
        .expect("Linnet answers ping");
    Rig {
        client,
        server,
        daemon,
    }
}

/// Threads and resident memory (KiB) of a process.
fn threads_rss(pid: u32) -> (u64, u64) {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |k: &str| {
        s.lines()
            .find(|l| l.starts_with(k))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("Threads:"), field("VmRSS:"))
}

/// What a batch of clients saw.
#[derive(Debug, Default)]
struct Outcome {
    ok: usize,
    errors: Vec<String>,
    elapsed: Duration,
}

/// `n` concurrent clients, each sending 1 KiB and reading it back, from the namespace of the
/// calling thread.
fn echo_clients(dst: SocketAddrV4, n: usize, limit: Duration) -> Outcome {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let start = Instant::now();
        let mut set = tokio::task::JoinSet::new();
        for i in 0..n {
            set.spawn(async move {
                let one = async {
                    let mut s = tokio::net::TcpStream::connect(dst).await?;
                    let msg: Vec<u8> = (0..1024).map(|k| (i * 7 + k) as u8).collect();
                    s.write_all(&msg).await?;
                    let mut back = vec![0u8; 1024];
                    s.read_exact(&mut back).await?;
                    if back != msg {
                        return Err(std::io::Error::other("echo differs"));
                    }
                    s.shutdown().await?;
                    Ok::<(), std::io::Error>(())
                };
                match tokio::time::timeout(limit, one).await {
                    Ok(r) => r,
                    Err(_) => Err(std::io::Error::other("timed out")),
                }
            });
        }
        let mut out = Outcome::default();
        while let Some(r) = set.join_next().await {
            match r {
                Ok(Ok(())) => out.ok += 1,
                Ok(Err(e)) => {
                    if out.errors.len() < 5 {
                        out.errors.push(e.to_string())
                    }
                }
                Err(e) => out.errors.push(e.to_string()),
            }
        }
        out.elapsed = start.elapsed();
        out
    })
}

fn ten_thousand_echo_clients_all_succeed_beside_linux() {
    let _big = BIG.lock().unwrap_or_else(|e| e.into_inner());
    raise_nofile();
    let n = env_count("LINNET_HOSTILE_CONNS", 10_000);
    let r = rig(&["--echo", "7"], true);
    let pid = r.daemon.child.id();
    let before = threads_rss(pid);
    let limit = Duration::from_secs(60);
    let linnet_out = r
        .client
        .run_in(move || echo_clients(SocketAddrV4::new(LINNET, 7), n, limit))
        .unwrap();
    let after = threads_rss(pid);
    let linux = linux_server(r.server.as_ref().unwrap(), 7);
    let linux_out = r
        .client
        .run_in(move || echo_clients(SocketAddrV4::new(LINUX_SERVER, 7), n, limit))
        .unwrap();
    drop(linux);
    let snmp: serde_json::Value =
        serde_json::from_str(&ok(linnet(&r.daemon.socket, &["netstat", "-s", "-j"]))).unwrap();
    let overflow = format!(
        "ListenOverflows {} ListenDrops {} SyncookiesSent {}",
        snmp["tcp"]["listen_overflows"],
        snmp["tcp"]["listen_drops"],
        snmp["tcp"]["syncookies_sent"]
    );
    eprintln!(
        "echo, {n} concurrent clients x 1 KiB: Linnet {} ok in {:.2} s (threads {} -> {}, RSS {} -> {} KiB, {overflow}); Linux {} ok in {:.2} s",
        linnet_out.ok,
        linnet_out.elapsed.as_secs_f64(),
        before.0,
        after.0,
        before.1,
        after.1,
        linux_out.ok,
        linux_out.elapsed.as_secs_f64()
    );
    assert_eq!(linux_out.ok, n, "Linux: {:?}", linux_out.errors);
    assert_eq!(linnet_out.ok, n, "Linnet: {:?}", linnet_out.errors);
    assert_eq!(before.0, after.0, "linnetd's thread count moved");
}

/// Open `n` connections from the calling thread's namespace and keep them, saying nothing.
fn idle_clients(dst: SocketAddrV4, n: usize) -> (Vec<std::net::TcpStream>, usize) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..n {
            set.spawn(async move {
                tokio::time::timeout(Duration::from_secs(60), tokio::net::TcpStream::connect(dst))
                    .await
            });
        }
        let mut kept = Vec::new();
        let mut failed = 0;
        while let Some(r) = set.join_next().await {
            match r {
                Ok(Ok(Ok(s))) => kept.push(s.into_std().unwrap()),
                _ => failed += 1,
            }
        }
        (kept, failed)
    })
}

/// One GET from the calling thread's namespace.
fn http_get(dst: SocketAddrV4) -> std::io::Result<String> {
    let mut s = std::net::TcpStream::connect_timeout(&dst.into(), Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

/// Bytes of the kernel's TCP socket slab in use (all namespaces: both ends of a test's
/// connections).
fn tcp_slab_bytes() -> u64 {
    std::fs::read_to_string("/proc/slabinfo")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("TCP "))
        .map(|l| {
            let w: Vec<u64> = l
                .split_whitespace()
                .skip(1)
                .take(3)
                .filter_map(|v| v.parse().ok())
                .collect();
            w.first().copied().unwrap_or(0) * w.get(2).copied().unwrap_or(0)
        })
        .unwrap_or(0)
}

fn ten_thousand_idle_http_clients_keep_threads_flat_and_memory_bounded() {
    let _big = BIG.lock().unwrap_or_else(|e| e.into_inner());
    raise_nofile();
    let n = env_count("LINNET_HOSTILE_CONNS", 10_000);
    let r = rig(&["--http", "80"], true);
    let pid = r.daemon.child.id();
    let before = threads_rss(pid);
    let (kept, failed) = r
        .client
        .run_in(move || idle_clients(SocketAddrV4::new(LINNET, 80), n))
        .unwrap();
    // Let the service accept them all.
    std::thread::sleep(Duration::from_millis(500));
    let during = threads_rss(pid);
    // The service still answers a real client meanwhile.
    let page = r
        .client
        .run_in(|| http_get(SocketAddrV4::new(LINNET, 80)))
        .unwrap()
        .expect("GET while 10,000 clients idle");
    drop(kept);
    // Linux serving the same idle clients: its server process and the kernel's sockets.
    std::thread::sleep(Duration::from_millis(200));
    let slab0 = tcp_slab_bytes();
    let linux = linux_server(r.server.as_ref().unwrap(), 80);
    let lpid = linux.0.id();
    let lbefore = threads_rss(lpid);
    let (lkept, lfailed) = r
        .client
        .run_in(move || idle_clients(SocketAddrV4::new(LINUX_SERVER, 80), n))
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let lduring = threads_rss(lpid);
    let slab1 = tcp_slab_bytes();
    drop(lkept);
    drop(linux);
    eprintln!(
        "http, {n} idle clients: Linnet {} connected, linnetd threads {} -> {}, RSS {} -> {} KiB ({:.1} KiB/conn); Linux {} connected (asyncio server: threads {} -> {}, RSS {} -> {} KiB), kernel TCP socket slab +{:.1} KiB/conn (both ends)",
        n - failed,
        before.0,
        during.0,
        before.1,
        during.1,
        during.1.saturating_sub(before.1) as f64 / n as f64,
        n - lfailed,
        lbefore.0,
        lduring.0,
        lbefore.1,
        lduring.1,
        slab1.saturating_sub(slab0) as f64 / 1024.0 / n as f64,
    );
    assert_eq!(failed, 0, "Linnet refused idle clients");
    assert_eq!(lfailed, 0, "Linux refused idle clients");
    assert!(page.contains("Hello from the Linnet stack."), "{page}");
    assert_eq!(before.0, during.0, "linnetd's thread count grew");
    // Bounded: well under what a thread per connection cost (127 MB for 10,000).
    let per_conn_kib = during.1.saturating_sub(before.1) / n.max(1) as u64;
    assert!(per_conn_kib < 12, "{per_conn_kib} KiB per idle connection");
}

fn limits_idle_timeout_and_hostile_control_input() {
    let log_path = std::env::temp_dir().join(format!("{}.log", unique("linnetd-hostile-")));
    let log = std::fs::File::create(&log_path).unwrap();
    let r = rig_logged(
        &["--echo", "7", "--max-conns", "2", "--idle-timeout", "1"],
        false,
        Stdio::from(log),
    );
    let dst = SocketAddrV4::new(LINNET, 7);
    r.client
        .run_in(move || {
            let echo = |s: &mut std::net::TcpStream| -> std::io::Result<()> {
                s.write_all(b"hi")?;
                let mut b = [0u8; 2];
                s.read_exact(&mut b)
            };
            let connect = || {
                let s = std::net::TcpStream::connect_timeout(&dst.into(), Duration::from_secs(5))
                    .unwrap();
                s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                s
            };
            // Two served; the third waits in the accept queue until one goes.
            let mut a = connect();
            let mut b = connect();
            echo(&mut a).unwrap();
            echo(&mut b).unwrap();
            let mut c = connect();
            c.set_read_timeout(Some(Duration::from_millis(300)))
                .unwrap();
            c.write_all(b"hi").unwrap();
            let mut buf = [0u8; 2];
            assert!(
                c.read_exact(&mut buf).is_err(),
                "a third connection was served"
            );
            drop(a);
            c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            c.read_exact(&mut buf).expect("served once a slot is free");
            // The limit was logged, once.
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            let _ = std::fs::remove_file(&log_path);
            assert_eq!(log.matches("connection limit reached").count(), 1, "{log}");
            // A silent client is closed after the idle timeout.
            let t = Instant::now();
            let mut rest = Vec::new();
            let n = b.read_to_end(&mut rest).unwrap();
            assert_eq!(n, 0);
            assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());
        })
        .unwrap();
    // A 7 kB nested filter: the CLI refuses it, and so does the daemon when asked directly.
    let nested = |n: usize| format!("{}tcp{}", "(".repeat(n), ")".repeat(n));
    let o = linnet(&r.daemon.socket, &["trace", "-c", "1", &nested(3500)]);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("too deeply"),
        "{}",
        text(&o)
    );
    for filter in [nested(3500), "not ".repeat(3000) + "tcp", nested(500_000)] {
        let mut s = UnixStream::connect(&r.daemon.socket).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let req =
            serde_json::json!({"version": 1, "body": {"op": "trace_start", "filter": filter}});
        let _ = s.write_all(format!("{req}\n").as_bytes());
        let mut line = String::new();
        BufReader::new(s).read_line(&mut line).unwrap();
        assert!(
            line.contains("too deeply") || line.contains("request too long"),
            "{} bytes: {line}",
            filter.len()
        );
    }
    // 100 idle control connections do not stop root's CLI.
    let idle: Vec<UnixStream> = (0..100)
        .map(|_| UnixStream::connect(&r.daemon.socket).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(1300));
    for _ in 0..3 {
        ok(linnet(&r.daemon.socket, &["ip", "link", "show"]));
    }
    drop(idle);
    // And linnetd kept serving through all of it.
    let out = r
        .client
        .run_in(move || echo_clients(dst, 20, Duration::from_secs(10)))
        .unwrap();
    assert_eq!(out.ok, 20, "{:?}", out.errors);
}

fn interrupted_pings_leave_no_socket_behind() {
    let n = env_count("LINNET_HOSTILE_PINGS", 2000);
    let r = rig(&[], false);
    let start = Instant::now();
    for i in 0..n {
        let mut child = Command::new(bin("linnet"))
            .arg("--socket")
            .arg(&r.daemon.socket)
            .args(["ping", "-i", "0.2", "192.0.2.1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Wait until it has its socket (it prints PING after opening it), then stop it as a
        // user would (Ctrl-C) or as the OOM killer would.
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.starts_with("PING"), "{line}");
        let sig = if i % 2 == 0 {
            libc::SIGINT
        } else {
            libc::SIGKILL
        };
        // SAFETY: signalling our own child, still unreaped.
        unsafe { libc::kill(child.id() as i32, sig) };
        let _ = child.wait();
    }
    let took = start.elapsed();
    // The stack holds at most 1024 ping sockets: after more leaks than that, this fails.
    let out = ok(linnet(
        &r.daemon.socket,
        &["ping", "-c", "1", "-W", "2", "192.0.2.1"],
    ));
    assert!(out.contains("1 received"), "{out}");
    eprintln!(
        "{n} interrupted linnet ping runs in {:.1} s; a new ping still gets its socket",
        took.as_secs_f64()
    );
}

fn sigterm_during_transfers_resets_the_linux_peers_at_once() {
    let mut r = rig(&["--echo", "7"], false);
    let dst = SocketAddrV4::new(LINNET, 7);
    let pid = r.daemon.child.id() as i32;
    let results = std::thread::scope(|sc| {
        let client = &r.client;
        let workers: Vec<_> = (0..4)
            .map(|_| {
                sc.spawn(move || {
                    client
                        .run_in(move || {
                            let mut s = std::net::TcpStream::connect_timeout(
                                &dst.into(),
                                Duration::from_secs(5),
                            )
                            .unwrap();
                            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                            let chunk = vec![0x5au8; 16 * 1024];
                            let mut back = vec![0u8; 16 * 1024];
                            loop {
                                let r = s
                                    .write_all(&chunk)
                                    .and_then(|_| s.read(&mut back).map(|_| ()));
                                if let Err(e) = r {
                                    return (e.kind(), Instant::now());
                                }
                            }
                        })
                        .unwrap()
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(500));
        let t = Instant::now();
        // SAFETY: signalling the daemon we started.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        (
            t,
            workers
                .into_iter()
                .map(|w| w.join().unwrap())
                .collect::<Vec<_>>(),
        )
    });
    let (sent, ends) = results;
    for (kind, at) in &ends {
        let after = at.saturating_duration_since(sent);
        assert_eq!(
            *kind,
            std::io::ErrorKind::ConnectionReset,
            "peer saw {kind:?} after {after:?}"
        );
        assert!(after < Duration::from_secs(1), "RST after {after:?}");
    }
    let status = r.daemon.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert!(!r.daemon.socket.exists(), "control socket left behind");
    eprintln!(
        "SIGTERM: {} transferring Linux peers reset within {:?}",
        ends.len(),
        ends.iter()
            .map(|(_, at)| at.saturating_duration_since(sent))
            .max()
            .unwrap_or_default()
    );
}

fn main() -> std::process::ExitCode {
    linnet_testkit::run(tests![NEEDS =>
        ten_thousand_echo_clients_all_succeed_beside_linux,
        ten_thousand_idle_http_clients_keep_threads_flat_and_memory_bounded,
        limits_idle_timeout_and_hostile_control_input,
        interrupted_pings_leave_no_socket_behind,
        sigterm_during_transfers_resets_the_linux_peers_at_once,
    ])
}
