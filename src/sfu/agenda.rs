//! The agenda item a live session is on (*nội dung đang thảo luận*): a controller (the host site
//! by its `set_agenda_item` message, or a chair, operator or admin through the REST API: the same
//! [`Controller`] as the floor) marks an item of the session's agenda as current, or clears it.
//! Every connected site hears `agenda_item` (and again right after `joined`), and a
//! `live::Event::AgendaItem` goes to the persistent consumers (the recording's timeline, the audit
//! log). [`decide`] is the pure rule; [`Agendas`] holds each live session's current item and
//! applies a decision. A refusal (not a controller, no agenda, an index out of range, no site
//! connected) changes nothing.

use super::Sfu;
use super::control::{ControlDenied, Controller};
use crate::live::Event;
use crate::schedule::model::AgendaItem;
use crate::signal::protocol::{AgendaNow, ErrorCode, ServerMsg};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::Mutex;
use tokio::sync::mpsc;

/// Why an agenda item cannot be marked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AgendaError {
    #[error(transparent)]
    NotController(#[from] ControlDenied),
    #[error("session {0} has no agenda")]
    NoAgenda(String),
    #[error("agenda item {index} does not exist: the agenda has {len} item(s), numbered from 0")]
    OutOfRange { index: u32, len: usize },
    #[error("no site is connected to this session")]
    NotLive,
    #[error("session {0} does not exist")]
    NoSession(String),
    #[error("reading the agenda failed: {0}")]
    Store(String),
}

impl AgendaError {
    /// The protocol's error code (the REST routes map the same errors to HTTP statuses).
    pub fn code(&self) -> ErrorCode {
        match self {
            AgendaError::NotController(_) => ErrorCode::NotController,
            AgendaError::NoAgenda(_) => ErrorCode::NoAgenda,
            AgendaError::OutOfRange { .. } => ErrorCode::AgendaItemOutOfRange,
            AgendaError::NotLive => ErrorCode::SiteNotConnected,
            AgendaError::NoSession(_) => ErrorCode::SessionNotFound,
            AgendaError::Store(_) => ErrorCode::Internal,
        }
    }
}

/// What marking `index` (or clearing, `None`) does to the current item: the new current item,
/// or `Ok(None)` when nothing changes (the same item again, or clearing when none is current).
pub fn decide(
    session_id: &str,
    agenda: &[AgendaItem],
    index: Option<u32>,
    current: Option<&AgendaNow>,
    by: &Controller,
    now: DateTime<Utc>,
) -> Result<Option<Option<AgendaNow>>, AgendaError> {
    if agenda.is_empty() {
        return Err(AgendaError::NoAgenda(session_id.to_string()));
    }
    let Some(index) = index else {
        return Ok(current.is_some().then_some(None));
    };
    let item = agenda.get(index as usize).ok_or(AgendaError::OutOfRange {
        index,
        len: agenda.len(),
    })?;
    if current.is_some_and(|c| c.index == index) {
        return Ok(None);
    }
    Ok(Some(Some(AgendaNow {
        index,
        title: item.title.clone(),
        presenter: item.presenter.clone(),
        since: now,
        by: by.actor().label(),
    })))
}

/// The current agenda item of each live session.
#[derive(Default)]
pub struct Agendas {
    current: Mutex<HashMap<String, AgendaNow>>,
}

impl Agendas {
    /// The session's current item.
    pub fn current(&self, session_id: &str) -> Option<AgendaNow> {
        self.current
            .lock()
            .expect("agendas")
            .get(session_id)
            .cloned()
    }

    /// Queues the current item (if any) for a site that just joined. Under the same lock as
    /// [`Agendas::mark`]'s notices, so a change made meanwhile cannot arrive before it.
    pub fn send_notice(&self, session_id: &str, out: &mpsc::Sender<ServerMsg>) {
        let current = self.current.lock().expect("agendas");
        if let Some(item) = current.get(session_id) {
            let _ = out.try_send(ServerMsg::AgendaItem {
                item: Some(item.clone()),
            });
        }
    }

    /// Marks `index` as the current item of the live session (`None`: clears it), as `by`;
    /// `agenda` is the session's agenda as scheduled. Returns the current item after the change.
    pub fn mark(
        &self,
        sfu: &Sfu,
        session_id: &str,
        agenda: &[AgendaItem],
        index: Option<u32>,
        by: &Controller,
    ) -> Result<Option<AgendaNow>, AgendaError> {
        let room = sfu.room(session_id).ok_or(AgendaError::NotLive)?;
        let mut current = self.current.lock().expect("agendas");
        let change = decide(
            session_id,
            agenda,
            index,
            current.get(session_id),
            by,
            Utc::now(),
        )?;
        let Some(next) = change else {
            return Ok(current.get(session_id).cloned());
        };
        match &next {
            Some(item) => current.insert(session_id.to_string(), item.clone()),
            None => current.remove(session_id),
        };
        // Under the lock, so that every site hears the changes in the order they were made.
        for m in room.members() {
            m.send(ServerMsg::AgendaItem { item: next.clone() });
        }
        sfu.events().emit(Event::AgendaItem {
            session_id: session_id.to_string(),
            index: next.as_ref().map(|i| i.index),
            title: next.as_ref().map(|i| i.title.clone()),
            by: by.actor().clone(),
        });
        Ok(next)
    }
}

/// The session's agenda as scheduled.
pub async fn agenda_of(
    pool: &crate::store::Pool,
    session_id: &str,
) -> Result<Vec<AgendaItem>, AgendaError> {
    let row = crate::store::sessions::get(pool, session_id)
        .await
        .map_err(|e| AgendaError::Store(e.to_string()))?
        .ok_or_else(|| AgendaError::NoSession(session_id.to_string()))?;
    Ok(crate::schedule::service::parse_agenda(&row.agenda))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sfu::control::Roster;

    fn agenda() -> Vec<AgendaItem> {
        ["Khai mạc", "Báo cáo tình hình kinh tế - xã hội", "Kết luận"]
            .iter()
            .map(|t| AgendaItem {
                title: t.to_string(),
                presenter: "Văn phòng UBND".into(),
            })
            .collect()
    }

    fn host() -> Controller {
        Controller::site(&Roster::new("ubnd-tp", Vec::new()), "ubnd-tp").unwrap()
    }

    #[test]
    fn an_item_of_the_agenda_becomes_current_and_can_be_cleared() {
        let now = Utc::now();
        let item = decide("s", &agenda(), Some(1), None, &host(), now)
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(item.index, 1);
        assert_eq!(item.title, "Báo cáo tình hình kinh tế - xã hội");
        assert_eq!(item.presenter, "Văn phòng UBND");
        assert_eq!((item.since, item.by.as_str()), (now, "site:ubnd-tp"));
        // The next item replaces it; clearing leaves none.
        let next = decide("s", &agenda(), Some(2), Some(&item), &host(), now).unwrap();
        assert_eq!(next.unwrap().unwrap().index, 2);
        assert_eq!(
            decide("s", &agenda(), None, Some(&item), &host(), now),
            Ok(Some(None))
        );
    }

    #[test]
    fn the_same_item_again_or_clearing_nothing_changes_nothing() {
        let now = Utc::now();
        let item = decide("s", &agenda(), Some(0), None, &host(), now)
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(
            decide("s", &agenda(), Some(0), Some(&item), &host(), now),
            Ok(None)
        );
        assert_eq!(decide("s", &agenda(), None, None, &host(), now), Ok(None));
    }

    #[test]
    fn an_index_out_of_range_or_a_session_without_agenda_is_refused() {
        let now = Utc::now();
        assert_eq!(
            decide("s", &agenda(), Some(3), None, &host(), now),
            Err(AgendaError::OutOfRange { index: 3, len: 3 })
        );
        assert_eq!(
            decide("s", &agenda(), Some(u32::MAX), None, &host(), now),
            Err(AgendaError::OutOfRange {
                index: u32::MAX,
                len: 3
            })
        );
        for index in [Some(0), None] {
            assert_eq!(
                decide("s", &[], index, None, &host(), now),
                Err(AgendaError::NoAgenda("s".into()))
            );
        }
        assert_eq!(
            AgendaError::OutOfRange { index: 3, len: 3 }.code(),
            ErrorCode::AgendaItemOutOfRange
        );
        assert_eq!(
            AgendaError::NoAgenda("s".into()).code(),
            ErrorCode::NoAgenda
        );
    }
}
