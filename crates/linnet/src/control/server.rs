//! The daemon side of the control socket.
//!
//! Linux: the rtnetlink socket in the kernel (`rtnetlink_rcv`), with its permission check
//! (`netlink_ns_capable`): here, only root or the daemon's own user may connect.
//!
//! The control plane cannot be knocked over by its own clients:
//! - at most [`ServeConfig::max_clients`] connections, of which a non-root user may hold
//!   [`ServeConfig::max_per_uid`] and never the last [`ServeConfig::root_reserved`] (kept
//!   for root, so an administrator can always get in);
//! - a connection idle for [`ServeConfig::idle_timeout`] between requests is closed, and when
//!   the table is full a newcomer takes the place of the longest-idle connection it may
//!   displace (idle at least [`ServeConfig::evict_after`]; those holding sockets last);
//! - the ping sockets a connection opens belong to it (another connection's are `EBADF`), at
//!   most [`ServeConfig::max_pings`] of them, and are closed when it goes, as a process's
//!   sockets are closed when it exits.

use super::{handle, Envelope, Request, Response, MAX_REQUEST, VERSION};
use crate::runtime::Handle;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Limits of the control server.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Connections served at once.
    pub max_clients: usize,
    /// Connections one non-root user may hold.
    pub max_per_uid: usize,
    /// Connections only root may take.
    pub root_reserved: usize,
    /// A connection with no request for this long is closed (not while it streams).
    pub idle_timeout: Duration,
    /// A connection idle this long may be displaced by a newcomer when the table is full.
    pub evict_after: Duration,
    /// Ping sockets one connection may hold open.
    pub max_pings: usize,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            max_clients: 64,
            max_per_uid: 16,
            root_reserved: 4,
            idle_timeout: Duration::from_secs(30),
            evict_after: Duration::from_secs(1),
            max_pings: 16,
        }
    }
}

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

/// Prepare `path` for binding: refuse anything there but a stale socket (a live one is
/// another daemon's), and refuse a missing directory unless `create_dir` allows making it.
pub fn prepare_path(path: &Path, create_dir: bool) -> io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        match std::fs::metadata(dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{} is not a directory", dir.display()),
                ))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound && create_dir => {
                std::fs::create_dir_all(dir)?;
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))?;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!(
                        "directory {} does not exist (create it, or pass --mkdir)",
                        dir.display()
                    ),
                ))
            }
            Err(e) => return Err(e),
        }
    }
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
        Ok(m) if !m.file_type().is_socket() => Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!(
                "{} exists and is not a socket; not replacing it",
                path.display()
            ),
        )),
        Ok(_) => {
            if UnixStream::connect(path).is_ok() {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!("{} is served by a running daemon", path.display()),
                ));
            }
            // A stale socket left by a daemon that died.
            std::fs::remove_file(path)
        }
    }
}

/// Bind the control socket at `path` (mode 0660, replacing only a stale socket; the
/// directory is created if missing) and serve it with the default limits.
pub fn serve(path: &Path, stack: Handle) -> io::Result<std::thread::JoinHandle<()>> {
    prepare_path(path, true)?;
    serve_with(path, stack, ServeConfig::default())
}

/// One admitted connection, as the table sees it.
struct Slot {
    id: u64,
    uid: u32,
    /// A handle to shut the connection down when it is displaced.
    conn: UnixStream,
    /// When its last request was answered (or it connected).
    idle_since: Instant,
    /// Handling a request or streaming: never idle.
    busy: bool,
    /// Holds sockets (a `linnet ping` between two echoes): displaced only after those that
    /// hold none.
    holds: bool,
}

/// The table of admitted connections.
struct Clients {
    cfg: ServeConfig,
    slots: Mutex<Vec<Slot>>,
    /// When a refusal or displacement was last logged (at most one line a second, so a
    /// client cannot flood the log).
    logged: Mutex<Option<Instant>>,
}

impl Clients {
    fn new(cfg: ServeConfig) -> Clients {
        Clients {
            cfg,
            slots: Mutex::new(Vec::new()),
            logged: Mutex::new(None),
        }
    }

    /// Whether a log line may be written now. Linux: `net_ratelimit`.
    fn ratelimit(&self) -> bool {
        let mut last = self.logged.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if last.is_some_and(|t| now.duration_since(t) < Duration::from_secs(1)) {
            return false;
        }
        *last = Some(now);
        true
    }

    /// Admit a connection from `uid`, displacing an idle one if the table is full; `None`
    /// with the reason when it cannot be admitted.
    fn admit(&self, id: u64, uid: u32, conn: &UnixStream) -> Result<(), &'static str> {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let cfg = &self.cfg;
        let mine = slots.iter().filter(|s| s.uid == uid).count();
        let limit_hit = if uid != 0 && mine >= cfg.max_per_uid {
            Some("too many control connections for this user")
        } else if uid != 0 && slots.len() >= cfg.max_clients.saturating_sub(cfg.root_reserved)
            || slots.len() >= cfg.max_clients
        {
            Some("too many control connections")
        } else {
            None
        };
        if let Some(why) = limit_hit {
            // Root may displace anyone idle; a user only their own idle connections (so a
            // user at the limit makes room among theirs, and cannot displace root).
            let victim = slots
                .iter()
                .enumerate()
                .filter(|(_, s)| !s.busy && now.duration_since(s.idle_since) >= cfg.evict_after)
                .filter(|(_, s)| uid == 0 || s.uid == uid)
                .min_by_key(|(_, s)| (s.holds, s.idle_since))
                .map(|(i, _)| i);
            let Some(i) = victim else {
                return Err(why);
            };
            let old = slots.swap_remove(i);
            if self.ratelimit() {
                tracing::info!(
                    uid = old.uid,
                    "control: closing an idle connection to admit a new one ({why})"
                );
            }
            let _ = old.conn.shutdown(std::net::Shutdown::Both);
        }
        let conn = conn
            .try_clone()
            .map_err(|_| "cannot track the connection")?;
        slots.push(Slot {
            id,
            uid,
            conn,
            idle_since: now,
            busy: false,
            holds: false,
        });
        Ok(())
    }

    /// A request starts (`busy`) or ends, leaving the connection holding sockets or not.
    fn set_busy(&self, id: u64, busy: bool, holds: bool) {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = slots.iter_mut().find(|s| s.id == id) {
            s.busy = busy;
            s.holds = holds;
            s.idle_since = Instant::now();
        }
    }

    fn remove(&self, id: u64) {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots.retain(|s| s.id != id);
    }
}

/// Bind the control socket at `path` (already checked by [`prepare_path`]), mode 0660, and
/// serve it on a background thread with the limits of `cfg`.
pub fn serve_with(
    path: &Path,
    stack: Handle,
    cfg: ServeConfig,
) -> io::Result<std::thread::JoinHandle<()>> {
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))?;
    // SAFETY: geteuid cannot fail.
    let my_uid = unsafe { libc::geteuid() };
    let clients = Arc::new(Clients::new(cfg));
    std::thread::Builder::new()
        .name("linnet-control".into())
        .spawn(move || {
            let mut next_id = 0u64;
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let uid = match peer_uid(&conn) {
                    Ok(uid) if uid == 0 || uid == my_uid => uid,
                    _ => {
                        let _ = reply(&conn, &refusal("permission denied"));
                        continue;
                    }
                };
                next_id += 1;
                let id = next_id;
                if let Err(why) = clients.admit(id, uid, &conn) {
                    if clients.ratelimit() {
                        tracing::warn!(uid, "control: refused a connection: {why}");
                    }
                    let _ = reply(&conn, &refusal(why));
                    continue;
                }
                let (stack, clients2) = (stack.clone(), clients.clone());
                let spawned = std::thread::Builder::new()
                    .name("linnet-control-conn".into())
                    .spawn(move || {
                        let mut owner = Owner {
                            stack: &stack,
                            pings: Vec::new(),
                        };
                        let _ = serve_conn(conn, &stack, &clients2, id, &mut owner);
                        clients2.remove(id);
                    });
                if spawned.is_err() {
                    clients.remove(id);
                }
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

/// The sockets a control connection made, closed when it goes. Linux: the file table of a
/// process, released by `exit_files`.
struct Owner<'a> {
    stack: &'a Handle,
    /// (IPv6, identifier) of each ping socket.
    pings: Vec<(bool, u16)>,
}

impl Drop for Owner<'_> {
    fn drop(&mut self) {
        if self.pings.is_empty() {
            return;
        }
        let pings = std::mem::take(&mut self.pings);
        let _ = self.stack.call(move |s, _| {
            for (v6, ident) in pings {
                let _ = if v6 {
                    s.ping6_close(ident)
                } else {
                    s.ping_close(ident)
                };
            }
        });
    }
}

fn ebadf() -> Response {
    super::errno_response(crate::Errno::EBADF)
}

/// Carry out one request for its connection: ping sockets are checked against, and recorded
/// in, the connection's own.
fn owned_request(owner: &mut Owner, max_pings: usize, req: Request) -> io::Result<Response> {
    use super::ip6::{Ip6Request, Ip6Response};
    let ident = match &req {
        Request::PingSend { ident, .. }
        | Request::PingRecv { ident }
        | Request::PingClose { ident } => Some((false, *ident)),
        Request::Ip6(
            Ip6Request::PingSend { ident, .. }
            | Ip6Request::PingRecv { ident }
            | Ip6Request::PingClose { ident },
        ) => Some((true, *ident)),
        _ => None,
    };
    if let Some(ident) = ident {
        if !owner.pings.contains(&ident) {
            return Ok(ebadf());
        }
    }
    let opening = matches!(req, Request::PingOpen | Request::Ip6(Ip6Request::PingOpen));
    if opening && owner.pings.len() >= max_pings {
        return Ok(Response::Error {
            errno: Some(libc::EMFILE),
            message: format!(
                "too many ping sockets on one control connection (at most {max_pings})"
            ),
        });
    }
    let closing = matches!(
        req,
        Request::PingClose { .. } | Request::Ip6(Ip6Request::PingClose { .. })
    );
    let resp = owner.stack.call(move |s, now| handle(s, req, now))?;
    match (&resp, ident) {
        (Response::PingOpened { ident }, _) => owner.pings.push((false, *ident)),
        (Response::Ip6(Ip6Response::PingOpened { ident }), _) => owner.pings.push((true, *ident)),
        (Response::Ok, Some(ident)) if closing => owner.pings.retain(|&i| i != ident),
        _ => {}
    }
    Ok(resp)
}

/// Serve one connection: a request per line, a response per line.
fn serve_conn(
    conn: UnixStream,
    stack: &Handle,
    clients: &Clients,
    id: u64,
    owner: &mut Owner,
) -> io::Result<()> {
    conn.set_read_timeout(Some(clients.cfg.idle_timeout))?;
    // A client that stops reading its answers (or a stream) does not hold a thread forever.
    conn.set_write_timeout(Some(clients.cfg.idle_timeout))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = match (&mut reader)
            .take(MAX_REQUEST as u64 + 1)
            .read_until(b'\n', &mut line)
        {
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                let _ = reply(
                    &conn,
                    &Response::Error {
                        errno: Some(libc::ETIMEDOUT),
                        message: "idle control connection closed".into(),
                    },
                );
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        if n == 0 {
            return Ok(());
        }
        if line.len() > MAX_REQUEST {
            return reply(
                &conn,
                &Response::Error {
                    errno: Some(libc::EMSGSIZE),
                    message: "request too long".into(),
                },
            );
        }
        clients.set_busy(id, true, !owner.pings.is_empty());
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
            Ok(env) => owned_request(owner, clients.cfg.max_pings, env.body).unwrap_or_else(|e| {
                Response::Error {
                    errno: None,
                    message: e.to_string(),
                }
            }),
            Err(e) => Response::Error {
                errno: Some(libc::EINVAL),
                message: format!("bad request: {e}"),
            },
        };
        reply(&conn, &resp)?;
        clients.set_busy(id, false, !owner.pings.is_empty());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (UnixStream, UnixStream) {
        UnixStream::pair().unwrap()
    }

    fn clients(cfg: ServeConfig) -> Clients {
        Clients::new(cfg)
    }

    #[test]
    fn users_are_limited_and_root_keeps_its_reserved_slots() {
        let c = clients(ServeConfig {
            max_clients: 6,
            max_per_uid: 3,
            root_reserved: 2,
            evict_after: Duration::from_secs(3600),
            ..ServeConfig::default()
        });
        let mut keep = Vec::new();
        let mut id = 0;
        let mut admit = |uid: u32| {
            id += 1;
            let (a, b) = pair();
            let r = c.admit(id, uid, &a);
            keep.push((a, b));
            r
        };
        for _ in 0..3 {
            admit(1000).unwrap();
        }
        assert_eq!(
            admit(1000),
            Err("too many control connections for this user")
        );
        admit(1001).unwrap();
        // Four of six taken: the last two are root's.
        assert_eq!(admit(1002), Err("too many control connections"));
        admit(0).unwrap();
        admit(0).unwrap();
        assert_eq!(admit(0), Err("too many control connections"));
    }

    #[test]
    fn a_newcomer_displaces_the_longest_idle_connection() {
        let c = clients(ServeConfig {
            max_clients: 2,
            max_per_uid: 2,
            root_reserved: 0,
            evict_after: Duration::ZERO,
            ..ServeConfig::default()
        });
        let (a, mut a_peer) = pair();
        let (b, _b_peer) = pair();
        let (d, _d_peer) = pair();
        c.admit(1, 0, &a).unwrap();
        c.admit(2, 0, &b).unwrap();
        // The second is busy: only the first may go.
        c.set_busy(2, true, false);
        c.admit(3, 0, &d).unwrap();
        let ids: Vec<u64> = c.slots.lock().unwrap().iter().map(|s| s.id).collect();
        assert!(
            ids.contains(&2) && ids.contains(&3) && !ids.contains(&1),
            "{ids:?}"
        );
        // The displaced connection was shut down: its peer reads end-of-file.
        let mut buf = [0u8; 1];
        assert_eq!(a_peer.read(&mut buf).unwrap(), 0);
        // Nobody idle any more: a fourth is refused.
        c.set_busy(3, true, false);
        let (e, _e_peer) = pair();
        assert!(c.admit(4, 0, &e).is_err());
    }

    #[test]
    fn connections_holding_sockets_are_displaced_last() {
        let c = clients(ServeConfig {
            max_clients: 2,
            max_per_uid: 2,
            root_reserved: 0,
            evict_after: Duration::ZERO,
            ..ServeConfig::default()
        });
        let (a, _a_peer) = pair();
        let (b, _b_peer) = pair();
        c.admit(1, 0, &a).unwrap();
        c.admit(2, 0, &b).unwrap();
        // The older one holds a ping socket: the newer, holding nothing, goes instead.
        c.set_busy(1, false, true);
        std::thread::sleep(Duration::from_millis(5));
        c.set_busy(2, false, false);
        let (d, _d_peer) = pair();
        c.admit(3, 0, &d).unwrap();
        let ids: Vec<u64> = c.slots.lock().unwrap().iter().map(|s| s.id).collect();
        assert!(ids.contains(&1) && !ids.contains(&2), "{ids:?}");
    }

    #[test]
    fn only_a_stale_socket_is_replaced() {
        let dir = std::env::temp_dir().join(format!("linnet-ctl-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        // A missing directory is refused unless asked for.
        let path = dir.join("sub").join("d.sock");
        let e = prepare_path(&path, false).unwrap_err();
        assert!(e.to_string().contains("does not exist"), "{e}");
        assert!(!dir.exists());
        prepare_path(&path, true).unwrap();
        assert!(path.parent().unwrap().is_dir());
        // A regular file is kept.
        let file = dir.join("file");
        std::fs::write(&file, b"keep me").unwrap();
        let e = prepare_path(&file, false).unwrap_err();
        assert!(e.to_string().contains("not a socket"), "{e}");
        assert_eq!(std::fs::read(&file).unwrap(), b"keep me");
        // A live socket is someone's: refused. A stale one is removed.
        let live = dir.join("live.sock");
        let l = UnixListener::bind(&live).unwrap();
        assert_eq!(
            prepare_path(&live, false).unwrap_err().kind(),
            io::ErrorKind::AddrInUse
        );
        drop(l);
        prepare_path(&live, false).unwrap();
        assert!(!live.exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
