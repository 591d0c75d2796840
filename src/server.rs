//! The accept loop: hyper with a header-read timeout, an idle timeout and a cap on
//! connections, so that slow or silent clients cannot hold the server's memory or file
//! descriptors. `axum::serve` has none of these.
//!
//! At the cap the loop stops accepting: further connections wait in the kernel's listen
//! backlog (and are refused by the kernel once it is full) rather than being accepted and
//! dropped, so a burst is served late instead of failing.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, Semaphore, watch};
use tower::ServiceExt;

use crate::config::HttpSettings;

/// Serves `router` on `listener` until `shutdown` resolves; then stops accepting, lets
/// every connection finish the request it is on, and returns once all have closed.
pub async fn serve(
    listener: TcpListener,
    router: axum::Router,
    settings: HttpSettings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let builder = Arc::new(connection_builder(&settings, true));
    let slots = Arc::new(Semaphore::new(settings.max_connections));
    let (stop, stopping) = watch::channel(false);
    tokio::pin!(shutdown);

    loop {
        let permit = tokio::select! {
            () = &mut shutdown => break,
            permit = slots.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, most likely: new connections wait in the
                    // backlog until some close.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let builder = builder.clone();
        let router = router.clone();
        let stopping = stopping.clone();
        tokio::spawn(async move {
            serve_connection(
                &builder,
                stream,
                peer,
                router,
                settings.idle_timeout,
                stopping,
            )
            .await;
            drop(permit);
        });
    }

    serve_backlog(listener, &router, &settings, &slots).await;
    let _ = stop.send(true);
    // Every connection holds a permit until it has closed.
    let all = u32::try_from(settings.max_connections).unwrap_or(u32::MAX);
    let _ = slots.acquire_many(all).await;
    Ok(())
}

fn connection_builder(settings: &HttpSettings, keep_alive: bool) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(settings.header_timeout)
        .keep_alive(keep_alive);
    // HTTP/2 has no header-read timeout; a connection whose streams never complete their
    // headers has no request in flight, so the idle timeout closes it.
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(64);
    builder
}

/// On shutdown: the connections the kernel had already completed (waiting in the listen
/// backlog) are clients that sent, or are sending, a request; each is served that one
/// request instead of being reset. Then the listener closes and new clients are refused.
async fn serve_backlog(
    listener: TcpListener,
    router: &axum::Router,
    settings: &HttpSettings,
    slots: &Arc<Semaphore>,
) {
    let Ok(listener) = listener.into_std() else {
        return;
    };
    let builder = Arc::new(connection_builder(settings, false));
    // Never stopped early: the one request ends the connection. Each task holds the
    // sender, since a dropped sender would read as a stop.
    let (keep, never) = watch::channel(false);
    let keep = Arc::new(keep);
    while let Ok((stream, peer)) = listener.accept() {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            break;
        };
        let Ok(stream) = stream
            .set_nonblocking(true)
            .and_then(|()| TcpStream::from_std(stream))
        else {
            continue;
        };
        let builder = builder.clone();
        let router = router.clone();
        let never = never.clone();
        let keep = keep.clone();
        let idle_timeout = settings.idle_timeout;
        tokio::spawn(async move {
            serve_connection(&builder, stream, peer, router, idle_timeout, never).await;
            drop((permit, keep));
        });
    }
}

async fn serve_connection(
    builder: &auto::Builder<TokioExecutor>,
    stream: TcpStream,
    peer: SocketAddr,
    router: axum::Router,
    idle_timeout: Duration,
    mut stopping: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let activity = Arc::new(Activity::default());
    let tracked = activity.clone();
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        // What `into_make_service_with_connect_info` would provide.
        request.extensions_mut().insert(ConnectInfo(peer));
        let busy = tracked.begin();
        let response = router.clone().oneshot(request);
        async move {
            let response = response.await;
            drop(busy);
            Ok::<_, Infallible>(response.unwrap_or_else(|never| match never {}))
        }
    });
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    let mut closing = false;
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, %peer, "connection ended with an error");
                }
                return;
            }
            _ = stopping.wait_for(|stop| *stop), if !closing => {
                connection.as_mut().graceful_shutdown();
                closing = true;
            }
            () = activity.idle_for(idle_timeout), if !closing => {
                connection.as_mut().graceful_shutdown();
                closing = true;
            }
        }
    }
}

/// Requests in flight on one connection, to tell an idle connection from a busy one.
#[derive(Default)]
struct Activity {
    in_flight: AtomicUsize,
    changed: Notify,
}

struct Busy(Arc<Activity>);

impl Activity {
    fn begin(self: &Arc<Self>) -> Busy {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        self.changed.notify_waiters();
        Busy(self.clone())
    }

    /// Resolves once no request has been in flight for `timeout`.
    async fn idle_for(&self, timeout: Duration) {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if self.in_flight.load(Ordering::SeqCst) == 0 {
                if tokio::time::timeout(timeout, changed).await.is_err() {
                    return;
                }
            } else {
                changed.await;
            }
        }
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.0.changed.notify_waiters();
    }
}
