// Expressions: literals, names, paths, operators and calls.
#include "lang/codegen.h"

namespace weft::compiler {

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

uint16_t CodeGen::expr_any(const Node& node, bool others_follow) {
  if (node.kind == NodeKind::Symbol) {
    if (const Local* local = borrowable_local(node.text, others_follow)) return local->reg;
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
    fail(node,
         "method selector '" + node.text + "' must follow a receiver: (obj " + node.text + " ...)");
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
      emit(node, r.is_cell ? Opcode::GETUPVAL : Opcode::GETCAPTURED, dest,
           static_cast<uint16_t>(r.index));
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
      fail(root,
           node.children.size() == 2 && node.children[1]->kind == NodeKind::String
               ? "undefined variable '" + root.text + "' (and no builtin '" + path_text(node) + "')"
               : "undefined variable '" + root.text + "'");
    }
  }
  uint16_t mark = fs_->free_reg;
  uint16_t current = is_temp(dest) && dest + 1 == fs_->free_reg ? dest : alloc_reg(node);
  // The first step reads a local variable from its own register (nothing
  // is evaluated between, so nothing can assign it); a method needs the
  // receiver in `current`.
  uint16_t source = current;
  const Local* root_local = borrowable_local(root.text, /*others_follow=*/false);
  if (root_local != nullptr && node.children[1]->kind != NodeKind::Symbol) {
    source = root_local->reg;
  } else {
    symbol(root, current);
  }
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
    uint32_t k =
        seg.kind == NodeKind::Int ? int_constant(seg.int_value) : string_constant(seg.text);
    if (k > 0xFFFF) fail(seg, "too many constants in one function");
    emit(seg, Opcode::GETFIELD, current, i == 1 ? source : current, static_cast<uint16_t>(k));
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
    if (inline_sleep(node, dest)) return;
  }
  call(node, dest);
}

// ---- operators --------------------------------------------------------------

CodeGen::Operand CodeGen::operand(const Node& node, bool others_follow) {
  uint32_t k = UINT32_MAX;
  if (node.kind == NodeKind::Int) k = int_constant(node.int_value);
  if (node.kind == NodeKind::Float) k = float_constant(node.float_value);
  if (node.kind == NodeKind::String) k = string_constant(node.text);
  if (k <= 0xFFFF) return {true, static_cast<uint16_t>(k)};
  return {false, expr_any(node, others_follow)};
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
    if (op->kind != OpKind::Compare && lhs.leaf == nullptr &&
        find_operator(*lhs.ops[0])->precedence == op->precedence) {
      // Left-associative operators of one level make one flat chain, not a
      // left-deep tree: a 70,000-operand (a + b + ...) must not need a
      // 70,000-deep recursion to compile (or to free).
      lhs.ops.push_back(op_node);
      lhs.operands.push_back(parse_infix(items, pos, op->precedence + 1));
      continue;
    }
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
  if (info->kind == OpKind::Compare) {
    std::vector<const InfixTree*> xs;
    for (const InfixTree& t : tree.operands) xs.push_back(&t);
    compare_chain(tree.ops, xs, dest);
    return;
  }
  if (tree.ops.size() == 1 && tree.operands[0].leaf != nullptr &&
      tree.operands[1].leaf != nullptr) {
    binary(op, *tree.operands[0].leaf, *tree.operands[1].leaf, dest);
    return;
  }
  // A chain a op1 b op2 c ..., folded from the left into one register.
  uint16_t mark = fs_->free_reg;
  uint16_t target = is_temp(dest) ? dest : alloc_reg(op);
  infix_tree(tree.operands[0], target);
  if (info->kind == OpKind::And || info->kind == OpKind::Or) {
    std::vector<size_t> exits;
    for (size_t i = 1; i < tree.operands.size(); ++i) {
      exits.push_back(emit_jump(*tree.ops[i - 1],
                                info->kind == OpKind::And ? Opcode::JMPIFNOT : Opcode::JMPIF,
                                target));
      infix_tree(tree.operands[i], target);
    }
    for (size_t jump : exits) patch_here(jump);
  } else {
    for (size_t i = 1; i < tree.operands.size(); ++i) {
      const Node& step = *tree.ops[i - 1];
      uint16_t inner = fs_->free_reg;
      uint16_t operand_reg = alloc_reg(step);
      infix_tree(tree.operands[i], operand_reg);
      Opcode code = find_operator(step)->kind == OpKind::Range ? Opcode::RANGE
                                                                : arith_opcode(step.text);
      emit(step, code, target, target, operand_reg);
      free_to(inner);
    }
  }
  if (target != dest) emit(op, Opcode::MOVE, dest, target);
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
      Operand l = operand(left, /*others_follow=*/true);
      Operand r = operand(right);
      compare_op(op, l, r, dest);
      free_to(mark);
      return;
    }
    case OpKind::Range: {
      uint16_t a = expr_any(left, /*others_follow=*/true);
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
    emit(op, Opcode::ADDI, dest, a, static_cast<uint16_t>(static_cast<int16_t>(imm)),
         t == "-" ? kFlagSubtracted : 0);
    free_to(mark);
    return;
  }
  Opcode code = arith_opcode(t);
  Operand l = operand(left, /*others_follow=*/true);
  Operand r = operand(right);
  uint8_t flags = (l.is_constant ? kFlagKB : 0) | (r.is_constant ? kFlagKC : 0);
  emit(op, code, dest, l.index, r.index, flags);
  free_to(mark);
}

void CodeGen::compare_op(const Node& op, Operand left, Operand right, uint16_t dest) {
  const std::string& t = op.text;
  bool swap = t == ">" || t == ">=";
  Opcode code = t == "=="                ? Opcode::EQ
                : t == "!="              ? Opcode::NE
                : (t == "<" || t == ">") ? Opcode::LT
                                         : Opcode::LE;
  if (swap) std::swap(left, right);
  uint8_t flags = (left.is_constant ? kFlagKB : 0) | (right.is_constant ? kFlagKC : 0) |
                  (swap ? kFlagSwapped : 0);
  emit(op, code, dest, left.index, right.index, flags);
}

void CodeGen::compare_chain(const std::vector<const Node*>& ops,
                            const std::vector<const InfixTree*>& xs, uint16_t dest) {
  uint16_t mark = fs_->free_reg;
  // Only the first operand is read after a later one is evaluated: each
  // right operand is compared at once and then copied into `carry`.
  auto load = [&](const InfixTree& t, bool others_follow) -> Operand {
    if (t.leaf != nullptr) return operand(*t.leaf, others_follow);
    uint16_t reg = alloc_reg(*ops[0]);
    infix_tree(t, reg);
    return {false, reg};
  };
  uint16_t target = is_temp(dest) ? dest : alloc_reg(*ops[0]);
  // The middle operands are carried in one register, so a long chain needs
  // a fixed number of registers.
  uint16_t carry = alloc_reg(*ops[0]);
  std::vector<size_t> exits;
  Operand left = load(*xs[0], /*others_follow=*/true);
  for (size_t i = 0; i < ops.size(); ++i) {
    uint16_t inner = fs_->free_reg;
    Operand right = load(*xs[i + 1], /*others_follow=*/false);
    compare_op(*ops[i], left, right, target);
    if (i + 1 < ops.size()) {
      exits.push_back(emit_jump(*ops[i], Opcode::JMPIFNOT, target));
      if (right.is_constant) {
        left = right;
      } else {
        if (right.index != carry) emit(*ops[i], Opcode::MOVE, carry, right.index);
        left = {false, carry};
      }
    }
    free_to(inner);
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
  // Arithmetic and logic fold left: (+ a b c) is ((a + b) + c), compiled
  // as one flat chain.
  InfixTree tree;
  for (size_t i = 1; i <= n; ++i) {
    InfixTree leaf;
    leaf.leaf = node.children[i].get();
    tree.operands.push_back(std::move(leaf));
    if (i > 1) tree.ops.push_back(&head);
  }
  infix_tree(tree, dest);
}

// ---- calls ------------------------------------------------------------------

std::pair<uint16_t, bool> CodeGen::arguments(const Node& at, const std::vector<const Node*>& args) {
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

std::optional<CodeGen::BorrowSource> CodeGen::borrowable_receiver(const Node& receiver) {
  if (receiver.kind != NodeKind::Symbol) return std::nullopt;
  if (const Local* local = borrowable_local(receiver.text, /*others_follow=*/true)) {
    return BorrowSource{local->reg, 0};
  }
  if (find_local(*fs_, receiver.text) != nullptr) return std::nullopt;
  const Resolved r = resolve(receiver.text);
  if (r.kind == NameKind::Upvalue && !r.is_cell) {
    return BorrowSource{static_cast<uint16_t>(r.index), kFlagFromCapture};
  }
  return std::nullopt;
}

void CodeGen::method_call(const Node& at, const Node& receiver, const std::string& method,
                          const std::vector<const Node*>& args, uint16_t dest) {
  uint16_t mark = fs_->free_reg;
  uint16_t base = is_temp(dest) && dest + 1 == fs_->free_reg ? dest : alloc_reg(at);
  uint16_t recv = alloc_reg(receiver);
  const std::optional<BorrowSource> borrow = borrowable_receiver(receiver);
  if (!borrow) expr(receiver, recv);
  auto [count, keywords] = arguments(at, args);
  uint32_t k = string_constant(method);
  if (k > 0xFFFF) fail(at, "too many constants in one function");
  uint8_t flags = keywords ? kFlagKeywords : 0;
  if (!keywords && !args.empty() && args.back()->kind == NodeKind::Array) {
    flags |= kFlagFreshLastArg;
  }
  if (borrow) {
    // Right before the INVOKE, which gives the borrowed copy up (vm.cpp).
    emit(receiver, Opcode::BORROW, recv, borrow->index, 0, borrow->flags);
    flags |= kFlagBorrowedReceiver;
  }
  emit(at, Opcode::INVOKE, base, count, static_cast<uint16_t>(k), flags);
  if (base != dest) emit(at, Opcode::MOVE, dest, base);
  free_to(mark);
}

}  // namespace weft::compiler
