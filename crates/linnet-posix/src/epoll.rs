//! epoll: interest lists over socket descriptors, level- or edge-triggered, one-shot.
//!
//! Linux: fs/eventpoll.c (`do_epoll_create`, `do_epoll_ctl`, `do_epoll_wait`). Readiness is
//! the socket's poll mask (`ep_item_poll`); an edge-triggered item is reported again only
//! after a new wake-up of its socket (Linux: `ep_poll_callback` queueing the item), a
//! one-shot item not at all until `EPOLL_CTL_MOD` re-arms it.

use crate::calls::{sock_poll_mask, EpollEvent};
use crate::errno::{Errno, SysResult, EBADF, EINVAL};
use crate::fd::{EpollFile, EpollItem, File};
use crate::posix::Posix;
use std::sync::atomic::Ordering;

/// Events always reported, whether asked for or not.
const ALWAYS: u32 = (libc::EPOLLERR | libc::EPOLLHUP) as u32;
/// Flags that are not events.
const EP_FLAGS: u32 =
    (libc::EPOLLET | libc::EPOLLONESHOT | libc::EPOLLEXCLUSIVE | libc::EPOLLWAKEUP) as u32;

impl Posix {
    /// `epoll_create1` (`EPOLL_CLOEXEC`). Linux: `do_epoll_create`.
    pub fn epoll_create1(&self, flags: i32) -> SysResult<i32> {
        if flags & !libc::EPOLL_CLOEXEC != 0 {
            return Err(EINVAL);
        }
        self.sys(|n| {
            n.fds.install(File::Epoll(EpollFile {
                cloexec: flags & libc::EPOLL_CLOEXEC != 0,
                ..EpollFile::default()
            }))
        })
    }

    /// `epoll_create(size)`: `size` must be positive.
    pub fn epoll_create(&self, size: i32) -> SysResult<i32> {
        if size <= 0 {
            return Err(EINVAL);
        }
        self.epoll_create1(0)
    }

    /// `epoll_ctl`. Linux: `do_epoll_ctl` (`EEXIST`, `ENOENT`, `EINVAL` for itself or
    /// `EPOLLEXCLUSIVE` with `EPOLL_CTL_MOD`, `EPERM` for a non-pollable file).
    pub fn epoll_ctl(&self, epfd: i32, op: i32, fd: i32, ev: Option<EpollEvent>) -> SysResult<()> {
        self.sys(|n| {
            n.fds.get(epfd)?;
            let target = n.fds.get(fd)?;
            if matches!(target, File::Epoll(_)) && fd == epfd {
                return Err(EINVAL);
            }
            let gen = match target {
                File::Sock(s) => Some(s.wake.gen.load(Ordering::SeqCst)),
                File::Epoll(_) => None,
            };
            let ep = n.fds.epoll_mut(epfd)?;
            match op {
                libc::EPOLL_CTL_ADD => {
                    let ev = ev.ok_or(Errno(libc::EFAULT))?;
                    if ep.items.contains_key(&fd) {
                        return Err(Errno(libc::EEXIST));
                    }
                    let _ = gen;
                    ep.items.insert(
                        fd,
                        EpollItem {
                            events: ev.events,
                            data: ev.data,
                            disabled: false,
                            seen_gen: None,
                        },
                    );
                    Ok(())
                }
                libc::EPOLL_CTL_MOD => {
                    let ev = ev.ok_or(Errno(libc::EFAULT))?;
                    if ev.events & libc::EPOLLEXCLUSIVE as u32 != 0 {
                        return Err(EINVAL);
                    }
                    let item = ep.items.get_mut(&fd).ok_or(Errno(libc::ENOENT))?;
                    if item.events & libc::EPOLLEXCLUSIVE as u32 != 0 {
                        return Err(EINVAL);
                    }
                    *item = EpollItem {
                        events: ev.events,
                        data: ev.data,
                        disabled: false,
                        seen_gen: None,
                    };
                    Ok(())
                }
                libc::EPOLL_CTL_DEL => ep.items.remove(&fd).map(|_| ()).ok_or(Errno(libc::ENOENT)),
                _ => Err(EINVAL),
            }
        })
    }

    /// `epoll_wait`: up to `out.len()` ready items, waiting up to `timeout_ms` (negative:
    /// forever) of virtual time. Linux: `do_epoll_wait` → `ep_send_events`.
    pub fn epoll_wait(
        &self,
        epfd: i32,
        out: &mut [EpollEvent],
        timeout_ms: i32,
    ) -> SysResult<usize> {
        if out.is_empty() {
            return Err(EINVAL);
        }
        self.sys(|n| n.fds.epoll_mut(epfd).map(|_| ()))?;
        self.wait_ready(timeout_ms, |n| {
            let items: Vec<(i32, EpollItem)> = match n.fds.get(epfd) {
                Ok(File::Epoll(ep)) => ep.items.iter().map(|(&fd, &i)| (fd, i)).collect(),
                Ok(_) => return Err(EINVAL),
                Err(_) => return Err(EBADF),
            };
            let mut count = 0;
            for (fd, item) in items {
                if count == out.len() {
                    break;
                }
                if item.disabled {
                    continue;
                }
                let (mask, gen) = match n.fds.get(fd) {
                    Ok(File::Sock(s)) => {
                        (sock_poll_mask(n, fd)?, s.wake.gen.load(Ordering::SeqCst))
                    }
                    _ => continue,
                };
                let want = (item.events & !EP_FLAGS) | ALWAYS;
                let ready = mask & want;
                if ready == 0 {
                    continue;
                }
                let et = item.events & libc::EPOLLET as u32 != 0;
                if et && item.seen_gen == Some(gen) {
                    continue;
                }
                out[count] = EpollEvent {
                    events: ready,
                    data: item.data,
                };
                count += 1;
                if let Ok(ep) = n.fds.epoll_mut(epfd) {
                    if let Some(it) = ep.items.get_mut(&fd) {
                        it.seen_gen = Some(gen);
                        if item.events & libc::EPOLLONESHOT as u32 != 0 {
                            it.disabled = true;
                        }
                    }
                }
            }
            Ok(count)
        })
    }
}
