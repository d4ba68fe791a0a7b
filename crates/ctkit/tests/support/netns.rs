//! Named network namespaces for tests (`ip netns add ctkit-<pid>-<n>`), with `lo` up.
//! Each test gets its own, so tests run in parallel; the namespace and every background
//! process started in it are removed on drop, also when the test panics.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A background process in a namespace, killed when the namespace is dropped.
struct Background {
    child: Child,
    /// Kept open so the process can wait on stdin until killed.
    _stdin: Option<ChildStdin>,
}

/// A network namespace named `ctkit-<pid>-<n>`.
pub struct Netns {
    name: String,
    background: Mutex<Vec<Background>>,
}

fn check(what: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Netns {
    /// Creates the namespace and brings `lo` up. Panics when `ip netns add` fails.
    pub fn new() -> Netns {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("ctkit-{}-{n}", std::process::id());
        let out = Command::new("ip")
            .args(["netns", "add", &name])
            .output()
            .expect("run ip netns add");
        check(&format!("ip netns add {name}"), &out);
        let ns = Netns {
            name,
            background: Mutex::new(Vec::new()),
        };
        ns.exec_ok(&["ip", "link", "set", "lo", "up"]);
        ns
    }

    /// The namespace name, for `ip -n NAME` / `ip netns exec NAME`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A `Command` running `argv` inside the namespace (`ip netns exec NAME argv…`), for
    /// callers that need to set env, stdin or pipes.
    pub fn command<S: AsRef<OsStr>>(&self, argv: &[S]) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name]).args(argv);
        cmd.stdin(Stdio::null());
        cmd
    }

    /// Runs `argv` in the namespace and returns its output (any exit status).
    pub fn exec<S: AsRef<OsStr>>(&self, argv: &[S]) -> Output {
        self.command(argv).output().expect("spawn ip netns exec")
    }

    /// Runs `argv` with `stdin` as standard input.
    pub fn exec_stdin<S: AsRef<OsStr>>(&self, argv: &[S], stdin: &[u8]) -> Output {
        output_with_stdin(self.command(argv), stdin)
    }

    /// Runs `argv`; panics with its stdout/stderr unless it exits 0. Returns stdout.
    pub fn exec_ok<S: AsRef<OsStr>>(&self, argv: &[S]) -> String {
        let out = self.exec(argv);
        let shown: Vec<String> = argv
            .iter()
            .map(|a| a.as_ref().to_string_lossy().into_owned())
            .collect();
        check(&format!("[{}] {}", self.name, shown.join(" ")), &out);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs a `sh -c` script in the namespace.
    pub fn sh(&self, script: &str) -> Output {
        self.exec(&["sh", "-c", script])
    }

    /// Runs a `sh -c` script; panics unless it exits 0. Returns stdout.
    pub fn sh_ok(&self, script: &str) -> String {
        self.exec_ok(&["sh", "-c", script])
    }

    /// Starts `argv` in the background and waits until it prints its first stdout line
    /// (the readiness signal of our generators), which is returned. The process stays
    /// until the namespace is dropped; its stdin stays open (generators that hold a
    /// connection wait for stdin EOF).
    pub fn spawn_ready<S: AsRef<OsStr>>(&self, argv: &[S]) -> String {
        let mut child = self
            .command(argv)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn background process");
        let stdout = child.stdout.take().expect("stdout");
        let stdin = child.stdin.take();
        let mut line = String::new();
        let read = BufReader::new(stdout).read_line(&mut line);
        let alive = child.try_wait().ok().flatten().is_none();
        self.background.lock().unwrap().push(Background {
            child,
            _stdin: stdin,
        });
        assert!(
            matches!(read, Ok(n) if n > 0),
            "[{}] background process gave no readiness line (alive: {alive})",
            self.name
        );
        line.trim_end().to_string()
    }

    /// Waits (at most 20 s) until at least `n` NETLINK_NETFILTER sockets of this namespace
    /// have joined multicast groups: `/proc/net/netlink` rows of protocol 12 whose group mask
    /// (hex, first 32 groups) is `groups`, or any non-zero mask when `groups` is `None`. This
    /// is how a test knows an event listener (`conntrack -E`) is subscribed before it makes
    /// the changes the listener must see.
    pub fn wait_for_nfnetlink_listeners(&self, n: usize, groups: Option<&str>) {
        let start = std::time::Instant::now();
        loop {
            let table = self.exec_ok(&["cat", "/proc/net/netlink"]);
            let found = table
                .lines()
                .map(|l| l.split_whitespace().collect::<Vec<_>>())
                .filter(|f| {
                    f.len() > 3 && f[1] == "12" && groups.map_or(f[3] != "00000000", |g| f[3] == g)
                })
                .count();
            if found >= n {
                return;
            }
            assert!(
                start.elapsed() < std::time::Duration::from_secs(20),
                "[{}] timed out waiting for {n} netfilter listener(s) ({groups:?}): {table}",
                self.name
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Kills every background process started with [`Netns::spawn_ready`].
    pub fn kill_background(&self) {
        let mut procs = self.background.lock().unwrap_or_else(|e| e.into_inner());
        for mut bg in procs.drain(..) {
            let _ = bg.child.kill();
            let _ = bg.child.wait();
        }
    }
}

impl Default for Netns {
    fn default() -> Self {
        Netns::new()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        self.kill_background();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Runs `cmd` with `stdin` fed from a thread and collects its output.
pub fn output_with_stdin(mut cmd: Command, stdin: &[u8]) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut pipe = child.stdin.take().expect("stdin");
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(&data);
    });
    let out = child.wait_with_output().expect("wait");
    let _ = writer.join();
    out
}
