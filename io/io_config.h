// IoConfig: the limits and sizes an IoService is built with. Each default
// is what the runtime uses; tests lower the caps to reach them cheaply.
#pragma once

#include <cstddef>
#include <cstdint>

namespace weft {

struct IoConfig {
  // Threads of the blocking pool that runs file work (io/blocking_pool.h).
  // They start on demand, up to this many; 0 counts as 1.
  std::size_t blocking_threads = 4;
  // The largest file read_file and read_lines accept, and the longest line
  // a LineReader accepts. Larger gives EFBIG before any allocation.
  std::uint64_t max_file_bytes = std::uint64_t{1} << 30;  // 1 GiB
  // The most stdout plus stderr one process may produce; past it the child
  // is killed and the run fails with EFBIG.
  std::uint64_t max_process_output = std::uint64_t{256} << 20;  // 256 MiB
  // true: fsync before a write, append or writer close reports success
  // (durable across a power loss). false: the data has been written and
  // the file closed (every reader on the machine sees it; it survives the
  // process, not the machine).
  bool sync_writes = false;
  // true: a child's exit is awaited through a pidfd (Linux 5.3+), falling
  // back to polling if the kernel refuses one. false forces the polling
  // reaper; tests use it to cover that path (io/process_service.h).
  bool use_pidfd = true;
};

}  // namespace weft
