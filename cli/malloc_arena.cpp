#include "cli/malloc_arena.h"

#include <array>
#include <cstddef>
#include <cstdlib>

#if WEFT_RESERVE_MALLOC_ARENA
#include <malloc.h>
#endif

namespace weft::cli {

#if WEFT_RESERVE_MALLOC_ARENA
namespace {

// Blocks below the mmap threshold come from the arena's heap; 12 of them
// take 48 MB of its 64.
constexpr std::size_t kMmapThreshold = std::size_t{4} << 20;
constexpr std::size_t kBlockBytes = kMmapThreshold - (std::size_t{64} << 10);
constexpr std::size_t kBlocks = 12;

void reserve_malloc_arena() {
  thread_local bool reserved = false;
  if (reserved) return;
  reserved = true;
  std::array<void*, kBlocks> blocks{};
  for (void*& block : blocks) block = std::malloc(kBlockBytes);
  for (void* block : blocks) std::free(block);
}

}  // namespace
#endif

std::function<void()> prepare_malloc() {
#if WEFT_RESERVE_MALLOC_ARENA
  if (std::getenv("MALLOC_ARENA_MAX") != nullptr) return {};
  if (mallopt(M_MMAP_THRESHOLD, static_cast<int>(kMmapThreshold)) == 0) return {};
  return reserve_malloc_arena;
#else
  return {};
#endif
}

}  // namespace weft::cli
