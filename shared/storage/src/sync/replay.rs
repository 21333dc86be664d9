//! Dead letters applied again on an admin's request ([`replay`]): each through its consumer
//! group's handler, transient failures retried a few times, what still fails kept with its new
//! error.

use std::time::Duration;

use super::Inner;
use crate::bus::{DeadLetter, Event, Handler, HandlerError};
use crate::Result;

/// Transient failures a replay waits out before reporting the letter as still failing.
const REPLAY_TRIES: u32 = 3;

pub(crate) async fn replay(
    inner: &Inner,
    letters: Vec<DeadLetter>,
) -> Result<(i64, Vec<DeadLetter>)> {
    let mut replayed = 0;
    let mut failed = Vec::new();
    for letter in letters {
        let outcome = match inner.handlers.get(&letter.group) {
            None => Err(format!(
                "no consumer group {} in this service",
                letter.group
            )),
            Some((stream, handler)) => match crate::bus::entries::envelope_of(&letter.fields) {
                Err(e) => Err(e),
                Ok(envelope) => {
                    let event = Event {
                        stream: stream.clone(),
                        entry_id: letter.entry_id.clone(),
                        envelope,
                    };
                    replay_one(handler.as_ref(), &event).await
                }
            },
        };
        match outcome {
            Ok(()) => {
                inner
                    .dead_letters
                    .remove(std::slice::from_ref(&letter.id))
                    .await?;
                replayed += 1;
            }
            Err(e) => {
                // Reported as stored now (new id, one more delivery), so the ids a replay
                // answers with are the ones a discard or another replay finds.
                failed.push(inner.dead_letters.update_error(&letter, &e).await?);
            }
        }
    }
    inner
        .metrics
        .dead_letters
        .set(inner.dead_letters.count().await.unwrap_or(0));
    Ok((replayed, failed))
}

async fn replay_one(handler: &dyn Handler, event: &Event) -> std::result::Result<(), String> {
    let mut pause = Duration::from_millis(100);
    for attempt in 1..=REPLAY_TRIES {
        match handler.handle(std::slice::from_ref(event)).await {
            Ok(()) => return Ok(()),
            Err(HandlerError::Permanent(e)) => return Err(e),
            Err(HandlerError::Transient(e)) if attempt == REPLAY_TRIES => return Err(e),
            Err(HandlerError::Transient(_)) => {
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
        }
    }
    Err("replay gave up".into())
}
