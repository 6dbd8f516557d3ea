//! Where an app's Redis is: one node, or the seed nodes of a Redis Cluster.

use std::fmt;

/// The environment variable naming one Redis node.
pub const REDIS_URL_VAR: &str = "GLIDE_REDIS_URL";

/// The environment variable listing a Redis Cluster's seed nodes, comma separated. It wins over
/// [`REDIS_URL_VAR`].
pub const REDIS_CLUSTER_URLS_VAR: &str = "GLIDE_REDIS_CLUSTER_URLS";

/// Where the Redis of an app is (feature `redis`): what [`RedisStore::connect_target`] and
/// [`RedisEvents::connect_target`] connect to.
///
/// `Debug` hides passwords in the URLs.
///
/// ```
/// use glide_core::store::RedisTarget;
///
/// let target = RedisTarget::from_vars(
///     Some("redis://127.0.0.1:6379"),
///     Some("redis://127.0.0.1:7000, redis://127.0.0.1:7001"),
/// );
/// assert_eq!(
///     target,
///     Some(RedisTarget::Cluster(vec![
///         "redis://127.0.0.1:7000".into(),
///         "redis://127.0.0.1:7001".into(),
///     ]))
/// );
/// assert_eq!(RedisTarget::from_vars(Some(" "), None), None);
/// ```
///
/// [`RedisStore::connect_target`]: crate::store::RedisStore::connect_target
/// [`RedisEvents::connect_target`]: crate::events::RedisEvents::connect_target
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RedisTarget {
    /// One Redis node, e.g. `redis://127.0.0.1:6379/`.
    Node(String),
    /// The seed nodes of a Redis Cluster (any reachable one is enough to find the others).
    Cluster(Vec<String>),
}

impl RedisTarget {
    /// The target configured in the environment: [`GLIDE_REDIS_CLUSTER_URLS`] (comma-separated
    /// seed nodes) if set and not blank, else [`GLIDE_REDIS_URL`], else `None` (no Redis: use
    /// the in-process store).
    ///
    /// [`GLIDE_REDIS_CLUSTER_URLS`]: REDIS_CLUSTER_URLS_VAR
    /// [`GLIDE_REDIS_URL`]: REDIS_URL_VAR
    pub fn from_env() -> Option<Self> {
        // A value that is not UTF-8 is kept (lossily), so that it fails loudly at connect time
        // instead of reading as unset, which would silently keep state per process.
        let read = |name| std::env::var_os(name).map(|v| v.to_string_lossy().into_owned());
        let url = read(REDIS_URL_VAR);
        let cluster = read(REDIS_CLUSTER_URLS_VAR);
        Self::from_vars(url.as_deref(), cluster.as_deref())
    }

    /// The target given the values of `GLIDE_REDIS_URL` and `GLIDE_REDIS_CLUSTER_URLS`, as
    /// [`from_env`](Self::from_env) reads them: the cluster list wins; blank values and empty
    /// list entries are ignored; surrounding spaces are trimmed.
    pub fn from_vars(redis_url: Option<&str>, cluster_urls: Option<&str>) -> Option<Self> {
        let seeds: Vec<String> = cluster_urls
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|url| !url.is_empty())
            .map(str::to_owned)
            .collect();
        if !seeds.is_empty() {
            return Some(Self::Cluster(seeds));
        }
        redis_url
            .map(str::trim)
            .filter(|url| !url.is_empty())
            .map(|url| Self::Node(url.to_owned()))
    }

    /// Whether this is a cluster.
    pub fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster(_))
    }
}

impl fmt::Debug for RedisTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Node(url) => f.debug_tuple("Node").field(&redacted(url)).finish(),
            Self::Cluster(urls) => f
                .debug_tuple("Cluster")
                .field(&urls.iter().map(|u| redacted(u)).collect::<Vec<_>>())
                .finish(),
        }
    }
}

/// The URL with its password replaced by `***` (unparsable URLs are hidden whole).
pub(crate) fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                // Setting a password only fails on URLs that cannot have one.
                let _ = parsed.set_password(Some("***"));
            }
            parsed.to_string()
        }
        Err(_) => "<unparsable URL>".to_owned(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn cluster_list_wins_and_blank_values_are_unset() {
        let node = Some("redis://10.0.0.1:6379/");
        assert_eq!(
            RedisTarget::from_vars(node, None),
            Some(RedisTarget::Node("redis://10.0.0.1:6379/".into()))
        );
        assert_eq!(
            RedisTarget::from_vars(node, Some(" , ,")),
            Some(RedisTarget::Node("redis://10.0.0.1:6379/".into())),
            "a blank cluster list does not hide the node URL"
        );
        assert_eq!(
            RedisTarget::from_vars(node, Some("redis://a:7000,,redis://b:7001 ")),
            Some(RedisTarget::Cluster(vec![
                "redis://a:7000".into(),
                "redis://b:7001".into()
            ]))
        );
        assert_eq!(RedisTarget::from_vars(None, None), None);
        assert_eq!(RedisTarget::from_vars(Some(""), Some("")), None);
    }

    #[test]
    fn debug_hides_passwords() {
        let target = RedisTarget::Cluster(vec![
            "redis://user:hunter2@10.0.0.1:7000/".into(),
            "not a url hunter2".into(),
        ]);
        let shown = format!("{target:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("10.0.0.1:7000"), "{shown}");
        let node = format!("{:?}", RedisTarget::Node("redis://:hunter2@h:1/".into()));
        assert!(!node.contains("hunter2"), "{node}");
    }
}
