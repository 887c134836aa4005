//! Route templates: how a request's path folds into the route it is counted under —
//! operator-supplied templates first, then ids, UUIDs, hashes, tokens and fingerprinted
//! file names folded automatically. The query string is dropped.

/// One segment of an operator-supplied template.
#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Literal(Vec<u8>),
    One,
    Rest,
}

/// An operator-supplied route template such as `/users/{name}/profile`.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteTemplate {
    text: String,
    segments: Vec<Segment>,
}

impl RouteTemplate {
    /// Parses `/a/{x}/b` or `/static/{*path}`. The message says what is wrong.
    pub fn parse(text: &str) -> Result<Self, String> {
        if !text.starts_with('/') {
            return Err(format!(
                "`{text}` must start with `/`, e.g. `/api/users/{{name}}/profile`"
            ));
        }
        let parts: Vec<&str> = text[1..].split('/').collect();
        let mut segments = Vec::with_capacity(parts.len());
        for (i, p) in parts.iter().enumerate() {
            let seg = if p.starts_with("{*") && p.ends_with('}') {
                if i + 1 != parts.len() {
                    return Err(format!(
                        "`{text}`: `{p}` matches the rest of the path, so it must be the last segment"
                    ));
                }
                Segment::Rest
            } else if p.starts_with('{') && p.ends_with('}') && p.len() > 2 {
                Segment::One
            } else if p.contains(['{', '}']) {
                return Err(format!(
                    "`{text}`: a placeholder must be a whole segment like `{{id}}`, got `{p}`"
                ));
            } else {
                Segment::Literal(p.as_bytes().to_vec())
            };
            segments.push(seg);
        }
        Ok(Self {
            text: text.to_owned(),
            segments,
        })
    }

    fn matches(&self, path: &[u8]) -> bool {
        let mut parts = path[1..].split(|&b| b == b'/');
        for seg in &self.segments {
            match seg {
                Segment::Rest => return true,
                Segment::One => match parts.next() {
                    Some(p) if !p.is_empty() => {}
                    _ => return false,
                },
                Segment::Literal(l) => match parts.next() {
                    Some(p) if p == l.as_slice() => {}
                    _ => return false,
                },
            }
        }
        parts.next().is_none()
    }
}

fn is_hex(b: u8) -> bool {
    b.is_ascii_hexdigit()
}

fn is_uuid(s: &[u8]) -> bool {
    s.len() == 36
        && s.iter().enumerate().all(|(i, &b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => is_hex(b),
        })
}

/// What an id-like path segment becomes, or `None` to keep it.
fn fold_segment(s: &[u8]) -> Option<&'static [u8]> {
    if s.is_empty() {
        return None;
    }
    if s.iter().all(u8::is_ascii_digit) {
        return Some(b"{id}");
    }
    if s.len() == 36 && is_uuid(s) {
        return Some(b"{uuid}");
    }
    if s.len() >= 16 && s.iter().all(|&b| is_hex(b)) && s.iter().any(u8::is_ascii_digit) {
        return Some(b"{hash}");
    }
    if s.len() >= 20
        && s.iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && s.iter().any(u8::is_ascii_digit)
        && s.iter().any(u8::is_ascii_alphabetic)
    {
        return Some(b"{token}");
    }
    None
}

/// Folds the fingerprint of a file name: `app.9f86d081.js` → `app.{hash}.js`. A dot-part of
/// 8 or more hex digits is folded when it sits between name and extension or mixes digits
/// and letters; an all-digit part becomes `{id}`.
fn fold_file_name(seg: &[u8], out: &mut Vec<u8>) {
    let parts = seg.split(|&b| b == b'.').count();
    for (i, part) in seg.split(|&b| b == b'.').enumerate() {
        if i > 0 {
            out.push(b'.');
        }
        // Between the name and the extension, 8+ hex digits are a fingerprint even when
        // they happen to hold no digit (`app.deadbeef.js`).
        let middle = i > 0 && i + 1 < parts;
        let hex = part.len() >= 8
            && part.iter().all(|&b| is_hex(b))
            && (middle || part.iter().any(u8::is_ascii_digit))
            && (middle || part.iter().any(u8::is_ascii_alphabetic));
        if hex {
            out.extend_from_slice(b"{hash}");
        } else {
            match fold_segment(part) {
                Some(name) => out.extend_from_slice(name),
                None => out.extend_from_slice(part),
            }
        }
    }
}

/// Writes the route of `method path` into `out` (cleared first).
pub fn route_into(method: &[u8], target: &[u8], templates: &[RouteTemplate], out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(method);
    out.push(b' ');
    let path = match memchr::memchr2(b'?', b'#', target) {
        Some(i) => &target[..i],
        None => target,
    };
    // An absolute-form target (`GET http://host/path`) names the path after the host.
    let path = if path.starts_with(b"http://") || path.starts_with(b"https://") {
        let after = &path[path.iter().position(|&b| b == b':').unwrap_or(0) + 3..];
        match memchr::memchr(b'/', after) {
            Some(i) => &after[i..],
            None => b"/",
        }
    } else {
        path
    };
    if !path.starts_with(b"/") {
        out.extend_from_slice(b"(not a path)");
        return;
    }
    if let Some(t) = templates.iter().find(|t| t.matches(path)) {
        out.extend_from_slice(t.text.as_bytes());
        return;
    }
    for seg in path[1..].split(|&b| b == b'/') {
        out.push(b'/');
        match fold_segment(seg) {
            Some(name) => out.extend_from_slice(name),
            None if seg.contains(&b'.') => fold_file_name(seg, out),
            None => out.extend_from_slice(seg),
        }
    }
}
