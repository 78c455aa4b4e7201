//! The control plane for netfilter: tables read and changed as typed rules, and the
//! conntrack listing. iptables's text (command lines, `-L`/`-S`, iptables-save and -restore)
//! stays with the client (`linnet-tools`), as iptables(8) keeps it in user space.
//!
//! Linux: the `IPT_SO_GET_ENTRIES` / `IPT_SO_SET_REPLACE` socket options iptables uses, and
//! ctnetlink's `IPCTNL_MSG_CT_GET` dump for `conntrack -L`.

use super::Response;
use crate::netfilter::change::TableChange;
use crate::netfilter::table::{Table, TableId};
use crate::stack::Stack;
use crate::time::Instant;

fn nf_done(r: Result<(), crate::netfilter::NfError>) -> Response {
    match r {
        Ok(()) => Response::Ok,
        Err(e) => Response::NfError {
            message: e.message,
            status: e.status,
        },
    }
}

/// A table with its counters and the tables' generation. Linux: `get_entries`.
pub(crate) fn get_table(stack: &Stack, id: TableId) -> Response {
    Response::NfTable {
        table: stack.netfilter().table(id).clone(),
        gen: stack.netfilter().generation(),
    }
}

/// One typed change. Linux: libiptc's change committed with `do_replace`.
pub(crate) fn change(
    stack: &mut Stack,
    id: TableId,
    gen: Option<u64>,
    c: &TableChange,
) -> Response {
    nf_done(stack.nf_change(id, gen, c))
}

/// Whole tables put in place. Linux: `do_replace`.
pub(crate) fn replace(stack: &mut Stack, tables: Vec<Table>) -> Response {
    nf_done(stack.nf_replace(tables))
}

/// `conntrack -L`.
pub(crate) fn conntrack_list(stack: &Stack, now: Instant) -> Response {
    Response::Conntrack {
        entries: stack.conntrack_list(now),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{handle, Request};
    use super::*;
    use crate::netfilter::matches::{proto, PortRange, RuleMatch};
    use crate::netfilter::table::{Counters, Rule};
    use crate::netfilter::targets::Target;

    fn ssh() -> Rule {
        Rule {
            m: RuleMatch {
                proto: Some((proto::TCP, false)),
                dport: Some((PortRange { lo: 22, hi: 22 }, false)),
                ..RuleMatch::default()
            },
            target: Target::Accept,
            counters: Counters::default(),
        }
    }

    /// A request as it travels: to JSON and back.
    fn wire(r: Request) -> Request {
        serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap()
    }

    #[test]
    fn typed_requests_and_their_errors() {
        let mut s = Stack::default();
        let get = |s: &mut Stack| match handle(
            s,
            wire(Request::NfGetTable {
                table: TableId::Filter,
            }),
            Instant::ZERO,
        ) {
            Response::NfTable { table, gen } => (table, gen),
            other => panic!("{other:?}"),
        };
        let (_, gen) = get(&mut s);
        let add = Request::NfChange {
            table: TableId::Filter,
            gen: Some(gen),
            change: Box::new(TableChange::Append {
                chain: "INPUT".into(),
                rule: ssh(),
            }),
        };
        assert_eq!(
            handle(&mut s, wire(add.clone()), Instant::ZERO),
            Response::Ok
        );
        let (t, _) = get(&mut s);
        assert_eq!(t.chains[0].rules, [ssh()]);
        // The same change against the old generation is refused, and changes nothing.
        assert_eq!(
            handle(&mut s, wire(add), Instant::ZERO),
            Response::NfError {
                message: "iptables: Resource temporarily unavailable.".into(),
                status: 4
            }
        );
        match handle(
            &mut s,
            wire(Request::NfChange {
                table: TableId::Filter,
                gen: None,
                change: Box::new(TableChange::DeleteNum {
                    chain: "NOPE".into(),
                    num: 1,
                }),
            }),
            Instant::ZERO,
        ) {
            Response::NfError { message, status } => {
                assert_eq!(status, 1);
                assert_eq!(message, "iptables: Chain 'NOPE' does not exist");
            }
            other => panic!("{other:?}"),
        }
        // Replace puts a table read from one stack into another.
        let mut t2 = Stack::default();
        let r = handle(
            &mut t2,
            wire(Request::NfReplace { tables: vec![t] }),
            Instant::ZERO,
        );
        assert_eq!(r, Response::Ok);
        assert_eq!(get(&mut t2).0, get(&mut s).0);
        assert_eq!(
            handle(&mut t2, Request::ConntrackList, Instant::ZERO),
            Response::Conntrack {
                entries: Vec::new()
            }
        );
        // They travel as JSON, the table by name.
        let j = serde_json::to_string(&Request::NfGetTable {
            table: TableId::Nat,
        })
        .unwrap();
        assert_eq!(j, r#"{"op":"nf_get_table","table":"nat"}"#);
    }
}
