// The natives of engine/stdlib, called directly through a Runtime.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "engine/array.h"
#include "engine/exception.h"
#include "engine/format.h"
#include "engine/function.h"
#include "engine/map.h"
#include "engine/range.h"
#include "engine/runtime.h"
#include "engine/string.h"
#include "tests/unit/value_builders.h"

namespace weft {
namespace {

using namespace test_values;

class StdlibTest : public ::testing::Test {
 protected:
  StdlibTest() { runtime.capture_output(&output); }

  static Value invoke(Runtime& rt, const Value& callable, std::vector<Value> args, Map* keywords) {
    const Native* native = callable.as<Native>();
    int n = static_cast<int>(args.size());
    EXPECT_GE(n, native->min_args()) << native->name();
    if (native->max_args() >= 0) {
      EXPECT_LE(n, native->max_args()) << native->name();
    }
    NativeCall call{rt, args.data(), static_cast<uint32_t>(args.size()), keywords};
    return native->fn()(call);
  }

  // (name args...)
  Value call(std::string_view name, std::vector<Value> args = {}, Map* keywords = nullptr) {
    int64_t index = runtime.find_builtin(name);
    EXPECT_GE(index, 0) << "no builtin " << name;
    if (index < 0) return Value();
    return invoke(runtime, runtime.builtin(static_cast<uint32_t>(index)), std::move(args),
                  keywords);
  }

  // (receiver .name args...)
  Value method(const Value& receiver, std::string_view name, std::vector<Value> args = {}) {
    ObjType type = receiver.as_object()->type();
    const Value* m = runtime.find_method(type, name);
    EXPECT_NE(m, nullptr) << "no method " << name;
    if (m == nullptr) return Value();
    args.insert(args.begin(), receiver);
    return invoke(runtime, *m, std::move(args), nullptr);
  }

  // The printed form of (name args...).
  std::string show(std::string_view name, std::vector<Value> args = {}) {
    return display(call(name, std::move(args)));
  }
  std::string show_method(const Value& receiver, std::string_view name,
                          std::vector<Value> args = {}) {
    return display(method(receiver, name, std::move(args)));
  }

  // Runs `body`, which must raise a script error of class `cls`; gives its
  // message.
  template <typename Body>
  std::string error_of(ExcClass cls, Body body) {
    try {
      body();
    } catch (const ScriptError& e) {
      EXPECT_EQ(std::string(exc_class_name(e.cls)), exc_class_name(cls)) << e.message;
      return e.message;
    }
    ADD_FAILURE() << "no ScriptError was thrown";
    return "";
  }

  std::string output;
  Runtime runtime;
};

// ---- Runtime --------------------------------------------------------------

TEST_F(StdlibTest, BuiltinsAreImmortalNatives) {
  int64_t index = runtime.find_builtin("println");
  ASSERT_GE(index, 0);
  const Value& println = runtime.builtin(static_cast<uint32_t>(index));
  EXPECT_TRUE(println.is(ObjType::Native));
  EXPECT_TRUE(println.as_object()->is_immortal());
  EXPECT_EQ(runtime.builtin_name(static_cast<uint32_t>(index)), "println");
  EXPECT_EQ(display(println), "<builtin println>");
  EXPECT_EQ(runtime.find_builtin("no-such-builtin"), -1);
  EXPECT_EQ(runtime.find_method(ObjType::String, "no_such_method"), nullptr);
  EXPECT_NE(runtime.find_method(ObjType::Range, "to_a"), nullptr);
  EXPECT_EQ(runtime.find_method(ObjType::Exception, "size"), nullptr);
}

TEST_F(StdlibTest, RegisteringAgainReplaces) {
  int64_t before = runtime.find_builtin("typeof");
  runtime.register_native(
      "typeof", [](NativeCall&) { return Value::integer(7); }, 1, 1);
  EXPECT_EQ(runtime.find_builtin("typeof"), before);
  EXPECT_EQ(call("typeof", {Value()}).as_int(), 7);
}

TEST_F(StdlibTest, RegisterMethodTakesAnyCallable) {
  Value shared = S("immortal now");
  runtime.register_method(ObjType::String, "greeting", shared);
  EXPECT_TRUE(shared.as_object()->is_immortal());
  const Value* m = runtime.find_method(ObjType::String, "greeting");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(display(*m), "immortal now");
}

TEST(RuntimeTest, OutputIsBufferedAndCaptured) {
  Runtime rt;
  std::string sink;
  rt.write_out("before ");  // buffered for stdout
  rt.capture_output(&sink);
  rt.write_out("a");
  rt.write_out("b");
  EXPECT_EQ(sink, "ab");
  rt.flush_out();  // the text buffered before capture goes to the sink too
  EXPECT_EQ(sink, "abbefore ");
}

TEST(RuntimeTest, ConcurrentLinesStayWhole) {
  Runtime rt;
  std::string sink;
  rt.capture_output(&sink);
  const Value& println = rt.builtin(static_cast<uint32_t>(rt.find_builtin("println")));
  auto print_lines = [&](char c) {
    Value line = S(std::string(40, c));
    for (int i = 0; i < 500; ++i) {
      NativeCall call{rt, &line, 1, nullptr};
      println.as<Native>()->fn()(call);
    }
  };
  std::thread a(print_lines, 'a');
  std::thread b(print_lines, 'b');
  a.join();
  b.join();
  size_t lines = 0;
  for (size_t at = 0; at < sink.size(); at += 41) {
    std::string_view line(sink.data() + at, 41);
    EXPECT_TRUE(line == std::string(40, 'a') + "\n" || line == std::string(40, 'b') + "\n");
    ++lines;
  }
  EXPECT_EQ(lines, 1000u);
}

TEST(RuntimeTest, RandomNumbersDiffer) {
  Runtime rt;
  uint64_t a = rt.next_random();
  uint64_t b = rt.next_random();
  EXPECT_NE(a, b);
}

// ---- Core -----------------------------------------------------------------

TEST_F(StdlibTest, PrintlnAndPrint) {
  EXPECT_TRUE(call("println", {S("a"), I(1), A({S("x"), F(2)})}).is_nil());
  call("println");
  call("print", {S("no"), S("newline")});
  call("print");
  call("println", {M({{"k", Value()}})});
  EXPECT_EQ(output, "a 1 [x 2.0]\n\nno newline{^k nil}\n");
}

TEST_F(StdlibTest, Str) {
  EXPECT_EQ(show("str"), "");
  EXPECT_EQ(show("str", {S("a"), I(1), F(0.5), Value(), A({I(1), I(2)})}), "a10.5nil[1 2]");
  Value s = S("same");
  EXPECT_EQ(call("str", {s}).as_object(), s.as_object());
  EXPECT_TRUE(call("str", {I(5)}).is(ObjType::String));
}

TEST_F(StdlibTest, Typeof) {
  EXPECT_EQ(show("typeof", {Value()}), "Nil");
  EXPECT_EQ(show("typeof", {B(true)}), "Bool");
  EXPECT_EQ(show("typeof", {I(1)}), "Int");
  EXPECT_EQ(show("typeof", {F(1)}), "Float");
  EXPECT_EQ(show("typeof", {S("")}), "String");
  EXPECT_EQ(show("typeof", {A({})}), "Array");
  EXPECT_EQ(show("typeof", {make_map()}), "Map");
  EXPECT_EQ(show("typeof", {make_inclusive_range(1, 2)}), "Range");
  EXPECT_EQ(show("typeof", {runtime.builtin(0)}), "Function");
  EXPECT_EQ(show("typeof", {make_exception(ExcClass::TimeoutException, "t")}), "TimeoutException");
}

TEST_F(StdlibTest, FreezeIsDeep) {
  Value inner = A({I(1)});
  Value map = M({{"list", inner}, {"n", I(2)}});
  Value outer = A({map, S("s")});
  EXPECT_FALSE(call("frozen?", {outer}).as_bool());
  Value result = call("freeze", {outer});
  EXPECT_EQ(result.as_object(), outer.as_object());
  EXPECT_TRUE(call("frozen?", {outer}).as_bool());
  EXPECT_TRUE(call("frozen?", {map}).as_bool());
  EXPECT_TRUE(call("frozen?", {inner}).as_bool());
  EXPECT_EQ(error_of(ExcClass::RuntimeException, [&] { inner.as<Array>()->push(I(2)); }),
            "cannot modify a frozen Array");
  EXPECT_EQ(error_of(ExcClass::RuntimeException, [&] { map.as<Map>()->set("x", I(2)); }),
            "cannot modify a frozen Map");
  // Immutable values are frozen already; freezing them gives them back.
  EXPECT_TRUE(call("frozen?", {S("s")}).as_bool());
  EXPECT_TRUE(call("frozen?", {I(1)}).as_bool());
  EXPECT_EQ(call("freeze", {I(3)}).as_int(), 3);
}

TEST_F(StdlibTest, FreezeHandlesCyclesAndDepth) {
  Value a = A({});
  Value b = A({a});
  a.as<Array>()->push(b);
  call("freeze", {a});
  EXPECT_TRUE(a.as_object()->is_frozen());
  EXPECT_TRUE(b.as_object()->is_frozen());
  // A frozen cycle cannot be broken by script; drop a's reference to b by
  // hand so that both are freed.
  DestroyWorklist worklist;
  a.as_object()->release_children(worklist);
  EXPECT_TRUE(worklist.empty());

  Value deep = A({});
  for (int i = 0; i < 200000; ++i) deep = A({std::move(deep)});
  call("freeze", {deep});
  Value probe = deep;
  for (int i = 0; i < 200000; ++i) probe = probe.as<Array>()->get(0);
  EXPECT_TRUE(probe.as_object()->is_frozen());
}

TEST_F(StdlibTest, Assert) {
  EXPECT_TRUE(call("assert", {B(true)}).is_nil());
  EXPECT_TRUE(call("assert", {I(0), S("zero is true")}).is_nil());
  EXPECT_EQ(error_of(ExcClass::AssertionException, [&] { call("assert", {B(false)}); }),
            "assertion failed");
  EXPECT_EQ(error_of(ExcClass::AssertionException,
                     [&] {
                       call("assert", {Value(), S("boom")});
                     }),
            "boom");
}

TEST_F(StdlibTest, Exit) {
  try {
    call("exit", {I(3)});
    ADD_FAILURE() << "exit returned";
  } catch (const ExitRequest& e) {
    EXPECT_EQ(e.code, 3);
  }
  try {
    call("exit");
    ADD_FAILURE() << "exit returned";
  } catch (const ExitRequest& e) {
    EXPECT_EQ(e.code, 0);
  }
  EXPECT_EQ(error_of(ExcClass::TypeException, [&] { call("exit", {S("x")}); }),
            "exit expects an Int, got String");
}

// ---- Math -----------------------------------------------------------------

TEST_F(StdlibTest, AbsMinMax) {
  EXPECT_EQ(show("abs", {I(-3)}), "3");
  EXPECT_EQ(show("abs", {F(-2.5)}), "2.5");
  EXPECT_EQ(error_of(ExcClass::RuntimeException, [&] { call("abs", {I(INT64_MIN)}); }),
            "integer overflow");
  EXPECT_EQ(error_of(ExcClass::TypeException, [&] { call("abs", {S("x")}); }),
            "abs expects a number, got String");
  EXPECT_EQ(show("min", {I(3), F(1.5), I(2)}), "1.5");
  EXPECT_EQ(show("max", {I(3), F(1.5), I(2)}), "3");
  EXPECT_EQ(show("max", {A({I(4), I(9), I(-1)})}), "9");
  EXPECT_EQ(show("min", {A({I(4), I(9), I(-1)})}), "-1");
  EXPECT_EQ(show("min", {I(7)}), "7");
  EXPECT_EQ(show("max", {make_inclusive_range(5, 1)}), "5");
  EXPECT_EQ(error_of(ExcClass::ArgumentException, [&] { call("max", {A({})}); }),
            "max of no numbers");
  EXPECT_EQ(error_of(ExcClass::TypeException,
                     [&] {
                       call("min", {I(1), S("a")});
                     }),
            "min expects numbers, got String");
}

TEST_F(StdlibTest, Rounding) {
  EXPECT_EQ(show("floor", {F(2.7)}), "2");
  EXPECT_EQ(show("floor", {F(-2.1)}), "-3");
  EXPECT_EQ(show("ceil", {F(2.1)}), "3");
  EXPECT_EQ(show("ceil", {F(-2.7)}), "-2");
  EXPECT_EQ(show("round", {F(2.5)}), "3");
  EXPECT_EQ(show("round", {F(-2.5)}), "-3");
  EXPECT_EQ(show("round", {F(2.4)}), "2");
  EXPECT_EQ(show("floor", {I(5)}), "5");
  EXPECT_TRUE(call("floor", {F(2.7)}).is_int());
  EXPECT_EQ(error_of(ExcClass::RuntimeException, [&] { call("floor", {F(1e300)}); }),
            "floor: 1e+300 does not fit in an Int");
  error_of(ExcClass::RuntimeException, [&] { call("round", {F(std::nan(""))}); });
  error_of(ExcClass::TypeException, [&] { call("ceil", {Value()}); });
  EXPECT_EQ(show("sqrt", {I(16)}), "4.0");
  EXPECT_EQ(show("sqrt", {F(2.25)}), "1.5");
  EXPECT_EQ(show("sqrt", {I(-1)}), "nan");
  error_of(ExcClass::TypeException, [&] { call("sqrt", {S("4")}); });
}

TEST_F(StdlibTest, Rand) {
  for (int i = 0; i < 1000; ++i) {
    Value f = call("rand");
    ASSERT_TRUE(f.is_float());
    EXPECT_GE(f.as_float(), 0.0);
    EXPECT_LT(f.as_float(), 1.0);
    Value n = call("rand", {I(6)});
    ASSERT_TRUE(n.is_int());
    EXPECT_GE(n.as_int(), 0);
    EXPECT_LT(n.as_int(), 6);
  }
  EXPECT_EQ(call("rand", {I(1)}).as_int(), 0);
  EXPECT_EQ(error_of(ExcClass::ArgumentException, [&] { call("rand", {I(0)}); }),
            "rand expects a positive Int, got 0");
  EXPECT_EQ(error_of(ExcClass::TypeException, [&] { call("rand", {F(2.0)}); }),
            "rand expects an Int, got Float");
}

TEST_F(StdlibTest, Clock) {
  Value now = call("now");
  Value now_ms = call("now_ms");
  ASSERT_TRUE(now.is_float());
  ASSERT_TRUE(now_ms.is_int());
  EXPECT_GT(now.as_float(), 1.6e9);
  EXPECT_NEAR(now.as_float() * 1000, static_cast<double>(now_ms.as_int()), 5000);
}

TEST_F(StdlibTest, Quot) {
  EXPECT_EQ(show("quot", {I(7), I(2)}), "3");
  EXPECT_EQ(show("quot", {I(-7), I(2)}), "-3");
  EXPECT_EQ(show("quot", {I(7), I(-2)}), "-3");
  EXPECT_EQ(show("quot", {F(7.5), I(2)}), "3");
  EXPECT_EQ(show("quot", {F(-7.5), F(2)}), "-3");
  EXPECT_EQ(error_of(ExcClass::RuntimeException,
                     [&] {
                       call("quot", {I(1), I(0)});
                     }),
            "division by zero");
  EXPECT_EQ(error_of(ExcClass::RuntimeException,
                     [&] {
                       call("quot", {I(1), F(0.0)});
                     }),
            "division by zero");
  EXPECT_EQ(error_of(ExcClass::RuntimeException,
                     [&] {
                       call("quot", {I(INT64_MIN), I(-1)});
                     }),
            "integer overflow");
  EXPECT_EQ(error_of(ExcClass::TypeException,
                     [&] {
                       call("quot", {S("a"), I(1)});
                     }),
            "cannot divide String and Int");
}

TEST_F(StdlibTest, Range) {
  EXPECT_EQ(show_method(call("range", {I(4)}), "to_a"), "[0 1 2 3]");
  EXPECT_EQ(show_method(call("range", {I(2), I(5)}), "to_a"), "[2 3 4]");
  EXPECT_EQ(show_method(call("range", {I(10), I(0), I(-3)}), "to_a"), "[10 7 4 1]");
  EXPECT_EQ(show_method(call("range", {I(0)}), "to_a"), "[]");
  EXPECT_EQ(show("range", {I(0), I(10), I(2)}), "(range 0 10 2)");
  EXPECT_EQ(error_of(ExcClass::ArgumentException,
                     [&] {
                       call("range", {I(0), I(5), I(0)});
                     }),
            "range step must not be 0");
  EXPECT_EQ(error_of(ExcClass::TypeException, [&] { call("range", {F(1.5)}); }),
            "range expects an Int, got Float");
}

// ---- Range methods --------------------------------------------------------

TEST_F(StdlibTest, RangeMethods) {
  Value r = make_inclusive_range(1, 5);
  EXPECT_EQ(show_method(r, "size"), "5");
  EXPECT_EQ(show_method(r, "to_a"), "[1 2 3 4 5]");
  EXPECT_TRUE(method(r, "contains", {I(5)}).as_bool());
  EXPECT_TRUE(method(r, "contains", {F(3.0)}).as_bool());
  EXPECT_FALSE(method(r, "contains", {F(3.5)}).as_bool());
  EXPECT_FALSE(method(r, "contains", {I(6)}).as_bool());
  EXPECT_FALSE(method(r, "contains", {S("1")}).as_bool());
  Value down = make_range(10, 0, -3);  // 10 7 4 1
  EXPECT_TRUE(method(down, "contains", {I(4)}).as_bool());
  EXPECT_FALSE(method(down, "contains", {I(5)}).as_bool());
  EXPECT_FALSE(method(down, "contains", {I(-2)}).as_bool());
  EXPECT_EQ(show_method(make_range(0, 0, 1), "size"), "0");
  EXPECT_FALSE(method(make_range(0, 0, 1), "contains", {I(0)}).as_bool());
  error_of(ExcClass::RuntimeException, [&] { method(make_range(0, INT64_MAX, 1), "to_a"); });
}

// ---- Strings --------------------------------------------------------------

TEST_F(StdlibTest, StringBasics) {
  Value s = S("h\xC3\xA9llo");  // "héllo"
  EXPECT_EQ(show_method(s, "size"), "5");
  EXPECT_FALSE(method(s, "empty?").as_bool());
  EXPECT_TRUE(method(S(""), "empty?").as_bool());
  EXPECT_EQ(show_method(s, "upper"), "H\xC3\xA9LLO");
  EXPECT_EQ(show_method(S("MiXeD 1"), "lower"), "mixed 1");
  EXPECT_EQ(show_method(S(" \t x y \n"), "trim"), "x y");
  EXPECT_EQ(show_method(S("   "), "trim"), "");
  EXPECT_EQ(show_method(s, "chars"), "[h \xC3\xA9 l l o]");
  EXPECT_EQ(show_method(S(""), "chars"), "[]");
  EXPECT_EQ(show_method(S("ab"), "repeat", {I(3)}), "ababab");
  EXPECT_EQ(show_method(S("ab"), "repeat", {I(0)}), "");
  EXPECT_EQ(error_of(ExcClass::ArgumentException, [&] { method(S("ab"), "repeat", {I(-1)}); }),
            "repeat expects a count >= 0, got -1");
  error_of(ExcClass::RuntimeException, [&] { method(S("ab"), "repeat", {I(INT64_MAX)}); });
}

TEST_F(StdlibTest, StringSearch) {
  Value s = S("h\xC3\xA9llo world");
  EXPECT_TRUE(method(s, "contains", {S("lo w")}).as_bool());
  EXPECT_FALSE(method(s, "contains", {S("xyz")}).as_bool());
  EXPECT_TRUE(method(s, "contains", {S("")}).as_bool());
  EXPECT_TRUE(method(s, "starts_with", {S("h\xC3\xA9")}).as_bool());
  EXPECT_FALSE(method(s, "starts_with", {S("world")}).as_bool());
  EXPECT_TRUE(method(s, "ends_with", {S("world")}).as_bool());
  EXPECT_FALSE(method(s, "ends_with", {S("h")}).as_bool());
  EXPECT_EQ(show_method(s, "find", {S("l")}), "2");
  EXPECT_EQ(show_method(s, "find", {S("l"), I(4)}), "9");
  EXPECT_EQ(show_method(s, "find", {S("o"), I(-5)}), "7");
  EXPECT_EQ(show_method(s, "find", {S("o"), I(-3)}), "-1");
  EXPECT_EQ(show_method(s, "find", {S("q")}), "-1");
  EXPECT_EQ(show_method(s, "find", {S("l"), I(100)}), "-1");
  EXPECT_EQ(show_method(s, "index_of", {S("world")}), "6");
  EXPECT_EQ(error_of(ExcClass::TypeException, [&] { method(s, "contains", {I(1)}); }),
            "contains expects a String, got Int");
  EXPECT_EQ(error_of(ExcClass::TypeException,
                     [&] {
                       method(s, "find", {S("l"), S("x")});
                     }),
            "find expects an Int, got String");
}

TEST_F(StdlibTest, StringSplitReplace) {
  EXPECT_EQ(show_method(S("a,b,,c"), "split", {S(",")}), "[a b  c]");
  EXPECT_EQ(method(S("a,b,,c"), "split", {S(",")}).as<Array>()->size(), 4u);
  EXPECT_EQ(show_method(S("a--b--c"), "split", {S("--")}), "[a b c]");
  EXPECT_EQ(method(S(""), "split", {S(",")}).as<Array>()->size(), 1u);
  EXPECT_EQ(show_method(S("  one two\t\nthree  "), "split"), "[one two three]");
  EXPECT_EQ(method(S("   "), "split").as<Array>()->size(), 0u);
  EXPECT_EQ(show_method(S("h\xC3\xA9y"), "split", {S("")}), "[h \xC3\xA9 y]");
  EXPECT_EQ(show_method(S("a.b.c"), "replace", {S("."), S("::")}), "a::b::c");
  EXPECT_EQ(show_method(S("aaa"), "replace", {S("a"), S("aa")}), "aaaaaa");
  EXPECT_EQ(show_method(S("abc"), "replace", {S(""), S("-")}), "abc");
  EXPECT_EQ(show_method(S("abc"), "replace", {S("x"), S("-")}), "abc");
  EXPECT_EQ(error_of(ExcClass::TypeException, [&] { method(S("a"), "split", {I(1)}); }),
            "split expects a String, got Int");
  EXPECT_EQ(error_of(ExcClass::TypeException,
                     [&] {
                       method(S("a"), "replace", {S("a"), I(1)});
                     }),
            "replace expects a String, got Int");
}

TEST_F(StdlibTest, StringNumbers) {
  EXPECT_EQ(show_method(S("42"), "to_i"), "42");
  EXPECT_EQ(show_method(S("  -17\n"), "to_i"), "-17");
  EXPECT_EQ(show_method(S("+5"), "to_i"), "5");
  EXPECT_TRUE(method(S("4x"), "to_i").is_nil());
  EXPECT_TRUE(method(S(""), "to_i").is_nil());
  EXPECT_TRUE(method(S("3.5"), "to_i").is_nil());
  EXPECT_TRUE(method(S("+-5"), "to_i").is_nil());
  EXPECT_TRUE(method(S("99999999999999999999"), "to_i").is_nil());
  EXPECT_EQ(show_method(S("3.25"), "to_f"), "3.25");
  EXPECT_EQ(show_method(S(" 1e3 "), "to_f"), "1000.0");
  EXPECT_EQ(show_method(S("-.5"), "to_f"), "-0.5");
  EXPECT_EQ(show_method(S("7"), "to_f"), "7.0");
  EXPECT_EQ(show_method(S("1e999"), "to_f"), "inf");
  EXPECT_TRUE(method(S("abc"), "to_f").is_nil());
  EXPECT_TRUE(method(S("1.5.2"), "to_f").is_nil());
  EXPECT_TRUE(method(S(" "), "to_f").is_nil());
}

TEST_F(StdlibTest, StringSubstr) {
  Value s = S("h\xC3\xA9llo");
  EXPECT_EQ(show_method(s, "substr", {I(1), I(3)}), "\xC3\xA9ll");
  EXPECT_EQ(show_method(s, "substr", {I(2)}), "llo");
  EXPECT_EQ(show_method(s, "substr", {I(-2)}), "lo");
  EXPECT_EQ(show_method(s, "substr", {I(-100), I(2)}), "h\xC3\xA9");
  EXPECT_EQ(show_method(s, "substr", {I(3), I(100)}), "lo");
  EXPECT_EQ(show_method(s, "substr", {I(10)}), "");
  EXPECT_EQ(show_method(s, "substr", {I(1), I(-1)}), "");
  EXPECT_EQ(error_of(ExcClass::TypeException, [&] { method(s, "substr", {S("1")}); }),
            "substr expects an Int, got String");
}

TEST_F(StdlibTest, StrJoin) {
  EXPECT_EQ(show("str/join", {S(", "), A({S("a"), I(1), A({I(2)})})}), "a, 1, [2]");
  EXPECT_EQ(show("str/join", {S("-"), A({})}), "");
  EXPECT_EQ(show("str/join", {S(""), make_inclusive_range(1, 3)}), "123");
  EXPECT_EQ(error_of(ExcClass::TypeException,
                     [&] {
                       call("str/join", {S(","), S("abc")});
                     }),
            "str/join expects an Array, got String");
  EXPECT_EQ(error_of(ExcClass::TypeException,
                     [&] {
                       call("str/join", {I(1), A({})});
                     }),
            "str/join expects a String, got Int");
}

// ---- Arrays ---------------------------------------------------------------

TEST_F(StdlibTest, ArrayBasics) {
  Value a = A({I(1), I(2)});
  EXPECT_EQ(method(a, "add", {I(3)}).as_object(), a.as_object());
  method(a, "append", {S("x")});
  EXPECT_EQ(display(a), "[1 2 3 x]");
  EXPECT_EQ(show_method(a, "size"), "4");
  EXPECT_EQ(show_method(a, "pop"), "x");
  EXPECT_EQ(show_method(a, "get", {I(-1)}), "3");
  EXPECT_TRUE(method(a, "get", {I(10)}).is_nil());
  EXPECT_EQ(show_method(a, "first"), "1");
  EXPECT_EQ(show_method(a, "last"), "3");
  EXPECT_TRUE(method(A({}), "first").is_nil());
  EXPECT_TRUE(method(A({}), "pop").is_nil());
  EXPECT_TRUE(method(A({}), "empty?").as_bool());
  EXPECT_FALSE(method(a, "empty?").as_bool());
  EXPECT_EQ(error_of(ExcClass::TypeException, [&] { method(a, "get", {S("0")}); }),
            "get expects an Int, got String");
}

TEST_F(StdlibTest, ArraySortReverseSlice) {
  Value a = A({I(3), F(1.5), I(2), I(-7)});
  EXPECT_EQ(show_method(a, "sort"), "[-7 1.5 2 3]");
  EXPECT_EQ(display(a), "[3 1.5 2 -7]");  // a new array
  EXPECT_EQ(show_method(A({S("pear"), S("apple"), S("fig")}), "sort"), "[apple fig pear]");
  EXPECT_EQ(show_method(A({A({I(2)}), A({I(1), I(5)}), A({I(1)})}), "sort"), "[[1] [1 5] [2]]");
  EXPECT_EQ(error_of(ExcClass::TypeException,
                     [&] {
                       method(A({I(1), S("a")}), "sort");
                     }),
            "cannot compare String and Int");
  EXPECT_EQ(show_method(a, "reverse"), "[-7 2 1.5 3]");
  EXPECT_EQ(display(a), "[3 1.5 2 -7]");
  Value b = A({I(0), I(1), I(2), I(3), I(4)});
  EXPECT_EQ(show_method(b, "slice", {I(1), I(3)}), "[1 2]");
  EXPECT_EQ(show_method(b, "slice", {I(2)}), "[2 3 4]");
  EXPECT_EQ(show_method(b, "slice", {I(-2)}), "[3 4]");
  EXPECT_EQ(show_method(b, "slice", {I(1), I(-1)}), "[1 2 3]");
  EXPECT_EQ(show_method(b, "slice", {I(-100), I(100)}), "[0 1 2 3 4]");
  EXPECT_EQ(show_method(b, "slice", {I(3), I(1)}), "[]");
  EXPECT_EQ(display(b), "[0 1 2 3 4]");
}

TEST_F(StdlibTest, ArraySearchJoin) {
  Value a = A({I(1), S("two"), A({I(3)})});
  EXPECT_TRUE(method(a, "contains", {F(1.0)}).as_bool());
  EXPECT_TRUE(method(a, "contains", {A({I(3)})}).as_bool());
  EXPECT_FALSE(method(a, "contains", {S("three")}).as_bool());
  EXPECT_EQ(show_method(a, "index_of", {S("two")}), "1");
  EXPECT_EQ(show_method(a, "index_of", {Value()}), "-1");
  EXPECT_EQ(show_method(a, "join"), "1two[3]");
  EXPECT_EQ(show_method(a, "join", {S(", ")}), "1, two, [3]");
  EXPECT_EQ(error_of(ExcClass::TypeException, [&] { method(a, "join", {I(1)}); }),
            "join expects a String, got Int");
}

TEST_F(StdlibTest, ArrayInsertRemove) {
  Value a = A({I(1), I(3)});
  EXPECT_EQ(method(a, "insert", {I(1), I(2)}).as_object(), a.as_object());
  method(a, "insert", {I(3), I(4)});
  EXPECT_EQ(display(a), "[1 2 3 4]");
  EXPECT_EQ(show_method(a, "remove_at", {I(0)}), "1");
  EXPECT_EQ(show_method(a, "remove_at", {I(-1)}), "4");
  EXPECT_EQ(display(a), "[2 3]");
  EXPECT_EQ(error_of(ExcClass::RuntimeException,
                     [&] {
                       method(a, "insert", {I(5), I(0)});
                     }),
            "index 5 out of range for Array of size 2");
  EXPECT_EQ(error_of(ExcClass::RuntimeException, [&] { method(a, "remove_at", {I(2)}); }),
            "index 2 out of range for Array of size 2");
}

TEST_F(StdlibTest, FrozenArrayMethods) {
  Value a = A({I(1)});
  call("freeze", {a});
  const std::string msg = "cannot modify a frozen Array";
  EXPECT_EQ(error_of(ExcClass::RuntimeException, [&] { method(a, "add", {I(2)}); }), msg);
  EXPECT_EQ(error_of(ExcClass::RuntimeException, [&] { method(a, "pop"); }), msg);
  EXPECT_EQ(error_of(ExcClass::RuntimeException, [&] { method(a, "insert", {I(0), I(2)}); }), msg);
  EXPECT_EQ(show_method(a, "sort"), "[1]");  // non-mutating methods still work
  EXPECT_FALSE(method(a, "sort").as_object()->is_frozen());
}

TEST_F(StdlibTest, SortByKeys) {
  Value items = A({S("bb"), S("a"), S("ccc"), S("dd")});
  Value keys = A({I(2), I(1), I(3), I(2)});
  EXPECT_EQ(show("__sort_by_keys", {items, keys}), "[a bb dd ccc]");  // stable
  EXPECT_EQ(show("__sort_by_keys", {A({}), A({})}), "[]");
  EXPECT_EQ(error_of(ExcClass::ArgumentException,
                     [&] {
                       call("__sort_by_keys", {items, A({I(1)})});
                     }),
            "__sort_by_keys expects as many keys as items");
  EXPECT_EQ(error_of(ExcClass::TypeException,
                     [&] {
                       call("__sort_by_keys", {A({I(1), I(2)}), A({I(1), S("x")})});
                     }),
            "cannot compare String and Int");
}

// ---- Maps -----------------------------------------------------------------

TEST_F(StdlibTest, MapMethods) {
  Value m = M({{"a", I(1)}, {"b", I(2)}});
  EXPECT_EQ(show_method(m, "size"), "2");
  EXPECT_EQ(show_method(m, "keys"), "[a b]");
  EXPECT_EQ(show_method(m, "values"), "[1 2]");
  EXPECT_TRUE(method(m, "contains", {S("a")}).as_bool());
  EXPECT_FALSE(method(m, "contains", {S("z")}).as_bool());
  EXPECT_EQ(show_method(m, "get", {S("b")}), "2");
  EXPECT_TRUE(method(m, "get", {S("z")}).is_nil());
  EXPECT_EQ(show_method(m, "get", {S("z"), S("dflt")}), "dflt");
  EXPECT_EQ(method(m, "set", {S("c"), I(3)}).as_object(), m.as_object());
  method(m, "set", {S("a"), I(10)});
  EXPECT_EQ(display(m), "{^a 10 ^b 2 ^c 3}");
  EXPECT_EQ(show_method(m, "delete", {S("b")}), "2");
  EXPECT_TRUE(method(m, "delete", {S("b")}).is_nil());
  EXPECT_EQ(display(m), "{^a 10 ^c 3}");
  const std::string msg = "map keys must be Strings, got Int";
  EXPECT_EQ(error_of(ExcClass::TypeException, [&] { method(m, "get", {I(1)}); }), msg);
  EXPECT_EQ(error_of(ExcClass::TypeException, [&] { method(m, "set", {I(1), I(1)}); }), msg);
  EXPECT_EQ(error_of(ExcClass::TypeException, [&] { method(m, "contains", {I(1)}); }), msg);
  EXPECT_EQ(error_of(ExcClass::TypeException, [&] { method(m, "delete", {I(1)}); }), msg);
  call("freeze", {m});
  EXPECT_EQ(error_of(ExcClass::RuntimeException,
                     [&] {
                       method(m, "set", {S("x"), I(1)});
                     }),
            "cannot modify a frozen Map");
  EXPECT_EQ(error_of(ExcClass::RuntimeException, [&] { method(m, "delete", {S("a")}); }),
            "cannot modify a frozen Map");
}

// ---- Regular expressions --------------------------------------------------

TEST_F(StdlibTest, RegexMatch) {
  EXPECT_EQ(show("re/match", {S("(\\w+)@(\\w+)"), S("mail bob@example now")}),
            "[bob@example bob example]");
  EXPECT_TRUE(call("re/match", {S("^\\d+$"), S("12a")}).is_nil());
  Value m = call("re/match", {S("(a)|(b)"), S("b")});
  ASSERT_TRUE(m.is(ObjType::Array));
  EXPECT_EQ(display(m), "[b nil b]");
  EXPECT_EQ(show("re/match", {S("\xC3\xA9(.)"), S("x\xC3\xA9\xE2\x82\xAC!")}),
            "[\xC3\xA9\xE2\x82\xAC \xE2\x82\xAC]");
  EXPECT_EQ(error_of(ExcClass::ArgumentException,
                     [&] {
                       call("re/match", {S("("), S("x")});
                     }),
            "invalid regular expression '(': missing ): (");
  EXPECT_EQ(error_of(ExcClass::TypeException,
                     [&] {
                       call("re/match", {I(1), S("x")});
                     }),
            "re/match expects a String pattern, got Int");
}

TEST_F(StdlibTest, RegexFindAll) {
  EXPECT_EQ(show("re/find_all", {S("\\d+"), S("a1 b22 c333")}), "[1 22 333]");
  EXPECT_EQ(show("re/find_all", {S("x"), S("abc")}), "[]");
  Value empties = call("re/find_all", {S("a*"), S("baaac")});
  EXPECT_EQ(display(empties), "[ aaa  ]");
  EXPECT_EQ(empties.as<Array>()->size(), 4u);
  EXPECT_EQ(call("re/find_all", {S(""), S("\xC3\xA9\xC3\xA9")}).as<Array>()->size(), 3u);
}

TEST_F(StdlibTest, RegexReplaceSplit) {
  EXPECT_EQ(show("re/replace", {S("John Smith"), S("(\\w+) (\\w+)"), S("\\2, \\1")}),
            "Smith, John");
  EXPECT_EQ(show("re/replace", {S("a1b22"), S("\\d"), S("#")}), "a#b##");
  EXPECT_EQ(show("re/replace", {S("abc"), S("x"), S("y")}), "abc");
  EXPECT_EQ(error_of(ExcClass::ArgumentException,
                     [&] {
                       call("re/replace", {S("abc"), S("(b)"), S("\\2")});
                     })
                .rfind("invalid replacement '\\2'", 0),
            0u);
  EXPECT_EQ(show("re/split", {S("a, b,c ,d"), S("\\s*,\\s*")}), "[a b c d]");
  EXPECT_EQ(show("re/split", {S("abc"), S(",")}), "[abc]");
  EXPECT_EQ(call("re/split", {S(",a,"), S(",")}).as<Array>()->size(), 3u);
  EXPECT_EQ(show("re/split", {S("abc"), S("x*")}), "[abc]");
  error_of(ExcClass::ArgumentException, [&] { call("re/split", {S("a"), S("[")}); });
}

// ---- JSON -----------------------------------------------------------------

TEST_F(StdlibTest, JsonParse) {
  Value v = call("json/parse", {S(R"({"b": [1, 2.5, -3, true, null, "x\u00e9"], "a": {}})")});
  ASSERT_TRUE(v.is(ObjType::Map));
  EXPECT_EQ(display(v), "{^b [1 2.5 -3 true nil x\xC3\xA9] ^a {}}");
  Value items = v.as<Map>()->get("b");
  EXPECT_TRUE(items.as<Array>()->get(0).is_int());
  EXPECT_TRUE(items.as<Array>()->get(1).is_float());
  EXPECT_TRUE(call("json/parse", {S("1.0")}).is_float());
  EXPECT_TRUE(call("json/parse", {S("null")}).is_nil());
  EXPECT_EQ(show("json/parse", {S("9223372036854775807")}), "9223372036854775807");
  EXPECT_TRUE(call("json/parse", {S("9223372036854775808")}).is_float());
  EXPECT_TRUE(call("json/parse", {S("-9223372036854775808")}).is_int());
  EXPECT_TRUE(call("json/parse", {S("100000000000000000000")}).is_float());
  EXPECT_EQ(show("json/parse", {S(R"({"k": 1, "k": 2})")}), "{^k 2}");
  EXPECT_EQ(show("json/parse", {S(" [ ] ")}), "[]");
}

TEST_F(StdlibTest, JsonParseErrors) {
  EXPECT_EQ(error_of(ExcClass::ParseException, [&] { call("json/parse", {S("[1, 2")}); }),
            "json/parse: missing a comma or ']' after an array element at offset 5");
  EXPECT_EQ(error_of(ExcClass::ParseException, [&] { call("json/parse", {S("")}); }),
            "json/parse: the document is empty at offset 0");
  EXPECT_EQ(error_of(ExcClass::ParseException, [&] { call("json/parse", {S("nul")}); }),
            "json/parse: invalid value at offset 3");
  error_of(ExcClass::ParseException, [&] { call("json/parse", {S("[1] 2")}); });
  error_of(ExcClass::ParseException,
           [&] { call("json/parse", {make_string(std::string("[1]\0x", 5))}); });
  error_of(ExcClass::ParseException, [&] { call("json/parse", {S("\"\xFF\"")}); });
  EXPECT_EQ(error_of(ExcClass::TypeException, [&] { call("json/parse", {I(1)}); }),
            "json/parse expects a String, got Int");
}

TEST_F(StdlibTest, JsonParseDepthLimit) {
  std::string ok = std::string(9999, '[') + std::string(9999, ']');
  EXPECT_TRUE(call("json/parse", {S(ok)}).is(ObjType::Array));
  std::string deep = std::string(200000, '[') + std::string(200000, ']');
  EXPECT_EQ(error_of(ExcClass::ParseException, [&] { call("json/parse", {S(deep)}); }),
            "json/parse: nesting too deep");
  std::string deep_maps;
  for (int i = 0; i < 20000; ++i) deep_maps += "{\"a\":";
  deep_maps += "1" + std::string(20000, '}');
  EXPECT_EQ(error_of(ExcClass::ParseException, [&] { call("json/parse", {S(deep_maps)}); }),
            "json/parse: nesting too deep");
}

TEST_F(StdlibTest, JsonStringify) {
  Value v = M({{"a", I(1)}, {"b", A({I(1), F(2.0), F(0.5), Value(), B(false)})}});
  EXPECT_EQ(show("json/stringify", {v}), R"({"a":1,"b":[1,2.0,0.5,null,false]})");
  EXPECT_EQ(show("json/stringify", {S("q\"\n\xC3\xA9")}), "\"q\\\"\\n\xC3\xA9\"");
  EXPECT_EQ(show("json/stringify", {make_inclusive_range(1, 3)}), "[1,2,3]");
  EXPECT_EQ(show("json/stringify", {make_map()}), "{}");
  EXPECT_EQ(show("json/stringify", {F(1e20)}), "1e+20");
  Value kw = make_map();
  kw.as<Map>()->set("indent", I(2));
  EXPECT_EQ(display(call("json/stringify", {M({{"a", A({I(1)})}})}, kw.as<Map>())),
            "{\n  \"a\": [\n    1\n  ]\n}");
  EXPECT_EQ(
      error_of(ExcClass::TypeException, [&] { call("json/stringify", {A({runtime.builtin(0)})}); }),
      "cannot convert Function to JSON");
  EXPECT_EQ(error_of(ExcClass::TypeException,
                     [&] { call("json/stringify", {F(std::numeric_limits<double>::infinity())}); }),
            "cannot convert Float inf to JSON");
  Value round_trip = call("json/parse", {call("json/stringify", {v})});
  EXPECT_TRUE(values_equal(round_trip, v));
  EXPECT_TRUE(call("json/parse", {S("[2.0]")}).as<Array>()->get(0).is_float());
}

// ---- Files ----------------------------------------------------------------

class FileTest : public StdlibTest {
 protected:
  FileTest() {
    dir =
        std::filesystem::temp_directory_path() / ("weft_stdlib_test_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
  }
  ~FileTest() override { std::filesystem::remove_all(dir); }
  Value path(const std::string& name) { return S((dir / name).string()); }
  std::filesystem::path dir;
};

TEST_F(FileTest, WriteReadAppend) {
  EXPECT_TRUE(call("io/write", {path("a.txt"), S("one\ntwo\r\n")}).is_nil());
  EXPECT_EQ(show("io/read", {path("a.txt")}), "one\ntwo\r\n");
  call("io/append", {path("a.txt"), S("three")});
  EXPECT_EQ(show("io/read_lines", {path("a.txt")}), "[one two three]");
  call("io/write", {path("a.txt"), S("")});
  EXPECT_EQ(show("io/read_lines", {path("a.txt")}), "[]");
  call("io/write", {path("a.txt"), S("\n\nx\n")});
  EXPECT_EQ(call("io/read_lines", {path("a.txt")}).as<Array>()->size(), 3u);
  std::string big(200000, 'z');
  call("io/write", {path("big.txt"), S(big)});
  EXPECT_EQ(call("io/read", {path("big.txt")}).as<String>()->str(), big);
}

TEST_F(FileTest, ExistsAndListDir) {
  EXPECT_FALSE(call("io/exists", {path("b.txt")}).as_bool());
  call("io/write", {path("b.txt"), S("x")});
  call("io/write", {path("a.txt"), S("x")});
  std::filesystem::create_directory(dir / "sub");
  EXPECT_TRUE(call("io/exists", {path("b.txt")}).as_bool());
  EXPECT_TRUE(call("io/exists", {path("sub")}).as_bool());
  EXPECT_EQ(show("io/list_dir", {S(dir.string())}), "[a.txt b.txt sub]");
}

TEST_F(FileTest, Errors) {
  std::string missing = (dir / "missing.txt").string();
  EXPECT_EQ(error_of(ExcClass::IOError, [&] { call("io/read", {S(missing)}); }),
            "io/read: No such file or directory: " + missing);
  EXPECT_EQ(error_of(ExcClass::IOError, [&] { call("io/read_lines", {S(missing)}); }),
            "io/read_lines: No such file or directory: " + missing);
  std::string no_dir = (dir / "nope" / "x.txt").string();
  EXPECT_EQ(error_of(ExcClass::IOError,
                     [&] {
                       call("io/write", {S(no_dir), S("x")});
                     }),
            "io/write: No such file or directory: " + no_dir);
  EXPECT_EQ(error_of(ExcClass::IOError,
                     [&] {
                       call("io/append", {S(no_dir), S("x")});
                     }),
            "io/append: No such file or directory: " + no_dir);
  EXPECT_EQ(error_of(ExcClass::IOError, [&] { call("io/list_dir", {S(missing)}); }),
            "io/list_dir: No such file or directory: " + missing);
  EXPECT_EQ(error_of(ExcClass::IOError, [&] { call("io/read", {S(dir.string())}); }),
            "io/read: Is a directory: " + dir.string());
  EXPECT_EQ(error_of(ExcClass::TypeException,
                     [&] {
                       call("io/write", {path("c"), I(1)});
                     }),
            "io/write expects a String, got Int");
}

}  // namespace
}  // namespace weft
