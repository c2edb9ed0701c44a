//! Mutes, pure: for each site and kind, whether the site muted itself and whether a controller
//! (the chair) muted it. What the SFU forwards follows the effective state (muted by either).
//! A site cannot unmute itself against the chair; the chair's unmute also lifts the site's own
//! mute (the operator turns the site's microphone on). Kept per site, so a site that reconnects
//! is still muted by the chair.

use crate::signal::protocol::{MediaKind, MutedBy};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Switch {
    by_site: bool,
    by_chair: bool,
}

impl Switch {
    fn muted(self) -> bool {
        self.by_site || self.by_chair
    }

    fn by(self) -> MutedBy {
        if self.by_chair {
            MutedBy::Chair
        } else {
            MutedBy::Site
        }
    }
}

/// The microphone and camera of one site.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SiteMute {
    audio: Switch,
    video: Switch,
}

/// An effective change: what others are told and what the forwarding gate follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MuteChange {
    pub kind: MediaKind,
    pub muted: bool,
    pub by: MutedBy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MuteError {
    #[error("the chair muted this site's {}; only a controller can unmute it", .0.as_str())]
    MutedByChair(MediaKind),
}

impl SiteMute {
    fn switch(&mut self, kind: MediaKind) -> &mut Switch {
        match kind {
            MediaKind::Audio => &mut self.audio,
            MediaKind::Video => &mut self.video,
        }
    }

    fn get(&self, kind: MediaKind) -> Switch {
        match kind {
            MediaKind::Audio => self.audio,
            MediaKind::Video => self.video,
        }
    }

    /// Muted, by either.
    pub fn muted(&self, kind: MediaKind) -> bool {
        self.get(kind).muted()
    }

    /// Who holds the mute (meaningful when muted).
    pub fn by(&self, kind: MediaKind) -> MutedBy {
        self.get(kind).by()
    }

    /// Whether the chair holds a mute of this kind.
    pub fn chair_holds(&self, kind: MediaKind) -> bool {
        self.get(kind).by_chair
    }

    /// Applies `f` and reports the change when the effective state or its holder moved.
    fn apply(&mut self, kind: MediaKind, f: impl FnOnce(&mut Switch)) -> Option<MuteChange> {
        let before = self.get(kind);
        f(self.switch(kind));
        let after = self.get(kind);
        (before.muted() != after.muted() || (after.muted() && before.by() != after.by())).then(
            || MuteChange {
                kind,
                muted: after.muted(),
                by: after.by(),
            },
        )
    }

    /// The site mutes or unmutes itself. Unmuting against the chair is refused.
    pub fn by_site(
        &mut self,
        kind: MediaKind,
        muted: bool,
    ) -> Result<Option<MuteChange>, MuteError> {
        if !muted && self.get(kind).by_chair {
            return Err(MuteError::MutedByChair(kind));
        }
        Ok(self.apply(kind, |s| s.by_site = muted))
    }

    /// A controller mutes the site, or unmutes it (lifting the site's own mute as well).
    pub fn by_chair(&mut self, kind: MediaKind, muted: bool) -> Option<MuteChange> {
        self.apply(kind, |s| {
            s.by_chair = muted;
            if !muted {
                s.by_site = false;
            }
        })
    }

    /// A new connection of the site: its own mutes start over (its page starts unmuted), the
    /// chair's stay.
    pub fn rejoin(&mut self) {
        self.audio.by_site = false;
        self.video.by_site = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use MediaKind::*;

    #[test]
    fn a_site_cannot_unmute_itself_against_the_chair() {
        let mut m = SiteMute::default();
        assert!(!m.muted(Audio));
        let c = m.by_chair(Audio, true).unwrap();
        assert_eq!((c.muted, c.by), (true, MutedBy::Chair));
        assert_eq!(m.by_site(Audio, false), Err(MuteError::MutedByChair(Audio)));
        assert!(m.muted(Audio), "the refusal changed nothing");
        // Muting itself on top changes nothing visible.
        assert_eq!(m.by_site(Audio, true), Ok(None));
        // The video is independent.
        assert_eq!(
            m.by_site(Video, true).unwrap(),
            Some(MuteChange {
                kind: Video,
                muted: true,
                by: MutedBy::Site
            })
        );
        assert!(!m.by_site(Video, false).unwrap().unwrap().muted);
    }

    #[test]
    fn the_chairs_unmute_lifts_the_sites_own_mute_and_its_mute_takes_over() {
        let mut m = SiteMute::default();
        m.by_site(Audio, true).unwrap();
        // The chair mutes a self-muted site: still muted, now by the chair (the page must know).
        let c = m.by_chair(Audio, true).unwrap();
        assert_eq!((c.muted, c.by), (true, MutedBy::Chair));
        let c = m.by_chair(Audio, false).unwrap();
        assert!(!c.muted && !m.muted(Audio), "the microphone is on again");
        assert_eq!(m.by_chair(Audio, false), None, "nothing to lift");
        assert_eq!(m.by_site(Audio, false), Ok(None));
    }

    #[test]
    fn a_rejoining_site_keeps_the_chairs_mute_only() {
        let mut m = SiteMute::default();
        m.by_site(Video, true).unwrap();
        m.by_chair(Audio, true);
        m.rejoin();
        assert!(m.muted(Audio) && m.chair_holds(Audio));
        assert!(!m.muted(Video));
    }
}
