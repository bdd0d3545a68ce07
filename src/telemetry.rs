//! Logging: `tracing` with an env filter (`RUST_LOG`, default `info`), as text or JSON, written
//! off the request path: events are formatted on the calling thread and handed to a dedicated
//! writer thread (tracing-appender's non-blocking writer), so a slow or contended stderr never
//! stalls a request. The writer does not drop lines (it waits when its buffer of 128k lines is
//! full: back-pressure rather than lost logs); [`flush`] writes out what is buffered before
//! the process exits.

use std::sync::Mutex;

use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::{EnvFilter, fmt};

use crate::config::LogFormat;

/// Keeps the writer thread alive; dropping it flushes and stops it.
static WRITER: Mutex<Option<WorkerGuard>> = Mutex::new(None);

/// Installs the global subscriber; a second call is a no-op (tests start many apps).
pub fn init(format: LogFormat) {
    let mut writer = WRITER.lock().unwrap_or_else(|e| e.into_inner());
    if writer.is_some() {
        return;
    }
    let (stderr, guard) = NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("tenant-hub-log")
        .finish(std::io::stderr());
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = fmt().with_env_filter(filter).with_writer(stderr);
    let installed = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
    if installed.is_ok() {
        *writer = Some(guard);
    }
}

/// Writes out the buffered log lines (call before the process exits).
pub fn flush() {
    drop(WRITER.lock().unwrap_or_else(|e| e.into_inner()).take());
}
