//! The allocator settings the server starts with (`tune_allocator`): large
//! buffers go back to the system when freed, even after a larger one has
//! been freed before. Its own test binary, so that no other test's threads
//! allocate while it measures the process.

fn resident_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// A buffer of `n` bytes, every page of it touched.
fn filled(n: usize) -> Vec<u8> {
    std::hint::black_box(vec![1u8; n])
}

#[test]
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn buffers_of_a_finished_batch_go_back_to_the_system() {
    contactbook::tune_allocator();
    // glibc's default would now serve every block below 8 MiB from the heap
    // and keep up to 16 MiB of it free.
    drop(filled(8 << 20));
    let before = resident_mb();
    // A batch: megabyte buffers with small values that outlive them
    // between, as a job's rows and the strings it keeps.
    let mut kept = Vec::new();
    let mut buffers = Vec::new();
    for i in 0..48 {
        buffers.push(filled(1 << 20));
        kept.push(format!("value {i}"));
    }
    let during = resident_mb();
    drop(buffers);
    let after = resident_mb();
    assert!(during - before > 40.0, "{before:.1} → {during:.1} MB");
    assert!(
        after - before < 8.0,
        "{before:.1} MB before, {during:.1} during, {after:.1} after: the freed buffers stayed"
    );
    // Only now: the small values sat between the buffers while they were freed.
    drop(kept);
}
