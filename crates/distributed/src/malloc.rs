//! glibc's malloc arenas in the cluster's processes.
//!
//! glibc gives each thread that allocates under contention an arena of its own, up to
//! eight per core, and an arena keeps what is freed in it. In an executor, Ballista's
//! tokio threads and rayon's allocate a bucket's batches and tables and free them on
//! other threads; the arenas kept 5.5-5.7 GiB at the peak of a 10M-person standalone run,
//! against 3.3 GiB with two arenas, which also ran faster (125 s against 130-132 s;
//! `docs/performance.md`).
#![allow(unsafe_code)]

/// The arenas a cluster process uses at most.
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
