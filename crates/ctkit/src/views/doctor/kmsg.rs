//! The kernel log lines conntrack writes, read back and explained.
//!
//! Sources, in the order `--log auto` tries them:
//! - `/dev/kmsg`, opened non-blocking and read from the oldest record still in the ring
//!   buffer (Documentation/ABI/testing/dev-kmsg: one record per `read`,
//!   `PRI,SEQ,TS_USEC,FLAGS[,…];MESSAGE` followed by ` KEY=value` continuation lines; the
//!   timestamp is the kernel's monotonic clock in µs since boot);
//! - the journal, `journalctl -k -b -o short-monotonic` (`[  SECS.USEC] host kernel: MESSAGE`),
//!   when the ring buffer cannot be read (no privilege, `dmesg_restrict`).
//!
//! The window (`--since`) is applied by comparing those timestamps with `/proc/uptime`.
//!
//! What is recognised (kernel 6.18 wording, net/netfilter/):
//! - `nf_conntrack_core.c` `__nf_conntrack_alloc`: "nf_conntrack: table full, dropping packet"
//!   in the initial namespace, "nf_conntrack: table full in netns INODE, dropping packet" in any
//!   other (printed through `pr_fmt`, hence the doubled "nf_conntrack: nf_conntrack:" prefix).
//!   INODE is the namespace's nsfs inode, the number in `readlink /proc/self/ns/net` →
//!   `net:[INODE]`; the initial namespace has the fixed inode 0xEFFFFFF9 (4026531833) on
//!   kernels that name namespaces in this message;
//! - `nf_conntrack_expect.c`: "nf_conntrack: expectation table full" (no namespace named);
//! - `nf_conntrack_core.c` (older kernels) "falling back to vmalloc" for the hash table;
//! - `nf_conntrack_helper.c` `nf_ct_helper_log`: "nf_ct_HELPER: dropping packet: REASON";
//! - lib/ratelimit.c: "FUNC: N callbacks suppressed" (`net_ratelimit` covers every
//!   rate-limited network warning, "table full" among them).

use std::io::Read;

/// The initial network namespace's inode (`PROC_NET_INIT_INO`, include/linux/proc_ns.h).
pub const INIT_NET_INO: u64 = 0xEFFF_FFF9;

/// What a conntrack log line says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The conntrack table was full: a new flow's packet was dropped. `netns` is the inode the
    /// kernel named, `None` for the initial namespace's wording.
    TableFull {
        /// `in netns INODE`.
        netns: Option<u64>,
    },
    /// The expectation table (`nf_conntrack_expect_max`) was full.
    ExpectTableFull,
    /// The hash table could not be allocated contiguously (old kernels).
    Vmalloc,
    /// A helper dropped a packet it could not parse or could not set up.
    HelperDrop {
        /// The helper name (`ftp`, `sip`, `h323`, …).
        helper: String,
    },
    /// Rate limiting hid `count` messages of `func`.
    Suppressed {
        /// The rate-limited function (`net_ratelimit`, …).
        func: String,
        /// How many messages were hidden.
        count: u64,
    },
}

/// One kernel log record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Microseconds since boot (monotonic).
    pub ts_usec: u64,
    /// The message text, `\xNN` escapes left as the kernel wrote them.
    pub text: String,
}

/// Parses one `/dev/kmsg` record (`PRI,SEQ,TS_USEC,FLAGS[,…];MESSAGE\n KEY=value…`).
pub fn parse_kmsg_record(raw: &str) -> Option<Record> {
    let (head, rest) = raw.split_once(';')?;
    let mut fields = head.split(',');
    let _pri: u32 = fields.next()?.parse().ok()?;
    let _seq: u64 = fields.next()?.parse().ok()?;
    let ts_usec: u64 = fields.next()?.parse().ok()?;
    let text = rest.split('\n').next().unwrap_or("").to_string();
    Some(Record { ts_usec, text })
}

/// Parses one `journalctl -o short-monotonic` line (`[  SECS.USEC] HOST kernel: MESSAGE`).
pub fn parse_journal_line(line: &str) -> Option<Record> {
    let rest = line.trim_start().strip_prefix('[')?;
    let (ts, rest) = rest.split_once(']')?;
    let (secs, frac) = ts.trim().split_once('.')?;
    let secs: u64 = secs.parse().ok()?;
    let frac = format!("{frac:0<6}");
    let usec: u64 = frac.get(..6)?.parse().ok()?;
    let (_, msg) = rest.split_once(" kernel: ")?;
    Some(Record {
        ts_usec: secs.checked_mul(1_000_000)?.checked_add(usec)?,
        text: msg.to_string(),
    })
}

/// What conntrack-related message `text` is, if any.
pub fn classify(text: &str) -> Option<Kind> {
    if let Some(i) = text.find("table full in netns ") {
        if !text[..i].ends_with("expectation ") {
            let n = &text[i + "table full in netns ".len()..];
            let digits: String = n.chars().take_while(char::is_ascii_digit).collect();
            return digits
                .parse()
                .ok()
                .map(|v| Kind::TableFull { netns: Some(v) });
        }
    }
    if text.contains("expectation table full") {
        return Some(Kind::ExpectTableFull);
    }
    if text.contains("nf_conntrack") && text.contains("table full, dropping packet") {
        return Some(Kind::TableFull { netns: None });
    }
    if text
        .to_ascii_lowercase()
        .contains("falling back to vmalloc")
    {
        return Some(Kind::Vmalloc);
    }
    if let Some(i) = text.find("nf_ct_") {
        let rest = &text[i + "nf_ct_".len()..];
        if let Some((name, after)) = rest.split_once(':') {
            let ok = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if ok && after.trim_start().starts_with("dropping packet") {
                return Some(Kind::HelperDrop {
                    helper: name.to_string(),
                });
            }
        }
    }
    if let Some(head) = text.strip_suffix(" callbacks suppressed") {
        let (func, n) = head.rsplit_once(": ")?;
        let count = n.trim().parse().ok()?;
        return Some(Kind::Suppressed {
            func: func.trim().to_string(),
            count,
        });
    }
    None
}

/// Which network namespace a line is about, from the reader's point of view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// The namespace the report is about (ours).
    Ours,
    /// Another namespace, by inode.
    Other(u64),
    /// The initial namespace, which is not ours.
    Initial,
    /// The message does not name a namespace (host-wide or not attributable).
    Unnamed,
}

impl Kind {
    /// The namespace the message is about, given ours (`ours` = our netns inode).
    pub fn origin(&self, ours: Option<u64>) -> Origin {
        match self {
            Kind::TableFull { netns: Some(n) } => match ours {
                Some(o) if o == *n => Origin::Ours,
                _ => Origin::Other(*n),
            },
            Kind::TableFull { netns: None } => match ours {
                Some(INIT_NET_INO) => Origin::Ours,
                _ => Origin::Initial,
            },
            _ => Origin::Unnamed,
        }
    }

    /// A stable key for grouping and JSON (`table_full`, `expect_table_full`, …).
    pub fn key(&self) -> &'static str {
        match self {
            Kind::TableFull { .. } => "table_full",
            Kind::ExpectTableFull => "expect_table_full",
            Kind::Vmalloc => "vmalloc",
            Kind::HelperDrop { .. } => "helper_drop",
            Kind::Suppressed { .. } => "callbacks_suppressed",
        }
    }

    /// What the message means, in one sentence.
    pub fn explain(&self) -> String {
        match self {
            Kind::TableFull { .. } => "the conntrack table was at nf_conntrack_max and no \
                unassured entry could be evicted (early_drop): packets of new flows were dropped"
                .to_string(),
            Kind::ExpectTableFull => "the expectation table was at nf_conntrack_expect_max: \
                a helper (ftp, sip, …) could not register a related flow"
                .to_string(),
            Kind::Vmalloc => "the hash table was allocated with vmalloc (no contiguous memory); \
                harmless, logged by old kernels at module load or resize"
                .to_string(),
            Kind::HelperDrop { helper } => format!(
                "the {helper} helper dropped a packet it could not parse or could not set up an \
                 expectation for"
            ),
            Kind::Suppressed { func, count } => format!(
                "{count} messages of {func} were suppressed by rate limiting (for \
                 net_ratelimit: any network warning, \"table full\" included)"
            ),
        }
    }
}

/// A recognised log line.
#[derive(Clone, Debug, PartialEq)]
pub struct LogHit {
    /// Seconds before now (from the record's timestamp and `/proc/uptime`).
    pub age_s: f64,
    /// The record.
    pub record: Record,
    /// What it says.
    pub kind: Kind,
}

/// Where the lines came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogSource {
    /// `/dev/kmsg`.
    Kmsg,
    /// The journal.
    Journal,
}

impl LogSource {
    /// The name shown in the report.
    pub fn name(self) -> &'static str {
        match self {
            LogSource::Kmsg => "/dev/kmsg",
            LogSource::Journal => "journalctl -k",
        }
    }
}

/// Keeps the recognised records younger than `window_s` seconds, `now_usec` being the uptime.
pub fn select(
    records: impl IntoIterator<Item = Record>,
    now_usec: u64,
    window_s: f64,
) -> Vec<LogHit> {
    let mut out = Vec::new();
    for r in records {
        let age_s = now_usec.saturating_sub(r.ts_usec) as f64 / 1e6;
        if age_s > window_s {
            continue;
        }
        if let Some(kind) = classify(&r.text) {
            out.push(LogHit {
                age_s,
                record: r,
                kind,
            });
        }
    }
    out
}

/// The system's uptime in µs (`/proc/uptime`, first field).
pub fn uptime_usec() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/uptime").ok()?;
    let first = s.split_whitespace().next()?;
    let (secs, frac) = first.split_once('.').unwrap_or((first, "0"));
    let frac = format!("{frac:0<6}");
    Some(secs.parse::<u64>().ok()? * 1_000_000 + frac.get(..6)?.parse::<u64>().ok()?)
}

/// Reads every record in the ring buffer without blocking.
pub fn read_kmsg() -> std::io::Result<Vec<Record>> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open("/dev/kmsg")?;
    let mut buf = vec![0u8; 16 * 1024];
    let mut out = Vec::new();
    loop {
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if let Some(r) = parse_kmsg_record(&String::from_utf8_lossy(&buf[..n])) {
                    out.push(r);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            // EPIPE: the record we were at was overwritten; the next read continues.
            Err(e) if e.raw_os_error() == Some(libc::EPIPE) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// Reads the current boot's kernel messages of the last `window_s` seconds from the journal.
pub fn read_journal(window_s: f64) -> std::io::Result<Vec<Record>> {
    let out = std::process::Command::new("journalctl")
        .args(["-k", "-b", "-q", "--no-pager", "-o", "short-monotonic"])
        .arg(format!("--since=-{}s", window_s.ceil() as u64))
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()?;
    if !out.status.success() {
        return Err(std::io::Error::other(format!(
            "journalctl exited with {}",
            out.status
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(parse_journal_line)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kmsg_record_fields_and_continuation_lines() {
        let r = parse_kmsg_record(
            "4,1234,5000123,-;nf_conntrack: nf_conntrack: table full in netns 4026532301, dropping packet\n SUBSYSTEM=net\n",
        )
        .unwrap();
        assert_eq!(r.ts_usec, 5_000_123);
        assert_eq!(
            r.text,
            "nf_conntrack: nf_conntrack: table full in netns 4026532301, dropping packet"
        );
        assert_eq!(
            parse_kmsg_record("6,1,2,-,caller=T1;hello").unwrap().text,
            "hello"
        );
        assert_eq!(parse_kmsg_record("garbage"), None);
        assert_eq!(parse_kmsg_record("x,1,2,-;m"), None);
    }

    #[test]
    fn journal_short_monotonic_line() {
        let r = parse_journal_line(
            "[  455.123456] vm kernel: nf_conntrack: nf_conntrack: table full, dropping packet",
        )
        .unwrap();
        assert_eq!(r.ts_usec, 455_123_456);
        assert_eq!(
            r.text,
            "nf_conntrack: nf_conntrack: table full, dropping packet"
        );
        assert_eq!(
            parse_journal_line("[ 1.5] h kernel: x").unwrap().ts_usec,
            1_500_000
        );
        assert_eq!(parse_journal_line("-- No entries --"), None);
    }

    #[test]
    fn classifies_each_message_kind() {
        assert_eq!(
            classify("nf_conntrack: nf_conntrack: table full in netns 4026532301, dropping packet"),
            Some(Kind::TableFull {
                netns: Some(4026532301)
            })
        );
        assert_eq!(
            classify("nf_conntrack: nf_conntrack: table full, dropping packet"),
            Some(Kind::TableFull { netns: None })
        );
        assert_eq!(
            classify("nf_conntrack: table full, dropping packet."),
            Some(Kind::TableFull { netns: None })
        );
        assert_eq!(
            classify("nf_conntrack: expectation table full"),
            Some(Kind::ExpectTableFull)
        );
        assert_eq!(
            classify("nf_conntrack: falling back to vmalloc."),
            Some(Kind::Vmalloc)
        );
        assert_eq!(
            classify("nf_ct_ftp: dropping packet: partial response IN=r0 OUT= SRC=192.0.2.2"),
            Some(Kind::HelperDrop {
                helper: "ftp".into()
            })
        );
        assert_eq!(
            classify("net_ratelimit: 117 callbacks suppressed"),
            Some(Kind::Suppressed {
                func: "net_ratelimit".into(),
                count: 117
            })
        );
        assert_eq!(classify("eth0: link up"), None);
        assert_eq!(classify("nf_ct_ftp: registered"), None);
        assert_eq!(classify("foo: many callbacks suppressed"), None);
    }

    #[test]
    fn table_full_is_attributed_by_inode() {
        let k = Kind::TableFull {
            netns: Some(4026532301),
        };
        assert_eq!(k.origin(Some(4026532301)), Origin::Ours);
        assert_eq!(k.origin(Some(4026532999)), Origin::Other(4026532301));
        assert_eq!(k.origin(None), Origin::Other(4026532301));
        let init = Kind::TableFull { netns: None };
        assert_eq!(init.origin(Some(INIT_NET_INO)), Origin::Ours);
        assert_eq!(init.origin(Some(4026532301)), Origin::Initial);
        assert_eq!(Kind::ExpectTableFull.origin(Some(1)), Origin::Unnamed);
    }

    #[test]
    fn window_keeps_recent_recognised_lines() {
        let recs = vec![
            Record {
                ts_usec: 1_000_000,
                text: "nf_conntrack: nf_conntrack: table full, dropping packet".into(),
            },
            Record {
                ts_usec: 9_000_000,
                text: "nf_conntrack: expectation table full".into(),
            },
            Record {
                ts_usec: 9_500_000,
                text: "unrelated".into(),
            },
        ];
        let hits = select(recs, 10_000_000, 5.0);
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].kind, Kind::ExpectTableFull);
        assert_eq!(hits[0].age_s, 1.0);
    }

    proptest::proptest! {
        #[test]
        fn parsers_never_panic(s in ".{0,200}") {
            let _ = parse_kmsg_record(&s);
            let _ = parse_journal_line(&s);
            let _ = classify(&s);
        }
    }
}
