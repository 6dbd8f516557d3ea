//! Verified sessions ended on any app instance, announced to every instance's cache of decoded
//! sessions.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

/// The SHA-256 of a session id: the session's store key and public handle (in hex), and what
/// an announcement of its end carries (raw).
pub type SessionHash = [u8; 32];

/// What a cache of sessions is told by [`SessionEndings`].
pub(crate) trait EndingsSink: Send + Sync {
    /// The session hashed `hash` ended somewhere.
    fn ended(&self, hash: &SessionHash);
    /// Announcements may be missed from now on (the subscription is down).
    fn lost(&self);
    /// Announcements are delivered again (the subscription is back).
    fn restored(&self);
}

/// The ends of verified sessions announced by any app instance (logout, revocation, a session
/// past its lifetime), as a [`FlowEvents`](super::FlowEvents) implementation that carries them
/// across instances delivers them: `RedisEvents` does.
///
/// Obtained from [`FlowEvents::session_endings`](super::FlowEvents::session_endings); the
/// engine's session manager listens to it to keep decoded sessions in memory between requests
/// without serving one that ended elsewhere. While the subscription behind it is down, every
/// listener drops what it holds and reads the store again until it is back.
#[derive(Clone, Default)]
pub struct SessionEndings {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    sinks: Vec<Weak<dyn EndingsSink>>,
    /// Whether announcements are currently delivered.
    down: bool,
}

impl fmt::Debug for SessionEndings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("SessionEndings")
            .field("listeners", &state.sinks.len())
            .field("delivering", &!state.down)
            .finish()
    }
}

impl SessionEndings {
    /// A feed whose subscription is live.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Never held across an await; a plain list stays consistent after a panic elsewhere.
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Starts telling `sink`; a sink attached while the feed is down is told so at once.
    pub(crate) fn attach(&self, sink: Weak<dyn EndingsSink>) {
        let mut state = self.lock();
        state.sinks.retain(|sink| sink.strong_count() > 0);
        if state.down {
            if let Some(sink) = sink.upgrade() {
                sink.lost();
            }
        }
        state.sinks.push(sink);
    }

    /// Whether the feed delivers announcements now.
    pub fn is_delivering(&self) -> bool {
        !self.lock().down
    }

    /// Delivers an announcement: the raw hashes of the ended sessions, back to back. A
    /// malformed payload (not a multiple of 32 bytes) cannot be trusted to name what ended, so
    /// it counts as a lost announcement: every sink drops everything.
    pub(crate) fn deliver(&self, payload: &[u8]) {
        let state = self.lock();
        let sinks = state.sinks.iter().filter_map(Weak::upgrade);
        if payload.is_empty() || !payload.len().is_multiple_of(32) {
            tracing::warn!(
                bytes = payload.len(),
                "glide events: malformed session-ended announcement; dropping cached sessions"
            );
            for sink in sinks {
                sink.lost();
                if !state.down {
                    sink.restored();
                }
            }
            return;
        }
        for sink in sinks {
            for hash in payload.chunks_exact(32) {
                if let Ok(hash) = <&SessionHash>::try_from(hash) {
                    sink.ended(hash);
                }
            }
        }
    }

    /// The subscription is down: announcements may be missed until [`restored`](Self::restored).
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn lost(&self) {
        let mut state = self.lock();
        state.down = true;
        for sink in state.sinks.iter().filter_map(Weak::upgrade) {
            sink.lost();
        }
    }

    /// The subscription is back and confirmed: announcements are delivered again.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn restored(&self) {
        let mut state = self.lock();
        state.down = false;
        for sink in state.sinks.iter().filter_map(Weak::upgrade) {
            sink.restored();
        }
    }
}

/// The announcement of `hashes`, as [`SessionEndings::deliver`] reads it.
pub(crate) fn announcement(hashes: &[SessionHash]) -> Vec<u8> {
    hashes.concat()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Log(Mutex<Vec<String>>);

    impl EndingsSink for Log {
        fn ended(&self, hash: &SessionHash) {
            self.0.lock().unwrap().push(format!("ended {}", hash[0]));
        }
        fn lost(&self) {
            self.0.lock().unwrap().push("lost".into());
        }
        fn restored(&self) {
            self.0.lock().unwrap().push("restored".into());
        }
    }

    fn attached(endings: &SessionEndings) -> Arc<Log> {
        let log = Arc::new(Log::default());
        let sink: Weak<dyn EndingsSink> = Arc::downgrade(&log) as Weak<Log>;
        endings.attach(sink);
        log
    }

    #[test]
    fn announcements_reach_every_sink_hash_by_hash() {
        let endings = SessionEndings::new();
        let (a, b) = (attached(&endings), attached(&endings));
        endings.deliver(&announcement(&[[1; 32], [2; 32]]));
        for log in [a, b] {
            assert_eq!(*log.0.lock().unwrap(), ["ended 1", "ended 2"]);
        }
    }

    #[test]
    fn a_malformed_announcement_drops_everything() {
        let endings = SessionEndings::new();
        let log = attached(&endings);
        endings.deliver(&[7; 33]);
        endings.deliver(&[]);
        assert_eq!(
            *log.0.lock().unwrap(),
            ["lost", "restored", "lost", "restored"]
        );
    }

    #[test]
    fn debug_shows_live_listeners_and_whether_it_delivers() {
        let endings = SessionEndings::new();
        let gone = attached(&endings);
        drop(gone);
        let _kept = attached(&endings);
        // The dropped listener is forgotten when the next one attaches.
        assert_eq!(
            format!("{endings:?}"),
            "SessionEndings { listeners: 1, delivering: true }"
        );
        endings.lost();
        assert_eq!(
            format!("{endings:?}"),
            "SessionEndings { listeners: 1, delivering: false }"
        );
    }

    #[test]
    fn a_sink_attached_while_down_learns_it_at_once() {
        let endings = SessionEndings::new();
        let early = attached(&endings);
        endings.lost();
        assert!(!endings.is_delivering());
        let late = attached(&endings);
        assert_eq!(*late.0.lock().unwrap(), ["lost"]);
        endings.restored();
        assert!(endings.is_delivering());
        assert_eq!(*early.0.lock().unwrap(), ["lost", "restored"]);
        assert_eq!(*late.0.lock().unwrap(), ["lost", "restored"]);
    }
}
