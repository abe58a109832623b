// Reading and writing through paths (a/0, m/key, s/-1, $ex/message), shared
// by the interpreter's GETFIELD/SETFIELD family and the stdlib.
#pragma once

#include "engine/instruction.h"
#include "engine/object.h"
#include "engine/value.h"

namespace weft {

// Each takes the Reach of `container` (object.h rule 6): Sole only for a
// reference no other task can read, such as the running fiber's register
// (reach_of_register below).

// Gives nil for a missing key or index and for any path on nil; throws
// TypeException for values that cannot be indexed ("cannot index Int").
Value get_path(const Value& container, const Value& key, Reach reach = Reach::Shared);

// Array index (negative from the end; out of range throws) or map key
// (added when new). Throws TypeException for anything else.
void set_path(const Value& container, const Value& key, Value value, Reach reach = Reach::Shared);

// `(container/key op= operand)`, `op` one of ADD .. MOD: gives and stores
// arithmetic(op, get_path(container, key), operand), with the same errors.
// On an Array or a Map it is one step (array.h rule 6): no other task's
// write to the item falls between the read and the write, so counters
// updated from many tasks at once lose no update.
Value update_path(const Value& container, const Value& key, Opcode op, const Value& operand,
                  Reach reach = Reach::Shared);

// The Reach of a value held in a register of the running fiber.
inline Reach reach_of_register(const Value& value) {
  return value.is_object() ? value.as_object()->reach_through_private_reference() : Reach::Shared;
}

}  // namespace weft
