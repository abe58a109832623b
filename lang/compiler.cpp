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

#include "lang/big_stack.h"
#include "lang/codegen.h"

namespace weft {

namespace compiler {

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
  emit_return(body.empty() ? at : *body.back(), result);
  pop_scope();
  proto->method_cache.make_slots(proto->constants.size());
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

}  // namespace compiler

using compiler::CodeGen;
using compiler::CompileUnit;

Proto* compile_program(Runtime& runtime, Module& module, const SourceRef& source,
                       const std::vector<NodePtr>& program) {
  Proto* result = nullptr;
  // The code generator recurses over the tree: give it a stack that fits
  // the deepest tree the reader accepts (lang/big_stack.h).
  run_with_big_stack([&] {
    CompileUnit unit{runtime, module, source, true, {}, {}, {}};
    // Pass 1 finds captured and assigned variables. Its prototypes are discarded; globals
    // it declared are declared again, identically, by pass 2.
    {
      Module scratch(module.name());
      for (size_t i = 0; i < module.size(); ++i) scratch.declare(module.global_name(i));
      CompileUnit analysis{runtime, scratch, source, true, {}, {}, {}};
      CodeGen pass1(analysis);
      pass1.compile_main(program);
      unit.captured = std::move(analysis.captured);
      unit.assigned = std::move(analysis.assigned);
      unit.needs_self_cell = std::move(analysis.needs_self_cell);
    }
    unit.analysis = false;
    CodeGen pass2(unit);
    result = pass2.compile_main(program);
  });
  return result;
}

}  // namespace weft
