//! Linux's packetdrill TCP suite against Linnet: every script on `expected-pass.txt` must
//! pass (so conformance only rises). Runs `scripts/packetdrill.sh` on those scripts with the
//! shared object cargo built for this test.
//!
//! Needs packetdrill's sources (`$PACKETDRILL_SRC`, else `../shared/packetdrill` beside the
//! repository) and gcc, make, bison, flex to build it (`.ci/run` installs them); without the
//! sources the test says it is skipped.

use std::path::{Path, PathBuf};
use std::process::Command;

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

/// The shared object cargo built beside this test binary (target/<profile>/).
fn shared_object() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    dir.join("liblinnet_packetdrill.so")
}

#[test]
fn expected_pass_scripts_pass() {
    let Some(src) = packetdrill_src() else {
        eprintln!("skipped: packetdrill sources not found (set PACKETDRILL_SRC)");
        return;
    };
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
