//! The terminal loop of `ctkit top`: raw mode and the alternate screen (restored on every
//! exit path, panics included), keys from crossterm mapped to [`Key`], events from the
//! background threads applied to [`TopState`], effects carried out, and a redraw whenever
//! something changed. Keys are read with a 50 ms poll, so a key is handled within 50 ms
//! whatever the collector is doing.

use super::collect::{CollectorMsg, Threads, UiEvent, WorkerMsg};
use super::render;
use super::state::{DeleteTarget, Effect, Key, TopState};
use crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use crossterm::{execute, terminal};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;
use std::io;
use std::net::IpAddr;
use std::sync::mpsc::{Receiver, Sender};
use std::time::Duration;

/// Maps a crossterm key to ours.
pub fn map_key(k: KeyEvent) -> Option<Key> {
    if k.kind == KeyEventKind::Release {
        return None;
    }
    let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
    Some(match k.code {
        KeyCode::Char(c) if ctrl => Key::Ctrl(c.to_ascii_lowercase()),
        KeyCode::Char(c) => Key::Char(c),
        KeyCode::Up => Key::Up,
        KeyCode::Down => Key::Down,
        KeyCode::Left => Key::Left,
        KeyCode::Right => Key::Right,
        KeyCode::PageUp => Key::PageUp,
        KeyCode::PageDown => Key::PageDown,
        KeyCode::Home => Key::Home,
        KeyCode::End => Key::End,
        KeyCode::Enter => Key::Enter,
        KeyCode::Esc => Key::Esc,
        KeyCode::Backspace => Key::Backspace,
        _ => return None,
    })
}

/// Puts the terminal back (raw mode off, main screen, cursor shown).
fn restore() {
    let _ = terminal::disable_raw_mode();
    let _ = execute!(
        io::stdout(),
        terminal::LeaveAlternateScreen,
        crossterm::cursor::Show
    );
}

struct Guard;

impl Drop for Guard {
    fn drop(&mut self) {
        restore();
    }
}

/// Deletes an entry from the kernel by its original tuple and zone.
pub fn delete(conn: &mut Option<ctkit_ctnetlink::Conn>, t: &DeleteTarget) -> Result<(), String> {
    if conn.is_none() {
        *conn = Some(ctkit_ctnetlink::Conn::open().map_err(|e| e.to_string())?);
    }
    let c = conn.as_mut().expect("opened");
    let flow = ctkit_model::Flow {
        orig: t.tuple,
        has_orig: true,
        zone: t.zone,
        ..ctkit_model::Flow::default()
    };
    let family = t.tuple.family().af();
    c.mutate(
        ctkit_ctnetlink::Mutation::Delete,
        family,
        &flow,
        &ctkit_ctnetlink::EmitExtras::default(),
    )
    .map_err(|e| e.to_string())
}

/// Runs the screen until `q`.
pub fn run(
    mut state: TopState,
    threads: Threads,
    events: Receiver<UiEvent>,
    names: Option<Sender<IpAddr>>,
) -> io::Result<()> {
    terminal::enable_raw_mode()?;
    let _guard = Guard;
    execute!(io::stdout(), terminal::EnterAlternateScreen)?;
    let prev_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        prev_hook(info);
    }));
    // SIGTERM/SIGHUP/SIGINT end the screen like `q` (the terminal is restored on the way out).
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    for sig in [
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
        signal_hook::consts::SIGINT,
    ] {
        let _ = signal_hook::flag::register(sig, stop.clone());
    }
    let mut term = Terminal::new(CrosstermBackend::new(io::stdout()))?;
    term.clear()?;
    let mut conn: Option<ctkit_ctnetlink::Conn> = None;
    let mut dirty = true;
    loop {
        if stop.load(std::sync::atomic::Ordering::Relaxed) {
            return Ok(());
        }
        for ev in events.try_iter() {
            state.on_event(ev);
            dirty = true;
        }
        if dirty {
            let size = term.size()?;
            state.set_page(render::table_height(&state, size.height, size.width));
            if let Some(tx) = &names {
                for ip in state.wanted_names() {
                    let _ = tx.send(ip);
                }
            }
            term.draw(|f| render::draw(&state, f))?;
            dirty = false;
        }
        if !event::poll(Duration::from_millis(50))? {
            continue;
        }
        let key = match event::read()? {
            Event::Key(k) => map_key(k),
            Event::Resize(..) => {
                dirty = true;
                None
            }
            _ => None,
        };
        let Some(key) = key else { continue };
        dirty = true;
        for fx in state.on_key(key) {
            match fx {
                Effect::Quit => {
                    // The collector may be in the middle of a dump: do not wait for it.
                    drop(term);
                    drop(threads);
                    return Ok(());
                }
                Effect::Settings(s) => {
                    let _ = threads.worker.send(WorkerMsg::Settings(s));
                }
                Effect::Refresh => {
                    let _ = threads.collector.send(CollectorMsg::Refresh);
                }
                Effect::Rate(d) => {
                    let _ = threads.collector.send(CollectorMsg::Rate(d));
                }
                Effect::Search { text, from } => {
                    let _ = threads.worker.send(WorkerMsg::Search { text, from });
                }
                Effect::Redraw => term.clear()?,
                Effect::Delete(t) => {
                    let r = delete(&mut conn, &t);
                    let ok = r.is_ok();
                    state.deleted(&t, r);
                    if ok {
                        let _ = threads.collector.send(CollectorMsg::Refresh);
                    }
                }
            }
        }
    }
}
