//! Reverse DNS for `-l`, off the UI thread: a small pool of resolver threads takes
//! addresses from a queue and reports each answer once (iptstate calls `gethostbyaddr` per
//! entry per refresh on its only thread; here every address is looked up once and cached by
//! the screen state, and the screen never waits).

use super::collect::UiEvent;
use std::net::IpAddr;
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex};

/// Resolver threads.
const RESOLVERS: usize = 4;

/// Looks up `ip` (getnameinfo through the system resolver); `None` without a name.
pub fn lookup(ip: IpAddr) -> Option<String> {
    dns_lookup::lookup_addr(&ip)
        .ok()
        .filter(|n| n.parse::<IpAddr>().is_err())
}

/// Starts the resolver threads; send addresses to the returned sender. Answers arrive as
/// [`UiEvent::Name`] on `ui`. The threads end when the sender is dropped.
pub fn start(ui: Sender<UiEvent>) -> Sender<IpAddr> {
    let (tx, rx) = mpsc::channel::<IpAddr>();
    let rx = Arc::new(Mutex::new(rx));
    for i in 0..RESOLVERS {
        let rx = rx.clone();
        let ui = ui.clone();
        let _ = std::thread::Builder::new()
            .name(format!("top-dns-{i}"))
            .spawn(move || loop {
                let ip = match rx.lock() {
                    Ok(r) => match r.recv() {
                        Ok(ip) => ip,
                        Err(_) => return,
                    },
                    Err(_) => return,
                };
                if ui.send(UiEvent::Name(ip, lookup(ip))).is_err() {
                    return;
                }
            });
    }
    tx
}
