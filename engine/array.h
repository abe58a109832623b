// Mutable arrays. Several tasks may use one array at once: every operation
// takes the array's lock for its own duration only.
//
// Protocol:
//   1. `items_` is read and written only while `lock_` is held.
//   2. No operation holds the lock while it runs script code, touches
//      another object's lock, or releases a reference that might destroy an
//      object (values removed are moved out first and dropped after unlock).
//   3. Compound work (sorting, printing, comparing) runs on a snapshot().
//   4. A frozen array is never mutated; the frozen check happens under the
//      lock so a concurrent freeze is ordered with the mutation.
//   5. freeze() sets the flag under the lock, so a task that sees the array
//      frozen (an acquire load) sees every mutation that came before, and
//      none can come after: reads of a frozen array (get, try_get, size,
//      snapshot) take no lock. Many tasks reading one frozen array (a
//      table every actor consults) then share its cache line instead of
//      fighting for the lock's.
//   6. A compound assignment `(a/i op= x)` is one step (update()): no other
//      write to the item falls between its read and its write. A number
//      item is combined under the lock (arithmetic on numbers runs no
//      script code, takes no lock and releases nothing: rule 2 holds);
//      any other item is combined outside the lock and written only if
//      the item is still the one read (the same bits), else read again.
//   7. An operation given Reach::Sole (object.h rule 6: the caller holds
//      the only reference, where no other task can read it) takes no
//      lock: no other task can reach the array while it runs. The VM
//      gives it for paths through a register (`state/0 += 1` on the state
//      array an actor's handler was handed).
//   8. Every change to `items_` through a Shared reach bumps `version_`
//      (64 bits: it never wraps back to a version a reader holds) while it
//      holds the lock, before it unlocks. A reader that copied
//      items under the lock (copy_items) and later loads the same version
//      knows they are still the array's items at those positions: no
//      change came between (engine/array_cursor.h). Changes through a
//      Sole reach may skip the bump: a copy made through another
//      reference means the reach was not sole.
//   9. Lending. A `for` loop's cursor may copy items without counting
//      references (lend_items), so that neither the copy nor the loop
//      variable costs a locked instruction. Its first lend_items lists it
//      among the array's lenders (`lending_`, made then), and
//      end_lending() takes it off; a lender holds a reference to the
//      array, so the array outlives its lenders and is never reached as
//      Sole (rule 7) while it has one. A Lender records, under the lock,
//      the objects of the items it last copied: all it may hold without a
//      reference. While some lender records an object, the array does not
//      give up its reference to it: a replaced or removed item whose
//      object a lender records goes to `lending_->retired` (pop and
//      remove_at give their caller a reference of its own), and is
//      released once no lender records it (at a lender's next copy or its
//      end, after the unlock). So the retired items are at most the
//      lenders' chunks, however long a lender's step lasts. At most
//      kMaxLenders lend at once (a cursor beyond them counts), so a change
//      scans at most that many chunks. Room is made before `items_`
//      changes, so a failed allocation changes nothing.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "engine/object.h"
#include "engine/value.h"
#include "scheduler/spin_lock.h"

namespace weft {

class Array final : public Obj {
 public:
  Array() : Obj(ObjType::Array) {}
  explicit Array(std::vector<Value> items) : Obj(ObjType::Array), items_(std::move(items)) {}

  size_t size() const;
  // Negative indexes count from the end; out of range gives nil. `reach`:
  // rule 7.
  Value get(int64_t index, Reach reach = Reach::Shared) const;
  // Negative indexes count from the end; out of range throws RuntimeException.
  void set(int64_t index, Value value, Reach reach = Reach::Shared);
  void push(Value value);
  // Removes and gives the last item, or nil when empty.
  Value pop();
  // Inserts before `index` (0..size; negative counts from the end, -1
  // appends); false when out of range.
  bool insert(int64_t index, Value value);
  // Moves the item at `index` (negative from the end) into `removed`;
  // false when out of range.
  bool remove_at(int64_t index, Value& removed);
  std::vector<Value> snapshot() const;
  void replace_all(std::vector<Value> items);
  // Rule 5.
  void freeze();

  // Rule 6: the item at `index` (negative from the end) becomes
  // combine(item) and is given back; `combine` must be pure (no script
  // code, no lock). An index out of range reads as nil, like get(), and
  // throws as set() does if combine gives a value for it.
  template <class Combine>
  Value update(int64_t index, const Combine& combine, Reach reach = Reach::Shared);

  // Whether pred(item) holds for every item (pred runs under the lock: it
  // must only look at the item).
  template <class Pred>
  bool every(const Pred& pred) const {
    auto guard = read_guard();
    for (const Value& item : items_) {
      if (!pred(item)) return false;
    }
    return true;
  }

  // Rule 7, for the VM's paths through a register that holds the only
  // reference: the item at `index` (negative from the end) itself, to read
  // or to replace in place, or null when out of range. The caller must not
  // replace an item of a frozen array (is_frozen()).
  Value* sole_item(int64_t index) {
    const int64_t at = position(index);
    return at < 0 ? nullptr : &items_[static_cast<size_t>(at)];
  }

  // For the VM's iteration: the item at `index` if it exists, and the
  // array's size then.
  bool try_get(size_t index, Value& out, size_t& size, Reach reach = Reach::Shared) const;

  // Rule 8: copies up to `max` items from position `start` into `out`
  // under one hold of the lock, and gives how many, and the version they
  // were copied at in `copied_at`.
  size_t copy_items(size_t start, Value* out, size_t max, uint64_t& copied_at) const;
  // Rule 8: the version of the items now. What the cursor relies on is
  // coherence: a bump that happens before this load (the loop's own
  // change, or one ordered before it by a message, a lock or an await) is
  // seen; one that does not is concurrent with the read, which may then
  // take the items as they were. Acquire pairs with the bump's release, so
  // a reader that sees a new version also sees what the changer wrote
  // before it.
  uint64_t version() const { return version_.load(std::memory_order_acquire); }

  // Rule 9: what one lender may hold without references, the objects of
  // the items it last copied; written and read under the array's lock.
  struct Lender {
    static constexpr size_t kMaxItems = 16;
    const Obj* objects[kMaxItems];
    uint32_t count = 0;
  };

  // Rule 9: at most this many lenders at once (each change scans what
  // they record; a recursion that loops at every level would otherwise
  // make every change cost its depth).
  static constexpr size_t kMaxLenders = 8;
  static constexpr size_t kNotLent = static_cast<size_t>(-1);

  // Rule 9: copies up to `max` (at most Lender::kMaxItems) items from
  // position `start` into `out` (which must hold nil) without counting
  // references, and records them in `lender`; `begin` lists `lender`
  // (its first call), or gives kNotLent, copying nothing, when the array
  // has kMaxLenders already. The copies stay valid until the next call or
  // end_lending(lender).
  size_t lend_items(size_t start, Value* out, size_t max, uint64_t& copied_at, Lender& lender,
                    bool begin);
  // Rule 9: takes `lender` off the list; gives the retired items no other
  // lender records, to release after this returns.
  [[nodiscard]] std::vector<Value> end_lending(Lender& lender);

  void release_children(DestroyWorklist& worklist) override;

 private:
  void check_mutable() const;
  // The position of a script index (negative from the end), or -1.
  [[nodiscard]] int64_t position(int64_t index) const {
    const auto size = static_cast<int64_t>(items_.size());
    if (index < 0) index += size;
    return (index < 0 || index >= size) ? -1 : index;
  }
  [[noreturn]] void throw_out_of_range(int64_t index) const;
  // Holds the lock, unless the array is frozen (rule 5) or reached through
  // its only reference (rule 7).
  std::unique_lock<SpinLock> read_guard(Reach reach = Reach::Shared) const;
  // Holds the lock, unless reached through its only reference (rule 7).
  std::unique_lock<SpinLock> write_guard(Reach reach) const {
    std::unique_lock<SpinLock> guard(lock_, std::defer_lock);
    if (reach == Reach::Shared) guard.lock();
    return guard;
  }

  // Rule 9, with the lock held: whether a lender records `value`'s object.
  [[nodiscard]] bool lent_out(const Value& value) const;
  // Rule 9, with the lock held: room to retire `count` more items, made
  // before `items_` changes.
  void make_room_to_retire(size_t count);
  // Rule 9, with the lock held: keeps the array's reference in `old`
  // (moved out of `items_`) while a lender records its object; `old` is
  // then nil. Otherwise `old` is left for the caller to drop after the
  // unlock.
  void retire(Value& old) noexcept {
    if (must_retire(old)) lending_->retired.push_back(std::move(old));
  }
  // Rule 9, with the lock held: pop and remove_at hand `removed` to their
  // caller, keeping a reference of the array's while a lender records it.
  void retire_copy(const Value& removed) noexcept {
    if (must_retire(removed)) lending_->retired.push_back(removed);
  }
  // Rule 9: a lender records the object, and no retired item holds it
  // already (one reference is enough to keep it; so the retired items are
  // at most the objects the lenders record).
  [[nodiscard]] bool must_retire(const Value& value) const {
    if (!lending_ || !lent_out(value)) return false;
    for (const Value& item : lending_->retired) {
      if (item.as_object() == value.as_object()) return false;
    }
    return true;
  }
  // Rule 9, with the lock held: moves the retired items no lender records
  // any more into `dropped` (room made by the caller).
  void sweep_retired(std::vector<Value>& dropped) noexcept;

  struct Lending {
    std::vector<Lender*> lenders;
    std::vector<Value> retired;
  };

  // Rule 8; the caller holds the lock (or the only reference).
  void bump_version() {
    // A load and a store, not an increment: writers hold the lock. Release
    // pairs with the acquire in version().
    version_.store(version_.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  }

  mutable SpinLock lock_;
  std::atomic<uint64_t> version_{0};
  std::vector<Value> items_;
  std::unique_ptr<Lending> lending_;  // rule 9: while the array has lenders
};

Value make_array(std::vector<Value> items = {});

template <class Combine>
Value Array::update(int64_t index, const Combine& combine, Reach reach) {
  {
    auto guard = write_guard(reach);
    const int64_t at = position(index);
    if (at >= 0 && items_[at].is_number()) {
      Value next = combine(items_[at]);
      check_mutable();
      items_[at] = next;  // the old item is a number: nothing released
      bump_version();
      return next;
    }
  }
  if (reach == Reach::Sole) {
    // Rule 7: nobody else can change the item between the read and the
    // write.
    Value next = combine(get(index, reach));
    set(index, next, reach);
    return next;
  }
  for (;;) {
    Value item = get(index);
    Value next = combine(item);
    Value old;  // released after the unlock (rule 2)
    {
      std::lock_guard guard(lock_);
      check_mutable();
      const int64_t at = position(index);
      if (at < 0) throw_out_of_range(index);
      if (!items_[at].identical_to(item)) continue;
      make_room_to_retire(1);
      old = std::move(items_[at]);
      retire(old);
      items_[at] = next;
      bump_version();
    }
    return next;
  }
}

}  // namespace weft
