//! The checks a fuzzed input goes through, shared by the cargo-fuzz target `dump_parse`
//! (fuzz/fuzz_targets/dump_parse.rs) and the stable smoke test tests/dump_fuzz_smoke.rs:
//! every line parser on the bytes as one line, and the whole bytes as a file through detection
//! and the streaming reader (strict and lenient). Nothing may panic; whatever parses must
//! print in its own format, parse again, and print the same bytes the second time.

use ctkit_model::format::{
    write_flow, write_flow_json, write_flow_save, write_flow_xml, JsonOptions, SaveOptions,
    TextOptions, Userspace, XmlOptions,
};
use ctkit_model::text::{DumpFormat, DumpReader, LineInfo, LineSplitter};
use ctkit_model::{Flow, LabelMap};
use std::ops::ControlFlow;

/// Every format the dump reader knows.
pub const FORMATS: [DumpFormat; 5] = [
    DumpFormat::Text,
    DumpFormat::Extended,
    DumpFormat::Save,
    DumpFormat::Xml,
    DumpFormat::Json,
];

fn print(format: DumpFormat, f: &Flow, info: &LineInfo, map: Option<&LabelMap>) -> Vec<u8> {
    let mut out = Vec::new();
    let userspace = info.userspace_portid.map(|portid| Userspace {
        portid,
        progname: None,
    });
    match format {
        DumpFormat::Text | DumpFormat::Extended => write_flow(
            &mut out,
            f,
            &TextOptions {
                event: info.event,
                extended: format == DumpFormat::Extended,
                id: true,
                labelmap: map,
                now: 1_000_000,
                event_time: info.event_time,
                userspace,
                ..TextOptions::default()
            },
        ),
        DumpFormat::Save => write_flow_save(
            &mut out,
            f,
            &SaveOptions {
                event: info.event,
                userspace,
            },
        ),
        DumpFormat::Xml => write_flow_xml(
            &mut out,
            f,
            &XmlOptions {
                event: info.event,
                ktimestamp: true,
                labelmap: map,
                now: 1_000_000,
                userspace,
                ..XmlOptions::default()
            },
        ),
        DumpFormat::Json => write_flow_json(
            &mut out,
            f,
            &JsonOptions {
                event: info.event,
                labelmap: map,
                userspace,
                ..JsonOptions::default()
            },
        ),
    }
    out
}

/// Result counts, so callers can see the mutations reach the parsers.
#[derive(Default, Debug)]
pub struct Outcome {
    /// Lines some parser accepted.
    pub parsed: usize,
    /// Lines a parser rejected.
    pub rejected: usize,
}

/// `data` as one line through every parser, then as a whole file through the reader.
pub fn check(data: &[u8], map: Option<&LabelMap>, out: &mut Outcome) {
    let mut f = Flow::default();
    for format in FORMATS {
        match format.parse_into(data, map, &mut f) {
            Ok(Some(info)) => {
                out.parsed += 1;
                let first = print(format, &f, &info, map);
                let mut g = Flow::default();
                let info2 = match format.parse_into(&first, map, &mut g) {
                    Ok(Some(i)) => i,
                    other => panic!(
                        "{format:?}: own output {:?} of {:?} does not parse: {other:?}",
                        String::from_utf8_lossy(&first),
                        String::from_utf8_lossy(data)
                    ),
                };
                let second = print(format, &g, &info2, map);
                assert_eq!(
                    String::from_utf8_lossy(&second),
                    String::from_utf8_lossy(&first),
                    "{format:?}: print(parse(print(parse(x)))) differs, x = {:?}",
                    String::from_utf8_lossy(data)
                );
            }
            Ok(None) => {}
            Err(e) => {
                out.rejected += 1;
                // Error texts must be printable.
                let _ = e.to_string();
            }
        }
    }
    for lenient in [false, true] {
        if let Ok(mut r) = DumpReader::new(
            LineSplitter::with_chunk(data, 7),
            "fuzz",
            None,
            None,
            lenient,
        ) {
            let _ = r.scan(&mut |_| ControlFlow::Continue(()));
        }
    }
}
