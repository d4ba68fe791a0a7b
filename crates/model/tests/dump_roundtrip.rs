//! Format → parse → format is the identity for every dump format ctkit reads besides the
//! default text line (crates/model/tests/text_roundtrip.rs): `-o save`, `-o xml`, `-o json`,
//! over arbitrary flows, through the same entry point `--from` uses (`DumpFormat::parse_into`
//! after detection).

mod common;

use common::{flow, Gen, MAP};
use ctkit_model::format::{
    write_flow, write_flow_json, write_flow_save, write_flow_xml, EventKind, JsonOptions,
    SaveOptions, TextOptions, Userspace, XmlOptions,
};
use ctkit_model::text::{detect, DumpFormat};
use ctkit_model::{Flow, LabelMap};
use proptest::prelude::*;

const EVENTS: [Option<EventKind>; 4] = [
    None,
    Some(EventKind::New),
    Some(EventKind::Update),
    Some(EventKind::Destroy),
];

fn parse(
    format: DumpFormat,
    line: &[u8],
    map: Option<&LabelMap>,
) -> Result<(Flow, ctkit_model::text::LineInfo), TestCaseError> {
    prop_assert_eq!(
        detect(line),
        Some(format),
        "detected format of {:?}",
        String::from_utf8_lossy(line)
    );
    let mut f = Flow::default();
    let info = format
        .parse_into(line, map, &mut f)
        .map_err(|e| TestCaseError::fail(format!("{e} in {:?}", String::from_utf8_lossy(line))))?
        .ok_or_else(|| TestCaseError::fail("no flow"))?;
    Ok((f, info))
}

const ANY: Gen = Gen {
    any_status: true,
    optional_reply: true,
    wild_strings: false,
    any_timestamp: true,
};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn save_parse_save_is_identical(f in flow(ANY), ev in 0usize..4) {
        let o = SaveOptions { event: EVENTS[ev], userspace: None };
        let mut line = Vec::new();
        write_flow_save(&mut line, &f, &o);
        let (g, info) = parse(DumpFormat::Save, &line, None)?;
        prop_assert_eq!(info.event, EVENTS[ev]);
        let mut again = Vec::new();
        write_flow_save(&mut again, &g, &o);
        prop_assert_eq!(String::from_utf8_lossy(&again), String::from_utf8_lossy(&line));
    }

    #[test]
    fn xml_parse_xml_is_identical(
        any in flow(ANY),
        small in flow(Gen { any_timestamp: false, ..ANY }),
        kts in any::<bool>(),
        ev in 0usize..4,
    ) {
        // Without -o ktimestamp only <deltatime> is printed, which comes back as whole seconds.
        let f = if kts { any } else { small };
        let map = LabelMap::parse(MAP).unwrap();
        let o = XmlOptions { event: EVENTS[ev], ktimestamp: kts, labelmap: Some(&map), now: 1_800_000_000, ..XmlOptions::default() };
        let mut line = Vec::new();
        write_flow_xml(&mut line, &f, &o);
        let (g, info) = parse(DumpFormat::Xml, &line, Some(&map))?;
        prop_assert_eq!(info.event, EVENTS[ev]);
        let mut again = Vec::new();
        write_flow_xml(&mut again, &g, &o);
        prop_assert_eq!(String::from_utf8_lossy(&again), String::from_utf8_lossy(&line));
    }

    #[test]
    fn json_parse_json_is_identical(
        f in flow(Gen { wild_strings: true, ..ANY }),
        ev in 0usize..4,
        time in proptest::option::of((0i64..4_000_000_000, 0u32..1_000_000)),
        portid in proptest::option::of(any::<u32>()),
    ) {
        let map = LabelMap::parse(MAP).unwrap();
        let o = JsonOptions {
            event: EVENTS[ev],
            labelmap: Some(&map),
            event_time: time,
            userspace: portid.map(|portid| Userspace { portid, progname: Some("conn\"track") }),
        };
        let mut line = Vec::new();
        write_flow_json(&mut line, &f, &o);
        let (g, info) = parse(DumpFormat::Json, &line, None)?;
        prop_assert_eq!(info.event, EVENTS[ev]);
        prop_assert_eq!(info.userspace_portid, portid);
        let mut again = Vec::new();
        write_flow_json(&mut again, &g, &o);
        prop_assert_eq!(String::from_utf8_lossy(&again), String::from_utf8_lossy(&line));
    }

    #[test]
    fn proc_layout_parse_print_is_identical(f in flow(Gen { any_status: false, optional_reply: false, wild_strings: false, any_timestamp: false })) {
        // /proc/net/nf_conntrack is the extended layout; the same parser reads it.
        let o = TextOptions { extended: true, now: 1000, ..TextOptions::default() };
        let mut line = Vec::new();
        write_flow(&mut line, &f, &o);
        let (g, _) = parse(DumpFormat::Extended, &line, None)?;
        let mut again = Vec::new();
        write_flow(&mut again, &g, &o);
        prop_assert_eq!(String::from_utf8_lossy(&again), String::from_utf8_lossy(&line));
    }
}
