#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod config;
mod control;
mod error;
mod expiry;
mod faults;
pub mod fixtures;
mod jwt;
mod legacy;
mod log;
mod middleware;
mod qr;
mod routes;
mod server;
mod state;
mod util;

pub use config::{SandboxConfig, DEFAULT_BINARY_PORT};
pub use control::SandboxControl;
pub use error::{ControlError, StartError};
pub use faults::{Fault, FaultKind};
pub use log::LoggedRequest;
pub use server::{router, Sandbox};
