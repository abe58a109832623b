// The concurrency forms: async, await and scope.
#include "lang/codegen.h"

namespace weft::compiler {

void CodeGen::load_builtin(const Node& at, const char* name, uint16_t into) {
  int64_t index = unit_.runtime.find_builtin(name);
  if (index < 0) fail(at, std::string("internal: missing builtin ") + name);
  emit_bx(at, Opcode::GETBUILTIN, into, static_cast<uint32_t>(index));
}

void CodeGen::call_builtin(const Node& at, const char* name, const std::vector<uint16_t>& args,
                           uint16_t dest) {
  uint16_t mark = fs_->free_reg;
  uint16_t base = alloc_reg(at);
  load_builtin(at, name, base);
  for (uint16_t arg : args) emit(at, Opcode::MOVE, alloc_reg(at), arg);
  emit(at, Opcode::CALL, base, static_cast<uint16_t>(args.size()));
  if (base != dest) emit(at, Opcode::MOVE, dest, base);
  free_to(mark);
}

// (async body...): the body becomes a function of no parameters, started as
// a task; the expression gives its future.
void CodeGen::form_async(const Node& node, uint16_t dest) {
  Node no_params;
  no_params.kind = NodeKind::Array;
  no_params.loc = node.loc;
  Proto* proto = function_body(node, "<async>", nullptr, no_params, rest_of(node, 1));
  uint32_t k = add_constant(Value::adopt(proto));
  uint16_t mark = fs_->free_reg;
  uint16_t fn = alloc_reg(node);
  emit_bx(node, Opcode::CLOSURE, fn, k);
  emit(node, Opcode::SPAWN, dest, fn);
  free_to(mark);
}

// (await f) (await f1 f2 ...) (await ^timeout seconds f)
void CodeGen::form_await(const Node& node, uint16_t dest) {
  std::vector<const Node*> args = rest_of(node, 1);
  const Node* timeout = nullptr;
  if (!args.empty() && args[0]->kind == NodeKind::Keyword) {
    if (args[0]->text != "timeout" || args.size() < 2) {
      fail(*args[0], "await takes ^timeout seconds: (await ^timeout 0.5 f)");
    }
    timeout = args[1];
    args.erase(args.begin(), args.begin() + 2);
  }
  if (args.empty()) fail(node, "await needs a future: (await f)");
  uint16_t mark = fs_->free_reg;
  auto await_one = [&](const Node& arg, uint16_t into) {
    expr(arg, into);
    if (timeout != nullptr) {
      uint16_t seconds = alloc_reg(*timeout);
      expr(*timeout, seconds);
      call_builtin(arg, "__with_timeout", {into, seconds}, into);
      free_to(seconds);
    }
    emit(arg, Opcode::AWAIT, into, into);
  };
  if (args.size() == 1) {
    uint16_t into = is_temp(dest) ? dest : alloc_reg(node);
    await_one(*args[0], into);
    if (into != dest) emit(node, Opcode::MOVE, dest, into);
    free_to(mark);
    return;
  }
  uint16_t first = fs_->free_reg;
  for (const Node* arg : args) await_one(*arg, alloc_reg(*arg));
  emit(node, Opcode::NEWARRAY, dest, first, static_cast<uint16_t>(args.size()));
  free_to(mark);
}

// A task's commonest suspension, inlined: the prelude's
// (fn sleep [ms] (await (sleep_async ms))) would cost a call frame, and the
// stack growth to hold it, per sleep. Only when `sleep` names that builtin
// (no local, upvalue or global of the name) and the call has one plain
// argument, so that the meaning is the same; a stack trace then shows the
// caller's line instead of the prelude's `sleep` frame.
bool CodeGen::inline_sleep(const Node& node, uint16_t dest) {
  if (!node.children[0]->is_symbol("sleep") || node.children.size() != 2) return false;
  const Node& amount = *node.children[1];
  if (amount.kind == NodeKind::Keyword) return false;
  if (resolve("sleep").kind != NameKind::Builtin) return false;
  // The future lives in one register only (the call's result, replaced by
  // the AWAIT's), unlike call_builtin's copy: a cancelled task whose
  // register holds the last other reference cancels the timer too
  // (future.h rule 5).
  uint16_t mark = fs_->free_reg;
  uint16_t base = alloc_reg(node);
  load_builtin(node, "sleep_async", base);
  expr(amount, alloc_reg(amount));
  emit(node, Opcode::CALL, base, 1);
  emit(node, Opcode::AWAIT, base, base);
  if (base != dest) emit(node, Opcode::MOVE, dest, base);
  free_to(mark);
  return true;
}

// (scope body...): structured concurrency (engine/task_scope.h). As code:
//   s = (__scope_open)
//   try { result = body; (await (__scope_close s)) } then (__scope_end s)
//   on exception e: (await (__scope_abort s)); rethrow e
// The close's await rethrows the first child failure; a cancellation of
// the task while it waits there lands in the handler too, which cancels
// the children. The abort's await gives nil, or rethrows the first child
// failure when one came before the abort (it wins over the body's own
// exception, often a consequence of it). The abort is shielded from
// cancellation, so the scope is never left before its children have
// ended. break/continue/return out of the body run the abort on their way.
void CodeGen::form_scope(const Node& node, uint16_t dest) {
  uint16_t mark = fs_->free_reg;
  uint16_t scope = alloc_reg(node);
  call_builtin(node, "__scope_open", {}, scope);
  uint16_t result = alloc_reg(node);
  uint16_t exc = alloc_reg(node);
  auto abort_and_wait = [this, scope](const Node& at) {
    uint16_t inner = fs_->free_reg;
    uint16_t tmp = alloc_reg(at);
    size_t begin = here();
    call_builtin(at, "__scope_abort", {scope}, tmp);
    emit(at, Opcode::AWAIT, tmp, tmp);
    shield_from(begin);
    free_to(inner);
  };
  size_t on_exception = emit_jump(node, Opcode::TRY, exc);
  fs_->tries.push_back(TryContext{abort_and_wait});
  block(node, rest_of(node, 1), result);
  fs_->tries.pop_back();
  uint16_t join = alloc_reg(node);
  call_builtin(node, "__scope_close", {scope}, join);
  emit(node, Opcode::AWAIT, join, join);
  emit(node, Opcode::ENDTRY);
  call_builtin(node, "__scope_end", {scope}, join);
  size_t to_end = emit_jump(node);
  patch_here(on_exception);
  abort_and_wait(node);
  emit(node, Opcode::THROW, exc);
  patch_here(to_end);
  if (result != dest) emit(node, Opcode::MOVE, dest, result);
  free_to(mark);
}

}  // namespace weft::compiler
