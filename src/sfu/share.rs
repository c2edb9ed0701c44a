//! Screen sharing (*trình chiếu*), pure: which site presents its screen now. One share at a
//! time: a site that starts sharing replaces the one sharing before (that site's page is told and
//! stops its capture); a site that shares already cannot start a second share; a site stops its
//! own share, a controller stops anyone's; the share ends with the screen track or the site's
//! connection. Every call checks first and changes nothing when it refuses. The shared screen is a
//! video track of its own (`TrackSource::Screen`), apart from the site's camera.

use crate::signal::protocol::ShareReason;

/// Whether `mid` can name an m-line (`share_screen`): 1 to 32 letters, digits, `-` or `_`.
pub fn valid_mid(mid: &str) -> bool {
    (1..=32).contains(&mid.len())
        && mid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Who shares, and what changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareChange {
    /// The site sharing now.
    pub sharer: Option<String>,
    /// The site that shared before.
    pub previous: Option<String>,
    pub reason: ShareReason,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShareError {
    #[error("site {0} shares its screen already; stop that share first")]
    AlreadySharing(String),
    #[error("site {0} does not share its screen")]
    NotSharing(String),
    #[error("no site shares its screen")]
    NobodyShares,
}

/// The screen share of one session.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Share {
    sharer: Option<String>,
}

impl Share {
    pub fn sharer(&self) -> Option<&str> {
        self.sharer.as_deref()
    }

    /// `site` starts sharing (replacing another site's share).
    pub fn start(&mut self, site: &str) -> Result<ShareChange, ShareError> {
        if self.sharer() == Some(site) {
            return Err(ShareError::AlreadySharing(site.to_string()));
        }
        let previous = self.sharer.replace(site.to_string());
        Ok(ShareChange {
            sharer: Some(site.to_string()),
            reason: if previous.is_some() {
                ShareReason::Replaced
            } else {
                ShareReason::Started
            },
            previous,
        })
    }

    /// `site` stops its own share.
    pub fn stop_own(&mut self, site: &str) -> Result<ShareChange, ShareError> {
        if self.sharer() != Some(site) {
            return Err(ShareError::NotSharing(site.to_string()));
        }
        Ok(self.end(ShareReason::Stopped))
    }

    /// A controller stops the share of `site` (or, `None`, whoever shares).
    pub fn stop_by_controller(&mut self, site: Option<&str>) -> Result<ShareChange, ShareError> {
        match (self.sharer(), site) {
            (None, None) => Err(ShareError::NobodyShares),
            (Some(s), Some(want)) if s != want => Err(ShareError::NotSharing(want.to_string())),
            (None, Some(want)) => Err(ShareError::NotSharing(want.to_string())),
            _ => Ok(self.end(ShareReason::StoppedByController)),
        }
    }

    /// `site`'s screen track ended or the site left: its share, if any, ends.
    pub fn on_ended(&mut self, site: &str) -> Option<ShareChange> {
        (self.sharer() == Some(site)).then(|| self.end(ShareReason::Ended))
    }

    fn end(&mut self, reason: ShareReason) -> ShareChange {
        ShareChange {
            sharer: None,
            previous: self.sharer.take(),
            reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mids_are_short_tokens() {
        for ok in ["0", "2", "video-1", "a_b"] {
            assert!(valid_mid(ok), "{ok}");
        }
        for bad in ["", " ", "1 2", "é", "<script>", &"9".repeat(33)] {
            assert!(!valid_mid(bad), "{bad:?}");
        }
    }

    #[test]
    fn one_share_at_a_time_a_new_one_replaces_the_old() {
        let mut s = Share::default();
        let c = s.start("a").unwrap();
        assert_eq!(
            c,
            ShareChange {
                sharer: Some("a".into()),
                previous: None,
                reason: ShareReason::Started
            }
        );
        let c = s.start("b").unwrap();
        assert_eq!(c.previous.as_deref(), Some("a"));
        assert_eq!(c.reason, ShareReason::Replaced);
        assert_eq!(s.sharer(), Some("b"));
    }

    #[test]
    fn a_second_share_from_the_sharing_site_is_refused_and_changes_nothing() {
        let mut s = Share::default();
        s.start("a").unwrap();
        let before = s.clone();
        assert_eq!(s.start("a"), Err(ShareError::AlreadySharing("a".into())));
        assert_eq!(s, before);
    }

    #[test]
    fn stopping_own_by_a_controller_and_by_the_track_ending() {
        let mut s = Share::default();
        assert_eq!(s.stop_own("a"), Err(ShareError::NotSharing("a".into())));
        assert_eq!(s.stop_by_controller(None), Err(ShareError::NobodyShares));
        assert_eq!(
            s.stop_by_controller(Some("a")),
            Err(ShareError::NotSharing("a".into()))
        );
        assert_eq!(s.on_ended("a"), None);
        s.start("a").unwrap();
        assert_eq!(s.stop_own("b"), Err(ShareError::NotSharing("b".into())));
        assert_eq!(
            s.stop_by_controller(Some("b")),
            Err(ShareError::NotSharing("b".into()))
        );
        assert_eq!(s.on_ended("b"), None);
        assert_eq!(s.sharer(), Some("a"), "refusals change nothing");
        let c = s.stop_own("a").unwrap();
        assert_eq!(
            (c.previous.as_deref(), c.reason),
            (Some("a"), ShareReason::Stopped)
        );
        s.start("a").unwrap();
        let c = s.stop_by_controller(None).unwrap();
        assert_eq!(c.reason, ShareReason::StoppedByController);
        s.start("a").unwrap();
        let c = s.stop_by_controller(Some("a")).unwrap();
        assert_eq!((c.previous.as_deref(), c.sharer), (Some("a"), None));
        s.start("a").unwrap();
        assert_eq!(s.on_ended("a").unwrap().reason, ShareReason::Ended);
        assert_eq!(s.sharer(), None);
    }
}
