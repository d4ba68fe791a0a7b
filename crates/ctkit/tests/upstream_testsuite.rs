//! Runs conntrack-tools' own test suite (`tests/conntrack/testsuite`, data copied in
//! shared/conntrack-testsuite) against the binary under test, named `conntrack`, in a fresh
//! network namespace. The runner follows upstream's test-conntrack.c as documented in
//! shared/conntrack-testsuite/README.md and shared/reference/conntrack-cli.md §3:
//! files in name order; lines led by `#` or a space skipped; each line split at its first
//! `;`; `OK` must exit 0, `BAD` must exit non-zero; `|sed-expr` pipes the command's stdout
//! through `sed` into the next command; an empty expectation collects the line as stdin
//! for the next command. State carries across lines and files. Only exit codes count.

mod support;

use std::path::PathBuf;

use support::{conntrack_under_test, require_oracle, subject_is_oracle, Netns};

/// Executed (OK/BAD) cases in the suite: Debian's conntrack 1.4.7 passes all of them.
const EXPECTED_CASES: usize = 286;

/// `CTKIT_TESTSUITE`, else `shared/conntrack-testsuite` beside the workspace root (as in
/// CI), else two levels up (a git worktree under `wt/NAME`).
fn testsuite_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CTKIT_TESTSUITE") {
        return PathBuf::from(dir);
    }
    let beside = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/conntrack-testsuite"
    ));
    let worktree = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../../shared/conntrack-testsuite"
    ));
    if !beside.is_dir() && worktree.is_dir() {
        worktree
    } else {
        beside
    }
}

/// What a line expects after its `;`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Expect {
    Ok,
    Bad,
    /// Pipe stdout through `sed "expr"` into the next command.
    Pipe(String),
    /// Feed this line on stdin to the next command.
    Stdin,
}

/// One line of a suite file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Case {
    file: String,
    line: usize,
    args: String,
    expect: Expect,
}

/// Parses one raw line; `None` for skipped lines (comments, space-led, no `;`).
fn parse_line(file: &str, line: usize, raw: &str) -> Option<Case> {
    if raw.starts_with('#') || raw.starts_with(' ') {
        return None;
    }
    let (args, rest) = raw.split_once(';')?;
    let rest = rest.trim();
    let expect = if rest.starts_with("OK") {
        Expect::Ok
    } else if rest.starts_with("BAD") {
        Expect::Bad
    } else if let Some(sed) = rest.strip_prefix('|') {
        Expect::Pipe(sed.to_string())
    } else {
        Expect::Stdin
    };
    Some(Case {
        file: file.to_string(),
        line,
        args: args.to_string(),
        expect,
    })
}

fn load_cases(dir: &std::path::Path) -> Vec<Case> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read testsuite dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_file() && p.file_name().is_some_and(|n| n != "README.md"))
        .collect();
    files.sort();
    let mut cases = Vec::new();
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).expect("read testsuite file");
        for (i, raw) in text.lines().enumerate() {
            cases.extend(parse_line(&name, i + 1, raw));
        }
    }
    cases
}

/// Shell-quotes `s` in single quotes.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A failed case, for the final report.
struct Failure {
    at: String,
    script: String,
    expect: Expect,
    code: Option<i32>,
    stderr: String,
}

#[test]
fn upstream_testsuite_passes_all_286_cases() {
    let name = "upstream_testsuite_passes_all_286_cases";
    if !require_oracle(name) {
        return;
    }
    let dir = testsuite_dir();
    if !dir.is_dir() {
        assert!(
            !support::kernel::kernel_required(),
            "{name}: CTKIT_REQUIRE_KERNEL=1 but test suite data missing at {}",
            dir.display()
        );
        eprintln!(
            "SKIP {name}: test suite data not found at {}",
            dir.display()
        );
        return;
    }
    let cases = load_cases(&dir);
    let ns = Netns::new();
    let path = format!(
        "{}:{}",
        conntrack_under_test().display(),
        std::env::var("PATH").unwrap_or_else(|_| "/usr/sbin:/usr/bin:/sbin:/bin".into())
    );

    let mut stdin_lines: Vec<String> = Vec::new();
    let mut pipe_prefix = String::new();
    let mut executed = 0;
    let mut failures: Vec<Failure> = Vec::new();
    for case in &cases {
        let cmd = format!("conntrack {}", case.args);
        match &case.expect {
            Expect::Stdin => {
                stdin_lines.push(case.args.clone());
                continue;
            }
            Expect::Pipe(sed) => {
                pipe_prefix += &format!("{cmd} | sed {} | ", quote(sed));
                continue;
            }
            Expect::Ok | Expect::Bad => {}
        }
        let script = format!("{pipe_prefix}{cmd}");
        pipe_prefix.clear();
        let stdin = if stdin_lines.is_empty() {
            None
        } else {
            let mut text = stdin_lines.join("\n");
            text.push('\n');
            stdin_lines.clear();
            Some(text)
        };
        let mut command = ns.command(&["sh", "-c", &script]);
        command.env("PATH", &path);
        let out = match &stdin {
            Some(text) => support::netns::output_with_stdin(command, text.as_bytes()),
            None => command.output().expect("run sh -c"),
        };
        executed += 1;
        let passed = match case.expect {
            Expect::Ok => out.status.success(),
            _ => !out.status.success(),
        };
        if !passed {
            failures.push(Failure {
                at: format!("{}:{}", case.file, case.line),
                script,
                expect: case.expect.clone(),
                code: out.status.code(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            });
        }
    }

    let mut report = String::new();
    for f in &failures {
        report += &format!(
            "{}: expected {:?}, exit {:?}: {}\n{}",
            f.at,
            f.expect,
            f.code,
            f.script,
            f.stderr
                .lines()
                .map(|l| format!("    stderr: {l}\n"))
                .collect::<String>()
        );
    }
    let subject = if subject_is_oracle() {
        "oracle"
    } else {
        "ctkit"
    };
    eprintln!(
        "upstream testsuite ({subject}): OK: {} BAD: {}",
        executed - failures.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} failing lines:\n{report}",
        failures.len()
    );
    assert_eq!(executed, EXPECTED_CASES, "number of executed cases");
}

#[test]
fn suite_lines_parse_like_upstream_runner() {
    assert_eq!(parse_line("f", 1, "# comment ; OK"), None);
    assert_eq!(parse_line("f", 1, "  ;"), None);
    assert_eq!(parse_line("f", 1, "no semicolon"), None);
    assert_eq!(
        parse_line("f", 2, "-D -w 123 ; BAD"),
        Some(Case {
            file: "f".into(),
            line: 2,
            args: "-D -w 123 ".into(),
            expect: Expect::Bad
        })
    );
    assert_eq!(
        parse_line("f", 3, "-L --dst-nat 1.1.1.1:65536; BAD").map(|c| c.expect),
        Some(Expect::Bad)
    );
    assert_eq!(
        parse_line("f", 4, "-L -w 10 -o save; |s/-w 10/-w 11/g; s/-D /-I /g").map(|c| c.expect),
        Some(Expect::Pipe("s/-w 10/-w 11/g; s/-D /-I /g".into()))
    );
    assert_eq!(
        parse_line("f", 5, "\t\t;").map(|c| (c.args, c.expect)),
        Some(("\t\t".into(), Expect::Stdin))
    );
}
