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
    let sort = text::sort_label(s.settings.sort, s.settings.reverse, s.toggles.lookup);
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
    use super::filter::Expr::*;
    match e {
        And(a, b) => format!("{} and {}", expr_text(a), expr_text(b)),
        Or(a, b) => format!("({} or {})", expr_text(a), expr_text(b)),
        Not(a) => format!("not {}", expr_text(a)),
        Proto(p) => match ctkit_model::proto::l4_name(*p) {
            Some(n) => n.to_string(),
            None => format!("proto {p}"),
        },
        Family(v6) => if *v6 { "ipv6" } else { "ipv4" }.into(),
        State(st) => format!("state {st}"),
        Status(b) => {
            let st = ctkit_model::Status(*b);
            if st == ctkit_model::Status::ASSURED {
                "assured".into()
            } else if st == ctkit_model::Status::SRC_NAT {
                "snat".into()
            } else {
                "dnat".into()
            }
        }
        Unreplied => "unreplied".into(),
        Nat => "nat".into(),
        Src(c) => format!("src {c}"),
        Dst(c) => format!("dst {c}"),
        Host(c) => format!("host {c}"),
        Sport(a, b) | Dport(a, b) | Port(a, b) => {
            let w = match e {
                Sport(..) => "sport",
                Dport(..) => "dport",
                _ => "port",
            };
            if a == b {
                format!("{w} {a}")
            } else {
                format!("{w} {a}-{b}")
            }
        }
        Mark(v, m) => {
            if *m == u32::MAX {
                format!("mark {v}")
            } else {
                format!("mark {v:#x}/{m:#x}")
            }
        }
        Zone(z) => format!("zone {z}"),
    }
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
            format!("Lines {}-{} of {}  (line {})", s.offset + 1, last, n, s.selected + 1)
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
            text::sort_label(s.settings.sort, s.settings.reverse, s.toggles.lookup),
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
            "  Hide loopback {}  hide DNS {}  expression {}  grouped by {}",
            on(f.no_loopback),
            on(f.no_dns),
            opt(s.settings.expr.as_ref().map(expr_text)),
            s.settings.group.map_or("none", |g| g.name())
        ),
        format!(
            "  Colour {}  counters {}  totals {}  names {}  mark cut {}  dynamic {}  scroll {}  NAT {}  zone/mark {}",
            on(s.toggles.color),
            on(s.toggles.counters),
            on(s.toggles.totals),
            on(s.toggles.lookup),
            on(s.toggles.mark_truncated),
            on(s.toggles.dynamic),
            on(s.toggles.scroll),
            on(s.toggles.nat),
            on(s.toggles.ext)
        ),
        String::new(),
        "Keys (as iptstate):".into(),
        "  b/B  next/previous sort column      r  reverse sort       x  delete highlighted state".into(),
        "  s/d  source/destination IP filter   S/D  source/destination port filter   i  invert filters".into(),
        "  f  hide loopback   L  hide DNS   l  names   C  counters   t  totals   c  colour".into(),
        "  m  mark cut names   o  dynamic widths   p  scrolling   R  refresh rate".into(),
        "  space  refresh now   ^L  redraw   q  quit   h  this help".into(),
        "  Up/k Down/j PgUp/^U PgDn/^D Home End  move".into(),
        "Keys (ctkit):".into(),
        "  n  NAT (reply tuple) columns   z  zone, mark, flags   a  group by src/dst/dport/state".into(),
        "  e  filter expression   /  search (Enter: next match, Esc: back)".into(),
        "Expression: tcp udp icmp ... | proto P | state S | src/dst/host IP[/len] |".into(),
        "  sport/dport/port P[-Q] | mark N[/M] | zone N | assured unreplied nat snat dnat |".into(),
        "  ipv4 ipv6 | and or not ( )".into(),
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
            lines.push(Line::styled(h, Style::default().add_modifier(Modifier::BOLD)));
        } else {
            lines.push(Line::from(h));
        }
    }
    let page = table_height(s, area.height, area.width);
    let fmt = s.fmt();
    let group = s.view.as_ref().and_then(|v| v.groups.as_ref().map(|_| ()));
    let cols: Vec<Col> = text::columns(&fmt, group.and(s.settings.group));
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
