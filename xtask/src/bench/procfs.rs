//! What the kernel says about the peers' processes: their tree, their
//! resident memory, whether they still run. Linux only, read from /proc.

use std::fs;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// `(state, parent PID)` from `/proc/PID/stat`; `None` once the process is gone.
fn stat(pid: i32) -> Option<(char, i32)> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces or ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let parent = fields.next()?.parse().ok()?;
    Some((state, parent))
}

/// True once `pid` has exited: no longer listed, or a zombie waiting for its
/// parent to collect it.
pub fn has_exited(pid: i32) -> bool {
    !matches!(stat(pid), Some((state, _)) if state != 'Z' && state != 'X')
}

/// `root` and all its descendants, found by walking every process's parent.
pub fn tree(root: i32) -> Vec<i32> {
    let parents: Vec<(i32, i32)> = fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| Some((pid, stat(pid)?.1)))
        .collect();
    let mut found = vec![root];
    let mut next = 0;
    while next < found.len() {
        let parent = found[next];
        found.extend(
            parents
                .iter()
                .filter(|(_, p)| *p == parent)
                .map(|(pid, _)| *pid),
        );
        next += 1;
    }
    found
}

/// Resident memory of one process in bytes (`VmRSS`); 0 once it is gone.
pub fn rss_bytes(pid: i32) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}

/// Resident memory of `pids` added up (shared pages count once per process,
/// as `ps` and `top` show them).
pub fn total_rss(pids: &[i32]) -> u64 {
    pids.iter().map(|&pid| rss_bytes(pid)).sum()
}

/// Runs `work` while reading the memory of `pids` every 50 ms; its result and the peak.
pub fn peak_rss<T>(pids: Vec<i32>, work: impl FnOnce() -> T) -> (T, u64) {
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let sampler = scope.spawn(|| {
            let mut peak = 0;
            while !stop.load(Ordering::Relaxed) {
                peak = peak.max(total_rss(&pids));
                std::thread::sleep(Duration::from_millis(50));
            }
            peak
        });
        let result = work();
        stop.store(true, Ordering::Relaxed);
        (result, sampler.join().unwrap_or(0))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_is_in_the_tree_until_it_exits() {
        let me = i32::try_from(std::process::id()).unwrap();
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let pid = i32::try_from(child.id()).unwrap();
        assert!(tree(me).contains(&pid));
        // The child's own memory, not "me and the child > me": this
        // process's RSS moves as the other tests run beside this one.
        assert!(rss_bytes(pid) > 0);
        assert!(!has_exited(pid));
        child.kill().unwrap();
        // A zombie until collected: already counted as exited.
        while !has_exited(pid) {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        child.wait().unwrap();
        assert!(has_exited(pid));
        assert_eq!(total_rss(&[pid, pid]), 0);
    }
}
