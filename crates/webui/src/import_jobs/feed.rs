//! A job's events for the page. Every event keeps its number (its SSE
//! `id`), so a page whose stream dropped and reconnected — `EventSource`
//! does that by itself, sending `Last-Event-ID` — gets only what it missed,
//! not a second copy of questions it has already answered. The last event
//! (`report-ready`) is marked as such, never recognised by its text.

use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::sync::broadcast;

use super::lock;

/// Events a live subscriber may fall behind by before its stream ends (the
/// page reconnects and catches up from the history).
const LIVE_BACKLOG: usize = 256;

/// One event of a job.
#[derive(Clone, Debug)]
pub(crate) struct FeedEvent {
    /// Its number: 0 for the first event of the job.
    pub(crate) id: usize,
    /// The JSON text sent.
    pub(crate) text: Arc<str>,
    /// The job's last event.
    pub(crate) last: bool,
}

/// Every event of a job so far, and a broadcast of the ones to come.
#[derive(Debug)]
pub(crate) struct Feed {
    history: Mutex<History>,
    live: broadcast::Sender<FeedEvent>,
}

#[derive(Debug, Default)]
struct History {
    events: Vec<FeedEvent>,
    finished: bool,
}

/// What a subscriber gets: the events it has not seen yet, and a receiver
/// of later ones unless the job has finished.
pub(crate) type Subscription = (Vec<FeedEvent>, Option<broadcast::Receiver<FeedEvent>>);

impl Feed {
    pub(crate) fn new() -> Self {
        let (live, _) = broadcast::channel(LIVE_BACKLOG);
        Feed {
            history: Mutex::new(History::default()),
            live,
        }
    }

    /// Adds an event.
    pub(crate) fn push(&self, event: &Value) {
        self.add(event, false);
    }

    /// Adds the job's last event; later pushes are dropped.
    pub(crate) fn finish(&self, event: &Value) {
        self.add(event, true);
    }

    fn add(&self, event: &Value, last: bool) {
        let mut history = lock(&self.history);
        if history.finished {
            return;
        }
        let event = FeedEvent {
            id: history.events.len(),
            text: event.to_string().into(),
            last,
        };
        history.events.push(event.clone());
        history.finished = last;
        // No live subscriber is not an error: the history has it.
        let _ = self.live.send(event);
    }

    /// Whether the last event has been pushed.
    pub(crate) fn is_finished(&self) -> bool {
        lock(&self.history).finished
    }

    /// The events after `after` (all of them when `None`), and later ones
    /// live. Taken under one lock, so none is missed or sent twice.
    pub(crate) fn subscribe(&self, after: Option<usize>) -> Subscription {
        let history = lock(&self.history);
        let past = history
            .events
            .iter()
            .filter(|e| after.is_none_or(|a| e.id > a))
            .cloned()
            .collect();
        let live = (!history.finished).then(|| self.live.subscribe());
        (past, live)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_reconnecting_subscriber_gets_only_what_it_missed() {
        let feed = Feed::new();
        for i in 0..3 {
            feed.push(&json!({"n": i}));
        }
        let (past, live) = feed.subscribe(Some(1));
        assert_eq!(past.iter().map(|e| e.id).collect::<Vec<_>>(), [2]);
        assert!(live.is_some());
        let (all, _) = feed.subscribe(None);
        assert_eq!(all.len(), 3);
    }

    #[test]
    fn nothing_follows_the_last_event() {
        let feed = Feed::new();
        feed.push(&json!({"type": "item"}));
        feed.finish(&json!({"type": "report-ready"}));
        feed.push(&json!({"type": "late"}));
        assert!(feed.is_finished());
        let (past, live) = feed.subscribe(None);
        assert_eq!(past.len(), 2);
        assert!(past[1].last);
        assert!(live.is_none(), "a finished feed has nothing more to send");
    }
}
