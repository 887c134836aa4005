//! MCP progress notifications: when a client sends a progress token with a call, the call's
//! [`Progress`] is forwarded to it as `notifications/progress` (percent of 100, with a
//! message); without a token nothing is sent.

use std::time::Duration;

use rmcp::{
    Peer, RoleServer,
    model::{ProgressNotificationParam, RequestMetaObject},
};
use tokio::task::JoinHandle;

use crate::progress::{Progress, Update};

/// How long a finished call waits for its last notifications to be handed to the transport.
const DRAIN: Duration = Duration::from_secs(2);

/// Progress for one call: to the client when it asked for it, nowhere otherwise.
pub(crate) struct CallProgress {
    progress: Progress,
    /// The task that sends the notifications, when there is a token.
    sender: Option<JoinHandle<()>>,
}

impl CallProgress {
    /// What the call's readers report to.
    pub(crate) fn progress(&self) -> &Progress {
        &self.progress
    }

    /// Waits until every notification reported so far has been sent, so that none arrives
    /// after the call's result (clients stop listening for a request's progress once its
    /// result is in). Bounded, in case a reader still holds a clone.
    pub(crate) async fn finish(self) {
        let Self { progress, sender } = self;
        drop(progress);
        if let Some(sender) = sender
            && tokio::time::timeout(DRAIN, sender).await.is_err()
        {
            tracing::debug!("progress notifications still pending when the call ended");
        }
    }
}

/// Readers report from blocking threads; a task of the runtime sends the notifications in
/// order, and ends when the call's last [`Progress`] is dropped.
pub(crate) fn for_call(meta: &RequestMetaObject, peer: &Peer<RoleServer>) -> CallProgress {
    let Some(token) = meta.get_progress_token() else {
        return CallProgress {
            progress: Progress::none(),
            sender: None,
        };
    };
    let (updates, mut received) = tokio::sync::mpsc::unbounded_channel::<Update>();
    let peer = peer.clone();
    let sender = tokio::spawn(async move {
        while let Some(update) = received.recv().await {
            let note = ProgressNotificationParam::new(token.clone(), update.percent)
                .with_total(100.0)
                .with_message(update.message);
            if peer.notify_progress(note).await.is_err() {
                break; // the client has gone; the call is being cancelled
            }
        }
    });
    CallProgress {
        progress: Progress::to(move |update| {
            let _ = updates.send(update);
        }),
        sender: Some(sender),
    }
}
