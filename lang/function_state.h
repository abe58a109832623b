// Compiler-internal: what the compiler knows about the function it is
// emitting (registers, scopes, loops, try blocks, captured variables) and
// the shared state of one compilation. Only lang/*.cpp include this.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "engine/function.h"
#include "engine/runtime.h"
#include "lang/compiler.h"
#include "lang/syntax.h"

namespace weft::compiler {

struct Local {
  std::string name;
  uint16_t reg;
  bool is_cell;      // captured by an inner function: the register holds a Cell
  const Node* decl;  // the declaring symbol; identifies the variable
};

struct Scope {
  size_t first_local;  // index into FunctionState::locals
  uint16_t reg_base;   // first register of the scope
  uint16_t top;        // registers below this hold the scope's locals
};

struct LoopContext {
  std::vector<size_t> break_jumps;
  std::vector<size_t> continue_jumps;
  uint16_t result_reg;
  bool break_gives_value;  // `loop`: (break v) sets the result
  size_t try_depth;        // tries open outside the loop
  size_t scope_depth;
};

struct TryContext {
  // Emits the code that must run when control leaves the try by break,
  // continue or return: a finally body, or a scope's abort. Empty without.
  std::function<void(const Node& at)> on_leave;
};

struct UpvalueEntry {
  const Node* decl;
  bool is_cell;  // false: the closure holds the captured value itself
};

struct FunctionState {
  FunctionState* parent = nullptr;
  Proto* proto = nullptr;
  bool module_level = false;  // the outermost scope declares globals
  std::string self_name;      // resolves to the running closure (no self-capture cycle)
  const Node* self_decl = nullptr;  // a local function's name node (see resolve_upvalue)
  std::vector<Local> locals;
  std::vector<Scope> scopes;
  uint16_t free_reg = 0;
  std::vector<LoopContext> loops;
  std::vector<TryContext> tries;
  std::vector<UpvalueEntry> upvalue_entries;  // parallel to proto->upvalues
  std::unordered_map<int64_t, uint32_t> int_constants;
  std::unordered_map<uint64_t, uint32_t> float_constants;
  std::unordered_map<std::string, uint32_t> string_constants;
};

// State shared by every function of one compilation.
struct CompileUnit {
  Runtime& runtime;
  Module& module;
  SourceRef source;
  // Pass 1 (analysis) finds which declarations inner functions capture;
  // pass 2 emits the code, boxing those that are also assigned in cells.
  bool analysis = true;
  std::unordered_set<const Node*> captured;
  // Declarations assigned after they are made (pass 1). A captured one
  // lives in a cell, shared by its function and every closure; a captured
  // one that is never assigned is copied into each closure instead (no
  // cell to allocate, nothing shared to synchronize): its value cannot
  // change, so every copy stays equal to it.
  std::unordered_set<const Node*> assigned;
  // Local functions that inner functions refer to by name (keyed by the
  // name node): they keep themselves in a cell (pass 1 finds them).
  std::unordered_set<const Node*> needs_self_cell;
};

}  // namespace weft::compiler
