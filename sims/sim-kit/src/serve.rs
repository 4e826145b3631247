//! Serving: listeners, the server tasks and their graceful shutdown, responses.

use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;

/// Locks a mutex, also after a panic in another request (the data is still the simulator's
/// best knowledge; a test fails on the panic itself).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Binds `count` listeners: all on free ports when the port of `listen` is 0, else on
/// consecutive ports from it (the first on `listen` itself). Answers each listener with the
/// address it got.
pub async fn bind(
    listen: SocketAddr,
    count: usize,
) -> Result<Vec<(TcpListener, SocketAddr)>, String> {
    let mut listeners = Vec::with_capacity(count);
    for i in 0..count {
        let mut addr = listen;
        if addr.port() != 0 {
            let port = u16::try_from(usize::from(addr.port()) + i)
                .map_err(|_| format!("port {} + {i} is out of range", addr.port()))?;
            addr.set_port(port);
        }
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        let local = listener.local_addr().map_err(|e| e.to_string())?;
        listeners.push((listener, local));
    }
    Ok(listeners)
}

/// The servers of a running simulator, one task per listener; dropping it does not stop
/// them, [`Server::shutdown`] does.
#[derive(Debug)]
pub struct Server {
    stops: Vec<tokio::sync::oneshot::Sender<()>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Server {
    /// Serves each router on its listener, in background tasks.
    pub fn spawn(routes: Vec<(TcpListener, Router)>) -> Server {
        let mut stops = Vec::with_capacity(routes.len());
        let mut tasks = Vec::with_capacity(routes.len());
        for (listener, router) in routes {
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            stops.push(stop);
            tasks.push(tokio::spawn(async move {
                let _ = axum::serve(listener, router)
                    .with_graceful_shutdown(async move {
                        let _ = stopped.await;
                    })
                    .await;
            }));
        }
        Server { stops, tasks }
    }

    /// Stops accepting connections and waits for the server tasks.
    pub async fn shutdown(mut self) {
        for stop in self.stops.drain(..) {
            let _ = stop.send(());
        }
        self.wait().await;
    }

    /// Waits for the server tasks to end (never, unless one fails).
    pub async fn wait(mut self) {
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
    }
}

/// A running simulator: its servers and its state `A`, whose methods (what the simulator
/// holds, out-of-band changes) it derefs to. Dropping it does not stop the servers,
/// [`Handle::shutdown`] does.
pub struct Handle<A> {
    server: Server,
    app: Arc<A>,
}

impl<A> Handle<A> {
    /// The handle of servers serving `app`.
    pub fn new(server: Server, app: Arc<A>) -> Self {
        Handle { server, app }
    }

    /// Stops accepting connections and waits for the server tasks.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }

    /// Waits for the server tasks to end (never, unless one fails).
    pub async fn wait(self) {
        self.server.wait().await;
    }
}

impl<A> Deref for Handle<A> {
    type Target = A;
    fn deref(&self) -> &A {
        &self.app
    }
}

/// A JSON answer with the API's own `content-type` (an unknown status becomes 500).
pub fn reply(status: u16, content_type: &'static str, body: String) -> Response {
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        [("content-type", content_type)],
        body,
    )
        .into_response()
}
