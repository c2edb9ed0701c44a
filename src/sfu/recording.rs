//! The SFU's side of recording: which sessions are being recorded, tapping their published
//! tracks (those live when recording starts and those published later) and telling every site
//! that a recording runs (`recording` protocol message, also sent to a site that joins meanwhile).
//! What is recorded and how is `crate::record`'s business: the SFU only hands out the packets.

use super::forward::{PublishedTrack, TapSource};
use super::{Sfu, Shared};
use crate::signal::protocol::MediaKind;
use crate::signal::protocol::ServerMsg;
use std::sync::Arc;

/// One session being recorded.
#[derive(Clone)]
pub struct Recording {
    pub recording_id: String,
    pub source: Arc<dyn TapSource>,
}

impl Shared {
    /// Taps `track` when its session is being recorded (a track published during a recording).
    pub(super) fn tap_if_recording(&self, track: &Arc<PublishedTrack>, session_id: &str) {
        let source = self
            .recorders
            .lock()
            .expect("recorders")
            .get(session_id)
            .map(|r| r.source.clone());
        if let Some(source) = source {
            tap(track, source.as_ref());
        }
    }

    /// The `recording` message a site that joins a recorded session is sent.
    pub(super) fn recording_notice(&self, session_id: &str) -> Option<ServerMsg> {
        let recorders = self.recorders.lock().expect("recorders");
        let r = recorders.get(session_id)?;
        Some(ServerMsg::Recording {
            active: true,
            recording_id: r.recording_id.clone(),
            error: None,
        })
    }

    fn room(&self, session_id: &str) -> Option<Arc<super::room::Room>> {
        self.rooms.lock().expect("rooms").get(session_id).cloned()
    }
}

fn tap(track: &Arc<PublishedTrack>, source: &dyn TapSource) {
    // A site's file holds its camera and microphone; its shared screen is not recorded.
    if track.source == crate::signal::protocol::TrackSource::Screen {
        return;
    }
    track.set_tap(source.tap(track));
    if track.kind == MediaKind::Video {
        // A file starts with a keyframe: ask for one now rather than wait for the next.
        track.request_keyframe();
    }
}

impl Sfu {
    /// Starts recording `session_id`: every live track and every track published from now on is
    /// tapped by `source`, and every site is told. Replaces a recording already running.
    pub fn start_recording(&self, session_id: &str, recording: Recording) {
        let shared = &self.shared;
        let source = recording.source.clone();
        let id = recording.recording_id.clone();
        shared
            .recorders
            .lock()
            .expect("recorders")
            .insert(session_id.to_string(), recording);
        if let Some(room) = shared.room(session_id) {
            for track in room.tracks() {
                tap(&track, source.as_ref());
            }
            for m in room.members() {
                m.send(ServerMsg::Recording {
                    active: true,
                    recording_id: id.clone(),
                    error: None,
                });
            }
        }
    }

    /// Stops recording `session_id` (if it records): the taps are removed and every site is told,
    /// with `error` when the recording stopped because of one (a full disk).
    pub fn stop_recording(&self, session_id: &str, error: Option<String>) -> bool {
        let shared = &self.shared;
        let Some(r) = shared
            .recorders
            .lock()
            .expect("recorders")
            .remove(session_id)
        else {
            return false;
        };
        if let Some(room) = shared.room(session_id) {
            for track in room.tracks() {
                track.set_tap(None);
            }
            for m in room.members() {
                m.send(ServerMsg::Recording {
                    active: false,
                    recording_id: r.recording_id.clone(),
                    error: error.clone(),
                });
            }
        }
        true
    }

    /// The id of the recording running in `session_id`, if any.
    pub fn recording_in(&self, session_id: &str) -> Option<String> {
        self.shared
            .recorders
            .lock()
            .expect("recorders")
            .get(session_id)
            .map(|r| r.recording_id.clone())
    }
}
