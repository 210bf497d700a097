//! A TCP relay on a loopback port that passes bytes to a real server (the
//! PostgreSQL server of the tests) until it is told to cut: then it drops
//! every connection it relays, as a network outage does, and hangs up on a
//! given number of the connections made next, so the outage ends after
//! those. Counting connections instead of waiting some time lets a test
//! put an outage between two writes of one run: the first write after the
//! cut fails, the next one reaches the server again.
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
        tokio::spawn(relay(client, target, state.cuts.subscribe()));
    }
}

/// Passes bytes both ways until either side closes or the relay cuts.
async fn relay(mut client: TcpStream, target: SocketAddr, mut cuts: watch::Receiver<u64>) {
    cuts.mark_unchanged();
    let Ok(mut server) = TcpStream::connect(target).await else {
        reset(client);
        return;
    };
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
        _ = cuts.changed() => reset(client),
    }
}

/// Closes with a reset instead of a clean end of stream.
fn reset(stream: TcpStream) {
    // Linger zero: dropping sends a reset; a failure leaves a clean close,
    // which the client also reads as the server gone.
    let _ = stream.set_zero_linger();
}
