//! The process's memory allocator and how freed memory goes back to the system. Every Rust
//! allocation goes to jemalloc, configured so that an idle server does not keep what a busy
//! session freed: dirty pages decay back to the system within about a second, on jemalloc's own
//! background thread (no allocation needs to happen for that), and [`release`] gives back at once
//! what is free after a session. Its statistics tell live bytes from retained ones (`/metrics`).
//! C code (SQLite) still uses the C library's `malloc`; [`release`] trims that too.

use tikv_jemalloc_ctl::{epoch, stats};

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, read once before the first allocation. `background_thread`: purging runs
/// on its own thread; `dirty_decay_ms`: freed pages go back after about a second (the default,
/// 10 s, keeps a session's memory long after it ended); `muzzy_decay_ms:0`: given back with
/// `MADV_DONTNEED`, which lowers the RSS at once (`MADV_FREE` only does under memory pressure).
#[unsafe(export_name = "_rjem_malloc_conf")]
static MALLOC_CONF: &[u8; 60] = b"background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0\0";

/// What the allocator holds, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeapStats {
    /// Live allocations.
    pub allocated: u64,
    /// Resident pages of the allocator (live, free but not yet given back, and its metadata).
    pub resident: u64,
}

/// The allocator's figures now; `None` if it cannot tell.
pub fn heap_stats() -> Option<HeapStats> {
    // The statistics are cached; advancing the epoch refreshes them.
    epoch::advance().ok()?;
    Some(HeapStats {
        allocated: stats::allocated::read().ok()? as u64,
        resident: stats::resident::read().ok()? as u64,
    })
}

/// Gives free memory back to the system now: jemalloc's free pages in every arena, and the C
/// library's (`malloc_trim`). Takes a few milliseconds: call it off the async workers. False if
/// jemalloc refused (it never should).
pub fn release() -> bool {
    // `arena.<MALLCTL_ARENAS_ALL>.purge` (MALLCTL_ARENAS_ALL is 4096) takes and gives no value.
    // SAFETY: a valid NUL-terminated control name, with null pointers for no value.
    let purged = unsafe {
        tikv_jemalloc_sys::mallctl(
            c"arena.4096.purge".as_ptr(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
        )
    } == 0;
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the C allocator's own free lists; it takes its own locks.
    unsafe {
        libc::malloc_trim(0);
    }
    purged
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_options_are_a_c_string() {
        let conf = &MALLOC_CONF[..];
        assert_eq!(conf.iter().position(|&b| b == 0), Some(conf.len() - 1));
        let text = std::str::from_utf8(&conf[..conf.len() - 1]).unwrap();
        for option in text.split(',') {
            assert!(option.split_once(':').is_some(), "{option}");
        }
    }

    #[test]
    fn the_allocator_is_jemalloc_and_purging_gives_pages_back() {
        assert_eq!(
            tikv_jemalloc_ctl::opt::background_thread::read().ok(),
            Some(true),
            "the options were read"
        );
        // 128 MiB in 2,048 blocks of 64 KiB (in the ordinary arenas, below the size that
        // jemalloc gives back at once), written (so resident), then freed: most of it leaves at
        // the purge (other tests of this process allocate meanwhile, far less than that).
        let blocks: Vec<Vec<u8>> = (0..2048).map(|_| vec![1u8; 64 << 10]).collect();
        std::hint::black_box(&blocks);
        let during = heap_stats().expect("jemalloc statistics");
        assert!(during.allocated >= 128 << 20, "{during:?}");
        assert!(during.resident >= 128 << 20, "{during:?}");
        drop(blocks);
        assert!(release(), "jemalloc purges");
        let after = heap_stats().unwrap();
        assert!(
            after.resident + (64 << 20) < during.resident,
            "{during:?} → {after:?}"
        );
    }
}
