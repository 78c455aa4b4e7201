//! `linnet tc`: traffic control of a running linnetd, in tc(8)'s words:
//! `tc [-s] [-j] [-p] qdisc|class|filter add|change|replace|del|show ...`.
//! tc's words are read here (`linnet-tools`, as iproute2's tc) into typed changes for the
//! daemon; `show` output is printed as tc prints it (`-s` adds the counters).

use crate::Failure;
use linnet::qdisc::tc::{TcChange, TcObject, TcReply};
use linnet::qdisc::units::{fmt_handle, ROOT_HANDLE};
use linnet::qdisc::TcError;
use linnet::Client;
use linnet::{Request, Response};
use linnet_tools::tc::f_u32::print_filter;
use linnet_tools::tc::format::{
    format_classes, format_filters, format_qdiscs, print_class_opt, print_qdisc_opt,
};
use linnet_tools::tc::Backend;
use serde_json::{json, Value};

/// tc's global options.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Opts {
    /// `-s`: counters.
    pub stats: bool,
    /// `-j`: JSON.
    pub json: bool,
    /// `-p`: pretty JSON.
    pub pretty: bool,
}

/// Split the global options from the command words.
pub fn parse(words: &[String]) -> Result<(Opts, Vec<String>), Failure> {
    let mut o = Opts::default();
    let mut i = 0;
    while let Some(w) = words.get(i).filter(|w| w.starts_with('-')) {
        match w.trim_start_matches('-') {
            "s" | "stats" | "statistics" => o.stats = true,
            "j" | "json" => o.json = true,
            "p" | "pretty" => o.pretty = true,
            "d" | "details" => {}
            "js" | "sj" => {
                o.json = true;
                o.stats = true;
            }
            _ => return Err(Failure(format!("tc: unknown option \"{w}\""), 1)),
        }
        i += 1;
    }
    let rest = words[i..].to_vec();
    if rest.is_empty() {
        return Err(Failure(
            "usage: tc [-s] [-j] qdisc|class|filter add|change|replace|del|show ...".into(),
            1,
        ));
    }
    Ok((o, rest))
}

fn stats_json(s: &linnet::qdisc::QdiscStats) -> Value {
    json!({
        "bytes": s.bytes,
        "packets": s.packets,
        "drops": s.drops,
        "overlimits": s.overlimits,
        "requeues": s.requeues,
        "backlog": s.backlog_bytes,
        "qlen": s.qlen,
    })
}

/// The reply as tc's JSON (`-j`).
pub fn to_json(reply: &TcReply, stats: bool) -> Value {
    let with_stats = |mut v: Value, s: &linnet::qdisc::QdiscStats| {
        if stats {
            if let (Value::Object(m), Value::Object(st)) = (&mut v, stats_json(s)) {
                m.extend(st);
            }
        }
        v
    };
    match reply {
        TcReply::Done => json!([]),
        TcReply::Qdiscs(list) => Value::Array(
            list.iter()
                .map(|q| {
                    let mut v = json!({
                        "kind": q.kind,
                        "handle": if q.handle == 0 { "0:".into() } else { fmt_handle(q.handle) },
                        "dev": q.dev,
                        "options": q.options.as_ref().map(print_qdisc_opt).unwrap_or_default(),
                    });
                    if q.parent == ROOT_HANDLE {
                        v["root"] = json!(true);
                    } else {
                        v["parent"] = json!(fmt_handle(q.parent));
                    }
                    with_stats(v, &q.stats)
                })
                .collect(),
        ),
        TcReply::Classes(list) => Value::Array(
            list.iter()
                .map(|c| {
                    let v = json!({
                        "class": c.kind,
                        "handle": fmt_handle(c.class.classid),
                        "parent": fmt_handle(c.class.parent),
                        "leaf": c.class.leaf.filter(|&l| l != 0).map(fmt_handle),
                        "options": c.class.opts.as_ref().map(print_class_opt).unwrap_or_default(),
                    });
                    with_stats(v, &c.class.stats)
                })
                .collect(),
        ),
        TcReply::Filters(list) => Value::Array(
            list.iter()
                .map(|f| {
                    json!({
                        "parent": fmt_handle(f.parent),
                        "dev": f.dev,
                        "pref": f.filter.prio,
                        "classid": fmt_handle(f.filter.classid),
                        "options": print_filter(&f.filter),
                    })
                })
                .collect(),
        ),
    }
}

/// A daemon's tc, through its control socket; a transport failure is kept aside so that it
/// keeps its own exit status.
struct Daemon {
    client: Client,
    lost: Option<Failure>,
}

impl Daemon {
    fn call(&mut self, req: Request) -> Result<Response, TcError> {
        match self.client.call(req) {
            Ok(Response::Error { message, .. }) => Err(TcError(message)),
            Ok(r) => Ok(r),
            Err(e) => {
                let f = Failure::from(e);
                let e = TcError(f.0.clone());
                self.lost = Some(f);
                Err(e)
            }
        }
    }
}

impl Backend for Daemon {
    fn tc_change(&mut self, c: TcChange) -> Result<(), TcError> {
        match self.call(Request::TcChange {
            change: Box::new(c),
        })? {
            Response::Ok => Ok(()),
            other => Err(TcError(format!("unexpected reply {other:?}"))),
        }
    }

    fn tc_show(&mut self, object: TcObject, dev: Option<String>) -> Result<TcReply, TcError> {
        match self.call(Request::TcShow { object, dev })? {
            Response::Tc { reply } => Ok(reply),
            other => Err(TcError(format!("unexpected reply {other:?}"))),
        }
    }
}

/// Run `tc` with the words after it: tc's words are read here, the daemon gets typed
/// changes and answers with typed lists, printed as tc prints them.
pub fn run(words: &[String], connect: impl Fn() -> Result<Client, Failure>) -> Result<u8, Failure> {
    let (o, args) = parse(words)?;
    let mut d = Daemon {
        client: connect()?,
        lost: None,
    };
    let reply = match linnet_tools::tc::do_command(&mut d, &args) {
        Ok(r) => r,
        Err(e) => return Err(d.lost.take().unwrap_or(Failure(e.0, 2))),
    };
    if reply == TcReply::Done {
        return Ok(0);
    }
    if o.json {
        let v = to_json(&reply, o.stats);
        let s = if o.pretty {
            serde_json::to_string_pretty(&v)?
        } else {
            serde_json::to_string(&v)?
        };
        println!("{s}");
    } else {
        let s = match &reply {
            TcReply::Qdiscs(q) => format_qdiscs(q, o.stats),
            TcReply::Classes(c) => format_classes(c, o.stats),
            TcReply::Filters(f) => format_filters(f),
            TcReply::Done => String::new(),
        };
        print!("{s}");
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use linnet::qdisc::tc::QdiscInfo;

    fn w(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn options_then_words() {
        let (o, rest) = parse(&w("-s -j qdisc show dev eth0")).unwrap();
        assert_eq!(
            o,
            Opts {
                stats: true,
                json: true,
                pretty: false
            }
        );
        assert_eq!(rest, w("qdisc show dev eth0"));
        assert!(parse(&w("-x qdisc")).unwrap_err().0.contains("\"-x\""));
        assert!(parse(&w("-s")).is_err());
    }

    #[test]
    fn json_like_tc() {
        let q = QdiscInfo {
            dev: "eth0".into(),
            kind: "netem".into(),
            handle: 0x8001_0000,
            parent: ROOT_HANDLE,
            options: Some(linnet::qdisc::QdiscOpt::Netem(
                linnet::qdisc::opt::NetemOpt {
                    latency: 50_000,
                    ..Default::default()
                },
            )),
            stats: linnet::qdisc::QdiscStats {
                bytes: 100,
                packets: 1,
                ..Default::default()
            },
            xstats: None,
        };
        let v = to_json(&TcReply::Qdiscs(vec![q]), true);
        assert_eq!(v[0]["kind"], "netem");
        assert_eq!(v[0]["handle"], "8001:");
        assert_eq!(v[0]["root"], true);
        assert_eq!(v[0]["options"], "limit 1000 delay 50ms");
        assert_eq!(v[0]["bytes"], 100);
        assert_eq!(v[0]["packets"], 1);
    }
}
