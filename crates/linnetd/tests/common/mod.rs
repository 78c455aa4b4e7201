//! Helpers shared by linnetd's namespace tests: a daemon started and killed on drop, the
//! `linnet` CLI, and assertions on their output. Namespaces, names and processes come from
//! `linnet_testkit`.
#![allow(dead_code)]

// Not every test file uses all of these.
#[allow(unused_imports)]
pub use linnet_testkit::proc::{unique, wait_for_link, Reap};
use linnet_testkit::NetNs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// The daemon, killed on drop.
pub struct Daemon {
    pub child: Child,
    pub socket: PathBuf,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.socket);
    }
}

pub fn bin(name: &str) -> PathBuf {
    // Integration tests get linnetd's path; the CLI is built beside it by the workspace.
    let daemon = PathBuf::from(env!("CARGO_BIN_EXE_linnetd"));
    if name == "linnetd" {
        return daemon;
    }
    let p = daemon.with_file_name(name);
    assert!(
        p.exists(),
        "{} not built: run the tests with `cargo test --workspace`",
        p.display()
    );
    p
}

/// Start linnetd with `args` (optionally inside a namespace) and wait for its ready line.
pub fn start_daemon(netns: Option<&NetNs>, args: &[&str]) -> Daemon {
    start_daemon_with(netns, args, Stdio::inherit())
}

/// [`start_daemon`] with the daemon's log (stderr) sent to `stderr`.
pub fn start_daemon_with(netns: Option<&NetNs>, args: &[&str], stderr: Stdio) -> Daemon {
    let socket = std::env::temp_dir().join(format!("{}.sock", unique("linnetd-test-")));
    let mut cmd = match netns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns.name()]).arg(bin("linnetd"));
            c
        }
        None => Command::new(bin("linnetd")),
    };
    cmd.args(args)
        .arg("--control")
        .arg(&socket)
        .stdout(Stdio::piped())
        .stderr(stderr);
    let mut child = cmd.spawn().expect("spawn linnetd");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let daemon = Daemon { child, socket };
    let line = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("linnetd did not report ready within 10 s");
    assert!(
        line.starts_with("linnetd: "),
        "unexpected first line: {line:?}"
    );
    daemon
}

pub fn linnet(socket: &Path, args: &[&str]) -> Output {
    Command::new(bin("linnet"))
        .arg("--socket")
        .arg(socket)
        .args(args)
        .output()
        .expect("run linnet")
}

pub fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

pub fn ok(o: Output) -> String {
    assert!(o.status.success(), "{}", text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Move linnetd's TAP `tap` (once it appears) into `ns` with `addr`, up, and a default route
/// via `gw` if given.
pub fn attach(ns: &NetNs, tap: &str, addr: &str, gw: Option<&str>) {
    wait_for_link(tap);
    ns.attach(tap, addr, gw).expect("configure namespace");
}

/// Two new namespaces (named from `ns`) and unique names for the TAPs (from `taps`) that
/// will join them to Linnet: (A, B, A's TAP, B's TAP).
pub fn two_namespaces(ns: [&str; 2], taps: [&str; 2]) -> (NetNs, NetNs, String, String) {
    let a = NetNs::new(ns[0]).expect("namespace A");
    let b = NetNs::new(ns[1]).expect("namespace B");
    (a, b, unique(taps[0]), unique(taps[1]))
}

/// Start Linnet on TAPs `ta` (192.0.2.2/24) and `tb` (198.51.100.2/24), with `extra`
/// besides: the router between [`two_namespaces`]. Declare it after the namespaces, so that
/// it drops before them.
pub fn start_between(ta: &str, tb: &str, extra: &[&str]) -> Daemon {
    let (addr_a, addr_b) = (
        format!("{ta}=192.0.2.2/24"),
        format!("{tb}=198.51.100.2/24"),
    );
    let mut args = vec![
        "--tap", ta, "--tap", tb, "--addr", &addr_a, "--addr", &addr_b,
    ];
    args.extend_from_slice(extra);
    start_daemon(None, &args)
}
