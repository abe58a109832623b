// How values print, compare and name their types. Shared by println/str,
// string interpolation, the REPL, error messages and equality.
#pragma once

#include <string>
#include <string_view>

#include "engine/value.h"

namespace weft {

// The printed form: strings raw (also inside collections), maps as
// {^k v}, floats in the shortest form that reads back (with ".0" when
// integral), nil/true/false as written. Nesting deeper than
// kMaxValueDepth throws RuntimeException instead of overflowing the stack.
void append_display(std::string& out, const Value& value);
std::string display(const Value& value);

std::string format_float(double d);

// A failure as an error report shows it: "RuntimeException: boom (at f
// (x.weft:3:5))" for an exception, with where it was thrown (the first
// frame of its trace) when it has a trace; the printed form otherwise.
std::string describe_failure(const Value& reason);

// One of Nil Bool Int Float String Array Map Range Function Exception's
// class name, ...: what `typeof` gives.
std::string type_name(const Value& value);

// `==`: numbers by value across Int and Float, strings by content, arrays
// and maps structurally (maps ignore order), everything else by identity.
bool values_equal(const Value& a, const Value& b);

// Ordering for `<` and `.sort`: numbers with numbers, strings with strings
// (by code point), arrays lexicographically. Anything else throws
// TypeException naming both types ("cannot compare String and Int").
int compare_values(const Value& a, const Value& b);

inline constexpr int kMaxValueDepth = 10000;

}  // namespace weft
