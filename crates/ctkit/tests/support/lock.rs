//! The project-wide test lock and RAII restore helpers.
//!
//! Some kernel state is global: `nf_conntrack_max` and `nf_conntrack_buckets` are written in
//! the initial namespace and apply to every namespace (max caps each namespace's entry count;
//! the hash table is one for all), other sysctls of the initial namespace, files under /etc
//! such as /etc/xtables/connlabel.conf, the kernel log. One `flock` on
//! `/run/lock/ctkit-tests.lock` (or `/tmp/ctkit-tests.lock`) orders the tests that change it
//! and the tests that need it left alone, across threads and processes (two test binaries,
//! the bench/ scripts):
//!
//! - [`GlobalLock::acquire`] (exclusive, `LOCK_EX`): the test **changes** global state. Restore
//!   it with [`RestoreFile`] / [`RestoreValue`], which put things back on drop, also on panic;
//!   declare the restore guards after the lock so they drop (restore) first.
//! - [`GlobalLock::shared`] (`LOCK_SH`, any number of holders at once): the test **needs the
//!   global settings at their defaults** while it holds it. Take it for
//!   - every stretch in which a namespace of the test may hold more entries than the smallest
//!     `nf_conntrack_max` another test sets (64; count every connection, every `-I`/`-R`
//!     line, every UDP flow; expectations too once a test lowers `nf_conntrack_expect_max`,
//!     which none does): a lowered max refuses the inserts, and the GC flagged by a
//!     table-full test evicts unassured entries of any namespace at 95 % of max;
//!   - and for every read of a global value the test asserts on (`ctkit doctor`'s fill and
//!     chain length, `nf_conntrack_max` itself, the label map that `-l`/`--label-*` load).
//!
//!   Keep it short: from the fill to the last look that needs the entries, not the whole
//!   test; flush or drop a namespace of thousands of entries before releasing it (the
//!   buckets test shrinks the one global hash table to 512 buckets).
//!
//! One lock per thread at a time: a thread holding either mode that asks for the exclusive
//! one waits for itself forever, so taking a second one while one is held panics. Helpers in
//! `support/` never take it; the caller does. Shell scripts use the same file:
//! `flock 9` (exclusive) or `flock -s 9` (shared) on `exec 9>/run/lock/ctkit-tests.lock`.

use std::cell::Cell;
use std::fs::{File, OpenOptions};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

thread_local! {
    /// Whether this thread holds a [`GlobalLock`] (either mode).
    static HELD: Cell<bool> = const { Cell::new(false) };
}

/// A `flock` on `/run/lock/ctkit-tests.lock` (or `/tmp/ctkit-tests.lock`), exclusive or
/// shared, held across processes and threads until dropped. Not `Send`: it is released by
/// the thread that took it.
pub struct GlobalLock {
    _file: File,
    _not_send: PhantomData<*const ()>,
}

impl GlobalLock {
    /// The exclusive lock, for a test that changes global state. Blocks until held.
    #[allow(clippy::incompatible_msrv)] // File::lock: test-only, the toolchain has it.
    pub fn acquire() -> GlobalLock {
        Self::take(|f| f.lock(), "exclusive")
    }

    /// The shared lock, for a test that needs global state left at its defaults meanwhile
    /// (see the module doc). Blocks while a test holds the exclusive one.
    #[allow(clippy::incompatible_msrv)] // File::lock_shared: test-only, the toolchain has it.
    pub fn shared() -> GlobalLock {
        Self::take(|f| f.lock_shared(), "shared")
    }

    fn take(lock: impl FnOnce(&File) -> std::io::Result<()>, mode: &str) -> GlobalLock {
        assert!(
            !HELD.with(Cell::get),
            "GlobalLock::{mode}: this thread already holds the global test lock; \
             a second one deadlocks (shared then exclusive) — take one, once"
        );
        let file = Self::file();
        lock(&file).unwrap_or_else(|e| panic!("flock ({mode}) test lock: {e}"));
        HELD.with(|h| h.set(true));
        GlobalLock {
            _file: file,
            _not_send: PhantomData,
        }
    }

    /// The lock file, opened but not locked (for tests of the lock itself).
    pub fn file() -> File {
        let path = if Path::new("/run/lock").is_dir() {
            "/run/lock/ctkit-tests.lock"
        } else {
            "/tmp/ctkit-tests.lock"
        };
        OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .or_else(|_| {
                OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open("/tmp/ctkit-tests.lock")
            })
            .expect("open test lock file")
    }
}

impl Drop for GlobalLock {
    fn drop(&mut self) {
        // The flock goes with the file, closed right after this.
        HELD.with(|h| h.set(false));
    }
}

/// Restores a file's content (or its absence) on drop.
pub struct RestoreFile {
    path: PathBuf,
    saved: Option<Vec<u8>>,
    /// Parent directory created by [`RestoreFile::replace`], removed again on drop.
    created_dir: Option<PathBuf>,
}

impl RestoreFile {
    /// Records the current content of `path` (or that it does not exist).
    pub fn capture(path: impl Into<PathBuf>) -> RestoreFile {
        let path = path.into();
        let saved = std::fs::read(&path).ok();
        RestoreFile {
            path,
            saved,
            created_dir: None,
        }
    }

    /// Records the file, then writes `content` (creating parent directories).
    pub fn replace(path: impl Into<PathBuf>, content: &[u8]) -> RestoreFile {
        let mut guard = RestoreFile::capture(path);
        if let Some(dir) = guard.path.parent().filter(|d| !d.exists()) {
            std::fs::create_dir_all(dir).expect("create parent dir");
            guard.created_dir = Some(dir.to_path_buf());
        }
        std::fs::write(&guard.path, content).expect("write file");
        guard
    }
}

impl Drop for RestoreFile {
    fn drop(&mut self) {
        match &self.saved {
            Some(content) => {
                let _ = std::fs::write(&self.path, content);
            }
            None => {
                let _ = std::fs::remove_file(&self.path);
            }
        }
        if let Some(dir) = &self.created_dir {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// Sets a one-value file such as a `/proc/sys` entry and writes the old value back on drop.
pub struct RestoreValue {
    path: PathBuf,
    old: String,
}

impl RestoreValue {
    /// Writes `value` to `path`, remembering the old value.
    pub fn set(path: impl Into<PathBuf>, value: &str) -> RestoreValue {
        let path = path.into();
        let old = std::fs::read_to_string(&path).expect("read value");
        std::fs::write(&path, value).expect("write value");
        RestoreValue {
            path,
            old: old.trim_end().to_string(),
        }
    }

    /// The value found before [`RestoreValue::set`].
    pub fn old(&self) -> &str {
        &self.old
    }
}

impl Drop for RestoreValue {
    fn drop(&mut self) {
        let _ = std::fs::write(&self.path, &self.old);
    }
}
