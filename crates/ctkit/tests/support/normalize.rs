//! Normalisers for differential tests. Two runs on the same table differ only in what the
//! clock changes between them (timeouts, statistics counters) and in the version banner
//! (`conntrack v1.4.7 (conntrack-tools)` vs `conntrack v1.4.7 (ctkit X.Y.Z)`). Formats
//! follow libnetfilter_conntrack's snprintf_default.c / snprintf_xml.c and conntrack's
//! save format (see shared/reference/conntrack-cli.md, section 2).

/// The token that replaces every banner.
pub const BANNER: &str = "conntrack v1.4.7 (BANNER)";

/// Replaces `conntrack vX.Y.Z (conntrack-tools)` and `conntrack vX.Y.Z (ctkit A.B.C)`
/// with [`BANNER`] (the version of conntrack is kept in the comparison: both must say 1.4.7).
pub fn normalize_banner(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find("conntrack v") {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos..];
        match banner_len(tail) {
            Some((len, "1.4.7")) => {
                out.push_str(BANNER);
                rest = &tail[len..];
            }
            _ => {
                out.push_str("conntrack v");
                rest = &tail["conntrack v".len()..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Length of a banner at the start of `s`, and its conntrack version.
fn banner_len(s: &str) -> Option<(usize, &str)> {
    let after_v = &s["conntrack v".len()..];
    let version_end = after_v.find(' ')?;
    let version = &after_v[..version_end];
    let paren = &after_v[version_end..];
    let inner = paren.strip_prefix(" (")?;
    let close = inner.find(')')?;
    let what = &inner[..close];
    let ok = what == "conntrack-tools"
        || what
            .strip_prefix("ctkit ")
            .is_some_and(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit() || b == b'.'));
    ok.then_some(("conntrack v".len() + version_end + 2 + close + 1, version))
}

fn is_number(t: &str) -> bool {
    !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit())
}

/// Spans (start, end) of the whitespace-separated tokens of `line`.
fn tokens(line: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut start = None;
    for (i, c) in line.char_indices() {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                spans.push((s, i));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        spans.push((s, line.len()));
    }
    spans
}

fn replace_span(line: &str, span: (usize, usize), with: &str) -> String {
    format!("{}{with}{}", &line[..span.0], &line[span.1..])
}

/// Index of the timeout token in a default/extended flow line or an expectation line.
fn timeout_token(line: &str, spans: &[(usize, usize)]) -> Option<usize> {
    let tok = |i: usize| spans.get(i).map(|&(s, e)| &line[s..e]);
    let mut i = 0;
    // Event prefix `[NEW]`, `[UPDATE]`, `[DESTROY]` (and `-o timestamp`'s `[sec.usec]`).
    while tok(i).is_some_and(|t| t.starts_with('[') && t.ends_with(']')) {
        i += 1;
    }
    // Expectation: `300 proto=6 src=…`.
    if tok(i).is_some_and(is_number) && tok(i + 1).is_some_and(|t| t.starts_with("proto=")) {
        return Some(i);
    }
    // `-o extended`: `ipv4     2 `.
    if tok(i).is_some_and(|t| t == "ipv4" || t == "ipv6" || t == "unknown")
        && tok(i + 1).is_some_and(is_number)
        && tok(i + 3).is_some_and(is_number)
    {
        i += 2;
    }
    // Protocol name and number, then the timeout.
    let name = tok(i)?;
    if name.contains('=') || !tok(i + 1).is_some_and(is_number) {
        return None;
    }
    tok(i + 2).is_some_and(is_number).then_some(i + 2)
}

/// Replaces timeouts with `T`: the number after the protocol number in default/extended
/// lines, the leading number of expectation lines, `-t N` in save lines, and
/// `<timeout>N</timeout>` in XML.
pub fn normalize_timeouts(s: &str) -> String {
    map_lines(s, |line| {
        if line.contains("<timeout>") {
            return replace_between(line, "<timeout>", "</timeout>", "T");
        }
        let spans = tokens(line);
        let first = spans.first().map(|&(a, b)| &line[a..b]);
        if matches!(first, Some("-A" | "-D" | "-U" | "-I")) {
            let mut out = line.to_string();
            for w in spans.windows(2).rev() {
                if &line[w[0].0..w[0].1] == "-t" && is_number(&line[w[1].0..w[1].1]) {
                    out = replace_span(&out, w[1], "T");
                }
            }
            return out;
        }
        match timeout_token(line, &spans) {
            Some(i) => replace_span(line, spans[i], "T"),
            None => line.to_string(),
        }
    })
}

/// Replaces every `<open>…</close>` content with `with`.
fn replace_between(line: &str, open: &str, close: &str, with: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(p) = rest.find(open) {
        out.push_str(&rest[..p + open.len()]);
        rest = &rest[p + open.len()..];
        match rest.find(close) {
            Some(q) => {
                out.push_str(with);
                rest = &rest[q..];
            }
            None => break,
        }
    }
    out.push_str(rest);
    out
}

/// Replaces the values of `name=N` pairs with `N`, except `cpu=` (for `-S` output, whose
/// counters move between two runs).
pub fn normalize_counters(s: &str) -> String {
    map_lines(s, |line| {
        let mut out = String::with_capacity(line.len());
        for (i, part) in line.split(' ').enumerate() {
            if i > 0 {
                out.push(' ');
            }
            match part.split_once('=') {
                Some((k, v)) if k != "cpu" && !k.is_empty() && is_number(v) => {
                    out.push_str(k);
                    out.push_str("=N");
                }
                _ => out.push_str(part),
            }
        }
        out
    })
}

/// Replaces `use=N` with `use=N` (reference counts can move while a dump runs).
pub fn normalize_use(s: &str) -> String {
    map_lines(s, |line| {
        line.split(' ')
            .map(|p| match p.strip_prefix("use=") {
                Some(v) if is_number(v) => "use=N".to_string(),
                _ => p.to_string(),
            })
            .collect::<Vec<_>>()
            .join(" ")
    })
}

/// Replaces `id=N` (and `<id>N</id>`) with `id=N` (ids differ between two namespaces).
pub fn normalize_ids(s: &str) -> String {
    map_lines(s, |line| {
        let line = replace_between(line, "<id>", "</id>", "N");
        line.split(' ')
            .map(|p| match p.strip_prefix("id=") {
                Some(v) if is_number(v) => "id=N".to_string(),
                _ => p.to_string(),
            })
            .collect::<Vec<_>>()
            .join(" ")
    })
}

/// Replaces `-o timestamp` stamps: a leading `[sec.usec]` (flow events, zero padded) or
/// `[sec    .usec  ]` (expectations, blank padded) becomes `[TS]`, and the content of
/// `<when>…</when>` becomes `W` (the two tools read the clock at different moments).
pub fn normalize_stamps(s: &str) -> String {
    map_lines(s, |line| {
        let line = replace_between(line, "<when>", "</when>", "W");
        let stamp_end = line.strip_prefix('[').and_then(|rest| {
            let end = rest.find(']')?;
            let inner = &rest[..end];
            let (a, b) = inner.split_once('.')?;
            (is_number(a.trim_end()) && is_number(b.trim_end())).then_some(end + 2)
        });
        match stamp_end {
            Some(e) => format!("[TS]{}", &line[e..]),
            None => line,
        }
    })
}

/// Sorts lines (for outputs whose order depends on the namespace, e.g. two tables).
pub fn sort_lines(s: &str) -> String {
    let mut lines: Vec<&str> = s.lines().collect();
    lines.sort_unstable();
    let mut out = lines.join("\n");
    if !out.is_empty() {
        out.push('\n');
    }
    out
}

fn map_lines(s: &str, f: impl Fn(&str) -> String) -> String {
    let mut out = String::with_capacity(s.len());
    for piece in s.split_inclusive('\n') {
        let (line, nl) = match piece.strip_suffix('\n') {
            Some(l) => (l, "\n"),
            None => (piece, ""),
        };
        out.push_str(&f(line));
        out.push_str(nl);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_of_flows_and_expectations_become_tokens() {
        assert_eq!(
            normalize_stamps("[1796651161.000123]\t    [NEW] udp      17 30 src=x\n"),
            "[TS]\t    [NEW] udp      17 30 src=x\n"
        );
        assert_eq!(
            normalize_stamps("[1796651150.83159 ]\t288 proto=6 src=x\n"),
            "[TS]\t288 proto=6 src=x\n"
        );
        assert_eq!(
            normalize_stamps("<meta><when><hour>13</hour></when></meta>"),
            "<meta><when>W</when></meta>"
        );
        assert_eq!(normalize_stamps("[NEW] tcp"), "[NEW] tcp");
    }

    #[test]
    fn banner_of_both_tools_becomes_one_token() {
        assert_eq!(
            normalize_banner(
                "conntrack v1.4.7 (conntrack-tools): 2 flow entries have been shown.\n"
            ),
            "conntrack v1.4.7 (BANNER): 2 flow entries have been shown.\n"
        );
        assert_eq!(
            normalize_banner("conntrack v1.4.7 (ctkit 0.1.0): 2 flow entries have been shown.\n"),
            "conntrack v1.4.7 (BANNER): 2 flow entries have been shown.\n"
        );
        assert_eq!(
            normalize_banner("conntrack v1.4.9 (conntrack-tools): x"),
            "conntrack v1.4.9 (conntrack-tools): x"
        );
    }

    #[test]
    fn default_line_timeout_replaced() {
        let l = "tcp      6 431999 ESTABLISHED src=192.0.2.2 dst=198.51.100.2 sport=1 dport=2 mark=0 use=1";
        assert_eq!(
            normalize_timeouts(l),
            "tcp      6 T ESTABLISHED src=192.0.2.2 dst=198.51.100.2 sport=1 dport=2 mark=0 use=1"
        );
        let e =
            "ipv4     2 udp      17 29 src=192.0.2.2 dst=198.51.100.2 sport=1 dport=2 [UNREPLIED]";
        assert_eq!(
            normalize_timeouts(e),
            "ipv4     2 udp      17 T src=192.0.2.2 dst=198.51.100.2 sport=1 dport=2 [UNREPLIED]"
        );
        let n = "    [NEW] icmp     1 30 src=192.0.2.2";
        assert_eq!(
            normalize_timeouts(n),
            "    [NEW] icmp     1 T src=192.0.2.2"
        );
        // No timeout present: unchanged.
        let d = "tcp      6 ESTABLISHED src=1.1.1.1";
        assert_eq!(normalize_timeouts(d), d);
    }

    #[test]
    fn save_xml_and_expect_timeouts_replaced() {
        assert_eq!(
            normalize_timeouts("-A -t 117 -u SEEN_REPLY -s 1.1.1.1 -p tcp\n"),
            "-A -t T -u SEEN_REPLY -s 1.1.1.1 -p tcp\n"
        );
        assert_eq!(
            normalize_timeouts("<state>LISTEN</state><timeout>49</timeout><mark>0</mark>"),
            "<state>LISTEN</state><timeout>T</timeout><mark>0</mark>"
        );
        assert_eq!(
            normalize_timeouts("299 proto=6 src=192.0.2.2 dst=198.51.100.2"),
            "T proto=6 src=192.0.2.2 dst=198.51.100.2"
        );
    }

    #[test]
    fn counters_ids_use_and_sorting() {
        assert_eq!(
            normalize_counters("cpu=0   \tfound=3 invalid=0 insert=0 \n"),
            "cpu=0   \tfound=N invalid=N insert=N \n"
        );
        assert_eq!(normalize_ids("a id=1234 use=2"), "a id=N use=2");
        assert_eq!(normalize_use("a use=2"), "a use=N");
        assert_eq!(sort_lines("b\na\n"), "a\nb\n");
        assert_eq!(sort_lines(""), "");
    }
}
