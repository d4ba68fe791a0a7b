//! The state of the `ctkit top` screen and what keys do to it: iptstate's keys (every
//! option letter toggles or prompts, `b`/`B` sort, `r` reverse, `x` delete with a y/n
//! question, `h` help, space refresh, Ctrl-L redraw, `q` quit, arrows/`j`/`k`/PgUp/PgDn/
//! Home/End) and ctkit's (`n` NAT columns, `z` zone/mark/flags, `a` aggregation, `e`
//! filter expression, `/` search).
//!
//! No terminal types here: keys arrive as [`Key`], side effects leave as [`Effect`] for
//! the terminal loop to carry out, and rendering reads this state only.

use super::collect::UiEvent;
use super::filter::{Cidr, Expr};
use super::text::{self, Names};
use super::view::{AggKey, Settings, View};
use ctkit_model::{TableCounters, Tuple};
use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

/// A key press, independent of the terminal library.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key {
    /// A printable character.
    Char(char),
    /// Ctrl + a letter (lower case).
    Ctrl(char),
    /// Arrow up.
    Up,
    /// Arrow down.
    Down,
    /// Arrow left.
    Left,
    /// Arrow right.
    Right,
    /// Page up.
    PageUp,
    /// Page down.
    PageDown,
    /// Home.
    Home,
    /// End.
    End,
    /// Enter.
    Enter,
    /// Escape.
    Esc,
    /// Backspace.
    Backspace,
}

/// What a prompt asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PromptKind {
    /// `s`.
    Src,
    /// `d`.
    Dst,
    /// `S`.
    Sport,
    /// `D`.
    Dport,
    /// `R`.
    Rate,
    /// `e`.
    Expr,
    /// `/`.
    Search,
}

impl PromptKind {
    /// The question shown.
    pub fn question(self) -> &'static str {
        match self {
            PromptKind::Src => "Source IP filter [IP[/mask]] (blank clears, ^G cancels): ",
            PromptKind::Dst => "Destination IP filter [IP[/mask]] (blank clears, ^G cancels): ",
            PromptKind::Sport => "Source port filter (blank clears, ^G cancels): ",
            PromptKind::Dport => "Destination port filter (blank clears, ^G cancels): ",
            PromptKind::Rate => "Refresh rate in seconds (blank cancels): ",
            PromptKind::Expr => "Filter expression (blank clears, ^G cancels): ",
            PromptKind::Search => "/",
        }
    }
}

/// The entry `x` would delete.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeleteTarget {
    /// The original tuple (with its direction zone).
    pub tuple: Tuple,
    /// `CTA_ZONE`.
    pub zone: Option<u16>,
    /// `a:p -> b:q` for the question and the result message.
    pub label: String,
}

/// Which screen is up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The table.
    Table,
    /// The help screen.
    Help,
    /// A question on the bottom line.
    Prompt {
        /// What is asked.
        kind: PromptKind,
        /// What was typed.
        buf: String,
    },
    /// "Deleting state: … -- Are you sure? (y/n)".
    Confirm(DeleteTarget),
}

/// What the terminal loop must do after a key.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// Send new settings to the worker.
    Settings(Settings),
    /// Scan now.
    Refresh,
    /// New refresh period.
    Rate(Duration),
    /// Delete this entry from the kernel.
    Delete(DeleteTarget),
    /// Search from a display position.
    Search {
        /// Text.
        text: String,
        /// First position.
        from: usize,
    },
    /// Clear and redraw the whole screen.
    Redraw,
    /// Leave.
    Quit,
}

/// Display toggles (iptstate's option letters plus ctkit's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Toggles {
    /// `c`: colour by protocol.
    pub color: bool,
    /// `C`: counters.
    pub counters: bool,
    /// `t`: totals line.
    pub totals: bool,
    /// `l`: names.
    pub lookup: bool,
    /// `m`: '+' on cut values.
    pub mark_truncated: bool,
    /// `o` off: dynamic widths.
    pub dynamic: bool,
    /// `p` off: scrolling.
    pub scroll: bool,
    /// `n`: NAT columns.
    pub nat: bool,
    /// `z`: zone, mark, flags.
    pub ext: bool,
}

impl Default for Toggles {
    fn default() -> Self {
        Toggles {
            color: true,
            counters: false,
            totals: false,
            lookup: false,
            mark_truncated: false,
            dynamic: true,
            scroll: true,
            nat: false,
            ext: false,
        }
    }
}

/// The counters the header shows as deltas since the previous scan.
pub const DELTA_COUNTERS: [&str; 3] = ["drop", "early_drop", "insert_failed"];

/// The whole screen state.
#[derive(Clone, Debug)]
pub struct TopState {
    /// Desired filter/sort/group settings (the worker builds views from them).
    pub settings: Settings,
    /// The latest view.
    pub view: Option<Arc<View>>,
    /// Highlighted display line.
    pub selected: usize,
    /// First display line on screen.
    pub offset: usize,
    /// Table lines that fit on the screen (set by the terminal loop).
    pub page: usize,
    /// Toggles.
    pub toggles: Toggles,
    /// Refresh period.
    pub rate: Duration,
    /// Current screen.
    pub mode: Mode,
    /// A message on the bottom line (result of the last action, warning).
    pub message: Option<String>,
    /// A scan is running.
    pub scanning: bool,
    /// The source, as the header names it.
    pub source: String,
    /// Whether `x` can delete (the kernel source).
    pub can_delete: bool,
    /// Names resolved so far.
    pub names: Names,
    /// Addresses already asked for.
    pub requested: HashSet<IpAddr>,
    /// Counters of the previous scan.
    pub prev_counters: Option<TableCounters>,
    /// Deltas of [`DELTA_COUNTERS`] between the last two scans.
    pub deltas: [Option<u64>; 3],
    /// Sequence of the snapshot the deltas were computed for.
    pub counted_seq: u64,
    /// The last search, for `/` + Enter.
    pub last_search: String,
    /// Selection before a search started (restored on cancel).
    pub search_origin: usize,
    /// The source failed.
    pub error: Option<String>,
}

impl TopState {
    /// A state with `settings` and `toggles`, before the first scan.
    pub fn new(settings: Settings, toggles: Toggles, rate: Duration, source: String) -> TopState {
        TopState {
            settings,
            view: None,
            selected: 0,
            offset: 0,
            page: 10,
            toggles,
            rate,
            mode: Mode::Table,
            message: None,
            scanning: false,
            // /proc shows the same kernel table, so its entries can be deleted too.
            can_delete: source == "kernel" || source == "/proc/net/nf_conntrack",
            source,
            names: Names::default(),
            requested: HashSet::new(),
            prev_counters: None,
            deltas: [None; 3],
            counted_seq: 0,
            last_search: String::new(),
            search_origin: 0,
            error: None,
        }
    }

    /// Lines in the table.
    pub fn len(&self) -> usize {
        self.view.as_ref().map_or(0, |v| v.len())
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The display formatting of the current toggles.
    pub fn fmt(&self) -> text::Fmt {
        let rated = self.view.as_ref().is_some_and(|v| v.snap.rated);
        text::Fmt {
            counters: self.toggles.counters,
            rates: self.toggles.counters && rated,
            nat: self.toggles.nat,
            ext: self.toggles.ext,
            lookup: self.toggles.lookup,
            mark_truncated: self.toggles.mark_truncated,
            dynamic: self.toggles.dynamic,
        }
    }

    /// Sets the table height and keeps the highlight on screen.
    pub fn set_page(&mut self, page: usize) {
        self.page = page.max(1);
        self.clamp();
    }

    fn clamp(&mut self) {
        let n = self.len();
        let limit = if self.toggles.scroll {
            n
        } else {
            n.min(self.page)
        };
        if limit == 0 {
            self.selected = 0;
            self.offset = 0;
            return;
        }
        self.selected = self.selected.min(limit - 1);
        if self.selected < self.offset {
            self.offset = self.selected;
        }
        if self.selected >= self.offset + self.page {
            self.offset = self.selected + 1 - self.page;
        }
        let max_offset = limit.saturating_sub(self.page);
        self.offset = self.offset.min(max_offset);
    }

    fn move_by(&mut self, delta: isize) {
        let s = self.selected as isize + delta;
        self.selected = s.max(0) as usize;
        self.clamp();
    }

    /// Applies an event from the background threads.
    pub fn on_event(&mut self, ev: UiEvent) {
        match ev {
            UiEvent::Scanning => self.scanning = true,
            UiEvent::View(v) => {
                self.scanning = false;
                self.error = None;
                if v.snap.seq != self.counted_seq {
                    self.counted_seq = v.snap.seq;
                    let cur = v.snap.counters;
                    if let Some(prev) = self.prev_counters {
                        for (d, name) in self.deltas.iter_mut().zip(DELTA_COUNTERS) {
                            *d = match (cur.counter(name), prev.counter(name)) {
                                (Some(a), Some(b)) => Some(a.saturating_sub(b)),
                                _ => None,
                            };
                        }
                    }
                    self.prev_counters = Some(cur);
                }
                self.view = Some(v);
                self.clamp();
            }
            UiEvent::SourceError(e) => {
                self.scanning = false;
                self.error = Some(e);
            }
            UiEvent::Found { seq, text, pos } => {
                let current = self.view.as_ref().is_some_and(|v| v.snap.seq == seq);
                let searching = match &self.mode {
                    Mode::Prompt {
                        kind: PromptKind::Search,
                        buf,
                    } => *buf == text,
                    _ => self.last_search == text,
                };
                if current && searching {
                    match pos {
                        Some(p) => {
                            // The message line is left alone: a later key may have set it.
                            self.selected = p;
                            self.clamp();
                        }
                        None => self.message = Some(format!("Not found: {text}")),
                    }
                }
            }
            UiEvent::Name(ip, name) => {
                self.names.hosts.insert(ip, name);
            }
        }
    }

    /// Addresses on screen whose names are not known or asked for yet (with `l` on).
    pub fn wanted_names(&mut self) -> Vec<IpAddr> {
        let mut out = Vec::new();
        let Some(v) = &self.view else {
            return out;
        };
        if !self.toggles.lookup {
            return out;
        }
        let end = (self.offset + self.page).min(v.len());
        for i in self.offset..end {
            let r = match &v.groups {
                Some(g) => &v.snap.rows[g[i].sample as usize],
                None => v.row(i).expect("in range"),
            };
            for ip in [r.src_ip(), r.dst_ip()] {
                if self.requested.insert(ip) {
                    out.push(ip);
                }
            }
        }
        out
    }

    fn settings_changed(&mut self) -> Vec<Effect> {
        vec![Effect::Settings(self.settings.clone())]
    }

    fn prompt(&mut self, kind: PromptKind) -> Vec<Effect> {
        if kind == PromptKind::Search {
            self.search_origin = self.selected;
            self.message = None;
        }
        self.mode = Mode::Prompt {
            kind,
            buf: String::new(),
        };
        vec![]
    }

    /// The entry under the highlight, for `x`.
    pub fn delete_target(&self) -> Option<DeleteTarget> {
        let v = self.view.as_ref()?;
        if v.groups.is_some() {
            return None;
        }
        let r = v.row(self.selected)?;
        let names = Names::default();
        let fmt = text::Fmt::default();
        let cells = text::line_cells(
            v,
            self.selected,
            &[text::Col::Src, text::Col::Dst],
            &names,
            &fmt,
        );
        Some(DeleteTarget {
            tuple: r.orig_tuple(),
            zone: (r.flags & super::row::F_ZONE != 0).then_some(r.zone),
            label: format!("{} -> {}", cells[0], cells[1]),
        })
    }

    /// Handles one key.
    pub fn on_key(&mut self, key: Key) -> Vec<Effect> {
        match self.mode.clone() {
            Mode::Help => {
                if matches!(
                    key,
                    Key::Char('q') | Key::Char('h') | Key::Esc | Key::Enter | Key::Char(' ')
                ) {
                    self.mode = Mode::Table;
                }
                vec![]
            }
            Mode::Confirm(t) => {
                self.mode = Mode::Table;
                if key == Key::Char('y') || key == Key::Char('Y') {
                    vec![Effect::Delete(t)]
                } else {
                    self.message = Some("Not deleting".into());
                    vec![]
                }
            }
            Mode::Prompt { kind, buf } => self.on_prompt_key(kind, buf, key),
            Mode::Table => self.on_table_key(key),
        }
    }

    fn on_prompt_key(&mut self, kind: PromptKind, mut buf: String, key: Key) -> Vec<Effect> {
        match key {
            Key::Esc | Key::Ctrl('g') => {
                self.mode = Mode::Table;
                if kind == PromptKind::Search {
                    self.selected = self.search_origin;
                    self.clamp();
                }
                vec![]
            }
            Key::Backspace => {
                buf.pop();
                self.mode = Mode::Prompt {
                    kind,
                    buf: buf.clone(),
                };
                self.incremental(kind, buf)
            }
            Key::Char(c) => {
                buf.push(c);
                self.mode = Mode::Prompt {
                    kind,
                    buf: buf.clone(),
                };
                self.incremental(kind, buf)
            }
            Key::Enter => {
                self.mode = Mode::Table;
                self.apply_prompt(kind, buf.trim())
            }
            _ => vec![],
        }
    }

    fn incremental(&mut self, kind: PromptKind, buf: String) -> Vec<Effect> {
        if kind != PromptKind::Search || buf.is_empty() {
            return vec![];
        }
        vec![Effect::Search {
            text: buf,
            from: self.search_origin,
        }]
    }

    fn apply_prompt(&mut self, kind: PromptKind, s: &str) -> Vec<Effect> {
        let f = &mut self.settings.filters;
        let port = |s: &str| s.parse::<u16>().map_err(|_| format!("Invalid port: {s}"));
        let r: Result<(), String> = match kind {
            PromptKind::Src | PromptKind::Dst => {
                let v = if s.is_empty() {
                    Ok(None)
                } else {
                    Cidr::parse(s)
                        .map(Some)
                        .map_err(|e| format!("Invalid IP: {e}"))
                };
                v.map(|v| {
                    if kind == PromptKind::Src {
                        f.src = v
                    } else {
                        f.dst = v
                    }
                })
            }
            PromptKind::Sport | PromptKind::Dport => {
                let v = if s.is_empty() {
                    Ok(None)
                } else {
                    port(s).map(Some)
                };
                v.map(|v| {
                    if kind == PromptKind::Sport {
                        f.sport = v
                    } else {
                        f.dport = v
                    }
                })
            }
            PromptKind::Expr => {
                let v = if s.is_empty() {
                    Ok(None)
                } else {
                    Expr::parse(s).map(Some)
                };
                v.map(|v| self.settings.expr = v)
                    .map_err(|e| format!("Invalid expression: {e}"))
            }
            PromptKind::Rate => {
                if s.is_empty() {
                    return vec![];
                }
                return match parse_rate(s) {
                    Some(d) => {
                        self.rate = d;
                        vec![Effect::Rate(d)]
                    }
                    None => {
                        self.message = Some(format!("Invalid rate: {s}"));
                        vec![]
                    }
                };
            }
            PromptKind::Search => {
                let text = if s.is_empty() {
                    self.last_search.clone()
                } else {
                    s.to_string()
                };
                if text.is_empty() {
                    return vec![];
                }
                let from = if s.is_empty() {
                    self.selected + 1
                } else {
                    self.search_origin
                };
                self.last_search = text.clone();
                self.message = None;
                return vec![Effect::Search { text, from }];
            }
        };
        match r {
            Ok(()) => {
                self.message = None;
                self.settings_changed()
            }
            Err(e) => {
                self.message = Some(e);
                vec![]
            }
        }
    }

    fn on_table_key(&mut self, key: Key) -> Vec<Effect> {
        let page = self.page as isize;
        match key {
            Key::Char('q') | Key::Ctrl('c') => return vec![Effect::Quit],
            Key::Up | Key::Char('k') => self.move_by(-1),
            Key::Down | Key::Char('j') => self.move_by(1),
            Key::PageUp | Key::Ctrl('u') => self.move_by(-page),
            Key::PageDown | Key::Ctrl('d') => self.move_by(page),
            Key::Home => {
                self.selected = 0;
                self.clamp();
            }
            Key::End => {
                self.selected = usize::MAX;
                self.clamp();
            }
            Key::Ctrl('l') => return vec![Effect::Redraw],
            Key::Char(' ') => return vec![Effect::Refresh],
            Key::Char('h') => self.mode = Mode::Help,
            Key::Char('b') | Key::Char('B') => {
                let fwd = key == Key::Char('b');
                self.settings.sort = self.settings.sort.cycle(fwd, self.toggles.counters);
                return self.settings_changed();
            }
            Key::Char('r') => {
                self.settings.reverse = !self.settings.reverse;
                return self.settings_changed();
            }
            Key::Char('c') => self.toggles.color = !self.toggles.color,
            Key::Char('C') => {
                self.toggles.counters = !self.toggles.counters;
                if !self.toggles.counters && self.settings.sort.needs_counters() {
                    self.settings.sort = super::view::SortKey::SrcIp;
                    return self.settings_changed();
                }
            }
            Key::Char('t') => self.toggles.totals = !self.toggles.totals,
            Key::Char('l') => {
                self.toggles.lookup = !self.toggles.lookup;
                if self.toggles.lookup && !self.settings.filters.no_dns {
                    // As iptstate: lookups would add DNS states of their own.
                    self.settings.filters.no_dns = true;
                    return self.settings_changed();
                }
            }
            Key::Char('L') => {
                self.settings.filters.no_dns = !self.settings.filters.no_dns;
                return self.settings_changed();
            }
            Key::Char('f') => {
                self.settings.filters.no_loopback = !self.settings.filters.no_loopback;
                return self.settings_changed();
            }
            Key::Char('i') => {
                self.settings.filters.invert = !self.settings.filters.invert;
                return self.settings_changed();
            }
            Key::Char('m') => self.toggles.mark_truncated = !self.toggles.mark_truncated,
            Key::Char('o') => self.toggles.dynamic = !self.toggles.dynamic,
            Key::Char('p') => {
                self.toggles.scroll = !self.toggles.scroll;
                self.clamp();
            }
            Key::Char('n') => self.toggles.nat = !self.toggles.nat,
            Key::Char('z') => self.toggles.ext = !self.toggles.ext,
            Key::Char('a') => {
                self.settings.group = AggKey::cycle(self.settings.group);
                self.selected = 0;
                self.offset = 0;
                return self.settings_changed();
            }
            Key::Char('s') => return self.prompt(PromptKind::Src),
            Key::Char('d') => return self.prompt(PromptKind::Dst),
            Key::Char('S') => return self.prompt(PromptKind::Sport),
            Key::Char('D') => return self.prompt(PromptKind::Dport),
            Key::Char('R') => return self.prompt(PromptKind::Rate),
            Key::Char('e') => return self.prompt(PromptKind::Expr),
            Key::Char('/') => return self.prompt(PromptKind::Search),
            Key::Char('x') => {
                if !self.can_delete {
                    self.message = Some(format!("x: cannot delete from {}", self.source));
                } else if self.settings.group.is_some() {
                    self.message =
                        Some("x: not in the aggregation view (a: back to the table)".into());
                } else {
                    match self.delete_target() {
                        Some(t) => self.mode = Mode::Confirm(t),
                        None => self.message = Some("x: no entry highlighted".into()),
                    }
                }
            }
            _ => {}
        }
        vec![]
    }

    /// Records the result of a delete.
    pub fn deleted(&mut self, t: &DeleteTarget, result: Result<(), String>) {
        self.message = Some(match result {
            Ok(()) => format!("Deleted state: {}", t.label),
            Err(e) => format!("Could not delete {}: {e}", t.label),
        });
    }
}

/// A refresh period in seconds (iptstate's `-R`: above 60 or below 0 means 1; ctkit also
/// takes fractions down to 0.1).
pub fn parse_rate(s: &str) -> Option<Duration> {
    let v: f64 = s.trim().parse().ok()?;
    if !v.is_finite() {
        return None;
    }
    if !(0.1..=60.0).contains(&v) {
        return Some(Duration::from_secs(1));
    }
    Some(Duration::from_secs_f64(v))
}

#[cfg(test)]
mod tests {
    use super::super::row::{Row, F_V6};
    use super::super::view::{build_view, tests::snap_of, Snapshot, SortKey};
    use super::*;
    use crate::views::top::row::tests::tcp_flow;

    fn state_with(rows: usize) -> TopState {
        let snap = Snapshot {
            seq: 1,
            rows: vec![Row::default(); rows],
            ..Snapshot::default()
        };
        let view = View {
            order: (0..rows as u32).collect(),
            totals: Default::default(),
            snap: Arc::new(snap),
            groups: None,
            settings: Some(Settings::default()),
        };
        let mut s = TopState::new(
            Settings::default(),
            Toggles::default(),
            Duration::from_secs(1),
            "kernel".into(),
        );
        s.on_event(UiEvent::View(Arc::new(view)));
        s.set_page(30);
        s
    }

    #[test]
    fn scrolling_reaches_every_row_of_a_million() {
        let mut s = state_with(1_000_000);
        s.on_key(Key::End);
        assert_eq!((s.selected, s.offset), (999_999, 999_970));
        s.on_key(Key::Down);
        assert_eq!(s.selected, 999_999);
        s.on_key(Key::PageUp);
        assert_eq!((s.selected, s.offset), (999_969, 999_969));
        s.on_key(Key::Home);
        assert_eq!((s.selected, s.offset), (0, 0));
        s.on_key(Key::Up);
        assert_eq!(s.selected, 0);
        s.on_key(Key::Ctrl('d'));
        s.on_key(Key::Char('j'));
        assert_eq!((s.selected, s.offset), (31, 2));
        s.on_key(Key::Char('k'));
        assert_eq!(s.selected, 30);
        for _ in 0..40_000 {
            s.on_key(Key::PageDown);
        }
        assert_eq!((s.selected, s.offset), (999_999, 999_970));
    }

    #[test]
    fn a_shorter_view_pulls_the_highlight_back() {
        let mut s = state_with(100);
        s.on_key(Key::End);
        let short = state_with(10).view.unwrap();
        s.on_event(UiEvent::View(short));
        assert_eq!((s.selected, s.offset), (9, 0));
        s.on_event(UiEvent::View(state_with(0).view.unwrap()));
        assert_eq!((s.selected, s.offset), (0, 0));
    }

    #[test]
    fn no_scroll_keeps_the_highlight_on_the_first_page() {
        let mut s = state_with(100);
        s.on_key(Key::Char('p'));
        s.on_key(Key::End);
        assert_eq!((s.selected, s.offset), (29, 0));
    }

    #[test]
    fn sort_keys_send_new_settings() {
        let mut s = state_with(3);
        assert_eq!(
            s.on_key(Key::Char('b')),
            vec![Effect::Settings(Settings {
                sort: SortKey::SrcPort,
                ..Settings::default()
            })]
        );
        s.on_key(Key::Char('B'));
        s.on_key(Key::Char('B'));
        assert_eq!(s.settings.sort, SortKey::Ttl);
        s.on_key(Key::Char('C'));
        s.on_key(Key::Char('b'));
        assert_eq!(s.settings.sort, SortKey::Bytes);
        // Counters off while sorting by bytes goes back to SrcIP.
        s.on_key(Key::Char('C'));
        assert_eq!(s.settings.sort, SortKey::SrcIp);
        s.on_key(Key::Char('r'));
        assert!(s.settings.reverse);
    }

    #[test]
    fn filter_prompts_set_clear_and_warn() {
        let mut s = state_with(3);
        s.on_key(Key::Char('s'));
        for c in "192.0.2.0/24".chars() {
            s.on_key(Key::Char(c));
        }
        let fx = s.on_key(Key::Enter);
        assert_eq!(
            s.settings.filters.src,
            Some(Cidr::parse("192.0.2.0/24").unwrap())
        );
        assert_eq!(fx.len(), 1);
        s.on_key(Key::Char('s'));
        s.on_key(Key::Enter);
        assert_eq!(s.settings.filters.src, None);
        s.on_key(Key::Char('D'));
        s.on_key(Key::Char('x'));
        assert_eq!(s.on_key(Key::Enter), vec![]);
        assert_eq!(s.message.as_deref(), Some("Invalid port: x"));
        s.on_key(Key::Char('D'));
        s.on_key(Key::Char('5'));
        s.on_key(Key::Ctrl('g'));
        assert_eq!(s.settings.filters.dport, None);
        assert_eq!(s.mode, Mode::Table);
        s.on_key(Key::Char('i'));
        assert!(s.settings.filters.invert);
        s.on_key(Key::Char('e'));
        for c in "udp and".chars() {
            s.on_key(Key::Char(c));
        }
        s.on_key(Key::Enter);
        assert_eq!(
            s.message.as_deref(),
            Some("Invalid expression: the expression ends too early")
        );
    }

    #[test]
    fn q_and_ctrl_c_quit_but_not_inside_a_prompt() {
        let mut s = state_with(1);
        assert_eq!(s.on_key(Key::Char('q')), vec![Effect::Quit]);
        assert_eq!(s.on_key(Key::Ctrl('c')), vec![Effect::Quit]);
        s.on_key(Key::Char('s'));
        assert_eq!(s.on_key(Key::Char('q')), vec![]);
        assert_eq!(
            s.mode,
            Mode::Prompt {
                kind: PromptKind::Src,
                buf: "q".into()
            }
        );
        s.on_key(Key::Esc);
        s.on_key(Key::Char('h'));
        assert_eq!(s.on_key(Key::Char('q')), vec![]);
        assert_eq!(s.mode, Mode::Table);
        assert_eq!(s.on_key(Key::Char(' ')), vec![Effect::Refresh]);
        assert_eq!(s.on_key(Key::Ctrl('l')), vec![Effect::Redraw]);
    }

    #[test]
    fn lookup_turns_on_dns_hiding_like_iptstate() {
        let mut s = state_with(3);
        s.on_key(Key::Char('l'));
        assert!(s.toggles.lookup && s.settings.filters.no_dns);
    }

    #[test]
    fn rate_prompt_and_limits() {
        let mut s = state_with(1);
        s.on_key(Key::Char('R'));
        s.on_key(Key::Char('5'));
        assert_eq!(
            s.on_key(Key::Enter),
            vec![Effect::Rate(Duration::from_secs(5))]
        );
        assert_eq!(parse_rate("90"), Some(Duration::from_secs(1)));
        assert_eq!(parse_rate("-3"), Some(Duration::from_secs(1)));
        assert_eq!(parse_rate("0.5"), Some(Duration::from_millis(500)));
        assert_eq!(parse_rate("x"), None);
    }

    #[test]
    fn x_asks_then_y_deletes_by_tuple_and_zone() {
        let mut f = tcp_flow("192.0.2.1", 1000, "198.51.100.2", 80);
        f.zone = Some(7);
        let v = build_view(snap_of(&[f]), &Settings::default());
        let mut s = TopState::new(
            Settings::default(),
            Toggles::default(),
            Duration::from_secs(1),
            "kernel".into(),
        );
        s.on_event(UiEvent::View(Arc::new(v)));
        assert_eq!(s.on_key(Key::Char('x')), vec![]);
        let t = match &s.mode {
            Mode::Confirm(t) => t.clone(),
            m => panic!("{m:?}"),
        };
        assert_eq!(t.label, "192.0.2.1:1000 -> 198.51.100.2:80");
        assert_eq!(t.zone, Some(7));
        assert_eq!(t.tuple, f.orig);
        assert_eq!(s.on_key(Key::Char('y')), vec![Effect::Delete(t)]);
        s.on_key(Key::Char('x'));
        assert_eq!(s.on_key(Key::Char('n')), vec![]);
        assert_eq!(s.message.as_deref(), Some("Not deleting"));
        s.can_delete = false;
        s.source = "file dump.txt".into();
        s.on_key(Key::Char('x'));
        assert_eq!(s.mode, Mode::Table);
        assert_eq!(
            s.message.as_deref(),
            Some("x: cannot delete from file dump.txt")
        );
    }

    #[test]
    fn search_moves_to_the_match_of_the_current_view() {
        let flows: Vec<_> = (0..5)
            .map(|i| tcp_flow(&format!("192.0.2.{i}"), 1000, "198.51.100.2", 80))
            .collect();
        let v = Arc::new(build_view(snap_of(&flows), &Settings::default()));
        let mut s = TopState::new(
            Settings::default(),
            Toggles::default(),
            Duration::from_secs(1),
            "kernel".into(),
        );
        s.on_event(UiEvent::View(v.clone()));
        s.on_key(Key::Char('/'));
        let fx = s.on_key(Key::Char('3'));
        assert_eq!(
            fx,
            vec![Effect::Search {
                text: "3".into(),
                from: 0
            }]
        );
        let pos = text::search(&v, "192.0.2.3", 0);
        assert_eq!(pos, Some(3));
        s.on_event(UiEvent::Found {
            seq: v.snap.seq,
            text: "3".into(),
            pos,
        });
        assert_eq!(s.selected, 3);
        s.on_key(Key::Esc);
        assert_eq!(s.selected, 0);
        assert_eq!(text::search(&v, "nomatch", 0), None);
        assert!(Row::default().flags & F_V6 == 0);
    }

    #[test]
    fn counter_deltas_between_scans() {
        let mut s = state_with(1);
        let mk = |seq: u64, drop: u32| {
            let mut snap = Snapshot {
                seq,
                ..Snapshot::default()
            };
            let mut cpu = ctkit_model::stats::CpuStats::default();
            cpu.set(10, drop);
            cpu.set(11, 1);
            snap.counters.add_cpu(&cpu);
            Arc::new(View {
                snap: Arc::new(snap),
                ..View::default()
            })
        };
        s.on_event(UiEvent::View(mk(2, 5)));
        assert_eq!(s.deltas, [None; 3]);
        s.on_event(UiEvent::View(mk(3, 9)));
        assert_eq!(s.deltas, [Some(4), Some(0), None]);
    }
}
