#include "engine/runtime.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <random>

#include "engine/actor.h"
#include "engine/program.h"
#include "engine/regex_cache.h"
#include "engine/stdlib/stdlib.h"
#include "io/io_service.h"
#include "scheduler/scheduler.h"
#include "scheduler/trace_recorder.h"

namespace weft {

namespace {

constexpr size_t kOutputFlushBytes = 64 * 1024;

uint64_t random_seed() {
  std::random_device device;
  return (static_cast<uint64_t>(device()) << 32) ^ device();
}

}  // namespace

Runtime::Runtime(RuntimeOptions options)
    : options_(std::move(options)),
      regex_cache_(std::make_unique<RegexCache>()),
      rng_state_(random_seed()),
      stdout_is_terminal_(isatty(STDOUT_FILENO) == 1) {
  register_stdlib(*this);
}

Runtime::~Runtime() {
  // Every task has ended by now. The I/O thread goes first: its shutdown
  // settles pending timers, which may queue callback tasks; then the pool
  // finishes those and goes before the builtins they refer to.
  if (io_) io_->shutdown();
  if (scheduler_) scheduler_->wait_for_all_tasks_ended();
  release_actors();
  io_.reset();
  scheduler_.reset();
  flush_out();
  // The tables hold references to immortals; clearing them releases
  // nothing, but no one may find a builtin once it is freed.
  methods_.clear();
  builtins_.clear();
  builtin_index_.clear();
  destroy_immortals(immortals_);
  immortals_.clear();
}

void Runtime::register_actor(Actor* actor) {
  std::lock_guard guard(actors_lock_);
  actors_.insert(actor);
}

void Runtime::unregister_actor(Actor* actor) {
  std::lock_guard guard(actors_lock_);
  actors_.erase(actor);
}

void Runtime::release_actors() {
  std::vector<Value> live;
  {
    std::lock_guard guard(actors_lock_);
    for (Actor* actor : actors_) {
      if (actor->try_retain()) live.push_back(Value::adopt(actor));
    }
  }
  for (const Value& actor : live) actor.as<Actor>()->release_script_values();
}

uint32_t Runtime::register_builtin(std::string name, Value callable) {
  if (callable.is_object()) adopt_immortal(callable.as_object());
  auto it = builtin_index_.find(name);
  if (it != builtin_index_.end()) {
    builtins_[it->second] = std::move(callable);
    return it->second;
  }
  uint32_t index = static_cast<uint32_t>(builtins_.size());
  builtins_.push_back(std::move(callable));
  builtin_names_.push_back(name);
  builtin_index_.emplace(std::move(name), index);
  return index;
}

void Runtime::register_native(std::string name, NativeFn fn, int min_args, int max_args,
                              std::vector<std::string> keywords) {
  Value native = Value::adopt(new Native(name, fn, min_args, max_args));
  native.as<Native>()->set_keywords(std::move(keywords));
  register_builtin(std::move(name), std::move(native));
}

int64_t Runtime::find_builtin(std::string_view name) const {
  auto it = builtin_index_.find(name);
  return it == builtin_index_.end() ? -1 : static_cast<int64_t>(it->second);
}

void Runtime::register_method(ObjType type, std::string name, Value callable) {
  if (callable.is_object()) adopt_immortal(callable.as_object());
  size_t index = static_cast<size_t>(type);
  if (index >= methods_.size()) methods_.resize(index + 1);
  methods_[index].insert_or_assign(std::move(name), std::move(callable));
}

void Runtime::register_native_method(ObjType type, std::string name, NativeFn fn, int min_args,
                                     int max_args, std::vector<std::string> keywords) {
  Value native = Value::adopt(new Native(name, fn, min_args, max_args));
  native.as<Native>()->set_keywords(std::move(keywords));
  register_method(type, std::move(name), std::move(native));
}

const Value* Runtime::find_method(ObjType type, std::string_view name) const {
  size_t index = static_cast<size_t>(type);
  if (index >= methods_.size()) return nullptr;
  const auto& table = methods_[index];
  auto it = table.find(name);
  return it == table.end() ? nullptr : &it->second;
}

// Registration happens while the runtime is being set up, before any task
// runs, so `immortals_` needs no lock. An object that is immortal already
// belongs to someone else (a module) and is not taken over.
void Runtime::adopt_immortal(Obj* obj) {
  if (obj->is_immortal()) return;
  obj->set_flag(kImmortal);
  immortals_.push_back(obj);
}

void Runtime::write_out(std::string_view text) {
  std::lock_guard guard(out_lock_);
  if (capture_ != nullptr) {
    capture_->append(text);
    return;
  }
  out_buffer_.append(text);
  if (stdout_is_terminal_ || out_buffer_.size() > kOutputFlushBytes) {
    std::fwrite(out_buffer_.data(), 1, out_buffer_.size(), stdout);
    out_buffer_.clear();
    if (stdout_is_terminal_) std::fflush(stdout);
  }
  // Relaxed: a hint for flush_out_if_pending; the lock orders the buffer.
  out_pending_.store(!out_buffer_.empty(), std::memory_order_relaxed);
}

void Runtime::flush_out_if_pending() {
  // Relaxed: a stale false only delays the flush to the next suspension
  // or the end of the program; a stale true costs one lock.
  if (out_pending_.load(std::memory_order_relaxed)) flush_out();
}

void Runtime::fail_fatally(const char* message) noexcept {
  try {
    flush_out();
  } catch (...) {
    std::fflush(stdout);
  }
  std::fputs(message, stderr);
  std::fflush(stderr);
  std::_Exit(kExitRuntimeError);
}

void Runtime::flush_out() {
  std::lock_guard guard(out_lock_);
  if (!out_buffer_.empty()) {
    if (capture_ != nullptr) {
      capture_->append(out_buffer_);
    } else {
      std::fwrite(out_buffer_.data(), 1, out_buffer_.size(), stdout);
    }
    out_buffer_.clear();
  }
  out_pending_.store(false, std::memory_order_relaxed);
  if (capture_ == nullptr) std::fflush(stdout);
}

uint64_t Runtime::next_random() {
  // SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number
  // generators", 2014): each draw claims the next counter value, so
  // concurrent callers get distinct outputs. Relaxed: the counter orders no
  // other memory.
  uint64_t z = rng_state_.fetch_add(0x9E3779B97F4A7C15ull, std::memory_order_relaxed) +
               0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace weft
