//! What a caller may make the server read: the operator's allow-lists.
//!
//! A caller is an agent that may be prompt-injected (it reads Sentry issues, tickets and pages
//! written by strangers) or, over HTTP, anyone holding the team token. Neither may learn
//! anything the operator did not point the server at, so every path and address a tool
//! argument names passes through here before it is opened:
//! - **log files** (and uWSGI stats sockets) only under the directories the operator allows
//!   (`PWT_LOG_DIRS`, `--log-dir`, `[logs] dirs`), checked after `..` and symlinks are
//!   resolved, each match of a glob on its own; `/proc`, `/sys` and `/dev` never, whatever is
//!   allowed. With nothing configured, stdio allows `/var/log/nginx` and HTTP allows nothing.
//!   A refusal does not say whether the path exists.
//! - **metrics endpoints** only on the hosts or networks the operator allows
//!   (`PWT_METRICS_HOSTS`, `--metrics-host`, `[metrics] hosts`); loopback is allowed by
//!   default on stdio and at a terminal, nothing by default over HTTP. Link-local and
//!   instance-metadata addresses are never reached, even when a name or network that covers
//!   them is allowed. The address checked is the address connected to (no second lookup).
//!
//! A person at a terminal (`logs PATH…`) reads the paths on their own command line: those
//! are added to the allowed files for that run only.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::path::{Component, Path, PathBuf};

use crate::error::ToolError;

/// Where the server runs, which sets the defaults when the operator configured nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One local client over stdio (an agent on the operator's own machine).
    Stdio,
    /// A shared server over streamable HTTP: anyone with the token.
    Http,
    /// A CLI command run by a person.
    Terminal,
}

/// The directory the stdio server may read logs from when none is configured.
pub const DEFAULT_LOG_DIR: &str = "/var/log/nginx";

/// Directories never read, whatever the operator allows: they hold the server's own
/// environment, memory and devices, not logs.
const NEVER: [&str; 3] = ["/proc", "/sys", "/dev"];

/// What the operator wrote, before it is resolved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReachSettings {
    /// Directories logs may be read from.
    pub log_dirs: Vec<String>,
    /// Hosts, IP addresses or CIDR networks metrics may be read from.
    pub metrics_hosts: Vec<String>,
}

impl ReachSettings {
    /// `PWT_LOG_DIRS` (colon-separated, like `PATH`) and `PWT_METRICS_HOSTS`
    /// (comma-separated), read through `env`.
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Self {
        let split = |v: Option<String>, sep: char| -> Vec<String> {
            v.map(|v| {
                v.split(sep)
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
        };
        Self {
            log_dirs: split(env("PWT_LOG_DIRS"), ':'),
            metrics_hosts: split(env("PWT_METRICS_HOSTS"), ','),
        }
    }

    /// Both lists of `other` added to these.
    pub fn merge(mut self, other: ReachSettings) -> Self {
        self.log_dirs.extend(other.log_dirs);
        self.metrics_hosts.extend(other.metrics_hosts);
        self
    }
}

/// An allow-list entry that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ReachError(String);

/// One allowed metrics host.
#[derive(Debug, Clone, PartialEq, Eq)]
enum HostRule {
    /// A host name, matched case-insensitively; `*.example.com` matches its subdomains.
    Name(String),
    /// An address or network.
    Net(IpAddr, u8),
}

impl HostRule {
    fn parse(text: &str) -> Result<Self, ReachError> {
        let t = text.trim().trim_start_matches('[').trim_end_matches(']');
        if let Some((addr, len)) = t.split_once('/') {
            let ip: IpAddr = addr.parse().map_err(|_| {
                ReachError(format!(
                    "metrics host `{text}`: `{addr}` is not an IP address"
                ))
            })?;
            let max = if ip.is_ipv4() { 32 } else { 128 };
            let len: u8 = len.parse().ok().filter(|l| *l <= max).ok_or_else(|| {
                ReachError(format!(
                    "metrics host `{text}`: the prefix length must be 0–{max}"
                ))
            })?;
            return Ok(Self::Net(ip, len));
        }
        if let Ok(ip) = t.parse::<IpAddr>() {
            return Ok(Self::Net(ip, if ip.is_ipv4() { 32 } else { 128 }));
        }
        let name = t.to_ascii_lowercase();
        let bare = name.strip_prefix("*.").unwrap_or(&name);
        if bare.is_empty()
            || !bare
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        {
            return Err(ReachError(format!(
                "metrics host `{text}` is not a host name, IP address or CIDR network (e.g. prometheus.internal, 10.0.0.5, 10.0.0.0/16)"
            )));
        }
        Ok(Self::Name(name))
    }

    fn matches_name(&self, host: &str) -> bool {
        match self {
            Self::Name(n) => match n.strip_prefix("*.") {
                Some(domain) => host
                    .strip_suffix(domain)
                    .is_some_and(|sub| sub.ends_with('.') && sub.len() > 1),
                None => host == n,
            },
            Self::Net(..) => false,
        }
    }

    fn covers(&self, ip: IpAddr) -> bool {
        match (self, canonical_ip(ip)) {
            (Self::Net(IpAddr::V4(net), len), IpAddr::V4(a)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(*len)).unwrap_or(0);
                u32::from(*net) & mask == u32::from(a) & mask
            }
            (Self::Net(IpAddr::V6(net), len), IpAddr::V6(a)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(*len)).unwrap_or(0);
                u128::from(*net) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

impl fmt::Display for HostRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Name(n) => f.write_str(n),
            Self::Net(ip, len) if *len == 32 || *len == 128 => write!(f, "{ip}"),
            Self::Net(ip, len) => write!(f, "{ip}/{len}"),
        }
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// Link-local and instance-metadata addresses: never reached.
pub fn is_forbidden_ip(ip: IpAddr) -> bool {
    match canonical_ip(ip) {
        IpAddr::V4(a) => {
            a.is_link_local() // 169.254.0.0/16: EC2, GCP, Azure metadata, ECS task credentials
                || a == Ipv4Addr::new(100, 100, 100, 200) // Alibaba Cloud metadata
                || a == Ipv4Addr::new(192, 0, 0, 192) // Oracle Cloud metadata
        }
        IpAddr::V6(a) => {
            (a.segments()[0] & 0xffc0) == 0xfe80 // fe80::/10
                || a == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) // EC2 over IPv6
        }
    }
}

/// Loopback, or the unspecified address (which reaches this host).
fn is_local(ip: IpAddr) -> bool {
    let ip = canonical_ip(ip);
    ip.is_loopback() || ip.is_unspecified()
}

/// The resolved allow-lists.
#[derive(Debug, Clone)]
pub struct Reach {
    log_dirs: Vec<PathBuf>,
    /// Files a person named on the command line.
    files: Vec<PathBuf>,
    hosts: Vec<HostRule>,
    loopback: bool,
}

impl Default for Reach {
    /// The stdio defaults.
    fn default() -> Self {
        Self::new(Mode::Stdio, &ReachSettings::default())
            .unwrap_or_else(|_| unreachable!("the defaults are valid"))
    }
}

impl Reach {
    /// Resolves the operator's settings for `mode`; an unusable entry is an error at start-up.
    pub fn new(mode: Mode, settings: &ReachSettings) -> Result<Self, ReachError> {
        let mut log_dirs = Vec::new();
        for d in &settings.log_dirs {
            let p = Path::new(d);
            if !p.is_absolute() {
                return Err(ReachError(format!(
                    "log directory `{d}` must be an absolute path"
                )));
            }
            log_dirs.push(normalize(p));
        }
        if settings.log_dirs.is_empty() && mode != Mode::Http {
            log_dirs.push(PathBuf::from(DEFAULT_LOG_DIR));
        }
        let hosts = settings
            .metrics_hosts
            .iter()
            .map(|h| HostRule::parse(h))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            log_dirs,
            files: Vec::new(),
            hosts,
            loopback: mode != Mode::Http,
        })
    }

    /// Also allows the paths on a person's own command line, resolved now: each file, and
    /// the directory of each pattern.
    pub fn with_command_line(mut self, paths: &[String]) -> Self {
        for p in paths.iter().map(Path::new) {
            let pattern = p
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.contains(['*', '?']));
            let target = if pattern {
                p.parent()
                    .filter(|d| !d.as_os_str().is_empty())
                    .unwrap_or(Path::new("."))
            } else {
                p
            };
            if let Ok(resolved) = std::fs::canonicalize(target) {
                if pattern {
                    self.log_dirs.push(resolved);
                } else {
                    self.files.push(resolved);
                }
            }
        }
        self
    }

    /// The allowed log directories, for messages and the start-up log.
    pub fn log_dirs(&self) -> &[PathBuf] {
        &self.log_dirs
    }

    /// The allowed metrics hosts, as written for messages.
    pub fn metrics_hosts(&self) -> String {
        let mut all: Vec<String> = Vec::new();
        if self.loopback {
            all.push("loopback".into());
        }
        all.extend(self.hosts.iter().map(ToString::to_string));
        if all.is_empty() {
            "none".into()
        } else {
            all.join(", ")
        }
    }

    fn denied_path(&self, field: &str) -> ToolError {
        let allowed = if self.log_dirs.is_empty() {
            "none: this server reads no log file until the operator allows a directory".to_owned()
        } else {
            self.log_dirs
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        ToolError::denied(
            field,
            format!(
                "is not a file in a directory this server may read (allowed: {allowed}; never /proc, /sys or /dev). Pass a log under an allowed directory; the operator allows more with PWT_LOG_DIRS=DIR:DIR, --log-dir DIR or `[logs] dirs` in the config file"
            ),
        )
    }

    /// Whether the resolved `path` is one the caller may read.
    fn allows(&self, resolved: &Path) -> bool {
        if NEVER.iter().any(|n| resolved.starts_with(n)) {
            return false;
        }
        if self.files.iter().any(|f| f == resolved) {
            return true;
        }
        self.log_dirs.iter().any(|d| {
            let d = std::fs::canonicalize(d).unwrap_or_else(|_| d.clone());
            resolved.starts_with(&d)
        })
    }

    /// Checks one file path and returns it resolved (the path to open). A path outside the
    /// allowed directories gets the same answer whether it exists or not.
    pub fn file(&self, field: &str, path: &str) -> Result<PathBuf, ToolError> {
        match resolve(Path::new(path)) {
            Resolved::Found(p) if self.allows(&p) => {
                let meta = std::fs::metadata(&p).map_err(|e| {
                    ToolError::io(field, format_args!("cannot read {}", p.display()), &e)
                })?;
                if !meta.is_file() {
                    return Err(ToolError::bad_input(
                        field,
                        format!(
                            "{} is not a regular file; pass the access log file itself",
                            p.display()
                        ),
                    ));
                }
                Ok(p)
            }
            Resolved::Missing(p) if self.allows(&p) => Err(ToolError::bad_input(
                field,
                format!(
                    "no file {} in the allowed directories; pass the path of an nginx access log on this host (the one in the `access_log` directive)",
                    p.display()
                ),
            )),
            _ => Err(self.denied_path(field)),
        }
    }

    /// Expands `pattern` (a `*` or `?` in the file name only) inside an allowed directory and
    /// checks every match on its own.
    pub fn glob(&self, field: &str, pattern: &str) -> Result<Vec<PathBuf>, ToolError> {
        let path = Path::new(pattern);
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let dir = match resolve(dir) {
            Resolved::Found(d) if self.allows(&d) => d,
            _ => return Err(self.denied_path(field)),
        };
        let entries = std::fs::read_dir(&dir)
            .map_err(|e| ToolError::io(field, format_args!("cannot list {}", dir.display()), &e))?;
        let mut found = Vec::new();
        for entry in entries.filter_map(Result::ok) {
            let Some(entry_name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            if !glob_match(name, &entry_name) {
                continue;
            }
            let shown = dir.join(&entry_name);
            let Ok(resolved) = std::fs::canonicalize(entry.path()) else {
                continue; // a dangling link: nothing to read
            };
            if !self.allows(&resolved) {
                return Err(ToolError::denied(
                    field,
                    format!(
                        "{} matches the pattern but leads outside the directories this server may read; narrow the pattern or remove the link",
                        shown.display()
                    ),
                ));
            }
            if std::fs::metadata(&resolved).is_ok_and(|m| m.is_file()) {
                found.push(resolved);
            }
        }
        if found.is_empty() {
            return Err(ToolError::bad_input(
                field,
                format!("no file matches {pattern}; check the directory and the pattern"),
            ));
        }
        found.sort();
        found.dedup();
        Ok(found)
    }

    /// Checks a unix socket path (uWSGI's stats socket): the same directories as logs.
    pub fn socket(&self, field: &str, path: &str) -> Result<PathBuf, ToolError> {
        match resolve(Path::new(path)) {
            Resolved::Found(p) if self.allows(&p) => Ok(p),
            _ => Err(ToolError::denied(
                field,
                format!(
                    "is not a socket in a directory this server may read (allowed: {}). The operator allows more with PWT_LOG_DIRS, --log-dir or `[logs] dirs`; or pass the stats server's HOST:PORT",
                    self.log_dirs
                        .iter()
                        .map(|d| d.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
        }
    }

    /// Resolves `host` and returns the addresses to connect to, once each has passed the
    /// allow-list and none is link-local or instance metadata.
    pub fn metrics_addrs(
        &self,
        field: &str,
        host: &str,
        port: u16,
    ) -> Result<Vec<SocketAddr>, ToolError> {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let lower = bare.to_ascii_lowercase();
        let addrs: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => (lower.as_str(), port)
                .to_socket_addrs()
                .map_err(|_| {
                    ToolError::unreachable(
                        field,
                        format!("the host `{host}` does not resolve; check the name"),
                    )
                })?
                .collect(),
        };
        if addrs.is_empty() {
            return Err(ToolError::unreachable(
                field,
                format!("the host `{host}` resolves to no address"),
            ));
        }
        if addrs.iter().any(|a| is_forbidden_ip(a.ip())) {
            return Err(ToolError::denied(
                field,
                "is a link-local or instance-metadata address, which this server never reaches; pass the metrics endpoint of the app server",
            ));
        }
        let named = self.hosts.iter().any(|r| r.matches_name(&lower));
        let covered =
            |ip: IpAddr| (self.loopback && is_local(ip)) || self.hosts.iter().any(|r| r.covers(ip));
        if !named && !addrs.iter().all(|a| covered(a.ip())) {
            return Err(ToolError::denied(
                field,
                format!(
                    "the host `{host}` is not one this server may reach (allowed: {}). The operator allows more with PWT_METRICS_HOSTS=HOST,CIDR, --metrics-host or `[metrics] hosts` in the config file",
                    self.metrics_hosts()
                ),
            ));
        }
        Ok(addrs)
    }
}

/// What a path turned out to be once `..` and symlinks are resolved.
enum Resolved {
    /// It exists: its canonical path.
    Found(PathBuf),
    /// It does not exist; where it would be (its existing ancestor resolved).
    Missing(PathBuf),
    /// It cannot be placed (a dangling link, `..` past a missing directory): never allowed.
    Unplaceable,
}

fn resolve(path: &Path) -> Resolved {
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        match std::env::current_dir() {
            Ok(cwd) => cwd.join(path),
            Err(_) => return Resolved::Unplaceable,
        }
    };
    if let Ok(p) = std::fs::canonicalize(&absolute) {
        return Resolved::Found(p);
    }
    // Place a missing path by its deepest existing ancestor.
    let mut rest = Vec::new();
    let mut cur = absolute.as_path();
    loop {
        let Some(parent) = cur.parent() else {
            return Resolved::Unplaceable;
        };
        match cur.file_name() {
            Some(name) => rest.push(name.to_owned()),
            None => return Resolved::Unplaceable, // ends in `..`
        }
        // A component that exists without resolving is a dangling link.
        if std::fs::symlink_metadata(cur).is_ok() {
            return Resolved::Unplaceable;
        }
        if let Ok(base) = std::fs::canonicalize(parent) {
            let mut p = base;
            for name in rest.iter().rev() {
                p.push(name);
            }
            return if absolute.components().any(|c| c == Component::ParentDir) {
                Resolved::Unplaceable
            } else {
                Resolved::Missing(p)
            };
        }
        cur = parent;
    }
}

/// `.` and `..` removed without touching the file system (for configured directories).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// `*` and `?` wildcards over a file name.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut pi, mut ni, mut star, mut mark) = (0, 0, None, 0);
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ni;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp() -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "pwt-reach-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(dir.join("logs")).unwrap();
        std::fs::canonicalize(dir).unwrap()
    }

    fn reach(dirs: &[&Path], hosts: &[&str], mode: Mode) -> Reach {
        Reach::new(
            mode,
            &ReachSettings {
                log_dirs: dirs.iter().map(|d| d.display().to_string()).collect(),
                metrics_hosts: hosts.iter().map(|h| h.to_string()).collect(),
            },
        )
        .unwrap()
    }

    #[test]
    fn paths_are_checked_after_dotdot_and_symlinks() {
        let dir = temp();
        let logs = dir.join("logs");
        std::fs::write(logs.join("access.log"), "x\n").unwrap();
        std::fs::write(dir.join("secret.key"), "k\n").unwrap();
        let _ = std::fs::remove_file(logs.join("link.log"));
        std::os::unix::fs::symlink(dir.join("secret.key"), logs.join("link.log")).unwrap();
        let r = reach(&[&logs], &[], Mode::Http);
        let ok = r
            .file("p", &logs.join("access.log").display().to_string())
            .unwrap();
        assert_eq!(ok, logs.join("access.log"));
        let denied = |p: &str| {
            let e = r.file("p", p).unwrap_err();
            assert!(e.message.contains("may read"), "{p}: {e}");
            e.message
        };
        let a = denied(&format!("{}/../secret.key", logs.display()));
        let b = denied(&logs.join("link.log").display().to_string());
        let c = denied(&format!("{}/../missing.key", logs.display()));
        let d = denied("/proc/self/environ");
        // Whether the file exists is not told.
        assert!(a == b && b == c && c == d);
        // A missing file inside is told as missing.
        let e = r
            .file("p", &logs.join("nope.log").display().to_string())
            .unwrap_err();
        assert!(e.message.contains("no file"), "{e}");
        // Globs: each match on its own; a link out is refused.
        let e = r
            .glob("p", &format!("{}/*.log", logs.display()))
            .unwrap_err();
        assert!(e.message.contains("leads outside"), "{e}");
        assert_eq!(
            r.glob("p", &format!("{}/acc*", logs.display())).unwrap(),
            vec![logs.join("access.log")]
        );
        assert!(r.glob("p", &format!("{}/*.key", dir.display())).is_err());
        assert!(r.glob("p", "/proc/self/env*").is_err());
    }

    #[test]
    fn proc_sys_dev_are_never_allowed_and_http_allows_nothing_by_default() {
        let r = reach(&[Path::new("/")], &[], Mode::Stdio);
        assert!(r.file("p", "/proc/self/environ").is_err());
        assert!(r.file("p", "/dev/zero").is_err());
        assert!(r.file("p", "/sys/kernel/hostname").is_err());
        let http = Reach::new(Mode::Http, &ReachSettings::default()).unwrap();
        assert!(http.log_dirs().is_empty());
        let e = http.file("p", "/var/log/nginx/access.log").unwrap_err();
        assert!(e.message.contains("allowed: none"), "{e}");
        assert_eq!(
            Reach::default().log_dirs(),
            &[PathBuf::from(DEFAULT_LOG_DIR)]
        );
        // A person's own command line.
        let dir = temp();
        let f = dir.join("mine.log");
        std::fs::write(&f, "x\n").unwrap();
        let t = Reach::new(Mode::Terminal, &ReachSettings::default())
            .unwrap()
            .with_command_line(&[f.display().to_string()]);
        assert_eq!(t.file("p", &f.display().to_string()).unwrap(), f);
    }

    #[test]
    fn metrics_hosts() {
        let stdio = Reach::default();
        assert!(stdio.metrics_addrs("u", "127.0.0.1", 9100).is_ok());
        assert!(stdio.metrics_addrs("u", "localhost", 9100).is_ok());
        assert!(stdio.metrics_addrs("u", "10.1.2.3", 9100).is_err());
        for bad in [
            "169.254.169.254",
            "[fe80::1]",
            "fd00:ec2::254",
            "::ffff:169.254.169.254",
        ] {
            let e = stdio.metrics_addrs("u", bad, 80).unwrap_err();
            assert!(e.message.contains("link-local"), "{bad}: {e}");
        }
        let http = reach(&[], &[], Mode::Http);
        let e = http.metrics_addrs("u", "127.0.0.1", 9100).unwrap_err();
        assert!(e.message.contains("allowed: none"), "{e}");
        let team = reach(&[], &["10.0.0.0/8", "*.internal", "0.0.0.0/0"], Mode::Http);
        assert!(team.metrics_addrs("u", "10.9.8.7", 80).is_ok());
        assert!(team.metrics_addrs("u", "8.8.8.8", 80).is_ok());
        // Deny wins over a network that covers metadata.
        assert!(team.metrics_addrs("u", "169.254.169.254", 80).is_err());
        assert!(HostRule::parse("10.0.0.0/33").is_err());
        assert!(HostRule::parse("bad host").is_err());
        assert!(
            HostRule::parse("*.internal")
                .unwrap()
                .matches_name("a.internal")
        );
        assert!(
            !HostRule::parse("*.internal")
                .unwrap()
                .matches_name("internal")
        );
        assert!(
            !HostRule::parse("*.internal")
                .unwrap()
                .matches_name("xinternal")
        );
    }

    #[test]
    fn settings_from_env() {
        let env = |k: &str| match k {
            "PWT_LOG_DIRS" => Some("/var/log/nginx:/srv/logs::".to_owned()),
            "PWT_METRICS_HOSTS" => Some("10.0.0.0/8, prom.internal".to_owned()),
            _ => None,
        };
        let s = ReachSettings::from_env(&env);
        assert_eq!(s.log_dirs, vec!["/var/log/nginx", "/srv/logs"]);
        assert_eq!(s.metrics_hosts, vec!["10.0.0.0/8", "prom.internal"]);
        assert!(
            Reach::new(
                Mode::Stdio,
                &ReachSettings {
                    log_dirs: vec!["relative/logs".into()],
                    ..Default::default()
                }
            )
            .is_err()
        );
    }
}
