// Bytecode listings for `weft run --dump-bytecode` and for debugging the
// compiler.
#include <cstdio>
#include <string>

#include "engine/format.h"
#include "engine/function.h"
#include "engine/string.h"
#include "lang/compiler.h"

namespace weft {

namespace {

std::string constant_text(const Value& k) {
  if (k.is(ObjType::String)) return "\"" + k.as<String>()->str() + "\"";
  if (k.is(ObjType::Proto)) return "<fn " + k.as<Proto>()->name + ">";
  return display(k);
}

void disassemble_into(std::string& out, const Proto& proto) {
  char line[160];
  std::snprintf(line, sizeof line, "function %s (%s:%u:%u): %zu instructions, %u registers\n",
                proto.name.c_str(), proto.source ? proto.source->name.c_str() : "?",
                proto.location.line, proto.location.column, proto.code.size(), proto.num_registers);
  out += line;
  for (size_t pc = 0; pc < proto.code.size(); ++pc) {
    const Instr& ins = proto.code[pc];
    SourceLoc loc = proto.location_at(pc);
    std::snprintf(line, sizeof line, "  %4zu  [%4u:%-3u] %-12s", pc, loc.line, loc.column,
                  opcode_name(ins.op));
    out += line;
    switch (opcode_shape(ins.op)) {
      case OperandShape::ABC:
        std::snprintf(line, sizeof line, " %u %u %u", ins.a, ins.b, ins.c);
        break;
      case OperandShape::AB:
        std::snprintf(line, sizeof line, " %u %u", ins.a, ins.b);
        break;
      case OperandShape::A:
        std::snprintf(line, sizeof line, " %u", ins.a);
        break;
      case OperandShape::ABx:
        std::snprintf(line, sizeof line, " %u %u", ins.a, ins.bx());
        break;
      case OperandShape::AsBx:
        std::snprintf(line, sizeof line, " %u %d  ; to %zu", ins.a, ins.sbx(),
                      pc + 1 + static_cast<size_t>(static_cast<int64_t>(ins.sbx())));
        break;
      case OperandShape::sBx:
        std::snprintf(line, sizeof line, " %d  ; to %zu", ins.sbx(),
                      pc + 1 + static_cast<size_t>(static_cast<int64_t>(ins.sbx())));
        break;
      case OperandShape::none:
        line[0] = '\0';
        break;
    }
    out += line;
    if (ins.op == Opcode::UPDATEFIELD) {
      out += std::string("  ; ") + opcode_name(static_cast<Opcode>(ins.flags));
    } else if (ins.flags != 0) {
      out += "  flags=" + std::to_string(ins.flags);
    }
    if ((ins.op == Opcode::LOADK || ins.op == Opcode::CLOSURE) &&
        ins.bx() < proto.constants.size()) {
      out += "  ; " + constant_text(proto.constants[ins.bx()]);
    }
    out += '\n';
  }
  for (const Value& k : proto.constants) {
    if (k.is(ObjType::Proto)) {
      out += '\n';
      disassemble_into(out, *k.as<Proto>());
    }
  }
}

}  // namespace

std::string disassemble(const Proto& proto) {
  std::string out;
  disassemble_into(out, proto);
  return out;
}

}  // namespace weft
