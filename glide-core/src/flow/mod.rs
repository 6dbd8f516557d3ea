//! The verification flow: one stored, versioned record per Glide session, and the one function
//! that decides which step may happen in which state.
//!
//! ```text
//!            report-invocation        complete (link only)
//! Prepared ────────────────▶ Invoked ───────────────▶ BindingConfirmed
//!    │                         │                            │
//!    └──────── process ────────┴──────── process ───────────┘
//!                              ▼
//!                       Processing (a lease: one request talks to Glide)
//!              ┌───────────────┼──────────────┬───────────────┐
//!   Glide says "wait"     verified        refused by policy   failed
//!   (back to before)    Verified (end)      Denied (end)     Failed (end)
//! ```
//!
//! Every change is a compare-and-set on the record's version, so of two concurrent requests
//! exactly one moves the flow; the other sees the new state.

mod machine;
mod record;
mod repo;

pub(crate) use machine::Event;
pub(crate) use record::{FlowRecord, FlowState, Terminal};
pub(crate) use repo::FlowRepo;
