#include "engine/instruction.h"

namespace weft {

namespace {

constexpr const char* kNames[] = {
#define OP(name, shape, effect) #name,
#include "engine/opcodes.def"
#undef OP
};

constexpr OperandShape kShapes[] = {
#define OP(name, shape, effect) OperandShape::shape,
#include "engine/opcodes.def"
#undef OP
};

}  // namespace

const char* opcode_name(Opcode op) {
  return kNames[static_cast<int>(op)];
}
OperandShape opcode_shape(Opcode op) {
  return kShapes[static_cast<int>(op)];
}

}  // namespace weft
