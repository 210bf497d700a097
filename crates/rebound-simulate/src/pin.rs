//! Keeps a simulation on one CPU.
//!
//! A simulation is one chain of steps: the scheduler, the engine, the
//! simulated upstream and the alert rounds run on one Tokio thread, and
//! every SQL statement is handed to one of sqlx's SQLite threads and
//! waited for. Nothing runs in parallel, yet with the threads free to move,
//! each hand-off wakes a thread on the other CPU (an inter-processor
//! interrupt, often a CPU coming out of idle, and caches that are cold
//! there). Pinned to one CPU, the same hand-off is a switch between two
//! threads on a warm core: the season ran in about two thirds of the time,
//! with half the system CPU (`docs/benchmarks.md`, "One CPU for the
//! simulation").
//!
//! The affinity is set on the calling thread; threads and processes started
//! afterwards inherit it (sqlx's SQLite threads, Tokio's blocking threads,
//! transform processes), which is what makes them one group. So it must be
//! called before the simulation opens its store. Simulations running at
//! once each claim a CPU of their own while there are free ones
//! ([`Pinned`]). `rebound simulate --no-pin` leaves the process free.

/// A simulation's CPU, and its claim on it: simulations running at once
/// each take a CPU of their own while there are free ones. The claim is a
/// lock on `rebound-simulate-cpu-N.lock` in the temporary folder, held
/// until this value is dropped (or the process ends: the OS releases it).
/// Two simulations started together used to land on the CPU they both
/// started on, and each ran at half speed beside an idle core.
#[derive(Debug)]
pub struct Pinned {
    pub cpu: usize,
    /// `false`: every allowed CPU was claimed, so this one is shared.
    pub claimed: bool,
    _claim: Option<std::fs::File>,
}

/// Pins the calling thread, and every thread and process it starts from
/// now on, to one CPU: the one it runs on, unless another simulation has
/// claimed it and an allowed CPU is free. Returns `None` where pinning is
/// not supported (outside Linux).
///
/// A process already limited to a set of CPUs (`taskset`) stays inside it.
#[cfg(target_os = "linux")]
pub fn pin_to_a_free_cpu() -> Result<Option<Pinned>, String> {
    use nix::sched::{CpuSet, sched_getaffinity, sched_getcpu, sched_setaffinity};
    use nix::unistd::Pid;

    let current = sched_getcpu().map_err(|e| format!("cannot tell which CPU this runs on: {e}"))?;
    let allowed = sched_getaffinity(Pid::from_raw(0))
        .map(|set| {
            (0..CpuSet::count())
                .filter(|&cpu| set.is_set(cpu).unwrap_or(false))
                .collect::<Vec<_>>()
        })
        .unwrap_or_else(|_| vec![current]);
    let pinned = claim(&std::env::temp_dir(), &allowed, current);
    let cpu = pinned.cpu;
    let mut set = CpuSet::new();
    set.set(cpu)
        .map_err(|e| format!("CPU {cpu} is beyond what an affinity mask holds: {e}"))?;
    // Pid 0 is the calling thread, not the whole process: threads started
    // before this call (the logger's, say) keep their affinity.
    sched_setaffinity(Pid::from_raw(0), &set)
        .map_err(|e| format!("cannot pin this thread to CPU {cpu}: {e}"))?;
    Ok(Some(pinned))
}

/// Pinning is a Linux facility here; elsewhere the simulation runs free.
#[cfg(not(target_os = "linux"))]
pub fn pin_to_a_free_cpu() -> Result<Option<Pinned>, String> {
    Ok(None)
}

/// The CPU to pin to among `allowed`: `current` if no other simulation
/// holds it, else the first free one, else `current`, shared. A lock file
/// that cannot be made (a read-only `dir`) claims nothing and passes over
/// that CPU, as if taken.
fn claim(dir: &std::path::Path, allowed: &[usize], current: usize) -> Pinned {
    let order = std::iter::once(current).chain(allowed.iter().copied().filter(|&c| c != current));
    for cpu in order {
        let path = dir.join(format!("rebound-simulate-cpu-{cpu}.lock"));
        let Ok(file) = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
        else {
            continue;
        };
        if file.try_lock().is_ok() {
            return Pinned {
                cpu,
                claimed: true,
                _claim: Some(file),
            };
        }
    }
    Pinned {
        cpu: current,
        claimed: false,
        _claim: None,
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use nix::sched::{CpuSet, sched_getaffinity};
    use nix::unistd::Pid;

    /// The CPUs the calling thread may run on.
    fn allowed() -> Vec<usize> {
        let set = sched_getaffinity(Pid::from_raw(0)).unwrap();
        (0..CpuSet::count())
            .filter(|&cpu| set.is_set(cpu).unwrap())
            .collect()
    }

    /// Run on a thread of its own, so the test harness's threads keep their
    /// affinity.
    #[test]
    fn the_thread_and_the_threads_it_starts_afterwards_run_on_one_cpu() {
        std::thread::spawn(|| {
            let cpu = pin_to_a_free_cpu().unwrap().unwrap().cpu;
            assert_eq!(allowed(), vec![cpu]);
            let child = std::thread::spawn(allowed).join().unwrap();
            assert_eq!(
                child,
                vec![cpu],
                "a thread started after the pin inherits it"
            );
        })
        .join()
        .unwrap();
    }

    /// Before: every simulation pinned itself to the CPU it started on, so
    /// two started together could share one and leave the other idle.
    #[test]
    fn simulations_at_once_claim_cpus_of_their_own_while_there_are_free_ones() {
        let dir = tempfile::tempdir().unwrap();
        let first = claim(dir.path(), &[0, 1], 0);
        assert_eq!((first.cpu, first.claimed), (0, true));
        let second = claim(dir.path(), &[0, 1], 0);
        assert_eq!((second.cpu, second.claimed), (1, true), "CPU 0 is taken");
        let third = claim(dir.path(), &[0, 1], 1);
        assert_eq!((third.cpu, third.claimed), (1, false), "none free: shared");
        drop(first);
        let fourth = claim(dir.path(), &[0, 1], 1);
        assert_eq!(
            (fourth.cpu, fourth.claimed),
            (0, true),
            "released with its value"
        );
    }

    /// A folder where no lock file can be made (here a file in its place)
    /// claims nothing: the current CPU, shared, never an error or a panic.
    #[test]
    fn no_lock_folder_means_the_current_cpu_shared() {
        let file = tempfile::NamedTempFile::new().unwrap();
        let pinned = claim(file.path(), &[0, 1], 1);
        assert_eq!((pinned.cpu, pinned.claimed), (1, false));
    }

    #[test]
    fn a_thread_started_before_the_pin_keeps_its_cpus() {
        let before = allowed();
        let (go, wait) = std::sync::mpsc::channel::<()>();
        let (answer, read) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            // Started before its sibling pins.
            let earlier = std::thread::spawn(move || {
                wait.recv().unwrap();
                answer.send(allowed()).unwrap();
            });
            let _pinned = pin_to_a_free_cpu().unwrap().unwrap();
            go.send(()).unwrap();
            earlier.join().unwrap();
        })
        .join()
        .unwrap();
        assert_eq!(read.recv().unwrap(), before);
    }
}
