//! The process's memory allocator and how freed memory goes back to the system. Every Rust
//! allocation goes to jemalloc, configured so that an idle server does not keep what a busy
//! session freed: dirty pages decay back to the system within about a second, on jemalloc's own
//! background thread (no allocation needs to happen for that), and [`release`] gives back at once
//! what is free after a session, including what the runtime's threads keep in their caches. Its
//! statistics tell live bytes from retained ones (`/metrics`).
//! SQLite allocates through jemalloc too ([`sqlite_on_jemalloc`]), so what a closed database
//! connection frees goes back the same way; other C code uses the C library's `malloc`, which
//! [`release`] trims.

use std::cell::Cell;
use std::ffi::{c_int, c_void};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
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
/// library's (`malloc_trim`); and asks the runtime's threads to flush their thread caches when
/// they next go idle ([`on_thread_idle`]). Takes a few milliseconds: call it off the async
/// workers. False if jemalloc refused (it never should).
pub fn release() -> bool {
    CACHE_FLUSH.fetch_add(1, Relaxed);
    flush_thread_cache();
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

/// Bumped by [`release`]: each thread that calls [`on_thread_idle`] flushes its cache once per bump.
static CACHE_FLUSH: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// The [`CACHE_FLUSH`] value this thread last flushed its cache for.
    static CACHE_FLUSHED: Cell<u64> = const { Cell::new(0) };
}

/// For the runtime's `on_thread_park`, called by a worker about to go idle. jemalloc gives each
/// thread a cache of freed blocks (up to a few MB on a thread that was busy) that only that
/// thread's own later allocations shrink, so a worker idle after a session would keep it for
/// good: it is flushed here, once after each [`release`]. Otherwise this is one atomic load.
/// True if it flushed.
pub fn on_thread_idle() -> bool {
    let wanted = CACHE_FLUSH.load(Relaxed);
    CACHE_FLUSHED.with(|seen| flush_due(seen, wanted)) && flush_thread_cache()
}

/// Whether a thread that last flushed for `seen` must flush for `wanted` (and records it).
fn flush_due(seen: &Cell<u64>, wanted: u64) -> bool {
    seen.replace(wanted) != wanted
}

/// Returns the calling thread's cached free blocks to their arenas (`thread.tcache.flush`),
/// from where they go back to the system within about a second. For a thread that frees much and
/// then sleeps (the media thread after a session).
pub fn flush_thread_cache() -> bool {
    // SAFETY: a valid NUL-terminated control name that takes and gives no value.
    unsafe {
        tikv_jemalloc_sys::mallctl(
            c"thread.tcache.flush".as_ptr(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
        ) == 0
    }
}

/// Makes SQLite allocate through jemalloc (`SQLITE_CONFIG_MALLOC`, SQLite's interface for an
/// application's allocator) instead of the C library's `malloc`: the page caches, statements
/// and schemas of the pooled connections then count in [`heap_stats`], and what a closed
/// connection frees goes back within a second like any other allocation (the C library keeps
/// it in per-thread arenas until a trim). SQLite accepts this only before its first use in the
/// process, and the call must not race another thread's use of SQLite: `store::open`, the
/// first use, makes it, once. False if SQLite was already initialized (it keeps `malloc`).
pub fn sqlite_on_jemalloc() -> bool {
    static SET: OnceLock<bool> = OnceLock::new();
    *SET.get_or_init(|| {
        let methods = libsqlite3_sys::sqlite3_mem_methods {
            xMalloc: Some(sqlite_malloc),
            xFree: Some(sqlite_free),
            xRealloc: Some(sqlite_realloc),
            xSize: Some(sqlite_size),
            xRoundup: Some(sqlite_roundup),
            xInit: Some(sqlite_init),
            xShutdown: Some(sqlite_shutdown),
            pAppData: std::ptr::null_mut(),
        };
        // SAFETY: SQLite copies the methods before returning; it refuses (SQLITE_MISUSE) once
        // initialized. Callers of this function are serialized by the `OnceLock`.
        let rc = unsafe {
            libsqlite3_sys::sqlite3_config(
                libsqlite3_sys::SQLITE_CONFIG_MALLOC,
                &methods as *const libsqlite3_sys::sqlite3_mem_methods,
            )
        };
        rc == libsqlite3_sys::SQLITE_OK
    })
}

// SQLite's allocator methods: it asks for sizes in 1..0x7fffff00 (rounded by `xRoundup` first),
// never frees or resizes a null pointer, and needs 8-byte alignment (jemalloc gives 16 from 16
// bytes on, 8 below).

unsafe extern "C" fn sqlite_malloc(n: c_int) -> *mut c_void {
    match usize::try_from(n) {
        // SAFETY: jemalloc's malloc, freed by `sqlite_free`.
        Ok(n) if n > 0 => unsafe { tikv_jemalloc_sys::malloc(n) },
        _ => std::ptr::null_mut(),
    }
}

unsafe extern "C" fn sqlite_free(p: *mut c_void) {
    // SAFETY: `p` came from `sqlite_malloc` / `sqlite_realloc` (or is null: a no-op).
    unsafe { tikv_jemalloc_sys::free(p) }
}

unsafe extern "C" fn sqlite_realloc(p: *mut c_void, n: c_int) -> *mut c_void {
    match usize::try_from(n) {
        // SAFETY: `p` came from `sqlite_malloc` / `sqlite_realloc`.
        Ok(n) if n > 0 => unsafe { tikv_jemalloc_sys::realloc(p, n) },
        _ => std::ptr::null_mut(),
    }
}

unsafe extern "C" fn sqlite_size(p: *mut c_void) -> c_int {
    if p.is_null() {
        return 0;
    }
    // SAFETY: `p` is a live allocation of jemalloc's (see `sqlite_free`).
    let size = unsafe { tikv_jemalloc_sys::malloc_usable_size(p) };
    c_int::try_from(size).unwrap_or(c_int::MAX)
}

unsafe extern "C" fn sqlite_roundup(n: c_int) -> c_int {
    match usize::try_from(n) {
        // SAFETY: nallocx only computes a size class.
        Ok(size) if size > 0 => {
            c_int::try_from(unsafe { tikv_jemalloc_sys::nallocx(size, 0) }).unwrap_or(n)
        }
        _ => n,
    }
}

unsafe extern "C" fn sqlite_init(_: *mut c_void) -> c_int {
    libsqlite3_sys::SQLITE_OK
}

unsafe extern "C" fn sqlite_shutdown(_: *mut c_void) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_idle_thread_flushes_its_cache_once_per_release() {
        let seen = Cell::new(0);
        assert!(!flush_due(&seen, 0), "nothing asked yet");
        assert!(flush_due(&seen, 1), "a release asked");
        assert!(!flush_due(&seen, 1), "once");
        assert!(flush_due(&seen, 3), "two more releases: one flush");
        assert_eq!(seen.get(), 3);
        // jemalloc accepts the flush, on a thread that has a cache.
        std::thread::spawn(|| {
            drop(std::hint::black_box(vec![0u8; 100]));
            assert!(flush_thread_cache());
        })
        .join()
        .unwrap();
    }

    #[test]
    fn sqlite_allocates_through_jemalloc() {
        // The first use of SQLite in this process goes through this (`store::open` too).
        assert!(sqlite_on_jemalloc());
        assert!(sqlite_on_jemalloc(), "asking again changes nothing");
        // SAFETY: SQLite's own allocation functions, freed below.
        unsafe {
            let p = libsqlite3_sys::sqlite3_malloc(1000);
            assert!(!p.is_null());
            // jemalloc's size class; SQLite's default allocator would report 1,000.
            assert_eq!(libsqlite3_sys::sqlite3_msize(p), 1024);
            let p = libsqlite3_sys::sqlite3_realloc(p, 5000);
            assert!(!p.is_null());
            assert_eq!(libsqlite3_sys::sqlite3_msize(p), 5120);
            libsqlite3_sys::sqlite3_free(p);
        }
    }

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
