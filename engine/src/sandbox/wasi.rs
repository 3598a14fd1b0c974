//! A locked-down WASI preview 1 for `wasm32-wasip1` strategies.
//!
//! A strategy built against `std` for `wasm32-wasip1` imports `wasi_snapshot_preview1` for its
//! runtime (printing, random numbers, clocks). The sandbox links a WASI that gives it nothing to
//! reach outside itself and nothing that differs between runs: no files, preopens, environment,
//! arguments or network; closed stdin; clocks fixed at one instant; random bytes from a seeded
//! ChaCha stream; stdout and stderr captured into one bounded log, truncated (never failing) when
//! full, so printing cannot change a strategy's behaviour.

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use rand::SeedableRng;
use rand_chacha::ChaCha12Rng;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtxBuilder};

/// The fixed wall-clock time every strategy sees: 2024-01-01T00:00:00Z.
const FIXED_WALL_CLOCK: Duration = Duration::from_secs(1_704_067_200);

struct FixedWallClock;

impl HostWallClock for FixedWallClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        FIXED_WALL_CLOCK
    }
}

struct FixedMonotonicClock;

impl HostMonotonicClock for FixedMonotonicClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}

#[derive(Debug, Default)]
struct LogBuffer {
    bytes: Vec<u8>,
    dropped: u64,
}

/// Captured stdout + stderr of one instance, bounded; shared between the WASI context and the
/// host that reads it.
#[derive(Clone, Debug)]
pub struct BoundedLog {
    inner: Arc<Mutex<LogBuffer>>,
    capacity: usize,
}

impl BoundedLog {
    /// An empty log keeping at most `capacity` bytes.
    pub fn new(capacity: usize) -> Self {
        Self { inner: Arc::default(), capacity }
    }

    fn append(&self, data: &[u8]) {
        let mut log = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let room = self.capacity.saturating_sub(log.bytes.len());
        let kept = room.min(data.len());
        log.bytes.extend_from_slice(&data[..kept]);
        log.dropped += (data.len() - kept) as u64;
    }

    /// The bytes kept so far, and how many were dropped for lack of room.
    pub fn contents(&self) -> (Vec<u8>, u64) {
        let log = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        (log.bytes.clone(), log.dropped)
    }
}

impl IsTerminal for BoundedLog {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for BoundedLog {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for BoundedLog {
    async fn ready(&mut self) {}
}

#[wasmtime_wasi::async_trait]
impl OutputStream for BoundedLog {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.append(&bytes);
        Ok(())
    }
    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }
    fn check_write(&mut self) -> StreamResult<usize> {
        // Always accept: what does not fit is dropped, so a chatty strategy is never failed.
        Ok(64 * 1024)
    }
}

impl tokio::io::AsyncWrite for BoundedLog {
    fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        self.append(buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Builds the WASI context for one instance: deterministic given `seed`.
pub(crate) fn locked_down_ctx(seed: u64, log: &BoundedLog) -> WasiP1Ctx {
    let mut builder = WasiCtxBuilder::new();
    builder
        .stdout(log.clone())
        .stderr(log.clone())
        .wall_clock(FixedWallClock)
        .monotonic_clock(FixedMonotonicClock)
        .secure_random(ChaCha12Rng::seed_from_u64(seed))
        .insecure_random(ChaCha12Rng::seed_from_u64(seed ^ 0x5eed_5eed_5eed_5eed))
        .insecure_random_seed(u128::from(seed))
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false);
    builder.build_p1()
}
