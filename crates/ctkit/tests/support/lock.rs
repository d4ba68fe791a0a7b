//! The project-wide test lock and RAII restore helpers. Tests that change global state
//! (sysctls of the initial namespace such as nf_conntrack_max, files under /etc such as
//! /etc/xtables/connlabel.conf) hold [`GlobalLock`] and restore what they changed with
//! [`RestoreFile`] / [`RestoreValue`], which put things back on drop, also on panic.
//! Declare the restore guards after the lock so they drop (restore) first.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

/// An exclusive `flock` on `/run/lock/ctkit-tests.lock` (or `/tmp/ctkit-tests.lock`), held
/// across processes and threads until dropped.
pub struct GlobalLock {
    _file: File,
}

impl GlobalLock {
    /// Blocks until the lock is held.
    #[allow(clippy::incompatible_msrv)] // File::lock: test-only, the toolchain has it.
    pub fn acquire() -> GlobalLock {
        let path = if Path::new("/run/lock").is_dir() {
            "/run/lock/ctkit-tests.lock"
        } else {
            "/tmp/ctkit-tests.lock"
        };
        let file = OpenOptions::new()
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
            .expect("open test lock file");
        file.lock().expect("flock test lock");
        GlobalLock { _file: file }
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
