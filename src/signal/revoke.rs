//! After an edit that may withdraw access (a session's invited sites changed), the API asks here:
//! the live sites of the changed sessions are checked against the store, and those no longer
//! invited are removed from the room (`invitation_revoked`). The SFU never reads the store; this
//! is the IO edge between the two. Revocations with a known target call `Sfu::evict` directly.

use crate::app::AppState;
use crate::sfu::Eviction;

/// Removes connected sites that the store no longer invites to `session_ids`. Returns how many.
pub async fn recheck(app: &AppState, session_ids: &[String]) -> usize {
    let mut n = 0;
    for session in session_ids {
        for site in app.sfu.sites_in(session) {
            match crate::store::sessions::is_invited(&app.pool, session, &site).await {
                Ok(true) => {}
                Ok(false) => {
                    let why = Eviction::InvitationRevoked;
                    n += app.sfu.evict(session, Some(&site), why).await;
                }
                Err(e) => tracing::error!("rechecking {site} in {session}: {e}"),
            }
        }
    }
    n
}
