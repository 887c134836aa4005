//! The values of the timing and status variables: seconds with a fraction kept as integer
//! milliseconds, upstream lists (one value per upstream tried) added up, and the status
//! the client got.

/// Parses seconds with a fraction (`0.123`, `12`, `1.5`) into whole milliseconds, rounded.
pub fn parse_ms(v: &[u8]) -> Option<u64> {
    let mut whole: u64 = 0;
    let mut i = 0;
    while i < v.len() && v[i].is_ascii_digit() {
        whole = whole.checked_mul(10)?.checked_add(u64::from(v[i] - b'0'))?;
        i += 1;
    }
    let digits_before = i;
    let mut frac_ms: u64 = 0;
    let mut round_up = false;
    if i < v.len() && v[i] == b'.' {
        i += 1;
        let mut scale = 100;
        let mut n = 0;
        while i < v.len() && v[i].is_ascii_digit() {
            let d = u64::from(v[i] - b'0');
            if n < 3 {
                frac_ms += d * scale;
                scale /= 10;
            } else if n == 3 {
                round_up = d >= 5;
            }
            n += 1;
            i += 1;
        }
        if n == 0 && digits_before == 0 {
            return None;
        }
    } else if digits_before == 0 {
        return None;
    }
    if i != v.len() || whole > 100_000_000 {
        return None;
    }
    Some(whole * 1000 + frac_ms + u64::from(round_up))
}

/// The values of an upstream list (`0.010, 0.020 : 0.005`), added up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TimeList {
    /// Sum of the values that were present, ms.
    pub sum_ms: u64,
    /// How many values were present (not `-`).
    pub count: u32,
    /// How many tries in total (including `-`).
    pub tries: u32,
}

/// Parses an upstream time list. `None` when an entry is neither a number nor `-`;
/// `Some` with `count == 0` when every entry is `-`.
pub fn parse_time_list(v: &[u8]) -> Option<TimeList> {
    if memchr::memchr2(b',', b':', v).is_none() {
        // One upstream: the common case.
        let v = v.trim_ascii();
        if v == b"-" || v.is_empty() {
            return Some(TimeList {
                tries: 1,
                ..TimeList::default()
            });
        }
        return Some(TimeList {
            sum_ms: parse_ms(v)?,
            count: 1,
            tries: 1,
        });
    }
    let mut out = TimeList::default();
    for part in v.split(|&b| b == b',' || b == b':') {
        let part = part.trim_ascii();
        out.tries += 1;
        if part == b"-" || part.is_empty() {
            continue;
        }
        out.sum_ms += parse_ms(part)?;
        out.count += 1;
    }
    Some(out)
}

/// The last status of an upstream status list (`502, 200` → 200), or a plain `$status`.
pub fn parse_status(v: &[u8]) -> Option<u16> {
    let last = v.rsplit(|&b| b == b',' || b == b':').next()?.trim_ascii();
    if last.len() != 3 || !last.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(last.iter().fold(0u16, |n, d| n * 10 + u16::from(d - b'0')))
}
