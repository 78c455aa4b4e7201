//! What the workloads return, and the clock both stacks are driven with.

/// Result of a bulk transfer.
#[derive(Debug, Clone, Copy)]
pub struct BulkResult {
    /// Bytes the receiving application read.
    pub bytes: u64,
    /// CPU seconds of the bench thread measured (both stacks).
    pub secs: f64,
    /// Frames the link carried in both directions (data and ACKs).
    pub frames: u64,
    /// Heap allocations made in the measured window (whole process).
    pub allocs: u64,
    /// Frames the link dropped (queue full), or the receiving driver refused: should be zero.
    pub drops: u64,
    /// Longest frame the link carried (bytes, Ethernet header included).
    pub largest: usize,
    /// GSO super-frames (longer than the MTU) carried in the measured window.
    pub gso_frames: u64,
}

impl BulkResult {
    /// Goodput in Gbit/s.
    pub fn gbps(&self) -> f64 {
        self.bytes as f64 * 8.0 / self.secs / 1e9
    }

    /// Allocations per frame carried.
    pub fn allocs_per_frame(&self) -> f64 {
        if self.frames == 0 {
            return 0.0;
        }
        self.allocs as f64 / self.frames as f64
    }
}

/// Result of a counted loop (transactions, connections).
#[derive(Debug, Clone, Copy)]
pub struct CountResult {
    /// Completed operations.
    pub count: u64,
    /// Frames the link carried meanwhile (both directions).
    pub frames: u64,
    /// CPU seconds of the bench thread.
    pub secs: f64,
}

impl CountResult {
    /// Operations per second.
    pub fn rate(&self) -> f64 {
        self.count as f64 / self.secs
    }
}

/// The bench is the I/O edge: it reads the host clock and hands the time to each stack in
/// the stack's own type.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    start: std::time::Instant,
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new()
    }
}

impl Clock {
    /// A clock starting now (both stacks see time start at 1 s, so nothing is at zero).
    pub fn new() -> Clock {
        Clock {
            start: std::time::Instant::now(),
        }
    }

    fn micros(&self) -> u64 {
        1_000_000 + self.start.elapsed().as_micros() as u64
    }

    /// Now, for Linnet.
    pub fn linnet(&self) -> linnet::Instant {
        linnet::Instant::from_micros(self.micros())
    }

    /// Now, for smoltcp.
    pub fn smol(&self) -> smoltcp::time::Instant {
        smoltcp::time::Instant::from_micros(self.micros() as i64)
    }
}

/// CPU time consumed by the calling thread. The in-memory rows divide by this rather than by
/// wall-clock time: both stacks run on this one thread, so the figure is work per CPU-second
/// and does not drop when other processes share the machine's cores.
pub fn thread_cpu() -> std::time::Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into the valid, exclusive `ts`.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return std::time::Duration::ZERO;
    }
    std::time::Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// A stopwatch on the calling thread's CPU time.
#[derive(Debug, Clone, Copy)]
pub struct CpuTimer {
    start: std::time::Duration,
}

impl CpuTimer {
    /// Start now.
    pub fn start() -> CpuTimer {
        CpuTimer {
            start: thread_cpu(),
        }
    }

    /// CPU time since the start.
    pub fn elapsed(&self) -> std::time::Duration {
        thread_cpu().saturating_sub(self.start)
    }
}
