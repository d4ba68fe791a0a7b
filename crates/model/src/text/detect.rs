//! Which format a saved dump is in, from its first non-empty line, and the one entry point
//! that parses a line of that format.
//!
//! | first line | format | parser |
//! |---|---|---|
//! | `tcp      6 …` (a layer 4 name) | conntrack -L text, /proc/net/ip_conntrack | [`super::parse_flow_into`] |
//! | `ipv4     2 tcp …` | -o extended, /proc/net/nf_conntrack | [`super::parse_flow_into`] |
//! | `-A …`, `-I …`, `-s …` | -o save | [`super::save::parse_save_into`] |
//! | `<?xml`, `<conntrack>`, `<flow` | -o xml | [`super::xml::parse_xml_into`] |
//! | `{` | ctkit -o json | [`super::json::parse_json_into`] |
//!
//! Text lines may carry `-E` decorations (`[NEW]`, `-o timestamp`'s `[SECONDS.MICROS]`).

use super::{bytes, json, save, xml, LineInfo, ParseError};
use crate::flow::Flow;
use crate::labelmap::LabelMap;

/// A dump format ctkit reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DumpFormat {
    /// conntrack's default line (`-L`, `-o id/ktimestamp/labels`, events), and the old
    /// `/proc/net/ip_conntrack` layout.
    Text,
    /// The same with the layer 3 prefix: `-o extended` and `/proc/net/nf_conntrack`.
    Extended,
    /// `-o save` (`conntrack -R` command lines).
    Save,
    /// `-o xml`.
    Xml,
    /// ctkit's `-o json` lines.
    Json,
}

impl DumpFormat {
    /// A short name for descriptions and errors.
    pub fn name(self) -> &'static str {
        match self {
            DumpFormat::Text => "conntrack -L text",
            DumpFormat::Extended => "/proc or -o extended text",
            DumpFormat::Save => "-o save",
            DumpFormat::Xml => "-o xml",
            DumpFormat::Json => "-o json",
        }
    }

    /// Parses one line into `f`. `Ok(None)`: the line holds no flow (blank, XML document
    /// lines, conntrack's `N flow entries have been shown.` summary).
    pub fn parse_into(
        self,
        line: &[u8],
        map: Option<&LabelMap>,
        f: &mut Flow,
    ) -> Result<Option<LineInfo>, ParseError> {
        if is_blank(line) || is_summary(line) {
            return Ok(None);
        }
        match self {
            // One parser for both layouts, so a file mixing them (two listings appended)
            // still reads.
            DumpFormat::Text | DumpFormat::Extended => {
                super::parse_flow_into(line, map, false, f).map(Some)
            }
            DumpFormat::Save => save::parse_save_into(line, f).map(Some),
            DumpFormat::Xml if xml::is_frame_line(line) => Ok(None),
            DumpFormat::Xml => xml::parse_xml_into(line, map, f).map(Some),
            DumpFormat::Json => json::parse_json_into(line, f).map(Some),
        }
    }
}

/// Whether the line has nothing but blanks.
pub fn is_blank(line: &[u8]) -> bool {
    line.iter()
        .all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
}

/// conntrack's (or ctkit's) stderr summary (`conntrack v1.4.7 (conntrack-tools): 3 flow
/// entries have been shown.`), found in dumps saved with `2>&1`.
pub fn is_summary(line: &[u8]) -> bool {
    const TAIL: &[u8] = b" flow entries have been ";
    line.starts_with(b"conntrack v") && line.windows(TAIL.len()).any(|w| w == TAIL)
}

/// The format of a dump whose first non-empty line is `line`; `None` if it is in none.
pub fn detect(line: &[u8]) -> Option<DumpFormat> {
    let l = bytes::trim_eol(line);
    let l = bytes::trim_blank(l);
    match l.first()? {
        b'{' => return Some(DumpFormat::Json),
        b'<' => {
            return (l.starts_with(b"<?xml")
                || l.starts_with(b"<conntrack")
                || l.starts_with(b"<flow"))
            .then_some(DumpFormat::Xml)
        }
        _ => {}
    }
    if save::looks_like_save(l) {
        return Some(DumpFormat::Save);
    }
    let mut f = Flow::default();
    // A text line that parses tells its own layout; one that does not is still text when it
    // starts like one (the error then names the line).
    if let Ok(info) = super::parse_flow_into(l, None, false, &mut f) {
        return Some(if info.extended {
            DumpFormat::Extended
        } else {
            DumpFormat::Text
        });
    }
    let mut words = l.split(|b| *b == b' ').filter(|w| !w.is_empty());
    let mut first = words.next()?;
    if first.first() == Some(&b'[') {
        // `-o timestamp` prefix or an event tag.
        first = words.next()?;
        if first.first() == Some(&b'[') {
            first = words.next()?;
        }
    }
    let second_is_num = words.next().is_some_and(|w| bytes::dec::<u8>(w).is_some());
    if !second_is_num {
        return None;
    }
    if matches!(first, b"ipv4" | b"ipv6") {
        Some(DumpFormat::Extended)
    } else if first == b"unknown"
        || (0..=255u8).any(|p| crate::proto::l4_name(p).map(str::as_bytes) == Some(first))
    {
        Some(DumpFormat::Text)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_every_format_from_its_first_line() {
        let cases: &[(&str, Option<DumpFormat>)] = &[
            ("tcp      6 299 ESTABLISHED src=192.0.2.1 dst=192.0.2.2 sport=1 dport=2 src=192.0.2.2 dst=192.0.2.1 sport=2 dport=1 [ASSURED] mark=0 use=1\n", Some(DumpFormat::Text)),
            ("ipv4     2 udp      17 29 src=192.0.2.1 dst=192.0.2.2 sport=1 dport=2 [UNREPLIED] src=192.0.2.2 dst=192.0.2.1 sport=2 dport=1 mark=0 zone=0 use=2\n", Some(DumpFormat::Extended)),
            ("    [NEW] udp      17 30 src=192.0.2.1 dst=192.0.2.2 sport=1 dport=2 [UNREPLIED] src=192.0.2.2 dst=192.0.2.1 sport=2 dport=1\n", Some(DumpFormat::Text)),
            ("-A -t 29 -u UNSET -s 192.0.2.1 -d 192.0.2.2 -r 192.0.2.2 -q 192.0.2.1 -p 99\n", Some(DumpFormat::Save)),
            ("-I -s 192.0.2.1 -d 192.0.2.2 -p udp --sport 1 --dport 2 -t 30\n", Some(DumpFormat::Save)),
            ("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n", Some(DumpFormat::Xml)),
            ("{\"family\":\"ipv4\",\"proto\":\"udp\"}\n", Some(DumpFormat::Json)),
            ("tcp      6 BROKEN\n", Some(DumpFormat::Text)),
            ("hello world\n", None),
            ("\u{7f}ELF\x02\x01\n", None),
        ];
        for (line, want) in cases {
            assert_eq!(detect(line.as_bytes()), *want, "{line}");
        }
    }

    #[test]
    fn summary_and_blank_lines_hold_no_flow() {
        let mut f = Flow::default();
        let s = b"conntrack v1.4.7 (conntrack-tools): 3 flow entries have been shown.\n";
        assert_eq!(DumpFormat::Text.parse_into(s, None, &mut f), Ok(None));
        let s = b"conntrack v1.4.7 (ctkit 0.1.0): 0 flow entries have been shown.\n";
        assert_eq!(DumpFormat::Save.parse_into(s, None, &mut f), Ok(None));
        assert_eq!(
            DumpFormat::Json.parse_into(b"  \r\n", None, &mut f),
            Ok(None)
        );
        assert_eq!(
            DumpFormat::Xml.parse_into(b"</conntrack>\n", None, &mut f),
            Ok(None)
        );
    }
}
