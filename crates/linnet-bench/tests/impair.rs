//! A small run of the impairment rig (issue 14): 2 MiB transfers through the Linnet router's
//! netem with 5% loss and with 25% reordering (20 ± 5 ms delay), on the data and on the ACK
//! direction, Linnet sending to Linux and receiving from Linux. Asserts that every transfer
//! completes byte-exact (SHA-256 at the receiver) within a generous bound; speed against
//! Linux is the bench's business, not this test's. Needs root (namespaces, TAP devices):
//! reported ignored, with the reason, otherwise.

use linnet_testkit::{tests, Need};
use std::process::Command;
use std::time::{Duration, Instant};

/// Seconds a transfer may take before the rig cuts it (a failure here): generous, for a
/// debug build on a busy machine.
const CUT_SECS: u64 = 90;

fn small_rig_run_is_byte_exact_in_both_directions_and_roles() {
    let json =
        std::env::temp_dir().join(format!("linnet-bench-{}-impair.json", std::process::id()));
    let t0 = Instant::now();
    let cut = CUT_SECS.to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_linnet-bench"))
        .args([
            "--only",
            "impair loss 5%",
            "--only",
            "impair reorder",
            "--impair-mib",
            "2",
            "--impair-timeout",
            &cut,
            "--impair-runs",
            "1",
            "--no-reference",
            "--json",
            json.to_str().unwrap(),
        ])
        .output()
        .expect("run linnet-bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let text = std::fs::read_to_string(&json).expect("json written");
    std::fs::remove_file(&json).ok();
    let v: serde_json::Value = serde_json::from_str(&text).expect("valid json");
    let rows = v["rows"].as_array().expect("rows");
    let mut names = Vec::new();
    for r in rows {
        let name = r["name"].as_str().unwrap().to_string();
        let note = r["note"].as_str().unwrap_or("");
        // Completed (a cut or corrupted transfer has no figure) and byte-exact.
        let secs = r["linnet"]
            .as_f64()
            .unwrap_or_else(|| panic!("{name}: no time: {note}\n{stderr}"));
        assert!(secs > 0.0 && secs < CUT_SECS as f64, "{name}: {secs} s");
        assert!(note.contains("sha256 ok"), "{name}: {note}");
        assert_eq!(r["unit"], "s");
        names.push(name);
    }
    for side in ["data", "acks"] {
        for role in ["sends", "receives"] {
            for imp in ["loss 5%", "reorder 25% delay 20ms 5ms"] {
                let want = format!("impair {imp} on {side}, linnet {role}");
                assert!(names.contains(&want), "no row {want:?} in {names:?}");
            }
        }
    }
    assert_eq!(names.len(), 8, "{names:?}");
    // Eight transfers, each cut at CUT_SECS at worst: the rig itself never hangs.
    assert!(
        t0.elapsed() < Duration::from_secs(8 * CUT_SECS + 60),
        "{:?}",
        t0.elapsed()
    );
}

fn main() -> std::process::ExitCode {
    linnet_testkit::run(tests![&[Need::Netns, Need::Tun] =>
        small_rig_run_is_byte_exact_in_both_directions_and_roles,
    ])
}
