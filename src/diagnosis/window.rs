//! The time window a caller asks about: `since` / `until` texts turned into Unix seconds.
//!
//! Callers write times the way they read them off a dashboard or a log: an RFC 3339 time,
//! nginx's `$time_local` form, or a duration back from now (`15m`). The clock is passed in,
//! so the same text always resolves the same way in a test and nothing here reads the time.

use super::InputError;
use super::nginx_format::{parse_rfc3339, parse_time_local};

/// Resolves a `since` / `until` value to Unix seconds: an RFC 3339 time
/// (`2024-05-01T12:00:00Z`), nginx's `$time_local` form, or a duration before `now`
/// (`90s`, `15m`, `24h`, `7d`, `2w`: Sentry's period form).
pub fn resolve_time(field: &str, text: &str, now: i64) -> Result<i64, InputError> {
    let t = text.trim();
    if let Some(v) = parse_rfc3339(t.as_bytes()).or_else(|| parse_time_local(t.as_bytes())) {
        return Ok(v);
    }
    let (num, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let unit = unit.trim().trim_end_matches(" ago");
    let scale = match unit {
        "s" | "sec" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => 0,
    };
    match num.parse::<i64>() {
        Ok(n) if scale > 0 && n <= 3650 * 86_400 => Ok(now - n * scale),
        _ => Err(InputError::new(
            field,
            format!(
                "`{text}` is not a time; use RFC 3339 (2024-05-01T12:00:00Z) or a period before now (90s, 15m, 24h, 7d, 2w)"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_resolve() {
        assert_eq!(resolve_time("since", "15m", 10_000).unwrap(), 9_100);
        assert_eq!(
            resolve_time("since", "2024-01-01T00:00:00Z", 0).unwrap(),
            1_704_067_200
        );
        assert!(resolve_time("since", "yesterday", 0).is_err());
        // Sentry's period form.
        assert_eq!(resolve_time("since", "24h", 100_000).unwrap(), 13_600);
        assert_eq!(resolve_time("since", "7d", 1_000_000).unwrap(), 395_200);
        assert_eq!(resolve_time("since", "2w", 2_000_000).unwrap(), 790_400);
    }
}
