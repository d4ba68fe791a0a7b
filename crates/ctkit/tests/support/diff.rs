//! Differential runs: the oracle (`/usr/sbin/conntrack`) and the subject run with the same
//! arguments on the same table (read-only commands) or on two tables loaded from the same
//! `-R` file (mutating commands), and stdout, stderr and exit codes must agree after
//! normalisation (see [`super::normalize`]).

use std::path::Path;

use super::netns::Netns;
use super::normalize::{
    normalize_banner, normalize_counters, normalize_ids, normalize_stamps, normalize_timeouts,
    normalize_use, sort_lines,
};
use super::subject::{oracle_bin, subject_conntrack};

/// What one run printed and returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunResult {
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// Exit code (-1 when killed by a signal).
    pub code: i32,
}

/// Which normalisations a comparison applies (the banner is always normalised).
#[derive(Debug, Clone, Copy, Default)]
pub struct Norm {
    /// Replace timeouts with `T`.
    pub timeouts: bool,
    /// Replace `name=N` counter values (for `-S`).
    pub counters: bool,
    /// Replace `use=N`.
    pub use_count: bool,
    /// Replace `id=N`.
    pub ids: bool,
    /// Sort stdout lines.
    pub sort: bool,
    /// Replace `-o timestamp` stamps (`[sec.usec]` line prefixes, `<when>`).
    pub stamps: bool,
}

impl Norm {
    /// Timeouts only: the default for read-only dumps.
    pub const DUMP: Norm = Norm {
        timeouts: true,
        counters: false,
        use_count: false,
        ids: false,
        sort: false,
        stamps: false,
    };
    /// Nothing but the banner: for parameter errors and fixed outputs.
    pub const EXACT: Norm = Norm {
        timeouts: false,
        counters: false,
        use_count: false,
        ids: false,
        sort: false,
        stamps: false,
    };

    /// Applies these normalisations (and the banner's) to `s`.
    pub fn apply(self, s: &str) -> String {
        let mut s = normalize_banner(s);
        if self.stamps {
            s = normalize_stamps(&s);
        }
        if self.timeouts {
            s = normalize_timeouts(&s);
        }
        if self.counters {
            s = normalize_counters(&s);
        }
        if self.use_count {
            s = normalize_use(&s);
        }
        if self.ids {
            s = normalize_ids(&s);
        }
        if self.sort {
            s = sort_lines(&s);
        }
        s
    }
}

/// Runs `bin args…` inside `ns` (optionally with stdin). The binary is started by its
/// basename through PATH (its directory first), so argv[0] is the same for every tool
/// (`conntrack`): usage texts print it.
pub fn run_tool(ns: &Netns, bin: &Path, args: &[&str], stdin: Option<&[u8]>) -> RunResult {
    let dir = bin.parent().expect("binary has a directory");
    let base = bin.file_name().expect("binary has a name");
    let path = format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_else(|_| "/usr/sbin:/usr/bin:/sbin:/bin".into())
    );
    let mut argv: Vec<&std::ffi::OsStr> = vec![base];
    argv.extend(args.iter().map(std::ffi::OsStr::new));
    let mut cmd = ns.command(&argv);
    cmd.env("PATH", path);
    let out = match stdin {
        Some(data) => super::netns::output_with_stdin(cmd, data),
        None => cmd.output().expect("spawn ip netns exec"),
    };
    RunResult {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        code: out.status.code().unwrap_or(-1),
    }
}

/// Runs the oracle in `ns`.
pub fn oracle(ns: &Netns, args: &[&str]) -> RunResult {
    run_tool(ns, oracle_bin(), args, None)
}

/// Runs `ctkit ARGS` (the modern and view commands, under ctkit's own name) in `ns`.
pub fn run_ctkit(ns: &Netns, args: &[&str]) -> RunResult {
    run_tool(ns, &super::subject::ctkit_bin(), args, None)
}

/// Runs the subject (via its `conntrack` symlink) in `ns`.
pub fn subject(ns: &Netns, args: &[&str]) -> RunResult {
    run_tool(ns, &subject_conntrack(), args, None)
}

/// A line diff (LCS) of `a` (oracle, `-`) and `b` (subject, `+`), with all lines shown.
pub fn line_diff(a: &str, b: &str) -> String {
    let x: Vec<&str> = a.lines().collect();
    let y: Vec<&str> = b.lines().collect();
    if x.len() * y.len() > 4_000_000 {
        return format!("--- oracle\n{a}\n+++ subject\n{b}\n");
    }
    let mut lcs = vec![vec![0u32; y.len() + 1]; x.len() + 1];
    for i in (0..x.len()).rev() {
        for j in (0..y.len()).rev() {
            lcs[i][j] = if x[i] == y[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = String::from("--- oracle\n+++ subject\n");
    while i < x.len() || j < y.len() {
        if i < x.len() && j < y.len() && x[i] == y[j] {
            out += &format!(" {}\n", x[i]);
            i += 1;
            j += 1;
        } else if j < y.len() && (i == x.len() || lcs[i][j + 1] >= lcs[i + 1][j]) {
            out += &format!("+{}\n", y[j]);
            j += 1;
        } else {
            out += &format!("-{}\n", x[i]);
            i += 1;
        }
    }
    if a.ends_with('\n') != b.ends_with('\n') {
        out += "(final newline differs)\n";
    }
    out
}

/// Compares two normalised results; panics with a readable diff on any mismatch.
pub fn assert_same(what: &str, want: &RunResult, got: &RunResult) {
    let mut report = String::new();
    if want.stdout != got.stdout {
        report += &format!("stdout differs:\n{}", line_diff(&want.stdout, &got.stdout));
    }
    if want.stderr != got.stderr {
        report += &format!("stderr differs:\n{}", line_diff(&want.stderr, &got.stderr));
    }
    if want.code != got.code {
        report += &format!(
            "exit code differs: oracle {} subject {}\n",
            want.code, got.code
        );
    }
    assert!(
        report.is_empty(),
        "{what}: subject differs from oracle\n{report}"
    );
}

fn normalized(r: &RunResult, norm: Norm) -> RunResult {
    RunResult {
        stdout: norm.apply(&r.stdout),
        stderr: normalize_banner(&r.stderr),
        code: r.code,
    }
}

/// Runs oracle then subject with `args` on the table of `ns` and compares stdout (kernel
/// dump order, timeouts normalised), stderr (banner normalised) and exit code. Returns
/// the oracle's raw result.
pub fn diff_readonly(ns: &Netns, args: &[&str]) -> RunResult {
    diff_readonly_with(ns, args, Norm::DUMP)
}

/// [`diff_readonly`] with explicit normalisation.
pub fn diff_readonly_with(ns: &Netns, args: &[&str], norm: Norm) -> RunResult {
    let want = oracle(ns, args);
    let got = subject(ns, args);
    assert_same(
        &format!("conntrack {}", args.join(" ")),
        &normalized(&want, norm),
        &normalized(&got, norm),
    );
    want
}

/// The table of `ns` as `-L -o save` (by the oracle), timeouts normalised, sorted; plus
/// the expectation table.
pub fn table_snapshot(ns: &Netns) -> String {
    let flows = oracle(ns, &["-L", "-o", "save"]);
    // The default format too: -o save leaves out marks (and labels).
    let listed = oracle(ns, &["-L"]);
    let expects = oracle(ns, &["-L", "expect"]);
    format!(
        "{}--- listed\n{}--- expect\n{}",
        sort_lines(&normalize_timeouts(&flows.stdout)),
        sort_lines(&normalize_timeouts(&listed.stdout)),
        sort_lines(&normalize_timeouts(&expects.stdout))
    )
}

/// Mutating comparison: two fresh namespaces are loaded with the oracle from the same
/// `-R -` text (`load`, one conntrack command per line), then the oracle runs `args` in one
/// and the subject in the other. Sorted stdout (timeouts and ids normalised), stderr,
/// exit code and the resulting `-L -o save` tables must agree. Returns the oracle's result.
pub fn diff_mutating(load: &str, args: &[&str]) -> RunResult {
    diff_mutating_stdin(load, args, None)
}

/// How [`diff_mutating_with`] compares stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StdoutCheck {
    /// Sorted lines must be equal.
    Sorted,
    /// Only the number of lines must be equal: for outputs that depend on the dump order
    /// of the namespace (1.4.7's `-U` prints only the last updated entry).
    LineCount,
}

/// [`diff_mutating`] with optional standard input for the command (e.g. `-R -`).
pub fn diff_mutating_stdin(load: &str, args: &[&str], stdin: Option<&[u8]>) -> RunResult {
    diff_mutating_with(load, args, stdin, StdoutCheck::Sorted)
}

/// [`diff_mutating`] with optional stdin and a choice of stdout comparison.
pub fn diff_mutating_with(
    load: &str,
    args: &[&str],
    stdin: Option<&[u8]>,
    check: StdoutCheck,
) -> RunResult {
    let a = Netns::new();
    let b = Netns::new();
    for ns in [&a, &b] {
        if !load.is_empty() {
            let r = run_tool(ns, oracle_bin(), &["-R", "-"], Some(load.as_bytes()));
            assert_eq!(r.code, 0, "loading table failed: {}", r.stderr);
        }
    }
    assert_eq!(
        table_snapshot(&a),
        table_snapshot(&b),
        "loaded tables differ"
    );
    let want = run_tool(&a, oracle_bin(), args, stdin);
    let got = run_tool(&b, &subject_conntrack(), args, stdin);
    let norm = Norm {
        timeouts: true,
        ids: true,
        sort: true,
        ..Norm::EXACT
    };
    let what = format!("conntrack {}", args.join(" "));
    let (mut w, mut g) = (normalized(&want, norm), normalized(&got, norm));
    if check == StdoutCheck::LineCount {
        assert_eq!(
            w.stdout.lines().count(),
            g.stdout.lines().count(),
            "{what}: stdout line counts differ\n--- oracle\n{}+++ subject\n{}",
            w.stdout,
            g.stdout
        );
        w.stdout.clear();
        g.stdout.clear();
    }
    assert_same(&what, &w, &g);
    let (ta, tb) = (table_snapshot(&a), table_snapshot(&b));
    assert!(
        ta == tb,
        "{what}: resulting tables differ\n{}",
        line_diff(&ta, &tb)
    );
    want
}
