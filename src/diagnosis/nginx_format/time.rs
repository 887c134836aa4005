//! Times: `$time_local`, `$time_iso8601` / RFC 3339 and `$msec` to Unix seconds, and Unix
//! seconds back to RFC 3339, without a calendar library.

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date and time of a Unix timestamp, UTC, as RFC 3339.
pub fn format_rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn num(v: &[u8]) -> Option<u32> {
    if v.is_empty() || v.len() > 9 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(v.iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0')))
}

fn month(v: &[u8]) -> Option<u32> {
    const MONTHS: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    MONTHS
        .iter()
        .position(|m| m[..] == *v)
        .map(|i| i as u32 + 1)
}

fn checked_time(y: u32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> Option<i64> {
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    Some(
        days_from_civil(i64::from(y), mo, d) * 86_400
            + i64::from(h) * 3600
            + i64::from(mi) * 60
            + i64::from(s),
    )
}

/// `$time_local`: `10/Oct/2000:13:55:36 -0700` → Unix seconds.
pub fn parse_time_local(v: &[u8]) -> Option<i64> {
    if v.len() != 26 || v[2] != b'/' || v[6] != b'/' || v[11] != b':' || v[20] != b' ' {
        return None;
    }
    let t = checked_time(
        num(&v[7..11])?,
        month(&v[3..6])?,
        num(&v[0..2])?,
        num(&v[12..14])?,
        num(&v[15..17])?,
        num(&v[18..20])?,
    )?;
    let sign = match v[21] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let off = i64::from(num(&v[22..24])?) * 3600 + i64::from(num(&v[24..26])?) * 60;
    Some(t - sign * off)
}

/// `$time_iso8601` or an RFC 3339 time: `2000-10-10T13:55:36-07:00`, `...Z`, with or
/// without fractional seconds → Unix seconds.
pub fn parse_rfc3339(v: &[u8]) -> Option<i64> {
    if v.len() < 19 || v[4] != b'-' || v[7] != b'-' || !matches!(v[10], b'T' | b't' | b' ') {
        return None;
    }
    if v[13] != b':' || v[16] != b':' {
        return None;
    }
    let t = checked_time(
        num(&v[0..4])?,
        num(&v[5..7])?,
        num(&v[8..10])?,
        num(&v[11..13])?,
        num(&v[14..16])?,
        num(&v[17..19])?,
    )?;
    let mut rest = &v[19..];
    if rest.first() == Some(&b'.') {
        let digits = rest[1..].iter().take_while(|b| b.is_ascii_digit()).count();
        rest = &rest[1 + digits..];
    }
    match rest {
        b"Z" | b"z" => Some(t),
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let off = i64::from(num(&[*h1, *h2])?) * 3600 + i64::from(num(&[*m1, *m2])?) * 60;
            Some(if *sign == b'+' { t - off } else { t + off })
        }
        _ => None,
    }
}

/// `$msec`: `1700000000.123` → Unix seconds.
pub fn parse_msec(v: &[u8]) -> Option<i64> {
    let whole = v.split(|&b| b == b'.').next()?;
    let secs = num(whole).map(i64::from).or_else(|| {
        (whole.len() <= 12 && whole.iter().all(u8::is_ascii_digit) && !whole.is_empty())
            .then(|| whole.iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0')))
    })?;
    let frac = &v[whole.len()..];
    if !(frac.is_empty() || (frac[0] == b'.' && frac[1..].iter().all(u8::is_ascii_digit))) {
        return None;
    }
    Some(secs)
}
