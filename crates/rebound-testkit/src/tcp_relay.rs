//! A TCP relay on a loopback port that passes bytes to a real server (the
//! PostgreSQL server of the tests) until it is told to cut: then it drops
//! every connection it relays, as a network outage does, and hangs up on a
//! given number of the connections made next, so the outage ends after
//! those. Counting connections instead of waiting some time lets a test
//! put an outage between two writes of one run: the first write after the
//! cut fails, the next one reaches the server again.
//!
//! It can also freeze: pass nothing either way while keeping every
//! connection open and accepting new ones, as a network path that died
//! behind a firewall or load balancer that still acknowledges does. The
//! client then waits for answers that never come.
//!
//! A hang-up is a reset (linger zero), so the client reads a connection
//! error at once, as from a server that went away, rather than a clean end
//! of stream it might take for a protocol error.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

#[derive(Debug)]
struct State {
    /// Bumped by every cut; each relayed connection ends when it changes.
    cuts: watch::Sender<u64>,
    /// Connections still to hang up on before relaying again.
    hang_up_next: AtomicU32,
    /// Connections hung up on so far.
    hung_up: AtomicU32,
    /// While true, nothing passes and new connections are held silent.
    frozen: watch::Sender<bool>,
}

/// A running relay. Dropping it stops accepting; connections it relays end
/// with their peers.
pub struct TcpRelay {
    addr: SocketAddr,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TcpRelay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TcpRelay {
    /// Starts relaying a free loopback port to `target`.
    pub async fn start(target: SocketAddr) -> TcpRelay {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let addr = listener.local_addr().expect("the bound address");
        let state = Arc::new(State {
            cuts: watch::channel(0).0,
            hang_up_next: AtomicU32::new(0),
            hung_up: AtomicU32::new(0),
            frozen: watch::channel(false).0,
        });
        let task = tokio::spawn(accept(listener, target, state.clone()));
        TcpRelay { addr, state, task }
    }

    /// The relay's own address, to put in the client's URL.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Drops every connection relayed now and hangs up on the next
    /// `connections` made to the relay; connections after those are
    /// relayed again.
    pub fn cut(&self, connections: u32) {
        self.state.hang_up_next.store(connections, Ordering::SeqCst);
        self.state.cuts.send_modify(|n| *n += 1);
    }

    /// Passes nothing from now on, on every connection, old or new, while
    /// keeping them open.
    pub fn freeze(&self) {
        self.state.frozen.send_replace(true);
    }

    /// Connections hung up on so far.
    pub fn hung_up(&self) -> u32 {
        self.state.hung_up.load(Ordering::SeqCst)
    }
}

async fn accept(listener: TcpListener, target: SocketAddr, state: Arc<State>) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            continue;
        };
        let hang_up = state
            .hang_up_next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if hang_up {
            state.hung_up.fetch_add(1, Ordering::SeqCst);
            reset(client);
            continue;
        }
        tokio::spawn(relay(
            client,
            target,
            state.cuts.subscribe(),
            state.frozen.subscribe(),
        ));
    }
}

/// Passes bytes both ways until either side closes or the relay cuts;
/// while frozen, holds both ends open and passes nothing.
async fn relay(
    mut client: TcpStream,
    target: SocketAddr,
    mut cuts: watch::Receiver<u64>,
    mut frozen: watch::Receiver<bool>,
) {
    cuts.mark_unchanged();
    let freeze = async move {
        // An error means the relay is gone: then never freeze.
        if frozen.wait_for(|f| *f).await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    tokio::pin!(freeze);
    let mut server = tokio::select! {
        connected = TcpStream::connect(target) => match connected {
            Ok(server) => server,
            Err(_) => return reset(client),
        },
        _ = &mut freeze => {
            let _ = cuts.changed().await;
            return reset(client);
        }
    };
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
        _ = cuts.changed() => reset(client),
        _ = &mut freeze => {
            // Both ends stay open, silent, until a cut.
            let _ = cuts.changed().await;
            reset(client);
        }
    }
}

/// Closes with a reset instead of a clean end of stream.
fn reset(stream: TcpStream) {
    // Linger zero: dropping sends a reset; a failure leaves a clean close,
    // which the client also reads as the server gone.
    let _ = stream.set_zero_linger();
}
