//! Every allowed transition, in one function.

use time::OffsetDateTime;

use super::record::{FlowRecord, FlowState, Terminal};
use crate::error::FlowError;
use crate::Strategy;

/// Something that happens to a flow.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The user pressed the button (report-invocation). Idempotent.
    Invoke,
    /// A request wants to call Glide's `/complete` (Link); it holds the flow until the lease ends.
    BeginComplete {
        /// When the lease lapses.
        lease_until: OffsetDateTime,
    },
    /// Glide accepted `/complete`.
    CompleteSucceeded,
    /// Glide refused `/complete`, or could not be reached; the flow goes back.
    CompleteFailed,
    /// A request wants to ask Glide for the result; it holds the flow until the lease ends.
    BeginProcess {
        /// When the lease lapses.
        lease_until: OffsetDateTime,
    },
    /// Glide said "not yet" (desktop 202) or failed transiently; the flow goes back.
    ProcessReleased,
    /// The flow ended.
    End(Terminal),
}

/// The state `record` moves to on `event` at time `now`, or why it cannot.
///
/// Returning the current state unchanged means "nothing to do" (idempotent events).
pub fn transition(
    record: &FlowRecord,
    event: &Event,
    now: OffsetDateTime,
) -> Result<FlowState, FlowError> {
    use FlowState as S;
    let state = &record.state;
    let link = record.strategy == Strategy::Link;
    let lease_live = |until: &OffsetDateTime| *until > now;

    // Ending and releasing a lease are always allowed to land, even at the expiry instant: the
    // lease holder already asked Glide.
    match (state, event) {
        (S::Processing { .. }, Event::End(terminal)) => return Ok(S::Ended(terminal.clone())),
        (S::Processing { resume, .. }, Event::ProcessReleased) => return Ok((**resume).clone()),
        (S::Completing { .. }, Event::CompleteSucceeded) => return Ok(S::BindingConfirmed),
        (S::Completing { resume, .. }, Event::CompleteFailed) => return Ok((**resume).clone()),
        _ => {}
    }
    if let S::Ended(_) = state {
        return Err(FlowError::AlreadyUsed);
    }
    if now >= record.expires_at {
        return Err(FlowError::Expired);
    }
    match (state, event) {
        (S::Prepared, Event::Invoke) => Ok(S::Invoked),
        (_, Event::Invoke) => Ok(state.clone()),

        (_, Event::BeginComplete { .. }) if !link => Err(FlowError::InvalidTransition(
            "only a link verification has a completion step".into(),
        )),
        (S::Prepared | S::Invoked, Event::BeginComplete { lease_until }) => Ok(S::Completing {
            resume: Box::new(state.clone()),
            lease_until: *lease_until,
        }),
        (S::Completing { lease_until, .. }, Event::BeginComplete { .. })
            if lease_live(lease_until) =>
        {
            Err(FlowError::Busy)
        }
        (S::Completing { resume, .. }, Event::BeginComplete { lease_until }) => Ok(S::Completing {
            resume: resume.clone(),
            lease_until: *lease_until,
        }),
        // (A flow of another strategy was refused above.)
        (S::BindingConfirmed, Event::BeginComplete { .. }) => Err(FlowError::AlreadyUsed),

        (S::Prepared | S::Invoked, Event::BeginProcess { lease_until }) if !link => {
            Ok(S::Processing {
                resume: Box::new(state.clone()),
                lease_until: *lease_until,
            })
        }
        (S::BindingConfirmed, Event::BeginProcess { lease_until }) => Ok(S::Processing {
            resume: Box::new(state.clone()),
            lease_until: *lease_until,
        }),
        (S::Prepared | S::Invoked, Event::BeginProcess { .. }) => Err(
            FlowError::InvalidTransition("the link verification has not been completed yet".into()),
        ),
        (S::Processing { lease_until, .. }, Event::BeginProcess { .. })
            if lease_live(lease_until) =>
        {
            Err(FlowError::Busy)
        }
        (S::Processing { resume, .. }, Event::BeginProcess { lease_until }) => Ok(S::Processing {
            resume: resume.clone(),
            lease_until: *lease_until,
        }),
        (S::Completing { .. }, Event::BeginProcess { .. }) => Err(FlowError::Busy),

        (_, event) => Err(FlowError::InvalidTransition(format!(
            "{} is not allowed in state {}",
            event_name(event),
            state_name(state)
        ))),
    }
}

fn event_name(event: &Event) -> &'static str {
    match event {
        Event::Invoke => "invoke",
        Event::BeginComplete { .. } => "complete",
        Event::CompleteSucceeded => "complete-succeeded",
        Event::CompleteFailed => "complete-failed",
        Event::BeginProcess { .. } => "process",
        Event::ProcessReleased => "process-released",
        Event::End(_) => "end",
    }
}

fn state_name(state: &FlowState) -> &'static str {
    match state {
        FlowState::Prepared => "prepared",
        FlowState::Invoked => "invoked",
        FlowState::BindingConfirmed => "binding-confirmed",
        FlowState::Processing { .. } => "processing",
        FlowState::Completing { .. } => "completing",
        FlowState::Ended(_) => "ended",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::UseCase;
    use time::Duration;

    fn t0() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
    }

    fn record(strategy: Strategy, state: FlowState) -> FlowRecord {
        FlowRecord {
            schema: FlowRecord::SCHEMA,
            session_key: "0123456789abcdef".into(),
            strategy,
            use_case: UseCase::GetPhoneNumber,
            phone_number: None,
            glide_session: serde_json::json!({"session_key": "0123456789abcdef"}),
            fe_hash: None,
            state,
            created_at: t0(),
            expires_at: t0() + Duration::minutes(5),
        }
    }

    /// What we expect, in a form that makes the table readable.
    #[derive(Debug, PartialEq)]
    enum Want {
        To(&'static str),
        Same,
        Err(&'static str),
    }

    fn outcome(rec: &FlowRecord, event: &Event, now: OffsetDateTime) -> Want {
        match transition(rec, event, now) {
            Ok(s) if s == rec.state => Want::Same,
            Ok(s) => Want::To(state_name(&s)),
            Err(e) => Want::Err(e.code()),
        }
    }

    #[test]
    fn a_refused_transition_names_its_event_and_state() {
        let now = t0() + Duration::seconds(10);
        let refusal = |event: &Event| match transition(
            &record(Strategy::Ts43, FlowState::Invoked),
            event,
            now,
        ) {
            Err(FlowError::InvalidTransition(why)) => why,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            refusal(&Event::CompleteSucceeded),
            "complete-succeeded is not allowed in state invoked"
        );
        assert_eq!(
            refusal(&Event::ProcessReleased),
            "process-released is not allowed in state invoked"
        );
        assert_eq!(
            refusal(&Event::CompleteFailed),
            "complete-failed is not allowed in state invoked"
        );
        // The operator-facing message of an End outside a lease.
        assert_eq!(
            refusal(&Event::End(Terminal::Verified)),
            "end is not allowed in state invoked"
        );
    }

    #[test]
    fn every_state_event_pair() {
        let now = t0() + Duration::seconds(10);
        let live = now + Duration::seconds(30);
        let lapsed = now - Duration::seconds(1);
        let processing = |until| FlowState::Processing {
            resume: Box::new(FlowState::Invoked),
            lease_until: until,
        };
        let completing = |until| FlowState::Completing {
            resume: Box::new(FlowState::Invoked),
            lease_until: until,
        };
        let states: Vec<(&str, FlowState)> = vec![
            ("prepared", FlowState::Prepared),
            ("invoked", FlowState::Invoked),
            ("binding-confirmed", FlowState::BindingConfirmed),
            ("processing-live", processing(live)),
            ("processing-lapsed", processing(lapsed)),
            ("completing-live", completing(live)),
            ("completing-lapsed", completing(lapsed)),
            ("ended", FlowState::Ended(Terminal::Verified)),
        ];
        let events: Vec<(&str, Event)> = vec![
            ("invoke", Event::Invoke),
            ("begin-complete", Event::BeginComplete { lease_until: live }),
            ("complete-ok", Event::CompleteSucceeded),
            ("complete-failed", Event::CompleteFailed),
            ("begin-process", Event::BeginProcess { lease_until: live }),
            ("released", Event::ProcessReleased),
            ("end", Event::End(Terminal::Verified)),
        ];
        use Want::*;
        // (strategy, state, event) -> expected; one row per pair, for link and for ts43.
        let expected = |strategy: Strategy, state: &str, event: &str| -> Want {
            let link = strategy == Strategy::Link;
            let invalid = Err("SESSION_NOT_ELIGIBLE");
            match (state, event) {
                ("ended", _) => Err("SESSION_ALREADY_USED"),
                ("prepared", "invoke") => To("invoked"),
                (_, "invoke") => Same,
                (_, "begin-complete") if !link => invalid,
                ("prepared" | "invoked", "begin-complete") => To("completing"),
                ("binding-confirmed", "begin-complete") => Err("SESSION_ALREADY_USED"),
                ("completing-live", "begin-complete") => Err("SESSION_BUSY"),
                ("completing-lapsed", "begin-complete") => To("completing"),
                ("completing-live" | "completing-lapsed", "complete-ok") => To("binding-confirmed"),
                ("completing-live" | "completing-lapsed", "complete-failed") => To("invoked"),
                ("processing-live" | "processing-lapsed", "begin-complete") => invalid,
                ("prepared" | "invoked", "begin-process") if !link => To("processing"),
                ("prepared" | "invoked", "begin-process") => invalid,
                ("binding-confirmed", "begin-process") => To("processing"),
                ("processing-live", "begin-process") => Err("SESSION_BUSY"),
                ("processing-lapsed", "begin-process") => To("processing"),
                ("completing-live" | "completing-lapsed", "begin-process") => Err("SESSION_BUSY"),
                ("processing-live" | "processing-lapsed", "released") => To("invoked"),
                ("processing-live" | "processing-lapsed", "end") => To("ended"),
                _ => invalid,
            }
        };
        for strategy in [Strategy::Link, Strategy::Ts43, Strategy::Desktop] {
            for (state_label, state) in &states {
                for (event_label, event) in &events {
                    let rec = record(strategy, state.clone());
                    assert_eq!(
                        outcome(&rec, event, now),
                        expected(strategy, state_label, event_label),
                        "{strategy} {state_label} + {event_label}"
                    );
                }
            }
        }
    }

    #[test]
    fn expiry_is_exact_and_does_not_block_the_lease_holder() {
        let rec = record(Strategy::Ts43, FlowState::Invoked);
        let lease = Event::BeginProcess {
            lease_until: rec.expires_at + Duration::seconds(30),
        };
        let just_before = rec.expires_at - Duration::milliseconds(1);
        assert!(transition(&rec, &lease, just_before).is_ok());
        assert_eq!(
            transition(&rec, &lease, rec.expires_at),
            Err(FlowError::Expired)
        );
        let holding = record(
            Strategy::Ts43,
            FlowState::Processing {
                resume: Box::new(FlowState::Invoked),
                lease_until: rec.expires_at + Duration::seconds(30),
            },
        );
        let after = rec.expires_at + Duration::seconds(5);
        assert_eq!(
            transition(&holding, &Event::End(Terminal::Verified), after),
            Ok(FlowState::Ended(Terminal::Verified))
        );
    }

    #[test]
    fn lease_takeover_keeps_the_original_resume_state() {
        let now = t0();
        let rec = record(
            Strategy::Desktop,
            FlowState::Processing {
                resume: Box::new(FlowState::Prepared),
                lease_until: now,
            },
        );
        let next = transition(
            &rec,
            &Event::BeginProcess {
                lease_until: now + Duration::seconds(9),
            },
            now,
        )
        .unwrap();
        assert_eq!(
            next,
            FlowState::Processing {
                resume: Box::new(FlowState::Prepared),
                lease_until: now + Duration::seconds(9)
            }
        );
    }
}
