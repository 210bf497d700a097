//! Writes to a local folder: a temporary file next to the final name, then a
//! rename, so a payload appears whole or not at all.
//!
//! `object_store`'s local `put` does the same per call on a blocking thread
//! of its own (plus an `fstat` for an ETag nobody here reads). With dozens of
//! calls in flight that meant dozens of blocking threads, all creating and
//! renaming files in one folder, contending for its lock and for two cores.
//! Here, concurrent writes queue and at most [`MAX_WRITERS`] blocking tasks
//! drain the queue, one file at a time each, answering each caller as soon
//! as its own file is in place. A lone write costs what it did (one
//! blocking task). More than one writer, because a file creation can wait
//! on the file system's journal: one writer alone would make every queued
//! call wait behind that (measured: several times slower on a busy disk).
//!
//! Paths are mapped and validated by `object_store`'s
//! [`LocalFileSystem::path_to_filesystem`], and temporary names follow its
//! convention (`name#N`, N digits), so `object_store` never lists a
//! temporary file left by a crash and both writers can share a folder.

use bytes::Bytes;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use std::collections::{HashSet, VecDeque};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::oneshot;

/// Suffixes for temporary names; process-wide, so two stores on one
/// folder do not collide. Another process may still pick the same name:
/// the file is created exclusively, so that only costs a retry.
static NEXT_TEMP: AtomicU64 = AtomicU64::new(1);

/// Blocking tasks writing at once, at most.
const MAX_WRITERS: usize = 8;

#[derive(Debug)]
pub(crate) struct LocalWriter {
    fs: Arc<LocalFileSystem>,
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    queue: Mutex<Queue>,
    /// Folders known to exist, so a write does not ask again.
    folders: Mutex<HashSet<PathBuf>>,
}

#[derive(Debug, Default)]
struct Queue {
    jobs: VecDeque<Job>,
    /// Blocking tasks draining `jobs`.
    writers: usize,
}

#[derive(Debug)]
struct Job {
    path: PathBuf,
    bytes: Bytes,
    done: oneshot::Sender<Result<(), String>>,
}

/// A poisoned lock only means another write panicked; the data it guards
/// (a queue, a set of folders) is still consistent.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl LocalWriter {
    pub(crate) fn new(fs: Arc<LocalFileSystem>) -> LocalWriter {
        LocalWriter {
            fs,
            shared: Arc::default(),
        }
    }

    /// Writes `bytes` at `key` atomically; returns once the file is in place.
    pub(crate) async fn put(&self, key: &ObjectPath, bytes: Bytes) -> Result<(), String> {
        let path = self.fs.path_to_filesystem(key).map_err(|e| e.to_string())?;
        let (done, answer) = oneshot::channel();
        let start = {
            let mut queue = lock(&self.shared.queue);
            queue.jobs.push_back(Job { path, bytes, done });
            let start = queue.writers < MAX_WRITERS;
            if start {
                queue.writers += 1;
            }
            start
        };
        if start {
            let shared = self.shared.clone();
            tokio::task::spawn_blocking(move || shared.drain());
        }
        answer
            .await
            .map_err(|_| "the local raw writer stopped".to_string())?
    }
}

/// If a writer panics, lets the next write start a new one, and if it was
/// the last, drops the writes still queued, so their callers get an error
/// instead of waiting forever.
struct DrainGuard<'a>(&'a Shared);

impl Drop for DrainGuard<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let mut queue = lock(&self.0.queue);
            queue.writers -= 1;
            if queue.writers == 0 {
                queue.jobs.clear();
            }
        }
    }
}

impl Shared {
    fn drain(&self) {
        let _guard = DrainGuard(self);
        loop {
            let job = {
                let mut queue = lock(&self.queue);
                match queue.jobs.pop_front() {
                    Some(job) => job,
                    None => {
                        // Under the lock: a write queued after this starts
                        // a new writer, one queued before was popped.
                        queue.writers -= 1;
                        return;
                    }
                }
            };
            let result = self.write(&job.path, &job.bytes);
            // A caller that stopped waiting is no error: its file is written.
            let _ = job.done.send(result);
        }
    }

    fn write(&self, path: &Path, bytes: &[u8]) -> Result<(), String> {
        let folder = path
            .parent()
            .ok_or_else(|| format!("{} has no folder", path.display()))?;
        if !lock(&self.folders).contains(folder) {
            self.create_folder(folder)?;
        }
        let mut created_folder = false;
        let (mut file, temp) = loop {
            let mut temp = path.as_os_str().to_owned();
            temp.push(format!("#{}", NEXT_TEMP.fetch_add(1, Ordering::Relaxed)));
            let temp = PathBuf::from(temp);
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&temp)
            {
                Ok(file) => break (file, temp),
                Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
                // Someone removed the folder since it was created.
                Err(e) if e.kind() == ErrorKind::NotFound && !created_folder => {
                    lock(&self.folders).remove(folder);
                    self.create_folder(folder)?;
                    created_folder = true;
                }
                Err(e) => return Err(format!("cannot create {}: {e}", temp.display())),
            }
        };
        let written = file
            .write_all(bytes)
            .map_err(|e| format!("cannot write {}: {e}", temp.display()))
            .and_then(|()| {
                drop(file);
                std::fs::rename(&temp, path).map_err(|e| {
                    format!(
                        "cannot rename {} to {}: {e}",
                        temp.display(),
                        path.display()
                    )
                })
            });
        if written.is_err() {
            let _ = std::fs::remove_file(&temp);
        }
        written
    }

    fn create_folder(&self, folder: &Path) -> Result<(), String> {
        std::fs::create_dir_all(folder)
            .map_err(|e| format!("cannot create folder {}: {e}", folder.display()))?;
        lock(&self.folders).insert(folder.to_path_buf());
        Ok(())
    }
}
