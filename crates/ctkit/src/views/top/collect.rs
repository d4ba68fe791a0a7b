//! The two background threads of `ctkit top` (bottom's collection thread, bandwhich's
//! collect → state split):
//!
//! - the **collector** owns the [`FlowSource`], scans it every refresh period (or when
//!   asked), reads the table counters and turns each entry into a compact [`Row`]
//!   ([`scan`]); rates are computed here ([`RateMemory`]);
//! - the **worker** keeps the latest snapshot and settings and rebuilds the [`View`]
//!   (filter, sort, group) whenever either changes, and answers searches.
//!
//! The UI thread only receives finished views ([`UiEvent`]), so a dump of a million
//! entries never delays a key press.

use super::row::{NatTable, Row};
use super::view::{build_view, RateMemory, Settings, Snapshot, View};
use ctkit_model::filter::FlowFilter;
use ctkit_model::{FlowSource, SourceError};
use std::ops::ControlFlow;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A monotonic clock, injected so tests decide what time it is.
pub trait Clock: Send + Sync {
    /// Time since an arbitrary origin.
    fn now(&self) -> Duration;
}

/// The real monotonic clock.
pub struct MonoClock(Instant);

impl MonoClock {
    /// A clock starting now.
    pub fn new() -> MonoClock {
        MonoClock(Instant::now())
    }
}

impl Default for MonoClock {
    fn default() -> Self {
        MonoClock::new()
    }
}

impl Clock for MonoClock {
    fn now(&self) -> Duration {
        self.0.elapsed()
    }
}

/// Lowers the calling thread's scheduling priority (nice +10), so that on a busy machine the
/// screen thread wins the CPU over scans and sorts. Linux threads have their own nice value,
/// inherited by the threads they start (the dump's receiver thread). Done with renice(1) on
/// the thread id (`/proc/thread-self`), keeping the crate free of `unsafe`; silently skipped
/// where that is not available.
pub fn lower_priority() {
    let Ok(link) = std::fs::read_link("/proc/thread-self") else {
        return;
    };
    let Some(tid) = link
        .file_name()
        .and_then(|t| t.to_str())
        .map(str::to_string)
    else {
        return;
    };
    let _ = std::process::Command::new("renice")
        .args(["-n", "10", "-p", &tid])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
}

/// Scans `source` once into a snapshot; `filter` is the command line's list filter.
pub fn scan(
    source: &mut dyn FlowSource,
    filter: Option<&FlowFilter>,
    clock: &dyn Clock,
    seq: u64,
) -> Result<Snapshot, SourceError> {
    // The table's entry count sizes the vector once (no doubling at a million rows).
    let counters = source.counters().unwrap_or_default();
    let hint = counters.entries.unwrap_or(0).min(1 << 24) as usize;
    let mut rows: Vec<Row> = Vec::with_capacity(hint + hint / 32);
    let mut nat = NatTable::default();
    let mut accounting = false;
    let report = source.scan(&mut |flow| {
        if flow.has_orig && filter.is_none_or(|f| f.matches(flow)) {
            accounting |= flow.counters_orig.is_some() || flow.counters_reply.is_some();
            rows.push(Row::from_flow(flow, &mut nat));
        }
        ControlFlow::Continue(())
    })?;
    if rows.capacity() > rows.len() + rows.len() / 16 + 1024 {
        rows.shrink_to_fit();
    }
    nat.shrink_to_fit();
    Ok(Snapshot {
        rows,
        nat,
        counters,
        taken: clock.now(),
        seq,
        accounting,
        skipped: report.skipped,
        rated: false,
        rates: Vec::new(),
    })
}

/// What the UI thread receives.
#[derive(Debug)]
pub enum UiEvent {
    /// A scan started.
    Scanning,
    /// A new view (new scan, or new settings).
    View(Arc<View>),
    /// The source failed.
    SourceError(String),
    /// Result of a search: the display position of the first match at or after the
    /// start, for the view with this snapshot sequence.
    Found {
        /// Snapshot sequence of the view searched.
        seq: u64,
        /// The searched text.
        text: String,
        /// Display position, `None` if nothing matched.
        pos: Option<usize>,
    },
    /// A reverse lookup finished.
    Name(std::net::IpAddr, Option<String>),
}

/// Messages to the collector.
#[derive(Debug)]
pub enum CollectorMsg {
    /// Scan now.
    Refresh,
    /// New refresh period.
    Rate(Duration),
}

/// Messages to the worker.
#[derive(Debug)]
pub enum WorkerMsg {
    /// A new scan.
    Snapshot(Arc<Snapshot>),
    /// New settings.
    Settings(Settings),
    /// Find `text` from display position `from` (wrapping).
    Search {
        /// Text to find (case-insensitive, in the row as shown).
        text: String,
        /// First position to try.
        from: usize,
    },
}

/// The running threads; dropping it stops them.
pub struct Threads {
    /// To the collector.
    pub collector: Sender<CollectorMsg>,
    /// To the worker.
    pub worker: Sender<WorkerMsg>,
    handles: Vec<JoinHandle<()>>,
}

impl Threads {
    /// Stops the threads (closing their channels) and waits for them.
    pub fn stop(self) {
        let Threads {
            collector,
            worker,
            handles,
        } = self;
        drop(collector);
        drop(worker);
        for h in handles {
            let _ = h.join();
        }
    }
}

/// Opens the source on the collector thread (sources need not be `Send`).
pub type Opener = Box<dyn FnOnce() -> Result<Box<dyn FlowSource>, SourceError> + Send>;

/// Starts the collector and the worker.
pub fn start(
    open: Opener,
    filter: Option<FlowFilter>,
    settings: Settings,
    rate: Duration,
    clock: Arc<dyn Clock>,
    ui: Sender<UiEvent>,
) -> Threads {
    let (ctx, crx) = mpsc::channel::<CollectorMsg>();
    let (wtx, wrx) = mpsc::channel::<WorkerMsg>();
    let to_worker = wtx.clone();
    let ui2 = ui.clone();
    let collector = std::thread::Builder::new()
        .name("top-collector".into())
        .spawn(move || collector_loop(open, filter, rate, clock, crx, to_worker, ui2))
        .expect("spawn collector thread");
    let worker = std::thread::Builder::new()
        .name("top-worker".into())
        .spawn(move || worker_loop(settings, wrx, ui))
        .expect("spawn worker thread");
    Threads {
        collector: ctx,
        worker: wtx,
        handles: vec![collector, worker],
    }
}

fn collector_loop(
    open: Opener,
    filter: Option<FlowFilter>,
    mut rate: Duration,
    clock: Arc<dyn Clock>,
    rx: Receiver<CollectorMsg>,
    worker: Sender<WorkerMsg>,
    ui: Sender<UiEvent>,
) {
    lower_priority();
    let mut source = match open() {
        Ok(s) => s,
        Err(e) => {
            let _ = ui.send(UiEvent::SourceError(e.to_string()));
            return;
        }
    };
    let live = source.is_live();
    let mut rates = RateMemory::default();
    let mut seq = 0;
    let mut scan_now = true;
    loop {
        if scan_now {
            seq += 1;
            let _ = ui.send(UiEvent::Scanning);
            match scan(source.as_mut(), filter.as_ref(), clock.as_ref(), seq) {
                Ok(mut snap) => {
                    rates.apply(&mut snap);
                    if worker.send(WorkerMsg::Snapshot(Arc::new(snap))).is_err() {
                        return;
                    }
                }
                Err(e) => {
                    if ui.send(UiEvent::SourceError(e.to_string())).is_err() {
                        return;
                    }
                }
            }
        }
        let msg = if live {
            rx.recv_timeout(rate)
        } else {
            rx.recv().map_err(|_| RecvTimeoutError::Disconnected)
        };
        scan_now = match msg {
            Ok(CollectorMsg::Refresh) => live,
            Ok(CollectorMsg::Rate(r)) => {
                rate = r;
                false
            }
            Err(RecvTimeoutError::Timeout) => true,
            Err(RecvTimeoutError::Disconnected) => return,
        };
    }
}

fn worker_loop(mut settings: Settings, rx: Receiver<WorkerMsg>, ui: Sender<UiEvent>) {
    lower_priority();
    let mut snap: Option<Arc<Snapshot>> = None;
    let mut view: Option<Arc<View>> = None;
    while let Ok(first) = rx.recv() {
        // Coalesce: only the newest snapshot and settings matter; searches run in order.
        let mut dirty = false;
        let mut searches = Vec::new();
        for msg in std::iter::once(first).chain(rx.try_iter()) {
            match msg {
                WorkerMsg::Snapshot(s) => {
                    snap = Some(s);
                    dirty = true;
                }
                WorkerMsg::Settings(s) => {
                    if s != settings {
                        settings = s;
                        dirty = true;
                    }
                }
                WorkerMsg::Search { text, from } => searches.push((text, from)),
            }
        }
        if dirty {
            if let Some(s) = &snap {
                // Let go of the previous view before building the next (memory at 1M).
                drop(view.take());
                let v = Arc::new(build_view(s.clone(), &settings));
                view = Some(v.clone());
                if ui.send(UiEvent::View(v)).is_err() {
                    return;
                }
            }
        }
        if let Some(v) = &view {
            for (text, from) in searches {
                let pos = super::text::search(v, &text, from);
                let seq = v.snap.seq;
                if ui.send(UiEvent::Found { seq, text, pos }).is_err() {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::row::tests::tcp_flow;
    use super::super::view::SortKey;
    use super::*;
    use ctkit_model::{Flow, ScanReport, TableCounters};
    use std::sync::atomic::{AtomicU64, Ordering};

    /// A source over a fixed list (what a saved file is), counting its scans.
    struct ListSource {
        flows: Vec<Flow>,
        live: bool,
        scans: Arc<AtomicU64>,
    }

    impl FlowSource for ListSource {
        fn describe(&self) -> String {
            "list".into()
        }
        fn scan(
            &mut self,
            f: &mut dyn FnMut(&Flow) -> ControlFlow<()>,
        ) -> Result<ScanReport, SourceError> {
            self.scans.fetch_add(1, Ordering::SeqCst);
            for fl in &self.flows {
                if f(fl).is_break() {
                    break;
                }
            }
            Ok(ScanReport {
                flows: self.flows.len() as u64,
                skipped: 2,
            })
        }
        fn counters(&mut self) -> Result<TableCounters, SourceError> {
            Ok(TableCounters {
                entries: Some(self.flows.len() as u64),
                max: Some(100),
                cpu_sum: None,
            })
        }
        fn is_live(&self) -> bool {
            self.live
        }
    }

    /// A clock that only moves when told.
    struct FakeClock(AtomicU64);

    impl Clock for FakeClock {
        fn now(&self) -> Duration {
            Duration::from_secs(self.0.load(Ordering::SeqCst))
        }
    }

    fn flows() -> Vec<Flow> {
        vec![
            tcp_flow("192.0.2.3", 3000, "198.51.100.1", 80),
            tcp_flow("192.0.2.1", 1000, "198.51.100.1", 443),
            tcp_flow("192.0.2.2", 2000, "198.51.100.1", 22),
        ]
    }

    fn next_view(rx: &Receiver<UiEvent>) -> Arc<View> {
        loop {
            match rx.recv_timeout(Duration::from_secs(30)).expect("an event") {
                UiEvent::View(v) => return v,
                UiEvent::SourceError(e) => panic!("{e}"),
                _ => {}
            }
        }
    }

    fn srcs(v: &View) -> Vec<String> {
        (0..v.len())
            .map(|i| v.row(i).unwrap().src_ip().to_string())
            .collect()
    }

    #[test]
    fn scan_takes_the_command_line_filter_and_the_clock() {
        let scans = Arc::new(AtomicU64::new(0));
        let mut src = ListSource {
            flows: flows(),
            live: false,
            scans,
        };
        let args: Vec<String> = ["--proto", "tcp", "--dport", "443"]
            .map(String::from)
            .to_vec();
        let filter = crate::views::common::parse_view_args(&args, &[])
            .unwrap()
            .filter;
        let clock = FakeClock(AtomicU64::new(42));
        let s = scan(&mut src, Some(&filter), &clock, 7).unwrap();
        assert_eq!(s.rows.len(), 1);
        assert_eq!(s.rows[0].dport, 443);
        assert_eq!((s.seq, s.taken, s.skipped), (7, Duration::from_secs(42), 2));
        assert_eq!(s.counters.max, Some(100));
    }

    #[test]
    fn threads_build_views_for_new_settings_without_rescanning_a_saved_source() {
        let scans = Arc::new(AtomicU64::new(0));
        let s2 = scans.clone();
        let (tx, rx) = mpsc::channel();
        let t = start(
            Box::new(move || {
                Ok(Box::new(ListSource {
                    flows: flows(),
                    live: false,
                    scans: s2,
                }) as Box<dyn FlowSource>)
            }),
            None,
            Settings::default(),
            Duration::from_secs(3600),
            Arc::new(FakeClock(AtomicU64::new(0))),
            tx,
        );
        let v = next_view(&rx);
        assert_eq!(srcs(&v), ["192.0.2.1", "192.0.2.2", "192.0.2.3"]);
        t.worker
            .send(WorkerMsg::Settings(Settings {
                sort: SortKey::DstPort,
                reverse: true,
                ..Settings::default()
            }))
            .unwrap();
        let v = next_view(&rx);
        assert_eq!(srcs(&v), ["192.0.2.1", "192.0.2.3", "192.0.2.2"]);
        t.worker
            .send(WorkerMsg::Search {
                text: "192.0.2.2:".into(),
                from: 0,
            })
            .unwrap();
        loop {
            match rx.recv_timeout(Duration::from_secs(30)).unwrap() {
                UiEvent::Found { pos, text, .. } => {
                    assert_eq!((pos, text.as_str()), (Some(2), "192.0.2.2:"));
                    break;
                }
                UiEvent::View(_) => panic!("no new view expected"),
                _ => {}
            }
        }
        // A saved file is not live: "refresh now" does not read it again.
        t.collector.send(CollectorMsg::Refresh).unwrap();
        t.stop();
        assert_eq!(scans.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_live_source_is_scanned_again_on_refresh() {
        let scans = Arc::new(AtomicU64::new(0));
        let s2 = scans.clone();
        let (tx, rx) = mpsc::channel();
        let t = start(
            Box::new(move || {
                Ok(Box::new(ListSource {
                    flows: flows(),
                    live: true,
                    scans: s2,
                }) as Box<dyn FlowSource>)
            }),
            None,
            Settings::default(),
            Duration::from_secs(3600),
            Arc::new(FakeClock(AtomicU64::new(0))),
            tx,
        );
        assert_eq!(next_view(&rx).snap.seq, 1);
        t.collector.send(CollectorMsg::Refresh).unwrap();
        assert_eq!(next_view(&rx).snap.seq, 2);
        t.stop();
        assert_eq!(scans.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn an_unopenable_source_is_reported() {
        let (tx, rx) = mpsc::channel();
        let t = start(
            Box::new(|| Err(SourceError::Other("nope".into()))),
            None,
            Settings::default(),
            Duration::from_secs(1),
            Arc::new(MonoClock::new()),
            tx,
        );
        match rx.recv_timeout(Duration::from_secs(30)).unwrap() {
            UiEvent::SourceError(e) => assert_eq!(e, "nope"),
            other => panic!("{other:?}"),
        }
        t.stop();
    }
}
