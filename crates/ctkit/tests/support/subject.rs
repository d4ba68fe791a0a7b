//! Which `conntrack` is under test. By default the subject is our binary
//! (`CARGO_BIN_EXE_ctkit`); with `CTKIT_TEST_ORACLE_AS_SUBJECT=1` it is the oracle itself,
//! which validates the harness (every differential test must then pass trivially).
//!
//! The subject is always run through a symlink named `conntrack`, so argv[0]'s basename is
//! `conntrack` and ctkit takes its drop-in personality.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Debian's conntrack 1.4.7: the byte-for-byte oracle.
pub fn oracle_bin() -> &'static Path {
    Path::new("/usr/sbin/conntrack")
}

/// Our binary as built by cargo for this test run.
pub fn ctkit_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_ctkit"))
}

/// True when `CTKIT_TEST_ORACLE_AS_SUBJECT=1`.
pub fn subject_is_oracle() -> bool {
    std::env::var("CTKIT_TEST_ORACLE_AS_SUBJECT").is_ok_and(|v| v == "1")
}

/// The real file of the binary under test.
pub fn subject_bin() -> PathBuf {
    if subject_is_oracle() {
        oracle_bin().to_path_buf()
    } else {
        ctkit_bin()
    }
}

/// A directory holding one entry, `conntrack`, a symlink to the binary under test. Put it
/// first on PATH, or run `conntrack_under_test().join("conntrack")`.
pub fn conntrack_under_test() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let kind = if subject_is_oracle() {
            "oracle"
        } else {
            "ctkit"
        };
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("subject-{kind}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create subject dir");
        let link = dir.join("conntrack");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(subject_bin(), &link).expect("symlink conntrack");
        dir
    })
    .clone()
}

/// Path of the `conntrack` symlink to the subject.
pub fn subject_conntrack() -> PathBuf {
    conntrack_under_test().join("conntrack")
}
