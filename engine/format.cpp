// Printing, equality and ordering of values.
//
// All three walk nested arrays and maps with an explicit stack of frames
// rather than by recursion: a value nested a million deep (or a cycle, which
// is just infinitely deep) must end in a RuntimeException, not a C++ stack
// overflow. Each frame works on a snapshot of its container (array.h rule
// 3), so no container lock is held while another is visited.
#include "engine/format.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <vector>

#include "engine/array.h"
#include "engine/exception.h"
#include "engine/function.h"
#include "engine/future.h"
#include "engine/map.h"
#include "engine/range.h"
#include "engine/resource.h"
#include "engine/string.h"

namespace weft {

namespace {

[[noreturn]] void throw_too_deep(const char* what) {
  throw_error(ExcClass::RuntimeException, std::string(what) + ": value nested more than " +
                                              std::to_string(kMaxValueDepth) + " levels deep");
}

bool is_container(const Value& v) {
  return v.is(ObjType::Array) || v.is(ObjType::Map);
}

// Map entries flattened to key, value, key, value...
std::vector<Value> flat_entries(const Map& map) {
  std::vector<Value> out;
  auto entries = map.entries();
  out.reserve(entries.size() * 2);
  for (auto& [k, v] : entries) {
    out.push_back(std::move(k));
    out.push_back(std::move(v));
  }
  return out;
}

void append_range(std::string& out, const Range& r) {
  // `(a .. b)` and unit-step ranges print with inclusive ends; other steps
  // and empty ranges print as the `range` call that makes them.
  int64_t count = r.count();
  if (count > 0 && (r.step() == 1 || r.step() == -1 || count == 1)) {
    out += std::to_string(r.first());
    out += "..";
    out += std::to_string(r.at(count - 1));
    return;
  }
  __int128 end = static_cast<__int128>(r.first()) + static_cast<__int128>(count) * r.step();
  out += "(range ";
  out += std::to_string(r.first());
  out += ' ';
  out += std::to_string(static_cast<int64_t>(end));
  if (r.step() != 1) {
    out += ' ';
    out += std::to_string(r.step());
  }
  out += ')';
}

// Everything that is not an array or a map.
void append_scalar(std::string& out, const Value& v) {
  switch (v.tag()) {
    case ValueTag::Nil:
    case ValueTag::Missing:
      out += "nil";
      return;
    case ValueTag::Bool:
      out += v.as_bool() ? "true" : "false";
      return;
    case ValueTag::Int: {
      char buf[24];
      auto res = std::to_chars(buf, buf + sizeof buf, v.as_int());
      out.append(buf, res.ptr);
      return;
    }
    case ValueTag::Float:
      out += format_float(v.as_float());
      return;
    case ValueTag::Object:
      break;
  }
  switch (v.as_object()->type()) {
    case ObjType::String:
      out += v.as<String>()->view();
      return;
    case ObjType::Range:
      append_range(out, *v.as<Range>());
      return;
    case ObjType::Closure: {
      const std::string& name = v.as<Closure>()->proto()->name;
      if (name.empty() || name == "<fn>") {
        out += "<fn>";
      } else {
        out += "<fn ";
        out += name;
        out += '>';
      }
      return;
    }
    case ObjType::Proto:
      out += "<proto ";
      out += v.as<Proto>()->name;
      out += '>';
      return;
    case ObjType::Native:
      out += "<builtin ";
      out += v.as<Native>()->name();
      out += '>';
      return;
    case ObjType::Exception: {
      const Exception* e = v.as<Exception>();
      out += exc_class_name(e->cls());
      out += ": ";
      if (e->message().is(ObjType::String)) out += e->message().as<String>()->view();
      return;
    }
    case ObjType::Cell:
      out += "<cell>";
      return;
    case ObjType::Future:
      switch (v.as<Future>()->outcome()) {
        case Outcome::Pending:
          out += "<future pending>";
          return;
        case Outcome::Success:
          out += "<future success>";
          return;
        case Outcome::Failure:
          out += "<future failure>";
          return;
        case Outcome::Cancelled:
          out += "<future cancelled>";
          return;
      }
      return;
    case ObjType::Atom:
      out += "<atom>";
      return;
    case ObjType::Channel:
      out += "<channel>";
      return;
    case ObjType::Actor:
      out += "<actor>";
      return;
    case ObjType::ActorContext:
      out += "<actor context>";
      return;
    case ObjType::Supervisor:
      out += "<supervisor>";
      return;
    case ObjType::Resource:
      out += '<' + v.as<Resource>()->describe() + '>';
      return;
    case ObjType::Array:
    case ObjType::Map:
      return;  // handled by append_display
    default:
      // A kind of object this file does not know yet prints by its type.
      out += '<' + type_name(v) + '>';
      return;
  }
}

struct DisplayFrame {
  std::vector<Value> items;  // array items, or map keys and values interleaved
  size_t next = 0;
  bool is_map = false;
};

// An Int against a (non-NaN) Float, exactly: converting the Int to double
// would round above 2^53.
int compare_int_float(int64_t i, double d) {
  if (d >= 9223372036854775808.0) return -1;
  if (d < -9223372036854775808.0) return 1;
  double whole = std::trunc(d);
  int64_t w = static_cast<int64_t>(whole);
  if (i != w) return i < w ? -1 : 1;
  double frac = d - whole;
  return frac > 0 ? -1 : (frac < 0 ? 1 : 0);
}

// Numbers in a total order (NaN above everything and equal to itself), so
// that sorting is well defined.
int compare_numbers(const Value& a, const Value& b) {
  if (a.is_int() && b.is_int()) {
    return a.as_int() < b.as_int() ? -1 : (a.as_int() > b.as_int() ? 1 : 0);
  }
  if (a.is_float() && std::isnan(a.as_float())) {
    return (b.is_float() && std::isnan(b.as_float())) ? 0 : 1;
  }
  if (b.is_float() && std::isnan(b.as_float())) return -1;
  if (a.is_int()) return compare_int_float(a.as_int(), b.as_float());
  if (b.is_int()) return -compare_int_float(b.as_int(), a.as_float());
  double x = a.as_float();
  double y = b.as_float();
  return x < y ? -1 : (x > y ? 1 : 0);
}

bool numbers_equal(const Value& a, const Value& b) {
  if (a.is_int() && b.is_int()) return a.as_int() == b.as_int();
  if (a.is_float() && b.is_float()) return a.as_float() == b.as_float();
  double d = a.is_float() ? a.as_float() : b.as_float();
  int64_t i = a.is_int() ? a.as_int() : b.as_int();
  return !std::isnan(d) && compare_int_float(i, d) == 0;
}

bool ranges_equal(const Range& a, const Range& b) {
  if (a.count() != b.count()) return false;
  if (a.count() == 0) return true;
  if (a.first() != b.first()) return false;
  return a.count() == 1 || a.step() == b.step();
}

struct PairFrame {
  std::vector<Value> left;
  std::vector<Value> right;
  size_t next = 0;
};

enum class Step { Different, Same, Descend };

// One step of values_equal: decides `a == b` at once, or pushes a frame
// whose pairs must all be equal.
Step equal_step(const Value& a, const Value& b, std::vector<PairFrame>& stack) {
  if (a.is_number() && b.is_number()) return numbers_equal(a, b) ? Step::Same : Step::Different;
  if (a.tag() != b.tag()) {
    bool both_nil = (a.is_nil() || a.is_missing()) && (b.is_nil() || b.is_missing());
    return both_nil ? Step::Same : Step::Different;
  }
  switch (a.tag()) {
    case ValueTag::Nil:
    case ValueTag::Missing:
      return Step::Same;
    case ValueTag::Bool:
      return a.as_bool() == b.as_bool() ? Step::Same : Step::Different;
    case ValueTag::Int:
    case ValueTag::Float:
    case ValueTag::Object:
      break;
  }
  Obj* x = a.as_object();
  Obj* y = b.as_object();
  if (x == y) return Step::Same;
  if (x->type() != y->type()) return Step::Different;
  switch (x->type()) {
    case ObjType::String:
      return a.as<String>()->view() == b.as<String>()->view() ? Step::Same : Step::Different;
    case ObjType::Range:
      return ranges_equal(*a.as<Range>(), *b.as<Range>()) ? Step::Same : Step::Different;
    case ObjType::Array: {
      PairFrame frame{a.as<Array>()->snapshot(), b.as<Array>()->snapshot()};
      if (frame.left.size() != frame.right.size()) return Step::Different;
      if (stack.size() >= static_cast<size_t>(kMaxValueDepth)) throw_too_deep("==");
      stack.push_back(std::move(frame));
      return Step::Descend;
    }
    case ObjType::Map: {
      auto left = a.as<Map>()->entries();
      const Map* right = b.as<Map>();
      if (left.size() != right->size()) return Step::Different;
      PairFrame frame;
      frame.left.reserve(left.size());
      frame.right.reserve(left.size());
      for (auto& [key, value] : left) {
        Value other;
        if (!right->find(key.as<String>()->view(), other)) return Step::Different;
        frame.left.push_back(std::move(value));
        frame.right.push_back(std::move(other));
      }
      if (stack.size() >= static_cast<size_t>(kMaxValueDepth)) throw_too_deep("==");
      stack.push_back(std::move(frame));
      return Step::Descend;
    }
    default:
      return Step::Different;  // other objects compare by identity
  }
}

[[noreturn]] void throw_cannot_compare(const Value& a, const Value& b) {
  throw_error(ExcClass::TypeException, "cannot compare " + type_name(a) + " and " + type_name(b));
}

}  // namespace

std::string format_float(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  // The shortest digits that read back, in scientific form ("d.ddde±XX"),
  // then laid out like Python's repr: fixed for exponents in [-4, 16),
  // scientific otherwise.
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string_view sci(buf, static_cast<size_t>(res.ptr - buf));
  size_t e_pos = sci.find('e');
  int exponent = std::atoi(std::string(sci.substr(e_pos + 1)).c_str());
  if (exponent < -4 || exponent >= 16) return std::string(sci);

  bool negative = sci[0] == '-';
  std::string digits;
  for (char c : sci.substr(0, e_pos)) {
    if (c >= '0' && c <= '9') digits += c;
  }
  std::string out = negative ? "-" : "";
  if (exponent < 0) {
    out += "0.";
    out.append(static_cast<size_t>(-exponent - 1), '0');
    out += digits;
    return out;
  }
  size_t int_digits = static_cast<size_t>(exponent) + 1;
  if (digits.size() <= int_digits) {
    out += digits;
    out.append(int_digits - digits.size(), '0');
    out += ".0";
  } else {
    out.append(digits, 0, int_digits);
    out += '.';
    out.append(digits, int_digits, std::string::npos);
  }
  return out;
}

void append_display(std::string& out, const Value& value) {
  if (!is_container(value)) {
    append_scalar(out, value);
    return;
  }
  std::vector<DisplayFrame> stack;
  auto open = [&](const Value& v) {
    if (stack.size() >= static_cast<size_t>(kMaxValueDepth)) throw_too_deep("print");
    DisplayFrame frame;
    if (v.is(ObjType::Array)) {
      out += '[';
      frame.items = v.as<Array>()->snapshot();
    } else {
      out += '{';
      frame.items = flat_entries(*v.as<Map>());
      frame.is_map = true;
    }
    stack.push_back(std::move(frame));
  };
  open(value);
  while (!stack.empty()) {
    DisplayFrame& top = stack.back();
    if (top.next == top.items.size()) {
      out += top.is_map ? '}' : ']';
      stack.pop_back();
      continue;
    }
    size_t i = top.next++;
    if (i > 0) out += ' ';
    if (top.is_map && i % 2 == 0) {
      out += '^';
      out += top.items[i].as<String>()->view();
      continue;
    }
    Value item = top.items[i];  // open() may move `top`
    if (is_container(item)) {
      open(item);
    } else {
      append_scalar(out, item);
    }
  }
}

std::string display(const Value& value) {
  std::string out;
  append_display(out, value);
  return out;
}

std::string type_name(const Value& value) {
  switch (value.tag()) {
    case ValueTag::Nil:
    case ValueTag::Missing:
      return "Nil";
    case ValueTag::Bool:
      return "Bool";
    case ValueTag::Int:
      return "Int";
    case ValueTag::Float:
      return "Float";
    case ValueTag::Object:
      break;
  }
  switch (value.as_object()->type()) {
    case ObjType::String:
      return "String";
    case ObjType::Array:
      return "Array";
    case ObjType::Map:
      return "Map";
    case ObjType::Range:
      return "Range";
    case ObjType::Proto:
    case ObjType::Closure:
    case ObjType::Native:
      return "Function";
    case ObjType::Cell:
      return "Cell";
    case ObjType::Exception:
      return exc_class_name(value.as<Exception>()->cls());
    case ObjType::Future:
      return "Future";
    case ObjType::Atom:
      return "Atom";
    case ObjType::Channel:
      return "Channel";
    case ObjType::Actor:
      return "Actor";
    case ObjType::ActorContext:
      return "ActorContext";
    case ObjType::Supervisor:
      return "Supervisor";
    case ObjType::Resource:
      return value.as<Resource>()->kind();
    default:
      break;
  }
  return "Object";
}

bool values_equal(const Value& a, const Value& b) {
  std::vector<PairFrame> stack;
  Step first = equal_step(a, b, stack);
  if (first != Step::Descend) return first == Step::Same;
  while (!stack.empty()) {
    PairFrame& top = stack.back();
    if (top.next == top.left.size()) {
      stack.pop_back();
      continue;
    }
    size_t i = top.next++;
    Value x = top.left[i];  // equal_step may move `top`
    Value y = top.right[i];
    if (equal_step(x, y, stack) == Step::Different) return false;
  }
  return true;
}

int compare_values(const Value& a, const Value& b) {
  // Arrays compare lexicographically: a frame per pair of arrays being
  // compared; the first unequal pair of items decides.
  std::vector<PairFrame> stack;
  Value x = a;
  Value y = b;
  for (;;) {
    int result = 0;
    bool descended = false;
    if (x.is_number() && y.is_number()) {
      result = compare_numbers(x, y);
    } else if (x.is(ObjType::String) && y.is(ObjType::String)) {
      // UTF-8 byte order is code point order.
      int c = x.as<String>()->view().compare(y.as<String>()->view());
      result = c < 0 ? -1 : (c > 0 ? 1 : 0);
    } else if (x.is(ObjType::Array) && y.is(ObjType::Array)) {
      if (x.as_object() != y.as_object()) {
        if (stack.size() >= static_cast<size_t>(kMaxValueDepth)) throw_too_deep("compare");
        stack.push_back(PairFrame{x.as<Array>()->snapshot(), y.as<Array>()->snapshot()});
        descended = true;
      }
    } else {
      throw_cannot_compare(x, y);
    }
    if (!descended && result != 0) return result;
    // Advance to the next pair of items, closing finished frames.
    for (;;) {
      if (stack.empty()) return 0;
      PairFrame& top = stack.back();
      size_t n = std::min(top.left.size(), top.right.size());
      if (top.next < n) {
        x = top.left[top.next];
        y = top.right[top.next];
        ++top.next;
        break;
      }
      if (top.left.size() != top.right.size()) {
        return top.left.size() < top.right.size() ? -1 : 1;
      }
      stack.pop_back();
    }
  }
}

std::string describe_failure(const Value& reason) {
  if (!reason.is(ObjType::Exception)) return display(reason);
  const Exception& e = *reason.as<Exception>();
  std::string text = std::string(exc_class_name(e.cls())) + ": " + display(e.message());
  const Value trace = e.trace();
  if (trace.is(ObjType::Array)) {
    // The innermost frame of the script's own code: the prelude's frames
    // (a built-in run as an HTTP handler fails inside `__http_handle`)
    // name nothing the script wrote.
    for (const Value& frame : trace.as<Array>()->snapshot()) {
      if (frame.is(ObjType::String) &&
          frame.as<String>()->view().find("(<prelude>:") == std::string_view::npos) {
        text += " (at " + display(frame) + ")";
        break;
      }
    }
  }
  return text;
}

}  // namespace weft
