// The header every heap object starts with, and its reference count.
//
// Protocol (reference counts are shared state: any task on any worker may
// hold a reference to the same object):
//   1. A new object starts with a count of one, owned by whoever made it.
//   2. retain() may be called by any holder; it never needs ordering with
//      other memory (relaxed): a holder already has a reference, so the
//      object cannot be freed under it.
//   3. release() decrements with acq_rel: the release half publishes this
//      holder's writes to the object, the acquire half (taken by the thread
//      that brings the count to zero) sees every other holder's writes
//      before the object is destroyed.
//   4. Immortal objects (constants, interned names, module-level functions,
//      builtins) skip both: reading them on the hot path writes no memory
//      that other cores read. They are owned by the runtime and freed when
//      it is.
//   5. Destruction is iterative (destroy_object below): releasing the last
//      reference to a list nested a million deep must not recurse on the
//      C++ stack.
//   6. A reference that is the object's only one (held_only_by(1), not
//      immortal) and lives where no other task can read it (a register of
//      the running fiber) is the only way to the object: no other task can
//      reach it, or come to, except through what its holder does next.
//      Operations through such a reference may skip the object's lock
//      (Reach::Sole, array.h rule 7). The acquire load in held_only_by
//      orders every earlier holder's accesses before them; whatever later
//      hands the object to another task (a lock, a queue, a promise)
//      orders them before that task's. Arrays and maps are in no weak
//      registry (try_retain), so nothing else can revive a reference.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "engine/inline_vector.h"

namespace weft {

enum class ObjType : uint8_t {
  String,
  Array,
  Map,
  Range,
  Proto,
  Closure,
  Cell,
  Native,
  Exception,
  Future,
  Atom,
  Resource,      // engine/resource.h
  Channel,       // engine/channel.h
  Actor,         // engine/actor.h
  ActorContext,  // engine/actor.h: the handler's ctx
  Supervisor,    // engine/actor.h
  ArrayCursor,   // engine/array_cursor.h: a `for` loop's place in a shared array
};

enum ObjFlag : uint8_t {
  kFrozen = 1,    // deep-immutable: mutation throws, sharing needs no copy
  kImmortal = 2,  // never counted, never freed by release()
};

class Obj;

// How an operation reaches the object it works on (rule 6).
enum class Reach : uint8_t {
  Shared,  // other tasks may hold it too: its lock orders the access
  Sole,    // through its only reference, which no other task can read
};

// Collects the children of objects being destroyed, so that destruction of
// a deep structure is a loop, not a recursion (rule 5). The first few
// entries live in place: freeing a task, a future or a closure (a handful
// of children) allocates nothing.
class DestroyWorklist {
 public:
  DestroyWorklist() = default;
  explicit DestroyWorklist(Obj* first) { push_back(first); }

  void push_back(Obj* obj) { entries_.push_back(obj); }
  bool empty() const { return entries_.empty(); }
  // Any entry; the order of destruction does not matter.
  Obj* take() {
    Obj* obj = entries_.back();
    entries_.pop_back();
    return obj;
  }

 private:
  InlineVector<Obj*, 8> entries_;
};

class Obj {
 public:
  explicit Obj(ObjType type) : type_(type) {}
  Obj(const Obj&) = delete;
  Obj& operator=(const Obj&) = delete;
  virtual ~Obj() = default;

  ObjType type() const { return type_; }

  void retain() {
    if (is_immortal()) return;
    // Rule 2: the caller holds a reference already; no ordering needed.
    refcount_.fetch_add(1, std::memory_order_relaxed);
  }

  // For weak registries (engine/actor.h): takes a reference unless the
  // count has reached zero already (the object is being destroyed, and its
  // destructor unregisters it under the registry's lock, which the caller
  // holds). Relaxed: that lock orders everything.
  [[nodiscard]] bool try_retain() {
    if (is_immortal()) return true;
    uint32_t count = refcount_.load(std::memory_order_relaxed);
    while (count != 0) {
      if (refcount_.compare_exchange_weak(count, count + 1, std::memory_order_relaxed)) return true;
    }
    return false;
  }

  // Returns true when this call dropped the last reference; the caller must
  // then hand the object to destroy_object().
  [[nodiscard]] bool release_ref() {
    if (is_immortal()) return false;
    // Rule 3: acq_rel pairs with the releases of every other holder.
    return refcount_.fetch_sub(1, std::memory_order_acq_rel) == 1;
  }

  uint32_t refcount() const {
    // Diagnostics only (leak checks, tests); no ordering is implied.
    return refcount_.load(std::memory_order_relaxed);
  }

  // The caller holds all `references` there are, so nobody else can reach
  // the object: it may change what others would read. Acquire: pairs with
  // the acq_rel decrement of every holder that let go, so their uses of
  // the object happen before the caller's changes.
  [[nodiscard]] bool held_only_by(uint32_t references) const {
    return refcount_.load(std::memory_order_acquire) == references;
  }

  // Rule 6, for a reference that no other task can read.
  [[nodiscard]] Reach reach_through_private_reference() const {
    return !is_immortal() && held_only_by(1) ? Reach::Sole : Reach::Shared;
  }

  bool is_frozen() const {
    // Acquire pairs with the release in set_flag(kFrozen): a task that sees
    // the frozen bit also sees the deep freeze that preceded it.
    return flags_.load(std::memory_order_acquire) & kFrozen;
  }
  bool is_immortal() const {
    // Immortality is set before an object is shared (at compile or
    // registration time) and never cleared; relaxed is enough.
    return flags_.load(std::memory_order_relaxed) & kImmortal;
  }
  void set_flag(ObjFlag flag) {
    // Release pairs with the acquire in is_frozen().
    flags_.fetch_or(flag, std::memory_order_release);
  }

  // Moves every child reference into `worklist` when this object is about
  // to be destroyed; children whose count reaches zero are destroyed by the
  // caller's loop rather than recursively.
  virtual void release_children(DestroyWorklist& worklist) { (void)worklist; }

 private:
  std::atomic<uint32_t> refcount_{1};
  ObjType type_;
  std::atomic<uint8_t> flags_{0};
};

// Destroys `root` (whose count has reached zero) and every child that only
// it kept alive, iteratively.
void destroy_object(Obj* root);

// Frees a set of immortal objects that may refer to each other and to
// mortal objects: first every child reference is dropped (references
// between immortals are skipped by release_ref), then all are deleted.
void destroy_immortals(const std::vector<Obj*>& immortals);

inline void release(Obj* obj) {
  if (obj != nullptr && obj->release_ref()) destroy_object(obj);
}

}  // namespace weft
