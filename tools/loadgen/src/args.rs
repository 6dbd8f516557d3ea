//! A tiny `--name value` argument reader (no dependency for four flags).

use std::collections::HashMap;
use std::str::FromStr;

/// Parsed `--name value` / `--name=value` / `--flag` arguments.
#[derive(Debug, Default)]
pub struct Args {
    values: HashMap<String, String>,
}

impl Args {
    /// Parses `args` (without the program and subcommand).
    pub fn parse(args: &[String]) -> Result<Self, String> {
        let mut values = HashMap::new();
        let mut it = args.iter().peekable();
        while let Some(arg) = it.next() {
            let name = arg
                .strip_prefix("--")
                .ok_or_else(|| format!("unexpected argument: {arg}"))?;
            if let Some((n, v)) = name.split_once('=') {
                values.insert(n.to_owned(), v.to_owned());
            } else if it.peek().is_some_and(|v| !v.starts_with("--")) {
                let v = it.next().cloned().unwrap_or_default();
                values.insert(name.to_owned(), v);
            } else {
                values.insert(name.to_owned(), "true".to_owned());
            }
        }
        Ok(Self { values })
    }

    /// The value of `--name`, parsed, or `default`.
    pub fn get<T: FromStr>(&self, name: &str, default: T) -> Result<T, String> {
        match self.values.get(name) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| format!("--{name}: cannot parse {v:?}")),
        }
    }

    /// The raw value of `--name`.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// Whether `--name` was given (as a flag or with `true`).
    pub fn flag(&self, name: &str) -> bool {
        self.values.get(name).is_some_and(|v| v == "true")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let raw: Vec<String> = ["--flows", "10", "--rate=5", "--split"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let a = Args::parse(&raw).expect("parses");
        assert_eq!(a.get("flows", 0usize), Ok(10));
        assert_eq!(a.get("rate", 0u32), Ok(5));
        assert!(a.flag("split"));
        assert_eq!(a.get("missing", 7u8), Ok(7));
        assert!(a.get::<u8>("split", 0).is_err());
        assert!(Args::parse(&["x".to_string()]).is_err());
    }
}
