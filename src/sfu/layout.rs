//! Layouts that drive forwarding, pure: what a site's page shows decides which video the server
//! sends it. A page either keeps the default layout of its kind of site, or names its tiles
//! (`subscribe`). Defaults: a remote site (commune, department) sees the host large, the floor
//! holder and the shared screen; the host sees the floor holder or the shared screen large and a
//! paginated grid of the other connected sites (by site id, `chair.grid_page_size` per page), and
//! receives only the page on screen. A site's camera and its shared screen are two different
//! video tracks ([`Feed`]): the defaults show the sharer's screen, not its camera, and a screen is
//! only ever sent while its site shares. Audio is not decided here: every site's audio is
//! negotiated and forwarded while it is not muted (see `mute` and `Room::tracks_for`).

use super::control::Roster;
use crate::signal::protocol::{TileRequest, TrackSource};
use std::collections::BTreeSet;

/// Largest tile the server accepts, in CSS pixels (a 4K screen).
pub const MAX_TILE_WIDTH: u32 = 3840;
pub const MAX_TILE_HEIGHT: u32 = 2160;
/// Smallest tile: below this nothing can be seen.
pub const MIN_TILE_SIDE: u32 = 16;

/// The page size and the most tiles a subscriber may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub page_size: usize,
    pub max_tiles: usize,
}

/// One tile a page shows: a site's camera or screen at a size (the size is kept for layer choice).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tile {
    pub site_id: String,
    pub width: u32,
    pub height: u32,
    pub source: TrackSource,
}

/// One video a subscriber receives: a site's camera or its shared screen.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Feed {
    pub site_id: String,
    pub source: TrackSource,
}

impl Feed {
    pub fn camera(site_id: impl Into<String>) -> Feed {
        Feed {
            site_id: site_id.into(),
            source: TrackSource::Camera,
        }
    }

    pub fn screen(site_id: impl Into<String>) -> Feed {
        Feed {
            site_id: site_id.into(),
            source: TrackSource::Screen,
        }
    }
}

/// What a site's page shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subscription {
    /// The default layout of the site's kind; `page` of the host's grid.
    Default { page: usize },
    /// Exactly these tiles.
    Tiles(Vec<Tile>),
}

impl Default for Subscription {
    fn default() -> Self {
        Subscription::Default { page: 0 }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    #[error("site {0} is not invited to this session")]
    UnknownSite(String),
    #[error("{0}")]
    Bad(String),
}

/// The state of the room a layout depends on.
#[derive(Debug, Clone, Copy)]
pub struct Stage<'a> {
    pub roster: &'a Roster,
    /// The connected sites, sorted by id.
    pub connected: &'a [String],
    pub floor: Option<&'a str>,
    /// The site sharing its screen.
    pub sharer: Option<&'a str>,
}

/// How many pages the grid of `me` has (at least one).
pub fn pages(me: &str, stage: &Stage<'_>, limits: Limits) -> usize {
    let others = stage.connected.iter().filter(|s| *s != me).count();
    others.div_ceil(limits.page_size).max(1)
}

/// Checks a `subscribe` request: either tiles (invited sites other than the subscriber, each
/// once, sizes in range, at most `max_tiles`) or a page of the grid that exists now.
pub fn validate(
    me: &str,
    tiles: Option<Vec<TileRequest>>,
    page: Option<u32>,
    stage: &Stage<'_>,
    limits: Limits,
) -> Result<Subscription, LayoutError> {
    let bad = |m: String| Err(LayoutError::Bad(m));
    let Some(tiles) = tiles else {
        let page = page.unwrap_or(0) as usize;
        let n = pages(me, stage, limits);
        if page >= n {
            return bad(format!("page {page} does not exist (pages 0 to {})", n - 1));
        }
        return Ok(Subscription::Default { page });
    };
    if page.is_some() {
        return bad("give either video tiles or a page, not both".into());
    }
    if tiles.len() > limits.max_tiles {
        return bad(format!(
            "{} tiles asked for; at most {}",
            tiles.len(),
            limits.max_tiles
        ));
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(tiles.len());
    for t in tiles {
        if !stage.roster.is_invited(&t.site_id) {
            return Err(LayoutError::UnknownSite(t.site_id));
        }
        if t.site_id == me {
            return bad("a site does not receive its own video".into());
        }
        if !seen.insert((t.site_id.clone(), t.source)) {
            return bad(format!(
                "the {} of site {} is named twice",
                t.source.as_str(),
                t.site_id
            ));
        }
        let ok = |v: u32, max: u32| (MIN_TILE_SIDE..=max).contains(&v);
        if !ok(t.width, MAX_TILE_WIDTH) || !ok(t.height, MAX_TILE_HEIGHT) {
            return bad(format!(
                "tile {}×{} of {} is out of range ({MIN_TILE_SIDE} to {MAX_TILE_WIDTH}×{MAX_TILE_HEIGHT})",
                t.width, t.height, t.site_id
            ));
        }
        out.push(Tile {
            site_id: t.site_id,
            width: t.width,
            height: t.height,
            source: t.source,
        });
    }
    Ok(Subscription::Tiles(out))
}

/// The videos `me` receives: cameras, and the screen of the site sharing (no other screen).
pub fn video_for(
    me: &str,
    sub: &Subscription,
    stage: &Stage<'_>,
    limits: Limits,
) -> BTreeSet<Feed> {
    let mut out = BTreeSet::new();
    match sub {
        Subscription::Tiles(tiles) => {
            out.extend(tiles.iter().map(|t| Feed {
                site_id: t.site_id.clone(),
                source: t.source,
            }));
        }
        Subscription::Default { page } => {
            out.extend(stage.floor.map(Feed::camera));
            out.extend(stage.sharer.map(Feed::screen));
            if stage.roster.is_host(me) {
                // A page that no longer exists (sites left) shows the last one.
                let last = pages(me, stage, limits) - 1;
                let start = (*page).min(last) * limits.page_size;
                out.extend(
                    stage
                        .connected
                        .iter()
                        .filter(|s| *s != me)
                        .skip(start)
                        .take(limits.page_size)
                        .map(Feed::camera),
                );
            } else {
                out.insert(Feed::camera(stage.roster.host_site_id.clone()));
            }
        }
    }
    out.retain(|f| {
        f.site_id != me && (f.source == TrackSource::Camera || stage.sharer == Some(&f.site_id))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        page_size: 10,
        max_tiles: 12,
    };

    fn sites(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("s{i:02}")).collect()
    }

    fn roster(n: usize) -> Roster {
        Roster::new("host", sites(n))
    }

    fn connected(n: usize) -> Vec<String> {
        let mut v = sites(n);
        v.push("host".into());
        v.sort();
        v
    }

    fn tile(site: &str, w: u32, h: u32) -> TileRequest {
        TileRequest {
            site_id: site.into(),
            width: w,
            height: h,
            source: TrackSource::Camera,
        }
    }

    fn screen(site: &str) -> TileRequest {
        TileRequest {
            source: TrackSource::Screen,
            ..tile(site, 1280, 720)
        }
    }

    fn cams<S: AsRef<str>>(sites: impl IntoIterator<Item = S>) -> BTreeSet<Feed> {
        sites
            .into_iter()
            .map(|s| Feed::camera(s.as_ref()))
            .collect()
    }

    #[test]
    fn a_remote_site_sees_the_host_the_floor_and_the_screen() {
        let r = roster(30);
        let c = connected(30);
        let mut stage = Stage {
            roster: &r,
            connected: &c,
            floor: None,
            sharer: None,
        };
        let d = Subscription::default();
        assert_eq!(video_for("s05", &d, &stage, LIMITS), cams(["host"]));
        stage.floor = Some("s07");
        stage.sharer = Some("s09");
        let mut want = cams(["host", "s07"]);
        want.insert(Feed::screen("s09"));
        // The sharer's screen, not its camera.
        assert_eq!(video_for("s05", &d, &stage, LIMITS), want);
        // The floor holder does not receive itself; the sharer not its own screen.
        assert_eq!(
            video_for("s07", &d, &stage, LIMITS),
            [Feed::camera("host"), Feed::screen("s09")].into()
        );
        assert_eq!(video_for("s09", &d, &stage, LIMITS), cams(["host", "s07"]));
        // The sharer may be the floor holder: both its camera and its screen.
        stage.sharer = Some("s07");
        assert_eq!(
            video_for("s05", &d, &stage, LIMITS),
            [
                Feed::camera("host"),
                Feed::camera("s07"),
                Feed::screen("s07")
            ]
            .into()
        );
    }

    #[test]
    fn the_host_receives_the_screen_with_its_page() {
        let r = roster(29);
        let c = connected(29);
        let stage = Stage {
            roster: &r,
            connected: &c,
            floor: None,
            sharer: Some("s25"),
        };
        let v = video_for("host", &Subscription::Default { page: 0 }, &stage, LIMITS);
        let mut want = cams(sites(10));
        want.insert(Feed::screen("s25"));
        assert_eq!(v, want);
    }

    #[test]
    fn a_screen_tile_is_sent_only_while_its_site_shares() {
        let r = roster(5);
        let c = connected(5);
        let mut stage = Stage {
            roster: &r,
            connected: &c,
            floor: None,
            sharer: None,
        };
        let sub = validate(
            "s01",
            Some(vec![tile("s02", 320, 180), screen("s02")]),
            None,
            &stage,
            LIMITS,
        )
        .unwrap();
        assert_eq!(video_for("s01", &sub, &stage, LIMITS), cams(["s02"]));
        stage.sharer = Some("s03");
        assert_eq!(video_for("s01", &sub, &stage, LIMITS), cams(["s02"]));
        stage.sharer = Some("s02");
        assert_eq!(
            video_for("s01", &sub, &stage, LIMITS),
            [Feed::camera("s02"), Feed::screen("s02")].into()
        );
        // The same screen twice, or the own screen: refused.
        assert!(matches!(
            validate(
                "s01",
                Some(vec![screen("s02"), screen("s02")]),
                None,
                &stage,
                LIMITS
            ),
            Err(LayoutError::Bad(_))
        ));
        assert!(matches!(
            validate("s01", Some(vec![screen("s01")]), None, &stage, LIMITS),
            Err(LayoutError::Bad(_))
        ));
    }

    #[test]
    fn the_host_receives_only_the_page_on_screen_and_the_floor() {
        let r = roster(29);
        let c = connected(29); // 29 others: pages of 10, 10, 9
        let mut stage = Stage {
            roster: &r,
            connected: &c,
            floor: None,
            sharer: None,
        };
        assert_eq!(pages("host", &stage, LIMITS), 3);
        let page = |p| video_for("host", &Subscription::Default { page: p }, &stage, LIMITS);
        assert_eq!(page(0), cams(sites(10)));
        assert_eq!(page(2), cams(&sites(29)[20..]));
        assert_eq!(page(7), page(2), "a page gone shows the last one");
        stage.floor = Some("s25");
        let v = video_for("host", &Subscription::Default { page: 0 }, &stage, LIMITS);
        assert_eq!(v.len(), 11);
        assert!(v.contains(&Feed::camera("s25")));
        assert_eq!(pages("s01", &stage, LIMITS), 3);
    }

    #[test]
    fn named_tiles_are_exactly_what_is_received() {
        let r = roster(5);
        let c = connected(5);
        let stage = Stage {
            roster: &r,
            connected: &c,
            floor: Some("s03"),
            sharer: None,
        };
        let sub = validate(
            "s01",
            Some(vec![tile("host", 1280, 720)]),
            None,
            &stage,
            LIMITS,
        )
        .unwrap();
        assert_eq!(video_for("s01", &sub, &stage, LIMITS), cams(["host"]));
        let none = validate("s01", Some(vec![]), None, &stage, LIMITS).unwrap();
        assert!(video_for("s01", &none, &stage, LIMITS).is_empty());
    }

    #[test]
    fn absurd_requests_are_refused() {
        let r = roster(5);
        let c = connected(5);
        let stage = Stage {
            roster: &r,
            connected: &c,
            floor: None,
            sharer: None,
        };
        let v = |tiles: Vec<TileRequest>| validate("s01", Some(tiles), None, &stage, LIMITS);
        assert_eq!(
            v(vec![tile("xa-la", 320, 180)]),
            Err(LayoutError::UnknownSite("xa-la".into()))
        );
        for t in [
            tile("host", 0, 180),
            tile("host", 320, 15),
            tile("host", 100_000, 180),
            tile("host", 320, u32::MAX),
            tile("s01", 320, 180),
        ] {
            assert!(matches!(v(vec![t]), Err(LayoutError::Bad(_))));
        }
        assert!(matches!(
            v(vec![tile("host", 320, 180), tile("host", 320, 180)]),
            Err(LayoutError::Bad(_))
        ));
        let many: Vec<_> = (0..13).map(|_| tile("host", 320, 180)).collect();
        assert!(matches!(v(many), Err(LayoutError::Bad(_))));
        // Pages: 5 others at 10 a page is one page.
        assert!(validate("host", None, Some(0), &stage, LIMITS).is_ok());
        assert!(matches!(
            validate("host", None, Some(1), &stage, LIMITS),
            Err(LayoutError::Bad(_))
        ));
        assert!(matches!(
            validate("host", None, Some(u32::MAX), &stage, LIMITS),
            Err(LayoutError::Bad(_))
        ));
        assert!(matches!(
            validate("host", Some(vec![]), Some(0), &stage, LIMITS),
            Err(LayoutError::Bad(_))
        ));
    }
}
