//! A loopback HTTP server whose every answer never ends: what a wrong URL
//! or a hostile server can send. Tests use it to check that a client reads
//! only so much of an answer before giving up.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// How much each answer sends before closing (more than any client limit
/// under test).
pub const ENDLESS_BYTES: usize = 64 * 1024 * 1024;

/// The server; answers `200 OK` with `ENDLESS_BYTES` of spaces and no
/// `Content-Length`, so the client must count as it reads. Stops (and
/// joins its accepting thread) when dropped.
#[derive(Debug)]
pub struct EndlessHttp {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl EndlessHttp {
    /// Starts on 127.0.0.1, answering with `content_type`.
    pub fn start(content_type: &'static str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local address");
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let acceptor = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    return;
                }
                if let Ok(conn) = conn {
                    // Ends when the client hangs up (a write fails).
                    std::thread::spawn(move || answer(conn, content_type));
                }
            }
        });
        EndlessHttp {
            addr,
            stop,
            acceptor: Some(acceptor),
        }
    }

    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

fn answer(mut conn: TcpStream, content_type: &str) {
    let mut request = vec![0u8; 64 * 1024];
    let _ = conn.read(&mut request);
    let head =
        format!("HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nConnection: close\r\n\r\n");
    if conn.write_all(head.as_bytes()).is_err() {
        return;
    }
    let chunk = vec![b' '; 1024 * 1024];
    for _ in 0..ENDLESS_BYTES / chunk.len() {
        if conn.write_all(&chunk).is_err() {
            return;
        }
    }
}

impl Drop for EndlessHttp {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the acceptor, which then sees `stop`.
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.acceptor.take() {
            let _ = t.join();
        }
    }
}
