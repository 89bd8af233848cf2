//! The node's listener: HTTP/1.1 over TCP, optionally TLS, bounded against clients
//! that hold connections open.
//!
//! - A request's headers must arrive within `header_timeout` of the connection's
//!   start or of the previous response: an idle keep-alive connection, or one that
//!   drips its headers, is closed. (The body's deadline is the HTTP face's.)
//! - At most `max_connections` are open at once; past that a new connection is
//!   answered 503 and closed, so that the node keeps file descriptors for its store
//!   and its webhooks and goes on serving the connections it has.
//! - A TLS handshake must finish within `header_timeout` too.
//!
//! HTTP/1.1 only: every timer above is HTTP/1's, and hyper's HTTP/2 has no idle
//! timeout. Graceful shutdown stops accepting, lets requests in flight finish within
//! the drain time, then drops what is left.

use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// File descriptors kept back from connections for everything else a node opens
/// (the store, webhook and attachment connections, media files).
const RESERVED_DESCRIPTORS: usize = 256;

/// What is answered to a connection past the limit, before closing it.
const REFUSAL: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nConnection: close\r\nRetry-After: 1\r\nContent-Length: 141\r\n\r\n{\"error\":{\"message\":\"Too many connections are open: retry later.\",\"type\":\"OAuthException\",\"code\":2,\"is_transient\":true,\"fbtrace_id\":\"limit\"}}";

/// The listener's bounds.
#[derive(Debug, Clone, Copy)]
pub struct ListenerLimits {
    pub header_timeout: Duration,
    pub max_connections: usize,
}

/// A running listener.
pub struct Listener {
    pub addr: SocketAddr,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl Listener {
    /// Binds `addr` and serves `router` on it until [`Listener::shutdown`].
    pub async fn bind(addr: SocketAddr, router: Router, tls: Option<Arc<rustls::ServerConfig>>, limits: ListenerLimits) -> io::Result<Listener> {
        let socket = bind(addr)?;
        let addr = socket.local_addr()?;
        let stop = CancellationToken::new();
        let permits = Arc::new(Semaphore::new(connection_capacity(limits.max_connections)));
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout).max_headers(100);
        let tls = tls.map(tokio_rustls::TlsAcceptor::from);
        let task = tokio::spawn(accept_loop(socket, router, tls, http, permits, limits, stop.clone()));
        Ok(Listener { addr, stop, task })
    }

    /// Stops accepting, lets requests in flight finish within `drain`, then stops.
    pub async fn shutdown(self, drain: Duration) {
        self.stop.cancel();
        let _ = tokio::time::timeout(drain + Duration::from_secs(1), self.task).await;
    }
}

/// Listens with a long queue of connections waiting to be accepted: with tokio's
/// default (1,024), a burst of connects overflows it and clients wait for their
/// SYN to be retried, seconds later.
fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// Connections the kernel may queue before they are accepted (it caps this at
/// `net.core.somaxconn`).
const BACKLOG: u32 = 4096;

async fn accept_loop(
    socket: TcpListener,
    router: Router,
    tls: Option<tokio_rustls::TlsAcceptor>,
    http: hyper::server::conn::http1::Builder,
    permits: Arc<Semaphore>,
    limits: ListenerLimits,
    stop: CancellationToken,
) {
    let graceful = GracefulShutdown::new();
    loop {
        let (stream, peer) = tokio::select! {
            _ = stop.cancelled() => break,
            accepted = socket.accept() => match accepted {
                Ok(accepted) => accepted,
                // Out of file descriptors, or a connection reset before it was
                // accepted: wait a little rather than spin.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            tokio::spawn(refuse(stream));
            continue;
        };
        let _ = stream.set_nodelay(true);
        // Handlers learn the client's address as axum's `ConnectInfo`.
        let service = router.clone().map_request(move |mut request: axum::extract::Request<hyper::body::Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            request
        });
        let service = hyper_util::service::TowerToHyperService::new(service);
        let watcher = graceful.watcher();
        let http = http.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let _permit = permit;
            match tls {
                None => {
                    let _ = watcher.watch(http.serve_connection(TokioIo::new(stream), service)).await;
                }
                Some(acceptor) => {
                    let Ok(Ok(stream)) = tokio::time::timeout(limits.header_timeout, acceptor.accept(stream)).await else { return };
                    let _ = watcher.watch(http.serve_connection(TokioIo::new(stream), service)).await;
                }
            }
        });
    }
    drop(socket);
    // Connections finish their request in flight and close; the caller bounds the wait.
    graceful.shutdown().await;
}

/// Tells a connection past the limit to retry later, briefly: the start of its
/// request is read first (an HTTP client may not read an answer that comes before
/// it has sent its request), and a client that sends or reads nothing does not
/// hold the node past a second.
async fn refuse(mut stream: TcpStream) {
    let mut request = [0u8; 1024];
    let _ = tokio::time::timeout(Duration::from_millis(500), tokio::io::AsyncReadExt::read(&mut stream, &mut request)).await;
    let _ = tokio::time::timeout(Duration::from_millis(500), async {
        stream.write_all(REFUSAL).await?;
        stream.shutdown().await
    })
    .await;
}

/// Raises the soft limit on open files to the hard limit, and answers how many
/// connections fit under it beside the node's own descriptors.
fn connection_capacity(wanted: usize) -> usize {
    let wanted = wanted.max(1);
    #[cfg(unix)]
    {
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: getrlimit and setrlimit only read and write the struct passed.
        let soft = unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
                return wanted;
            }
            if limit.rlim_cur < limit.rlim_max {
                let raised = libc::rlimit { rlim_cur: limit.rlim_max, rlim_max: limit.rlim_max };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                    limit = raised;
                }
            }
            limit.rlim_cur
        };
        let room = usize::try_from(soft).unwrap_or(usize::MAX).saturating_sub(RESERVED_DESCRIPTORS).max(1);
        if room < wanted {
            tracing::warn!(wanted, room, "http.max_connections lowered to what the open-files limit allows");
        }
        wanted.min(room)
    }
    #[cfg(not(unix))]
    wanted
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_refusal_says_its_length() {
        let text = std::str::from_utf8(super::REFUSAL).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.contains(&format!("Content-Length: {}", body.len())), "{head} / {}", body.len());
        let body: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(body["error"]["code"], 2);
    }
}
