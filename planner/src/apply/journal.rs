//! The journal writer of an apply: appends with group commit, so that concurrent steps share
//! one durable write.

use std::sync::Arc;

use state::{Backend, JournalEntry, Stamp};
use tokio::sync::{mpsc, oneshot};

type Ack = oneshot::Sender<Result<(), String>>;

/// Appends journal entries with group commit: everything queued while one durable append is
/// in progress goes into the next one.
#[derive(Clone)]
pub(crate) struct Journal {
    tx: mpsc::UnboundedSender<(Vec<JournalEntry>, Ack)>,
}

impl Journal {
    pub(crate) fn start(backend: Arc<dyn Backend>, base: Stamp) -> Journal {
        let (tx, mut rx) = mpsc::unbounded_channel::<(Vec<JournalEntry>, Ack)>();
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut batch = vec![first];
                while let Ok(more) = rx.try_recv() {
                    batch.push(more);
                }
                let entries: Vec<JournalEntry> =
                    batch.iter().flat_map(|(e, _)| e.iter().cloned()).collect();
                let result = backend
                    .append(&base, &entries)
                    .await
                    .map_err(|e| format!("recording progress in the journal: {e}"));
                for (_, ack) in batch {
                    let _ = ack.send(result.clone());
                }
            }
        });
        Journal { tx }
    }

    /// Returns once the entries are durable.
    pub(crate) async fn record(&self, entries: Vec<JournalEntry>) -> Result<(), String> {
        let (ack, done) = oneshot::channel();
        self.tx
            .send((entries, ack))
            .map_err(|_| "the journal writer stopped".to_string())?;
        done.await
            .map_err(|_| "the journal writer stopped".to_string())?
    }
}
