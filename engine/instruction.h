// One bytecode instruction; the format is drawn in opcodes.def.
#pragma once

#include <cstdint>

namespace weft {

enum class Opcode : uint8_t {
#define OP(name, shape, effect) name,
#include "engine/opcodes.def"
#undef OP
  Count,
};

enum class OperandShape : uint8_t { ABC, AB, A, ABx, AsBx, sBx, none };

struct Instr {
  Opcode op;
  uint8_t flags;
  uint16_t a;
  uint16_t b;
  uint16_t c;

  int32_t sbx() const {
    return static_cast<int32_t>(static_cast<uint32_t>(b) | (static_cast<uint32_t>(c) << 16));
  }
  uint32_t bx() const { return static_cast<uint32_t>(b) | (static_cast<uint32_t>(c) << 16); }
  int16_t sc() const { return static_cast<int16_t>(c); }
};

static_assert(sizeof(Instr) == 8, "instructions are 64 bits");

inline constexpr uint8_t kFlagKB = 1;  // operand B is a constant
inline constexpr uint8_t kFlagKC = 2;  // operand C is a constant
// LT/LE written as > or >= with operands swapped; errors name them in the
// order the script wrote them.
inline constexpr uint8_t kFlagSwapped = 4;
inline constexpr uint8_t kFlagKeywords = 1;
// INVOKE: the last argument is an array literal made for this call, so
// nothing else refers to it (an actor's send may take it without a copy).
inline constexpr uint8_t kFlagFreshLastArg = 2;
inline constexpr uint8_t kFlagBorrowedReceiver = 4;  // INVOKE after a BORROW
inline constexpr uint8_t kFlagFromCapture = 1;       // BORROW from Up[B]
inline constexpr uint8_t kFlagSubtracted = 1;  // ADDI written as x - n (for messages)
inline constexpr uint8_t kFlagImmortal = 1;
inline constexpr uint8_t kFlagStepRange = 1;
// ITERNEXT: the loop has one variable (over a map: the key only).
inline constexpr uint8_t kFlagOneVariable = 1;
// ITERNEXT: nothing assigns the loop variable, so an array's cursor may
// lend it items (engine/array_cursor.h rule 4).
inline constexpr uint8_t kFlagLendItems = 2;

const char* opcode_name(Opcode op);
OperandShape opcode_shape(Opcode op);

}  // namespace weft
