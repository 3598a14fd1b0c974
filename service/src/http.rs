//! The HTTP server loop: axum's router behind hyper's HTTP/1 connection builder.
//!
//! Why not `axum::serve`: it gives hyper no timer, so hyper's header-read timeout never fires,
//! and it accepts every connection the kernel hands it. A client that opens connections and
//! sends its headers a byte at a time ("slowloris") could then hold sockets and tasks without
//! bound. Here every connection first takes a permit from a semaphore of
//! `quotas.connections` (past it, new connections wait in the kernel's listen backlog, and
//! nothing is read from them), and hyper closes any connection whose request headers have not
//! all arrived within `quotas.header_timeout_seconds` — a new connection's first request as
//! well as each next request on a kept-alive one. A connection that is idle between requests
//! is closed by the same timer. Event streams are not affected: their headers are complete.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::connect_info::IntoMakeServiceWithConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower_service::Service;

/// Limits on the connections of one listener.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    /// Connections served at once (`quotas.connections`, default 1024).
    pub connections: u32,
    /// Time a client has to send a request's complete headers (`quotas.header_timeout_seconds`,
    /// default 10 s).
    pub header_timeout: Duration,
}

/// Serves `router` on `listener` until `shutdown` resolves, then stops accepting and waits up
/// to `drain` for open requests to finish (event streams end at once: their jobs outlive us).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl std::future::Future<Output = ()>,
    drain: Duration,
) {
    let permits = Arc::new(Semaphore::new(limits.connections as usize));
    let graceful = GracefulShutdown::new();
    let mut make: IntoMakeServiceWithConnectInfo<Router, SocketAddr> =
        router.into_make_service_with_connect_info::<SocketAddr>();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout).keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        // A permit first: at the cap we stop accepting, so the backlog (not us) holds the rest.
        let permit = tokio::select! {
            () = &mut shutdown => break,
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let (stream, remote) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        // The router with the peer's address (for per-IP limits), as axum::serve gives it.
        let service = match make.call(remote).await {
            Ok(service) => service,
            Err(never) => match never {},
        };
        let service = TowerToHyperService::new(service);
        let connection = builder.serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, %remote, "connection closed with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {},
        () = tokio::time::sleep(drain) => tracing::info!("stopped waiting for open connections"),
    }
}
