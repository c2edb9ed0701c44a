//! What a site client sends beyond its camera and microphone: a shared screen (a second video
//! track on the publish connection, declared as content with `share_screen {mid}` before the offer
//! that adds it, as the room page does) and audio packets carrying their RFC 6464 level (for the
//! server's active speaker detection).

use super::{ClientError, SiteClient};
use crate::signal::protocol::ClientMsg;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use std::sync::atomic::Ordering::Relaxed;
use webrtc::media_stream::track_local::TrackLocal;

impl SiteClient {
    /// Starts sharing a screen: adds a content video track, tells the server its m-line
    /// (`share_screen`) and offers it. Returns the mid. Fails if this client shares already
    /// (send `share_screen` by hand to test the server's refusal).
    pub async fn share_screen(&self) -> Result<String, ClientError> {
        let mut slot = self.screen.lock().await;
        if slot.is_some() {
            return Err(ClientError::Protocol("this client shares already".into()));
        }
        let stream = format!("{}-screen", self.participant_id);
        let out = Self::add_track(Some(&self.publish), RtpCodecKind::Video, &stream).await?;
        let sender = out
            .sender
            .as_ref()
            .map(|s| s.id())
            .ok_or_else(|| ClientError::Protocol("screen track not bound".into()))?;
        let offer = self.publish.create_offer(None).await?;
        let sdp = offer.sdp.clone();
        self.publish.set_local_description(offer).await?;
        let mut mid = None;
        for t in self.publish.get_transceivers().await {
            if let Ok(Some(s)) = t.sender().await
                && s.id() == sender
            {
                mid = t.mid().await.ok().flatten();
            }
        }
        let mid = mid.ok_or_else(|| ClientError::Protocol("screen track has no mid".into()))?;
        let closed = |_| ClientError::Protocol("socket closed".into());
        self.ws_tx
            .send(ClientMsg::ShareScreen { mid: mid.clone() })
            .await
            .map_err(closed)?;
        self.ws_tx
            .send(ClientMsg::PublishOffer { sdp })
            .await
            .map_err(closed)?;
        *slot = Some(out);
        Ok(mid)
    }

    /// Sends one packet of the shared screen (as [`SiteClient::send_packet`]).
    pub async fn send_screen(
        &self,
        payload: bytes::Bytes,
        marker: bool,
        ts_advance: Option<u32>,
    ) -> Result<(), ClientError> {
        let (track, packet) = {
            let mut slot = self.screen.lock().await;
            let o = slot
                .as_mut()
                .ok_or_else(|| ClientError::Protocol("not sharing".into()))?;
            (o.track.clone(), o.next(payload, marker, ts_advance))
        };
        Ok(track.write_rtp(packet).await?)
    }

    /// Stops the own share: `stop_share`, then the screen track is removed and renegotiated.
    pub async fn stop_share(&self) -> Result<(), ClientError> {
        let _ = self
            .ws_tx
            .send(ClientMsg::StopShare { site_id: None })
            .await;
        self.end_capture().await
    }

    /// Removes the screen track and renegotiates, without telling the server first (what a page
    /// does when its share was replaced or stopped by a controller).
    pub async fn end_capture(&self) -> Result<(), ClientError> {
        let Some(out) = self.screen.lock().await.take() else {
            return Ok(());
        };
        let Some(sender) = out.sender else {
            return Ok(());
        };
        self.publish.remove_track(&sender).await?;
        let offer = self.publish.create_offer(None).await?;
        let _ = self
            .ws_tx
            .send(ClientMsg::PublishOffer {
                sdp: offer.sdp.clone(),
            })
            .await;
        self.publish.set_local_description(offer).await?;
        Ok(())
    }

    /// Sends one audio packet carrying its level (RFC 6464: 0 loudest … 127 silence) in the
    /// extension negotiated on the publish connection. Fails until the publish connection is
    /// negotiated, or if the server did not accept the extension.
    pub async fn send_audio_level(
        &self,
        payload: bytes::Bytes,
        level: u8,
    ) -> Result<(), ClientError> {
        let mut id = self.level_ext.load(Relaxed);
        let mut out = self.audio.lock().await;
        if id == 0 {
            let sender = out
                .sender
                .as_ref()
                .ok_or_else(|| ClientError::Protocol("no audio track".into()))?;
            let params = sender.get_parameters().await?;
            id = crate::sfu::speaker::audio_level_id(&params.rtp_parameters.header_extensions);
            if id == 0 {
                return Err(ClientError::Protocol(
                    "the audio level extension is not negotiated".into(),
                ));
            }
            self.level_ext.store(id, Relaxed);
        }
        let mut packet = out.next(payload, true, None);
        packet
            .header
            .set_extension(id, bytes::Bytes::copy_from_slice(&[level.min(127)]))
            .map_err(|e| ClientError::Protocol(format!("audio level extension: {e}")))?;
        let track = out.track.clone();
        drop(out);
        Ok(track.write_rtp(packet).await?)
    }
}
