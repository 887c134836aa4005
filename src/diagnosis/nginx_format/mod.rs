//! An nginx `log_format`, compiled once into a line parser.
//!
//! Access logs vary as much as the sites that write them, so the parser is built from the
//! site's own `log_format` text rather than guessed: the format is split into literal text
//! and variables (`$var` or `${var}`), and a line is read by matching each literal in turn.
//! A variable's value runs up to the next literal, so variables may come in any order and
//! those the analysis does not need are skipped without being decoded.
//!
//! What is accepted as the format:
//! - the bare format string: `$remote_addr - $remote_user [$time_local] "$request" ...`;
//! - the directive as it stands in nginx.conf, quotes, concatenated strings, `escape=` and
//!   all: `log_format main escape=json '{"t":"$time_iso8601",' '"rt":$request_time}';`;
//! - a preset name: `combined` (nginx's built-in), `main` (the nginx.conf example) or
//!   `timed` (combined plus the upstream timings, see [`TIMED`]).
//!
//! A line that does not match yields a [`Divergence`]: the byte position where it stopped
//! matching and what the format expected there, so a wrong format is reported as such
//! instead of turning into zeros.
//!
//! Values: times (`$request_time`, `$upstream_*_time`) are seconds with millisecond
//! resolution and are kept as integer milliseconds. Upstream variables hold one value per
//! upstream tried — `"0.010, 0.020"` for a retry on the next server, `"0.010 : 0.020"` for
//! an internal redirect to another upstream group — and `-` for a try that got no value;
//! [`parse_time_list`] sums the tries (each held a worker), and [`parse_status`] keeps
//! the last status (the one the client got).
//!
//! ## Where it lives
//! - [`Field`]: the variables read;
//! - [`LogFormat::compile`]: presets, directives and format strings into a parser;
//! - [`LogFormat::split`] / [`LogFormat::parse`]: a line into its values, or a [`Divergence`];
//! - [`parse_ms`], [`parse_time_list`], [`parse_status`]: timing and status values;
//! - [`parse_time_local`], [`parse_rfc3339`], [`parse_msec`], [`format_rfc3339`]: times.

mod compile;
mod fields;
mod line;
#[cfg(test)]
mod tests;
mod time;
mod values;

pub use compile::{Escape, FormatError, LogFormat};
pub use fields::{FIELD_COUNT, Field};
pub use line::{Divergence, MAX_QUOTE, Values};
pub use time::{days_from_civil, format_rfc3339, parse_msec, parse_rfc3339, parse_time_local};
pub use values::{TimeList, parse_ms, parse_status, parse_time_list};

/// nginx's built-in `combined` format.
pub const COMBINED: &str = r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent""#;

/// The `main` format from the example nginx.conf shipped with nginx.
pub const MAIN: &str = r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" "$http_x_forwarded_for""#;

/// The documented `timed` preset: `combined` plus the four timings break_down_latency needs.
/// To use it, put this in the `http` block of nginx.conf and point `access_log` at it:
///
/// ```nginx
/// log_format timed '$remote_addr - $remote_user [$time_local] "$request" $status '
///                  '$body_bytes_sent "$http_referer" "$http_user_agent" rt=$request_time '
///                  'uct="$upstream_connect_time" uht="$upstream_header_time" '
///                  'urt="$upstream_response_time"';
/// ```
pub const TIMED: &str = r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" rt=$request_time uct="$upstream_connect_time" uht="$upstream_header_time" urt="$upstream_response_time""#;

/// The presets by name.
pub const PRESETS: &[(&str, &str)] = &[("combined", COMBINED), ("main", MAIN), ("timed", TIMED)];
