//! An axum app served on 127.0.0.1 from a thread of its own, for the mock model APIs: the tests
//! stay synchronous and the mock keeps answering while a test blocks on a CLI process.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::thread::JoinHandle;

use axum::Router;

/// A running server. Dropping it stops the server.
pub struct Served {
    pub addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Served {
    /// Binds 127.0.0.1 on a free port and serves `app` on a thread named `name`.
    pub fn start(name: &str, app: Router) -> Served {
        // Bound here, not on the server thread, so the port is known and accepting before the
        // test starts the CLI.
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("mock runtime");
                rt.block_on(async move {
                    let listener =
                        tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                    // Stopping drops the server future; the runtime's drop then cancels open
                    // connections, so shutdown never waits on a client's keep-alive.
                    tokio::select! {
                        res = axum::serve(listener, app) => res.expect("mock server"),
                        _ = rx => {}
                    }
                });
            })
            .expect("spawn mock thread");
        Served {
            addr,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
