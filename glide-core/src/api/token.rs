//! The OAuth2 client-credentials token, cached and refreshed ahead of expiry with one request in
//! flight however many callers wait.

use std::future::Future;
use std::time::Duration;

use serde::Deserialize;
use time::OffsetDateTime;
use tokio::sync::Mutex;

use crate::clock::Clock;
use crate::error::Error;
use crate::secret::AccessToken;

/// Refresh this long before expiry (Glide's SDKs: 60 s).
pub const REFRESH_AHEAD: Duration = Duration::from_secs(60);

/// Lifetime assumed when `expires_in` is missing or not positive.
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);

/// The token endpoint's 200 body.
#[derive(Deserialize)]
pub(crate) struct TokenAnswer {
    pub(crate) access_token: String,
    #[serde(default)]
    pub(crate) expires_in: Option<i64>,
}

impl TokenAnswer {
    /// The token and its lifetime ([`DEFAULT_LIFETIME`] when `expires_in` is missing or not
    /// positive); an answer without `access_token` is [`Error::Decode`].
    pub(crate) fn into_token(self) -> Result<(AccessToken, Duration), Error> {
        if self.access_token.is_empty() {
            return Err(Error::Decode {
                status: 200,
                message: "token answer without access_token".to_owned(),
            });
        }
        let lifetime = match self.expires_in {
            Some(secs) if secs > 0 => Duration::from_secs(secs.unsigned_abs()),
            _ => DEFAULT_LIFETIME,
        };
        Ok((AccessToken::new(self.access_token), lifetime))
    }
}

struct Cached {
    token: AccessToken,
    refresh_at: OffsetDateTime,
}

/// The cache. The mutex is held while a token is fetched, so concurrent callers queue behind
/// one request and then all see its token.
#[derive(Default)]
pub(crate) struct TokenCache {
    slot: Mutex<Option<Cached>>,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenCache([redacted])")
    }
}

impl TokenCache {
    /// Whether this cache holds nothing usable at `now` (empty, or its token is due for
    /// refresh) and nobody is fetching into it: such a cache can be dropped.
    pub(crate) fn is_stale(&self, now: OffsetDateTime) -> bool {
        match self.slot.try_lock() {
            Ok(slot) => slot.as_ref().is_none_or(|cached| now >= cached.refresh_at),
            Err(_) => false,
        }
    }

    /// A token that is not about to expire and is not `rejected` (a token the API just refused
    /// with 401); fetched with `fetch` when needed.
    pub(crate) async fn get<F, Fut>(
        &self,
        clock: &dyn Clock,
        rejected: Option<&AccessToken>,
        fetch: F,
    ) -> Result<AccessToken, Error>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<TokenAnswer, Error>>,
    {
        let mut slot = self.slot.lock().await;
        if let Some(cached) = slot.as_ref() {
            let fresh = clock.now() < cached.refresh_at;
            let refused = rejected.is_some_and(|r| *r == cached.token);
            if fresh && !refused {
                return Ok(cached.token.clone());
            }
        }
        *slot = None;
        let (token, lifetime) = fetch().await?.into_token()?;
        let ahead = REFRESH_AHEAD.min(lifetime / 2);
        *slot = Some(Cached {
            token: token.clone(),
            // An `expires_in` beyond the calendar (Glide could send i64::MAX) saturates.
            refresh_at: clock.now().saturating_add(
                time::Duration::try_from(lifetime - ahead).unwrap_or(time::Duration::MAX),
            ),
        });
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn answer(token: &str, expires_in: Option<i64>) -> Result<TokenAnswer, Error> {
        Ok(TokenAnswer {
            access_token: token.to_owned(),
            expires_in,
        })
    }

    #[tokio::test]
    async fn refreshes_sixty_seconds_ahead() {
        let clock = ManualClock::new();
        let cache = TokenCache::default();
        let t = cache
            .get(&clock, None, || async { answer("a", Some(3600)) })
            .await
            .unwrap();
        assert_eq!(t.secret(), "a");
        clock.advance(time::Duration::seconds(3539));
        let t = cache
            .get(&clock, None, || async { answer("b", Some(3600)) })
            .await
            .unwrap();
        assert_eq!(t.secret(), "a");
        clock.advance(time::Duration::seconds(2));
        let t = cache
            .get(&clock, None, || async { answer("b", None) })
            .await
            .unwrap();
        assert_eq!(t.secret(), "b");
        // missing expires_in → 3600
        clock.advance(time::Duration::seconds(3500));
        let t = cache
            .get(&clock, None, || async { answer("c", None) })
            .await
            .unwrap();
        assert_eq!(t.secret(), "b");
    }

    #[tokio::test]
    async fn a_lifetime_beyond_the_calendar_is_kept_without_overflow() {
        // Found by the `ciba` fuzz target: `"expires_in": 9223372036854775807` panicked
        // ("overflow adding duration to date").
        let clock = ManualClock::new();
        let cache = TokenCache::default();
        let t = cache
            .get(&clock, None, || async { answer("a", Some(i64::MAX)) })
            .await
            .unwrap();
        assert_eq!(t.secret(), "a");
        clock.advance(time::Duration::days(365 * 100));
        let t = cache
            .get(&clock, None, || async { answer("b", Some(3600)) })
            .await
            .unwrap();
        assert_eq!(t.secret(), "a");
    }

    #[tokio::test]
    async fn rejected_token_is_replaced_once() {
        let clock = ManualClock::new();
        let cache = TokenCache::default();
        let a = cache
            .get(&clock, None, || async { answer("a", Some(3600)) })
            .await
            .unwrap();
        let b = cache
            .get(&clock, Some(&a), || async { answer("b", Some(3600)) })
            .await
            .unwrap();
        assert_eq!(b.secret(), "b");
        // a second caller that also saw "a" rejected gets "b" without a new fetch
        let again = cache
            .get(&clock, Some(&a), || async { answer("c", Some(3600)) })
            .await
            .unwrap();
        assert_eq!(again.secret(), "b");
    }
}
