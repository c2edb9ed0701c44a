//! The host site marks the agenda item the session is on from its room page (`set_agenda_item`):
//! only the site that controls the session (`sfu::control`, the host site) may; the rule and its
//! effects are `sfu::agenda`'s, as for the REST routes. A refusal comes back to the asking site
//! as an `error` (`not_controller`, `no_agenda`, `agenda_item_out_of_range`) and changes nothing.

use crate::app::AppState;
use crate::sfu::ParticipantHandle;
use crate::sfu::agenda::{AgendaError, agenda_of};
use crate::signal::protocol::ServerMsg;
use tokio::sync::mpsc;

pub async fn from_site(
    app: &AppState,
    p: &ParticipantHandle,
    index: Option<u32>,
    out: &mpsc::Sender<ServerMsg>,
) {
    if let Err(e) = mark(app, p, index).await {
        let _ = out
            .send(ServerMsg::Error {
                code: e.code(),
                message: e.to_string(),
            })
            .await;
    }
}

async fn mark(
    app: &AppState,
    p: &ParticipantHandle,
    index: Option<u32>,
) -> Result<(), AgendaError> {
    let room = app.sfu.room(&p.session_id).ok_or(AgendaError::NotLive)?;
    let by = room.controller(&p.site_id)?;
    let agenda = agenda_of(&app.pool, &p.session_id).await?;
    app.agendas
        .mark(&app.sfu, &p.session_id, &agenda, index, &by)
        .map(|_| ())
}
