//! A test harness for the tests that need root or a Linux tool: Rust's own harness cannot
//! skip a test at run time, so such a test used to print a line and pass having done
//! nothing. Here each test lists what it [`Need`]s; when something is missing the test is
//! reported `ignored (REASON)` and counted in the summary's "N ignored", and a closing note
//! repeats why. With everything there, the tests run exactly as under `#[test]`.
//!
//! A test binary opts in with `harness = false` in its crate's `Cargo.toml`:
//!
//! ```toml
//! [[test]]
//! name = "linux_tcp"
//! harness = false
//! ```
//!
//! and a `main` that lists its test functions (plain `fn()`s that panic on failure):
//!
//! ```no_run
//! use linnet_testkit::{tests, Need};
//! const NEEDS: &[Need] = &[Need::Netns, Need::Tool("nc")];
//! fn nc_talks_to_linnet() { /* ... */ }
//! fn main() -> std::process::ExitCode {
//!     linnet_testkit::run(tests![NEEDS => nc_talks_to_linnet])
//! }
//! ```
//!
//! The command line is libtest's (via `libtest-mimic`): a name filter, `--exact`, `--skip`,
//! `--list`, `--test-threads`, `--ignored`/`--include-ignored` (tests marked ignored
//! up front; none are), `-q`, `--format`. `--nocapture` is accepted; output is never
//! captured (as with `--nocapture`), so a test's prints show as they happen.

use crate::need::{unmet, Need};
use libtest_mimic::{Arguments, Completion, Trial};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

/// One test: a name (what filters match), what it needs, and its body.
pub struct Test {
    name: String,
    needs: Vec<Need>,
    body: Box<dyn FnOnce() + Send>,
}

impl Test {
    /// A test called `name` running `body`, which fails by panicking (as a `#[test]` does).
    pub fn new(name: impl Into<String>, body: impl FnOnce() + Send + 'static) -> Test {
        Test {
            name: name.into(),
            needs: Vec::new(),
            body: Box::new(body),
        }
    }

    /// Add requirements; the test is reported ignored, with the reason, when one is unmet.
    pub fn needs(mut self, needs: &[Need]) -> Test {
        self.needs.extend_from_slice(needs);
        self
    }

    /// The test's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// `tests![NEEDS => f, g, h]`: a `Vec<Test>` of the functions `f`, `g`, `h` (named as they
/// are, so filters match as under `#[test]`), each needing `NEEDS` (a `&[Need]`).
#[macro_export]
macro_rules! tests {
    ($needs:expr => $($f:ident),+ $(,)?) => {
        vec![$($crate::harness::Test::new(stringify!($f), $f).needs($needs)),+]
    };
}

/// Parse libtest's command line, run `tests`, print the summary, and return the exit code
/// (failure when a test failed).
pub fn run(tests: Vec<Test>) -> ExitCode {
    let args = Arguments::from_args();
    let ignored = std::sync::Arc::new(Reasons::default());
    let trials = tests
        .into_iter()
        .map(|t| {
            let Test { name, needs, body } = t;
            let ignored = ignored.clone();
            Trial::ignorable_test(name, move || {
                if let Some(why) = unmet(&needs) {
                    ignored.add(&why);
                    return Ok(Completion::ignored_with(why));
                }
                body();
                Ok(Completion::Completed)
            })
        })
        .collect();
    let conclusion = libtest_mimic::run(&args, trials);
    ignored.report();
    conclusion.exit_code()
}

/// Why tests were ignored at run time, for the closing note.
#[derive(Default)]
struct Reasons {
    count: AtomicU32,
    reasons: Mutex<Vec<String>>,
}

impl Reasons {
    fn add(&self, why: &str) {
        self.count.fetch_add(1, Ordering::Relaxed);
        let mut seen = self.reasons.lock().unwrap_or_else(|e| e.into_inner());
        if !seen.iter().any(|s| s == why) {
            seen.push(why.to_string());
        }
    }

    /// A line after libtest's summary with the count and each distinct reason, on stderr
    /// (stdout stays libtest's, e.g. for `--format json`).
    fn report(&self) {
        let n = self.count.load(Ordering::Relaxed);
        if n == 0 {
            return;
        }
        let seen = self.reasons.lock().unwrap_or_else(|e| e.into_inner());
        eprintln!(
            "note: {n} test(s) skipped (reported as ignored): {}",
            seen.join("; ")
        );
        eprintln!();
    }
}
