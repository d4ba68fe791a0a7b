//! The project-wide test lock itself (support/lock.rs): shared holders coexist and keep the
//! exclusive lock out; a second lock in one thread panics instead of deadlocking.

mod support;

use std::fs::TryLockError;
use support::GlobalLock;

#[test]
#[allow(clippy::incompatible_msrv)] // File::try_lock*: test-only, the toolchain has it.
fn shared_holders_coexist_and_keep_the_exclusive_lock_out() {
    let _shared = GlobalLock::shared();
    // Another shared holder (another open file: another test, another process) gets it at
    // once, also through GlobalLock in another thread.
    assert!(GlobalLock::file().try_lock_shared().is_ok());
    std::thread::spawn(|| drop(GlobalLock::shared()))
        .join()
        .expect("a second shared holder");
    // The exclusive lock waits for every shared holder.
    assert!(matches!(
        GlobalLock::file().try_lock(),
        Err(TryLockError::WouldBlock)
    ));
}

#[test]
#[should_panic(expected = "this thread already holds the global test lock")]
fn exclusive_after_shared_in_one_thread_panics_instead_of_deadlocking() {
    let _shared = GlobalLock::shared();
    let _exclusive = GlobalLock::acquire();
}

#[test]
fn a_thread_may_lock_again_once_it_released() {
    drop(GlobalLock::shared());
    let exclusive = GlobalLock::acquire();
    drop(exclusive);
    let _shared = GlobalLock::shared();
}
