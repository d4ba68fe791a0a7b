//! Drawing `ctkit top`: a pure function of [`TopState`] onto a ratatui frame.
//!
//! Screen, top to bottom (iptstate's layout plus ctkit's table line):
//! title and sort, table fill gauge with drop/early_drop/insert_failed deltas, optional
//! totals (`t`), filters and grouping lines, the bold column header, the table with the
//! highlighted line in reverse video (colour by protocol with `c`), and a bottom line for
//! prompts, questions and messages. `h` replaces the table with the help screen.

use super::state::{Mode, TopState, DELTA_COUNTERS};
use super::text::{self, Col};
use ctkit_model::proto::{IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP};
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

/// The lines above the column header.
pub fn header_lines(s: &TopState, width: usize) -> Vec<String> {
    let mut out = Vec::new();
    let sort = text::sort_label(s.settings.sort, s.settings.reverse);
    let busy = if s.scanning { "  [refreshing]" } else { "" };
    out.push(format!(
        "ctkit top - {}  Sort: {sort}  b: change sorting  h: help{busy}",
        s.source
    ));
    out.push(table_line(s, width));
    if let Some(v) = &s.view {
        if s.toggles.totals {
            out.push(text::totals_line(&v.totals));
        }
    }
    if let Some(f) = s.settings.filters.describe() {
        out.push(f);
    }
    let mut extra = Vec::new();
    if let Some(e) = &s.settings.expr {
        extra.push(format!("Expr: {}", expr_text(e)));
    }
    if let Some(g) = s.settings.group {
        extra.push(format!("Grouped by: {} (a: next)", g.name()));
    }
    if !extra.is_empty() {
        out.push(extra.join("  "));
    }
    out
}

fn expr_text(e: &super::filter::Expr) -> String {
    e.to_string()
}

/// The table fill line: entries / max with a gauge, and the counter deltas.
fn table_line(s: &TopState, width: usize) -> String {
    let Some(v) = &s.view else {
        return match &s.error {
            Some(e) => format!("Error: {e}"),
            None => "Reading the table…".into(),
        };
    };
    let c = &v.snap.counters;
    let entries = c.entries.unwrap_or(v.snap.rows.len() as u64);
    let mut line = match c.max {
        Some(max) if max > 0 => {
            let frac = (entries as f64 / max as f64).min(1.0);
            let bars = if width >= 100 { 20 } else { 10 };
            let full = (frac * bars as f64).round() as usize;
            format!(
                "Table: {entries}/{max} [{}{}] {:.1}%",
                "#".repeat(full),
                ".".repeat(bars - full),
                frac * 100.0
            )
        }
        _ => format!("Table: {entries} entries"),
    };
    if c.cpu_sum.is_some() {
        for (name, d) in DELTA_COUNTERS.iter().zip(s.deltas) {
            match d {
                Some(d) => line.push_str(&format!("  {name} +{d}")),
                None => line.push_str(&format!("  {name} -")),
            }
        }
    }
    if v.snap.skipped > 0 {
        line.push_str(&format!("  skipped lines {}", v.snap.skipped));
    }
    if s.toggles.counters && !v.snap.accounting && !v.snap.rows.is_empty() {
        // iptstate: "Counters requested, but not enabled in the kernel!"
        line.push_str("  (no counters: nf_conntrack_acct=0)");
    }
    line
}

/// Table lines that fit on a screen `height` lines high.
pub fn table_height(s: &TopState, height: u16, width: u16) -> usize {
    let used = header_lines(s, width as usize).len() + 2; // column header, bottom line
    (height as usize).saturating_sub(used).max(1)
}

/// The bottom line.
fn bottom_line(s: &TopState) -> String {
    match &s.mode {
        Mode::Prompt { kind, buf } => format!("{}{buf}", kind.question()),
        Mode::Confirm(t) => format!("Deleting state: {} -- Are you sure? (y/n)", t.label),
        _ => {
            if let Some(m) = &s.message {
                return m.clone();
            }
            if let Some(e) = &s.error {
                return format!("Error: {e}");
            }
            let n = s.len();
            if n == 0 {
                return "No states".into();
            }
            let last = (s.offset + s.page).min(n);
            format!(
                "Lines {}-{} of {}  (line {})",
                s.offset + 1,
                last,
                n,
                s.selected + 1
            )
        }
    }
}

fn proto_color(proto: u8) -> Option<Color> {
    match proto {
        IPPROTO_TCP => Some(Color::Green),
        IPPROTO_UDP => Some(Color::Yellow),
        IPPROTO_ICMP | IPPROTO_ICMPV6 => Some(Color::Red),
        _ => None,
    }
}

/// The help screen's lines: current settings, then the keys.
pub fn help_lines(s: &TopState) -> Vec<String> {
    let on = |b: bool| if b { "yes" } else { "no" };
    let f = &s.settings.filters;
    let opt = |o: Option<String>| o.unwrap_or_else(|| "none".into());
    vec![
        "ctkit top - help (any of q h Esc returns)".into(),
        String::new(),
        "Current settings:".into(),
        format!(
            "  Sort: {}   Refresh: {}s   Source: {}",
            text::sort_label(s.settings.sort, s.settings.reverse),
            s.rate.as_secs_f64(),
            s.source
        ),
        format!(
            "  Filters: src {}  dst {}  sport {}  dport {}  inverted {}",
            opt(f.src.map(|c| c.to_string())),
            opt(f.dst.map(|c| c.to_string())),
            opt(f.sport.map(|p| p.to_string())),
            opt(f.dport.map(|p| p.to_string())),
            on(f.invert)
        ),
        format!(
            "  Hide loopback {}  hide DNS {}  grouped by {}",
            on(f.no_loopback),
            on(f.no_dns),
            s.settings.group.map_or("none", |g| g.name())
        ),
        format!(
            "  Expression: {}",
            opt(s.settings.expr.as_ref().map(expr_text))
        ),
        format!(
            "  Colour {}  counters {}  totals {}  names {}  mark cut {}",
            on(s.toggles.color),
            on(s.toggles.counters),
            on(s.toggles.totals),
            on(s.toggles.lookup),
            on(s.toggles.mark_truncated),
        ),
        format!(
            "  Dynamic widths {}  scrolling {}  NAT columns {}  zone/mark/flags {}",
            on(s.toggles.dynamic),
            on(s.toggles.scroll),
            on(s.toggles.nat),
            on(s.toggles.ext)
        ),
        String::new(),
        "Keys (as iptstate):".into(),
        "  b/B next/previous sort column   r reverse     x delete highlighted state".into(),
        "  s/d source/destination IP filter   S/D source/destination port   i invert".into(),
        "  f hide loopback  L hide DNS  l names  C counters  t totals  c colour".into(),
        "  m mark cut values  o dynamic widths  p scrolling  R refresh rate".into(),
        "  space refresh now  ^L redraw  q quit  h this help".into(),
        "  Up/k Down/j PgUp/^U PgDn/^D Home End: move".into(),
        "Keys (ctkit):".into(),
        "  n NAT (reply tuple) columns  z zone/mark/flags  a group: src dst dport state".into(),
        "  e filter expression  / search (Enter: next match, Esc: back)".into(),
        "Expression words: tcp udp icmp icmp6 sctp dccp gre | proto P | state S |".into(),
        "  src/dst/host IP[/len] | sport/dport/port P[-Q] | mark N[/M] | zone N |".into(),
        "  assured unreplied nat snat dnat ipv4 ipv6 | and or not ( )".into(),
    ]
}

/// Draws the whole screen.
pub fn draw(s: &TopState, f: &mut Frame<'_>) {
    let area = f.area();
    let width = area.width as usize;
    if s.mode == Mode::Help {
        let lines: Vec<Line> = help_lines(s).into_iter().map(Line::from).collect();
        f.render_widget(Paragraph::new(lines), area);
        return;
    }
    let mut lines: Vec<Line> = Vec::new();
    for (i, h) in header_lines(s, width).into_iter().enumerate() {
        if i == 0 {
            lines.push(Line::styled(
                h,
                Style::default().add_modifier(Modifier::BOLD),
            ));
        } else {
            lines.push(Line::from(h));
        }
    }
    let page = table_height(s, area.height, area.width);
    let fmt = s.fmt();
    let group = s.view.as_ref().and_then(|v| v.groups.as_ref().map(|_| ()));
    let cols: Vec<Col> = text::columns_for_width(&fmt, group.and(s.settings.group), width);
    let mut table: Vec<(Vec<String>, u8, bool)> = Vec::new();
    if let Some(v) = &s.view {
        let end = (s.offset + page).min(v.len());
        for i in s.offset..end {
            let cells = text::line_cells(v, i, &cols, &s.names, &fmt);
            let proto = match &v.groups {
                Some(g) => v.snap.rows[g[i].sample as usize].proto,
                None => v.row(i).map_or(0, |r| r.proto),
            };
            table.push((cells, proto, i == s.selected));
        }
    }
    let just: Vec<Vec<String>> = table.iter().map(|t| t.0.clone()).collect();
    let widths = text::widths(&cols, Some(width), &just, &fmt);
    lines.push(Line::styled(
        text::header_line(&cols, &widths, &fmt),
        Style::default().add_modifier(Modifier::BOLD),
    ));
    for (cells, proto, selected) in &table {
        let mut style = Style::default();
        if s.toggles.color {
            if let Some(c) = proto_color(*proto) {
                style = style.fg(c);
            }
        }
        if *selected {
            style = style.add_modifier(Modifier::REVERSED);
        }
        let t = text::join(&cols, &widths, cells, &fmt);
        lines.push(Line::from(Span::styled(t, style)));
    }
    let body_height = area.height.saturating_sub(1);
    f.render_widget(
        Paragraph::new(lines),
        Rect {
            height: body_height,
            ..area
        },
    );
    let bottom = Rect {
        y: area.y + body_height,
        height: 1.min(area.height),
        ..area
    };
    let style = match s.mode {
        Mode::Confirm(_) => Style::default().add_modifier(Modifier::BOLD),
        _ => Style::default(),
    };
    f.render_widget(Paragraph::new(Line::styled(bottom_line(s), style)), bottom);
}

#[cfg(test)]
mod tests {
    use super::super::collect::UiEvent;
    use super::super::filter::{Cidr, Expr};
    use super::super::row::tests::tcp_flow;
    use super::super::state::{Key, Toggles};
    use super::super::view::{build_view, tests::snap_of, AggKey, Settings, SortKey};
    use super::*;
    use ctkit_model::stats::CpuStats;
    use ctkit_model::{Counters, Flow, ProtoInfo, Status, TcpInfo};
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;
    use std::sync::Arc;
    use std::time::Duration;

    fn flows() -> Vec<Flow> {
        let mut v = Vec::new();
        let mut a = tcp_flow("192.0.2.2", 40000, "198.51.100.2", 443);
        a.timeout = Some(431_990);
        a.counters_orig = Some(Counters {
            packets: 12,
            bytes: 3400,
        });
        a.counters_reply = Some(Counters {
            packets: 10,
            bytes: 90_000,
        });
        v.push(a);
        let mut b = tcp_flow("192.0.2.3", 51000, "198.51.100.2", 22);
        b.timeout = Some(110);
        b.protoinfo = Some(ProtoInfo::Tcp(TcpInfo {
            state: Some(7),
            ..Default::default()
        }));
        b.counters_orig = Some(Counters {
            packets: 30,
            bytes: 5000,
        });
        b.counters_reply = Some(Counters {
            packets: 28,
            bytes: 7000,
        });
        v.push(b);
        // DNAT 203.0.113.10:80 -> 198.51.100.2:8080, zone 7, mark 42, SYN_SENT, unreplied.
        let mut c = tcp_flow("192.0.2.2", 40001, "203.0.113.10", 80);
        c.reply.src = "198.51.100.2".parse().unwrap();
        c.reply.sport = 8080;
        c.status = Some(Status::DST_NAT | Status::CONFIRMED);
        c.protoinfo = Some(ProtoInfo::Tcp(TcpInfo {
            state: Some(1),
            ..Default::default()
        }));
        c.timeout = Some(100);
        c.zone = Some(7);
        c.mark = Some(42);
        c.counters_orig = Some(Counters {
            packets: 1,
            bytes: 60,
        });
        c.counters_reply = Some(Counters::default());
        v.push(c);
        let mut d = tcp_flow("192.0.2.9", 53001, "198.51.100.53", 53);
        d.orig.proto = 17;
        d.reply.proto = 17;
        d.protoinfo = None;
        d.status = Some(Status::CONFIRMED);
        d.timeout = Some(25);
        d.counters_orig = Some(Counters {
            packets: 1,
            bytes: 70,
        });
        d.counters_reply = Some(Counters::default());
        v.push(d);
        let mut e = tcp_flow("192.0.2.2", 0, "198.51.100.2", 0);
        e.orig.proto = 1;
        e.orig.icmp_type = 8;
        e.orig.icmp_id = 77;
        e.reply = e.orig.invert().unwrap();
        e.protoinfo = None;
        e.timeout = Some(29);
        e.counters_orig = Some(Counters {
            packets: 1,
            bytes: 84,
        });
        e.counters_reply = Some(Counters {
            packets: 1,
            bytes: 84,
        });
        v.push(e);
        let mut f = tcp_flow("2001:db8:1::2", 40010, "2001:db8:2::2", 7000);
        f.timeout = Some(431_999);
        f.counters_orig = Some(Counters {
            packets: 4,
            bytes: 300,
        });
        f.counters_reply = Some(Counters {
            packets: 3,
            bytes: 250,
        });
        v.push(f);
        let mut g = tcp_flow("127.0.0.1", 33000, "127.0.0.1", 631);
        g.timeout = Some(60);
        g.counters_orig = Some(Counters {
            packets: 2,
            bytes: 120,
        });
        g.counters_reply = Some(Counters {
            packets: 2,
            bytes: 120,
        });
        v.push(g);
        v
    }

    fn state(settings: Settings, toggles: Toggles) -> TopState {
        let mut snap = (*snap_of(&flows())).clone();
        snap.seq = 2;
        snap.counters.entries = Some(7);
        snap.counters.max = Some(64);
        let mut cpu = CpuStats::default();
        cpu.set(9, 1); // insert_failed
        cpu.set(10, 3); // drop
        cpu.set(11, 5); // early_drop
        snap.counters.add_cpu(&cpu);
        let mut s = TopState::new(
            settings.clone(),
            toggles,
            Duration::from_secs(1),
            "kernel".into(),
        );
        // A first scan with lower counters, so the header shows deltas.
        let mut first = snap.clone();
        first.seq = 1;
        let mut cpu0 = CpuStats::default();
        cpu0.set(9, 1);
        cpu0.set(10, 1);
        cpu0.set(11, 5);
        first.counters.cpu_sum = None;
        first.counters.add_cpu(&cpu0);
        // Two seconds earlier, with half the counters: rates are a quarter of the totals.
        for r in &mut first.rows {
            r.bytes /= 2;
            r.packets /= 2;
        }
        first.taken = Duration::from_secs(10);
        snap.taken = Duration::from_secs(12);
        let mut mem = super::super::view::RateMemory::default();
        mem.apply(&mut first);
        mem.apply(&mut snap);
        s.on_event(UiEvent::View(Arc::new(build_view(
            Arc::new(first),
            &settings,
        ))));
        s.on_event(UiEvent::View(Arc::new(build_view(
            Arc::new(snap),
            &settings,
        ))));
        s
    }

    fn screen(s: &mut TopState, w: u16, h: u16) -> TestBackend {
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
        s.set_page(table_height(s, h, w));
        t.draw(|f| draw(s, f)).unwrap();
        t.backend().clone()
    }

    #[test]
    fn default_table_80x24() {
        let mut s = state(Settings::default(), Toggles::default());
        insta::assert_snapshot!(screen(&mut s, 80, 24));
    }

    #[test]
    fn default_table_120x40() {
        let mut s = state(Settings::default(), Toggles::default());
        s.on_key(Key::Down);
        insta::assert_snapshot!(screen(&mut s, 120, 40));
    }

    #[test]
    fn sorted_by_dport_reversed_with_counters_80x24() {
        let set = Settings {
            sort: SortKey::DstPort,
            reverse: true,
            ..Settings::default()
        };
        let mut s = state(
            set,
            Toggles {
                counters: true,
                totals: true,
                ..Toggles::default()
            },
        );
        insta::assert_snapshot!(screen(&mut s, 80, 24));
    }

    #[test]
    fn sorted_by_bytes_120x40() {
        let set = Settings {
            sort: SortKey::Bytes,
            reverse: true,
            ..Settings::default()
        };
        let mut s = state(
            set,
            Toggles {
                counters: true,
                ..Toggles::default()
            },
        );
        insta::assert_snapshot!(screen(&mut s, 120, 40));
    }

    #[test]
    fn filters_inverted_with_totals_80x24() {
        let mut set = Settings::default();
        set.filters.dst = Some(Cidr::parse("198.51.100.0/24").unwrap());
        set.filters.invert = true;
        set.filters.no_loopback = true;
        let mut s = state(
            set,
            Toggles {
                totals: true,
                ..Toggles::default()
            },
        );
        insta::assert_snapshot!(screen(&mut s, 80, 24));
    }

    #[test]
    fn filter_expression_120x40() {
        let set = Settings {
            expr: Some(Expr::parse("tcp and not state time_wait and src 192.0.2.0/24").unwrap()),
            ..Settings::default()
        };
        let mut s = state(set, Toggles::default());
        insta::assert_snapshot!(screen(&mut s, 120, 40));
    }

    #[test]
    fn nat_zone_mark_flags_columns_120x40() {
        let mut s = state(
            Settings::default(),
            Toggles {
                nat: true,
                ext: true,
                ..Toggles::default()
            },
        );
        insta::assert_snapshot!(screen(&mut s, 120, 40));
    }

    #[test]
    fn nat_columns_80x24() {
        let mut s = state(
            Settings::default(),
            Toggles {
                nat: true,
                ..Toggles::default()
            },
        );
        insta::assert_snapshot!(screen(&mut s, 80, 24));
    }

    #[test]
    fn grouped_by_source_80x24() {
        let set = Settings {
            group: Some(AggKey::Src),
            ..Settings::default()
        };
        let mut s = state(
            set,
            Toggles {
                counters: true,
                ..Toggles::default()
            },
        );
        insta::assert_snapshot!(screen(&mut s, 80, 24));
    }

    #[test]
    fn grouped_by_state_120x40() {
        let set = Settings {
            group: Some(AggKey::State),
            ..Settings::default()
        };
        let mut s = state(set, Toggles::default());
        insta::assert_snapshot!(screen(&mut s, 120, 40));
    }

    #[test]
    fn help_80x24() {
        let mut s = state(Settings::default(), Toggles::default());
        s.on_key(Key::Char('h'));
        insta::assert_snapshot!(screen(&mut s, 80, 24));
    }

    #[test]
    fn help_120x40() {
        let mut s = state(Settings::default(), Toggles::default());
        s.on_key(Key::Char('r'));
        s.on_key(Key::Char('h'));
        insta::assert_snapshot!(screen(&mut s, 120, 40));
    }

    #[test]
    fn delete_question_80x24() {
        let mut s = state(Settings::default(), Toggles::default());
        s.on_key(Key::Down);
        s.on_key(Key::Down);
        s.on_key(Key::Char('x'));
        insta::assert_snapshot!(screen(&mut s, 80, 24));
    }

    #[test]
    fn scrolled_small_screen_60x12() {
        let mut s = state(Settings::default(), Toggles::default());
        s.on_key(Key::End);
        insta::assert_snapshot!(screen(&mut s, 60, 12));
    }

    #[test]
    fn a_resolved_name_replaces_the_address() {
        let mut s = state(Settings::default(), Toggles::default());
        s.on_key(Key::Char('l'));
        s.names.services.insert((443, false), "https".into());
        s.on_event(UiEvent::Name(
            "198.51.100.2".parse().unwrap(),
            Some("www.example.net".into()),
        ));
        let b = screen(&mut s, 80, 24);
        let line = |y: u16| {
            (0..80)
                .map(|x| b.buffer()[(x, y)].symbol().to_string())
                .collect::<String>()
        };
        assert_eq!(
            line(4).trim_end(),
            "192.0.2.2                  www.example.net           icmp 8/0 (77)      0:00:29"
        );
        assert_eq!(
            line(5).trim_end(),
            "192.0.2.2:40000            www.example.net:https     tcp  ESTABLISHED 119:59:50"
        );
        // The addresses on screen are asked for once each.
        let first = s.wanted_names();
        assert_eq!(first.len(), 9);
        assert!(first.contains(&"2001:db8:2::2".parse().unwrap()));
        assert_eq!(s.wanted_names(), Vec::<std::net::IpAddr>::new());
    }
}
