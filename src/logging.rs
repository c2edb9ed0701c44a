//! The process's log: `GIAOBAN_LOG` (an `EnvFilter`) decides what is written to stderr. The WebRTC
//! stack (targets `webrtc…`, `rtc…`) reports some failures once per packet — a write racing the
//! removal of its track, an SRTP replay — so its events are counted
//! (`giaoban_media_stack_log_events_total` in `/metrics`) and each of its call sites is written
//! at most once every [`STACK_LINE_EVERY`]: a burst costs one line, never one per packet.
//! Our own events are all written.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};
use tracing::Metadata;
use tracing::callsite::Identifier;
use tracing::subscriber::Interest;
use tracing_subscriber::filter::{EnvFilter, dynamic_filter_fn};
use tracing_subscriber::prelude::*;

/// How often one call site of the WebRTC stack may write a line.
pub const STACK_LINE_EVERY: Duration = Duration::from_secs(10);

static STACK_EVENTS: AtomicU64 = AtomicU64::new(0);

/// Events of the WebRTC stack that passed the filter since the start (written or held back).
pub fn stack_events() -> u64 {
    STACK_EVENTS.load(Relaxed)
}

fn is_stack(target: &str) -> bool {
    target.starts_with("webrtc") || target.starts_with("rtc")
}

/// When each call site last wrote a line, pure: the caller passes the time.
#[derive(Default)]
pub struct Throttle {
    last: HashMap<Identifier, Instant>,
}

impl Throttle {
    /// Whether the call site `site` may write a line at `now`.
    pub fn admit(&mut self, site: Identifier, now: Instant) -> bool {
        match self.last.get(&site) {
            Some(&at) if now.saturating_duration_since(at) < STACK_LINE_EVERY => false,
            _ => {
                self.last.insert(site, now);
                true
            }
        }
    }
}

/// Installs the log on stderr: `filter` decides what is recorded; the stack's events are counted
/// and throttled per call site.
pub fn init(filter: EnvFilter) {
    let _ = tracing::subscriber::set_global_default(subscriber(filter, std::io::stderr));
}

/// The log's subscriber, writing to `writer`.
pub fn subscriber<W>(filter: EnvFilter, writer: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let throttle = Mutex::new(Throttle::default());
    let stack_lines = dynamic_filter_fn(move |meta: &Metadata<'_>, _| {
        if !meta.is_event() || !is_stack(meta.target()) {
            return true;
        }
        STACK_EVENTS.fetch_add(1, Relaxed);
        throttle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .admit(meta.callsite(), Instant::now())
    })
    // Asked at every event of the stack (not cached per call site), so that it can throttle.
    .with_callsite_filter(|meta| {
        if is_stack(meta.target()) {
            Interest::sometimes()
        } else {
            Interest::always()
        }
    });
    tracing_subscriber::registry().with(filter).with(
        tracing_subscriber::fmt::layer()
            .with_writer(writer)
            .with_ansi(false)
            .with_filter(stack_lines),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    struct A;
    struct B;
    static CALLSITE_A: A = A;
    static CALLSITE_B: B = B;
    impl tracing::Callsite for A {
        fn set_interest(&self, _: tracing::subscriber::Interest) {}
        fn metadata(&self) -> &Metadata<'_> {
            unimplemented!("not needed for an identifier")
        }
    }
    impl tracing::Callsite for B {
        fn set_interest(&self, _: tracing::subscriber::Interest) {}
        fn metadata(&self) -> &Metadata<'_> {
            unimplemented!("not needed for an identifier")
        }
    }

    #[test]
    fn one_line_per_call_site_per_period() {
        let (a, b) = (Identifier(&CALLSITE_A), Identifier(&CALLSITE_B));
        let mut t = Throttle::default();
        let t0 = Instant::now();
        assert!(t.admit(a.clone(), t0));
        // A burst from the same place: held back.
        for ms in [1, 10, 5_000, 9_999] {
            assert!(!t.admit(a.clone(), t0 + Duration::from_millis(ms)));
        }
        // Another place is not held back by the first.
        assert!(t.admit(b.clone(), t0 + Duration::from_millis(2)));
        // After the period, one more line.
        assert!(t.admit(a.clone(), t0 + STACK_LINE_EVERY));
        assert!(!t.admit(a, t0 + STACK_LINE_EVERY + Duration::from_millis(1)));
        assert!(!t.admit(b, t0 + Duration::from_millis(3)));
    }

    #[derive(Clone, Default)]
    struct Buffer(std::sync::Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buffer {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_burst_of_stack_errors_is_counted_and_written_once() {
        let out = Buffer::default();
        let writer = out.clone();
        let sub = subscriber(
            EnvFilter::new("warn,giaoban=info,webrtc=error"),
            move || writer.clone(),
        );
        let before = stack_events();
        tracing::subscriber::with_default(sub, || {
            for i in 0..50 {
                tracing::error!(target: "webrtc::peer_connection::driver", "unknown sender id {i}");
            }
            tracing::warn!(target: "webrtc::peer_connection::driver", "below the filter");
            tracing::info!(target: "giaoban::sfu", "ours 1");
            tracing::info!(target: "giaoban::sfu", "ours 2");
        });
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.matches("unknown sender id").count(), 1, "{text}");
        assert!(text.contains("unknown sender id 0"), "{text}");
        assert!(text.contains("ours 1") && text.contains("ours 2"), "{text}");
        assert!(!text.contains("below the filter"));
        assert!(stack_events() - before >= 50);
    }

    #[test]
    fn only_the_webrtc_stack_is_throttled() {
        for t in [
            "webrtc::peer_connection::driver",
            "rtc::peer_connection",
            "rtc_srtp",
        ] {
            assert!(is_stack(t), "{t}");
        }
        for t in ["giaoban::sfu", "sqlx::query", "tower_http"] {
            assert!(!is_stack(t), "{t}");
        }
    }
}
