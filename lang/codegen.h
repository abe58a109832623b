// Compiler-internal: the code generator's class and the helpers its parts
// share. Only lang/compile_*.cpp and lang/compiler.cpp include this.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/exception.h"
#include "engine/string.h"
#include "lang/function_state.h"

namespace weft::compiler {

[[noreturn]] inline void fail(const Node& at, std::string message) {
  throw CompileError{at.loc, std::move(message)};
}

inline constexpr uint16_t kMaxRegisters = 60000;
// A destination register meaning "the value is not needed".
inline constexpr uint16_t kNoDest = 0xFFFF;

enum class OpKind { Arith, Compare, And, Or, Range };

struct OperatorInfo {
  const char* text;
  int precedence;
  OpKind kind;
};

inline constexpr OperatorInfo kOperators[] = {
    {"||", 0, OpKind::Or},      {"&&", 1, OpKind::And},     {"==", 2, OpKind::Compare},
    {"!=", 2, OpKind::Compare}, {"<", 2, OpKind::Compare},  {"<=", 2, OpKind::Compare},
    {">", 2, OpKind::Compare},  {">=", 2, OpKind::Compare}, {"..", 3, OpKind::Range},
    {"+", 4, OpKind::Arith},    {"-", 4, OpKind::Arith},    {"*", 5, OpKind::Arith},
    {"/", 5, OpKind::Arith},    {"%", 5, OpKind::Arith},
};

inline const OperatorInfo* find_operator(const Node& node) {
  if (node.kind != NodeKind::Symbol) return nullptr;
  for (const OperatorInfo& op : kOperators) {
    if (node.text == op.text) return &op;
  }
  return nullptr;
}

inline bool is_assignment_operator(const Node& node) {
  if (node.kind != NodeKind::Symbol) return false;
  const std::string& t = node.text;
  return t == "=" || t == "+=" || t == "-=" || t == "*=" || t == "/=" || t == "%=";
}

inline bool is_method_selector(const Node& node) {
  return node.kind == NodeKind::Symbol && node.text.size() > 1 && node.text[0] == '.' &&
         node.text != ".." && node.text[1] != '.';
}

// An infix expression as a tree over the flat list's nodes.
struct InfixTree {
  const Node* leaf = nullptr;
  std::vector<const Node*> ops;  // one op, or a chain of comparisons
  std::vector<InfixTree> operands;
};

class CodeGen {
 public:
  explicit CodeGen(CompileUnit& unit) : unit_(unit) {}

  Proto* compile_main(const std::vector<NodePtr>& program);

 private:
  // ---- emission ---------------------------------------------------------
  size_t emit(const Node& at, Opcode op, uint16_t a = 0, uint16_t b = 0, uint16_t c = 0,
              uint8_t flags = 0) {
    Proto* p = fs_->proto;
    p->code.push_back(Instr{op, flags, a, b, c});
    p->locations.push_back(at.loc);
    return p->code.size() - 1;
  }
  size_t emit_sbx(const Node& at, Opcode op, uint16_t a, int32_t sbx, uint8_t flags = 0) {
    uint32_t bits = static_cast<uint32_t>(sbx);
    return emit(at, op, a, static_cast<uint16_t>(bits & 0xFFFF), static_cast<uint16_t>(bits >> 16),
                flags);
  }
  size_t emit_bx(const Node& at, Opcode op, uint16_t a, uint32_t bx, uint8_t flags = 0) {
    return emit(at, op, a, static_cast<uint16_t>(bx & 0xFFFF), static_cast<uint16_t>(bx >> 16),
                flags);
  }
  // RETURN of `reg`. When the instruction before it is a MOVE into `reg`
  // (the last expression of a body, or of a branch of one), that MOVE
  // becomes a RETURN of its source: the frame's registers die with it, so
  // the value is moved out instead of copied (for an object, a locked
  // count up now and one down when the register is next written: an
  // actor's handler that ends with its `state`). The RETURN of `reg` stays
  // after it for the jumps that land there (from the other branch).
  void emit_return(const Node& at, uint16_t reg) {
    std::vector<Instr>& code = fs_->proto->code;
    if (!code.empty() && code.back().op == Opcode::MOVE && code.back().a == reg) {
      Instr& move = code.back();
      move.op = Opcode::RETURN;
      move.a = move.b;
      move.b = 0;
    }
    emit(at, Opcode::RETURN, reg);
  }
  size_t here() const { return fs_->proto->code.size(); }
  // Points the jump at `index` to `target`.
  void patch(size_t index, size_t target) {
    int32_t offset = static_cast<int32_t>(target) - static_cast<int32_t>(index + 1);
    uint32_t bits = static_cast<uint32_t>(offset);
    Instr& ins = fs_->proto->code[index];
    ins.b = static_cast<uint16_t>(bits & 0xFFFF);
    ins.c = static_cast<uint16_t>(bits >> 16);
  }
  void patch_here(size_t index) { patch(index, here()); }
  // Marks the code emitted since `begin` as shielded from cancellation
  // (Proto::shielded_ranges).
  void shield_from(size_t begin) {
    if (here() > begin) {
      fs_->proto->shielded_ranges.emplace_back(static_cast<uint32_t>(begin),
                                               static_cast<uint32_t>(here()));
    }
  }
  size_t emit_jump(const Node& at, Opcode op = Opcode::JMP, uint16_t a = 0, uint8_t flags = 0) {
    return emit_sbx(at, op, a, 0, flags);
  }
  void emit_jump_back(const Node& at, size_t target, Opcode op = Opcode::JMP, uint16_t a = 0) {
    size_t index = emit_jump(at, op, a);
    patch(index, target);
  }

  // ---- constants --------------------------------------------------------
  uint32_t add_constant(Value value) {
    Proto* p = fs_->proto;
    p->constants.push_back(std::move(value));
    return static_cast<uint32_t>(p->constants.size() - 1);
  }
  uint32_t int_constant(int64_t v) {
    auto [it, fresh] = fs_->int_constants.try_emplace(v, 0);
    if (fresh) it->second = add_constant(Value::integer(v));
    return it->second;
  }
  uint32_t float_constant(double v) {
    auto [it, fresh] = fs_->float_constants.try_emplace(std::bit_cast<uint64_t>(v), 0);
    if (fresh) it->second = add_constant(Value::floating(v));
    return it->second;
  }
  uint32_t string_constant(const std::string& text) {
    auto [it, fresh] = fs_->string_constants.try_emplace(text, 0);
    if (fresh) {
      String* s = String::make(text);
      unit_.module.adopt_immortal(s);
      it->second = add_constant(Value::adopt(s));
    }
    return it->second;
  }

  // ---- registers and scopes ---------------------------------------------
  uint16_t alloc_reg(const Node& at) {
    if (fs_->free_reg >= kMaxRegisters) fail(at, "function too large (too many registers)");
    uint16_t reg = fs_->free_reg++;
    if (fs_->free_reg > fs_->proto->num_registers) fs_->proto->num_registers = fs_->free_reg;
    return reg;
  }
  void free_to(uint16_t reg) {
    uint16_t floor = fs_->scopes.empty() ? 0 : fs_->scopes.back().top;
    fs_->free_reg = reg < floor ? floor : reg;
  }
  bool is_temp(uint16_t reg) const { return fs_->scopes.empty() || reg >= fs_->scopes.back().top; }

  void push_scope() {
    fs_->scopes.push_back(Scope{fs_->locals.size(), fs_->free_reg, fs_->free_reg});
  }
  void pop_scope() {
    Scope scope = fs_->scopes.back();
    fs_->scopes.pop_back();
    fs_->locals.resize(scope.first_local);
    fs_->free_reg = scope.reg_base;
  }
  bool at_module_scope() const { return fs_->module_level && fs_->scopes.size() == 1; }

  bool is_captured(const Node* decl) const { return unit_.captured.count(decl) != 0; }
  // Captured and changed after its declaration (CompileUnit::assigned), or
  // a local function's cell for itself: the variable lives in a cell.
  bool needs_cell(const Node* decl) const {
    return is_captured(decl) &&
           (unit_.assigned.count(decl) != 0 || unit_.needs_self_cell.count(decl) != 0);
  }

  // Declares `decl` as a local held in `reg` (already allocated by the
  // caller and holding the initial value); boxes it in a cell if it needs
  // one.
  void declare_local_at(const Node& decl, const std::string& name, uint16_t reg) {
    bool cell = !unit_.analysis && needs_cell(&decl);
    if (cell) emit(decl, Opcode::NEWCELL, reg, reg);
    fs_->locals.push_back(Local{name, reg, cell, &decl});
    Scope& scope = fs_->scopes.back();
    if (reg + 1 > scope.top) scope.top = reg + 1;
    if (fs_->free_reg < scope.top) fs_->free_reg = scope.top;
  }

  void require_statement_position(const Node& at, const char* what) {
    if (fs_->free_reg != fs_->scopes.back().top) {
      fail(at, std::string(what) +
                   " must be a statement of a block (a function body, do, if branch, loop body, "
                   "...), not part of an expression");
    }
  }

  // ---- name resolution --------------------------------------------------
  enum class NameKind { Local, Upvalue, Global, Builtin, Self, Missing };
  struct Resolved {
    NameKind kind = NameKind::Missing;
    uint32_t index = 0;  // register, upvalue, global slot or builtin
    bool is_cell = false;
  };

  static const Local* find_local(const FunctionState& fs, const std::string& name) {
    for (size_t i = fs.locals.size(); i-- > 0;) {
      if (fs.locals[i].name == name) return &fs.locals[i];
    }
    return nullptr;
  }

  // The upvalue index of `name` in `fs`, or -1. Marks what it captures.
  int resolve_upvalue(FunctionState& fs, const std::string& name) {
    if (fs.parent == nullptr) return -1;
    FunctionState& parent = *fs.parent;
    if (const Local* local = find_local(parent, name)) {
      unit_.captured.insert(local->decl);
      return add_upvalue(fs, local->decl, true, local->reg);
    }
    if (parent.self_decl != nullptr && parent.self_name == name) {
      // An inner function names the local function it is inside of. The
      // enclosing function keeps itself in a cell for it (made in its
      // prologue, held by its frame), so the closure never captures itself
      // and no cycle forms. Pass 1 records the need; pass 2 declares that
      // cell as a local, which find_local above then finds.
      unit_.needs_self_cell.insert(parent.self_decl);
      unit_.captured.insert(parent.self_decl);
      return add_upvalue(fs, parent.self_decl, true, 0);
    }
    int outer = resolve_upvalue(parent, name);
    if (outer < 0) return -1;
    return add_upvalue(fs, parent.upvalue_entries[outer].decl, false, static_cast<uint16_t>(outer));
  }

  int add_upvalue(FunctionState& fs, const Node* decl, bool from_register, uint16_t index) {
    for (size_t i = 0; i < fs.upvalue_entries.size(); ++i) {
      if (fs.upvalue_entries[i].decl == decl) return static_cast<int>(i);
    }
    fs.upvalue_entries.push_back({decl, needs_cell(decl)});
    fs.proto->upvalues.push_back(UpvalueDesc{from_register, index});
    return static_cast<int>(fs.upvalue_entries.size() - 1);
  }

  Resolved resolve(const std::string& name) {
    if (const Local* local = find_local(*fs_, name)) {
      return {NameKind::Local, local->reg, local->is_cell};
    }
    if (!fs_->self_name.empty() && fs_->self_name == name) return {NameKind::Self, 0, false};
    int up = resolve_upvalue(*fs_, name);
    if (up >= 0) {
      return {NameKind::Upvalue, static_cast<uint32_t>(up), fs_->upvalue_entries[up].is_cell};
    }
    int64_t slot = unit_.module.find(name);
    if (slot >= 0) return {NameKind::Global, static_cast<uint32_t>(slot), false};
    int64_t builtin = unit_.runtime.find_builtin(name);
    if (builtin >= 0) return {NameKind::Builtin, static_cast<uint32_t>(builtin), false};
    return {};
  }

  // Pass 1: `r`, resolved from `name`, is the target of an assignment.
  void note_assignment(const std::string& name, const Resolved& r) {
    if (!unit_.analysis) return;
    if (r.kind == NameKind::Local) unit_.assigned.insert(find_local(*fs_, name)->decl);
    if (r.kind == NameKind::Upvalue) unit_.assigned.insert(fs_->upvalue_entries[r.index].decl);
  }

  // ---- expressions ------------------------------------------------------
  void expr(const Node& node, uint16_t dest);
  // The register that holds `node`'s value: a local variable's own
  // register (no copy, so no reference counted) or a new temporary.
  // `others_follow`: operands evaluated after this one are read with it by
  // one instruction, so a variable they may assign is copied (operands are
  // evaluated left to right: this one's value is the one from before them).
  uint16_t expr_any(const Node& node, bool others_follow = false);
  // The local variable whose own register may stand for `name`'s value (see
  // expr_any), or null.
  const Local* borrowable_local(const std::string& name, bool others_follow) const {
    const Local* local = find_local(*fs_, name);
    if (local == nullptr || local->is_cell) return nullptr;
    if (others_follow && unit_.assigned.count(local->decl) != 0) return nullptr;
    return local;
  }
  void expr_discard(const Node& node) {
    // Declarations as statements need no result register (and must not
    // have one: a temporary below them would outlive their scope's start).
    if (node.kind == NodeKind::List && !node.children.empty() &&
        (node.children[0]->is_symbol("var") || node.children[0]->is_symbol("fn"))) {
      if (node.children[0]->is_symbol("var")) {
        form_var(node, kNoDest);
      } else {
        form_fn(node, kNoDest);
      }
      return;
    }
    uint16_t mark = fs_->free_reg;
    uint16_t tmp = alloc_reg(node);
    expr(node, tmp);
    free_to(mark);
  }
  void block(const Node& at, const std::vector<const Node*>& body, uint16_t dest);
  void hoist_functions(const std::vector<const Node*>& body);

  void load_constant_or_int(const Node& at, int64_t v, uint16_t dest) {
    if (v >= INT32_MIN && v <= INT32_MAX) {
      emit_sbx(at, Opcode::LOADI, dest, static_cast<int32_t>(v));
    } else {
      emit_bx(at, Opcode::LOADK, dest, int_constant(v));
    }
  }
  void symbol(const Node& node, uint16_t dest);
  void path(const Node& node, uint16_t dest);
  void interpolated(const Node& node, uint16_t dest);
  void array_literal(const Node& node, uint16_t dest);
  void map_literal(const Node& node, uint16_t dest);
  void list(const Node& node, uint16_t dest);

  // Operands of arithmetic and comparisons: a small literal becomes a
  // constant operand (flag bit), anything else a register.
  struct Operand {
    bool is_constant;
    uint16_t index;
  };
  Operand operand(const Node& node, bool others_follow = false);
  void infix(const Node& list_node, uint16_t dest);
  InfixTree parse_infix(const std::vector<const Node*>& items, size_t& pos, int min_prec);
  void infix_tree(const InfixTree& tree, uint16_t dest);
  void binary(const Node& op, const Node& left, const Node& right, uint16_t dest);
  void arith(const Node& op, const Node& left, const Node& right, uint16_t dest);
  void compare_chain(const std::vector<const Node*>& ops, const std::vector<const InfixTree*>& xs,
                     uint16_t dest);
  void compare_op(const Node& op, Operand left, Operand right, uint16_t dest);
  void prefix_operator(const Node& node, const OperatorInfo& op, uint16_t dest);

  void call(const Node& node, uint16_t dest);
  void method_call(const Node& at, const Node& receiver, const std::string& method,
                   const std::vector<const Node*>& args, uint16_t dest);
  // Where a method call's receiver can be borrowed from (BORROW: no
  // reference counted for the call): a local variable that nothing
  // assigns, or a variable captured by value. Such a value cannot change
  // while the arguments are evaluated, so it can be read after them.
  struct BorrowSource {
    uint16_t index;  // the register, or the capture
    uint8_t flags;   // kFlagFromCapture for a capture
  };
  std::optional<BorrowSource> borrowable_receiver(const Node& receiver);
  // Evaluates arguments into consecutive registers from free_reg; gives
  // their count (a keyword map counts as one) and whether keywords came.
  std::pair<uint16_t, bool> arguments(const Node& at, const std::vector<const Node*>& args);

  // ---- special forms ----------------------------------------------------
  bool special_form(const Node& node, uint16_t dest);
  void form_var(const Node& node, uint16_t dest);
  void assignment(const Node& node, const Node& target, const std::string& op, const Node& value,
                  uint16_t dest);
  void store_to(const Node& target, uint16_t value_reg);
  void form_if(const Node& node, uint16_t dest);
  void form_ifel(const Node& node, uint16_t dest);
  void form_case(const Node& node, uint16_t dest);
  void form_while(const Node& node, uint16_t dest);
  void form_loop(const Node& node, uint16_t dest);
  void form_repeat(const Node& node, uint16_t dest);
  void form_for(const Node& node, uint16_t dest);
  void form_break(const Node& node, uint16_t dest, bool is_continue);
  void form_return(const Node& node, uint16_t dest);
  void form_try(const Node& node, uint16_t dest);
  void form_throw(const Node& node, uint16_t dest);
  void form_new(const Node& node, uint16_t dest);
  void form_fn(const Node& node, uint16_t dest);
  void form_async(const Node& node, uint16_t dest);
  void form_await(const Node& node, uint16_t dest);
  // (sleep ms) calling the prelude's sleep: compiled as its body,
  // (await (sleep_async ms)). False when the call is anything else.
  bool inline_sleep(const Node& node, uint16_t dest);
  void form_scope(const Node& node, uint16_t dest);
  // GETBUILTIN `name` into register `into`.
  void load_builtin(const Node& at, const char* name, uint16_t into);
  // Calls builtin `name` with the values in `args` (registers); result in
  // `dest`.
  void call_builtin(const Node& at, const char* name, const std::vector<uint16_t>& args,
                    uint16_t dest);
  void leave_tries(const Node& at, size_t down_to);
  void loop_body(const Node& at, const std::vector<const Node*>& body, LoopContext& loop);

  // `self` is the name node of a local (not module-level) named function.
  Proto* function_body(const Node& node, const std::string& name, const Node* self,
                       const Node& params, const std::vector<const Node*>& body);

  CompileUnit& unit_;
  FunctionState* fs_ = nullptr;
};

std::vector<const Node*> rest_of(const Node& list, size_t from);

// The opcode of an arithmetic operator's text: + - * / %.
inline Opcode arith_opcode(const std::string& op) {
  if (op == "+") return Opcode::ADD;
  if (op == "-") return Opcode::SUB;
  if (op == "*") return Opcode::MUL;
  if (op == "/") return Opcode::DIV;
  return Opcode::MOD;
}
std::string path_text(const Node& node);
bool is_simple_value(const Node& n);

}  // namespace weft::compiler
