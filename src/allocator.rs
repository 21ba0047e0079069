//! How the `weave` binary (and the benchmarks, to show its figures) tune their allocator,
//! mimalloc.

/// Memory freed goes back to the system this long after, not within mimalloc's default 10 ms:
/// a plan frees and takes again hundreds of megabytes over its seconds, and every page given
/// back and taken again is a page fault to zero it, slow on this kind of virtual machine
/// (two national plans in one process: 95,000–125,000 faults with one second, 6,000–9,000
/// with ten, and a quarter less processor time).
const PURGE_DELAY_MS: std::ffi::c_long = 10_000;

/// `mi_option_purge_delay` in mimalloc's header (libmimalloc-sys names no constant for it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Sets the allocator's options; call first thing in `main`.
pub fn configure() {
    // SAFETY: mimalloc's options may be set at any time from any thread; this one is read
    // when freed memory is next considered for purging.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS) }
}
