//! The control plane for netfilter: iptables command lines, iptables-save/-restore and the
//! conntrack listing. The daemon hands the argv to the library's parser, so a command's
//! errors read the same whether it came from the CLI, a test or the API.
//!
//! Linux: the `IPT_SO_SET_REPLACE` / `IPT_SO_GET_ENTRIES` socket options iptables uses, and
//! ctnetlink's `IPCTNL_MSG_CT_GET` dump for `conntrack -L`.

use super::Response;
use crate::stack::Stack;
use crate::time::Instant;

fn nf_error(e: crate::netfilter::NfError) -> Response {
    Response::NfError {
        message: e.message,
        status: e.status,
    }
}

/// `iptables ARGS...`: run it, answer with what it prints.
pub(crate) fn iptables(stack: &mut Stack, argv: &[String], now: Instant) -> Response {
    match stack.iptables(argv, now) {
        Ok(text) => Response::NfText { text },
        Err(e) => nf_error(e),
    }
}

/// `iptables-save [-t table]`.
pub(crate) fn iptables_save(stack: &Stack, table: Option<&str>) -> Response {
    match stack.iptables_save(table) {
        Ok(text) => Response::NfText { text },
        Err(e) => nf_error(e),
    }
}

/// `iptables-restore [--noflush]`.
pub(crate) fn iptables_restore(stack: &mut Stack, text: &str, noflush: bool) -> Response {
    match stack.iptables_restore(text, noflush) {
        Ok(()) => Response::Ok,
        Err(e) => nf_error(e),
    }
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

    #[test]
    fn iptables_requests_and_their_errors() {
        let mut s = Stack::default();
        let argv = |l: &str| l.split_whitespace().map(String::from).collect::<Vec<_>>();
        let r = handle(
            &mut s,
            Request::Iptables {
                argv: argv("-A INPUT -p tcp --dport 22 -j ACCEPT"),
            },
            Instant::ZERO,
        );
        assert_eq!(
            r,
            Response::NfText {
                text: String::new()
            }
        );
        match handle(
            &mut s,
            Request::Iptables {
                argv: argv("-S INPUT"),
            },
            Instant::ZERO,
        ) {
            Response::NfText { text } => assert_eq!(
                text,
                "-P INPUT ACCEPT\n-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n"
            ),
            other => panic!("{other:?}"),
        }
        match handle(
            &mut s,
            Request::Iptables {
                argv: argv("-A INPUT -j FOO"),
            },
            Instant::ZERO,
        ) {
            Response::NfError { message, status } => {
                assert_eq!(status, 2);
                assert!(message.contains("Couldn't load target `FOO'"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        let saved = match handle(&mut s, Request::IptablesSave { table: None }, Instant::ZERO) {
            Response::NfText { text } => text,
            other => panic!("{other:?}"),
        };
        let mut t = Stack::default();
        let r = handle(
            &mut t,
            Request::IptablesRestore {
                text: saved.clone(),
                noflush: false,
            },
            Instant::ZERO,
        );
        assert_eq!(r, Response::Ok);
        assert_eq!(t.iptables_save(None).unwrap(), saved);
        assert_eq!(
            handle(&mut t, Request::ConntrackList, Instant::ZERO),
            Response::Conntrack {
                entries: Vec::new()
            }
        );
        // They travel as JSON.
        let j = serde_json::to_string(&Request::Iptables { argv: argv("-L") }).unwrap();
        assert_eq!(j, r#"{"op":"iptables","argv":["-L"]}"#);
    }
}
