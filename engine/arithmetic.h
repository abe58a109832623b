// The arithmetic operators `+ - * / %` on every pair of values: the
// interpreter's ADD..MOD (which do Int op Int inline and call this for the
// rest) and the compound assignments through paths (engine/access.h).
// Pure: runs no script code and takes no lock; it may allocate (strings and
// arrays joined by `+`) and throws the script's errors.
#pragma once

#include <cstdint>

#include "engine/instruction.h"
#include "engine/value.h"

namespace weft {

// `op` is one of ADD, SUB, MUL, DIV, MOD.
Value arithmetic(Opcode op, const Value& a, const Value& b);

// Floored: the result has the divisor's sign (-7 % 3 is 2).
int64_t floored_mod(int64_t a, int64_t b);

[[noreturn]] void throw_integer_overflow();
[[noreturn]] void throw_division_by_zero();

}  // namespace weft
