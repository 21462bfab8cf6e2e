//! The binary's allocator: the system one for ordinary blocks; big blocks straight from the
//! kernel, in whole 2 MB pages.
//!
//! The model of a big export lives in a few large blocks (the intern and snapshot tables, the
//! call and history arrays), read at random, once per event or more. With 4 KB pages each of
//! those reads can also miss the TLB, and each first touch of a page is a fault. Where
//! transparent huge pages are in `madvise` mode (a common default) anonymous memory gets 2 MB
//! pages only when asked, and only where a whole, aligned 2 MB range lies inside the mapping:
//! glibc's own big blocks start 4 KB past a page boundary and hold few such ranges. So blocks
//! of 2 MB and more are mapped here, in whole multiples of 2 MB (which recent Linux kernels
//! place on a 2 MB boundary; where one does not, only part of a block gets huge pages),
//! advised, grown with `mremap` and unmapped when freed. A big block is rare (a few dozen in a
//! load of 1M events) and long-lived, so a system call each costs nothing. Measured in
//! BENCHMARKS.md.
//!
//! Where THP's `defrag` is `madvise` too, a first touch of such a block may wait for the kernel
//! to compact memory into a free 2 MB page; blocks this big are mostly made while a model is
//! built, and the explorer's key presses, measured with this allocator, stay within a few
//! milliseconds. With THP turned off the advice is ignored and the pages are 4 KB.

use std::alloc::{GlobalAlloc, Layout, System};

/// [`System`] for blocks under 2 MB; 2 MB pages from the kernel for bigger ones (on Linux).
pub struct HugePageAlloc;

#[cfg(target_os = "linux")]
mod big {
    use std::alloc::Layout;
    use std::ptr;

    /// The huge page size of x86-64 and of arm64 with 4 KB pages.
    const HUGE_PAGE: usize = 2 << 20;

    /// Whether a block of this layout is mapped here rather than by [`std::alloc::System`].
    /// Only the layout decides, so `dealloc` and `realloc` find a block where `alloc` put it.
    pub(super) fn is_big(size: usize, layout: Layout) -> bool {
        size >= HUGE_PAGE && layout.align() <= 4096
    }

    /// The mapping's length: the block rounded up to whole huge pages.
    fn mapped(size: usize) -> Option<usize> {
        size.checked_next_multiple_of(HUGE_PAGE)
    }

    /// Maps `size` bytes of zeroed memory, advised for huge pages; null when it cannot.
    pub(super) fn map(size: usize) -> *mut u8 {
        let Some(len) = mapped(size) else {
            return ptr::null_mut();
        };
        // SAFETY: a fresh private anonymous mapping; no existing memory is touched.
        let p = unsafe {
            libc::mmap(
                ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return ptr::null_mut();
        }
        advise(p, len);
        p.cast()
    }

    /// Unmaps a block [`map`] or [`remap`] returned for `size` bytes.
    ///
    /// # Safety
    /// `p` must be such a block, not used afterwards.
    pub(super) unsafe fn unmap(p: *mut u8, size: usize) {
        if let Some(len) = mapped(size) {
            // SAFETY: the caller's; `len` is the length it was mapped with.
            let _ = unsafe { libc::munmap(p.cast(), len) };
        }
    }

    /// Moves or resizes a mapped block from `old` to `new` bytes, keeping its contents; null
    /// (with the block left as it was) when it cannot.
    ///
    /// # Safety
    /// `p` must be a block [`map`] or [`remap`] returned for `old` bytes.
    pub(super) unsafe fn remap(p: *mut u8, old: usize, new: usize) -> *mut u8 {
        let (Some(from), Some(to)) = (mapped(old), mapped(new)) else {
            return ptr::null_mut();
        };
        if from == to {
            return p;
        }
        // SAFETY: the caller's; the kernel moves the pages (and their advice) or fails and
        // leaves the mapping untouched.
        let q = unsafe { libc::mremap(p.cast(), from, to, libc::MREMAP_MAYMOVE) };
        if q == libc::MAP_FAILED {
            return ptr::null_mut();
        }
        q.cast()
    }

    fn advise(p: *mut libc::c_void, len: usize) {
        // SAFETY: the range is a mapping this module just made; MADV_HUGEPAGE is advice and
        // changes no byte. Its failure (THP turned off, an old kernel) only leaves 4 KB pages.
        let _ = unsafe { libc::madvise(p, len, libc::MADV_HUGEPAGE) };
    }
}

#[cfg(not(target_os = "linux"))]
mod big {
    use std::alloc::Layout;

    pub(super) fn is_big(_size: usize, _layout: Layout) -> bool {
        false
    }
    pub(super) fn map(_size: usize) -> *mut u8 {
        std::ptr::null_mut()
    }
    pub(super) unsafe fn unmap(_p: *mut u8, _size: usize) {}
    pub(super) unsafe fn remap(_p: *mut u8, _old: usize, _new: usize) -> *mut u8 {
        std::ptr::null_mut()
    }
}

// SAFETY: a block is either `System`'s or a mapping of `big`'s, decided by its layout alone
// (`big::is_big`), so every block is freed or resized by whoever made it. Mappings are
// page-aligned, which covers every alignment `is_big` accepts, and zeroed when made.
unsafe impl GlobalAlloc for HugePageAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if big::is_big(layout.size(), layout) {
            return big::map(layout.size());
        }
        // SAFETY: the caller's contract is `System`'s.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if big::is_big(layout.size(), layout) {
            return big::map(layout.size());
        }
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if big::is_big(layout.size(), layout) {
            // SAFETY: `alloc` mapped it, for this size.
            return unsafe { big::unmap(ptr, layout.size()) };
        }
        // SAFETY: `ptr` came from `System`, with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        match (
            big::is_big(layout.size(), layout),
            big::is_big(new_size, layout),
        ) {
            // SAFETY: both sizes are `System`'s; the caller's contract is its own.
            (false, false) => unsafe { System.realloc(ptr, layout, new_size) },
            // SAFETY: `alloc` or an earlier `realloc` mapped it, for `layout.size()`.
            (true, true) => unsafe { big::remap(ptr, layout.size(), new_size) },
            _ => {
                // Across the line: a new block from the other side, the bytes copied over.
                // SAFETY: the caller guarantees `new_size` with `layout.align()` is a valid
                // layout; `ptr` holds `layout.size()` bytes and the new block `new_size`.
                unsafe {
                    let new = Layout::from_size_align_unchecked(new_size, layout.align());
                    let q = self.alloc(new);
                    if !q.is_null() {
                        std::ptr::copy_nonoverlapping(ptr, q, layout.size().min(new_size));
                        self.dealloc(ptr, layout);
                    }
                    q
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fills `n` bytes at `p` with a pattern [`holds`] checks.
    unsafe fn fill(p: *mut u8, n: usize) {
        for i in 0..n {
            // SAFETY: the caller's: `p` holds `n` bytes.
            unsafe { *p.add(i) = (i % 251) as u8 };
        }
    }

    unsafe fn holds(p: *const u8, n: usize) -> bool {
        // SAFETY: the caller's: `p` holds `n` bytes.
        (0..n).all(|i| unsafe { *p.add(i) } == (i % 251) as u8)
    }

    #[test]
    fn blocks_keep_their_bytes_when_resized_within_and_across_the_line() {
        let steps = [
            100,
            3 << 20,
            9 << 20,
            (9 << 20) + 1,
            5 << 20,
            64,
            2 << 20,
            (2 << 20) - 1,
        ];
        let mut size = 10;
        let layout = |size| Layout::from_size_align(size, 16).unwrap();
        // SAFETY: non-zero layouts; every pointer is checked, and freed with its layout.
        unsafe {
            let mut p = HugePageAlloc.alloc(layout(size));
            assert!(!p.is_null());
            fill(p, size);
            for next in steps {
                p = HugePageAlloc.realloc(p, layout(size), next);
                assert!(!p.is_null(), "{size} -> {next}");
                assert_eq!(p as usize % 16, 0);
                assert!(holds(p, size.min(next)), "{size} -> {next}");
                fill(p, next);
                size = next;
            }
            HugePageAlloc.dealloc(p, layout(size));
        }
    }

    #[test]
    fn zeroed_blocks_are_zero_big_or_small() {
        for size in [4096, 5 << 20] {
            let layout = Layout::from_size_align(size, 64).unwrap();
            // SAFETY: a non-zero layout, freed with itself.
            unsafe {
                let p = HugePageAlloc.alloc_zeroed(layout);
                assert!(!p.is_null());
                assert_eq!(p as usize % 64, 0);
                assert!((0..size).all(|i| *p.add(i) == 0));
                HugePageAlloc.dealloc(p, layout);
            }
        }
    }

    #[test]
    fn a_big_block_with_an_alignment_past_a_page_is_the_system_s() {
        let layout = Layout::from_size_align(3 << 20, 1 << 16).unwrap();
        // SAFETY: a non-zero layout, freed with itself.
        unsafe {
            let p = HugePageAlloc.alloc(layout);
            assert!(!p.is_null());
            assert_eq!(p as usize % (1 << 16), 0);
            fill(p, layout.size());
            assert!(holds(p, layout.size()));
            HugePageAlloc.dealloc(p, layout);
        }
    }

    #[test]
    fn an_impossible_size_is_refused_not_wrapped() {
        let layout = Layout::from_size_align(isize::MAX as usize - 4095, 8).unwrap();
        // SAFETY: a non-zero layout; a null result is the refusal this test wants.
        let p = unsafe { HugePageAlloc.alloc(layout) };
        assert!(p.is_null());
    }
}
