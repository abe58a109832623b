// Functions: parameter lists, bodies and closures.
#include "lang/codegen.h"

namespace weft::compiler {

// (fn [^^async] [name] [params] body...)
void CodeGen::form_fn(const Node& node, uint16_t dest) {
  size_t i = 1;
  bool is_async = false;
  while (i + 1 < node.children.size() && node.children[i]->kind == NodeKind::Keyword) {
    const Node& flag = *node.children[i];
    if (flag.text != "async") fail(flag, "unknown function flag ^" + flag.text);
    const Node& value = *node.children[i + 1];
    if (value.kind != NodeKind::Bool) fail(value, "^async takes true or false (write ^^async)");
    is_async = value.bool_value;
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
  bool module_function = name != nullptr && at_module_scope();
  Proto* proto = function_body(node, name != nullptr ? name->text : "",
                               module_function ? nullptr : name, params, body);
  proto->is_async = is_async;
  uint32_t k = add_constant(Value::adopt(proto));
  // The constant holds the compiler's reference; the module owns it too.
  if (k > 0xFFFFFF) fail(node, "too many functions");
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
  // The hoisted local held nil until now: it is assigned, and a function
  // that captured it earlier must see this value through a cell.
  if (unit_.analysis) unit_.assigned.insert(name);
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

Proto* CodeGen::function_body(const Node& node, const std::string& name, const Node* self,
                              const Node& params, const std::vector<const Node*>& body) {
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
  fs.self_decl = self;
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
        fail(*param.name,
             "parameter '" + param.name->text + "' without a default follows one with a default");
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
    proto->keyword_params.push_back(
        KeywordParam{Value::adopt(String::make(param.name->text)), reg});
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
  if (self != nullptr && !unit_.analysis && unit_.needs_self_cell.count(self) != 0) {
    uint16_t reg = alloc_reg(*self);
    emit(*self, Opcode::SELF, reg);
    declare_local_at(*self, name, reg);
  }
  uint16_t result = alloc_reg(node);
  fs.scopes.back().top = fs.free_reg;
  block(node, body, result);
  emit_return(body.empty() ? node : *body.back(), result);
  pop_scope();
  fs_ = saved;
  proto->method_cache.make_slots(proto->constants.size());
  return proto;
}

}  // namespace weft::compiler
