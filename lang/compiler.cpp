// Syntax tree to register bytecode.
//
// Registers: a function's locals take registers in declaration order;
// temporaries live above them and are freed as soon as their value has
// been consumed. A call places the callee in a register and its arguments
// in the registers after it (the callee's frame starts right there, so no
// arguments are copied).
//
// Variables: the module's outermost scope declares globals (module slots).
// Every other declaration is a local. A local that an inner function uses
// is kept in a Cell, made fresh at each declaration (so each loop iteration
// has its own); the inner closure shares that cell. Which locals need cells
// is found by compiling the program twice: the first pass only records the
// captured declarations, the second emits code.
#include "lang/compiler.h"

#include <bit>
#include <cstring>
#include <optional>

#include "engine/exception.h"
#include "engine/string.h"
#include "lang/function_state.h"

namespace weft {

using compiler::CompileUnit;
using compiler::FunctionState;
using compiler::Local;
using compiler::LoopContext;
using compiler::Scope;
using compiler::TryContext;

namespace {

[[noreturn]] void fail(const Node& at, std::string message) {
  throw CompileError{at.loc, std::move(message)};
}

constexpr uint16_t kMaxRegisters = 60000;
// A destination register meaning "the value is not needed".
constexpr uint16_t kNoDest = 0xFFFF;

enum class OpKind { Arith, Compare, And, Or, Range };

struct OperatorInfo {
  const char* text;
  int precedence;
  OpKind kind;
};

constexpr OperatorInfo kOperators[] = {
    {"||", 0, OpKind::Or},      {"&&", 1, OpKind::And},     {"==", 2, OpKind::Compare},
    {"!=", 2, OpKind::Compare}, {"<", 2, OpKind::Compare},  {"<=", 2, OpKind::Compare},
    {">", 2, OpKind::Compare},  {">=", 2, OpKind::Compare}, {"..", 3, OpKind::Range},
    {"+", 4, OpKind::Arith},    {"-", 4, OpKind::Arith},    {"*", 5, OpKind::Arith},
    {"/", 5, OpKind::Arith},    {"%", 5, OpKind::Arith},
};

const OperatorInfo* find_operator(const Node& node) {
  if (node.kind != NodeKind::Symbol) return nullptr;
  for (const OperatorInfo& op : kOperators) {
    if (node.text == op.text) return &op;
  }
  return nullptr;
}

bool is_assignment_operator(const Node& node) {
  if (node.kind != NodeKind::Symbol) return false;
  const std::string& t = node.text;
  return t == "=" || t == "+=" || t == "-=" || t == "*=" || t == "/=" || t == "%=";
}

bool is_method_selector(const Node& node) {
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

  // Declares `decl` as a local held in `reg` (already allocated by the
  // caller and holding the initial value); boxes it in a cell if captured.
  void declare_local_at(const Node& decl, const std::string& name, uint16_t reg) {
    bool cell = !unit_.analysis && is_captured(&decl);
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
    int outer = resolve_upvalue(parent, name);
    if (outer < 0) return -1;
    return add_upvalue(fs, parent.upvalue_entries[outer].decl, false,
                       static_cast<uint16_t>(outer));
  }

  int add_upvalue(FunctionState& fs, const Node* decl, bool from_register, uint16_t index) {
    for (size_t i = 0; i < fs.upvalue_entries.size(); ++i) {
      if (fs.upvalue_entries[i].decl == decl) return static_cast<int>(i);
    }
    fs.upvalue_entries.push_back({decl, true});
    fs.proto->upvalues.push_back(UpvalueDesc{from_register, index});
    return static_cast<int>(fs.upvalue_entries.size() - 1);
  }

  Resolved resolve(const std::string& name) {
    if (const Local* local = find_local(*fs_, name)) {
      return {NameKind::Local, local->reg, local->is_cell};
    }
    if (!fs_->self_name.empty() && fs_->self_name == name) return {NameKind::Self, 0, false};
    int up = resolve_upvalue(*fs_, name);
    if (up >= 0) return {NameKind::Upvalue, static_cast<uint32_t>(up), true};
    int64_t slot = unit_.module.find(name);
    if (slot >= 0) return {NameKind::Global, static_cast<uint32_t>(slot), false};
    int64_t builtin = unit_.runtime.find_builtin(name);
    if (builtin >= 0) return {NameKind::Builtin, static_cast<uint32_t>(builtin), false};
    return {};
  }

  // ---- expressions ------------------------------------------------------
  void expr(const Node& node, uint16_t dest);
  uint16_t expr_any(const Node& node);
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
  Operand operand(const Node& node);
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
  void leave_tries(const Node& at, size_t down_to);
  void loop_body(const Node& at, const std::vector<const Node*>& body, LoopContext& loop);

  Proto* function_body(const Node& node, const std::string& name, const Node& params,
                       const std::vector<const Node*>& body);

  CompileUnit& unit_;
  FunctionState* fs_ = nullptr;
};

std::vector<const Node*> rest_of(const Node& list, size_t from) {
  std::vector<const Node*> out;
  for (size_t i = from; i < list.children.size(); ++i) out.push_back(list.children[i].get());
  return out;
}

// ---- top level --------------------------------------------------------------

Proto* CodeGen::compile_main(const std::vector<NodePtr>& program) {
  Proto* proto = new Proto();
  unit_.module.adopt_immortal(proto);
  proto->name = "<main>";
  proto->source = unit_.source;
  proto->module = &unit_.module;
  proto->location = SourceLoc{1, 1};
  FunctionState fs;
  fs.proto = proto;
  fs.module_level = true;
  fs_ = &fs;
  push_scope();
  std::vector<const Node*> body;
  for (const NodePtr& n : program) body.push_back(n.get());
  // Top-level functions and variables are declared before any code runs,
  // so functions may refer to each other in any order.
  for (const Node* n : body) {
    if (n->kind == NodeKind::List && n->children.size() >= 2 &&
        (n->children[0]->is_symbol("var") || n->children[0]->is_symbol("fn"))) {
      size_t i = 1;
      while (i + 1 < n->children.size() && n->children[i]->kind == NodeKind::Keyword) i += 2;
      if (i < n->children.size() && n->children[i]->kind == NodeKind::Symbol) {
        unit_.module.declare(n->children[i]->text);
      }
    }
  }
  Node at;
  at.loc = SourceLoc{1, 1};
  uint16_t result = alloc_reg(at);
  if (body.empty()) {
    emit(at, Opcode::LOADNIL, result, 0);
  }
  for (size_t i = 0; i < body.size(); ++i) {
    if (i + 1 == body.size()) {
      expr(*body[i], result);
    } else {
      expr_discard(*body[i]);
    }
  }
  emit(body.empty() ? at : *body.back(), Opcode::RETURN, result);
  pop_scope();
  return proto;
}

void CodeGen::hoist_functions(const std::vector<const Node*>& body) {
  if (at_module_scope()) return;  // declared as globals by compile_main
  for (const Node* n : body) {
    if (n->kind != NodeKind::List || n->children.size() < 3 || !n->children[0]->is_symbol("fn")) {
      continue;
    }
    size_t i = 1;
    while (i + 1 < n->children.size() && n->children[i]->kind == NodeKind::Keyword) i += 2;
    const Node& name = *n->children[i];
    if (name.kind != NodeKind::Symbol) continue;
    uint16_t reg = alloc_reg(name);
    emit(name, Opcode::LOADNIL, reg, 0);
    declare_local_at(name, name.text, reg);
  }
}

void CodeGen::block(const Node& at, const std::vector<const Node*>& body, uint16_t dest) {
  push_scope();
  hoist_functions(body);
  if (body.empty()) emit(at, Opcode::LOADNIL, dest, 0);
  for (size_t i = 0; i < body.size(); ++i) {
    if (i + 1 == body.size()) {
      // The result register may be below this scope's locals; compute into
      // a temporary when it is not a temporary of this scope.
      expr(*body[i], dest);
    } else {
      expr_discard(*body[i]);
    }
  }
  pop_scope();
}

// ---- expressions ------------------------------------------------------------

void CodeGen::expr(const Node& node, uint16_t dest) {
  switch (node.kind) {
    case NodeKind::Nil:
      emit(node, Opcode::LOADNIL, dest, 0);
      return;
    case NodeKind::Bool:
      emit(node, node.bool_value ? Opcode::LOADTRUE : Opcode::LOADFALSE, dest);
      return;
    case NodeKind::Int:
      load_constant_or_int(node, node.int_value, dest);
      return;
    case NodeKind::Float:
      emit_bx(node, Opcode::LOADK, dest, float_constant(node.float_value));
      return;
    case NodeKind::String:
      emit_bx(node, Opcode::LOADK, dest, string_constant(node.text));
      return;
    case NodeKind::Interpolated:
      interpolated(node, dest);
      return;
    case NodeKind::Symbol:
      symbol(node, dest);
      return;
    case NodeKind::Keyword:
      fail(node, "keyword ^" + node.text + " is only allowed in calls, maps and parameter lists");
    case NodeKind::Path:
      path(node, dest);
      return;
    case NodeKind::Array:
      array_literal(node, dest);
      return;
    case NodeKind::Map:
      map_literal(node, dest);
      return;
    case NodeKind::List:
      list(node, dest);
      return;
  }
}

uint16_t CodeGen::expr_any(const Node& node) {
  if (node.kind == NodeKind::Symbol) {
    if (const Local* local = find_local(*fs_, node.text); local != nullptr && !local->is_cell) {
      return local->reg;
    }
  }
  uint16_t reg = alloc_reg(node);
  expr(node, reg);
  return reg;
}

void CodeGen::symbol(const Node& node, uint16_t dest) {
  if (find_operator(node) != nullptr || is_assignment_operator(node) || node.text == "!") {
    fail(node, "operator '" + node.text + "' used as a value");
  }
  if (is_method_selector(node)) {
    fail(node, "method selector '" + node.text + "' must follow a receiver: (obj " + node.text +
                   " ...)");
  }
  Resolved r = resolve(node.text);
  switch (r.kind) {
    case NameKind::Local:
      if (r.is_cell) {
        emit(node, Opcode::GETCELL, dest, static_cast<uint16_t>(r.index));
      } else if (r.index != dest) {
        emit(node, Opcode::MOVE, dest, static_cast<uint16_t>(r.index));
      }
      return;
    case NameKind::Upvalue:
      emit(node, Opcode::GETUPVAL, dest, static_cast<uint16_t>(r.index));
      return;
    case NameKind::Global:
      emit_bx(node, Opcode::GETGLOBAL, dest, r.index);
      return;
    case NameKind::Builtin:
      emit_bx(node, Opcode::GETBUILTIN, dest, r.index);
      return;
    case NameKind::Self:
      emit(node, Opcode::SELF, dest);
      return;
    case NameKind::Missing:
      break;
  }
  fail(node, "undefined variable '" + node.text + "'");
}

std::string path_text(const Node& node) {
  std::string text = node.children[0]->text;
  for (size_t i = 1; i < node.children.size(); ++i) {
    const Node& seg = *node.children[i];
    text += '/';
    text += seg.kind == NodeKind::Int ? std::to_string(seg.int_value) : seg.text;
  }
  return text;
}

void CodeGen::path(const Node& node, uint16_t dest) {
  const Node& root = *node.children[0];
  Resolved r = resolve(root.text);
  if (r.kind == NameKind::Missing || r.kind == NameKind::Builtin) {
    // A namespaced builtin such as str/join or json/parse.
    int64_t builtin = unit_.runtime.find_builtin(path_text(node));
    if (builtin >= 0) {
      emit_bx(node, Opcode::GETBUILTIN, dest, static_cast<uint32_t>(builtin));
      return;
    }
    if (r.kind == NameKind::Missing) {
      fail(root, node.children.size() == 2 && node.children[1]->kind == NodeKind::String
                     ? "undefined variable '" + root.text + "' (and no builtin '" +
                           path_text(node) + "')"
                     : "undefined variable '" + root.text + "'");
    }
  }
  uint16_t mark = fs_->free_reg;
  uint16_t current = is_temp(dest) && dest + 1 == fs_->free_reg ? dest : alloc_reg(node);
  symbol(root, current);
  for (size_t i = 1; i < node.children.size(); ++i) {
    const Node& seg = *node.children[i];
    if (seg.kind == NodeKind::Symbol) {  // .method with no arguments
      uint32_t name = string_constant(seg.text.substr(1));
      if (name > 0xFFFF) fail(seg, "too many constants in one function");
      uint16_t base = alloc_reg(seg);
      uint16_t recv = alloc_reg(seg);
      emit(seg, Opcode::MOVE, recv, current);
      emit(seg, Opcode::INVOKE, base, 0, static_cast<uint16_t>(name));
      emit(seg, Opcode::MOVE, current, base);
      free_to(base);
      continue;
    }
    uint32_t k = seg.kind == NodeKind::Int ? int_constant(seg.int_value) : string_constant(seg.text);
    if (k > 0xFFFF) fail(seg, "too many constants in one function");
    emit(seg, Opcode::GETFIELD, current, current, static_cast<uint16_t>(k));
  }
  if (current != dest) emit(node, Opcode::MOVE, dest, current);
  free_to(mark);
}

void CodeGen::interpolated(const Node& node, uint16_t dest) {
  uint16_t mark = fs_->free_reg;
  uint16_t first = fs_->free_reg;
  for (const NodePtr& part : node.children) {
    uint16_t reg = alloc_reg(*part);
    expr(*part, reg);
  }
  uint16_t count = static_cast<uint16_t>(node.children.size());
  if (count == 0) {
    emit_bx(node, Opcode::LOADK, dest, string_constant(""));
  } else {
    emit(node, Opcode::CONCAT, dest, first, count);
  }
  free_to(mark);
}

void CodeGen::array_literal(const Node& node, uint16_t dest) {
  uint16_t mark = fs_->free_reg;
  uint16_t first = fs_->free_reg;
  for (const NodePtr& item : node.children) {
    uint16_t reg = alloc_reg(*item);
    expr(*item, reg);
  }
  emit(node, Opcode::NEWARRAY, dest, first, static_cast<uint16_t>(node.children.size()));
  free_to(mark);
}

void CodeGen::map_literal(const Node& node, uint16_t dest) {
  uint16_t mark = fs_->free_reg;
  uint16_t first = fs_->free_reg;
  if (node.children.size() % 2 != 0) fail(node, "map literal needs a value after each key");
  for (size_t i = 0; i < node.children.size(); i += 2) {
    const Node& key = *node.children[i];
    if (key.kind != NodeKind::Keyword && key.kind != NodeKind::String) {
      fail(key, "map keys must be ^names or strings");
    }
    uint16_t kreg = alloc_reg(key);
    emit_bx(key, Opcode::LOADK, kreg, string_constant(key.text));
    uint16_t vreg = alloc_reg(*node.children[i + 1]);
    expr(*node.children[i + 1], vreg);
  }
  emit(node, Opcode::NEWMAP, dest, first, static_cast<uint16_t>(node.children.size() / 2));
  free_to(mark);
}

void CodeGen::list(const Node& node, uint16_t dest) {
  if (node.children.empty()) fail(node, "empty list () is not an expression; use nil or []");
  const Node& head = *node.children[0];
  if (node.children.size() >= 2) {
    const Node& second = *node.children[1];
    if (is_assignment_operator(second)) {
      if (node.children.size() != 3) {
        fail(second, "assignment takes one target and one value: (x " + second.text + " value)");
      }
      assignment(node, head, second.text, *node.children[2], dest);
      return;
    }
    if (find_operator(second) != nullptr && node.children.size() >= 3) {
      infix(node, dest);
      return;
    }
    if (is_method_selector(second)) {
      method_call(node, head, second.text.substr(1), rest_of(node, 2), dest);
      return;
    }
  }
  if (head.kind == NodeKind::Symbol) {
    if (special_form(node, dest)) return;
    if (const OperatorInfo* op = find_operator(head)) {
      prefix_operator(node, *op, dest);
      return;
    }
    if (head.text == "!") {
      if (node.children.size() != 2) fail(head, "! takes one operand: (! x)");
      uint16_t mark = fs_->free_reg;
      uint16_t r = expr_any(*node.children[1]);
      emit(head, Opcode::NOT, dest, r);
      free_to(mark);
      return;
    }
  }
  call(node, dest);
}

// ---- operators --------------------------------------------------------------

CodeGen::Operand CodeGen::operand(const Node& node) {
  uint32_t k = UINT32_MAX;
  if (node.kind == NodeKind::Int) k = int_constant(node.int_value);
  if (node.kind == NodeKind::Float) k = float_constant(node.float_value);
  if (node.kind == NodeKind::String) k = string_constant(node.text);
  if (k <= 0xFFFF) return {true, static_cast<uint16_t>(k)};
  return {false, expr_any(node)};
}

InfixTree CodeGen::parse_infix(const std::vector<const Node*>& items, size_t& pos, int min_prec) {
  InfixTree lhs;
  if (pos >= items.size()) fail(*items.back(), "expected an operand after the operator");
  if (find_operator(*items[pos]) != nullptr) {
    fail(*items[pos], "expected an operand before '" + items[pos]->text + "'");
  }
  lhs.leaf = items[pos++];
  while (pos < items.size()) {
    const OperatorInfo* op = find_operator(*items[pos]);
    if (op == nullptr) {
      fail(*items[pos], "expected an operator between operands (use (f x) to call a function)");
    }
    if (op->precedence < min_prec) break;
    const Node* op_node = items[pos++];
    InfixTree node;
    node.ops.push_back(op_node);
    node.operands.push_back(std::move(lhs));
    node.operands.push_back(parse_infix(items, pos, op->precedence + 1));
    if (op->kind == OpKind::Compare) {
      // Chained comparisons: (a < b <= c) is (a < b) && (b <= c), b once.
      while (pos < items.size()) {
        const OperatorInfo* next = find_operator(*items[pos]);
        if (next == nullptr || next->kind != OpKind::Compare) break;
        node.ops.push_back(items[pos++]);
        node.operands.push_back(parse_infix(items, pos, op->precedence + 1));
      }
    }
    lhs = std::move(node);
  }
  return lhs;
}

void CodeGen::infix(const Node& list_node, uint16_t dest) {
  std::vector<const Node*> items = rest_of(list_node, 0);
  size_t pos = 0;
  InfixTree tree = parse_infix(items, pos, 0);
  if (pos != items.size()) fail(*items[pos], "unexpected operand");
  infix_tree(tree, dest);
}

void CodeGen::infix_tree(const InfixTree& tree, uint16_t dest) {
  if (tree.leaf != nullptr) {
    expr(*tree.leaf, dest);
    return;
  }
  const Node& op = *tree.ops[0];
  const OperatorInfo* info = find_operator(op);
  auto leaf_or_tree = [&](const InfixTree& t, uint16_t reg) { infix_tree(t, reg); };
  if (info->kind == OpKind::Compare) {
    std::vector<const InfixTree*> xs;
    for (const InfixTree& t : tree.operands) xs.push_back(&t);
    compare_chain(tree.ops, xs, dest);
    return;
  }
  const InfixTree& left = tree.operands[0];
  const InfixTree& right = tree.operands[1];
  if (left.leaf != nullptr && right.leaf != nullptr) {
    binary(op, *left.leaf, *right.leaf, dest);
    return;
  }
  uint16_t mark = fs_->free_reg;
  if (info->kind == OpKind::And || info->kind == OpKind::Or) {
    uint16_t target = is_temp(dest) ? dest : alloc_reg(op);
    leaf_or_tree(left, target);
    size_t jump = emit_jump(op, info->kind == OpKind::And ? Opcode::JMPIFNOT : Opcode::JMPIF, target);
    leaf_or_tree(right, target);
    patch_here(jump);
    if (target != dest) emit(op, Opcode::MOVE, dest, target);
    free_to(mark);
    return;
  }
  uint16_t a = alloc_reg(op);
  leaf_or_tree(left, a);
  uint16_t b = alloc_reg(op);
  leaf_or_tree(right, b);
  Opcode code = Opcode::ADD;
  if (info->kind == OpKind::Range) {
    emit(op, Opcode::RANGE, dest, a, b);
  } else {
    const std::string& t = op.text;
    code = t == "+" ? Opcode::ADD
           : t == "-" ? Opcode::SUB
           : t == "*" ? Opcode::MUL
           : t == "/" ? Opcode::DIV
                      : Opcode::MOD;
    emit(op, code, dest, a, b);
  }
  free_to(mark);
}

void CodeGen::binary(const Node& op, const Node& left, const Node& right, uint16_t dest) {
  const OperatorInfo* info = find_operator(op);
  uint16_t mark = fs_->free_reg;
  switch (info->kind) {
    case OpKind::Arith:
      arith(op, left, right, dest);
      return;
    case OpKind::Compare: {
      Operand l = operand(left);
      Operand r = operand(right);
      compare_op(op, l, r, dest);
      free_to(mark);
      return;
    }
    case OpKind::Range: {
      uint16_t a = expr_any(left);
      uint16_t b = expr_any(right);
      emit(op, Opcode::RANGE, dest, a, b);
      free_to(mark);
      return;
    }
    case OpKind::And:
    case OpKind::Or: {
      uint16_t target = is_temp(dest) ? dest : alloc_reg(op);
      expr(left, target);
      size_t jump =
          emit_jump(op, info->kind == OpKind::And ? Opcode::JMPIFNOT : Opcode::JMPIF, target);
      expr(right, target);
      patch_here(jump);
      if (target != dest) emit(op, Opcode::MOVE, dest, target);
      free_to(mark);
      return;
    }
  }
}

void CodeGen::arith(const Node& op, const Node& left, const Node& right, uint16_t dest) {
  uint16_t mark = fs_->free_reg;
  const std::string& t = op.text;
  if ((t == "+" || t == "-") && right.kind == NodeKind::Int && right.int_value >= -32767 &&
      right.int_value <= 32767) {
    uint16_t a = expr_any(left);
    int64_t imm = t == "+" ? right.int_value : -right.int_value;
    emit(op, Opcode::ADDI, dest, a, static_cast<uint16_t>(static_cast<int16_t>(imm)));
    free_to(mark);
    return;
  }
  Opcode code = t == "+" ? Opcode::ADD
                : t == "-" ? Opcode::SUB
                : t == "*" ? Opcode::MUL
                : t == "/" ? Opcode::DIV
                           : Opcode::MOD;
  Operand l = operand(left);
  Operand r = operand(right);
  uint8_t flags = (l.is_constant ? kFlagKB : 0) | (r.is_constant ? kFlagKC : 0);
  emit(op, code, dest, l.index, r.index, flags);
  free_to(mark);
}

void CodeGen::compare_op(const Node& op, Operand left, Operand right, uint16_t dest) {
  const std::string& t = op.text;
  bool swap = t == ">" || t == ">=";
  Opcode code = t == "==" ? Opcode::EQ
                : t == "!=" ? Opcode::NE
                : (t == "<" || t == ">") ? Opcode::LT
                                         : Opcode::LE;
  if (swap) std::swap(left, right);
  uint8_t flags = (left.is_constant ? kFlagKB : 0) | (right.is_constant ? kFlagKC : 0);
  emit(op, code, dest, left.index, right.index, flags);
}

void CodeGen::compare_chain(const std::vector<const Node*>& ops,
                            const std::vector<const InfixTree*>& xs, uint16_t dest) {
  uint16_t mark = fs_->free_reg;
  auto load = [&](const InfixTree& t) -> Operand {
    if (t.leaf != nullptr) return operand(*t.leaf);
    uint16_t reg = alloc_reg(*ops[0]);
    infix_tree(t, reg);
    return {false, reg};
  };
  uint16_t target = is_temp(dest) ? dest : alloc_reg(*ops[0]);
  std::vector<size_t> exits;
  Operand left = load(*xs[0]);
  for (size_t i = 0; i < ops.size(); ++i) {
    Operand right = load(*xs[i + 1]);
    compare_op(*ops[i], left, right, target);
    if (i + 1 < ops.size()) exits.push_back(emit_jump(*ops[i], Opcode::JMPIFNOT, target));
    left = right;
  }
  for (size_t jump : exits) patch_here(jump);
  if (target != dest) emit(*ops[0], Opcode::MOVE, dest, target);
  free_to(mark);
}

void CodeGen::prefix_operator(const Node& node, const OperatorInfo& op, uint16_t dest) {
  const Node& head = *node.children[0];
  size_t n = node.children.size() - 1;
  if (n == 0) fail(head, "operator '" + head.text + "' needs operands");
  if (n == 1) {
    if (head.text == "-") {
      uint16_t mark = fs_->free_reg;
      uint16_t r = expr_any(*node.children[1]);
      emit(head, Opcode::NEG, dest, r);
      free_to(mark);
      return;
    }
    if (op.kind == OpKind::Arith && head.text == "+") {
      expr(*node.children[1], dest);
      return;
    }
    fail(head, "operator '" + head.text + "' needs two operands");
  }
  if (op.kind == OpKind::Compare) {
    std::vector<InfixTree> leaves(n);
    std::vector<const InfixTree*> xs;
    std::vector<const Node*> ops;
    for (size_t i = 0; i < n; ++i) {
      leaves[i].leaf = node.children[i + 1].get();
      if (i > 0) ops.push_back(&head);
    }
    for (InfixTree& t : leaves) xs.push_back(&t);
    compare_chain(ops, xs, dest);
    return;
  }
  // Arithmetic and logic fold left: (+ a b c) is ((a + b) + c).
  InfixTree tree;
  tree.leaf = node.children[1].get();
  for (size_t i = 2; i <= n; ++i) {
    InfixTree next;
    next.ops.push_back(&head);
    next.operands.push_back(std::move(tree));
    InfixTree leaf;
    leaf.leaf = node.children[i].get();
    next.operands.push_back(std::move(leaf));
    tree = std::move(next);
  }
  infix_tree(tree, dest);
}

// ---- calls ------------------------------------------------------------------

std::pair<uint16_t, bool> CodeGen::arguments(const Node& at,
                                             const std::vector<const Node*>& args) {
  uint16_t count = 0;
  std::vector<std::pair<const Node*, const Node*>> keywords;
  for (size_t i = 0; i < args.size(); ++i) {
    const Node& arg = *args[i];
    if (arg.kind == NodeKind::Keyword) {
      if (i + 1 >= args.size()) fail(arg, "keyword ^" + arg.text + " needs a value");
      keywords.emplace_back(&arg, args[i + 1]);
      ++i;
      continue;
    }
    uint16_t reg = alloc_reg(arg);
    expr(arg, reg);
    ++count;
  }
  if (keywords.empty()) return {count, false};
  uint16_t map_reg = alloc_reg(at);
  uint16_t mark = fs_->free_reg;
  uint16_t first = fs_->free_reg;
  for (auto& [key, value] : keywords) {
    uint16_t kreg = alloc_reg(*key);
    emit_bx(*key, Opcode::LOADK, kreg, string_constant(key->text));
    uint16_t vreg = alloc_reg(*value);
    expr(*value, vreg);
  }
  emit(at, Opcode::NEWMAP, map_reg, first, static_cast<uint16_t>(keywords.size()));
  free_to(mark);
  return {static_cast<uint16_t>(count + 1), true};
}

void CodeGen::call(const Node& node, uint16_t dest) {
  uint16_t mark = fs_->free_reg;
  uint16_t base = is_temp(dest) && dest + 1 == fs_->free_reg ? dest : alloc_reg(node);
  expr(*node.children[0], base);
  auto [count, keywords] = arguments(node, rest_of(node, 1));
  emit(node, Opcode::CALL, base, count, 0, keywords ? kFlagKeywords : 0);
  if (base != dest) emit(node, Opcode::MOVE, dest, base);
  free_to(mark);
}

void CodeGen::method_call(const Node& at, const Node& receiver, const std::string& method,
                          const std::vector<const Node*>& args, uint16_t dest) {
  uint16_t mark = fs_->free_reg;
  uint16_t base = is_temp(dest) && dest + 1 == fs_->free_reg ? dest : alloc_reg(at);
  uint16_t recv = alloc_reg(receiver);
  expr(receiver, recv);
  auto [count, keywords] = arguments(at, args);
  uint32_t k = string_constant(method);
  if (k > 0xFFFF) fail(at, "too many constants in one function");
  emit(at, Opcode::INVOKE, base, count, static_cast<uint16_t>(k), keywords ? kFlagKeywords : 0);
  if (base != dest) emit(at, Opcode::MOVE, dest, base);
  free_to(mark);
}

// ---- special forms ----------------------------------------------------------

bool CodeGen::special_form(const Node& node, uint16_t dest) {
  const std::string& name = node.children[0]->text;
  if (name == "var") return form_var(node, dest), true;
  if (name == "do") {
    block(node, rest_of(node, 1), dest);
    return true;
  }
  if (name == "if") return form_if(node, dest), true;
  if (name == "ifel") return form_ifel(node, dest), true;
  if (name == "case") return form_case(node, dest), true;
  if (name == "while") return form_while(node, dest), true;
  if (name == "loop") return form_loop(node, dest), true;
  if (name == "repeat") return form_repeat(node, dest), true;
  if (name == "for") return form_for(node, dest), true;
  if (name == "break") return form_break(node, dest, false), true;
  if (name == "continue") return form_break(node, dest, true), true;
  if (name == "return") return form_return(node, dest), true;
  if (name == "try") return form_try(node, dest), true;
  if (name == "throw") return form_throw(node, dest), true;
  if (name == "new") return form_new(node, dest), true;
  if (name == "fn") return form_fn(node, dest), true;
  return false;
}

void CodeGen::form_var(const Node& node, uint16_t dest) {
  if (node.children.size() < 2 || node.children.size() > 3 ||
      node.children[1]->kind != NodeKind::Symbol) {
    fail(node, "var takes a name and an optional value: (var x 10)");
  }
  const Node& name = *node.children[1];
  if (find_operator(name) != nullptr || is_method_selector(name)) {
    fail(name, "'" + name.text + "' cannot be a variable name");
  }
  if (at_module_scope()) {
    uint32_t slot = unit_.module.declare(name.text);
    uint16_t mark = fs_->free_reg;
    uint16_t reg = alloc_reg(node);
    if (node.children.size() == 3) {
      expr(*node.children[2], reg);
    } else {
      emit(node, Opcode::LOADNIL, reg, 0);
    }
    emit_bx(node, Opcode::SETGLOBAL, reg, slot);
    if (dest != kNoDest && reg != dest) emit(node, Opcode::MOVE, dest, reg);
    free_to(mark);
    return;
  }
  require_statement_position(node, "var");
  uint16_t reg = alloc_reg(node);
  if (node.children.size() == 3) {
    expr(*node.children[2], reg);
  } else {
    emit(node, Opcode::LOADNIL, reg, 0);
  }
  if (dest != kNoDest && reg != dest) emit(node, Opcode::MOVE, dest, reg);
  declare_local_at(name, name.text, reg);
}

bool is_simple_value(const Node& n) {
  switch (n.kind) {
    case NodeKind::Nil:
    case NodeKind::Bool:
    case NodeKind::Int:
    case NodeKind::Float:
    case NodeKind::String:
    case NodeKind::Symbol:
      return true;
    default:
      return false;
  }
}

void CodeGen::assignment(const Node& node, const Node& target, const std::string& op,
                         const Node& value, uint16_t dest) {
  uint16_t mark = fs_->free_reg;
  if (target.kind == NodeKind::Symbol) {
    Resolved r = resolve(target.text);
    if (r.kind == NameKind::Missing || r.kind == NameKind::Builtin || r.kind == NameKind::Self) {
      fail(target, r.kind == NameKind::Missing
                       ? "cannot assign to undeclared variable '" + target.text + "'"
                       : "cannot assign to '" + target.text + "'");
    }
    uint16_t reg;
    if (r.kind == NameKind::Local && !r.is_cell) {
      reg = static_cast<uint16_t>(r.index);
      if (op == "=") {
        if (is_simple_value(value)) {
          expr(value, reg);
        } else {
          uint16_t tmp = alloc_reg(node);
          expr(value, tmp);
          emit(node, Opcode::MOVE, reg, tmp);
        }
      } else {
        Node op_node;
        op_node.kind = NodeKind::Symbol;
        op_node.loc = node.children[1]->loc;
        op_node.text = op.substr(0, 1);
        arith(op_node, target, value, reg);
      }
    } else {
      reg = alloc_reg(node);
      if (op == "=") {
        expr(value, reg);
      } else {
        Node op_node;
        op_node.kind = NodeKind::Symbol;
        op_node.loc = node.children[1]->loc;
        op_node.text = op.substr(0, 1);
        arith(op_node, target, value, reg);
      }
      store_to(target, reg);
    }
    if (reg != dest) emit(node, Opcode::MOVE, dest, reg);
    free_to(mark);
    return;
  }
  if (target.kind != NodeKind::Path) fail(target, "cannot assign to this expression");
  if (target.children.back()->kind == NodeKind::Symbol) {
    fail(target, "cannot assign to a method call");
  }
  // Evaluate the container (all but the last segment), then the value.
  uint16_t obj = alloc_reg(target);
  if (target.children.size() == 2) {
    symbol(*target.children[0], obj);
  } else {
    // Borrow the segments without copying the tree: build a shallow path.
    Node shallow;
    shallow.kind = NodeKind::Path;
    shallow.loc = target.loc;
    for (size_t i = 0; i + 1 < target.children.size(); ++i) {
      const Node& seg = *target.children[i];
      auto copy = std::make_unique<Node>();
      copy->kind = seg.kind;
      copy->loc = seg.loc;
      copy->int_value = seg.int_value;
      copy->text = seg.text;
      shallow.children.push_back(std::move(copy));
    }
    path(shallow, obj);
  }
  const Node& key = *target.children.back();
  uint32_t k = key.kind == NodeKind::Int ? int_constant(key.int_value) : string_constant(key.text);
  if (k > 0xFFFF) fail(key, "too many constants in one function");
  uint16_t val = alloc_reg(value);
  if (op == "=") {
    expr(value, val);
  } else {
    emit(key, Opcode::GETFIELD, val, obj, static_cast<uint16_t>(k));
    Operand r = operand(value);
    const std::string t = op.substr(0, 1);
    Opcode code = t == "+" ? Opcode::ADD
                  : t == "-" ? Opcode::SUB
                  : t == "*" ? Opcode::MUL
                  : t == "/" ? Opcode::DIV
                             : Opcode::MOD;
    emit(*node.children[1], code, val, val, r.index, r.is_constant ? kFlagKC : 0);
  }
  emit(key, Opcode::SETFIELD, obj, static_cast<uint16_t>(k), val);
  if (val != dest) emit(node, Opcode::MOVE, dest, val);
  free_to(mark);
}

void CodeGen::store_to(const Node& target, uint16_t value_reg) {
  Resolved r = resolve(target.text);
  switch (r.kind) {
    case NameKind::Local:
      if (r.is_cell) {
        emit(target, Opcode::SETCELL, static_cast<uint16_t>(r.index), value_reg);
      } else if (r.index != value_reg) {
        emit(target, Opcode::MOVE, static_cast<uint16_t>(r.index), value_reg);
      }
      return;
    case NameKind::Upvalue:
      emit(target, Opcode::SETUPVAL, static_cast<uint16_t>(r.index), value_reg);
      return;
    case NameKind::Global:
      emit_bx(target, Opcode::SETGLOBAL, value_reg, r.index);
      return;
    default:
      fail(target, "cannot assign to '" + target.text + "'");
  }
}

// (if c [then] a... [elif c2 [then] b...]... [else e...])
void CodeGen::form_if(const Node& node, uint16_t dest) {
  std::vector<const Node*> items = rest_of(node, 1);
  if (items.empty()) fail(node, "if needs a condition");
  std::vector<size_t> to_end;
  size_t i = 0;
  bool has_else = false;
  while (i < items.size()) {
    const Node& cond = *items[i++];
    if (i < items.size() && items[i]->is_symbol("then")) ++i;
    std::vector<const Node*> branch;
    while (i < items.size() && !items[i]->is_symbol("elif") && !items[i]->is_symbol("else")) {
      branch.push_back(items[i++]);
    }
    uint16_t mark = fs_->free_reg;
    uint16_t c = expr_any(cond);
    size_t skip = emit_jump(cond, Opcode::JMPIFNOT, c);
    free_to(mark);
    block(cond, branch, dest);
    to_end.push_back(emit_jump(cond));
    patch_here(skip);
    if (i >= items.size()) break;
    if (items[i]->is_symbol("else")) {
      const Node& else_node = *items[i];
      std::vector<const Node*> rest(items.begin() + static_cast<long>(i) + 1, items.end());
      block(else_node, rest, dest);
      has_else = true;
      break;
    }
    ++i;  // elif
    if (i >= items.size()) fail(*items[i - 1], "elif needs a condition");
  }
  if (!has_else) emit(node, Opcode::LOADNIL, dest, 0);
  for (size_t jump : to_end) patch_here(jump);
}

void CodeGen::form_ifel(const Node& node, uint16_t dest) {
  if (node.children.size() != 4) fail(node, "ifel takes a condition and two branches");
  uint16_t mark = fs_->free_reg;
  uint16_t c = expr_any(*node.children[1]);
  size_t skip = emit_jump(node, Opcode::JMPIFNOT, c);
  free_to(mark);
  expr(*node.children[2], dest);
  size_t end = emit_jump(node);
  patch_here(skip);
  expr(*node.children[3], dest);
  patch_here(end);
}

// (case v when x a... when y b... else e...)
void CodeGen::form_case(const Node& node, uint16_t dest) {
  std::vector<const Node*> items = rest_of(node, 1);
  if (items.empty()) fail(node, "case needs a value");
  uint16_t mark = fs_->free_reg;
  uint16_t subject = alloc_reg(*items[0]);
  expr(*items[0], subject);
  std::vector<size_t> to_end;
  size_t i = 1;
  bool has_else = false;
  while (i < items.size()) {
    const Node& kw = *items[i];
    if (kw.is_symbol("else")) {
      std::vector<const Node*> rest(items.begin() + static_cast<long>(i) + 1, items.end());
      block(kw, rest, dest);
      has_else = true;
      break;
    }
    if (!kw.is_symbol("when")) fail(kw, "expected 'when' or 'else' in case");
    if (i + 1 >= items.size()) fail(kw, "when needs a value");
    const Node& value = *items[i + 1];
    i += 2;
    std::vector<const Node*> branch;
    while (i < items.size() && !items[i]->is_symbol("when") && !items[i]->is_symbol("else")) {
      branch.push_back(items[i++]);
    }
    uint16_t inner = fs_->free_reg;
    uint16_t test = alloc_reg(value);
    Operand v = operand(value);
    emit(value, Opcode::EQ, test, subject, v.index, v.is_constant ? kFlagKC : 0);
    size_t skip = emit_jump(value, Opcode::JMPIFNOT, test);
    free_to(inner);
    block(value, branch, dest);
    to_end.push_back(emit_jump(value));
    patch_here(skip);
  }
  if (!has_else) emit(node, Opcode::LOADNIL, dest, 0);
  for (size_t jump : to_end) patch_here(jump);
  free_to(mark);
}

void CodeGen::loop_body(const Node& at, const std::vector<const Node*>& body, LoopContext& loop) {
  (void)loop;
  push_scope();
  hoist_functions(body);
  for (const Node* n : body) expr_discard(*n);
  (void)at;
  pop_scope();
}

void CodeGen::form_while(const Node& node, uint16_t dest) {
  if (node.children.size() < 2) fail(node, "while needs a condition");
  size_t top = here();
  uint16_t mark = fs_->free_reg;
  uint16_t c = expr_any(*node.children[1]);
  size_t exit = emit_jump(node, Opcode::JMPIFNOT, c);
  free_to(mark);
  fs_->loops.push_back(LoopContext{{}, {}, dest, false, fs_->tries.size(), fs_->scopes.size()});
  loop_body(node, rest_of(node, 2), fs_->loops.back());
  LoopContext loop = std::move(fs_->loops.back());
  fs_->loops.pop_back();
  for (size_t j : loop.continue_jumps) patch(j, top);
  emit_jump_back(node, top);
  patch_here(exit);
  for (size_t j : loop.break_jumps) patch_here(j);
  emit(node, Opcode::LOADNIL, dest, 0);
}

void CodeGen::form_loop(const Node& node, uint16_t dest) {
  uint16_t result = is_temp(dest) ? dest : alloc_reg(node);
  emit(node, Opcode::LOADNIL, result, 0);
  size_t top = here();
  fs_->loops.push_back(LoopContext{{}, {}, result, true, fs_->tries.size(), fs_->scopes.size()});
  loop_body(node, rest_of(node, 1), fs_->loops.back());
  LoopContext loop = std::move(fs_->loops.back());
  fs_->loops.pop_back();
  for (size_t j : loop.continue_jumps) patch(j, top);
  emit_jump_back(node, top);
  for (size_t j : loop.break_jumps) patch_here(j);
  if (result != dest) {
    emit(node, Opcode::MOVE, dest, result);
    free_to(result);
  }
}

void CodeGen::form_repeat(const Node& node, uint16_t dest) {
  if (node.children.size() < 2) fail(node, "repeat needs a count");
  push_scope();
  uint16_t base = alloc_reg(node);
  for (int i = 0; i < 3; ++i) alloc_reg(node);
  emit_sbx(node, Opcode::LOADI, base, 0);
  expr(*node.children[1], static_cast<uint16_t>(base + 1));
  emit_sbx(node, Opcode::LOADI, static_cast<uint16_t>(base + 2), 1);
  fs_->scopes.back().top = fs_->free_reg;
  size_t prep = emit_jump(node, Opcode::FORPREP, base, kFlagStepRange);
  size_t body_start = here();
  fs_->loops.push_back(LoopContext{{}, {}, dest, false, fs_->tries.size(), fs_->scopes.size()});
  loop_body(node, rest_of(node, 2), fs_->loops.back());
  LoopContext loop = std::move(fs_->loops.back());
  fs_->loops.pop_back();
  size_t next = here();
  for (size_t j : loop.continue_jumps) patch(j, next);
  emit_jump_back(node, body_start, Opcode::FORLOOP, base);
  patch_here(prep);
  for (size_t j : loop.break_jumps) patch_here(j);
  pop_scope();
  emit(node, Opcode::LOADNIL, dest, 0);
}

// (for x in coll body...) (for i x in coll body...)
void CodeGen::form_for(const Node& node, uint16_t dest) {
  const auto& ch = node.children;
  std::vector<const Node*> vars;
  size_t i = 1;
  while (i < ch.size() && !ch[i]->is_symbol("in")) {
    if (ch[i]->kind != NodeKind::Symbol) fail(*ch[i], "for expects variable names before 'in'");
    vars.push_back(ch[i].get());
    ++i;
  }
  if (i >= ch.size() || vars.empty() || vars.size() > 2) {
    fail(node, "for takes one or two names, then 'in' and a collection: (for x in xs ...)");
  }
  if (i + 1 >= ch.size()) fail(*ch[i], "for needs a collection after 'in'");
  const Node& source = *ch[i + 1];
  std::vector<const Node*> body = rest_of(node, i + 2);

  push_scope();
  uint16_t base = alloc_reg(node);
  for (int k = 0; k < 3; ++k) alloc_reg(node);

  // Counted loops for literal ranges: no Range object, no iterator.
  bool counted = false;
  uint8_t flags = 0;
  if (source.kind == NodeKind::List && source.children.size() == 3 &&
      source.children[1]->is_symbol("..")) {
    expr(*source.children[0], base);
    expr(*source.children[2], static_cast<uint16_t>(base + 1));
    counted = true;
  } else if (source.kind == NodeKind::List && source.children.size() >= 2 &&
             source.children.size() <= 4 && source.children[0]->is_symbol("range") &&
             resolve("range").kind == NameKind::Builtin) {
    if (source.children.size() == 2) {
      emit_sbx(source, Opcode::LOADI, base, 0);
      expr(*source.children[1], static_cast<uint16_t>(base + 1));
    } else {
      expr(*source.children[1], base);
      expr(*source.children[2], static_cast<uint16_t>(base + 1));
    }
    if (source.children.size() == 4) {
      expr(*source.children[3], static_cast<uint16_t>(base + 2));
    } else {
      emit_sbx(source, Opcode::LOADI, static_cast<uint16_t>(base + 2), 1);
    }
    flags = kFlagStepRange;
    counted = true;
  }
  fs_->scopes.back().top = fs_->free_reg;

  size_t exit_jump = 0;
  size_t body_start = 0;
  size_t iter_next = 0;
  if (counted) {
    if (vars.size() != 1) fail(*vars[1], "a range gives one value per step: (for i in (0 .. n))");
    exit_jump = emit_jump(node, Opcode::FORPREP, base, flags);
    body_start = here();
  } else {
    expr(source, base);
    emit(source, Opcode::ITERPREP, base);
    iter_next = here();
    exit_jump = emit_jump(node, Opcode::ITERNEXT, base, vars.size() == 1 ? 1 : 0);
  }

  fs_->loops.push_back(LoopContext{{}, {}, dest, false, fs_->tries.size(), fs_->scopes.size()});
  push_scope();
  // Fresh bindings each iteration: the loop variables alias the iteration
  // registers unless captured, in which case each iteration gets a new cell.
  auto bind = [&](const Node& var, uint16_t from) {
    if (!unit_.analysis && is_captured(&var)) {
      uint16_t reg = alloc_reg(var);
      emit(var, Opcode::MOVE, reg, from);
      declare_local_at(var, var.text, reg);
    } else {
      fs_->locals.push_back(Local{var.text, from, false, &var});
    }
  };
  if (vars.size() == 1) {
    bind(*vars[0], static_cast<uint16_t>(base + 3));
  } else {
    bind(*vars[0], static_cast<uint16_t>(base + 2));
    bind(*vars[1], static_cast<uint16_t>(base + 3));
  }
  hoist_functions(body);
  for (const Node* n : body) expr_discard(*n);
  pop_scope();
  LoopContext loop = std::move(fs_->loops.back());
  fs_->loops.pop_back();

  size_t next = here();
  for (size_t j : loop.continue_jumps) patch(j, next);
  if (counted) {
    emit_jump_back(node, body_start, Opcode::FORLOOP, base);
  } else {
    emit_jump_back(node, iter_next);
  }
  patch_here(exit_jump);
  for (size_t j : loop.break_jumps) patch_here(j);
  pop_scope();
  emit(node, Opcode::LOADNIL, dest, 0);
}

// Leaves the try blocks opened since `down_to` (innermost first), running
// their finally bodies, before a break, continue or return jumps out.
void CodeGen::leave_tries(const Node& at, size_t down_to) {
  std::vector<TryContext> saved = fs_->tries;
  for (size_t i = saved.size(); i-- > down_to;) {
    // While its finally body runs, the try being left is no longer active.
    fs_->tries.resize(i);
    emit(at, Opcode::ENDTRY);
    if (saved[i].finally_body != nullptr) {
      uint16_t mark = fs_->free_reg;
      uint16_t tmp = alloc_reg(at);
      block(at, *saved[i].finally_body, tmp);
      free_to(mark);
    }
  }
  fs_->tries = std::move(saved);
}

void CodeGen::form_break(const Node& node, uint16_t dest, bool is_continue) {
  const char* what = is_continue ? "continue" : "break";
  if (fs_->loops.empty()) fail(node, std::string(what) + " outside a loop");
  if (node.children.size() > (is_continue ? 1u : 2u)) {
    fail(node, is_continue ? "continue takes no value" : "break takes at most one value");
  }
  LoopContext& loop = fs_->loops.back();
  if (!is_continue && node.children.size() == 2) {
    if (loop.break_gives_value) {
      expr(*node.children[1], loop.result_reg);
    } else {
      expr_discard(*node.children[1]);
    }
  }
  leave_tries(node, loop.try_depth);
  size_t jump = emit_jump(node);
  (is_continue ? loop.continue_jumps : loop.break_jumps).push_back(jump);
  (void)dest;
}

void CodeGen::form_return(const Node& node, uint16_t dest) {
  if (fs_->module_level) fail(node, "return outside a function");
  if (node.children.size() > 2) fail(node, "return takes at most one value");
  uint16_t mark = fs_->free_reg;
  uint16_t reg = alloc_reg(node);
  if (node.children.size() == 2) {
    expr(*node.children[1], reg);
  } else {
    emit(node, Opcode::LOADNIL, reg, 0);
  }
  leave_tries(node, 0);
  emit(node, Opcode::RETURN, reg);
  free_to(mark);
  (void)dest;
}

void CodeGen::form_throw(const Node& node, uint16_t dest) {
  if (node.children.size() != 2) fail(node, "throw takes one value: (throw \"message\")");
  uint16_t mark = fs_->free_reg;
  uint16_t reg = expr_any(*node.children[1]);
  emit(node, Opcode::THROW, reg);
  free_to(mark);
  (void)dest;
}

void CodeGen::form_new(const Node& node, uint16_t dest) {
  if (node.children.size() < 2 || node.children[1]->kind != NodeKind::Symbol) {
    fail(node, "new takes a class name: (new TypeException \"message\")");
  }
  const Node& cls = *node.children[1];
  std::string builtin = "__new_" + cls.text;
  if (!exc_class_from_name(cls.text) && unit_.runtime.find_builtin(builtin) < 0) {
    fail(cls, "unknown class '" + cls.text + "'");
  }
  if (exc_class_from_name(cls.text)) builtin = "__new_exception";
  uint16_t mark = fs_->free_reg;
  uint16_t base = alloc_reg(node);
  int64_t index = unit_.runtime.find_builtin(builtin);
  if (index < 0) fail(cls, "class '" + cls.text + "' cannot be constructed yet");
  emit_bx(node, Opcode::GETBUILTIN, base, static_cast<uint32_t>(index));
  uint16_t count = 0;
  if (builtin == "__new_exception") {
    uint16_t reg = alloc_reg(cls);
    emit_bx(cls, Opcode::LOADK, reg, string_constant(cls.text));
    ++count;
  }
  auto [n, keywords] = arguments(node, rest_of(node, 2));
  emit(node, Opcode::CALL, base, static_cast<uint16_t>(count + n), 0,
       keywords ? kFlagKeywords : 0);
  if (base != dest) emit(node, Opcode::MOVE, dest, base);
  free_to(mark);
}

// (try body... catch Class h... catch name h... catch * h... finally f...)
void CodeGen::form_try(const Node& node, uint16_t dest) {
  std::vector<const Node*> items = rest_of(node, 1);
  std::vector<const Node*> body;
  size_t i = 0;
  while (i < items.size() && !items[i]->is_symbol("catch") && !items[i]->is_symbol("finally")) {
    body.push_back(items[i++]);
  }
  struct Clause {
    const Node* keyword;  // `catch`: declares $ex
    const Node* selector;
    std::optional<ExcClass> cls;
    std::vector<const Node*> handler;
  };
  std::vector<Clause> clauses;
  std::vector<const Node*> finally_body;
  bool has_finally = false;
  while (i < items.size()) {
    const Node& kw = *items[i++];
    if (kw.is_symbol("catch")) {
      if (has_finally) fail(kw, "catch must come before finally");
      if (i >= items.size() || items[i]->kind != NodeKind::Symbol) {
        fail(kw, "catch needs a class, a name or *: (catch IOError ...), (catch e ...)");
      }
      Clause clause{&kw, items[i], std::nullopt, {}};
      if (!items[i]->is_symbol("*")) clause.cls = exc_class_from_name(items[i]->text);
      ++i;
      while (i < items.size() && !items[i]->is_symbol("catch") &&
             !items[i]->is_symbol("finally")) {
        clause.handler.push_back(items[i++]);
      }
      clauses.push_back(std::move(clause));
    } else if (kw.is_symbol("finally")) {
      if (has_finally) fail(kw, "only one finally per try");
      has_finally = true;
      while (i < items.size()) finally_body.push_back(items[i++]);
    } else {
      fail(kw, "expected catch or finally");
    }
  }

  uint16_t mark = fs_->free_reg;
  uint16_t result = is_temp(dest) ? dest : alloc_reg(node);
  uint16_t outer_exc = 0;
  size_t outer_try = 0;
  if (has_finally) {
    outer_exc = alloc_reg(node);
    outer_try = emit_jump(node, Opcode::TRY, outer_exc);
    fs_->tries.push_back(TryContext{&finally_body});
  }
  if (!clauses.empty()) {
    uint16_t exc = alloc_reg(node);
    size_t inner_try = emit_jump(node, Opcode::TRY, exc);
    fs_->tries.push_back(TryContext{nullptr});
    block(node, body, result);
    fs_->tries.pop_back();
    emit(node, Opcode::ENDTRY);
    std::vector<size_t> to_done;
    to_done.push_back(emit_jump(node));
    patch_here(inner_try);
    for (const Clause& clause : clauses) {
      size_t skip = 0;
      bool typed = clause.cls.has_value();
      if (typed) {
        uint16_t test = alloc_reg(*clause.selector);
        emit(*clause.selector, Opcode::EXCMATCH, test, exc, static_cast<uint16_t>(*clause.cls));
        skip = emit_jump(*clause.selector, Opcode::JMPIFNOT, test);
        free_to(test);
      }
      push_scope();
      // $ex, and the clause's own name, each hold the exception.
      uint16_t ex_reg = alloc_reg(*clause.selector);
      emit(*clause.selector, Opcode::MOVE, ex_reg, exc);
      declare_local_at(*clause.keyword, "$ex", ex_reg);
      if (!typed && !clause.selector->is_symbol("*")) {
        uint16_t named = alloc_reg(*clause.selector);
        emit(*clause.selector, Opcode::MOVE, named, exc);
        declare_local_at(*clause.selector, clause.selector->text, named);
      }
      block(*clause.selector, clause.handler, result);
      pop_scope();
      to_done.push_back(emit_jump(*clause.selector));
      if (typed) patch_here(skip);
    }
    emit(node, Opcode::THROW, exc);
    for (size_t j : to_done) patch_here(j);
  } else {
    block(node, body, result);
  }
  if (has_finally) {
    fs_->tries.pop_back();
    emit(node, Opcode::ENDTRY);
    uint16_t scratch = alloc_reg(node);
    block(node, finally_body, scratch);
    size_t to_end = emit_jump(node);
    patch_here(outer_try);
    block(node, finally_body, scratch);
    emit(node, Opcode::THROW, outer_exc);
    patch_here(to_end);
  }
  if (result != dest) emit(node, Opcode::MOVE, dest, result);
  free_to(mark);
}

// (fn [^^async] [name] [params] body...)
void CodeGen::form_fn(const Node& node, uint16_t dest) {
  size_t i = 1;
  while (i + 1 < node.children.size() && node.children[i]->kind == NodeKind::Keyword) {
    const Node& flag = *node.children[i];
    if (flag.text != "async") fail(flag, "unknown function flag ^" + flag.text);
    fail(flag, "async functions arrive with the concurrency core");
    i += 2;
  }
  const Node* name = nullptr;
  if (i < node.children.size() && node.children[i]->kind == NodeKind::Symbol) {
    name = node.children[i].get();
    ++i;
  }
  if (i >= node.children.size() || node.children[i]->kind != NodeKind::Array) {
    fail(node, "fn needs a parameter list: (fn name [a b] body...) or (fn [x] body...)");
  }
  const Node& params = *node.children[i];
  std::vector<const Node*> body = rest_of(node, i + 1);
  Proto* proto = function_body(node, name != nullptr ? name->text : "", params, body);
  uint32_t k = add_constant(Value::adopt(proto));
  // The constant holds the compiler's reference; the module owns it too.
  if (k > 0xFFFFFF) fail(node, "too many functions");
  bool module_function = name != nullptr && at_module_scope();
  uint16_t mark = fs_->free_reg;
  bool wanted = dest != kNoDest;
  if (name == nullptr) {
    if (wanted) emit_bx(node, Opcode::CLOSURE, dest, k);
    return;
  }
  if (module_function) {
    uint32_t slot = unit_.module.declare(name->text);
    uint16_t reg = wanted && is_temp(dest) ? dest : alloc_reg(node);
    emit_bx(node, Opcode::CLOSURE, reg, k, proto->upvalues.empty() ? kFlagImmortal : 0);
    emit_bx(node, Opcode::SETGLOBAL, reg, slot);
    if (wanted && reg != dest) emit(node, Opcode::MOVE, dest, reg);
    free_to(mark);
    return;
  }
  // A local function: hoisted by its block, so the local exists already
  // unless the fn stands in an expression position.
  const Local* local = nullptr;
  for (size_t j = fs_->locals.size(); j-- > 0;) {
    if (fs_->locals[j].decl == name) local = &fs_->locals[j];
  }
  if (local == nullptr) {
    require_statement_position(node, "a named fn");
    uint16_t reg = alloc_reg(node);
    emit_bx(node, Opcode::CLOSURE, reg, k);
    if (wanted && reg != dest) emit(node, Opcode::MOVE, dest, reg);
    declare_local_at(*name, name->text, reg);
    return;
  }
  if (local->is_cell) {
    uint16_t reg = alloc_reg(node);
    emit_bx(node, Opcode::CLOSURE, reg, k);
    emit(node, Opcode::SETCELL, local->reg, reg);
    if (wanted && reg != dest) emit(node, Opcode::MOVE, dest, reg);
  } else {
    emit_bx(node, Opcode::CLOSURE, local->reg, k);
    if (wanted && local->reg != dest) emit(node, Opcode::MOVE, dest, local->reg);
  }
  free_to(mark);
}

Proto* CodeGen::function_body(const Node& node, const std::string& name, const Node& params,
                              const std::vector<const Node*>& body) {
  Proto* proto = new Proto();
  unit_.module.adopt_immortal(proto);
  proto->name = name.empty() ? "<fn>" : name;
  proto->source = unit_.source;
  proto->module = &unit_.module;
  proto->location = node.loc;

  FunctionState fs;
  fs.parent = fs_;
  fs.proto = proto;
  fs.self_name = name;
  FunctionState* saved = fs_;
  fs_ = &fs;
  push_scope();

  // Parameters: names, `name = default`, `rest...`, `^kw [= default]`.
  struct Param {
    const Node* name;
    const Node* default_value;
    bool keyword;
    bool rest;
  };
  std::vector<Param> list;
  const auto& p = params.children;
  for (size_t i = 0; i < p.size(); ++i) {
    const Node& item = *p[i];
    Param param{&item, nullptr, false, false};
    if (item.kind == NodeKind::Keyword) {
      param.keyword = true;
      // ^^flag and ^!flag arrive from the reader as a Keyword and a Bool:
      // the Bool is the default.
      if (i + 1 < p.size() && p[i + 1]->kind == NodeKind::Bool) {
        param.default_value = p[++i].get();
        list.push_back(param);
        continue;
      }
    } else if (item.kind == NodeKind::Symbol && item.text.size() > 3 &&
               item.text.compare(item.text.size() - 3, 3, "...") == 0) {
      param.rest = true;
    } else if (item.kind != NodeKind::Symbol || find_operator(item) != nullptr ||
               item.text == "=") {
      fail(item, "expected a parameter name");
    }
    if (i + 1 < p.size() && p[i + 1]->is_symbol("=")) {
      if (i + 2 >= p.size()) fail(*p[i + 1], "expected a default value after '='");
      if (param.rest) fail(item, "a rest parameter cannot have a default");
      param.default_value = p[i + 2].get();
      i += 2;
    }
    list.push_back(param);
  }

  bool seen_default = false;
  bool seen_rest = false;
  std::vector<Param> positional;
  std::vector<Param> keyword;
  const Param* rest = nullptr;
  for (const Param& param : list) {
    if (param.keyword) {
      keyword.push_back(param);
    } else if (param.rest) {
      if (seen_rest) fail(*param.name, "only one rest parameter");
      seen_rest = true;
      rest = &param;
    } else {
      if (seen_rest) fail(*param.name, "positional parameters must come before the rest parameter");
      if (param.default_value != nullptr) {
        seen_default = true;
      } else if (seen_default) {
        fail(*param.name, "parameter '" + param.name->text +
                              "' without a default follows one with a default");
      }
      positional.push_back(param);
    }
  }
  proto->num_positional = static_cast<uint16_t>(positional.size());
  proto->has_rest = rest != nullptr;
  uint16_t required = 0;
  for (const Param& param : positional) {
    if (param.default_value == nullptr) ++required;
  }
  proto->num_required = required;

  // Registers in the calling convention's order, then declarations.
  std::vector<std::pair<const Param*, uint16_t>> regs;
  for (const Param& param : positional) {
    regs.emplace_back(&param, alloc_reg(*param.name));
    proto->positional_names.push_back(Value::adopt(String::make(param.name->text)));
  }
  if (rest != nullptr) regs.emplace_back(rest, alloc_reg(*rest->name));
  for (const Param& param : keyword) {
    uint16_t reg = alloc_reg(*param.name);
    regs.emplace_back(&param, reg);
    proto->keyword_params.push_back(KeywordParam{Value::adopt(String::make(param.name->text)), reg});
  }
  fs.scopes.back().top = fs.free_reg;
  for (auto& [param, reg] : regs) {
    std::string pname = param->name->text;
    if (param->rest) pname.resize(pname.size() - 3);
    if (param->default_value != nullptr) {
      size_t skip = emit_jump(*param->name, Opcode::JMPIFPRESENT, reg);
      expr(*param->default_value, reg);
      patch_here(skip);
    } else if (param->keyword) {
      size_t skip = emit_jump(*param->name, Opcode::JMPIFPRESENT, reg);
      emit(*param->name, Opcode::LOADNIL, reg, 0);
      patch_here(skip);
    }
    declare_local_at(*param->name, pname, reg);
  }
  uint16_t result = alloc_reg(node);
  fs.scopes.back().top = fs.free_reg;
  block(node, body, result);
  emit(body.empty() ? node : *body.back(), Opcode::RETURN, result);
  pop_scope();
  fs_ = saved;
  return proto;
}

}  // namespace

Proto* compile_program(Runtime& runtime, Module& module, const SourceRef& source,
                       const std::vector<NodePtr>& program) {
  CompileUnit unit{runtime, module, source, true, {}};
  // Pass 1 finds captured variables. Its prototypes are discarded; globals
  // it declared are declared again, identically, by pass 2.
  {
    unit.analysis = true;
    Module scratch(module.name());
    for (size_t i = 0; i < module.size(); ++i) scratch.declare(module.global_name(i));
    CompileUnit analysis{runtime, scratch, source, true, {}};
    CodeGen pass1(analysis);
    pass1.compile_main(program);
    unit.captured = std::move(analysis.captured);
  }
  unit.analysis = false;
  CodeGen pass2(unit);
  return pass2.compile_main(program);
}

}  // namespace weft
