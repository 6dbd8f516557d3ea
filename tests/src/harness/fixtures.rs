//! What every engine under test is built with: a Glide client for the sandbox and the demos'
//! email on file.

use std::time::Duration;

use glide_core::api::Glide;
use glide_sandbox::{Sandbox, SandboxConfig};

/// The app's address on file for a number, as the demos have it: `user-DDDD@example.com` for
/// `+1555555DDDD`, none for other numbers.
pub fn email_on_file(phone: &glide_core::PhoneNumber) -> Option<glide_core::legacy::Email> {
    let digits = phone.as_str().strip_prefix("+1555555")?;
    glide_core::legacy::Email::parse(&format!("user-{digits}@example.com")).ok()
}

/// A Glide client for the sandbox's default credentials.
pub fn sandbox_client(sandbox: &Sandbox) -> Glide {
    let config = SandboxConfig::default();
    Glide::builder(config.client_id, config.client_secret)
        .base_url(sandbox.base_url())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("Glide client")
}
