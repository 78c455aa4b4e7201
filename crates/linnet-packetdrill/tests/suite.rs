//! Linux's packetdrill TCP suite against Linnet: every script on `expected-pass.txt` must
//! pass (so conformance only rises). Runs `scripts/packetdrill.sh` on those scripts with the
//! shared object cargo built for this test.
//!
//! Needs packetdrill's sources (`$PACKETDRILL_SRC`, else `../shared/packetdrill` beside the
//! repository) and gcc, make, bison, flex to build it (`.ci/run` installs them); without the
//! sources the tests are reported ignored, with the reason.

use linnet_testkit::{tests, Need};
use std::path::{Path, PathBuf};
use std::process::Command;

const NEEDS: &[Need] = &[Need::Other(
    "packetdrill's sources ($PACKETDRILL_SRC or ../shared/packetdrill)",
    have_packetdrill_src,
)];

/// True when [`packetdrill_src`] finds the sources.
fn have_packetdrill_src() -> bool {
    packetdrill_src().is_some()
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn packetdrill_src() -> Option<PathBuf> {
    if let Ok(s) = std::env::var("PACKETDRILL_SRC") {
        return Some(PathBuf::from(s));
    }
    // ../shared beside the clone (CI); ../../shared beside a worktree directory.
    ["../shared/packetdrill", "../../shared/packetdrill"]
        .iter()
        .map(|c| repo().join(c))
        .find(|c| c.join("gtests/net/packetdrill").is_dir())
}

/// The shared object cargo built for this test: target/<profile>/deps beside the test binary
/// (what `cargo test` builds), or target/<profile> (what `cargo build` leaves there).
fn shared_object() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    let deps = exe.parent().expect("deps dir");
    let name = "liblinnet_packetdrill.so";
    if deps.join(name).exists() {
        deps.join(name)
    } else {
        deps.parent().expect("target dir").join(name)
    }
}

fn expected_pass_scripts_pass() {
    let src = packetdrill_src().expect("packetdrill sources (checked by NEEDS)");
    let so = shared_object();
    assert!(so.exists(), "{} not built", so.display());
    let list =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("expected-pass.txt"))
            .expect("expected-pass.txt");
    let suite = src.join("gtests/net/tcp");
    let scripts: Vec<&str> = list
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    assert!(!scripts.is_empty());
    let out = Command::new("bash")
        .arg(repo().join("scripts/packetdrill.sh"))
        .args(scripts.iter().map(|s| suite.join(s)))
        .env("PACKETDRILL_SRC", &src)
        .env("LINNET_PD_SO", &so)
        .env("PD_TIMEOUT", "60")
        .env("PD_JOBS", "2")
        .output()
        .expect("run scripts/packetdrill.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let failed: Vec<&str> = stdout.lines().filter(|l| l.starts_with("FAIL")).collect();
    let passed = stdout.lines().filter(|l| l.starts_with("PASS")).count();
    assert!(
        failed.is_empty() && passed == scripts.len(),
        "expected-pass scripts failed ({passed}/{} passed):\n{}\n{stderr}",
        scripts.len(),
        failed.join("\n")
    );
}

/// A directory in Linux's selftests layout (tools/testing/selftests/net/packetdrill: the
/// scripts call `./defaults.sh` beside them): the harness runs it, and the `sysctl` lines of
/// the helper reach the stack under test — here `tcp_timestamps=0` and `tcp_sack=0` take
/// those options out of the SYN-ACK, and `tcp_rmem`'s maximum sets its window scale, which
/// the script checks exactly.
fn selftests_layout_and_sysctls_reach_the_stack() {
    let src = packetdrill_src().expect("packetdrill sources (checked by NEEDS)");
    let so = shared_object();
    let dir = std::env::temp_dir().join(format!("linnet-pd-selftests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let helper = dir.join("defaults.sh");
    std::fs::write(
        &helper,
        "#!/bin/bash\nsysctl -q net.ipv4.tcp_timestamps=0\nsysctl -q net.ipv4.tcp_sack=0\n\
         sysctl -q net.ipv4.tcp_rmem=\"4096 131072 6291456\"\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    // With the options on (Linnet's defaults) the SYN-ACK would carry sackOK and TS.
    std::fs::write(
        dir.join("tcp_sysctl_off.pkt"),
        "`./defaults.sh`\n\
         0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n\
         +0 bind(3, ..., ...) = 0\n\
         +0 listen(3, 1) = 0\n\
         +0 < S 0:0(0) win 32792 <mss 1000,sackOK,TS val 100 ecr 0,nop,wscale 7>\n\
         +0 > S. 0:0(0) ack 1 <mss 1460,nop,wscale 7>\n\
         +.01 < . 1:1(0) ack 1 win 257\n\
         +0 accept(3, ..., ...) = 4\n",
    )
    .unwrap();
    let out = Command::new("bash")
        .arg(repo().join("scripts/packetdrill.sh"))
        .arg(&dir)
        .env("PACKETDRILL_SRC", &src)
        .env("LINNET_PD_SO", &so)
        .env("PD_TIMEOUT", "60")
        .output()
        .expect("run scripts/packetdrill.sh");
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("PASS tcp_sysctl_off.pkt"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.lines().last(), Some("1 passed, 0 failed"));
}

fn main() -> std::process::ExitCode {
    linnet_testkit::run(tests![NEEDS =>
        expected_pass_scripts_pass,
        selftests_layout_and_sysctls_reach_the_stack,
    ])
}
