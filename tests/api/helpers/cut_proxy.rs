//! A TCP proxy in front of PostgreSQL that a test can cut (every connection dropped, new
//! ones refused) or stall (every connection dropped, new ones accepted and never answered)
//! and restore: the store becoming unreachable, as a partition would make it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub struct CutProxy {
    pub address: SocketAddr,
    cut: Arc<AtomicBool>,
    stalled: Arc<AtomicBool>,
    /// Bumped on every cut: live connections watch it and drop.
    cuts: watch::Sender<u64>,
}

impl CutProxy {
    /// Proxies to `upstream` (host:port) until dropped.
    pub async fn start(upstream: String) -> CutProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let address = listener.local_addr().expect("proxy address");
        let cut = Arc::new(AtomicBool::new(false));
        let stalled = Arc::new(AtomicBool::new(false));
        let (cuts, _) = watch::channel(0u64);
        let (accept_cut, accept_stalled, accept_cuts) =
            (cut.clone(), stalled.clone(), cuts.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if accept_cut.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let mut cut_signal = accept_cuts.subscribe();
                if accept_stalled.load(Ordering::SeqCst) {
                    // Held open, never answered, until the next cut or restore.
                    tokio::spawn(async move {
                        let _held = client;
                        let _ = cut_signal.changed().await;
                    });
                    continue;
                }
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let (mut client, mut server) = (client, server);
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut_signal.changed() => {}
                    }
                });
            }
        });
        CutProxy {
            address,
            cut,
            stalled,
            cuts,
        }
    }

    /// Drops every connection and refuses new ones.
    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        self.cuts.send_modify(|n| *n += 1);
    }

    /// Drops every connection; new ones are accepted and never answered, as behind a
    /// partition that drops packets.
    pub fn stall(&self) {
        self.stalled.store(true, Ordering::SeqCst);
        self.cuts.send_modify(|n| *n += 1);
    }

    pub fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
        self.stalled.store(false, Ordering::SeqCst);
        self.cuts.send_modify(|n| *n += 1);
    }
}

/// `host:port` of a `postgres://user@host:port/db` URL.
pub fn host_port(url: &str) -> String {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = after_scheme
        .split(['/', '?'])
        .next()
        .unwrap_or(after_scheme);
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    if host.contains(':') {
        host.to_owned()
    } else {
        format!("{host}:5432")
    }
}
