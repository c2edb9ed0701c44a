//! Recording started and stopped by the host site from its room page (`recording` client message):
//! only the site that controls the session (`sfu::control`, the host site) may; the recorder then
//! does what the REST routes do (audit under `site:<id>`), and every site hears the `recording`
//! notice. A refusal comes back to the asking site as an `error` (`not_controller`,
//! `recording_refused`).

use crate::app::AppState;
use crate::sfu::ParticipantHandle;
use crate::signal::protocol::{ErrorCode, ServerMsg};
use tokio::sync::mpsc;

pub async fn from_site(
    app: &AppState,
    p: &ParticipantHandle,
    active: bool,
    out: &mpsc::Sender<ServerMsg>,
) {
    let error = |code, message: String| ServerMsg::Error { code, message };
    let Some(room) = app.sfu.room(&p.session_id) else {
        return;
    };
    let controller = match room.controller(&p.site_id) {
        Ok(c) => c,
        Err(e) => {
            let _ = out
                .send(error(ErrorCode::NotController, e.to_string()))
                .await;
            return;
        }
    };
    let actor = controller.actor().label();
    let done = if active {
        app.recorder.start(&p.session_id, &actor).await.map(|_| ())
    } else {
        app.recorder.stop(&p.session_id, &actor).await.map(|_| ())
    };
    if let Err(e) = done {
        let _ = out
            .send(error(ErrorCode::RecordingRefused, e.to_string()))
            .await;
    }
}
