//! Golden tests: flows built by hand must print exactly what Debian's conntrack 1.4.7 printed
//! for the same kernel entries (kernel 6.18, run inside `unshare -n`; TZ=UTC). The command that
//! produced each expected string is in the comment above it.

use ctkit_model::expect::Expect;
use ctkit_model::flow::{Counters, HelperName, Labels, Timestamp};
use ctkit_model::format::expect::{write_expect_event_timestamp, EXPECT_XML_HEADER};
use ctkit_model::format::xml::{XML_FOOTER, XML_HEADER};
use ctkit_model::format::*;
use ctkit_model::protoinfo::{ProtoInfo, SctpInfo, TcpInfo};
use ctkit_model::stats::{CpuStats, ExpCpuStats};
use ctkit_model::{Flow, LabelMap, Status, Tuple};

fn tuple(src: &str, dst: &str, proto: u8, sport: u16, dport: u16) -> Tuple {
    Tuple {
        src: src.parse().unwrap(),
        dst: dst.parse().unwrap(),
        proto,
        sport,
        dport,
        ..Tuple::default()
    }
}

/// An entry as `conntrack -I … -t T` creates it and the kernel dumps it: both tuples, status,
/// timeout, mark 0, use 1, id.
fn flow(orig: Tuple, status: Status, timeout: u32) -> Flow {
    Flow {
        reply: orig.invert().unwrap_or(Tuple {
            src: orig.dst,
            dst: orig.src,
            ..orig
        }),
        orig,
        has_orig: true,
        has_reply: true,
        status: Some(status | Status::CONFIRMED),
        timeout: Some(timeout),
        mark: Some(0),
        use_count: Some(1),
        id: Some(1242554159),
        ..Flow::default()
    }
}

fn tcp(state: u8) -> Option<ProtoInfo> {
    Some(ProtoInfo::Tcp(TcpInfo {
        state: Some(state),
        ..TcpInfo::default()
    }))
}

fn text(f: &Flow, o: &TextOptions<'_>) -> String {
    let mut v = Vec::new();
    write_flow(&mut v, f, o);
    String::from_utf8(v).unwrap()
}

fn xml(f: &Flow, o: &XmlOptions<'_>) -> String {
    let mut v = Vec::new();
    write_flow_xml(&mut v, f, o);
    String::from_utf8(v).unwrap()
}

fn save(f: &Flow, o: &SaveOptions<'_>) -> String {
    let mut v = Vec::new();
    write_flow_save(&mut v, f, o);
    String::from_utf8(v).unwrap()
}

fn tcp_established() -> Flow {
    // conntrack -I -s 192.0.2.1 -d 192.0.2.2 -p tcp --sport 1000 --dport 80
    //   --state ESTABLISHED -u SEEN_REPLY,ASSURED -t 100 -m 7
    let mut f = flow(
        tuple("192.0.2.1", "192.0.2.2", 6, 1000, 80),
        Status::SEEN_REPLY | Status::ASSURED,
        99,
    );
    f.mark = Some(7);
    f.protoinfo = tcp(3);
    f
}

#[test]
fn tcp_default_extended_id_lines() {
    let f = tcp_established();
    // conntrack -L
    assert_eq!(
        text(&f, &TextOptions::default()),
        "tcp      6 99 ESTABLISHED src=192.0.2.1 dst=192.0.2.2 sport=1000 dport=80 src=192.0.2.2 dst=192.0.2.1 sport=80 dport=1000 [ASSURED] mark=7 use=1\n"
    );
    // conntrack -L -o extended,id
    let o = TextOptions {
        extended: true,
        id: true,
        ..TextOptions::default()
    };
    assert_eq!(
        text(&f, &o),
        "ipv4     2 tcp      6 99 ESTABLISHED src=192.0.2.1 dst=192.0.2.2 sport=1000 dport=80 src=192.0.2.2 dst=192.0.2.1 sport=80 dport=1000 [ASSURED] mark=7 use=1 id=1242554159\n"
    );
}

#[test]
fn tcp_xml_and_save() {
    let f = tcp_established();
    // conntrack -L -o xml
    assert_eq!(
        xml(&f, &XmlOptions::default()),
        "<flow><meta direction=\"original\"><layer3 protonum=\"2\" protoname=\"ipv4\"><src>192.0.2.1</src><dst>192.0.2.2</dst></layer3><layer4 protonum=\"6\" protoname=\"tcp\"><sport>1000</sport><dport>80</dport></layer4></meta><meta direction=\"reply\"><layer3 protonum=\"2\" protoname=\"ipv4\"><src>192.0.2.2</src><dst>192.0.2.1</dst></layer3><layer4 protonum=\"6\" protoname=\"tcp\"><sport>80</sport><dport>1000</dport></layer4></meta><meta direction=\"independent\"><state>ESTABLISHED</state><timeout>99</timeout><mark>7</mark><use>1</use><id>1242554159</id><assured/></meta></flow>\n"
    );
    // conntrack -L -o save
    let o = SaveOptions {
        event: Some(EventKind::New),
        ..SaveOptions::default()
    };
    assert_eq!(
        save(&f, &o),
        "-A -t 99 -u SEEN_REPLY,ASSURED -s 192.0.2.1 -d 192.0.2.2 -r 192.0.2.2 -q 192.0.2.1 -p tcp --sport 1000 --dport 80 --reply-port-src 80 --reply-port-dst 1000 --state ESTABLISHED\n"
    );
    assert_eq!(
        XML_HEADER,
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<conntrack>\n"
    );
    assert_eq!(XML_FOOTER, "</conntrack>\n");
}

#[test]
fn per_protocol_default_lines() {
    let o = TextOptions::default();
    // conntrack -I -s 192.0.2.7 -d 192.0.2.8 -p icmp --icmp-type 8 --icmp-code 0 --icmp-id 77 -t 30
    let mut icmp = tuple("192.0.2.7", "192.0.2.8", 1, 0, 0);
    icmp.icmp_type = 8;
    icmp.icmp_id = 77;
    let f = flow(icmp, Status(0), 29);
    assert_eq!(text(&f, &o), "icmp     1 29 src=192.0.2.7 dst=192.0.2.8 type=8 code=0 id=77 [UNREPLIED] src=192.0.2.8 dst=192.0.2.7 type=0 code=0 id=77 mark=0 use=1\n");
    // conntrack -L -o save (same entry)
    assert_eq!(
        save(&f, &SaveOptions { event: Some(EventKind::New), ..Default::default() }),
        "-A -t 29 -u UNSET -s 192.0.2.7 -d 192.0.2.8 -r 192.0.2.8 -q 192.0.2.7 -p icmp --icmp-type 8 --icmp-code 0 --icmp-id 77\n"
    );
    // conntrack -L -o xml (same entry): ICMP has an empty <layer4>.
    assert!(xml(&f, &XmlOptions::default())
        .contains("<layer4 protonum=\"1\" protoname=\"icmp\"></layer4></meta>"));

    // conntrack -I -s 2001:db8::1 -d 2001:db8::2 -p icmpv6 --icmpv6-type 128 --icmpv6-code 0 --icmpv6-id 9 -t 30
    let mut i6 = tuple("2001:db8::1", "2001:db8::2", 58, 0, 0);
    i6.icmp_type = 128;
    i6.icmp_id = 9;
    let f = flow(i6, Status(0), 29);
    assert_eq!(text(&f, &o), "icmpv6   58 29 src=2001:db8::1 dst=2001:db8::2 type=128 code=0 id=9 [UNREPLIED] src=2001:db8::2 dst=2001:db8::1 type=129 code=0 id=9 mark=0 use=1\n");
    assert_eq!(
        save(&f, &SaveOptions { event: Some(EventKind::New), ..Default::default() }),
        "-A -t 29 -u UNSET -s 2001:db8::1 -d 2001:db8::2 -r 2001:db8::2 -q 2001:db8::1 -p icmpv6 --icmpv6-type 128 --icmpv6-code 0 --icmpv6-id 9\n"
    );

    // conntrack -I -s 192.0.2.13 -d 192.0.2.14 -p gre --srckey 0x1234 --dstkey 0xab -t 30
    let f = flow(
        tuple("192.0.2.13", "192.0.2.14", 47, 0x1234, 0xab),
        Status(0),
        29,
    );
    assert_eq!(text(&f, &o), "gre      47 29 src=192.0.2.13 dst=192.0.2.14 srckey=0x1234 dstkey=0xab [UNREPLIED] src=192.0.2.14 dst=192.0.2.13 srckey=0xab dstkey=0x1234 mark=0 use=1\n");
    assert_eq!(
        save(&f, &SaveOptions { event: Some(EventKind::New), ..Default::default() }),
        "-A -t 29 -u UNSET -s 192.0.2.13 -d 192.0.2.14 -r 192.0.2.14 -q 192.0.2.13 -p gre --srckey 4660 --dstkey 171 --reply-key-src 171 --reply-key-dst 4660\n"
    );
    assert!(xml(&f, &XmlOptions::default()).contains("<layer4 protonum=\"47\" protoname=\"gre\"><srckey>0x1234</srckey><dstkey>0xab</dstkey></layer4>"));

    // conntrack -I -s 192.0.2.15 -d 192.0.2.16 -p 99 -t 30 ; conntrack -L -o extended
    let f = flow(tuple("192.0.2.15", "192.0.2.16", 99, 0, 0), Status(0), 29);
    let ext = TextOptions {
        extended: true,
        ..o
    };
    assert_eq!(text(&f, &ext), "ipv4     2 unknown  99 29 src=192.0.2.15 dst=192.0.2.16 [UNREPLIED] src=192.0.2.16 dst=192.0.2.15 mark=0 use=1\n");
    assert_eq!(
        save(
            &f,
            &SaveOptions {
                event: Some(EventKind::New),
                ..Default::default()
            }
        ),
        "-A -t 29 -u UNSET -s 192.0.2.15 -d 192.0.2.16 -r 192.0.2.16 -q 192.0.2.15 -p 99\n"
    );
    assert!(xml(&f, &XmlOptions::default())
        .contains("<layer4 protonum=\"99\" protoname=\"unknown\"></layer4>"));

    // conntrack -I -s 192.0.2.11 -d 192.0.2.12 -p dccp --sport 9 --dport 10 --state OPEN
    //   --role client -t 30   (kernel 6.18 has no DCCP tracker: no ports, no protoinfo)
    let f = flow(tuple("192.0.2.11", "192.0.2.12", 33, 0, 0), Status(0), 29);
    assert_eq!(text(&f, &o), "dccp     33 29 src=192.0.2.11 dst=192.0.2.12 sport=0 dport=0 [UNREPLIED] src=192.0.2.12 dst=192.0.2.11 sport=0 dport=0 mark=0 use=1\n");
    assert_eq!(
        save(
            &f,
            &SaveOptions {
                event: Some(EventKind::New),
                ..Default::default()
            }
        ),
        "-A -t 29 -u UNSET -s 192.0.2.11 -d 192.0.2.12 -r 192.0.2.12 -q 192.0.2.11 -p dccp\n"
    );
}

#[test]
fn sctp_state_quirk_in_xml_and_save() {
    // conntrack -I -s 192.0.2.9 -d 192.0.2.10 -p sctp --sport 7 --dport 8 --state ESTABLISHED
    //   --orig-vtag 1 --reply-vtag 2 -t 30
    let mut f = flow(tuple("192.0.2.9", "192.0.2.10", 132, 7, 8), Status(0), 29);
    f.protoinfo = Some(ProtoInfo::Sctp(SctpInfo {
        state: Some(4),
        // What the kernel holds after that -I: conntrack swaps the tags' bytes twice over
        // (htonl in its sctp extension and in libnetfilter_conntrack), and back on -o save.
        vtag_orig: Some(u32::from_be(1)),
        vtag_reply: Some(u32::from_be(2)),
    }));
    // conntrack -L
    assert_eq!(text(&f, &TextOptions::default()), "sctp     132 29 ESTABLISHED src=192.0.2.9 dst=192.0.2.10 sport=7 dport=8 [UNREPLIED] src=192.0.2.10 dst=192.0.2.9 sport=8 dport=7 mark=0 use=1\n");
    // conntrack -L -o xml: the library looks SCTP states up in the TCP table.
    assert!(xml(&f, &XmlOptions::default())
        .contains("<meta direction=\"independent\"><state>FIN_WAIT</state><timeout>29</timeout>"));
    // conntrack -L -o save
    assert_eq!(
        save(&f, &SaveOptions { event: Some(EventKind::New), ..Default::default() }),
        "-A -t 29 -u UNSET -s 192.0.2.9 -d 192.0.2.10 -r 192.0.2.10 -q 192.0.2.9 -p sctp --sport 7 --dport 8 --reply-port-src 8 --reply-port-dst 7 --state ESTABLISHED --orig-vtag 1 --reply-vtag 2\n"
    );
}

#[test]
fn ipv6_mapped_zone_and_fixed_timeout() {
    let o = TextOptions::default();
    // conntrack -I -s 2001:db8::1 -d ::ffff:192.0.2.1 -p tcp --sport 5 --dport 6 --state SYN_SENT -t 30
    let mut f = flow(
        tuple("2001:db8::1", "::ffff:192.0.2.1", 6, 5, 6),
        Status(0),
        29,
    );
    f.protoinfo = tcp(1);
    assert_eq!(text(&f, &o), "tcp      6 29 SYN_SENT src=2001:db8::1 dst=::ffff:192.0.2.1 sport=5 dport=6 [UNREPLIED] src=::ffff:192.0.2.1 dst=2001:db8::1 sport=6 dport=5 mark=0 use=1\n");
    // conntrack -I -s 192.0.2.3 -d 192.0.2.4 -p udp --sport 53 --dport 5353 -t 30 -w 5
    let mut f = flow(tuple("192.0.2.3", "192.0.2.4", 17, 53, 5353), Status(0), 29);
    f.zone = Some(5);
    assert_eq!(text(&f, &o), "udp      17 29 src=192.0.2.3 dst=192.0.2.4 sport=53 dport=5353 [UNREPLIED] src=192.0.2.4 dst=192.0.2.3 sport=5353 dport=53 mark=0 zone=5 use=1\n");
    assert_eq!(
        save(&f, &SaveOptions { event: Some(EventKind::New), ..Default::default() }),
        "-A -t 29 -u UNSET -w 5 -s 192.0.2.3 -d 192.0.2.4 -r 192.0.2.4 -q 192.0.2.3 -p udp --sport 53 --dport 5353 --reply-port-src 5353 --reply-port-dst 53\n"
    );
    assert!(xml(&f, &XmlOptions::default()).contains("<mark>0</mark><zone>5</zone><use>1</use>"));
    // conntrack -I -s 192.0.2.25 -d 192.0.2.26 -p tcp --sport 1 --dport 2 --state SYN_SENT2
    //   -t 30 -u FIXED_TIMEOUT ; conntrack -L -o save
    let mut f = flow(
        tuple("192.0.2.25", "192.0.2.26", 6, 1, 2),
        Status::FIXED_TIMEOUT,
        29,
    );
    f.protoinfo = tcp(9);
    assert_eq!(
        save(&f, &SaveOptions { event: Some(EventKind::New), ..Default::default() }),
        "-A -t 29 -u FIXED_TIMEOUT -s 192.0.2.25 -d 192.0.2.26 -r 192.0.2.26 -q 192.0.2.25 -p tcp --sport 1 --dport 2 --reply-port-src 2 --reply-port-dst 1 --state SYN_SENT2\n"
    );
}

/// UDP through an nft `snat to 192.0.2.50` rule with nf_conntrack_acct=1 and
/// nf_conntrack_timestamp=1 (python3 sender on lo).
fn snat_flow() -> Flow {
    let orig = tuple("192.0.2.1", "192.0.2.1", 17, 40000, 7002);
    let mut f = flow(
        orig,
        Status::SRC_NAT | Status::SRC_NAT_DONE | Status::DST_NAT_DONE,
        29,
    );
    f.reply = tuple("192.0.2.1", "192.0.2.50", 17, 7002, 40000);
    f.counters_orig = Some(Counters {
        packets: 1,
        bytes: 29,
    });
    f.counters_reply = Some(Counters {
        packets: 0,
        bytes: 0,
    });
    f.timestamp = Some(Timestamp {
        start: 1_795_883_249_578_166_708,
        stop: None,
    });
    f.id = Some(3282530055);
    f
}

#[test]
fn snat_counters_timestamps() {
    let f = snat_flow();
    let now = 1_795_883_249;
    // conntrack -L -o extended,ktimestamp,id
    let o = TextOptions {
        extended: true,
        ktimestamp: true,
        id: true,
        now,
        ..TextOptions::default()
    };
    assert_eq!(text(&f, &o), "ipv4     2 udp      17 29 src=192.0.2.1 dst=192.0.2.1 sport=40000 dport=7002 packets=1 bytes=29 [UNREPLIED] src=192.0.2.1 dst=192.0.2.50 sport=7002 dport=40000 packets=0 bytes=0 mark=0 delta-time=0 [start=Sat Nov 28 16:27:29 2026] use=1 id=3282530055\n");
    // conntrack -L -o save
    assert_eq!(
        save(&f, &SaveOptions { event: Some(EventKind::New), ..Default::default() }),
        "-A -t 29 -u UNSET -s 192.0.2.1 -d 192.0.2.1 -r 192.0.2.1 -n 192.0.2.50 -p udp --sport 40000 --dport 7002 --reply-port-src 7002 --reply-port-dst 40000\n"
    );
    // conntrack -L -o xml,ktimestamp
    let xo = XmlOptions {
        ktimestamp: true,
        now,
        ..XmlOptions::default()
    };
    assert_eq!(xml(&f, &xo), "<flow><meta direction=\"original\"><layer3 protonum=\"2\" protoname=\"ipv4\"><src>192.0.2.1</src><dst>192.0.2.1</dst></layer3><layer4 protonum=\"17\" protoname=\"udp\"><sport>40000</sport><dport>7002</dport></layer4><counters><packets>1</packets><bytes>29</bytes></counters></meta><meta direction=\"reply\"><layer3 protonum=\"2\" protoname=\"ipv4\"><src>192.0.2.1</src><dst>192.0.2.50</dst></layer3><layer4 protonum=\"17\" protoname=\"udp\"><sport>7002</sport><dport>40000</dport></layer4><counters><packets>0</packets><bytes>0</bytes></counters></meta><meta direction=\"independent\"><timeout>29</timeout><mark>0</mark><use>1</use><id>3282530055</id><unreplied/><timestamp><start>1795883249578166708</start></timestamp><deltatime>0</deltatime></meta></flow>\n");
    // conntrack -L -o xml (no ktimestamp: deltatime only)
    assert!(xml(
        &f,
        &XmlOptions {
            now,
            ..XmlOptions::default()
        }
    )
    .contains("<unreplied/><deltatime>0</deltatime></meta></flow>"));
}

#[test]
fn events_prefix_timestamp_userspace() {
    let mut f = tcp_established();
    f.timeout = Some(100);
    f.use_count = None;
    f.id = Some(4073010259);
    // conntrack -E -o timestamp (NEW from `conntrack -I`, portid 15182)
    let o = TextOptions {
        event: Some(EventKind::New),
        event_time: Some((1795883269, 105746)),
        userspace: Some(Userspace {
            portid: 15182,
            progname: None,
        }),
        ..TextOptions::default()
    };
    assert_eq!(text(&f, &o), "[1795883269.105746]\t    [NEW] tcp      6 100 ESTABLISHED src=192.0.2.1 dst=192.0.2.2 sport=1000 dport=80 src=192.0.2.2 dst=192.0.2.1 sport=80 dport=1000 [ASSURED] mark=7 [USERSPACE] portid=15182\n");
    // conntrack -E -o xml (same event): the suffix follows </flow>.
    let xo = XmlOptions {
        event: Some(EventKind::New),
        userspace: Some(Userspace {
            portid: 15182,
            progname: None,
        }),
        ..XmlOptions::default()
    };
    assert_eq!(xml(&f, &xo), "<flow type=\"new\"><meta direction=\"original\"><layer3 protonum=\"2\" protoname=\"ipv4\"><src>192.0.2.1</src><dst>192.0.2.2</dst></layer3><layer4 protonum=\"6\" protoname=\"tcp\"><sport>1000</sport><dport>80</dport></layer4></meta><meta direction=\"reply\"><layer3 protonum=\"2\" protoname=\"ipv4\"><src>192.0.2.2</src><dst>192.0.2.1</dst></layer3><layer4 protonum=\"6\" protoname=\"tcp\"><sport>80</sport><dport>1000</dport></layer4></meta><meta direction=\"independent\"><state>ESTABLISHED</state><timeout>100</timeout><mark>7</mark><id>4073010259</id><assured/></meta></flow> [USERSPACE] portid=15182\n");

    // conntrack -E -o extended,id,ktimestamp (DESTROY from `conntrack -D`)
    let mut d = flow(tuple("192.0.2.3", "192.0.2.4", 17, 1, 2), Status(0), 49);
    d.mark = None;
    d.use_count = None;
    d.id = Some(1880758225);
    d.timestamp = Some(Timestamp {
        start: 1_795_883_269_120_000_000,
        stop: Some(1_795_883_269_229_000_000),
    });
    let o = TextOptions {
        event: Some(EventKind::Destroy),
        extended: true,
        id: true,
        ktimestamp: true,
        userspace: Some(Userspace {
            portid: 2822691628,
            progname: Some("conntrack"),
        }),
        ..TextOptions::default()
    };
    assert_eq!(text(&d, &o), "[DESTROY] ipv4     2 udp      17 49 src=192.0.2.3 dst=192.0.2.4 sport=1 dport=2 [UNREPLIED] src=192.0.2.4 dst=192.0.2.3 sport=2 dport=1 delta-time=0 [start=Sat Nov 28 16:27:49 2026] [stop=Sat Nov 28 16:27:49 2026] id=1880758225 [USERSPACE] portid=2822691628 progname=conntrack\n");
    // conntrack -E -o save (same event)
    let so = SaveOptions {
        event: Some(EventKind::Destroy),
        userspace: Some(Userspace {
            portid: 2822691628,
            progname: None,
        }),
    };
    assert_eq!(save(&d, &so), "-D -t 49 -u UNSET -s 192.0.2.3 -d 192.0.2.4 -r 192.0.2.4 -q 192.0.2.3 -p udp --sport 1 --dport 2 --reply-port-src 2 --reply-port-dst 1 [USERSPACE] portid=2822691628\n");
    // conntrack -E -o xml (same event)
    let xo = XmlOptions {
        event: Some(EventKind::Destroy),
        ..XmlOptions::default()
    };
    assert!(xml(&d, &xo).starts_with("<flow type=\"destroy\">"));
    assert!(xml(&d, &xo).ends_with("<timeout>49</timeout><id>1880758225</id><unreplied/><deltatime>0</deltatime></meta></flow>\n"));
}

const LABELS_CONF: &[u8] =
    b"# comment\n0 zero\n1 one\n  2   two words  \n5 five\n0x7 seven\n127 last\n";

#[test]
fn labels_default_xml_and_quirk() {
    let map = LabelMap::parse(LABELS_CONF).unwrap();
    let mut f = tcp_established();
    f.id = Some(3906414911);
    let mut l = Labels {
        len: 16,
        ..Labels::default()
    };
    for b in [1, 5, 127] {
        l.set(b);
    }
    f.labels = Some(l);
    // conntrack -U … --label-add one,last,five ; conntrack -L -l one -o id
    let o = TextOptions {
        id: true,
        labelmap: Some(&map),
        ..TextOptions::default()
    };
    assert_eq!(text(&f, &o), "tcp      6 99 ESTABLISHED src=192.0.2.1 dst=192.0.2.2 sport=1000 dport=80 src=192.0.2.2 dst=192.0.2.1 sport=80 dport=1000 [ASSURED] mark=7 use=1 id=3906414911 labels=one,five,last\n");
    // conntrack -L (no label map loaded: no labels)
    assert!(!text(&f, &TextOptions::default()).contains("labels"));
    // conntrack -L -o xml -l one
    assert!(xml(&f, &XmlOptions { labelmap: Some(&map), ..XmlOptions::default() })
        .contains("<mark>7</mark><labels><label>one</label><label>five</label><label>last</label></labels><use>1</use>"));
    // conntrack -L -o save -l one: labels are not saved.
    assert!(!save(
        &f,
        &SaveOptions {
            event: Some(EventKind::New),
            ..Default::default()
        }
    )
    .contains("label"));

    // Bit 7 set, then connlabel.conf rewritten without it: conntrack -L -o labels /
    // -o labels,xml print a bare `labels` and an empty <labels></labels>.
    let small = LabelMap::parse(b"0 zero\n1 one\n").unwrap();
    let mut g = flow(tuple("192.0.2.5", "192.0.2.6", 17, 1, 2), Status(0), 49);
    let mut l = Labels {
        len: 16,
        ..Labels::default()
    };
    l.set(7);
    g.labels = Some(l);
    let o = TextOptions {
        labelmap: Some(&small),
        ..TextOptions::default()
    };
    assert_eq!(text(&g, &o), "udp      17 49 src=192.0.2.5 dst=192.0.2.6 sport=1 dport=2 [UNREPLIED] src=192.0.2.6 dst=192.0.2.5 sport=2 dport=1 mark=0 use=1 labels\n");
    assert!(xml(
        &g,
        &XmlOptions {
            labelmap: Some(&small),
            ..XmlOptions::default()
        }
    )
    .contains("<mark>0</mark><labels></labels><use>1</use>"));
}

#[test]
fn helper_in_text_and_xml() {
    // FTP control connection through an nft `ct helper` "ftp" object; conntrack -L / -L -o xml
    let mut f = flow(
        tuple("192.0.2.1", "192.0.2.1", 6, 40010, 21),
        Status::SEEN_REPLY | Status::ASSURED,
        431999,
    );
    f.protoinfo = tcp(3);
    f.helper = Some(HelperName::new("ftp"));
    f.id = Some(1954236208);
    assert_eq!(text(&f, &TextOptions::default()), "tcp      6 431999 ESTABLISHED src=192.0.2.1 dst=192.0.2.1 sport=40010 dport=21 src=192.0.2.1 dst=192.0.2.1 sport=21 dport=40010 [ASSURED] mark=0 helper=ftp use=1\n");
    assert!(xml(&f, &XmlOptions::default())
        .ends_with("<id>1954236208</id><assured/></meta><helper>ftp</helper></flow>\n"));
}

fn ftp_expect() -> Expect {
    let mut e = Expect {
        tuple: tuple("192.0.2.1", "192.0.2.1", 6, 0, 40001),
        mask: tuple("255.255.255.255", "255.255.255.255", 6, 0, 65535),
        master: tuple("192.0.2.1", "192.0.2.1", 6, 40010, 21),
        timeout: Some(299),
        class: Some(0),
        flags: Some(0),
        ..Expect::default()
    };
    e.helper = Some(HelperName::new("ftp"));
    e
}

#[test]
fn expectation_lines() {
    let e = ftp_expect();
    let mut v = Vec::new();
    // conntrack -L expect (FTP `PORT 192,0,2,1,156,65` through the ftp helper)
    write_expect(&mut v, &e, &ExpectOptions::default());
    assert_eq!(String::from_utf8(v).unwrap(), "299 proto=6 src=192.0.2.1 dst=192.0.2.1 sport=0 dport=40001 mask-src=255.255.255.255 mask-dst=255.255.255.255 sport=0 dport=65535 master-src=192.0.2.1 master-dst=192.0.2.1 sport=40010 dport=21 class=0 helper=ftp\n");
    // conntrack -L expect -o xml
    let mut v = Vec::new();
    write_expect_xml(&mut v, &e, &ExpectOptions::default());
    assert_eq!(String::from_utf8(v).unwrap(), "<flow><layer3 protonum=\"2\" protoname=\"ipv4\"><expected><src>192.0.2.1</src><dst>192.0.2.1</dst></expected><mask><src>255.255.255.255</src><dst>255.255.255.255</dst></mask><master><src>192.0.2.1</src><dst>192.0.2.1</dst></master></layer3><layer4 protonum=\"6\" protoname=\"tcp\"><expected><sport>0</sport><dport>40001</dport></expected><mask><sport>0</sport><dport>65535</dport></mask><master><sport>40010</sport><dport>21</dport></master></layer4><meta><helper-name>ftp</helper-name><timeout>299</timeout><class>0</class></meta></flow>\n");
    assert_eq!(
        EXPECT_XML_HEADER,
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<expect>\n"
    );
    // conntrack -E expect -o timestamp ; conntrack -E expect -o xml,timestamp
    let mut e2 = e;
    e2.timeout = Some(300);
    e2.tuple.dport = 10000;
    let mut v = Vec::new();
    write_expect_event_timestamp(&mut v, 1795883691, 124336);
    write_expect(
        &mut v,
        &e2,
        &ExpectOptions {
            event: Some(EventKind::New),
            ..Default::default()
        },
    );
    assert_eq!(String::from_utf8(v).unwrap(), "[1795883691.124336]\t    [NEW] 300 proto=6 src=192.0.2.1 dst=192.0.2.1 sport=0 dport=10000 mask-src=255.255.255.255 mask-dst=255.255.255.255 sport=0 dport=65535 master-src=192.0.2.1 master-dst=192.0.2.1 sport=40010 dport=21 class=0 helper=ftp\n");
    let mut v = Vec::new();
    let o = ExpectOptions {
        event: Some(EventKind::Destroy),
        when: Some(1_795_883_691),
        ..Default::default()
    };
    write_expect_xml(&mut v, &e2, &o);
    assert!(String::from_utf8(v).unwrap().ends_with("<meta><helper-name>ftp</helper-name><timeout>300</timeout><class>0</class><when><hour>16</hour><min>34</min><sec>51</sec><wday>7</wday><day>28</day><month>11</month><year>2026</year></when></meta></flow>\n"));
}

#[test]
fn expectation_flags_and_padding() {
    let mut e = ftp_expect();
    e.flags = Some(0x1 | 0x4);
    e.class = None;
    e.helper = None;
    e.zone = Some(3);
    let mut v = Vec::new();
    write_expect(&mut v, &e, &ExpectOptions::default());
    assert!(String::from_utf8(v)
        .unwrap()
        .ends_with("sport=40010 dport=21 zone=3 PERMANENT,USERSPACE\n"));
    let mut v = Vec::new();
    write_expect_event_timestamp(&mut v, 12, 5);
    assert_eq!(v, b"[12      .5     ]\t");
}

#[test]
fn stats_and_count_lines() {
    // conntrack -S on kernel 6.18 sends these ten counters.
    let mut s = CpuStats {
        cpu: 1,
        ..CpuStats::default()
    };
    for attr in [2u16, 4, 8, 9, 10, 11, 12, 13, 14, 15] {
        s.set(attr, 0);
    }
    s.set(2, 12);
    let mut v = Vec::new();
    write_cpu_stats(&mut v, &s);
    assert_eq!(v, b"cpu=1   \tfound=12 invalid=0 insert=0 insert_failed=0 drop=0 early_drop=0 error=0 search_restart=0 clash_resolve=0 chaintoolong=0 \n");
    let mut v = Vec::new();
    write_exp_cpu_stats(
        &mut v,
        &ExpCpuStats {
            cpu: 12345,
            expect_new: Some(1),
            expect_create: Some(2),
            expect_delete: Some(3),
        },
    );
    assert_eq!(
        v,
        b"cpu=12345\texpect_new=1 expect_create=2 expect_delete=3 \n"
    );
    let mut v = Vec::new();
    write_count(&mut v, 7);
    write_proc_stats_line(&mut v, 0, &["entries", "searched"], &[3, 0x10]);
    assert_eq!(v, b"7\ncpu=0   \tentries=3 searched=16 \n");
}

#[test]
fn json_line_schema() {
    let map = LabelMap::parse(LABELS_CONF).unwrap();
    let mut f = snat_flow();
    f.protoinfo = None;
    let mut l = Labels {
        len: 16,
        ..Labels::default()
    };
    l.set(1);
    l.set(3);
    f.labels = Some(l);
    f.helper = Some(HelperName::new("q\"\\\u{1}"));
    let o = JsonOptions {
        event: Some(EventKind::Destroy),
        labelmap: Some(&map),
        event_time: Some((1795883269, 5)),
        userspace: Some(Userspace {
            portid: 9,
            progname: Some("conntrack"),
        }),
    };
    let mut v = Vec::new();
    write_flow_json(&mut v, &f, &o);
    let s = String::from_utf8(v).unwrap();
    assert_eq!(s, "{\"event\":\"destroy\",\"time\":1795883269.000005,\"family\":\"ipv4\",\"proto\":\"udp\",\"protonum\":17,\"timeout\":29,\"orig\":{\"src\":\"192.0.2.1\",\"dst\":\"192.0.2.1\",\"sport\":40000,\"dport\":7002,\"packets\":1,\"bytes\":29},\"reply\":{\"src\":\"192.0.2.1\",\"dst\":\"192.0.2.50\",\"sport\":7002,\"dport\":40000,\"packets\":0,\"bytes\":0},\"status\":[\"CONFIRMED\",\"SRC_NAT\",\"SRC_NAT_DONE\",\"DST_NAT_DONE\"],\"mark\":0,\"use\":1,\"id\":3282530055,\"helper\":\"q\\\"\\\\\\u0001\",\"labels\":[1,3],\"label_names\":[\"one\"],\"timestamp\":{\"start\":1795883249578166708},\"userspace\":{\"portid\":9,\"progname\":\"conntrack\"}}\n");
    let parsed: serde_json::Value = serde_json::from_str(&s).unwrap();
    assert_eq!(parsed["helper"], "q\"\\\u{1}");
    assert_eq!(parsed["reply"]["dst"], "192.0.2.50");

    // ICMP, GRE and TCP state keys.
    let mut icmp = tuple("2001:db8::1", "2001:db8::2", 58, 0, 0);
    icmp.icmp_type = 128;
    icmp.icmp_id = 9;
    let mut g = flow(icmp, Status(0), 29);
    g.orig.zone = Some(3);
    let mut v = Vec::new();
    write_flow_json(&mut v, &g, &JsonOptions::default());
    let s = String::from_utf8(v).unwrap();
    assert!(s.contains("\"orig\":{\"src\":\"2001:db8::1\",\"dst\":\"2001:db8::2\",\"type\":128,\"code\":0,\"id\":9,\"zone\":3}"));
    let t = tcp_established();
    let mut v = Vec::new();
    write_flow_json(&mut v, &t, &JsonOptions::default());
    let j: serde_json::Value = serde_json::from_slice(&v).unwrap();
    assert_eq!(j["state"], "ESTABLISHED");
    assert!(j.get("event").is_none());
}
