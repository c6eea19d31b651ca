//! glibc's malloc arenas, limited for every command of the process.
//!
//! glibc gives each thread that allocates under contention an arena of its own, up to
//! eight per core, and an arena keeps what is freed in it. rayon's threads (and, on a
//! cluster, Ballista's tokio threads) allocate a source's columns and a bucket's batches
//! and free them on other threads. With two arenas, measured (`docs/performance.md`): a
//! 10M-person standalone cluster run peaked at 3.3 GiB instead of 5.5-5.7 GiB, its
//! executors at 2.7-3.8 GiB instead of 5.0-5.6 GiB; the run on one machine peaked 13%
//! lower on a 1M town and ran 7% faster on a 10M one.
#![allow(unsafe_code)]

/// The arenas the process uses at most.
pub const ARENAS: i32 = 2;

/// Limits glibc's arenas to [`ARENAS`], unless `MALLOC_ARENA_MAX` is set (then glibc
/// already took it). Does nothing on other C libraries. Returns whether it set the limit.
pub fn limit_arenas() -> bool {
    if std::env::var_os("MALLOC_ARENA_MAX").is_some() {
        return false;
    }
    set_limit()
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn set_limit() -> bool {
    // SAFETY: mallopt only changes a parameter of the allocator; M_ARENA_MAX applies to
    // arenas made from now on, and any value above 0 is valid.
    unsafe { libc::mallopt(libc::M_ARENA_MAX, ARENAS) == 1 }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn set_limit() -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn the_limit_is_set_on_glibc_unless_the_environment_sets_it() {
        let set = limit_arenas();
        assert_eq!(set, std::env::var_os("MALLOC_ARENA_MAX").is_none());
    }
}
