//! The rate limits every flow draws on: who the client is, and the counters per route kind.

use std::net::IpAddr;

use http::header::HeaderName;

use super::io::Incoming;
use crate::error::Error;
use crate::ratelimit::{RateLimitConfig, RateLimiter};
use crate::PhoneNumber;

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// The configured limits and their counters.
#[derive(Debug)]
pub(crate) struct Limits {
    pub(crate) config: RateLimitConfig,
    pub(crate) limiter: RateLimiter,
}

impl Limits {
    /// The client's address: the peer, or `X-Forwarded-For` from a trusted proxy.
    pub(crate) fn client_ip(&self, request: &Incoming) -> Option<IpAddr> {
        self.config
            .client_ip(request.peer, request.header(X_FORWARDED_FOR))
    }

    /// A start of a flow (`scope`: `prepare`, `legacy_start`, …): per client address and per
    /// number.
    pub(crate) async fn start(
        &self,
        scope: &str,
        request: &Incoming,
        phone: Option<&PhoneNumber>,
    ) -> Result<(), Error> {
        if let (Some(limit), Some(ip)) = (self.config.prepare_per_ip, self.client_ip(request)) {
            self.limiter.check_ip(scope, ip, limit).await?;
        }
        if let (Some(limit), Some(phone)) = (self.config.prepare_per_phone, phone) {
            self.limiter.check_phone(scope, phone, limit).await?;
        }
        Ok(())
    }

    /// A request that checks a code or a credential: per client address.
    pub(crate) async fn check(&self, request: &Incoming) -> Result<(), Error> {
        if let (Some(limit), Some(ip)) = (self.config.check_per_ip, self.client_ip(request)) {
            self.limiter.check_ip("check", ip, limit).await?;
        }
        Ok(())
    }

    /// A code checked for `phone`: per number.
    pub(crate) async fn check_phone(&self, scope: &str, phone: &PhoneNumber) -> Result<(), Error> {
        if let Some(limit) = self.config.check_per_phone {
            self.limiter.check_phone(scope, phone, limit).await?;
        }
        Ok(())
    }
}
