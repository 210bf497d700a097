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
//! called before the simulation opens its store. `rebound simulate
//! --no-pin` leaves the process free, for a machine that runs several
//! simulations at once.

/// Pins the calling thread, and every thread and process it starts from
/// now on, to the CPU it is running on. Returns that CPU's number, or
/// `None` where pinning is not supported (outside Linux).
///
/// A process already limited to a set of CPUs (`taskset`) stays inside it:
/// the CPU it runs on is in that set.
#[cfg(target_os = "linux")]
pub fn pin_to_current_cpu() -> Result<Option<usize>, String> {
    use nix::sched::{CpuSet, sched_getcpu, sched_setaffinity};
    use nix::unistd::Pid;

    let cpu = sched_getcpu().map_err(|e| format!("cannot tell which CPU this runs on: {e}"))?;
    let mut set = CpuSet::new();
    set.set(cpu)
        .map_err(|e| format!("CPU {cpu} is beyond what an affinity mask holds: {e}"))?;
    // Pid 0 is the calling thread, not the whole process: threads started
    // before this call (the logger's, say) keep their affinity.
    sched_setaffinity(Pid::from_raw(0), &set)
        .map_err(|e| format!("cannot pin this thread to CPU {cpu}: {e}"))?;
    Ok(Some(cpu))
}

/// Pinning is a Linux facility here; elsewhere the simulation runs free.
#[cfg(not(target_os = "linux"))]
pub fn pin_to_current_cpu() -> Result<Option<usize>, String> {
    Ok(None)
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
            let cpu = pin_to_current_cpu().unwrap().unwrap();
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
            pin_to_current_cpu().unwrap().unwrap();
            go.send(()).unwrap();
            earlier.join().unwrap();
        })
        .join()
        .unwrap();
        assert_eq!(read.recv().unwrap(), before);
    }
}
