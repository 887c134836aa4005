//! Reads nginx access logs from disk: plain and rotated `.gz` files, several at once, in
//! parallel, in bounded memory.
//!
//! A large plain file is split at newlines into one range per core; each range is read with
//! `read(2)` into a fixed buffer (no mmap, so resident memory stays at the buffers plus the
//! per-route statistics whatever the file's size) and its lines go to a
//! [`LogStats`] of its own. Gzip files are decompressed as a stream, one per thread. The
//! parts are merged in file order, so the first line that does not match is reported with
//! its real line number. Every line is counted: matched, outside the window, or not matched.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use flate2::read::MultiGzDecoder;

use crate::diagnosis::InputError;
use crate::diagnosis::access_log::{AccessLogData, FirstError, LogOptions, LogStats};
use crate::diagnosis::nginx_format::{LogFormat, parse_rfc3339, parse_time_local};
use crate::error::ToolError;
use crate::progress::Lane;

use super::reach::Reach;

/// Read buffer per thread.
const BUFFER: usize = 1 << 17;
/// Plain files smaller than this are read by one thread.
const SPLIT_MIN: u64 = 16 << 20;
/// Longest line accepted; a longer one is counted as not matching.
const MAX_LINE: usize = 1 << 20;

/// One unit of work: a byte range of a plain file, or a whole gzip file.
struct Job {
    file: usize,
    part: usize,
    start: u64,
    end: u64,
    gzip: bool,
}

/// The result of one job.
struct Part<'f> {
    file: usize,
    part: usize,
    /// Lines in the range, empty ones included (for line numbers).
    newlines: u64,
    stats: LogStats<'f>,
}

/// Expands the paths (a `*` or `?` in the file name is matched against its directory) and
/// checks each against what the caller may read; returns the resolved files.
pub fn expand(paths: &[String], field: &str, reach: &Reach) -> Result<Vec<PathBuf>, ToolError> {
    let mut out = Vec::new();
    for (i, p) in paths.iter().enumerate() {
        let field = if paths.len() > 1 {
            format!("{field}[{i}]")
        } else {
            field.to_owned()
        };
        let name = Path::new(p)
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("");
        if name.contains(['*', '?']) {
            out.extend(reach.glob(&field, p)?);
        } else {
            out.push(reach.file(&field, p)?);
        }
    }
    if out.is_empty() {
        return Err(ToolError::bad_input(
            field,
            "names no file; pass at least one path",
        ));
    }
    Ok(out)
}

fn is_gzip(path: &Path) -> std::io::Result<bool> {
    let mut magic = [0u8; 2];
    let mut f = File::open(path)?;
    let n = f.read(&mut magic)?;
    Ok(n == 2 && magic == [0x1f, 0x8b])
}

/// Reads the files with `threads` threads and returns what they say; `lane` hears how many
/// of the files' bytes have been read.
pub fn read(
    paths: &[PathBuf],
    format: &LogFormat,
    options: &LogOptions,
    threads: usize,
    field: &str,
    lane: &Lane,
) -> Result<AccessLogData, ToolError> {
    let threads = threads.max(1);
    let mut jobs = Vec::new();
    let mut sizes = Vec::new();
    for (i, path) in paths.iter().enumerate() {
        let io = |e: std::io::Error| ToolError::io(field, path.display(), &e);
        let size = std::fs::metadata(path).map_err(io)?.len();
        let gzip = is_gzip(path).map_err(io)?;
        sizes.push((size, gzip));
        if gzip || size < SPLIT_MIN || threads == 1 {
            jobs.push(Job {
                file: i,
                part: 0,
                start: 0,
                end: u64::MAX,
                gzip,
            });
        } else {
            let step = size / threads as u64;
            for t in 0..threads {
                let start = step * t as u64;
                let end = if t + 1 == threads {
                    u64::MAX
                } else {
                    step * (t as u64 + 1)
                };
                jobs.push(Job {
                    file: i,
                    part: t,
                    start,
                    end,
                    gzip: false,
                });
            }
        }
    }

    let next = AtomicUsize::new(0);
    let bytes_read = AtomicU64::new(0);
    let total_bytes: u64 = sizes.iter().map(|(size, _)| size).sum();
    let results: Mutex<Vec<Result<Part<'_>, ToolError>>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads.min(jobs.len()))
            .map(|_| {
                scope.spawn(|| {
                    loop {
                        let j = next.fetch_add(1, Ordering::Relaxed);
                        let Some(job) = jobs.get(j) else { break };
                        let r = run_job(job, &paths[job.file], format, options, field, &bytes_read);
                        if let Ok(mut all) = results.lock() {
                            all.push(r);
                        }
                    }
                })
            })
            .collect();
        if lane.is_listening() {
            report_bytes(lane, &bytes_read, total_bytes, || {
                workers.iter().all(|w| w.is_finished())
            });
        }
    });
    let mut parts = Vec::new();
    for r in results.into_inner().unwrap_or_default() {
        parts.push(r?);
    }
    parts.sort_by_key(|p| (p.file, p.part));

    let mut total = LogStats::new(format, options);
    let mut files = Vec::new();
    let mut first_error: Option<(String, FirstError)> = None;
    let mut iter = parts.into_iter().peekable();
    for (i, path) in paths.iter().enumerate() {
        let mut file_stats = LogStats::new(format, options);
        let mut offset = 0;
        while let Some(p) = iter.next_if(|p| p.file == i) {
            let newlines = p.newlines;
            file_stats.merge(p.stats, offset);
            offset += newlines;
        }
        let shown = path.display().to_string();
        files.push(file_stats.file_data(&shown, sizes[i].0, sizes[i].1));
        if first_error.is_none() {
            first_error = file_stats.first_error.clone().map(|e| (shown, e));
        }
        total.merge(file_stats, 0);
    }
    Ok(total.finish(files, first_error))
}

/// Tells `lane` how much has been read until `finished`, at the pace progress is sent.
fn report_bytes(lane: &Lane, bytes_read: &AtomicU64, total: u64, finished: impl Fn() -> bool) {
    let megabytes = |b: u64| b as f64 / 1_048_576.0;
    loop {
        let done = finished();
        let read = bytes_read.load(Ordering::Relaxed).min(total);
        lane.report(read as f64, total as f64, || {
            format!(
                "read {:.0} of {:.0} MB of access log",
                megabytes(read),
                megabytes(total)
            )
        });
        if done {
            lane.report(1.0, 1.0, || "access log read".to_owned());
            return;
        }
        std::thread::sleep(crate::progress::MIN_INTERVAL);
    }
}

/// A reader that adds what it reads to a counter shared by the readers of one call.
struct Counted<'c, R> {
    inner: R,
    bytes: &'c AtomicU64,
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

fn run_job<'f>(
    job: &Job,
    path: &Path,
    format: &'f LogFormat,
    options: &'f LogOptions,
    field: &str,
    bytes_read: &AtomicU64,
) -> Result<Part<'f>, ToolError> {
    let io = |e: std::io::Error| ToolError::io(field, path.display(), &e);
    let mut stats = LogStats::new(format, options);
    let file = File::open(path).map_err(io)?;
    let newlines = if job.gzip {
        let counted = Counted {
            inner: file,
            bytes: bytes_read,
        };
        let reader = MultiGzDecoder::new(BufReader::with_capacity(BUFFER, counted));
        scan(reader, false, u64::MAX, &mut stats).map_err(|e| {
            ToolError::bad_input(
                field,
                format!(
                    "{}: the gzip data is damaged or truncated ({e}); pass only complete rotated files",
                    path.display()
                ),
            )
        })?
    } else {
        let mut file = file;
        let skip_first = job.start > 0;
        if skip_first {
            file.seek(SeekFrom::Start(job.start - 1)).map_err(io)?;
        }
        let limit = if job.end == u64::MAX {
            u64::MAX
        } else {
            // Bytes from the read position up to the range's end; lines starting before it
            // are read to their newline whatever their length.
            job.end - job.start + u64::from(skip_first)
        };
        let counted = Counted {
            inner: file,
            bytes: bytes_read,
        };
        scan(counted, skip_first, limit, &mut stats).map_err(io)?
    };
    Ok(Part {
        file: job.file,
        part: job.part,
        newlines,
        stats,
    })
}

/// Feeds every line that starts before `limit` (relative to the reader's start) to `stats`.
/// With `skip_first`, the bytes up to the first newline belong to the previous range.
/// Returns how many lines were read, empty ones included.
fn scan(
    mut reader: impl Read,
    skip_first: bool,
    limit: u64,
    stats: &mut LogStats<'_>,
) -> std::io::Result<u64> {
    let mut buf = vec![0u8; BUFFER];
    let mut filled = 0usize;
    // Absolute offset (from the reader's start) of buf[0].
    let mut base: u64 = 0;
    let mut skipping = skip_first;
    let mut line_no: u64 = 0;
    let mut oversized = false;
    let mut eof = false;
    loop {
        if !eof {
            let n = read_full(&mut reader, &mut buf[filled..])?;
            if n == 0 {
                eof = true;
            }
            filled += n;
        }
        let mut consumed = 0usize;
        for nl in memchr::memchr_iter(b'\n', &buf[..filled]) {
            let line = &buf[consumed..nl];
            let start = base + consumed as u64;
            consumed = nl + 1;
            if skipping {
                skipping = false;
                continue;
            }
            if start >= limit {
                return Ok(line_no);
            }
            line_no += 1;
            if oversized {
                oversized = false;
                stats.add_oversized(line_no);
                continue;
            }
            stats.add_line(line, line_no);
        }
        if eof {
            if consumed < filled && !skipping {
                let start = base + consumed as u64;
                if start < limit {
                    line_no += 1;
                    if oversized {
                        stats.add_oversized(line_no);
                    } else {
                        stats.add_line(&buf[consumed..filled], line_no);
                    }
                }
            }
            return Ok(line_no);
        }
        if base + consumed as u64 >= limit && !skipping {
            return Ok(line_no);
        }
        // Keep the unfinished line at the front of the buffer.
        buf.copy_within(consumed..filled, 0);
        filled -= consumed;
        base += consumed as u64;
        if filled == buf.len() {
            if buf.len() < MAX_LINE * 2 {
                buf.resize(buf.len() * 2, 0);
            } else {
                // A line longer than any log line: drop its bytes, count it once.
                base += filled as u64;
                filled = 0;
                oversized = !skipping;
            }
        }
    }
}

fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut total = 0;
    while total < buf.len() {
        match reader.read(&mut buf[total..]) {
            Ok(0) => break,
            Ok(n) => total += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        if total >= buf.len() / 2 {
            break;
        }
    }
    Ok(total)
}

/// Resolves a `since` / `until` value to Unix seconds: an RFC 3339 time
/// (`2024-05-01T12:00:00Z`), nginx's `$time_local` form, or a duration before `now`
/// (`90s`, `15m`, `2h`, `1d`).
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
        _ => 0,
    };
    match num.parse::<i64>() {
        Ok(n) if scale > 0 && n <= 3650 * 86_400 => Ok(now - n * scale),
        _ => Err(InputError::new(
            field,
            format!(
                "`{text}` is not a time; use RFC 3339 (2024-05-01T12:00:00Z) or a duration before now (90s, 15m, 2h, 1d)"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn line(i: usize, path: &str, rt: &str, status: u16) -> String {
        format!(
            "10.0.0.{} - - [10/Oct/2023:13:{:02}:{:02} +0000] \"GET {path} HTTP/1.1\" {status} 512 \"-\" \"bench\" rt={rt} uct=\"0.001\" uht=\"{rt}\" urt=\"{rt}\"\n",
            i % 250,
            (i / 60) % 60,
            i % 60
        )
    }

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("pwt-nginx-log-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    #[test]
    fn split_reading_equals_single_thread_and_counts_every_line() {
        let path = temp("big.log");
        let mut f = File::create(&path).unwrap();
        let mut expected_bad = None;
        // ~20 MB so the file is split; one malformed line in the second half.
        let n = 150_000;
        for i in 0..n {
            if i == 61_234 {
                f.write_all(b"this line is not in the format\n").unwrap();
                expected_bad = Some(i as u64 + 1);
                continue;
            }
            let (p, rt) = if i % 10 == 0 {
                (format!("/api/orders/{i}"), "1.250")
            } else {
                (format!("/api/items/{}", i % 97), "0.020")
            };
            f.write_all(line(i, &p, rt, 200).as_bytes()).unwrap();
            if i % 1000 == 0 {
                f.write_all(b"\n").unwrap();
            }
        }
        f.write_all(line(n, "/tail", "0.001", 503).trim_end().as_bytes())
            .unwrap();
        drop(f);
        let size = std::fs::metadata(&path).unwrap().len();
        assert!(size > SPLIT_MIN, "{size}");
        let format = LogFormat::compile("timed").unwrap();
        let options = LogOptions::default();
        let one = read(
            std::slice::from_ref(&path),
            &format,
            &options,
            1,
            "access_log.path",
            &crate::progress::Progress::none().lane(),
        )
        .unwrap();
        let updates = std::sync::Arc::new(Mutex::new(Vec::new()));
        let sink = updates.clone();
        let progress = crate::progress::Progress::to(move |u| sink.lock().unwrap().push(u));
        let two = read(
            std::slice::from_ref(&path),
            &format,
            &options,
            2,
            "access_log.path",
            &progress.lane(),
        )
        .unwrap();
        // The reader reports how much it has read, and ends at 100 %.
        let updates = updates.lock().unwrap();
        let last = updates.last().expect("progress was reported");
        assert_eq!(last.percent, 100.0, "{updates:?}");
        assert!(last.message.contains("access log"), "{updates:?}");
        let three = read(
            std::slice::from_ref(&path),
            &format,
            &options,
            3,
            "access_log.path",
            &crate::progress::Progress::none().lane(),
        )
        .unwrap();
        for r in [&one, &two, &three] {
            assert_eq!(r.lines, n as u64 + 1);
            assert_eq!(r.unparsed, 1);
            assert_eq!(r.parsed, n as u64);
            // Line numbers count the empty lines too.
            let bad = expected_bad.unwrap() + 62;
            assert_eq!(r.first_error.as_ref().unwrap().1.line, bad);
        }
        let sorted = |r: &AccessLogData| {
            let mut e = r.endpoints.clone();
            e.sort_by(|a, b| a.endpoint.cmp(&b.endpoint));
            e
        };
        assert_eq!(sorted(&one), sorted(&two));
        assert_eq!(sorted(&one), sorted(&three));
        assert_eq!(one.sums, two.sums);
        std::fs::remove_file(&path).ok();
    }

    #[test]
    fn gzip_rotations_and_globs() {
        let plain = temp("access.log");
        let gz = temp("access.log.2.gz");
        std::fs::write(&plain, line(1, "/a/1", "0.100", 200)).unwrap();
        let mut enc = flate2::write::GzEncoder::new(
            File::create(&gz).unwrap(),
            flate2::Compression::default(),
        );
        for i in 0..1000 {
            enc.write_all(line(i, "/b", "0.200", 500).as_bytes())
                .unwrap();
        }
        enc.finish().unwrap();
        let dir = plain.parent().unwrap().display().to_string();
        let reach = Reach::new(
            super::super::reach::Mode::Http,
            &super::super::reach::ReachSettings {
                log_dirs: vec![dir.clone()],
                ..Default::default()
            },
        )
        .unwrap();
        let paths = expand(&[format!("{dir}/access.log*")], "access_log.path", &reach).unwrap();
        assert_eq!(paths.len(), 2);
        let format = LogFormat::compile("timed").unwrap();
        let r = read(
            &paths,
            &format,
            &LogOptions::default(),
            2,
            "access_log.path",
            &crate::progress::Progress::none().lane(),
        )
        .unwrap();
        assert_eq!(r.parsed, 1001);
        assert!(r.files.iter().any(|f| f.gzip && f.lines == 1000));
        let b = r.endpoints.iter().find(|e| e.endpoint == "GET /b").unwrap();
        assert_eq!(b.errors, 1000);
        // A damaged gzip file is an error naming the file.
        let bad = temp("broken.log.gz");
        let mut bytes = std::fs::read(&gz).unwrap();
        bytes.truncate(bytes.len() / 2);
        std::fs::write(&bad, bytes).unwrap();
        let e = read(
            &[bad],
            &format,
            &LogOptions::default(),
            1,
            "access_log.path",
            &crate::progress::Progress::none().lane(),
        )
        .unwrap_err();
        assert!(e.message.contains("broken.log.gz"), "{e}");
        let e = expand(
            &["/nonexistent/access.log".into()],
            "access_log.path",
            &reach,
        )
        .unwrap_err();
        assert!(e.message.contains("may read"), "{e}");
    }

    #[test]
    fn times_resolve() {
        assert_eq!(resolve_time("since", "15m", 10_000).unwrap(), 9_100);
        assert_eq!(
            resolve_time("since", "2024-01-01T00:00:00Z", 0).unwrap(),
            1_704_067_200
        );
        assert!(resolve_time("since", "yesterday", 0).is_err());
        use super::super::reach::glob_match;
        assert!(glob_match("access.log*", "access.log.1.gz"));
        assert!(!glob_match("access.log*", "error.log"));
        assert!(glob_match("a?c", "abc"));
    }
}
