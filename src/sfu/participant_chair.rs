//! A participant's chairing messages (*chủ trì điều hành*): hands, floor, mutes, layouts and the
//! screen share, each passed to the room's one chairing entry (`chairing.rs`) as the site's own
//! request or, for control messages, as the host site's action; a refusal is answered with its
//! error code and changes nothing.

use super::chair::{ChairAction, ChairError, SiteRequest};
use super::participant::Participant;
use super::room::Room;
use crate::signal::protocol::{ClientMsg, ErrorCode};

impl Participant {
    /// One chairing message of the site.
    pub(super) fn on_chair(&mut self, msg: ClientMsg) {
        match msg {
            ClientMsg::Mute { kind, muted } => {
                self.chair(|room, me| room.request(me.id, SiteRequest::Mute { kind, muted }))
            }
            ClientMsg::RaiseHand => {
                self.chair(|room, me| room.request(me.id, SiteRequest::RaiseHand))
            }
            ClientMsg::LowerHand { site_id: None } => {
                self.chair(|room, me| room.request(me.id, SiteRequest::LowerHand))
            }
            ClientMsg::LowerHand {
                site_id: Some(site_id),
            } if site_id == self.site_id => {
                self.chair(|room, me| room.request(me.id, SiteRequest::LowerHand))
            }
            ClientMsg::LowerHand {
                site_id: Some(site_id),
            } => {
                self.chair(|room, me| room.act_as(&me.site_id, ChairAction::LowerHand { site_id }))
            }
            ClientMsg::GiveFloor { site_id } => {
                self.chair(|room, me| room.act_as(&me.site_id, ChairAction::GiveFloor { site_id }))
            }
            ClientMsg::RevokeFloor => {
                self.chair(|room, me| room.act_as(&me.site_id, ChairAction::RevokeFloor))
            }
            ClientMsg::SetMute {
                site_id,
                kind,
                muted,
            } => self.chair(|room, me| {
                room.act_as(
                    &me.site_id,
                    ChairAction::SetMute {
                        site_id,
                        kind,
                        muted,
                    },
                )
            }),
            ClientMsg::MuteAll => {
                self.chair(|room, me| room.act_as(&me.site_id, ChairAction::MuteAll))
            }
            ClientMsg::Subscribe { video, page } => {
                self.chair(|room, me| room.subscribe(me.id, video, page))
            }
            ClientMsg::SetJoinMuted { on } => {
                self.chair(|room, me| room.act_as(&me.site_id, ChairAction::SetJoinMuted(on)))
            }
            ClientMsg::ShareScreen { mid } => self.on_share_screen(mid),
            ClientMsg::StopShare { site_id } => match site_id {
                Some(site) if site != self.site_id => self.chair(|room, me| {
                    room.act_as(
                        &me.site_id,
                        ChairAction::StopShare {
                            site_id: Some(site),
                        },
                    )
                }),
                _ => self.chair(|room, me| room.request(me.id, SiteRequest::StopShare)),
            },
            // `on_client` routes only the messages above here.
            _ => {}
        }
    }

    /// Runs a chairing request; a refusal is answered with its error code and changes nothing.
    fn chair(&self, f: impl FnOnce(&Room, &Self) -> Result<(), ChairError>) {
        if let Err(e) = f(&self.room, self) {
            self.error(e.code(), e.to_string());
        }
    }

    /// `share_screen {mid}`: the share is decided now (one at a time); the video track that
    /// arrives on `mid` is the site's screen.
    fn on_share_screen(&mut self, mid: String) {
        if !super::share::valid_mid(&mid) {
            return self.error(
                ErrorCode::BadMessage,
                "mid must be 1 to 32 letters, digits, '-' or '_'",
            );
        }
        match self.room.request(self.id, SiteRequest::StartShare) {
            Ok(()) => self.content_mid = Some(mid),
            Err(e) => self.error(e.code(), e.to_string()),
        }
    }
}
