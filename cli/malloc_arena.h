// Prepares each worker thread's glibc malloc arena for bursts of
// allocation.
//
// glibc gives each worker thread an arena of its own: a "heap" of 64 MB of
// address space made usable as it grows. The heap grows by what one request
// lacks, rounded up to a page, and every growth past the most it has ever
// had is an mprotect system call that splits the heap's mapping again: a
// worker that makes 100,000 tasks in a burst made 16,000 of them. Growing
// the heap once, when the worker starts, and freeing what it took leaves
// the space usable without keeping it resident (free trims the heap back
// with madvise), so later growth up to that size costs no system call.
//
// Only for the weft command built with glibc's malloc (WEFT_MALLOC=system,
// no sanitizer), and not when MALLOC_ARENA_MAX is set: with one arena for
// all threads the reservation would come from the shared heap, where it
// leaves a hole that later allocations fill and keep resident (the stress
// runs set MALLOC_ARENA_MAX=1). Not for the library: its host chooses its
// allocator.
#pragma once

#include <functional>

namespace weft::cli {

// At the start of main, before any other thread. Where reserving applies,
// fixes glibc's mmap threshold at 4 MB (where its dynamic threshold settles
// in a program that frees a few large buffers anyway), so that a heap is
// grown with a dozen large blocks instead of hundreds of small ones, and
// returns the SchedulerOptions::on_worker_entry hook that reserves (once
// per thread; later calls return at once). Elsewhere returns an empty
// function and changes nothing.
std::function<void()> prepare_malloc();

}  // namespace weft::cli
