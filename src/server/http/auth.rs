//! The bearer token that guards `/mcp`: where it comes from, and how a request's
//! `Authorization` header is checked against it.
//!
//! The token comes from the environment (`PWT_HTTP_TOKEN`) or a file, never from the command
//! line, where `ps` would show it to every user of the machine. It is compared in constant
//! time, and its `Debug` form is redacted so that it cannot reach a log line by accident.

use std::path::{Path, PathBuf};

use axum::http::{HeaderMap, header::AUTHORIZATION};
use subtle::ConstantTimeEq;

/// A token shorter than this is refused: it could be guessed.
pub const MIN_TOKEN_LEN: usize = 16;

/// The shared secret every client presents as `Authorization: Bearer <token>`.
#[derive(Clone)]
pub struct BearerToken(Box<[u8]>);

impl std::fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BearerToken(<redacted>)")
    }
}

/// Why a token could not be loaded. Messages name the source, never the value.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error(
        "both PWT_HTTP_TOKEN and a token file ({}) are set: keep one",
        .0.display()
    )]
    TwoSources(PathBuf),
    #[error("cannot read the token file {}: {source}", .path.display())]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{source_name} is empty")]
    Empty { source_name: String },
    #[error(
        "{source_name} is too short ({len} characters): use at least {MIN_TOKEN_LEN} random \
         characters, e.g. `openssl rand -hex 32`"
    )]
    TooShort { source_name: String, len: usize },
    #[error(
        "{source_name} holds characters that cannot travel in an HTTP header: use printable \
         ASCII without spaces, e.g. `openssl rand -hex 32`"
    )]
    NotPrintable { source_name: String },
}

impl BearerToken {
    /// The token from `PWT_HTTP_TOKEN` (its value, if set) or from a file, or none.
    ///
    /// Surrounding whitespace (a file's trailing newline) is not part of the token.
    pub fn load(env_value: Option<&str>, file: Option<&Path>) -> Result<Option<Self>, TokenError> {
        match (env_value, file) {
            (Some(_), Some(path)) => Err(TokenError::TwoSources(path.to_owned())),
            (Some(value), None) => Self::parse(value, "PWT_HTTP_TOKEN").map(Some),
            (None, Some(path)) => {
                let text =
                    std::fs::read_to_string(path).map_err(|source| TokenError::Unreadable {
                        path: path.to_owned(),
                        source,
                    })?;
                warn_if_others_can_read(path);
                Self::parse(&text, &format!("the token file {}", path.display())).map(Some)
            }
            (None, None) => Ok(None),
        }
    }

    fn parse(text: &str, source_name: &str) -> Result<Self, TokenError> {
        let token = text.trim();
        let source_name = source_name.to_owned();
        if token.is_empty() {
            return Err(TokenError::Empty { source_name });
        }
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(TokenError::NotPrintable { source_name });
        }
        if token.len() < MIN_TOKEN_LEN {
            return Err(TokenError::TooShort {
                source_name,
                len: token.len(),
            });
        }
        Ok(Self(token.as_bytes().into()))
    }

    /// True when the request carries exactly one `Authorization: Bearer <this token>` header.
    pub fn admits(&self, headers: &HeaderMap) -> bool {
        let mut values = headers.get_all(AUTHORIZATION).iter();
        let (Some(value), None) = (values.next(), values.next()) else {
            return false;
        };
        let Some((scheme, credentials)) = value.as_bytes().split_first_chunk::<7>() else {
            return false;
        };
        // RFC 7235: the scheme is case-insensitive; RFC 6750: `Bearer` 1*SP b64token.
        if !scheme.eq_ignore_ascii_case(b"bearer ") {
            return false;
        }
        let presented = credentials.trim_ascii();
        constant_time_eq(&self.0, presented)
    }
}

/// Compares a presented token with the expected one without an early exit.
///
/// The loop always runs over the expected token's length and the lengths are compared in
/// constant time too, so the time taken says nothing about how much of a guess was right.
fn constant_time_eq(expected: &[u8], presented: &[u8]) -> bool {
    let mut same = expected.len().ct_eq(&presented.len());
    for (i, e) in expected.iter().enumerate() {
        // Branching on the presented length is safe: the client chose it.
        let p = presented.get(i).copied().unwrap_or(0);
        same &= e.ct_eq(&p);
    }
    bool::from(same)
}

#[cfg(unix)]
fn warn_if_others_can_read(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path) {
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            tracing::warn!(
                file = %path.display(),
                mode = format!("{mode:o}"),
                "the token file is readable by other users; `chmod 600` it"
            );
        }
    }
}

#[cfg(not(unix))]
fn warn_if_others_can_read(_path: &Path) {}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    const TOKEN: &str = "s3cret-token-0123456789abcdef";

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            map.append(AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        }
        map
    }

    fn token() -> BearerToken {
        BearerToken::load(Some(TOKEN), None).unwrap().unwrap()
    }

    #[test]
    fn the_right_token_is_admitted_in_any_scheme_case() {
        assert!(token().admits(&headers(&[&format!("Bearer {TOKEN}")])));
        assert!(token().admits(&headers(&[&format!("bearer {TOKEN}")])));
        assert!(token().admits(&headers(&[&format!("BEARER   {TOKEN}")])));
    }

    #[test]
    fn anything_else_is_refused() {
        let t = token();
        assert!(!t.admits(&headers(&[])));
        assert!(!t.admits(&headers(&["Bearer"])));
        assert!(!t.admits(&headers(&["Bearer "])));
        assert!(!t.admits(&headers(&[&format!("Basic {TOKEN}")])));
        assert!(!t.admits(&headers(&[TOKEN])));
        assert!(!t.admits(&headers(&[&format!("Bearer {TOKEN}x")])));
        assert!(!t.admits(&headers(&[&format!(
            "Bearer {}",
            &TOKEN[..TOKEN.len() - 1]
        )])));
        assert!(!t.admits(&headers(&["Bearer s3cret-token-0123456789abcdeF"])));
        // Two headers are ambiguous, even if one of them is right.
        assert!(!t.admits(&headers(&[
            &format!("Bearer {TOKEN}"),
            "Bearer wrong-wrong-wrong-wrong"
        ])));
    }

    #[test]
    fn constant_time_eq_compares_content_and_length() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(!constant_time_eq(b"abc", b"abc\0"));
        assert!(!constant_time_eq(b"abc", b""));
    }

    #[test]
    fn debug_never_shows_the_token() {
        let shown = format!("{:?}", token());
        assert!(!shown.contains(TOKEN), "{shown}");
        assert!(shown.contains("redacted"));
    }

    #[test]
    fn weak_or_ambiguous_tokens_are_refused_without_echoing_them() {
        let err = BearerToken::load(Some("qwxyz"), None).unwrap_err();
        assert!(matches!(err, TokenError::TooShort { len: 5, .. }), "{err}");
        assert!(!err.to_string().contains("qwxyz"), "{err}");
        let err = BearerToken::load(Some("   "), None).unwrap_err();
        assert!(matches!(err, TokenError::Empty { .. }), "{err}");
        let err = BearerToken::load(Some("has a space in the middle"), None).unwrap_err();
        assert!(matches!(err, TokenError::NotPrintable { .. }), "{err}");
        let err = BearerToken::load(Some(TOKEN), Some(Path::new("/nonexistent"))).unwrap_err();
        assert!(matches!(err, TokenError::TwoSources(_)), "{err}");
        assert!(BearerToken::load(None, None).unwrap().is_none());
    }

    #[test]
    fn a_token_file_is_read_without_its_newline() {
        let dir = std::env::temp_dir().join(format!("pwt-token-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("token");
        std::fs::write(&path, format!("{TOKEN}\n")).unwrap();
        let loaded = BearerToken::load(None, Some(&path)).unwrap().unwrap();
        assert!(loaded.admits(&headers(&[&format!("Bearer {TOKEN}")])));
        let err = BearerToken::load(None, Some(&dir.join("missing"))).unwrap_err();
        assert!(
            err.to_string().contains("cannot read the token file"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
