//! Serializes the setting up of one database file across processes.
//!
//! Opening a file switches it to WAL mode and applies pending migrations.
//! Neither is safe when two processes do it to a new file at once: the
//! switch to WAL needs an exclusive lock that SQLite does not wait for
//! (the loser fails with "database is locked"), and sqlx's SQLite migrator
//! takes no lock at all, so both processes see migration 1 as pending and
//! the second fails with "table ... already exists". Processes started
//! together on a new file (a scheduler and a worker from one unit file,
//! two cron jobs) did exactly that.
//!
//! So each open first takes an exclusive advisory lock on `PATH-lock`, a
//! file beside the database (as `-wal` and `-shm` are), and holds it until
//! the schema is current. A lock file rather than the database itself,
//! because SQLite's own locks on the database must not be disturbed. The
//! lock belongs to the open file: it is released when dropped, and by the
//! operating system when a process dies holding it, so a crash leaves
//! nothing stale behind. Opens of an existing, current database also take
//! it, briefly: there is nothing to migrate, so it is held for a few
//! milliseconds.

use rebound_storage::StoreError;
use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long an open waits for another process to finish setting up the
/// same file. Migrating a new file takes milliseconds; this is for a
/// migration of a large history, and it still ends a wait on a process that
/// hangs while holding the lock.
const WAIT: Duration = Duration::from_secs(60);

/// Between two tries. The lock is polled rather than waited on in a
/// blocking thread, so that giving up after [`WAIT`] leaves no thread
/// behind blocked on the lock (a runtime waits for its blocking threads).
const POLL: Duration = Duration::from_millis(20);

/// `PATH-lock` for the database at `PATH`.
pub(crate) fn lock_path(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push("-lock");
    PathBuf::from(name)
}

/// The setup lock of one database, held until dropped.
pub(crate) struct SetupLock {
    file: File,
    path: PathBuf,
    /// This open made the lock file (it was not there before).
    created: bool,
}

impl SetupLock {
    /// Releases the lock, deleting the lock file if this open made it: for
    /// an open that is refused (another application's file), which should
    /// leave the folder as it found it. Deleted while still locked, so an
    /// open waiting on it gets the lock of the deleted file, is refused
    /// the same way, and leaves nothing either.
    pub(crate) fn release_and_remove_if_created(self) {
        if self.created {
            let _ = std::fs::remove_file(&self.path);
        }
        drop(self.file);
    }
}

/// Takes the setup lock of the database at `path`, waiting up to [`WAIT`]
/// for another process that holds it. The lock is held until the returned
/// value is dropped.
pub(crate) async fn acquire(path: &Path) -> Result<SetupLock, StoreError> {
    let lock = lock_path(path);
    let unavailable =
        |detail: String| StoreError::Unavailable(format!("{}: {detail}", path.display()));
    let cannot_open = |e: std::io::Error| {
        unavailable(format!(
            "cannot open lock file {}: {e}{}",
            lock.display(),
            read_only_hint(e.kind())
        ))
    };
    // Made here, or there already (another open holds or held it). A lock
    // file removed between the two tries (a refused open cleaning up) is
    // looked for again.
    let mut tries = 0;
    let (file, created) = loop {
        tries += 1;
        match OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&lock)
        {
            Ok(file) => break (file, true),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(cannot_open(e)),
        }
        match OpenOptions::new().read(true).write(true).open(&lock) {
            Ok(file) => break (file, false),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && tries < 3 => {}
            Err(e) => return Err(cannot_open(e)),
        }
    };
    let mut waited = Duration::ZERO;
    loop {
        match file.try_lock() {
            Ok(()) => {
                return Ok(SetupLock {
                    file,
                    path: lock,
                    created,
                });
            }
            Err(TryLockError::WouldBlock) if waited < WAIT => {
                tokio::time::sleep(POLL).await;
                waited += POLL;
            }
            Err(TryLockError::WouldBlock) => {
                return Err(unavailable(format!(
                    "another process has held the lock file {} for {}s while setting up \
                     this database",
                    lock.display(),
                    WAIT.as_secs()
                )));
            }
            Err(TryLockError::Error(e)) => {
                return Err(unavailable(format!("cannot lock {}: {e}", lock.display())));
            }
        }
    }
}

/// What to do when the database's folder cannot be written. Even a report
/// command writes beside the database (this lock, SQLite's WAL and
/// shared-memory files, the schema's upgrades), so a read-only folder is
/// refused at the lock; the bare "Read-only file system" said why, not
/// what to do.
fn read_only_hint(kind: std::io::ErrorKind) -> &'static str {
    match kind {
        std::io::ErrorKind::ReadOnlyFilesystem | std::io::ErrorKind::PermissionDenied => {
            "; every rebound command writes beside its database (a lock file, SQLite's \
             write-ahead log), so to inspect a database in a read-only place, copy it (and \
             its -wal file, if any) to a writable folder"
        }
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::read_only_hint;
    use std::io::ErrorKind;

    #[test]
    fn a_folder_that_cannot_be_written_says_what_to_do() {
        for kind in [ErrorKind::ReadOnlyFilesystem, ErrorKind::PermissionDenied] {
            assert!(read_only_hint(kind).contains("copy it"), "{kind:?}");
        }
        assert_eq!(read_only_hint(ErrorKind::NotFound), "");
    }
}
