//! `ctkit top` end to end: the real binary in tmux (120×40) inside the lab router's
//! network namespace, with real flows (TCP held open, UDP in conntrack zone 7, ping),
//! driven by keys as a user types them: sort (`b`), reverse (`r`), a port filter (`D`),
//! delete with `x` then `y`, quit (`q`). The screen is read with `tmux capture-pane -p`,
//! polled with a bounded timeout; the deletion is checked in the kernel with the oracle
//! `conntrack -L` in that namespace.

mod support;

const SAVED: &str = "\
tcp      6 431999 ESTABLISHED src=192.0.2.1 dst=198.51.100.2 sport=1234 dport=80 src=198.51.100.2 dst=192.0.2.1 sport=80 dport=1234 [ASSURED] mark=0 use=1
udp      17 29 src=192.0.2.5 dst=198.51.100.9 sport=53000 dport=53 [UNREPLIED] src=198.51.100.9 dst=192.0.2.5 sport=53 dport=53000 mark=0 use=1
tcp      6 118 SYN_SENT src=192.0.2.8 dst=203.0.113.10 sport=4000 dport=80 [UNREPLIED] src=198.51.100.2 dst=192.0.2.8 sport=8080 dport=4000 mark=42 zone=7 use=1
icmp     1 29 src=192.0.2.7 dst=203.0.113.5 type=8 code=0 id=99 [UNREPLIED] src=203.0.113.5 dst=192.0.2.7 type=0 code=0 id=99 mark=0 use=1
";

use std::process::{Command, Output};
use std::time::{Duration, Instant};
use support::lab::{CLIENT4, SERVER4, ZONE, ZONE_PORT};
use support::{ctkit_bin, kernel::require_tools, traffic, Lab, LabOptions};

/// A tmux server of our own (`-L`), killed on drop.
struct Tmux {
    socket: String,
    session: String,
}

impl Tmux {
    /// Runs `cmd` (a shell command line) in a new 120×40 session; `tag` names the server.
    fn start(tag: &str, cmd: &str) -> Tmux {
        let t = Tmux {
            socket: format!("ctkit-top-{}-{tag}", std::process::id()),
            session: "top".into(),
        };
        let shell = format!("{cmd}; echo EXITED $?; sleep 30");
        let out = t.run(&[
            "new-session",
            "-d",
            "-s",
            &t.session,
            "-x",
            "120",
            "-y",
            "40",
            &shell,
        ]);
        assert!(
            out.status.success(),
            "tmux: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        t
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .env("TERM", "xterm-256color")
            .output()
            .expect("run tmux")
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(
            &self
                .run(&["capture-pane", "-p", "-t", &self.session])
                .stdout,
        )
        .into_owned()
    }

    /// Sends keys (tmux key names, e.g. `Enter`, or literal text with `-l`).
    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", self.session.as_str()];
        args.extend_from_slice(keys);
        assert!(self.run(&args).status.success());
    }

    fn text(&self, text: &str) {
        assert!(self
            .run(&["send-keys", "-t", &self.session, "-l", text])
            .status
            .success());
    }

    /// Polls the pane until `ok(screen)`, at most `secs` seconds; panics with the last
    /// screen otherwise.
    fn wait(&self, what: &str, secs: u64, ok: impl Fn(&str) -> bool) -> String {
        let end = Instant::now() + Duration::from_secs(secs);
        loop {
            let s = self.screen();
            if ok(&s) {
                return s;
            }
            if Instant::now() > end {
                panic!("timed out waiting for {what}; screen:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

/// The table lines (those showing a tuple) of a screen, in order.
fn rows(screen: &str) -> Vec<String> {
    screen
        .lines()
        .filter(|l| l.starts_with(CLIENT4) || l.starts_with('['))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

fn conntrack_l(lab: &Lab, args: &[&str]) -> String {
    let mut argv = vec!["/usr/sbin/conntrack", "-L"];
    argv.extend_from_slice(args);
    String::from_utf8_lossy(&lab.router.exec(&argv).stdout).into_owned()
}

#[test]
fn top_in_tmux_sorts_filters_and_deletes_a_zoned_entry() {
    if !require_tools(
        "top_in_tmux_sorts_filters_and_deletes_a_zoned_entry",
        &["tmux", "nft", "python3", "ping"],
    ) {
        return;
    }
    let lab = Lab::new(LabOptions {
        zone: true,
        ..LabOptions::default()
    });
    // UDP and ICMP entries live 30 s by default; a slow machine must not see them expire
    // in the middle of the test (per-namespace sysctls).
    lab.router.sh_ok(
        "sysctl -qw net.netfilter.nf_conntrack_udp_timeout=600 net.netfilter.nf_conntrack_icmp_timeout=600",
    );
    traffic::tcp_server(&lab.server, "::", 7000);
    traffic::udp_server(&lab.server, "::", ZONE_PORT);
    traffic::tcp_hold(&lab.client, SERVER4, 7000, 100);
    traffic::udp_reply(&lab.client, SERVER4, ZONE_PORT, 40007);
    traffic::ping(&lab.client, SERVER4);
    let zoned = format!("{CLIENT4}:40007 {SERVER4}:{ZONE_PORT} udp");
    assert!(
        conntrack_l(&lab, &["-w", &ZONE.to_string()]).contains(&format!("dport={ZONE_PORT}")),
        "the zone {ZONE} entry exists"
    );

    let bin = ctkit_bin();
    let tmux = Tmux::start(
        "kernel",
        &format!(
            "ip netns exec {} {} top",
            lab.router.name(),
            bin.to_str().expect("utf-8 path")
        ),
    );
    let s = tmux.wait("the first table", 20, |s| {
        s.contains("Sort: SrcIP") && rows(s).len() >= 3
    });
    let r = rows(&s);
    // Sorted by source address, then source port: the ICMP entry (no port) comes first.
    assert!(
        r[0].starts_with(&format!("{CLIENT4} {SERVER4} icmp 8/0")),
        "{s}"
    );
    assert!(r.iter().any(|l| l.starts_with(&zoned)), "{s}");
    assert!(
        r.iter()
            .any(|l| l.contains(&format!("{SERVER4}:7000 tcp ESTABLISHED"))),
        "{s}"
    );

    // b: next sort column (SrcPort); r: reverse.
    tmux.keys(&["b"]);
    tmux.wait("sort by source port", 5, |s| s.contains("Sort: SrcPort "));
    tmux.keys(&["r"]);
    let s = tmux.wait("reverse sort by source port", 5, |s| {
        s.contains("Sort: SrcPort reverse") && rows(s).last().is_some_and(|l| l.contains("icmp"))
    });
    let r = rows(&s);
    let sports: Vec<u32> = r
        .iter()
        .filter_map(|l| l.split(' ').next()?.rsplit_once(':')?.1.parse().ok())
        .collect();
    assert!(
        sports.windows(2).all(|w| w[0] >= w[1]),
        "descending source ports: {s}"
    );

    // D: destination port filter.
    tmux.keys(&["D"]);
    tmux.wait("the port prompt", 5, |s| {
        s.contains("Destination port filter")
    });
    tmux.text(&ZONE_PORT.to_string());
    tmux.keys(&["Enter"]);
    let s = tmux.wait("the filtered table", 5, |s| {
        s.contains(&format!("Filters: dport: {ZONE_PORT}")) && rows(s).len() == 1
    });
    assert!(rows(&s)[0].starts_with(&zoned), "{s}");

    // x, then y: the highlighted (only) entry goes, from zone 7.
    tmux.keys(&["x"]);
    tmux.wait("the delete question", 5, |s| {
        s.contains(&format!(
            "Deleting state: {CLIENT4}:40007 -> {SERVER4}:{ZONE_PORT} -- Are you sure? (y/n)"
        ))
    });
    tmux.keys(&["y"]);
    tmux.wait("the entry gone from the screen", 10, |s| {
        s.contains(&format!(
            "Deleted state: {CLIENT4}:40007 -> {SERVER4}:{ZONE_PORT}"
        )) && rows(s).is_empty()
    });
    let left = conntrack_l(&lab, &["-w", &ZONE.to_string()]);
    assert!(
        !left.contains(&format!("dport={ZONE_PORT}")),
        "still in the kernel:\n{left}"
    );
    let all = conntrack_l(&lab, &[]);
    assert!(all.contains("dport=7000"), "other entries stay:\n{all}");

    // q: quit, exit status 0, terminal restored.
    tmux.keys(&["q"]);
    let s = tmux.wait("exit", 10, |s| s.contains("EXITED"));
    assert!(s.contains("EXITED 0"), "{s}");
}

/// The screen without trailing blanks (tmux pads nothing, but the last lines are empty).
fn trimmed(screen: &str) -> String {
    let lines: Vec<&str> = screen.lines().map(str::trim_end).collect();
    let mut out = lines.join("\n");
    while out.ends_with('\n') {
        out.pop();
    }
    out
}

/// The first lines of a screen and its bottom line.
fn top_and_bottom(screen: &str, n: usize) -> (String, String) {
    let lines: Vec<&str> = screen.lines().map(str::trim_end).collect();
    let bottom = lines
        .iter()
        .rev()
        .find(|l| !l.is_empty())
        .copied()
        .unwrap_or("");
    (lines[..n.min(lines.len())].join("\n"), bottom.to_string())
}

#[test]
fn top_in_tmux_on_a_saved_listing_shows_exact_screens() {
    let have_tmux = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if !have_tmux {
        if support::kernel::kernel_required() {
            panic!("CTKIT_REQUIRE_KERNEL=1 but tmux is not installed");
        }
        eprintln!("SKIP top_in_tmux_on_a_saved_listing_shows_exact_screens: tmux not installed");
        return;
    }
    let dir = std::env::temp_dir().join(format!("ctkit-top-tmux-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("saved.txt"), SAVED).unwrap();
    let bin = ctkit_bin();
    let tmux = Tmux::start(
        "file",
        &format!(
            "cd {} && {} top --from saved.txt",
            dir.display(),
            bin.display()
        ),
    );
    let s = tmux.wait("the first table", 20, |s| s.contains("Lines 1-4 of 4"));
    let (head, bottom) = top_and_bottom(&s, 7);
    assert_eq!(
        head,
        "\
ctkit top - file saved.txt  Sort: SrcIP  b: change sorting  h: help
Table: 4 entries
Source                                         Destination                                   Prt  State       TTL
192.0.2.1:1234                                 198.51.100.2:80                               tcp  ESTABLISHED 119:59:59
192.0.2.5:53000                                198.51.100.9:53                               udp                0:00:29
192.0.2.7                                      203.0.113.5                                   icmp 8/0 (99)      0:00:29
192.0.2.8:4000                                 203.0.113.10:80                               tcp  SYN_SENT      0:01:58"
    );
    assert_eq!(bottom, "Lines 1-4 of 4  (line 1)");
    assert_eq!(
        trimmed(&s).lines().count(),
        40,
        "the bottom line is the 40th"
    );

    // n: NAT columns; / and text: search, Enter keeps the match (line 3, 203.0.113.5).
    tmux.keys(&["n", "/"]);
    tmux.text("203.0");
    tmux.keys(&["Enter"]);
    let s = tmux.wait("the search result", 5, |s| {
        s.contains("(line 3)") && s.contains("Reply Source")
    });
    assert_eq!(
        top_and_bottom(&s, 7).0,
        "\
ctkit top - file saved.txt  Sort: SrcIP  b: change sorting  h: help
Table: 4 entries
Source                  Destination            Reply Source           Reply Destination      Prt  State       TTL
192.0.2.1:1234          198.51.100.2:80        198.51.100.2:80        192.0.2.1:1234         tcp  ESTABLISHED 119:59:59
192.0.2.5:53000         198.51.100.9:53        198.51.100.9:53        192.0.2.5:53000        udp                0:00:29
192.0.2.7               203.0.113.5            203.0.113.5            192.0.2.7              icmp 8/0 (99)      0:00:29
192.0.2.8:4000          203.0.113.10:80        198.51.100.2:8080      192.0.2.8:4000         tcp  SYN_SENT      0:01:58"
    );

    // x on a saved listing: nothing to delete from.
    tmux.keys(&["x"]);
    tmux.wait("the refusal", 5, |s| {
        top_and_bottom(s, 0).1 == "x: cannot delete from file saved.txt"
    });

    // a: grouped by source, then t: totals; B: previous sort column (TTL, in the title).
    tmux.keys(&["a", "t", "B"]);
    let s = tmux.wait("the grouped view", 5, |s| {
        s.contains("Grouped by: src") && s.contains("Sort: TTL")
    });
    assert_eq!(
        top_and_bottom(&s, 9).0,
        "\
ctkit top - file saved.txt  Sort: TTL  b: change sorting  h: help
Table: 4 entries
Total States: 4 -- TCP: 2 UDP: 1 ICMP: 1 Other: 0 (Filtered: 0)
Grouped by: src (a: next)
Group                                                                                                     Entries Share
192.0.2.1                                                                                                       1 25.0%
192.0.2.5                                                                                                       1 25.0%
192.0.2.7                                                                                                       1 25.0%
192.0.2.8                                                                                                       1 25.0%"
    );

    tmux.keys(&["q"]);
    let s = tmux.wait("exit", 10, |s| s.contains("EXITED"));
    assert!(s.contains("EXITED 0"), "{s}");
    let _ = std::fs::remove_dir_all(&dir);
}
