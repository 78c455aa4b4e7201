//! The documents follow the tree: README's layout table names every crate and every
//! directory of the library, and every file README.md and docs/walkthrough.md name exists.
//! A file moved or renamed without its documents fails here.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every file of the repository (relative paths), build output and VCS data left out, and of
/// ../shared/packetdrill (the TCP suite the documents quote scripts of), where it is.
fn files() -> Vec<String> {
    let mut out = files_under(&repo());
    // $PACKETDRILL_SRC, else ../shared beside the clone (CI), ../../shared beside a worktree,
    // as the packetdrill suite's test looks for it.
    let env = std::env::var("PACKETDRILL_SRC").ok().map(PathBuf::from);
    let shared = env.into_iter().chain(
        ["../shared/packetdrill", "../../shared/packetdrill"]
            .iter()
            .map(|p| repo().join(p)),
    );
    if let Some(dir) = shared.into_iter().find(|d| d.is_dir()) {
        out.extend(
            files_under(&dir)
                .into_iter()
                .map(|f| format!("packetdrill/{f}")),
        );
    }
    out
}

fn files_under(root: &Path) -> Vec<String> {
    let root = root.to_path_buf();
    let mut out = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if name == "target" || name == ".git" || name == "node_modules" {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(rel) = p.strip_prefix(&root) {
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    out
}

/// The backticked words of `text` that look like file paths (`ip/input.rs`, `crates/x/y.rs`).
fn path_mentions(text: &str) -> BTreeSet<String> {
    let exts = [".rs", ".sh", ".py", ".toml", ".pkt", ".txt"];
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter(|w| {
            !w.is_empty()
                && w.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_./-".contains(c))
                && exts.iter().any(|e| w.ends_with(e))
                && !w.starts_with('/')
                && !w.contains("..")
        })
        .map(str::to_owned)
        .collect()
}

fn exists(files: &[String], mention: &str) -> bool {
    if mention.starts_with("crates/")
        || mention.starts_with("scripts/")
        || mention.starts_with("docs/")
    {
        return files.iter().any(|f| f == mention);
    }
    if mention.contains('/') {
        let suffix = format!("/{mention}");
        return files.iter().any(|f| f.ends_with(&suffix) || f == mention);
    }
    files.iter().any(|f| f.rsplit('/').next() == Some(mention))
}

#[test]
fn files_named_in_the_documents_exist() {
    let files = files();
    let mut missing = Vec::new();
    for doc in ["README.md", "docs/walkthrough.md"] {
        let text = std::fs::read_to_string(repo().join(doc)).expect(doc);
        let have_suite = files.iter().any(|f| f.starts_with("packetdrill/"));
        for m in path_mentions(&text) {
            // Without packetdrill's sources here, its scripts cannot be checked.
            let suite_file = m.ends_with(".pkt") || m.ends_with(".py");
            if !exists(&files, &m) && (have_suite || !suite_file) {
                missing.push(format!("{doc}: `{m}`"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "files named in the documents but not in the tree (moved or renamed? update the document):\n{}",
        missing.join("\n")
    );
}

/// The rows of README's "## Layout" table: the backticked paths of the first column.
fn layout_rows(readme: &str) -> Vec<String> {
    let table = readme
        .split("\n## Layout")
        .nth(1)
        .expect("README has a ## Layout section");
    let table = table.split("\n## ").next().unwrap_or(table);
    table
        .lines()
        .filter(|l| l.starts_with("| `"))
        .flat_map(|l| {
            let first = l.split('|').nth(1).unwrap_or("");
            first
                .split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn readme_layout_table_matches_the_tree() {
    let root = repo();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let rows = layout_rows(&readme);
    assert!(rows.len() > 10, "layout table not found: {rows:?}");
    for r in &rows {
        assert!(
            root.join(r.trim_end_matches('/')).exists(),
            "README's layout table names `{r}`, which is not in the tree"
        );
    }
    let covered = |p: &str| rows.iter().any(|r| r.trim_end_matches('/') == p);
    let mut unlisted = Vec::new();
    for e in std::fs::read_dir(root.join("crates")).unwrap().flatten() {
        if e.path().join("Cargo.toml").exists() {
            let p = format!("crates/{}", e.file_name().to_string_lossy());
            let sub = format!("{p}/");
            if !covered(&p) && !rows.iter().any(|r| r.starts_with(&sub)) {
                unlisted.push(p);
            }
        }
    }
    for e in std::fs::read_dir(root.join("crates/linnet/src"))
        .unwrap()
        .flatten()
    {
        if e.path().is_dir() {
            let p = format!("crates/linnet/src/{}", e.file_name().to_string_lossy());
            // A directory may be covered by rows of its own subdirectories.
            let sub = format!("{p}/");
            if !covered(&p) && !rows.iter().any(|r| r.starts_with(&sub)) {
                unlisted.push(p);
            }
        }
    }
    assert!(
        unlisted.is_empty(),
        "not in README's layout table (add a row saying what it is and its Linux counterpart): {unlisted:?}"
    );
}

#[test]
fn the_checks_can_fail() {
    let files = vec!["crates/linnet/src/ip/input.rs".to_owned()];
    assert!(exists(&files, "ip/input.rs"));
    assert!(exists(&files, "input.rs"));
    assert!(!exists(&files, "ip/output.rs"));
    assert!(!exists(&files, "crates/linnet/src/input.rs"));
    let m = path_mentions("see `ip/input.rs` and `Stack::poll` and `crates/a b.rs` and `x.rs`");
    assert_eq!(
        m.into_iter().collect::<Vec<_>>(),
        vec!["ip/input.rs".to_owned(), "x.rs".to_owned()]
    );
    let rows = layout_rows(
        "x\n## Layout\n| path | what |\n|---|---|\n| `a/`, `b` | c |\n## Next\n| `z` | |\n",
    );
    assert_eq!(rows, vec!["a/".to_owned(), "b".to_owned()]);
}
