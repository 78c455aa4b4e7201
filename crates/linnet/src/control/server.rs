//! The daemon side of the control socket.
//!
//! Linux: the rtnetlink socket in the kernel (`rtnetlink_rcv`), with its permission check
//! (`netlink_ns_capable`): here, only root or the daemon's own user may connect.

use super::{handle, Envelope, Request, Response, MAX_LINE, VERSION};
use crate::runtime::Handle;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Connections served at once.
const MAX_CLIENTS: usize = 32;

/// The uid of a Unix socket peer. Linux: `SO_PEERCRED`.
fn peer_uid(s: &UnixStream) -> io::Result<u32> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `cred`, a valid ucred.
    let r = unsafe {
        libc::getsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            &mut cred as *mut libc::ucred as *mut libc::c_void,
            &mut len,
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(cred.uid)
}

/// Bind the control socket at `path` (mode 0660, replacing a stale one) and serve it on a
/// background thread.
pub fn serve(path: &Path, stack: Handle) -> io::Result<std::thread::JoinHandle<()>> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    if path.exists() {
        if UnixStream::connect(path).is_ok() {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                format!("{} is served by a running daemon", path.display()),
            ));
        }
        std::fs::remove_file(path)?;
    }
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))?;
    // SAFETY: geteuid cannot fail.
    let my_uid = unsafe { libc::geteuid() };
    let active = Arc::new(AtomicUsize::new(0));
    std::thread::Builder::new()
        .name("linnet-control".into())
        .spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                match peer_uid(&conn) {
                    Ok(uid) if uid == 0 || uid == my_uid => {}
                    _ => {
                        let _ = reply(&conn, &refusal("permission denied"));
                        continue;
                    }
                }
                if active.load(Ordering::SeqCst) >= MAX_CLIENTS {
                    let _ = reply(&conn, &refusal("too many control connections"));
                    continue;
                }
                active.fetch_add(1, Ordering::SeqCst);
                let (stack, active) = (stack.clone(), active.clone());
                let _ = std::thread::Builder::new()
                    .name("linnet-control-conn".into())
                    .spawn(move || {
                        let _ = serve_conn(conn, &stack);
                        active.fetch_sub(1, Ordering::SeqCst);
                    });
            }
        })
}

fn refusal(msg: &str) -> Response {
    Response::Error {
        errno: Some(libc::EPERM),
        message: msg.to_string(),
    }
}

fn reply(mut conn: &UnixStream, resp: &Response) -> io::Result<()> {
    let mut line = serde_json::to_vec(&Envelope {
        version: VERSION,
        body: resp,
    })
    .map_err(io::Error::other)?;
    line.push(b'\n');
    conn.write_all(&line)
}

/// Serve one connection: a request per line, a response per line.
fn serve_conn(conn: UnixStream, stack: &Handle) -> io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = (&mut reader)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line)?;
        if n == 0 {
            return Ok(());
        }
        if line.len() > MAX_LINE {
            return reply(
                &conn,
                &Response::Error {
                    errno: Some(libc::EMSGSIZE),
                    message: "request too long".into(),
                },
            );
        }
        let resp = match serde_json::from_slice::<Envelope<Request>>(&line) {
            Ok(env) if env.version != VERSION => Response::Error {
                errno: Some(libc::EPROTO),
                message: format!(
                    "control protocol version {} not supported (daemon speaks {VERSION})",
                    env.version
                ),
            },
            Ok(env) if super::stream::is_stream(&env.body) => {
                return super::stream::serve_stream(&conn, stack, env.body)
            }
            Ok(env) => stack
                .call(move |s, now| handle(s, env.body, now))
                .unwrap_or_else(|e| Response::Error {
                    errno: None,
                    message: e.to_string(),
                }),
            Err(e) => Response::Error {
                errno: Some(libc::EINVAL),
                message: format!("bad request: {e}"),
            },
        };
        reply(&conn, &resp)?;
    }
}
