//! The HTTP listener: an accept loop over hyper's HTTP/1.1 server (with WebSocket upgrades) that
//! `axum::serve` does not make configurable. It cuts a client that does not send a request's
//! header within `http.header_read_timeout_ms`, and caps open connections in total and per client
//! address (`http.max_connections`, `http.max_connections_per_ip`): the excess gets a 503 at once
//! and is closed, so slow or idle sockets cannot use up the server's file descriptors and memory.
//! A connection is counted until its socket closes, WebSockets included. The admission rule
//! ([`Gate`]) is plain data, tested without sockets. On shutdown the loop stops accepting, asks
//! every connection to finish its current request, and waits for them (bounded). With TLS
//! (`crate::tls`) each admitted socket is handshaken first, within the header-read timeout.

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::HashMap;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};

/// The limits, from config `[http]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub header_read_timeout: Duration,
    pub max_connections: usize,
    pub max_connections_per_ip: usize,
}

impl Limits {
    pub fn from_config(http: &crate::config::HttpConfig) -> Self {
        Limits {
            header_read_timeout: Duration::from_millis(http.header_read_timeout_ms),
            max_connections: http.max_connections,
            max_connections_per_ip: http.max_connections_per_ip,
        }
    }
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    Total,
    PerAddress,
}

#[derive(Default)]
struct Counts {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

/// Counts open connections and admits new ones within the caps.
pub struct Gate {
    limits: Limits,
    counts: Mutex<Counts>,
}

/// An admitted connection; dropping it frees its place.
pub struct Permit {
    gate: Arc<Gate>,
    ip: IpAddr,
}

impl Gate {
    pub fn new(limits: Limits) -> Arc<Gate> {
        Arc::new(Gate {
            limits,
            counts: Mutex::new(Counts::default()),
        })
    }

    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Permit, Refused> {
        let mut c = self.counts.lock().expect("gate");
        if c.total >= self.limits.max_connections {
            return Err(Refused::Total);
        }
        let n = c.per_ip.entry(ip).or_default();
        if *n >= self.limits.max_connections_per_ip {
            return Err(Refused::PerAddress);
        }
        *n += 1;
        c.total += 1;
        Ok(Permit {
            gate: self.clone(),
            ip,
        })
    }

    /// Open connections: in total, and from `ip`.
    pub fn open(&self, ip: IpAddr) -> (usize, usize) {
        let c = self.counts.lock().expect("gate");
        (c.total, c.per_ip.get(&ip).copied().unwrap_or(0))
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut c = self.gate.counts.lock().expect("gate");
        c.total -= 1;
        if let Some(n) = c.per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                c.per_ip.remove(&self.ip);
            }
        }
    }
}

/// A socket that holds its [`Permit`] for as long as it lives (also after a WebSocket upgrade).
struct Counted {
    io: TcpStream,
    _permit: Permit,
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

const REFUSAL: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 28\r\nRetry-After: 5\r\nConnection: close\r\n\r\ntoo many connections; retry\n";

/// How long shutdown waits for open connections to finish their requests.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(10);

/// Serves `router` on `listener` until `shutdown` turns true; over TLS when `tls` is given (the
/// handshake must end within the header-read timeout).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    tls: Option<crate::tls::Tls>,
    mut shutdown: watch::Receiver<bool>,
) {
    let gate = Gate::new(limits);
    let (alive, mut all_done) = mpsc::channel::<()>(1);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let mut refused: u64 = 0;
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    break; // stopped, or the server's handle is gone
                }
                continue;
            }
        };
        let (stream, addr) = match accepted {
            Ok(x) => x,
            Err(e) => {
                // Out of file descriptors and the like: wait instead of spinning.
                tracing::warn!("accept: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let permit = match gate.admit(addr.ip()) {
            Ok(p) => p,
            Err(why) => {
                refused += 1;
                if refused.is_power_of_two() {
                    tracing::warn!(%addr, ?why, refused, "connection refused: over the cap");
                }
                let _ = stream.try_write(REFUSAL);
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let io = Counted {
            io: stream,
            _permit: permit,
        };
        let conn = Conn {
            http: http.clone(),
            router: router.clone(),
            addr,
            stop: shutdown.clone(),
            alive: alive.clone(),
        };
        match &tls {
            None => {
                tokio::spawn(conn.run(io));
            }
            Some(tls) => {
                let acceptor = tls.acceptor.clone();
                let wait = limits.header_read_timeout;
                tokio::spawn(async move {
                    match tokio::time::timeout(wait, acceptor.accept(io)).await {
                        Ok(Ok(tls_io)) => conn.run(tls_io).await,
                        Ok(Err(e)) => tracing::debug!(%addr, "tls handshake: {e}"),
                        Err(_) => tracing::debug!(%addr, "tls handshake timed out"),
                    }
                });
            }
        }
    }
    drop(listener);
    drop(alive);
    let _ = tokio::time::timeout(SHUTDOWN_WAIT, all_done.recv()).await;
}

/// One accepted connection, plain or TLS, served until it closes or the server stops.
struct Conn {
    http: hyper::server::conn::http1::Builder,
    router: Router,
    addr: std::net::SocketAddr,
    stop: watch::Receiver<bool>,
    alive: mpsc::Sender<()>,
}

impl Conn {
    async fn run<I>(self, io: I)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let Conn {
            http,
            router,
            addr,
            mut stop,
            alive,
        } = self;
        let _alive = alive;
        let service = hyper::service::service_fn(move |mut req: hyper::Request<_>| {
            req.extensions_mut().insert(ConnectInfo(addr));
            tower::ServiceExt::oneshot(router.clone(), req)
        });
        let conn = http
            .serve_connection(TokioIo::new(io), service)
            .with_upgrades();
        tokio::pin!(conn);
        let stopping = async move {
            let _ = stop.wait_for(|stop| *stop).await;
        };
        let r = tokio::select! {
            r = conn.as_mut() => r,
            () = stopping => {
                conn.as_mut().graceful_shutdown();
                conn.await
            }
        };
        if let Err(e) = r {
            tracing::debug!(%addr, "http connection: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(total: usize, per_ip: usize) -> Arc<Gate> {
        Gate::new(Limits {
            header_read_timeout: Duration::from_secs(1),
            max_connections: total,
            max_connections_per_ip: per_ip,
        })
    }

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, n])
    }

    #[test]
    fn caps_per_address_then_in_total() {
        let g = gate(3, 2);
        let a1 = g.admit(ip(1)).unwrap();
        let _a2 = g.admit(ip(1)).unwrap();
        assert_eq!(g.admit(ip(1)).err(), Some(Refused::PerAddress));
        let _b1 = g.admit(ip(2)).unwrap();
        assert_eq!(g.admit(ip(3)).err(), Some(Refused::Total));
        assert_eq!(g.open(ip(1)), (3, 2));
        drop(a1);
        assert_eq!(g.open(ip(1)), (2, 1));
        let _c1 = g.admit(ip(3)).unwrap();
        assert_eq!(g.admit(ip(1)).err(), Some(Refused::Total));
    }

    #[test]
    fn permits_give_their_place_back() {
        let g = gate(2, 2);
        for _ in 0..10 {
            let p = g.admit(ip(9)).unwrap();
            let q = g.admit(ip(9)).unwrap();
            assert!(g.admit(ip(9)).is_err());
            drop((p, q));
        }
        assert_eq!(g.open(ip(9)), (0, 0));
        assert!(g.counts.lock().unwrap().per_ip.is_empty());
    }
}
