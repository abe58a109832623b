// Callable things and what they close over: prototypes (compiled code),
// closures, the cells that hold captured variables, and native functions.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engine/instruction.h"
#include "engine/method_cache.h"
#include "engine/object.h"
#include "engine/shared_slot.h"
#include "engine/value.h"
#include "lang/source.h"
#include "scheduler/spin_lock.h"

namespace weft {

class Map;
class Module;
class Runtime;
class ScriptTask;

// How a closure finds captured cell `index` when it is created: in a
// register of the creating frame, or among the creating closure's own cells.
struct UpvalueDesc {
  bool from_parent_register;
  uint16_t index;
};

struct KeywordParam {
  Value name;  // a String
  uint16_t reg;
};

// A compiled function body. Immutable after the compiler finishes it, so
// any number of tasks run it at once without synchronization.
class Proto final : public Obj {
 public:
  Proto() : Obj(ObjType::Proto) {}

  std::string name;  // "<main>", the function's name, or "<fn>"
  SourceRef source;
  SourceLoc location;  // where the definition starts
  Module* module = nullptr;

  std::vector<Instr> code;
  std::vector<SourceLoc> locations;  // one per instruction
  std::vector<Value> constants;
  std::vector<UpvalueDesc> upvalues;

  uint16_t num_registers = 0;
  // Parameters: R[0 .. num_positional-1] positional (the first
  // num_required have no default), then R[num_positional] the rest array if
  // has_rest, then keyword-only parameters at their own registers.
  uint16_t num_positional = 0;
  uint16_t num_required = 0;
  bool has_rest = false;
  bool is_async = false;                // (fn ^^async ...): a call starts a task
  // Some loop of this function may lend items (engine/array_cursor.h
  // rule 4): RETURN settles them.
  bool lends_loop_items = false;
  std::vector<Value> positional_names;  // Strings, for passing them by keyword
  std::vector<KeywordParam> keyword_params;
  // Instruction ranges [begin, end) that a cancellation must not interrupt:
  // finally bodies and a scope's wait for its children. A cancellation
  // that arrives while any frame of a task is inside one waits until the
  // task is outside all of them (engine/vm.cpp, cancellation_shielded).
  std::vector<std::pair<uint32_t, uint32_t>> shielded_ranges;
  // INVOKE's lookups, one slot per constant (engine/method_cache.h); made
  // by the compiler once the constants are complete.
  MethodCache method_cache;

  // True when a call with `count` arguments binds nothing: exactly the
  // positional parameters, all required, no rest or keyword parameters.
  // Most calls (an actor's handler, a task's block) are such.
  [[nodiscard]] bool arguments_in_place(uint32_t count, bool has_keywords) const {
    return !has_keywords && count == num_required && count == num_positional && !has_rest &&
           keyword_params.empty();
  }

  SourceLoc location_at(size_t pc) const {
    return pc < locations.size() ? locations[pc] : location;
  }
  void release_children(DestroyWorklist& worklist) override;
};

// A captured variable, shared by every closure and task that uses it.
// Reads and writes follow SharedSlot's protocol (engine/shared_slot.h).
class Cell final : public Obj {
 public:
  explicit Cell(Value value) : Obj(ObjType::Cell), slot_(std::move(value)) {}
  Value get() const { return slot_.load(); }
  void set(Value value) { slot_.store(std::move(value)); }
  void release_children(DestroyWorklist& worklist) override {
    release_into(slot_.unsynchronized(), worklist);
  }

 private:
  SharedSlot slot_;
};

// A function value: a prototype and what it captured. The captures are
// stored right after the object, in the same allocation.
class Closure final : public Obj {
 public:
  // A closure of `proto` whose captures (one per upvalue) are nil until
  // the creator fills them, before anyone else sees the closure.
  static Closure* make(Proto* proto);
  ~Closure() override;
  Closure(const Closure&) = delete;
  Closure& operator=(const Closure&) = delete;
  // make() allocates with ::operator new; deleting frees the same block.
  static void operator delete(void* block) { ::operator delete(block); }

  Proto* proto() const { return proto_; }
  // One per upvalue: the Cell of a captured variable that is assigned, the
  // value itself of one that never is.
  Value& capture(size_t i) { return captures()[i]; }
  Cell* cell(size_t i) const { return captures()[i].as<Cell>(); }
  void release_children(DestroyWorklist& worklist) override;

 private:
  Closure(Proto* proto, uint32_t count);
  Value* captures() const { return reinterpret_cast<Value*>(const_cast<Closure*>(this) + 1); }

  Proto* proto_;
  uint32_t count_;
};

// What a native function receives. `args` stays valid for the call.
class Native;

struct NativeCall {
  Runtime& runtime;
  Value* args;
  uint32_t count;
  Map* keywords;                   // nullptr when the call passed none
  ScriptTask* task = nullptr;      // the calling task, when there is one
  const Native* callee = nullptr;  // the native being called
  // Where the call is (for natives that record it: actor/spawn).
  const Proto* caller_proto = nullptr;
  uint32_t caller_pc = 0;
  // The interpreter can run this call again from the start after a park
  // (ScriptTask rule 4): there is a task and the call's registers are
  // intact.
  bool can_park = false;
  // The last argument is an array literal made for this call (INVOKE's
  // kFlagFreshLastArg): no other reference to it exists or will.
  bool last_arg_fresh = false;
  // What the interpreter does after the native returns.
  enum class Then : uint8_t {
    Continue,  // store the result and go on
    Park,      // the native parked the task (its result is ignored):
               // suspend, and run the call again when woken
  };
  Then then = Then::Continue;

  const Value& arg(uint32_t i) const {
    static const Value kNil;
    return i < count ? args[i] : kNil;
  }
  // The keyword argument `name`, or `fallback` when not passed.
  Value keyword(std::string_view name, Value fallback = Value()) const;
};

using NativeFn = Value (*)(NativeCall& call);

// State a native function carries with it (an embedding host's function),
// reached through NativeCall::callee. Immutable once registered: natives
// run on many workers at once.
struct NativeData {
  virtual ~NativeData() = default;
};

class Native final : public Obj {
 public:
  // max_args < 0: any number.
  Native(std::string name, NativeFn fn, int min_args, int max_args,
         std::shared_ptr<const NativeData> data = {})
      : Obj(ObjType::Native),
        name_(std::move(name)),
        fn_(fn),
        min_args_(min_args),
        max_args_(max_args),
        data_(std::move(data)) {}
  const std::string& name() const { return name_; }
  NativeFn fn() const { return fn_; }
  const NativeData* data() const { return data_.get(); }
  int min_args() const { return min_args_; }
  int max_args() const { return max_args_; }
  // The keyword arguments it takes (`^timeout`...); set once, when it is
  // registered. A call passing another one throws ArgumentException, as
  // for a script function: a misspelt `^apend` must not pass unnoticed.
  void set_keywords(std::vector<std::string> keywords) { keywords_ = std::move(keywords); }
  // Throws ArgumentException naming the first keyword of `passed` that it
  // does not take.
  void check_keywords(const Map& passed) const;

 private:
  std::string name_;
  NativeFn fn_;
  int min_args_;
  int max_args_;
  std::shared_ptr<const NativeData> data_;
  std::vector<std::string> keywords_;
};

// The top-level variables of one program (a file, or a REPL session).
// Slots are SharedSlots in fixed-size chunks that never move, so tasks may
// read and write globals while the REPL declares new ones.
class Module {
 public:
  explicit Module(std::string name);
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;
  ~Module();

  const std::string& name() const { return name_; }
  // The slot for `name`, declared (holding a missing value) if new.
  // Declaring happens at compile time, never while tasks run.
  uint32_t declare(const std::string& name);
  // -1 when not declared.
  int64_t find(const std::string& name) const;
  const std::string& global_name(uint32_t slot) const { return names_[slot]; }
  SharedSlot& slot(uint32_t index) { return chunks_[index / kChunkSize][index % kChunkSize]; }
  size_t size() const { return names_.size(); }

  // Drops every global's value (the module's functions and constants stay:
  // values that tasks or the I/O thread still hold may refer to them).
  void clear_globals();

  // Makes `obj` immortal and owned by this module (freed with it).
  void adopt_immortal(Obj* obj);

 private:
  static constexpr size_t kChunkSize = 256;
  static constexpr size_t kMaxChunks = 4096;  // a million globals

  std::string name_;
  std::vector<std::unique_ptr<SharedSlot[]>> chunks_;  // reserved: never reallocates
  std::vector<std::string> names_;
  std::unordered_map<std::string, uint32_t> index_;
  std::mutex immortals_lock_;
  std::vector<Obj*> immortals_;
};

}  // namespace weft
