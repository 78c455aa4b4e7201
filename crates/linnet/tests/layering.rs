//! The library's import graph, checked from its sources: no layer imports a layer above it,
//! and the per-layer state that `Stack` (Linux's `struct net`) is made of does not import
//! `Stack` back.
//!
//! Every `crate::…` path outside `#[cfg(test)] mod tests` and comments counts, whether in a
//! `use` or inline. Known exceptions are listed with the reason; an exception that no longer
//! occurs fails the test too, so the lists only shrink.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, lowest first. A module may import its own layer and those below it.
/// `stack` (the namespace, whose `impl Stack` blocks are the hand-offs between layers) is
/// governed by [`STACK_IMPORTERS`] instead.
const LAYERS: &[&[&str]] = &[
    // Formats, buffers, clocks, counters, socket identity, socket options and TCP states,
    // the trace sink.
    &[
        "wire", "buf", "time", "errno", "fasthash", "stats", "core", "trace",
    ],
    // The core side of devices and their egress queues.
    &["device", "qdisc"],
    // The drivers (TAP, AF_PACKET, the in-memory link), below everything that runs on them.
    &["driver"],
    // Ethernet, ARP, neighbours.
    &["link"],
    // IPv4 (IPv6 beside it) and the netfilter hooks inside it.
    &["ip", "ipv6", "netfilter"],
    // TCP, UDP, ping.
    &["transport"],
    // The socket calls.
    &["socket"],
    // Users of the stack: wrappers, the control protocol, drivers' threads, simulations.
    &["api", "control", "runtime", "sim"],
];

/// Files allowed to import a layer above their own: (file, module it imports, why).
/// None left: the GSO hand-offs go through the offload tables the upper layers fill when the
/// stack is built (device/offload.rs), and the route trace takes the decision's name.
const UPWARD_EXCEPTIONS: &[(&str, &str, &str)] = &[];

/// Files that import `crate::stack` (or `crate::Stack`/`crate::StackConfig`) although they
/// define no `impl Stack` block: (file, why).
const STACK_IMPORTERS: &[(&str, &str)] = &[
    ("api/blocking.rs", "the blocking API wraps a Stack"),
    ("api/tokio.rs", "the async API wraps a Stack"),
    ("control/mod.rs", "requests are served on a Stack"),
    ("control/ip6.rs", "requests are served on a Stack"),
    ("control/nf.rs", "requests are served on a Stack"),
    ("control/route.rs", "requests are served on a Stack"),
    ("control/stream.rs", "requests are served on a Stack"),
    (
        "control/sysctl.rs",
        "the sysctl table reads and writes a Stack's config",
    ),
    ("control/tcp_metrics.rs", "requests are served on a Stack"),
    ("runtime.rs", "the runtime drives a Stack"),
    ("sim.rs", "simulations drive Stacks"),
];

/// The state `Stack` is made of, layer by layer: none of it may import `crate::stack`, so
/// the namespace is built from the layers without a cycle through stack.rs.
const NETNS_STATE: &[&str] = &[
    "core/sock.rs",
    "device/gro.rs",
    "device/netns.rs",
    "device/offload.rs",
    "ip/netns.rs",
    "ip/fib.rs",
    "ip/rules.rs",
    "ip/rtcache.rs",
    "ipv6/netns.rs",
    "ipv6/route.rs",
    "ipv6/addrconf.rs",
    "link/neighbour.rs",
    "netfilter/table.rs",
    "netfilter/conntrack.rs",
    "trace/capture.rs",
    "transport/mod.rs",
];

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read src dir")
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The code of a file without its unit tests and comments.
fn code(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if line.trim() == "#[cfg(test)]"
            && lines.peek().is_some_and(|n| {
                let n = n.trim_start();
                n.strip_prefix("pub(crate) ")
                    .unwrap_or(n)
                    .starts_with("mod tests")
            })
        {
            break;
        }
        let line = line.split("//").next().unwrap_or("");
        out.push_str(line);
        out.push('\n');
    }
    out
}

fn ident(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The top-level modules a file's `crate::…` paths name (with the crate root's re-exports
/// mapped to their modules).
fn imports(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        let names: Vec<&str> = if let Some(group) = rest.strip_prefix('{') {
            // `crate::{a::X, b}`: the first segment of each item at the top level.
            let mut items = Vec::new();
            let (mut depth, mut start) = (0usize, 0usize);
            for (j, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        items.push(group[start..j].trim());
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        items.push(group[start..j].trim());
                        start = j + 1;
                    }
                    _ => {}
                }
            }
            items.into_iter().map(ident).collect()
        } else {
            vec![ident(rest)]
        };
        for n in names {
            let m = match n {
                "Stack" | "StackConfig" => "stack",
                "Instant" => "time",
                "Errno" => "errno",
                "" => continue,
                m => m,
            };
            out.insert(m.to_string());
        }
    }
    out
}

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

struct Graph {
    /// file (relative to src/) → modules it imports
    imports: BTreeMap<String, BTreeSet<String>>,
    /// files with an `impl Stack` block
    impl_stack: BTreeSet<String>,
}

fn graph() -> Graph {
    let root = src_dir();
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    let mut g = Graph {
        imports: BTreeMap::new(),
        impl_stack: BTreeSet::new(),
    };
    for p in files {
        let rel = p
            .strip_prefix(&root)
            .expect("under src")
            .to_string_lossy()
            .replace('\\', "/");
        let text = std::fs::read_to_string(&p).expect("read source");
        let code = code(&text);
        if code.lines().any(|l| l.starts_with("impl Stack {")) {
            g.impl_stack.insert(rel.clone());
        }
        g.imports.insert(rel, imports(&code));
    }
    g
}

fn module_of(file: &str) -> &str {
    file.split('/')
        .next()
        .expect("a path")
        .trim_end_matches(".rs")
}

/// Every (file, imported module) pair that reaches up a layer.
fn upward_imports(g: &Graph) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (file, deps) in &g.imports {
        let Some(own) = layer_of(module_of(file)) else {
            continue;
        };
        for d in deps {
            if let Some(l) = layer_of(d) {
                if l > own {
                    out.insert((file.clone(), d.clone()));
                }
            }
        }
    }
    out
}

#[test]
fn every_module_has_a_layer() {
    let g = graph();
    let unknown: BTreeSet<&str> = g
        .imports
        .keys()
        .map(|f| module_of(f))
        .filter(|m| !matches!(*m, "lib" | "stack") && layer_of(m).is_none())
        .collect();
    assert!(
        unknown.is_empty(),
        "modules without a layer in LAYERS: {unknown:?}"
    );
}

#[test]
fn no_layer_imports_a_layer_above_it() {
    let g = graph();
    let found = upward_imports(&g);
    let known: BTreeSet<(String, String)> = UPWARD_EXCEPTIONS
        .iter()
        .map(|(f, m, _)| (f.to_string(), m.to_string()))
        .collect();
    let new: Vec<_> = found.difference(&known).collect();
    assert!(
        new.is_empty(),
        "imports that reach up a layer (file, module): {new:?}"
    );
    let gone: Vec<_> = known.difference(&found).collect();
    assert!(
        gone.is_empty(),
        "exceptions that no longer occur, remove them from UPWARD_EXCEPTIONS: {gone:?}"
    );
}

#[test]
fn only_the_hand_offs_import_the_stack() {
    let g = graph();
    let found: BTreeSet<&str> = g
        .imports
        .iter()
        .filter(|(f, deps)| {
            deps.contains("stack") && !g.impl_stack.contains(*f) && *f != "stack.rs"
        })
        .map(|(f, _)| f.as_str())
        .collect();
    let known: BTreeSet<&str> = STACK_IMPORTERS.iter().map(|(f, _)| *f).collect();
    let new: Vec<_> = found.difference(&known).collect();
    assert!(
        new.is_empty(),
        "files that import crate::stack without extending impl Stack: {new:?}"
    );
    let gone: Vec<_> = known.difference(&found).collect();
    assert!(
        gone.is_empty(),
        "exceptions that no longer occur, remove them from STACK_IMPORTERS: {gone:?}"
    );
}

#[test]
fn the_namespace_state_does_not_import_the_stack() {
    let g = graph();
    for f in NETNS_STATE {
        let deps = g
            .imports
            .get(*f)
            .unwrap_or_else(|| panic!("{f} is listed in NETNS_STATE but does not exist"));
        assert!(
            !deps.contains("stack"),
            "{f} holds part of Stack's state and must not import crate::stack: {deps:?}"
        );
        assert!(
            !g.impl_stack.contains(*f),
            "{f} holds part of Stack's state and must not extend impl Stack"
        );
    }
}

#[test]
fn the_parser_sees_groups_inline_paths_and_skips_comments_and_tests() {
    let c = code(
        "use crate::{buf::PacketBuf, wire::{Ipv4Addr, EthernetAddress}};\n\
         fn f() -> crate::ip::IpMeta { todo!() } // crate::socket\n\
         /// [`crate::api`]\n\
         #[cfg(test)]\nmod tests {\n    use crate::Stack;\n}\n",
    );
    let got: Vec<String> = imports(&c).into_iter().collect();
    assert_eq!(got, ["buf", "ip", "wire"]);
    let c = code(
        "use crate::wire::X;\n#[cfg(test)]\npub(crate) mod tests {\n    use crate::ip::Y;\n}\n",
    );
    let got: Vec<String> = imports(&c).into_iter().collect();
    assert_eq!(got, ["wire"]);
}
