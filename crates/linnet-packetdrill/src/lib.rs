//! Linnet as a packetdrill shared object (`packetdrill --so_filename=liblinnet_packetdrill.so`).
//!
//! packetdrill drives a user-space stack through the table of
//! gtests/net/packetdrill/packetdrill.h: socket calls, a clock (`usleep`, `gettimeofday`) and a
//! device exchanging bare IP packets (`netdev_send`, `netdev_receive`). Here:
//! - the socket calls are [`linnet_posix`]'s C ABI over one [`Posix`] instance, driven
//!   externally: packetdrill's syscall thread blocks in them while its main thread moves the
//!   clock and injects packets;
//! - the clock is Linnet's virtual clock: `usleep` runs it forward (firing timers in order),
//!   `gettimeofday` moves it a small step per call (packetdrill spins on it before each event);
//! - the device ([`device`]) is a raw-IP link: packets from packetdrill get an Ethernet header
//!   on the way in, frames from the stack lose it on the way out, ARP is answered locally;
//!   `netdev_receive` with nothing queued runs virtual time to the stack's next timer;
//! - `net.ipv4.*` settings the script's shell lines write through the harness's `sysctl` shim
//!   are read from a directory ([`sysctl`]) before every socket call and applied.
//!
//! `--so_flags` (blank-separated `key=value`): `local_ip=`, `remote_ip=`, `prefix=` (netmask
//! length), `mtu=`, `sysctl=DIR` (else `$LINNET_SYSCTL_DIR`), `nstat=FILE` (else
//! `$LINNET_NSTAT_FILE`: the stack's counters for the harness's `nstat` shim, see [`nstat`]),
//! `procnet=DIR` (where to keep `tcp` and `tcp6` as `/proc/net` shows them, see [`procnet`]).

pub mod device;
pub mod iface;
pub mod nstat;
pub mod procnet;
pub mod route;
pub mod sysctl;
pub mod tc;

use device::RawIpDevice;
use libc::{
    c_char, c_int, c_long, c_ulong, c_void, iovec, msghdr, nfds_t, pollfd, sockaddr, socklen_t,
    ssize_t,
};
use linnet_posix::{cabi, Driven, Posix};
use std::ffi::CStr;
use std::net::Ipv4Addr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Where the virtual clock starts, as seconds since the epoch for `gettimeofday`.
const EPOCH_BASE_SECS: u64 = 1_700_000_000;
/// Linnet's clock at start (nonzero: Linnet takes 0 for "never").
const START_SECS: u64 = 100;
/// How far each `gettimeofday` moves the clock.
const GETTIMEOFDAY_STEP: Duration = Duration::from_micros(10);

/// Microseconds since the epoch of a virtual instant.
pub fn epoch_usecs(t: linnet::Instant) -> i64 {
    (EPOCH_BASE_SECS as i64) * 1_000_000 + t.total_micros() as i64 - (START_SECS as i64) * 1_000_000
}

/// The settings of one run, from `--so_flags`.
#[derive(Debug, Clone)]
pub struct Config {
    /// The stack's address (packetdrill's `--local_ip`).
    pub local_ip: Ipv4Addr,
    /// Its prefix length (from `--netmask_ip`).
    pub prefix: u8,
    /// packetdrill's address (`--remote_ip`).
    pub remote_ip: Ipv4Addr,
    /// Link MTU.
    pub mtu: usize,
    /// The directory the `sysctl` shim writes (standing for `/proc/sys/net/ipv4`).
    pub sysctl_dir: Option<String>,
    /// The directory standing for `/proc/net` (see [`procnet`]).
    pub procnet_dir: Option<String>,
    /// The file the stack's counters are kept in for the `nstat` shim.
    pub nstat_file: Option<String>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            local_ip: Ipv4Addr::new(192, 168, 0, 1),
            prefix: 16,
            remote_ip: Ipv4Addr::new(192, 0, 2, 1),
            mtu: 1500,
            sysctl_dir: std::env::var("LINNET_SYSCTL_DIR").ok(),
            procnet_dir: None,
            nstat_file: std::env::var("LINNET_NSTAT_FILE").ok(),
        }
    }
}

impl Config {
    /// Parse `--so_flags`.
    pub fn parse(flags: &str) -> Config {
        let mut c = Config::default();
        for kv in flags.split([' ', ',', ';']).filter(|s| !s.is_empty()) {
            let Some((k, v)) = kv.split_once('=') else {
                continue;
            };
            match k {
                "local_ip" => c.local_ip = v.parse().unwrap_or(c.local_ip),
                "remote_ip" => c.remote_ip = v.parse().unwrap_or(c.remote_ip),
                "prefix" => c.prefix = v.parse().unwrap_or(c.prefix),
                "netmask_ip" => {
                    if let Ok(m) = v.parse::<Ipv4Addr>() {
                        c.prefix = u32::from(m).count_ones() as u8;
                    }
                }
                "mtu" => c.mtu = v.parse().unwrap_or(c.mtu),
                "sysctl" => c.sysctl_dir = Some(v.to_string()),
                "procnet" => c.procnet_dir = Some(v.to_string()),
                "nstat" => c.nstat_file = Some(v.to_string()),
                _ => {}
            }
        }
        c
    }
}

/// One packetdrill run: the socket ABI instance and the device.
pub struct Instance {
    /// The socket ABI.
    pub posix: Posix,
    /// The raw-IP device.
    pub dev: RawIpDevice,
    /// `/proc/net/tcp` kept for the script's shell lines, if the harness asked.
    pub procnet: Option<std::sync::Arc<std::sync::Mutex<procnet::ProcNetDir>>>,
    /// Hands packetdrill's lock to a syscall thread whose blocking call was released.
    handoff: Handoff,
    /// The counters file of the `nstat` shim.
    nstat: Option<nstat::NstatFile>,
}

/// packetdrill's main thread holds its run lock except while it sleeps in `usleep`; a
/// blocking call that returns (on packetdrill's syscall thread) reads the clock and then
/// needs that lock to record its result (the accepted descriptor, the return value). Under
/// a real clock the sleeping main thread leaves it plenty of time; under ours `usleep`
/// returns at once, so the main thread could take the lock back and run the next events
/// (a `%{ }%` block on the accepted socket) as if the call had not returned. When a blocked
/// call was released, `usleep` therefore waits (real time, bounded) for its thread to read
/// the clock on its way to the lock, and yields a moment so it takes it.
struct Handoff {
    main: std::thread::ThreadId,
    /// `gettimeofday` calls from threads other than the main one (a blocking call ending).
    other_clock_reads: AtomicU64,
    /// `(Posix::woken_returns, other_clock_reads)` when `usleep` last handed off.
    seen: Mutex<(u64, u64)>,
}

/// Longest real time `usleep` waits for a released call's thread to read the clock.
const HANDOFF_MAX_WAIT: Duration = Duration::from_millis(100);
/// Real time left to a released call's thread to take packetdrill's lock.
const HANDOFF_GRACE: Duration = Duration::from_millis(1);

impl Handoff {
    fn new() -> Handoff {
        Handoff {
            main: std::thread::current().id(),
            other_clock_reads: AtomicU64::new(0),
            seen: Mutex::new((0, 0)),
        }
    }

    /// `gettimeofday` was called.
    fn clock_read(&self) {
        if std::thread::current().id() != self.main {
            self.other_clock_reads.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Before and after `usleep` moves the clock: let a released blocking call's thread
    /// read the clock and record its result before packetdrill's main thread goes on.
    fn after_sleep(&self, posix: &Posix) {
        if std::thread::current().id() != self.main {
            return;
        }
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let woken = posix.woken_returns();
        if woken == seen.0 {
            return;
        }
        let start = std::time::Instant::now();
        while self.other_clock_reads.load(Ordering::SeqCst) == seen.1
            && start.elapsed() < HANDOFF_MAX_WAIT
        {
            std::thread::sleep(Duration::from_micros(50));
        }
        std::thread::sleep(HANDOFF_GRACE);
        *seen = (woken, self.other_clock_reads.load(Ordering::SeqCst));
    }
}

impl Instance {
    /// A stack configured for packetdrill: Linux's defaults, one raw-IP interface.
    pub fn new(cfg: &Config) -> Instance {
        let now = linnet::Instant::from_secs(START_SECS);
        let (stack, dev) = iface::build_stack(cfg, now);
        let posix = Posix::new(stack, now, Driven::External);
        // packetdrill closes the descriptors left open at the end with the real close(2).
        posix.use_os_fds();
        posix.with_net(|n| n.realtime_base_us = epoch_usecs(linnet::Instant::ZERO));
        let mut watcher = cfg.sysctl_dir.clone().map(sysctl::SysctlDir::new);
        let mut tc = cfg.sysctl_dir.clone().map(tc::TcLog::new);
        let route_dir = cfg.sysctl_dir.clone();
        let procnet = cfg
            .procnet_dir
            .clone()
            .map(|d| std::sync::Arc::new(std::sync::Mutex::new(procnet::ProcNetDir::new(d))));
        let procnet_hook = procnet.clone();
        if watcher.is_some() || procnet_hook.is_some() {
            posix.with_net(|n| {
                n.before_call = Some(Box::new(move |stack, defaults, now| {
                    if let Some(w) = watcher.as_mut() {
                        w.apply_new(stack);
                        defaults.notsent_lowat = w.notsent_lowat;
                    }
                    if let Some(t) = tc.as_mut() {
                        t.apply_new(stack, now);
                    }
                    if let Some(d) = &route_dir {
                        route::apply_queued(stack, d, now);
                    }
                    if let Some(p) = &procnet_hook {
                        p.lock().unwrap_or_else(|e| e.into_inner()).refresh(stack);
                    }
                }));
            });
        }
        Instance {
            posix,
            dev,
            handoff: Handoff::new(),
            nstat: cfg.nstat_file.clone().map(nstat::NstatFile::new),
            procnet,
        }
    }

    /// Bring `/proc/net/tcp` up to date (after packets or time changed the sockets).
    pub fn refresh_procnet(&self) {
        if let Some(p) = &self.procnet {
            // The stack's lock first, as the before-call hook takes them.
            self.posix.with_net(|n| {
                p.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .refresh(&n.stack)
            });
        }
    }

    /// Microseconds since the epoch of the virtual now.
    pub fn epoch_usecs(&self) -> i64 {
        epoch_usecs(self.posix.now())
    }
}

/// packetdrill's `struct packetdrill_interface`. `fcntl` and `ioctl` are variadic in C; their
/// third argument is taken as a fixed one (the Linux x86_64/aarch64 ABIs pass it alike).
#[repr(C)]
#[allow(missing_docs)]
pub struct PacketdrillInterface {
    pub userdata: *mut c_void,
    pub free: Option<unsafe extern "C" fn(*mut c_void)>,
    pub socket: Option<unsafe extern "C" fn(*mut c_void, c_int, c_int, c_int) -> c_int>,
    pub bind: Option<unsafe extern "C" fn(*mut c_void, c_int, *const sockaddr, socklen_t) -> c_int>,
    pub listen: Option<unsafe extern "C" fn(*mut c_void, c_int, c_int) -> c_int>,
    pub accept:
        Option<unsafe extern "C" fn(*mut c_void, c_int, *mut sockaddr, *mut socklen_t) -> c_int>,
    pub connect:
        Option<unsafe extern "C" fn(*mut c_void, c_int, *const sockaddr, socklen_t) -> c_int>,
    pub read: Option<unsafe extern "C" fn(*mut c_void, c_int, *mut c_void, usize) -> ssize_t>,
    pub readv: Option<unsafe extern "C" fn(*mut c_void, c_int, *const iovec, c_int) -> ssize_t>,
    pub recv:
        Option<unsafe extern "C" fn(*mut c_void, c_int, *mut c_void, usize, c_int) -> ssize_t>,
    pub recvfrom: Option<
        unsafe extern "C" fn(
            *mut c_void,
            c_int,
            *mut c_void,
            usize,
            c_int,
            *mut sockaddr,
            *mut socklen_t,
        ) -> ssize_t,
    >,
    pub recvmsg: Option<unsafe extern "C" fn(*mut c_void, c_int, *mut msghdr, c_int) -> ssize_t>,
    pub write: Option<unsafe extern "C" fn(*mut c_void, c_int, *const c_void, usize) -> ssize_t>,
    pub writev: Option<unsafe extern "C" fn(*mut c_void, c_int, *const iovec, c_int) -> ssize_t>,
    pub send:
        Option<unsafe extern "C" fn(*mut c_void, c_int, *const c_void, usize, c_int) -> ssize_t>,
    pub sendto: Option<
        unsafe extern "C" fn(
            *mut c_void,
            c_int,
            *const c_void,
            usize,
            c_int,
            *const sockaddr,
            socklen_t,
        ) -> ssize_t,
    >,
    pub sendmsg: Option<unsafe extern "C" fn(*mut c_void, c_int, *const msghdr, c_int) -> ssize_t>,
    pub fcntl: Option<unsafe extern "C" fn(*mut c_void, c_int, c_int, c_long) -> c_int>,
    pub ioctl: Option<unsafe extern "C" fn(*mut c_void, c_int, c_ulong, *mut c_void) -> c_int>,
    pub close: Option<unsafe extern "C" fn(*mut c_void, c_int) -> c_int>,
    pub shutdown: Option<unsafe extern "C" fn(*mut c_void, c_int, c_int) -> c_int>,
    pub getsockopt: Option<
        unsafe extern "C" fn(
            *mut c_void,
            c_int,
            c_int,
            c_int,
            *mut c_void,
            *mut socklen_t,
        ) -> c_int,
    >,
    pub setsockopt: Option<
        unsafe extern "C" fn(*mut c_void, c_int, c_int, c_int, *const c_void, socklen_t) -> c_int,
    >,
    pub poll: Option<unsafe extern "C" fn(*mut c_void, *mut pollfd, nfds_t, c_int) -> c_int>,
    pub netdev_send: Option<unsafe extern "C" fn(*mut c_void, *const c_void, usize) -> c_int>,
    pub netdev_receive:
        Option<unsafe extern "C" fn(*mut c_void, *mut c_void, *mut usize, *mut i64) -> c_int>,
    pub usleep: Option<unsafe extern "C" fn(*mut c_void, u32) -> c_int>,
    pub gettimeofday:
        Option<unsafe extern "C" fn(*mut c_void, *mut libc::timeval, *mut c_void) -> c_int>,
    pub epoll_create: Option<unsafe extern "C" fn(*mut c_void, c_int) -> c_int>,
    pub epoll_ctl: Option<
        unsafe extern "C" fn(*mut c_void, c_int, c_int, c_int, *mut libc::epoll_event) -> c_int,
    >,
    pub epoll_wait: Option<
        unsafe extern "C" fn(*mut c_void, c_int, *mut libc::epoll_event, c_int, c_int) -> c_int,
    >,
    pub pipe: Option<unsafe extern "C" fn(*mut c_void, *mut c_int) -> c_int>,
    pub splice: Option<
        unsafe extern "C" fn(*mut c_void, c_int, *mut i64, c_int, *mut i64, usize, u32) -> c_int,
    >,
}

/// The instance behind packetdrill's `userdata`.
///
/// # Safety
/// `ud` must be the pointer `packetdrill_interface_init` stored, not yet freed.
unsafe fn inst<'a>(ud: *mut c_void) -> &'a Instance {
    // SAFETY: by contract, `ud` is the leaked Box<Instance> of init.
    unsafe { &*(ud as *const Instance) }
}

/// Run `f`, never unwinding into C: a panic gives `EIO` and -1.
fn nounwind<T>(fail: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
        cabi::set_errno(libc::EIO);
        fail
    })
}

unsafe extern "C" fn pd_free(ud: *mut c_void) {
    if !ud.is_null() && std::env::var_os("LINNET_PD_DEBUG").is_some() {
        // SAFETY: our userdata, not yet freed.
        let i = unsafe { inst(ud) };
        i.posix.with_net(|n| {
            eprintln!(
                "linnet drops: {:?}\nlinnet snmp: {:?}",
                n.stack.drops(),
                n.stack.snmp()
            )
        });
    }
    if !ud.is_null() {
        let _ = SENDFILE_INSTANCE.compare_exchange(
            ud as *mut Instance,
            std::ptr::null_mut(),
            std::sync::atomic::Ordering::SeqCst,
            std::sync::atomic::Ordering::SeqCst,
        );
        // SAFETY: `ud` is the Box<Instance> leaked by init, freed once by packetdrill.
        let b = unsafe { Box::from_raw(ud as *mut Instance) };
        nounwind((), move || drop(b));
    }
}

unsafe extern "C" fn pd_socket(ud: *mut c_void, d: c_int, t: c_int, p: c_int) -> c_int {
    // SAFETY: packetdrill passes back our userdata.
    cabi::socket(&unsafe { inst(ud) }.posix, d, t, p)
}

unsafe extern "C" fn pd_bind(
    ud: *mut c_void,
    fd: c_int,
    a: *const sockaddr,
    l: socklen_t,
) -> c_int {
    // SAFETY: our userdata; packetdrill's pointers are valid for their lengths.
    unsafe { cabi::bind(&inst(ud).posix, fd, a, l) }
}

unsafe extern "C" fn pd_listen(ud: *mut c_void, fd: c_int, b: c_int) -> c_int {
    // SAFETY: our userdata.
    cabi::listen(&unsafe { inst(ud) }.posix, fd, b)
}

unsafe extern "C" fn pd_accept(
    ud: *mut c_void,
    fd: c_int,
    a: *mut sockaddr,
    l: *mut socklen_t,
) -> c_int {
    // SAFETY: our userdata; packetdrill's pointers are valid.
    unsafe { cabi::accept4(&inst(ud).posix, fd, a, l, 0) }
}

unsafe extern "C" fn pd_connect(
    ud: *mut c_void,
    fd: c_int,
    a: *const sockaddr,
    l: socklen_t,
) -> c_int {
    // SAFETY: our userdata; packetdrill's pointers are valid.
    unsafe { cabi::connect(&inst(ud).posix, fd, a, l) }
}

unsafe extern "C" fn pd_read(ud: *mut c_void, fd: c_int, b: *mut c_void, n: usize) -> ssize_t {
    // SAFETY: our userdata; packetdrill's pointers are valid.
    unsafe {
        cabi::recvfrom(
            &inst(ud).posix,
            fd,
            b,
            n,
            0,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    }
}

unsafe extern "C" fn pd_readv(ud: *mut c_void, fd: c_int, v: *const iovec, n: c_int) -> ssize_t {
    // SAFETY: our userdata; packetdrill's pointers are valid.
    unsafe { cabi::readv(&inst(ud).posix, fd, v, n) }
}

unsafe extern "C" fn pd_recv(
    ud: *mut c_void,
    fd: c_int,
    b: *mut c_void,
    n: usize,
    f: c_int,
) -> ssize_t {
    // SAFETY: our userdata; packetdrill's pointers are valid.
    unsafe {
        cabi::recvfrom(
            &inst(ud).posix,
            fd,
            b,
            n,
            f,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    }
}

unsafe extern "C" fn pd_recvfrom(
    ud: *mut c_void,
    fd: c_int,
    b: *mut c_void,
    n: usize,
    f: c_int,
    a: *mut sockaddr,
    l: *mut socklen_t,
) -> ssize_t {
    // SAFETY: our userdata; packetdrill's pointers are valid.
    unsafe { cabi::recvfrom(&inst(ud).posix, fd, b, n, f, a, l) }
}

unsafe extern "C" fn pd_recvmsg(ud: *mut c_void, fd: c_int, m: *mut msghdr, f: c_int) -> ssize_t {
    // SAFETY: our userdata; packetdrill's pointers are valid.
    unsafe { cabi::recvmsg(&inst(ud).posix, fd, m, f) }
}

unsafe extern "C" fn pd_write(ud: *mut c_void, fd: c_int, b: *const c_void, n: usize) -> ssize_t {
    // SAFETY: our userdata; packetdrill's pointers are valid.
    unsafe { cabi::sendto(&inst(ud).posix, fd, b, n, 0, std::ptr::null(), 0) }
}

unsafe extern "C" fn pd_writev(ud: *mut c_void, fd: c_int, v: *const iovec, n: c_int) -> ssize_t {
    // SAFETY: our userdata; packetdrill's pointers are valid.
    unsafe { cabi::writev(&inst(ud).posix, fd, v, n) }
}

unsafe extern "C" fn pd_send(
    ud: *mut c_void,
    fd: c_int,
    b: *const c_void,
    n: usize,
    f: c_int,
) -> ssize_t {
    // SAFETY: our userdata; packetdrill's pointers are valid.
    unsafe { cabi::sendto(&inst(ud).posix, fd, b, n, f, std::ptr::null(), 0) }
}

unsafe extern "C" fn pd_sendto(
    ud: *mut c_void,
    fd: c_int,
    b: *const c_void,
    n: usize,
    f: c_int,
    a: *const sockaddr,
    l: socklen_t,
) -> ssize_t {
    // SAFETY: our userdata; packetdrill's pointers are valid.
    unsafe { cabi::sendto(&inst(ud).posix, fd, b, n, f, a, l) }
}

unsafe extern "C" fn pd_sendmsg(ud: *mut c_void, fd: c_int, m: *const msghdr, f: c_int) -> ssize_t {
    // SAFETY: our userdata; packetdrill's pointers are valid.
    unsafe { cabi::sendmsg(&inst(ud).posix, fd, m, f) }
}

unsafe extern "C" fn pd_fcntl(ud: *mut c_void, fd: c_int, cmd: c_int, arg: c_long) -> c_int {
    // SAFETY: our userdata.
    cabi::fcntl(&unsafe { inst(ud) }.posix, fd, cmd, arg)
}

unsafe extern "C" fn pd_ioctl(ud: *mut c_void, fd: c_int, req: c_ulong, arg: *mut c_void) -> c_int {
    // SAFETY: our userdata; packetdrill passes a valid int pointer.
    unsafe { cabi::ioctl(&inst(ud).posix, fd, req, arg) }
}

unsafe extern "C" fn pd_close(ud: *mut c_void, fd: c_int) -> c_int {
    // SAFETY: our userdata.
    cabi::close(&unsafe { inst(ud) }.posix, fd)
}

unsafe extern "C" fn pd_shutdown(ud: *mut c_void, fd: c_int, how: c_int) -> c_int {
    // SAFETY: our userdata.
    cabi::shutdown(&unsafe { inst(ud) }.posix, fd, how)
}

unsafe extern "C" fn pd_getsockopt(
    ud: *mut c_void,
    fd: c_int,
    level: c_int,
    name: c_int,
    v: *mut c_void,
    l: *mut socklen_t,
) -> c_int {
    // SAFETY: our userdata; packetdrill's pointers are valid.
    unsafe { cabi::getsockopt(&inst(ud).posix, fd, level, name, v, l) }
}

unsafe extern "C" fn pd_setsockopt(
    ud: *mut c_void,
    fd: c_int,
    level: c_int,
    name: c_int,
    v: *const c_void,
    l: socklen_t,
) -> c_int {
    // SAFETY: our userdata; packetdrill's pointers are valid.
    unsafe { cabi::setsockopt(&inst(ud).posix, fd, level, name, v, l) }
}

unsafe extern "C" fn pd_poll(ud: *mut c_void, fds: *mut pollfd, n: nfds_t, t: c_int) -> c_int {
    // SAFETY: our userdata; packetdrill's pointers are valid.
    unsafe { cabi::poll(&inst(ud).posix, fds, n, t) }
}

unsafe extern "C" fn pd_epoll_create(ud: *mut c_void, size: c_int) -> c_int {
    // SAFETY: our userdata.
    cabi::epoll_create(&unsafe { inst(ud) }.posix, size)
}

unsafe extern "C" fn pd_epoll_ctl(
    ud: *mut c_void,
    ep: c_int,
    op: c_int,
    fd: c_int,
    ev: *mut libc::epoll_event,
) -> c_int {
    // SAFETY: our userdata; packetdrill's pointers are valid.
    unsafe { cabi::epoll_ctl(&inst(ud).posix, ep, op, fd, ev) }
}

unsafe extern "C" fn pd_epoll_wait(
    ud: *mut c_void,
    ep: c_int,
    ev: *mut libc::epoll_event,
    max: c_int,
    t: c_int,
) -> c_int {
    // SAFETY: our userdata; packetdrill's pointers are valid.
    unsafe { cabi::epoll_wait(&inst(ud).posix, ep, ev, max, t) }
}

unsafe extern "C" fn pd_pipe(ud: *mut c_void, fds: *mut c_int) -> c_int {
    // SAFETY: our userdata; packetdrill passes room for two descriptors.
    unsafe { cabi::pipe2(&inst(ud).posix, fds, 0) }
}

unsafe extern "C" fn pd_splice(
    ud: *mut c_void,
    fd_in: c_int,
    off_in: *mut i64,
    fd_out: c_int,
    off_out: *mut i64,
    len: usize,
    flags: u32,
) -> c_int {
    // packetdrill passes the script's offsets by address, its `NULL` as a 0 there: a 0 is
    // taken as no offset (the ends splice has are pipes and sockets, which take none).
    // SAFETY: packetdrill's pointers are NULL or point to its own locals.
    let opt = |p: *mut i64| {
        if p.is_null() || unsafe { *p } == 0 {
            std::ptr::null_mut()
        } else {
            p
        }
    };
    let (off_in, off_out) = (opt(off_in), opt(off_out));
    // SAFETY: our userdata; the offsets are NULL or valid.
    unsafe { cabi::splice(&inst(ud).posix, fd_in, off_in, fd_out, off_out, len, flags) as c_int }
}

/// The instance `sendfile` reaches: packetdrill calls libc's `sendfile` itself (its shared
/// object interface has no such entry), so this library, preloaded by the harness
/// (`LD_PRELOAD`), defines `sendfile` and takes the calls whose `out_fd` is a Linnet socket.
static SENDFILE_INSTANCE: std::sync::atomic::AtomicPtr<Instance> =
    std::sync::atomic::AtomicPtr::new(std::ptr::null_mut());

/// `sendfile(2)` as the process sees it with this library preloaded: into a Linnet socket
/// through the ABI ([`linnet_posix::Posix::sendfile`]), anything else to the kernel.
///
/// # Safety
/// `sendfile(2)`'s contract: `offset` NULL or valid for an `off_t`.
#[no_mangle]
pub unsafe extern "C" fn sendfile(
    out_fd: c_int,
    in_fd: c_int,
    offset: *mut libc::off_t,
    count: usize,
) -> ssize_t {
    let i = SENDFILE_INSTANCE.load(std::sync::atomic::Ordering::SeqCst);
    if !i.is_null() {
        // SAFETY: set by init to the live instance, cleared before it is freed.
        let p = &unsafe { &*i }.posix;
        if nounwind(false, || p.is_socket_fd(out_fd)) {
            // SAFETY: forwarded contract.
            return unsafe { cabi::sendfile(p, out_fd, in_fd, offset, count) };
        }
    }
    // SAFETY: the kernel's sendfile with the caller's arguments.
    unsafe { libc::syscall(libc::SYS_sendfile, out_fd, in_fd, offset, count) as ssize_t }
}

/// `sendfile64`: the same call (64-bit `off_t` on the targets this builds for).
///
/// # Safety
/// As [`sendfile`].
#[no_mangle]
pub unsafe extern "C" fn sendfile64(
    out_fd: c_int,
    in_fd: c_int,
    offset: *mut libc::off_t,
    count: usize,
) -> ssize_t {
    // SAFETY: forwarded contract.
    unsafe { sendfile(out_fd, in_fd, offset, count) }
}

unsafe extern "C" fn pd_netdev_send(ud: *mut c_void, buf: *const c_void, n: usize) -> c_int {
    nounwind(-1, || {
        if buf.is_null() {
            return -1;
        }
        // SAFETY: packetdrill passes a packet of `n` bytes.
        let pkt = unsafe { std::slice::from_raw_parts(buf as *const u8, n) };
        // SAFETY: our userdata.
        let i = unsafe { inst(ud) };
        if i.dev.inject(&i.posix, pkt) {
            i.refresh_procnet();
            0
        } else {
            -1
        }
    })
}

unsafe extern "C" fn pd_netdev_receive(
    ud: *mut c_void,
    buf: *mut c_void,
    count: *mut usize,
    time_usecs: *mut i64,
) -> c_int {
    nounwind(-1, || {
        if buf.is_null() || count.is_null() || time_usecs.is_null() {
            return -1;
        }
        // SAFETY: packetdrill passes a buffer of `*count` bytes and valid out-pointers.
        let out = unsafe { std::slice::from_raw_parts_mut(buf as *mut u8, *count) };
        // SAFETY: our userdata.
        let i = unsafe { inst(ud) };
        let (n, at) = i.dev.sniff(&i.posix, out);
        // SAFETY: valid out-pointers.
        unsafe {
            *count = n;
            *time_usecs = epoch_usecs(at);
        }
        0
    })
}

unsafe extern "C" fn pd_usleep(ud: *mut c_void, usec: u32) -> c_int {
    nounwind(-1, || {
        // SAFETY: our userdata.
        let i = unsafe { inst(ud) };
        // A call released before this sleep (by a packet the script injected) reads the
        // clock before it moves, as it would under a real clock; one released by a timer
        // during the sleep reads it after.
        i.handoff.after_sleep(&i.posix);
        i.posix.advance(Duration::from_micros(u64::from(usec)));
        i.refresh_procnet();
        i.handoff.after_sleep(&i.posix);
        0
    })
}

unsafe extern "C" fn pd_gettimeofday(
    ud: *mut c_void,
    tv: *mut libc::timeval,
    _tz: *mut c_void,
) -> c_int {
    nounwind(-1, || {
        // SAFETY: our userdata.
        let i = unsafe { inst(ud) };
        i.handoff.clock_read();
        i.posix.advance(GETTIMEOFDAY_STEP);
        // packetdrill reads the clock right before each event, shell commands too.
        if let Some(f) = &i.nstat {
            f.refresh(&i.posix);
        }
        if !tv.is_null() {
            let us = i.epoch_usecs();
            // SAFETY: packetdrill passes a valid timeval.
            unsafe {
                (*tv).tv_sec = us / 1_000_000;
                (*tv).tv_usec = us % 1_000_000;
            }
        }
        0
    })
}

/// packetdrill's entry point: build the instance and fill in the interface.
///
/// # Safety
/// `flags` must be NULL or a NUL-terminated string; `ifc` a valid interface struct.
#[no_mangle]
pub unsafe extern "C" fn packetdrill_interface_init(
    flags: *const c_char,
    ifc: *mut PacketdrillInterface,
) {
    let r = catch_unwind(|| {
        let flags = if flags.is_null() {
            String::new()
        } else {
            // SAFETY: NUL-terminated by contract.
            unsafe { CStr::from_ptr(flags) }
                .to_string_lossy()
                .into_owned()
        };
        let cfg = Config::parse(&flags);
        Box::into_raw(Box::new(Instance::new(&cfg)))
    });
    let Ok(ud) = r else {
        eprintln!("linnet-packetdrill: initialisation failed");
        std::process::abort();
    };
    SENDFILE_INSTANCE.store(ud, std::sync::atomic::Ordering::SeqCst);
    if ifc.is_null() {
        return;
    }
    // SAFETY: valid by contract.
    let i = unsafe { &mut *ifc };
    i.userdata = ud as *mut c_void;
    i.free = Some(pd_free);
    i.socket = Some(pd_socket);
    i.bind = Some(pd_bind);
    i.listen = Some(pd_listen);
    i.accept = Some(pd_accept);
    i.connect = Some(pd_connect);
    i.read = Some(pd_read);
    i.readv = Some(pd_readv);
    i.recv = Some(pd_recv);
    i.recvfrom = Some(pd_recvfrom);
    i.recvmsg = Some(pd_recvmsg);
    i.write = Some(pd_write);
    i.writev = Some(pd_writev);
    i.send = Some(pd_send);
    i.sendto = Some(pd_sendto);
    i.sendmsg = Some(pd_sendmsg);
    i.fcntl = Some(pd_fcntl);
    i.ioctl = Some(pd_ioctl);
    i.close = Some(pd_close);
    i.shutdown = Some(pd_shutdown);
    i.getsockopt = Some(pd_getsockopt);
    i.setsockopt = Some(pd_setsockopt);
    i.poll = Some(pd_poll);
    i.netdev_send = Some(pd_netdev_send);
    i.netdev_receive = Some(pd_netdev_receive);
    i.usleep = Some(pd_usleep);
    i.gettimeofday = Some(pd_gettimeofday);
    i.epoll_create = Some(pd_epoll_create);
    i.epoll_ctl = Some(pd_epoll_ctl);
    i.epoll_wait = Some(pd_epoll_wait);
    i.pipe = Some(pd_pipe);
    i.splice = Some(pd_splice);
}
