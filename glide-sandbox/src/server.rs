//! Starting and stopping a sandbox.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::config::SandboxConfig;
use crate::control::SandboxControl;
use crate::error::StartError;
use crate::state::AppState;

/// The sandbox's routes and a control handle, to mount in your own server.
///
/// URLs the sandbox hands out use [`SandboxConfig::public_base_url`], else the request's `Host`.
///
/// ```
/// let (app, control) = glide_sandbox::router(glide_sandbox::SandboxConfig::default());
/// let _: axum::Router = app;
/// assert!(control.requests().is_empty());
/// ```
pub fn router(config: SandboxConfig) -> (axum::Router, SandboxControl) {
    let state = Arc::new(AppState::new(config));
    (
        crate::routes::router(Arc::clone(&state)),
        SandboxControl::new(state),
    )
}

/// A running sandbox. Dropping it (or [`Sandbox::shutdown`]) stops the server, so keep it alive
/// for as long as it is needed.
#[derive(Debug)]
pub struct Sandbox {
    addr: SocketAddr,
    base_url: String,
    control: SandboxControl,
    stop: Option<oneshot::Sender<()>>,
}

impl Sandbox {
    async fn bind(config: &SandboxConfig) -> Result<TcpListener, StartError> {
        let addr = SocketAddr::new(config.bind, config.port);
        TcpListener::bind(addr)
            .await
            .map_err(|source| StartError::Bind { addr, source })
    }

    /// Serves `listener` until `stop` fires (or its sender is dropped).
    fn prepare(
        config: SandboxConfig,
        listener: &TcpListener,
    ) -> Result<(Self, axum::Router, oneshot::Receiver<()>), StartError> {
        let addr = listener.local_addr()?;
        let state = Arc::new(AppState::new(config));
        let base_url = format!("http://{addr}");
        state.set_base_url_if_unset(base_url.clone());
        let app = crate::routes::router(Arc::clone(&state));
        let (stop, stopped) = oneshot::channel();
        let sandbox = Self {
            addr,
            base_url,
            control: SandboxControl::new(state),
            stop: Some(stop),
        };
        Ok((sandbox, app, stopped))
    }

    async fn serve(listener: TcpListener, app: axum::Router, stopped: oneshot::Receiver<()>) {
        let shutdown = async {
            let _ = stopped.await;
        };
        // Answers go out at once: with HTTP/2 a response is several small frames, which
        // Nagle's algorithm would otherwise hold back for the client's delayed ACK (~40 ms).
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "could not set TCP_NODELAY");
            }
        });
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(error = %e, "sandbox server stopped");
        }
    }

    /// Binds and spawns the server on the current tokio runtime, then returns.
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use glide_sandbox::{Sandbox, SandboxConfig};
    ///
    /// let sandbox = Sandbox::start(SandboxConfig::default()).await?;
    /// assert!(sandbox.base_url().starts_with("http://127.0.0.1:"));
    /// sandbox.shutdown();
    /// # Ok(()) }
    /// ```
    pub async fn start(config: SandboxConfig) -> Result<Self, StartError> {
        let listener = Self::bind(&config).await?;
        let (sandbox, app, stopped) = Self::prepare(config, &listener)?;
        tokio::spawn(Self::serve(listener, app, stopped));
        tracing::info!(url = %sandbox.base_url, "sandbox started");
        Ok(sandbox)
    }

    /// Like [`Sandbox::start`], but blocking: runs the server on its own multi-thread tokio
    /// runtime in a dedicated thread (for hosts such as actix-web that run their own runtime).
    pub fn start_on_thread(config: SandboxConfig) -> Result<Self, StartError> {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("glide-sandbox".to_owned())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = tx.send(Err(StartError::Io(e)));
                        return;
                    }
                };
                runtime.block_on(async move {
                    let started = match Self::bind(&config).await {
                        Ok(listener) => Self::prepare(config, &listener).map(|p| (listener, p)),
                        Err(e) => Err(e),
                    };
                    match started {
                        Ok((listener, (sandbox, app, stopped))) => {
                            if tx.send(Ok(sandbox)).is_ok() {
                                Self::serve(listener, app, stopped).await;
                            }
                        }
                        Err(e) => {
                            let _ = tx.send(Err(e));
                        }
                    }
                });
            })?;
        let sandbox = rx.recv().map_err(|_| StartError::ThreadEnded)??;
        tracing::info!(url = %sandbox.base_url, "sandbox started on its own thread");
        Ok(sandbox)
    }

    /// The base URL, e.g. `http://127.0.0.1:54321` (no trailing slash).
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// The bound socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A control handle (cheap to clone; works while the sandbox runs).
    pub fn control(&self) -> SandboxControl {
        self.control.clone()
    }

    /// Stops the server (in-flight requests finish first).
    pub fn shutdown(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.stop_now();
    }
}
