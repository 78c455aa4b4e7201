//! The threaded runtime: the I/O edge that owns devices, the clock and a thread, and drives a
//! [`Stack`] with them.
//!
//! Linux: the NAPI softirq loop (`net_rx_action`), `qdisc_run` and the timer wheel, folded
//! into one thread per stack. Other threads reach the stack through a [`Handle`], whose calls
//! run on the stack's thread between batches (the way a syscall takes the socket lock).

use crate::device::NetDevice;
use crate::stack::Stack;
use crate::time::{HostClock, Instant};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Frames read from one device per wakeup (the NAPI budget).
const RX_BUDGET: usize = 64;
/// Longest sleep when nothing is due.
const MAX_SLEEP: Duration = Duration::from_millis(200);

type Job = Box<dyn FnOnce(&mut Stack, Instant) + Send>;

/// An eventfd that wakes the stack thread.
#[derive(Debug)]
struct Waker {
    fd: OwnedFd,
}

impl Waker {
    fn new() -> io::Result<Waker> {
        // SAFETY: eventfd has no memory-safety preconditions; the result is checked.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a freshly created descriptor we own.
        Ok(Waker {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    fn wake(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a valid u64 to our eventfd.
        unsafe {
            libc::write(
                self.fd.as_raw_fd(),
                &one as *const u64 as *const libc::c_void,
                8,
            );
        }
    }

    fn drain(&self) {
        let mut v: u64 = 0;
        // SAFETY: reads 8 bytes into a valid u64 from our non-blocking eventfd.
        unsafe {
            libc::read(
                self.fd.as_raw_fd(),
                &mut v as *mut u64 as *mut libc::c_void,
                8,
            );
        }
    }
}

/// A way into a running stack from other threads.
#[derive(Clone)]
pub struct Handle {
    jobs: Sender<Job>,
    waker: Arc<Waker>,
    stop: Arc<AtomicBool>,
}

impl Handle {
    /// Run `f` on the stack's thread and return its result. Fails if the stack has stopped.
    pub fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Stack, Instant) -> R + Send + 'static,
    ) -> io::Result<R> {
        let (tx, rx) = mpsc::sync_channel(1);
        let job: Job = Box::new(move |stack, now| {
            let _ = tx.send(f(stack, now));
        });
        self.jobs
            .send(job)
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "stack has stopped"))?;
        self.waker.wake();
        rx.recv()
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "stack has stopped"))
    }

    /// Ask the stack thread to stop.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        self.waker.wake();
    }
}

/// A device attached to an interface of the stack.
pub struct Attached {
    /// The stack's interface index for it.
    pub ifindex: u32,
    /// The driver.
    pub device: Box<dyn NetDevice>,
}

/// Start a thread driving `stack` with `devices`. Returns a handle and the thread, which
/// returns the stack when stopped.
pub fn spawn(stack: Stack, devices: Vec<Attached>) -> io::Result<(Handle, JoinHandle<Stack>)> {
    let waker = Arc::new(Waker::new()?);
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel();
    let handle = Handle {
        jobs: tx,
        waker: waker.clone(),
        stop: stop.clone(),
    };
    let thread = std::thread::Builder::new()
        .name("linnet-stack".into())
        .spawn(move || run(stack, devices, rx, waker, stop))?;
    Ok((handle, thread))
}

fn run(
    mut stack: Stack,
    mut devices: Vec<Attached>,
    jobs: Receiver<Job>,
    waker: Arc<Waker>,
    stop: Arc<AtomicBool>,
) -> Stack {
    let clock = HostClock::new();
    let mut batch = Vec::with_capacity(RX_BUDGET);
    let mut pollfds: Vec<libc::pollfd> = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        let now = clock.now();
        let mut busy = false;
        // Receive: a budget of frames from each device.
        for d in devices.iter_mut() {
            match d
                .device
                .recv_batch(stack.pool_mut(), &mut batch, RX_BUDGET, now)
            {
                Ok(n) => busy |= n == RX_BUDGET,
                Err(e) => tracing::warn!(dev = d.device.name(), "receive failed: {e}"),
            }
            for buf in batch.drain(..) {
                stack.receive(d.ifindex, buf, now);
            }
        }
        // Calls from other threads.
        waker.drain();
        while let Ok(job) = jobs.try_recv() {
            for d in devices.iter() {
                stack.set_device_stats(d.ifindex, d.device.stats());
            }
            job(&mut stack, now);
        }
        // Timers, loopback.
        let deadline = stack.poll(now);
        // Transmit what the qdiscs release.
        for d in devices.iter_mut() {
            while let Some(buf) = stack.take_tx(d.ifindex, now) {
                if let Err(e) = d.device.transmit(buf.data(), now) {
                    tracing::debug!(dev = d.device.name(), "transmit failed: {e}");
                }
                stack.recycle(buf);
            }
        }
        if busy || deadline.is_some_and(|d| d <= now) {
            continue;
        }
        // Sleep until a device is readable, a call arrives, or the next deadline.
        let mut next = deadline;
        for d in devices.iter() {
            if let Some(t) = d.device.next_event() {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        }
        let sleep = Stack::delay_until(clock.now(), next, MAX_SLEEP);
        pollfds.clear();
        pollfds.push(libc::pollfd {
            fd: waker.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        });
        for d in devices.iter() {
            if let Some(fd) = d.device.raw_fd() {
                pollfds.push(libc::pollfd {
                    fd,
                    events: libc::POLLIN,
                    revents: 0,
                });
            }
        }
        let ms = sleep.as_micros().div_ceil(1000) as i32;
        // SAFETY: pollfds is a valid array of pollfd of the given length.
        unsafe {
            libc::poll(pollfds.as_mut_ptr(), pollfds.len() as libc::nfds_t, ms);
        }
    }
    stack
}
