//! The async flavour (`--features tokio`): Linnet sockets driven by tokio tasks over a running
//! stack's loopback, with tokio's own `AsyncReadExt`/`AsyncWriteExt` and `io::copy`.
#![cfg(feature = "tokio")]

use linnet::api::tokio::{TcpListener, TcpStream, UdpSocket};
use linnet::runtime::{spawn, Handle};
use linnet::Stack;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::timeout;

const LIMIT: Duration = Duration::from_secs(20);

fn start() -> (Handle, std::thread::JoinHandle<Stack>) {
    spawn(Stack::default(), Vec::new()).expect("stack thread")
}

fn pattern(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_many_connections_concurrently() {
    let (h, thread) = start();
    let addr = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 7007);
    let listener = TcpListener::bind(&h, addr).unwrap();
    let server = tokio::spawn(async move {
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (mut s, peer) = listener.accept().await.unwrap();
            assert_eq!(*peer.ip(), Ipv4Addr::LOCALHOST);
            tasks.push(tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                loop {
                    let n = s.read(&mut buf).await.unwrap();
                    if n == 0 {
                        break;
                    }
                    s.write_all(&buf[..n]).await.unwrap();
                }
                s.shutdown().await.unwrap();
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
    let mut clients = Vec::new();
    for i in 0..8u32 {
        let h = h.clone();
        clients.push(tokio::spawn(async move {
            let data = pattern(256 * 1024 + i as usize * 1000, i);
            let s = TcpStream::connect(&h, addr).await.unwrap();
            assert_eq!(s.peer_addr().unwrap(), addr);
            let (mut r, mut w) = tokio::io::split(s);
            let to_send = data.clone();
            let writer = tokio::spawn(async move {
                w.write_all(&to_send).await.unwrap();
                w.shutdown().await.unwrap();
                w
            });
            let mut back = Vec::new();
            r.read_to_end(&mut back).await.unwrap();
            let _w = writer.await.unwrap();
            assert!(back == data, "client {i}: echo differs");
            back.len()
        }));
    }
    let mut total = 0;
    for c in clients {
        total += timeout(LIMIT, c).await.expect("client timed out").unwrap();
    }
    timeout(LIMIT, server)
        .await
        .expect("server timed out")
        .unwrap();
    assert_eq!(total, (0..8).map(|i| 256 * 1024 + i * 1000).sum::<usize>());
    h.stop();
    thread.join().unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn refused_connect_and_peek_and_udp() {
    let (h, thread) = start();
    // Nothing listens on this port: the RST surfaces as ConnectionRefused.
    let closed = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 9);
    let err = timeout(LIMIT, TcpStream::connect(&h, closed))
        .await
        .expect("connect timed out")
        .err()
        .expect("refused");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);

    // MSG_PEEK then read, on a single-threaded executor: the wake-ups must reach this task.
    let addr = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 7008);
    let l = TcpListener::bind(&h, addr).unwrap();
    let (c, s) = tokio::join!(TcpStream::connect(&h, addr), l.accept());
    let (mut c, (mut s, _)) = (c.unwrap(), s.unwrap());
    let reader = async {
        let mut p = [0u8; 5];
        let n = s.peek(&mut p).await.unwrap();
        assert_eq!(&p[..n], &b"hello"[..n]);
        let mut all = [0u8; 5];
        s.read_exact(&mut all).await.unwrap();
        all
    };
    let writer = async {
        tokio::time::sleep(Duration::from_millis(20)).await;
        c.write_all(b"hello").await.unwrap();
    };
    let (got, ()) = timeout(LIMIT, async { tokio::join!(reader, writer) })
        .await
        .expect("peek/read timed out");
    assert_eq!(&got, b"hello");

    let a = UdpSocket::bind(&h, SocketAddrV4::new(Ipv4Addr::LOCALHOST, 5001)).unwrap();
    let b = UdpSocket::bind(&h, SocketAddrV4::new(Ipv4Addr::LOCALHOST, 5002)).unwrap();
    let recv = async {
        let mut buf = [0u8; 64];
        let (n, from) = b.recv_from(&mut buf).await.unwrap();
        (buf[..n].to_vec(), from)
    };
    let send = async {
        tokio::time::sleep(Duration::from_millis(10)).await;
        a.send_to(b"datagram", b.local_addr().unwrap())
            .await
            .unwrap()
    };
    let ((data, from), sent) = timeout(LIMIT, async { tokio::join!(recv, send) })
        .await
        .expect("udp timed out");
    assert_eq!(sent, 8);
    assert_eq!(data, b"datagram");
    assert_eq!(from, a.local_addr().unwrap());
    drop((c, s, l, a, b));
    h.stop();
    thread.join().unwrap();
}
