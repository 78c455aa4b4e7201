//! The control plane under hostile clients, in process (no root needed): deep and huge
//! requests get an error and the server keeps serving; ping sockets die with the connection
//! that opened them; another connection's sockets are out of reach; idle connections are
//! closed or displaced so the administrator always gets in.

use linnet::control::server::{serve_with, ServeConfig};
use linnet::runtime;
use linnet::Client;
use linnet::{Request, Response};
use linnet::{Stack, StackConfig};
use proptest::prelude::*;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

struct Server {
    path: PathBuf,
    handle: runtime::Handle,
    thread: Option<std::thread::JoinHandle<Stack>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.handle.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

fn server(name: &str, cfg: ServeConfig) -> Server {
    let path = std::env::temp_dir().join(format!(
        "linnet-fuzz-control-{name}-{}.sock",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&path);
    let (handle, thread) = runtime::spawn(
        Stack::new(StackConfig {
            seed: 7,
            ..StackConfig::default()
        }),
        Vec::new(),
    )
    .unwrap();
    linnet::control::server::prepare_path(&path, false).unwrap();
    serve_with(&path, handle.clone(), cfg).unwrap();
    Server {
        path,
        handle,
        thread: Some(thread),
    }
}

/// Send raw bytes as one request line and read the one answer line.
fn raw(path: &Path, line: &[u8]) -> String {
    let mut s = UnixStream::connect(path).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // The server may answer and close before reading all of a huge line.
    let _ = s.write_all(line);
    let _ = s.write_all(b"\n");
    let mut out = String::new();
    BufReader::new(s).read_line(&mut out).unwrap();
    out
}

fn still_serves(path: &Path) {
    let mut c = Client::connect(path).unwrap();
    assert!(matches!(
        c.call(Request::LinkShow).unwrap(),
        Response::Links { .. }
    ));
}

fn nested(n: usize) -> String {
    format!("{}tcp{}", "(".repeat(n), ")".repeat(n))
}

#[test]
fn deep_and_huge_requests_get_errors_and_the_server_keeps_serving() {
    let srv = server("deep", ServeConfig::default());
    // A 7 kB nested filter, through the real client, for trace and capture.
    let mut c = Client::connect(&srv.path).unwrap();
    for req in [
        Request::TraceStart {
            filter: nested(3500),
        },
        Request::CaptureStart {
            dev: None,
            filter: "not ".repeat(12_000) + "tcp",
            snaplen: None,
        },
    ] {
        let mut c = Client::connect(&srv.path).unwrap();
        match c.call(req).unwrap() {
            Response::Error { message, .. } => {
                assert!(
                    message.contains("too deeply") || message.contains("too long"),
                    "{message}"
                )
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    // A 1 MB one is refused by length before anything parses it.
    let big = format!(
        r#"{{"version":1,"body":{{"op":"trace_start","filter":"{}"}}}}"#,
        nested(500_000)
    );
    let ans = raw(&srv.path, big.as_bytes());
    assert!(ans.contains("request too long"), "{ans}");
    // Deeply nested JSON: serde's recursion limit answers.
    let deep_json = format!(
        r#"{{"version":1,"body":{}1{}}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let ans = raw(&srv.path, &deep_json.as_bytes()[..60_000]);
    assert!(ans.contains("bad request"), "{ans}");
    let deep_json = format!("{}1{}", "[".repeat(20_000), "]".repeat(20_000));
    let ans = raw(&srv.path, deep_json.as_bytes());
    assert!(ans.contains("bad request"), "{ans}");
    assert!(matches!(
        c.call(Request::LinkShow).unwrap(),
        Response::Links { .. }
    ));
    still_serves(&srv.path);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Arbitrary bytes and arbitrary nestings of filter words are answered with one line
    /// (an error or a result), never a dead server.
    #[test]
    fn random_lines_and_filters_never_kill_the_server(
        bytes in proptest::collection::vec(any::<u8>(), 0..4096),
        words in proptest::collection::vec(
            prop_oneof![
                Just("("), Just(")"), Just("not"), Just("!"), Just("and"), Just("or"),
                Just("tcp"), Just("port"), Just("80"), Just("host"), Just("192.0.2.1"),
            ],
            0..3000,
        ),
    ) {
        let srv = server("prop", ServeConfig::default());
        let line: Vec<u8> = bytes.into_iter().filter(|&b| b != b'\n').collect();
        let ans = raw(&srv.path, &line);
        prop_assert!(ans.ends_with('\n'), "{ans:?}");
        let f = words.join(" ");
        let _ = linnet::trace::Filter::parse(&f);
        let mut c = Client::connect(&srv.path).unwrap();
        let r = c.call(Request::TraceStart { filter: f }).unwrap();
        prop_assert!(
            matches!(r, Response::Error { .. } | Response::TraceStarted { .. }),
            "{r:?}"
        );
        drop(c);
        still_serves(&srv.path);
    }
}

#[test]
fn ping_sockets_belong_to_their_connection_and_die_with_it() {
    let srv = server("ping", ServeConfig::default());
    // Far more abandoned sockets than the stack holds (1024): each closes with its connection.
    for _ in 0..2000 {
        let mut c = Client::connect(&srv.path).unwrap();
        assert!(matches!(
            c.call(Request::PingOpen).unwrap(),
            Response::PingOpened { .. }
        ));
    }
    let mut a = Client::connect(&srv.path).unwrap();
    let Response::PingOpened { ident } = a.call(Request::PingOpen).unwrap() else {
        panic!("ping sockets leaked");
    };
    // Another connection cannot use or close it.
    let mut b = Client::connect(&srv.path).unwrap();
    for req in [Request::PingRecv { ident }, Request::PingClose { ident }] {
        match b.call(req).unwrap() {
            Response::Error { errno, .. } => assert_eq!(errno, Some(libc::EBADF)),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(matches!(
        a.call(Request::PingRecv { ident }).unwrap(),
        Response::PingReplies { .. }
    ));
    // A per-connection limit.
    let mut opened = 1;
    loop {
        match a.call(Request::PingOpen).unwrap() {
            Response::PingOpened { .. } => opened += 1,
            Response::Error { errno, message } => {
                assert_eq!(errno, Some(libc::EMFILE), "{message}");
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(opened <= 1024, "no per-connection limit");
    }
    assert_eq!(opened, ServeConfig::default().max_pings);
}

#[test]
fn idle_connections_do_not_lock_root_out() {
    let srv = server(
        "idle",
        ServeConfig {
            evict_after: Duration::from_millis(200),
            ..ServeConfig::default()
        },
    );
    // 100 idle connections (the test runs as one user: every one counts against it).
    let mut idle = Vec::new();
    for _ in 0..100 {
        idle.push(UnixStream::connect(&srv.path).unwrap());
    }
    std::thread::sleep(Duration::from_millis(400));
    // Whoever we are (root or the daemon's user), a request still gets through, many times.
    for _ in 0..20 {
        still_serves(&srv.path);
    }
}

#[test]
fn idle_connections_time_out() {
    let srv = server(
        "timeout",
        ServeConfig {
            idle_timeout: Duration::from_millis(300),
            ..ServeConfig::default()
        },
    );
    let s = UnixStream::connect(&srv.path).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line).unwrap();
    assert!(line.contains("idle control connection closed"), "{line}");
}
