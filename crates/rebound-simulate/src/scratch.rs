//! Where a simulation that keeps nothing writes its history.
//!
//! A simulation writes a database and a raw payload file for every call,
//! and throws both away at the end. On a disk each write goes through the
//! filesystem's journal (a raw file is written, then renamed into place),
//! which cost a fifth to a quarter of a 20-day simulation's wall time here
//! (`docs/benchmarks.md`, "The temporary history in memory"). A
//! memory-backed folder (`/dev/shm` on Linux) makes those writes memory
//! copies. The reference season keeps about 160 MB there while it runs.
//!
//! It is used only when it leaves room: a folder with less than
//! [`MEMORY_FOLDER_MIN_FREE`] available is passed over, so a small machine
//! is not filled up, and a config whose payloads are large can still be
//! run with `--keep DIR` on a disk.

use std::path::{Path, PathBuf};

/// The memory-backed folder tried first.
pub const MEMORY_FOLDER: &str = "/dev/shm";

/// The space that folder must have available to be used: more than ten
/// times what the reference season writes.
pub const MEMORY_FOLDER_MIN_FREE: u64 = 2 << 30;

/// The memory-backed folder to hold a temporary history, when this machine
/// has one with at least [`MEMORY_FOLDER_MIN_FREE`] available; `None`:
/// the system's temporary folder.
pub fn memory_backed() -> Option<PathBuf> {
    with_room(Path::new(MEMORY_FOLDER), MEMORY_FOLDER_MIN_FREE)
}

/// The folder for a temporary history, given the `TMPDIR` the caller read
/// from its environment: [`memory_backed`], unless `TMPDIR` names a folder,
/// which is the user's choice and then used as is (`None`: the system's
/// temporary folder, which is `TMPDIR`).
pub fn choose(tmpdir: Option<&std::ffi::OsStr>) -> Option<PathBuf> {
    if tmpdir.is_some_and(|v| !v.is_empty()) {
        return None;
    }
    memory_backed()
}

/// `folder`, when it is a folder with at least `min` bytes available.
fn with_room(folder: &Path, min: u64) -> Option<PathBuf> {
    (folder.is_dir() && available(folder)? >= min).then(|| folder.to_path_buf())
}

/// The bytes an unprivileged process may still write under `folder`.
#[cfg(unix)]
fn available(folder: &Path) -> Option<u64> {
    let stats = nix::sys::statvfs::statvfs(folder).ok()?;
    // Both are u32 or u64 depending on the platform.
    #[allow(clippy::useless_conversion)]
    let (blocks, size) = (
        u64::from(stats.blocks_available()),
        u64::from(stats.fragment_size()),
    );
    blocks.checked_mul(size)
}

#[cfg(not(unix))]
fn available(_folder: &Path) -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tmpdir_the_user_set_is_left_to_them() {
        assert_eq!(choose(Some(std::ffi::OsStr::new("/var/tmp"))), None);
        assert_eq!(choose(Some(std::ffi::OsStr::new(""))), memory_backed());
        assert_eq!(choose(None), memory_backed());
    }

    #[cfg(unix)]
    #[test]
    fn a_folder_is_chosen_only_with_room_to_spare() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(with_room(dir.path(), 1).as_deref(), Some(dir.path()));
        assert_eq!(with_room(dir.path(), u64::MAX), None);
        assert_eq!(with_room(&dir.path().join("missing"), 0), None);
        let file = dir.path().join("file");
        std::fs::write(&file, "").unwrap();
        assert_eq!(with_room(&file, 0), None);
    }

    #[cfg(unix)]
    #[test]
    fn the_space_of_a_real_folder_is_read() {
        let dir = tempfile::tempdir().unwrap();
        assert!(available(dir.path()).unwrap() > 0);
        assert_eq!(available(&dir.path().join("missing")), None);
    }
}
