//! MCP progress notifications: when a client sends a progress token with a call, the call's
//! [`Progress`] is forwarded to it as `notifications/progress` (percent of 100, with a
//! message); without a token nothing is sent.

use rmcp::{
    Peer, RoleServer,
    model::{ProgressNotificationParam, RequestMetaObject},
};

use crate::progress::{Progress, Update};

/// Progress for one call: to the client when it asked for it, nowhere otherwise.
///
/// Readers report from blocking threads; a task of the runtime sends the notifications in
/// order, and ends when the call's last [`Progress`] is dropped.
pub(crate) fn for_call(meta: &RequestMetaObject, peer: &Peer<RoleServer>) -> Progress {
    let Some(token) = meta.get_progress_token() else {
        return Progress::none();
    };
    let (updates, mut received) = tokio::sync::mpsc::unbounded_channel::<Update>();
    let peer = peer.clone();
    tokio::spawn(async move {
        while let Some(update) = received.recv().await {
            let note = ProgressNotificationParam::new(token.clone(), update.percent)
                .with_total(100.0)
                .with_message(update.message);
            if peer.notify_progress(note).await.is_err() {
                break; // the client has gone; the call is being cancelled
            }
        }
    });
    Progress::to(move |update| {
        let _ = updates.send(update);
    })
}
