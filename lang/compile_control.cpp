// Special forms: declarations, assignment, conditionals, loops and
// exceptions.
#include "lang/codegen.h"

namespace weft::compiler {

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
  if (name == "async") return form_async(node, dest), true;
  if (name == "await") return form_await(node, dest), true;
  if (name == "scope") return form_scope(node, dest), true;
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
    note_assignment(target.text, r);
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
  // Evaluate the container (all but the last segment), then the value. A
  // container that is a local variable is used from its own register
  // unless the value may assign that variable (expr_any).
  const Node& root = *target.children[0];
  const bool root_only = target.children.size() == 2;
  const Local* root_local =
      root_only ? borrowable_local(root.text, /*others_follow=*/true) : nullptr;
  uint16_t obj;
  if (root_local != nullptr) {
    obj = root_local->reg;
  } else if (root_only) {
    obj = alloc_reg(target);
    symbol(root, obj);
  } else {
    obj = alloc_reg(target);
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
  uint16_t val = is_temp(dest) && dest + 1 == fs_->free_reg ? dest : alloc_reg(value);
  expr(value, val);
  if (op == "=") {
    emit(key, Opcode::SETFIELD, obj, static_cast<uint16_t>(k), val);
  } else {
    // The value first, then the item's read, combination and write in
    // one step (engine/access.h, update_path).
    const Opcode code = arith_opcode(op.substr(0, 1));
    emit(*node.children[1], Opcode::UPDATEFIELD, val, obj, static_cast<uint16_t>(k),
         static_cast<uint8_t>(code));
  }
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
  // (With two names, a range goes through the iterator: index and value.)
  if (vars.size() == 1 && source.kind == NodeKind::List && source.children.size() == 3 &&
      source.children[1]->is_symbol("..")) {
    expr(*source.children[0], base);
    expr(*source.children[2], static_cast<uint16_t>(base + 1));
    counted = true;
  } else if (vars.size() == 1 && source.kind == NodeKind::List && source.children.size() >= 2 &&
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
    uint8_t iter_flags = vars.size() == 1 ? kFlagOneVariable : 0;
    // Array_cursor.h rule 4: only a variable that nothing assigns may hold
    // a lent item (the analysis pass has seen every assignment).
    const Node& value_var = *vars.back();
    if (!unit_.analysis && unit_.assigned.count(&value_var) == 0 && !needs_cell(&value_var)) {
      iter_flags |= kFlagLendItems;
      fs_->proto->lends_loop_items = true;
    }
    exit_jump = emit_jump(node, Opcode::ITERNEXT, base, iter_flags);
  }

  fs_->loops.push_back(LoopContext{{}, {}, dest, false, fs_->tries.size(), fs_->scopes.size()});
  push_scope();
  // Fresh bindings each iteration: the loop variables alias the iteration
  // registers unless they need a cell (captured and assigned), in which
  // case each iteration gets a new one. A closure copies a variable that is
  // captured and never assigned when it is made, so that one aliases too.
  auto bind = [&](const Node& var, uint16_t from) {
    if (!unit_.analysis && needs_cell(&var)) {
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
  // The collection, where the loop stands (an ArrayCursor holds copies of
  // items) and the last item are let go when the loop ends or a break
  // leaves it, not when the registers are next used. (A return or a throw
  // settles a lent item, engine/array_cursor.h rule 4, and leaves the
  // registers to be reused or cleared with the frame.)
  if (!counted) emit(node, Opcode::ITEREND, base);
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
    if (saved[i].on_leave) saved[i].on_leave(at);
  }
  fs_->tries = std::move(saved);
}

void CodeGen::form_break(const Node& node, uint16_t dest, bool is_continue) {
  const char* what = is_continue ? "continue" : "break";
  if (fs_->loops.empty()) fail(node, std::string(what) + " outside a loop");
  if (node.children.size() > (is_continue ? 1u : 2u)) {
    fail(node, is_continue ? "continue takes no value" : "break takes at most one value");
  }
  // By index, not by reference: the break value may hold loops of its own,
  // which grow fs_->loops while it compiles.
  size_t loop_index = fs_->loops.size() - 1;
  if (!is_continue && node.children.size() == 2) {
    if (fs_->loops[loop_index].break_gives_value) {
      expr(*node.children[1], fs_->loops[loop_index].result_reg);
    } else {
      expr_discard(*node.children[1]);
    }
  }
  leave_tries(node, fs_->loops[loop_index].try_depth);
  size_t jump = emit_jump(node);
  LoopContext& loop = fs_->loops[loop_index];
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
  emit_return(node, reg);
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
  emit(node, Opcode::CALL, base, static_cast<uint16_t>(count + n), 0, keywords ? kFlagKeywords : 0);
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
      while (i < items.size() && !items[i]->is_symbol("catch") && !items[i]->is_symbol("finally")) {
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
    fs_->tries.push_back(TryContext{[this, &finally_body](const Node& at) {
      uint16_t mark = fs_->free_reg;
      uint16_t tmp = alloc_reg(at);
      size_t begin = here();
      block(at, finally_body, tmp);
      shield_from(begin);
      free_to(mark);
    }});
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
    // The finally body is emitted once, shared by both paths: the normal
    // path arrives with nil in outer_exc, the handler with the exception,
    // which is rethrown afterwards. (Emitting it once per path would double
    // the code at every level of nesting.)
    fs_->tries.pop_back();
    emit(node, Opcode::ENDTRY);
    emit(node, Opcode::LOADNIL, outer_exc, 0);
    patch_here(outer_try);
    uint16_t scratch = alloc_reg(node);
    size_t begin = here();
    block(node, finally_body, scratch);
    shield_from(begin);
    size_t to_end = emit_jump(node, Opcode::JMPIFNOT, outer_exc);
    emit(node, Opcode::THROW, outer_exc);
    patch_here(to_end);
  }
  if (result != dest) emit(node, Opcode::MOVE, dest, result);
  free_to(mark);
}

}  // namespace weft::compiler
