// The list of suspended script tasks; the protocol is in suspended_tasks.h.
#include "engine/suspended_tasks.h"

#include "engine/script_task.h"

namespace weft {

SuspendedTasks::Shard& SuspendedTasks::shard_of(std::array<Shard, kShards>& shards,
                                                const ScriptTask& task) {
  // Rule 4. Tasks are heap objects at least 64-byte aligned in practice;
  // the low bits carry no information.
  const auto address = reinterpret_cast<std::uintptr_t>(&task);
  return shards[(address >> 6) % kShards];
}

void SuspendedTasks::add(ScriptTask& task) {
  Shard& shard = shard_of(shards_, task);
  std::lock_guard guard(shard.lock);
  SuspendedLink& link = task.suspended_link();
  link.prev = nullptr;
  link.next = shard.head;
  if (shard.head != nullptr) shard.head->suspended_link().prev = &task;
  shard.head = &task;
  link.listed = true;
}

void SuspendedTasks::remove(ScriptTask& task) {
  Shard& shard = shard_of(shards_, task);
  std::lock_guard guard(shard.lock);
  SuspendedLink& link = task.suspended_link();
  if (!link.listed) return;
  if (link.prev != nullptr) {
    link.prev->suspended_link().next = link.next;
  } else {
    shard.head = link.next;
  }
  if (link.next != nullptr) link.next->suspended_link().prev = link.prev;
  link = SuspendedLink{};
}

void SuspendedTasks::for_each(const std::function<void(ScriptTask&)>& visit) {
  for (Shard& shard : shards_) {
    std::lock_guard guard(shard.lock);
    for (ScriptTask* task = shard.head; task != nullptr; task = task->suspended_link().next) {
      visit(*task);
    }
  }
}

}  // namespace weft
