// The interpreter, through whole programs: each test runs a script with
// run_program and compares what it printed (and, for failures, the exit
// status and the first line of the error report).
//
// Groups: arithmetic and printing, closures, recursion, parameters,
// exceptions and finally, loops, case, methods, paths, memory, budgets.
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/array.h"
#include "engine/exception.h"
#include "engine/fiber.h"
#include "engine/format.h"
#include "engine/function.h"
#include "engine/map.h"
#include "engine/program.h"
#include "engine/runtime.h"
#include "engine/string.h"
#include "engine/vm.h"
#include "lang/compiler.h"
#include "lang/reader.h"

namespace weft {
namespace {

struct Outcome {
  int exit_code = 0;
  std::string out;
  std::string error;
  std::string value;  // the printed form of the top level's value (exit 0 only)
};

// Values a test's `probe` native kept; cleared by each run() that installs it.
std::vector<Value>* g_probed = nullptr;

Value probe_native(NativeCall& call) {
  if (g_probed != nullptr) g_probed->push_back(call.arg(0));
  return call.arg(0);
}

// With `probed`, the script may call (probe v) to hand values to the test,
// and `inspect` runs after the program while its module is still alive:
// values made by a program may refer to the module's immortal constants
// (map keys, strings), so they must not outlive it.
Outcome run(const std::string& text, std::vector<Value>* probed = nullptr,
            const std::function<void()>& inspect = nullptr) {
  std::string out;
  Outcome outcome;
  {
    Runtime runtime;
    runtime.capture_output(&out);
    if (probed != nullptr) {
      g_probed = probed;
      runtime.register_native("probe", probe_native, 1, 1);
    }
    {
      Module module("t");
      auto source = std::make_shared<SourceFile>(SourceFile{"t.weft", text});
      ProgramResult result = run_program(runtime, module, source);
      runtime.flush_out();
      outcome.exit_code = result.exit_code;
      outcome.error = result.error;
      if (result.exit_code == kExitOk) outcome.value = display(result.value);
      result.value = Value();
      if (inspect) inspect();
      if (probed != nullptr) probed->clear();
    }
    g_probed = nullptr;
    runtime.capture_output(nullptr);
  }
  outcome.out = out;
  return outcome;
}

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

// The script runs to the end and prints exactly `expected`.
::testing::AssertionResult Prints(const std::string& script, const std::string& expected) {
  Outcome o = run(script);
  if (o.exit_code != kExitOk) {
    return ::testing::AssertionFailure() << "exit " << o.exit_code << "\n"
                                         << o.error << "output so far:\n"
                                         << o.out << "\nscript:\n"
                                         << script;
  }
  if (o.out != expected) {
    return ::testing::AssertionFailure() << "printed\n[" << o.out << "]\nexpected\n["
                                         << expected << "]\nscript:\n"
                                         << script;
  }
  return ::testing::AssertionSuccess();
}

// The script ends with an uncaught runtime error whose first line is `error`
// ("TypeException: cannot add String and Int"), after printing `expected_out`.
::testing::AssertionResult FailsWith(const std::string& script, const std::string& error,
                                     const std::string& expected_out = "") {
  Outcome o = run(script);
  if (o.exit_code != kExitRuntimeError) {
    return ::testing::AssertionFailure() << "exit " << o.exit_code << ", expected 70\n"
                                         << o.error << "output:\n"
                                         << o.out << "\nscript:\n"
                                         << script;
  }
  if (first_line(o.error) != error || o.out != expected_out) {
    return ::testing::AssertionFailure() << "error\n" << o.error << "output\n[" << o.out
                                         << "]\nexpected error '" << error << "' and output ["
                                         << expected_out << "]\nscript:\n"
                                         << script;
  }
  return ::testing::AssertionSuccess();
}

// ---- arithmetic ---------------------------------------------------------------

TEST(VmArithmetic, IntegerOperations) {
  EXPECT_TRUE(Prints("(println (1 + 2) (+ 1 2 3) (10 - 4) (- 10 4 3) (6 * 7) (* 2 3 4))",
                     "3 6 6 3 42 24\n"));
  EXPECT_TRUE(Prints("(println (1 + 2 * 3) ((1 + 2) * 3) (10 - 2 - 3) (2 * 3 % 4))", "7 9 5 2\n"));
  EXPECT_TRUE(Prints("(var x 5) (println (- x) (x + 32767) (x - 32767) (x + 40000) (x - 40000))",
                     "-5 32772 -32762 40005 -39995\n"));
  EXPECT_TRUE(Prints("(println (+ 5) (- 5) (- -5))", "5 -5 5\n"));
}

TEST(VmArithmetic, FloatsAndMixedNumbers) {
  EXPECT_TRUE(Prints("(println (1 + 2.5) (2.5 + 1) (0.5 * 4) (3.0 - 1) (typeof (1 + 1.0)))",
                     "3.5 3.5 2.0 2.0 Float\n"));
  EXPECT_TRUE(Prints("(var f 1.5) (println (f + 1) (f - 1) (- f) (f * f))", "2.5 0.5 -1.5 2.25\n"));
}

TEST(VmArithmetic, DivisionAlwaysGivesAFloat) {
  EXPECT_TRUE(Prints("(println (1 / 2) (4 / 2) (typeof (4 / 2)) (-9 / 4) (1.0 / 4))",
                     "0.5 2.0 Float -2.25 0.25\n"));
}

TEST(VmArithmetic, ModuloIsFloored) {
  EXPECT_TRUE(Prints("(println (7 % 3) (-7 % 3) (7 % -3) (-7 % -3) (6 % 3) (-6 % 3))",
                     "1 2 -2 -1 0 0\n"));
  EXPECT_TRUE(Prints("(println (7.5 % 2) (-7.5 % 2) (7 % 2.5) (typeof (7 % 2.0)))",
                     "1.5 0.5 2.0 Float\n"));
  EXPECT_TRUE(Prints("(println (-9223372036854775808 % -1) (-9223372036854775808 % 3))", "0 1\n"));
}

TEST(VmArithmetic, QuotTruncatesTowardZero) {
  EXPECT_TRUE(Prints("(println (quot 7 2) (quot -7 2) (quot 7 -2) (quot -7 -2) (quot 7.9 2))",
                     "3 -3 -3 3 3\n"));
}

TEST(VmArithmetic, OverflowThrowsRuntimeException) {
  const std::string overflow = "RuntimeException: integer overflow";
  EXPECT_TRUE(FailsWith("(println (9223372036854775807 + 1))", overflow));
  EXPECT_TRUE(FailsWith("(var x 9223372036854775807) (println (x + 1))", overflow));  // ADDI
  EXPECT_TRUE(FailsWith("(var x -9223372036854775807) (println (x - 2))", overflow));
  EXPECT_TRUE(FailsWith("(var x 9223372036854775807) (var y 1) (println (x + y))", overflow));
  EXPECT_TRUE(FailsWith("(var x -9223372036854775807) (var y 2) (println (x - y))", overflow));
  EXPECT_TRUE(FailsWith("(var x 4611686018427387904) (println (x * 2))", overflow));
  EXPECT_TRUE(FailsWith("(var x -9223372036854775808) (println (x * -1))", overflow));
  EXPECT_TRUE(FailsWith("(var x -9223372036854775808) (println (- x))", overflow));
  EXPECT_TRUE(FailsWith("(println (quot -9223372036854775808 -1))", overflow));
  EXPECT_TRUE(FailsWith("(var x 9223372036854775807) (x += 1)", overflow));
  EXPECT_TRUE(FailsWith("(var x 9223372036854775807) (x *= 9223372036854775807)", overflow));
  EXPECT_TRUE(FailsWith("(fn f [] (var x 9223372036854775807) (x += 1)) (f)", overflow));
  EXPECT_TRUE(FailsWith("(var m {^k 9223372036854775807}) (m/k += 1)", overflow));
  // The largest values themselves are fine, and the error is catchable.
  EXPECT_TRUE(Prints("(println (9223372036854775806 + 1) (-9223372036854775807 - 1))",
                     "9223372036854775807 -9223372036854775808\n"));
  EXPECT_TRUE(Prints(R"((var x 9223372036854775807)
(try (x += 1) catch RuntimeException (println $ex/type $ex/message))
(println x))",
                     "RuntimeException integer overflow\n9223372036854775807\n"));
}

TEST(VmArithmetic, DivisionByZero) {
  const std::string error = "RuntimeException: division by zero";
  for (const char* script : {"(1 / 0)", "(1 % 0)", "(1.5 / 0.0)", "(1 / 0.0)", "(1.5 % 0)",
                             "(quot 1 0)", "(var z 0) (5 / z)", "(var z 0.0) (5 % z)",
                             "(var x 5) (x /= 0)", "(var x 5) (x %= 0)"}) {
    EXPECT_TRUE(FailsWith(script, error)) << script;
  }
}

TEST(VmArithmetic, TypeErrorMessages) {
  EXPECT_TRUE(FailsWith(R"(("a" + 1))", "TypeException: cannot add String and Int"));
  EXPECT_TRUE(FailsWith(R"((1 + "a"))", "TypeException: cannot add Int and String"));
  EXPECT_TRUE(FailsWith(R"((var s "a") (s * 2))", "TypeException: cannot multiply String and Int"));
  EXPECT_TRUE(FailsWith(R"(([1] / 2))", "TypeException: cannot divide Array and Int"));
  EXPECT_TRUE(FailsWith(R"((nil % 2))", "TypeException: cannot take modulo of Nil and Int"));
  EXPECT_TRUE(FailsWith(R"((var s "a") (s - [1]))", "TypeException: cannot subtract String and Array"));
  EXPECT_TRUE(FailsWith(R"((- "a"))", "TypeException: cannot negate String"));
  EXPECT_TRUE(FailsWith(R"((var s "a") (s + 1))", "TypeException: cannot add String and Int"));
}

// Found while writing these tests: `(x - 1)` with a small literal compiles
// to ADDI x, -1, and the interpreter's slow path reported an addition.
TEST(VmArithmetic, SubtractingASmallLiteralFromANonNumberSaysSubtract) {
  EXPECT_TRUE(FailsWith(R"((var s "a") (s - 1))", "TypeException: cannot subtract String and Int"));
  EXPECT_TRUE(FailsWith(R"((var s "a") (s -= 1))", "TypeException: cannot subtract String and Int"));
  EXPECT_TRUE(FailsWith(R"((var s nil) (s - 2))", "TypeException: cannot subtract Nil and Int"));
}

TEST(VmArithmetic, ConcatenationOfStringsAndArrays) {
  EXPECT_TRUE(Prints(R"((var a [1 2]) (var b (a + [3])) (b .add 4)
(println ("ab" + "cd") b a ([] + []) (typeof ("" + "")))
(var s "x") (s += "y") (println s))",
                     "abcd [1 2 3 4] [1 2] [] String\nxy\n"));
}

TEST(VmArithmetic, FloatPrinting) {
  EXPECT_TRUE(Prints("(println 1.0 0.1 -2.5 100.0 (1 / 3) (0.1 + 0.2) 123456789.0 1.5e-7)",
                     "1.0 0.1 -2.5 100.0 0.3333333333333333 0.30000000000000004 123456789.0 "
                     "1.5e-07\n"));
  EXPECT_TRUE(Prints("(println 1e15 1e16 1e20 -1e20 (1e308 * 10) (-1e308 * 10) -0.0 (0.0 * -1))",
                     "1000000000000000.0 1e+16 1e+20 -1e+20 inf -inf -0.0 -0.0\n"));
  EXPECT_TRUE(Prints("(var inf (1e308 * 10)) (println (inf - inf) [1.0 2.5] {^f 0.5})",
                     "nan [1.0 2.5] {^f 0.5}\n"));
  EXPECT_TRUE(Prints("(println (str 2.0) #\"#{3.0}\" (0.1 * 3) 5e-324)",
                     "2.0 3.0 0.30000000000000004 5e-324\n"));
}

// ---- comparisons --------------------------------------------------------------

TEST(VmComparison, OperatorsChainsAndTypes) {
  EXPECT_TRUE(Prints("(println (1 < 2) (2 <= 2) (3 > 2) (2 >= 3) (1 < 2 < 3) (1 < 3 < 2) "
                     "(< 1 2 3) (> 3 2 2) (2 == 2.0) (1 != 1.0) (\"a\" < \"b\") ([1 2] < [1 3]))",
                     "true true true false true false true false true false true true\n"));
  EXPECT_TRUE(Prints("(println (nil == false) ([1 [2]] == [1 [2.0]]) ({^a 1 ^b 2} == {^b 2 ^a 1}))",
                     "false true true\n"));
  EXPECT_TRUE(FailsWith(R"(("a" < 1))", "TypeException: cannot compare String and Int"));
  EXPECT_TRUE(FailsWith(R"(("a" > 1))", "TypeException: cannot compare String and Int"));
  EXPECT_TRUE(FailsWith(R"((1 >= "a"))", "TypeException: cannot compare Int and String"));
}

TEST(VmComparison, ChainedOperandsAreEvaluatedOnce) {
  EXPECT_TRUE(Prints(R"((var n 0)
(fn next [] (n += 1) n)
(println (0 < (next) < 5) n))",
                     "true 1\n"));
}

// Found while writing these tests: Int-Float ordering converted the Int to
// a double, so 2^53 + 1 and 2^53 compared as equal for < <= > >= while ==
// (and .sort) told them apart.
TEST(VmComparison, IntFloatOrderingIsExact) {
  EXPECT_TRUE(Prints(R"((var i 9007199254740993) (var f 9007199254740992.0)
(println (i == f) (i > f) (i >= f) (i < f) (i <= f) (f < i) (f >= i) ([i f] .sort)))",
                     "false true true false false true false [9007199254740992.0 "
                     "9007199254740993]\n"));
}

TEST(VmComparison, LogicGivesTheDecidingOperand) {
  EXPECT_TRUE(Prints("(println (nil || 5) (1 && 2) (false && (1 / 0)) (1 || (1 / 0)) (! nil) (! 0) "
                     "(&& 1 2 3) (|| nil false 4))",
                     "5 2 false 1 true false 3 4\n"));
}

// ---- closures -----------------------------------------------------------------

TEST(VmClosures, TwoClosuresShareOneVariable) {
  EXPECT_TRUE(Prints(R"((fn make []
  (var n 0)
  {^inc (fn [] (n += 1)) ^read (fn [] n) ^write (fn [v] (n = v))})
(var a (make))
(var b (make))
(a .inc) (a .inc) (b .inc)
(println (a .read) (b .read))
(a .write 10) (a .inc)
(println (a .read) (b .read)))",
                     "2 1\n11 1\n"));
}

TEST(VmClosures, TheEnclosingFunctionSeesTheClosuresWrites) {
  EXPECT_TRUE(Prints(R"((fn f []
  (var x 1)
  (var set (fn [v] (x = v)))
  (set 5)
  (var before x)
  (x = 7)
  (var get (fn [] x))
  [before (get)])
(println (f)))",
                     "[5 7]\n"));
}

TEST(VmClosures, EachLoopIterationHasAFreshBinding) {
  EXPECT_TRUE(Prints(R"((var fs [])
(for i in (0 .. 2) (fs .add (fn [] i)))
(for x in ["a" "b"] (fs .add (fn [] x)))
(for i x in [7 8] (fs .add (fn [] [i x])))
(for k v in {^p 1 ^q 2} (fs .add (fn [] (str k v))))
(for c in "hé" (fs .add (fn [] c)))
(for i in (range 10 12) (fs .add (fn [] i)))
(var j 0)
(while (j < 2) (var k j) (fs .add (fn [] k)) (j += 1))
(repeat 2 (var r j) (fs .add (fn [] r)) (j += 1))
(println (fs .map (fn [f] (f)))))",
                     "[0 1 2 a b [0 7] [1 8] p1 q2 h é 10 11 0 1 2 3]\n"));
}

TEST(VmClosures, ACapturedLoopVariableIsSharedWithinItsIteration) {
  EXPECT_TRUE(Prints(R"((var fs [])
(for i in (0 .. 2)
  (fs .add (fn [] i))
  (i = (i * 10)))
(println (fs/0) (fs/1) (fs/2)))",
                     "0 10 20\n"));
}

TEST(VmClosures, NestedClosuresReachOuterVariables) {
  EXPECT_TRUE(Prints(R"((fn outer [a]
  (fn middle [b]
    (fn inner [c] (a += 1) (str a b c)))
  middle)
(var m (outer 1))
(var i (m "b"))
(println (i "c") (i "d") ((m "x") "y")))",
                     "2bc 3bd 4xy\n"));
}

TEST(VmClosures, CounterGeneratorsAreIndependent) {
  EXPECT_TRUE(Prints(R"((fn counter [start = 0 ^step = 1]
  (var n start)
  (fn [] (var now n) (n += step) now))
(var c1 (counter))
(var c2 (counter 100 ^step 10))
(println (c1) (c1) (c2) (c1) (c2)))",
                     "0 1 100 2 110\n"));
}

TEST(VmClosures, CapturedParametersAndCatchBindings) {
  EXPECT_TRUE(Prints(R"((fn adder [n] (fn [x] (x + n)))
(println ((adder 3) 4))
(var saved nil)
(try (throw "boom") catch e (saved = (fn [] (str $ex/message "/" e/message))))
(println (saved)))",
                     "7\nboom/boom\n"));
}

// ---- recursion ----------------------------------------------------------------

TEST(VmRecursion, Recursion) {
  EXPECT_TRUE(Prints(R"((fn fib [n] (if (n < 2) n else ((fib (n - 1)) + (fib (n - 2)))))
(fn fact [n] (if (n <= 1) 1 else (n * (fact (n - 1)))))
(fn sum_to [n] (if (n == 0) 0 else (n + (sum_to (n - 1)))))
(println (fib 20) (fact 20) (sum_to 50000)))",
                     "6765 2432902008176640000 1250025000\n"));
}

TEST(VmRecursion, MutualRecursionBetweenTopLevelFunctionsInAnyOrder) {
  EXPECT_TRUE(Prints(R"((fn is_even [n] (if (n == 0) true else (is_odd (n - 1))))
(fn is_odd [n] (if (n == 0) false else (is_even (n - 1))))
(println (is_even 10) (is_odd 7) (is_even 10001)))",
                     "true true false\n"));
  // Defined the other way round, and used from a function defined before both.
  EXPECT_TRUE(Prints(R"((fn check [] [(ping 3) (pong 3)])
(fn pong [n] (if (n == 0) "pong" else (ping (n - 1))))
(fn ping [n] (if (n == 0) "ping" else (pong (n - 1))))
(println (check)))",
                     "[pong ping]\n"));
}

TEST(VmRecursion, LocalFunctionsRecurse) {
  EXPECT_TRUE(Prints(R"((fn run []
  (fn countdown [n] (if (n == 0) "done" else (countdown (n - 1))))
  [(countdown 1000)])
(println (run)))",
                     "[done]\n"));
}

TEST(VmRecursion, AFunctionValueKeepsItsIdentityUnderRecursion) {
  EXPECT_TRUE(Prints(R"((fn f [n] (if (n == 0) f else (f (n - 1))))
(println (f 5) ((f 3) == f)))",
                     "<fn f> true\n"));
}

TEST(VmRecursion, CallingAGlobalBeforeItsDefinitionIsARuntimeError) {
  EXPECT_TRUE(FailsWith("(later) (fn later [] 1)",
                        "RuntimeException: variable 'later' used before its definition"));
}

// ---- parameters ---------------------------------------------------------------

TEST(VmParameters, DefaultsRestAndKeywords) {
  EXPECT_TRUE(Prints(R"((fn greet [name = "World" punct = "!"] (str "Hello, " name punct))
(println (greet) (greet "Bo") (greet "Bo" "?") (greet ^punct "." ^name "X"))
(fn f [a b = (a * 2)] [a b])
(println (f 1) (f 1 5))
(fn g [first rest...] [first rest])
(println (g 1) (g 1 2 3))
(fn h [^port = 8080 ^host] [port host])
(println (h) (h ^port 1 ^host "x"))
(fn flags [^^tls ^!verbose] [tls verbose])
(println (flags) (flags ^!tls ^^verbose))
(fn mixed [a rest... ^k = 0] [a rest k])
(println (mixed 1 2 3 ^k 9) (mixed ^k 2 ^a 1)))",
                     "Hello, World! Hello, Bo! Hello, Bo? Hello, X.\n"
                     "[1 2] [1 5]\n"
                     "[1 []] [1 [2 3]]\n"
                     "[8080 nil] [1 x]\n"
                     "[true false] [false true]\n"
                     "[1 [2 3] 9] [1 [] 2]\n"));
}

TEST(VmParameters, DefaultsAreEvaluatedAtEachCall) {
  EXPECT_TRUE(Prints(R"((fn f [xs = []] (xs .add 1) xs)
(println (f) (f) (f [0])))",
                     "[1] [1] [0 1]\n"));
}

TEST(VmParameters, ArgumentExceptionMessages) {
  struct Case {
    const char* script;
    const char* message;
  } cases[] = {
      {"(fn f [a b] a) (f 1)", "f expects 2 arguments, got 1"},
      {"(fn f [a b] a) (f 1 2 3)", "f expects 2 arguments, got 3"},
      {"(fn f [a] a) (f)", "f expects 1 argument, got 0"},
      {"(fn f [] 1) (f 1)", "f expects 0 arguments, got 1"},
      {"(fn g [a b = 2] a) (g)", "g expects at least 1 argument, got 0"},
      {"(fn g [a b = 2] a) (g 1 2 3)", "g expects at most 2 arguments, got 3"},
      {"(fn h [a rest...] a) (h)", "h expects at least 1 argument, got 0"},
      {"(fn f [a] a) (f ^x 1)", "f has no parameter named 'x'"},
      {"(fn f [a] a) (f 1 ^a 2)", "f got two values for 'a'"},
      {"((fn [x] x))", "<fn> expects 1 argument, got 0"},
      {"(typeof)", "typeof expects 1 argument, got 0"},
      {"(typeof 1 2)", "typeof expects 1 argument, got 2"},
  };
  for (const Case& c : cases) {
    EXPECT_TRUE(FailsWith(c.script, std::string("ArgumentException: ") + c.message)) << c.script;
    // And the exception is catchable as such.
    EXPECT_TRUE(Prints(std::string("(try ") + c.script +
                           " catch ArgumentException (println $ex/message))",
                       std::string(c.message) + "\n"))
        << c.script;
  }
}

// Found while writing these tests: a method call's arity error counted the
// receiver as an argument and, for the methods written in Weft, named the
// prelude's function: ("abc" .upper 1) said "upper expects 1 argument, got
// 2" and ([1] .map) "array_map expects 2 arguments, got 1".
TEST(VmParameters, MethodArityErrorsCountTheArgumentsTheScriptWrote) {
  EXPECT_TRUE(FailsWith("(\"abc\" .upper 1)",
                        "ArgumentException: upper expects 0 arguments, got 1"));
  EXPECT_TRUE(FailsWith("([1] .add)", "ArgumentException: add expects 1 argument, got 0"));
  EXPECT_TRUE(FailsWith("([1] .map)", "ArgumentException: map expects 1 argument, got 0"));
  EXPECT_TRUE(FailsWith("({} .each)", "ArgumentException: each expects 1 argument, got 0"));
}

TEST(VmParameters, CallingANonFunction) {
  EXPECT_TRUE(FailsWith("(5 1)", "TypeException: cannot call Int"));
  EXPECT_TRUE(FailsWith("(var s \"x\") (s)", "TypeException: cannot call String"));
  EXPECT_TRUE(FailsWith("(var m {}) (m/f 1)", "TypeException: cannot call Nil"));
}

// ---- exceptions ---------------------------------------------------------------

TEST(VmExceptions, CatchClausesMatchByClassInOrder) {
  EXPECT_TRUE(Prints(R"((fn kind [thunk]
  (try (thunk)
    catch ArgumentException "argument"
    catch TypeException "type"
    catch RuntimeException "runtime"
    catch Exception (str "other: " $ex/message)))
(println (kind (fn [] (1 + "a"))) (kind (fn [] ((fn [x] x))))
         (kind (fn [] (1 / 0))) (kind (fn [] (throw "plain")))
         (kind (fn [] (throw (new AssertionException "a"))))
         (kind (fn [] (throw (new TimeoutException "t"))))))",
                     "type argument runtime other: plain other: a other: t\n"));
  // A subclass is caught by its ancestor; an unrelated class is not.
  EXPECT_TRUE(Prints(R"((println (try (throw (new TimeoutException "t")) catch ConcurrencyException $ex/type))
(println (try (try (1 / 0) catch TypeException "wrong") catch * (str "outer " $ex/type))))",
                     "TimeoutException\nouter RuntimeException\n"));
}

TEST(VmExceptions, ThrownValuesAndExceptionFields) {
  EXPECT_TRUE(Prints(R"((try (throw "msg") catch e (println (typeof e) e/type e/message e/value))
(try (throw [1 "b"]) catch * (println $ex/type $ex/message $ex/value ($ex/value == [1 "b"])))
(try (throw 42) catch * (println $ex/message (typeof $ex/value)))
(var made (new TypeException "custom"))
(println made (typeof made) made/message)
(try (throw made) catch TypeException (println ($ex == made) $ex/type)))",
                     "Exception Exception msg nil\n"
                     "Exception [1 b] [1 b] true\n"
                     "42 Int\n"
                     "TypeException: custom TypeException custom\n"
                     "true TypeException\n"));
}

TEST(VmExceptions, TryIsAnExpression) {
  EXPECT_TRUE(Prints(R"((println (try 1 catch * 2) (try (throw "x") catch * 2) (try 1 finally 3)
         (try (throw "x") catch * "c" finally 3) (try) (try catch * 1)))",
                     "1 2 1 c nil nil\n"));
}

TEST(VmExceptions, ExceptionsFromNativesAreCaughtInScript) {
  EXPECT_TRUE(Prints(R"((try (json/parse "{") catch ParseException (println $ex/type))
(try ([1] .get "x") catch TypeException (println $ex/message))
(try (re/match "(" "x") catch ArgumentException (println $ex/type))
(try (assert false "nope") catch AssertionException (println $ex/message))
(try ({} .get 1) catch * (println $ex/message))
(try ((freeze [1]) .add 2) catch RuntimeException (println $ex/message))
(println "still running"))",
                     "ParseException\nget expects an Int, got String\nArgumentException\nnope\n"
                     "map keys must be Strings, got Int\ncannot modify a frozen Array\n"
                     "still running\n"));
}

TEST(VmExceptions, TraceNamesEachFrameInnermostFirst) {
  EXPECT_TRUE(Prints(R"((fn inner [] (throw "boom"))
(fn outer [] (inner))
(try (outer) catch * (println $ex/trace))
(try (try (outer) catch * (throw $ex)) catch * (println $ex/trace))
(fn native_fails [] ([1] .get "x"))
(try (native_fails) catch * (println $ex/trace)))",
                     "[inner (t.weft:1:14) outer (t.weft:2:14) <main> (t.weft:3:6)]\n"
                     "[inner (t.weft:1:14) outer (t.weft:2:14) <main> (t.weft:4:11)]\n"
                     "[native_fails (t.weft:5:21) <main> (t.weft:6:6)]\n"));
}

TEST(VmExceptions, RethrowKeepsTheOriginalTrace) {
  EXPECT_TRUE(Prints(R"((fn thrower [] (throw "x"))
(fn middle [] (try (thrower) catch e (throw e)))
(fn top [] (try (middle) finally nil))
(try (top) catch * (println ($ex/trace .size) $ex/trace/0 $ex/trace/-1)))",
                     "4 thrower (t.weft:1:16) <main> (t.weft:4:6)\n"));
}

TEST(VmExceptions, UncaughtErrorReport) {
  Outcome o = run("(fn f [x]\n  (x + 1))\n(println \"before\")\n(f \"s\")\n");
  EXPECT_EQ(o.exit_code, kExitRuntimeError);
  EXPECT_EQ(o.out, "before\n");
  EXPECT_EQ(o.error,
            "TypeException: cannot add String and Int\n"
            "  at f (t.weft:2:6)\n"
            "  at <main> (t.weft:4:1)\n");
  Outcome thrown = run("(throw [1 2])");
  EXPECT_EQ(thrown.exit_code, kExitRuntimeError);
  EXPECT_EQ(first_line(thrown.error), "Exception: [1 2]");
}

TEST(VmExceptions, ExceptionInsideACatchHandlerPropagates) {
  EXPECT_TRUE(Prints(R"((try
  (try (throw "first") catch * (throw (str "second after " $ex/message)))
  catch * (println $ex/message)))",
                     "second after first\n"));
}

// Each finally runs exactly once on every way out of its try.
TEST(VmExceptions, FinallyRunsOnceWhenBreakContinueAndReturnCrossIt) {
  EXPECT_TRUE(Prints(R"((var log [])
(for i in (0 .. 3)
  (try
    (if (i == 1) (continue))
    (if (i == 2) (break))
    (log .add #"body #{i}")
    finally (log .add #"fin #{i}")))
(println log))",
                     "[body 0 fin 0 fin 1 fin 2]\n"));
  EXPECT_TRUE(Prints(R"((var count 0)
(fn r [] (try (return 1) finally (count += 1)) 2)
(println (r) count)
(fn nested []
  (try
    (try (return "x") finally (println "inner"))
    finally (println "outer")))
(println (nested))
(var n 0)
(println (loop (n += 1) (try (if (n == 3) (break n)) finally (println "loop fin" n)))))",
                     "1 1\ninner\nouter\nx\nloop fin 1\nloop fin 2\nloop fin 3\n3\n"));
  // return from a catch handler, and from a loop inside a try with finally.
  EXPECT_TRUE(Prints(R"((var fins 0)
(fn from_catch [] (try (throw "e") catch * (return "caught") finally (fins += 1)) "after")
(fn from_loop []
  (try
    (for i in (0 .. 10) (while true (if (i == 2) (return i)) (break)))
    finally (fins += 10)))
(println (from_catch) (from_loop) fins))",
                     "caught 2 11\n"));
  // break and continue inside a catch handler.
  EXPECT_TRUE(Prints(R"((var log [])
(for i in (0 .. 4)
  (try
    (throw i)
    catch *
      (if (i == 1) (continue))
      (if (i == 3) (break))
      (log .add i)
    finally (log .add "f")))
(println log))",
                     "[0 f f 2 f f]\n"));
}

TEST(VmExceptions, FinallyRunsOnceWhenAnExceptionPassesThrough) {
  EXPECT_TRUE(Prints(R"((var fins 0)
(fn thrower [] (try (throw "e") finally (fins += 1)))
(fn catcher [] (try (thrower) catch * "caught" finally (fins += 10)))
(println (catcher) fins)
(try (try (throw "a") catch * (throw "b") finally (fins += 100)) catch * (println $ex/message))
(println fins))",
                     "caught 11\nb\n111\n"));
  // An exception thrown in the finally replaces the one in flight.
  EXPECT_TRUE(Prints(R"((try (try (throw "a") finally (throw "b")) catch * (println $ex/message)))",
                     "b\n"));
  // break in a finally that an exception is passing through drops the exception.
  EXPECT_TRUE(Prints(R"((var i 0)
(while true (i += 1) (try (throw "lost") finally (break)))
(println "after" i))",
                     "after 1\n"));
}

TEST(VmExceptions, NestedTryBlocksInOneFunctionAndAcrossFrames) {
  EXPECT_TRUE(Prints(R"((fn level [n]
  (if (n == 0) (throw "bottom"))
  (try (level (n - 1)) catch * (throw (str $ex/message "<" n)) finally (print n)))
(try (level 4) catch * (println) (println $ex/message))
(var r (try (try (try (throw 1) finally (print "a")) finally (print "b")) catch * "c" finally (print "d")))
(println r))",
                     "1234\nbottom<1<2<3<4\nabdc\n"));
}

TEST(VmExceptions, HandlersOfReturnedFramesAreGone) {
  // A function that returns from inside a try must not leave its handler
  // behind for a later throw in the caller.
  EXPECT_TRUE(Prints(R"((fn quiet [] (try (return 1) catch * (println "wrong handler")))
(quiet)
(try (throw "later") catch * (println "right handler" $ex/message)))",
                     "right handler later\n"));
  EXPECT_TRUE(FailsWith(R"((fn quiet [] (try (return 1) catch * (println "wrong handler")))
(quiet)
(throw "uncaught"))",
                        "Exception: uncaught"));
  EXPECT_TRUE(FailsWith(R"((for i in [1 2] (try (break) catch * (println "wrong")))
(throw "uncaught"))",
                        "Exception: uncaught"));
}

TEST(VmExceptions, StackOverflowIsACatchableRuntimeException) {
  EXPECT_TRUE(Prints(R"((fn deep [n] (1 + (deep (n + 1))))
(try (deep 0) catch RuntimeException (println $ex/type $ex/message))
(println "continues")
(try (deep 0) catch e (println "again" e/message))
(fn fine [n] (if (n == 0) 0 else (1 + (fine (n - 1)))))
(println (fine 10000)))",
                     "RuntimeException stack overflow\ncontinues\nagain stack overflow\n10000\n"));
  // Through finally blocks and handlers on every level, and through a
  // method written in Weft.
  EXPECT_TRUE(Prints(R"((var fins 0)
(fn deep [n] (try (deep (n + 1)) finally (fins += 1)))
(try (deep 0) catch * (println $ex/message (fins > 1000)))
(fn via_map [n] ([n] .map (fn [x] (via_map (x + 1)))))
(try (via_map 0) catch * (println $ex/message)))",
                     "stack overflow true\nstack overflow\n"));
  // The trace stays short.
  EXPECT_TRUE(Prints(R"((fn deep [n] (deep (n + 1)))
(try (deep 0) catch * (println (($ex/trace .size) < 100) $ex/trace/0)))",
                     "true deep (t.weft:1:14)\n"));
  EXPECT_TRUE(FailsWith("(fn deep [n] (deep (n + 1))) (deep 0)",
                        "RuntimeException: stack overflow"));
}

// ---- loops --------------------------------------------------------------------

TEST(VmLoops, AMillionIterations) {
  EXPECT_TRUE(Prints(R"((var s 0)
(for i in (range 1000000) (s += i))
(var w 0)
(var i 0)
(while (i < 1000000) (w += i) (i += 1))
(var r 0)
(repeat 1000000 (r += 1))
(var l 0)
(loop (if (l == 1000000) (break)) (l += 1))
(println s w r l))",
                     "499999500000 499999500000 1000000 1000000\n"));
}

TEST(VmLoops, ForOverCollections) {
  // (print a b) separates its arguments with a space, like println.
  EXPECT_TRUE(Prints(R"((for x in [1 "a" [2]] (print (str x ";"))) (println)
(for i x in [5 6] (print (str i "=" x ";"))) (println)
(for k v in {^a 1 ^b 2} (print (str k "=" v ";"))) (println)
(for k in {^a 1 ^b 2} (print (str k ";"))) (println)
(for c in "héllo" (print (str c ";"))) (println)
(for i c in "hé" (print (str i c ";"))) (println)
(for x in [] (print "never")) (for x in "" (print "never")) (for x in {} (print "never"))
(var r (1 .. 3))
(for x in r (print x)) (for i x in r (print "<" i x ">")) (println))",
                     "1;a;[2];\n0=5;1=6;\na=1;b=2;\na;b;\nh;é;l;l;o;\n0h;1é;\n123< 0 1 >< 1 2 >< 2 3 >\n"));
}

TEST(VmLoops, ForOverRanges) {
  EXPECT_TRUE(Prints(R"((for x in (0 .. 3) (print x)) (println)
(for x in (3 .. 1) (print x)) (println)
(for x in (-2 .. -2) (print x)) (println)
(for x in (range 4) (print x)) (println)
(for x in (range 2 5) (print x)) (println)
(for x in (range 0 10 3) (print x)) (println)
(for x in (range 5 0 -2) (print x)) (println)
(for x in (range 5 0) (print x)) (for x in (range 0) (print x)) (for x in (range 0 5 -1) (print x))
(println "|")
(var a 1) (var b 4)
(for x in (a .. b) (print x)) (for x in (b .. a) (print x)) (println)
(for x in (range a 10 b) (print (str x ","))) (println))",
                     "0123\n321\n-2\n0123\n234\n0369\n531\n|\n12344321\n1,5,9,\n"));
  EXPECT_TRUE(Prints("(for x in (9223372036854775805 .. 9223372036854775807) (println x))",
                     "9223372036854775805\n9223372036854775806\n9223372036854775807\n"));
  // No overflow when the step would pass the largest Int; the end is excluded.
  EXPECT_TRUE(Prints("(for x in (range 9223372036854775800 9223372036854775807 3) (println x))",
                     "9223372036854775800\n9223372036854775803\n9223372036854775806\n"));
  EXPECT_TRUE(Prints("(for x in (range -9223372036854775807 9223372036854775807 9223372036854775807) "
                     "(println x))",
                     "-9223372036854775807\n0\n"));
  EXPECT_TRUE(Prints("(for x in (-9223372036854775807 .. -9223372036854775808) (println x))",
                     "-9223372036854775807\n-9223372036854775808\n"));
  EXPECT_TRUE(FailsWith("(for x in (range 0 10 0) x)",
                        "ArgumentException: range step must not be 0"));
  EXPECT_TRUE(FailsWith("(for x in (1.5 .. 3) x)", "TypeException: range bounds must be Int, got Float"));
  EXPECT_TRUE(FailsWith("(for x in 5 x)", "TypeException: cannot iterate Int"));
}

TEST(VmLoops, AssigningTheLoopVariableDoesNotChangeTheIteration) {
  EXPECT_TRUE(Prints(R"((for x in (0 .. 3) (print x) (x = 100)) (println)
(for i x in [7 8 9] (print i) (i = 5)) (println))",
                     "0123\n012\n"));
}

TEST(VmLoops, MutatingTheCollectionWhileIterating) {
  EXPECT_TRUE(Prints(R"((var a [1 2 3])
(for x in a (if (x == 1) (a .pop)) (print x))
(println)
(var m {^a 1 ^b 2 ^c 3})
(for k v in m (if (k == "a") (m .delete "b")) (print k))
(println))",
                     "12\nac\n"));
}

TEST(VmLoops, LoopValuesBreakAndContinue) {
  EXPECT_TRUE(Prints(R"((println (while false) (for x in [] x) (repeat 0 1) (loop (break)) (loop (break 7)))
(var i 0)
(println (loop (i += 1) (if (i < 5) (continue)) (break (i * 10))))
(var out [])
(for x in (0 .. 3)
  (for y in (0 .. 3)
    (if (y > x) (break))
    (if (y == 1) (continue))
    (out .add [x y])))
(println out)
(var n 0) (var evens 0)
(while (n < 10) (n += 1) (if ((n % 2) == 1) (continue)) (evens += 1))
(println evens)
(repeat -3 (println "never"))
(var c 0) (repeat 5 (c += 1) (if (c == 3) (break)))
(println c))",
                     "nil nil nil nil 7\n50\n[[0 0] [1 0] [2 0] [2 2] [3 0] [3 2] [3 3]]\n5\n3\n"));
}

TEST(VmLoops, BreakValueOfAnInnerLoopDoesNotLeakOut) {
  EXPECT_TRUE(Prints(R"((println (loop (var v (loop (break 1))) (break (v + 1)))))", "2\n"));
}

// Found by the robustness test: a break whose value holds loops of its own
// (the compiler kept a reference into its loop stack while that grew).
TEST(VmLoops, BreakValuesThatHoldLoops) {
  EXPECT_TRUE(Prints(R"((println (loop (break (loop (break 5)))))
(fn f [] (loop (break (for i in [1 2] (if (i == 2) (break))))))
(println (f))
(var n 0)
(while (n < 3) (n += 1) (if (n == 2) (break (while false))))
(println n (loop (break (repeat 2 (continue)))))
(println (loop (break [(loop (break 1)) (loop (loop (break)) (break 2))]))))",
                     "5\nnil\n2 nil\n[1 2]\n"));
}

// ---- case ---------------------------------------------------------------------

TEST(VmCase, MatchesByEquality) {
  EXPECT_TRUE(Prints(R"((fn name [n] (case n when 1 "one" when 2 "two" else "many"))
(println (name 1) (name 2) (name 7) (name 2.0))
(println (case "b" when "a" 1 when "b" 2) (case [1 2] when [1 2] "arr") (case {^k 1} when {^k 1} "map"))
(println (case 9 when 1 "one") (case nil when nil "nil" else "other") (case false when nil "nil" else "other"))
(var hits 0)
(fn subject [] (hits += 1) 3)
(println (case (subject) when 1 "a" when 2 "b" when (1 + 2) "c" else "d") hits)
(println (case 1 when 1 (print "x") (print "y") "z" else "no")))",
                     "one two many two\n2 arr map\nnil nil other\nc 1\nxyz\n"));
}

// ---- methods ------------------------------------------------------------------

TEST(VmMethods, MapOfFunctionsMethodCall) {
  EXPECT_TRUE(Prints(R"((var obj {^greet (fn [n] #"hi #{n}") ^add (fn [a b] (a + b)) ^size 99
           ^kw (fn [a ^b = 2] [a b])})
(println (obj .greet "x") (obj .add 1 2) (obj .size) obj/.size (obj .kw 1) (obj .kw 1 ^b 5)))",
                     "hi x 3 4 4 [1 2] [1 5]\n"));
  EXPECT_TRUE(FailsWith("(var obj {}) (obj .nope)", "TypeException: Map has no method or key 'nope'"));
  EXPECT_TRUE(FailsWith("(var obj {^v 1}) (obj .v)", "TypeException: cannot call Int"));
}

TEST(VmMethods, MethodsOfEachBuiltinType) {
  EXPECT_TRUE(Prints(R"((var s "abc") (var a [1 2]) (var r (1 .. 3))
(println ("abc" .upper) ("a,b" .split ",") ("héllo" .size) (" x " .trim) ("abc" .substr 1)
         s/.size ("abc" .contains "b"))
(println ([3 1 2] .sort) ([1 2] .map (fn [x] (x + 1))) ([1 2 3] .filter (fn [x] (x != 2)))
         ([1 2 3] .reduce 0 (fn [a x] (a + x))) ([1 2] .join "-") a/.size ([1 2 3] .slice 1))
(println ({^a 1} .keys) ({^a 1} .values) ({^a 1} .get "a") ({^a 1} .get "b" 0)
         ({^a 1 ^b 2} .map (fn [k v] (str k v))) ({^a 1 ^b 2} .filter (fn [k v] (v > 1))))
(println ((0 .. 3) .to_a) ((1 .. 3) .map (fn [x] (x * 2))) r/.size ((0 .. 9) .contains 4)
         ((range 5) .reduce 0 (fn [a x] (a + x)))))",
                     "ABC [a b] 5 x bc 3 true\n"
                     "[1 2 3] [2 3] [1 3] 6 1-2 2 [2 3]\n"
                     "[a] [1] 1 0 [a1 b2] {^b 2}\n"
                     "[0 1 2 3] [2 4 6] 3 true 10\n"));
  EXPECT_TRUE(Prints(R"((var a (atom [1]))
(println (a .value) a/.value (a .reset 2) (a .compare_and_set 2 3) (a .swap (fn [v] (v * 10))) a/.value))",
                     "[1] [1] 2 true 30 30\n"));
  EXPECT_TRUE(FailsWith("(5 .foo)", "TypeException: Int has no method 'foo'"));
  EXPECT_TRUE(FailsWith("(nil .x)", "TypeException: Nil has no method 'x'"));
  EXPECT_TRUE(FailsWith("(\"s\" .nope 1)", "TypeException: String has no method 'nope'"));
  EXPECT_TRUE(FailsWith("(try (throw \"x\") catch * ($ex .nope))",
                        "TypeException: Exception has no method 'nope'"));
}

TEST(VmMethods, CallbacksMayThrowThroughMethodsWrittenInWeft) {
  EXPECT_TRUE(Prints(R"((try ([1 2 3] .map (fn [x] (if (x == 2) (throw "two")) x)) catch * (println $ex/message))
(var seen [])
(try ([1 2 3] .each (fn [x] (seen .add x) (if (x == 2) (throw "stop")))) catch * nil)
(println seen))",
                     "two\n[1 2]\n"));
}

// ---- paths --------------------------------------------------------------------

TEST(VmPaths, ReadAndAssign) {
  EXPECT_TRUE(Prints(R"((var m {^a {^b 1} ^k 5 ^arr [1 2 3]})
(m/k += 1) (m/k -= 2) (m/k *= 3) (println m/k)
(m/a/b = 9) (println m/a/b m/a/c m/x/y m/a)
(m/arr/0 = 9) (println m/arr m/arr/-1 m/arr/.size)
(m/arr/1 *= 10) (m/arr/-1 += 1) (println m/arr)
(m/new = "added") (m/a/z = []) (m/a/z .add 1) (println m/new m/a)
(var a [1 2 3])
(println (a/0 = 9) a a/3 a/-4 a/-3)
(var s "héllo")
(println s/1 s/-1 s/9)
(println (m/k = 1) (m/arr/0 += 0.5)))",
                     "12\n9 nil nil {^b 9}\n[9 2 3] 3 3\n[9 20 4]\n"
                     "added {^b 9 ^z [1]}\n9 [9 2 3] nil nil 9\né o nil\n1 9.5\n"));
}

TEST(VmPaths, Errors) {
  EXPECT_TRUE(FailsWith("(var a [1 2 3]) (a/5 = 1)",
                        "RuntimeException: index 5 out of range for Array of size 3"));
  EXPECT_TRUE(FailsWith("(var n 5) (println n/0)", "TypeException: cannot index Int"));
  EXPECT_TRUE(FailsWith("(var n true) (println n/x)", "TypeException: cannot index Bool"));
  EXPECT_TRUE(FailsWith("(var m {^n 1}) (m/n/x = 1)", "TypeException: cannot assign into Int"));
  EXPECT_TRUE(FailsWith("(var m {^a nil}) (m/a/b = 1)", "TypeException: cannot assign into Nil"));
  EXPECT_TRUE(FailsWith("(var m (freeze {^a 1})) (m/a = 2)",
                        "RuntimeException: cannot modify a frozen Map"));
  EXPECT_TRUE(FailsWith("(var m {^s \"x\"}) (m/s += 1)", "TypeException: cannot add String and Int"));
  EXPECT_TRUE(Prints("(var m nil) (println m/a/b/0)", "nil\n"));
}

// ---- memory -------------------------------------------------------------------

// Builds and drops large nested structures. Under ASan (the CI runs the
// suite so) LeakSanitizer checks that everything was freed; here the
// references the script leaves are also counted: once the program and its
// module are gone, the probe's copy must be the only one left.
TEST(VmMemory, LargeNestedStructuresAreFreed) {
  std::vector<Value> probed;
  size_t visited = 0;
  auto inspect = [&] {
    ASSERT_EQ(probed.size(), 2u);
    // Every container reachable from `kept` is held once, by its parent
    // (the root by the probe), plus the copy `v` walking it here.
    std::vector<Value> pending{probed[0]};
    while (!pending.empty()) {
      Value v = std::move(pending.back());
      pending.pop_back();
      ++visited;
      EXPECT_EQ(v.as_object()->refcount(), 2u) << display(v);
      std::vector<Value> children =
          v.is(ObjType::Array) ? v.as<Array>()->snapshot() : v.as<Map>()->values();
      for (Value& item : children) {
        if (item.is(ObjType::Array) || item.is(ObjType::Map)) pending.push_back(std::move(item));
      }
    }
    EXPECT_EQ(probed[1].as_object()->refcount(), 1u);
    for (const Value& c : probed[1].as<Array>()->snapshot()) {
      EXPECT_EQ(c.as_object()->refcount(), 2u);  // the array's and `c`'s
    }
  };
  Outcome o = run(R"((fn build [depth width]
  (if (depth == 0) (return {^leaf "x" ^n [1 2 3]}))
  (var out [])
  (repeat width (out .add (build (depth - 1) width)))
  {^kids out ^name (str "d" depth)})
(var total 0)
(repeat 5
  (var tree (build 6 5))
  (total += tree/kids/.size)
  (tree = nil))
(var chain [])
(repeat 1000000 (chain = [chain]))
(try (println chain) catch RuntimeException (println "too deep to print"))
(chain = nil)
(var m {})
(for i in (range 20000) (m .set (str "k" i) [i (str i) {^v i}]))
(m = nil)
(var strings [])
(for i in (range 10000) (strings .add ("ab" .repeat (i % 50))))
(var closures ((range 1000) .map (fn [i] (fn [] i))))
(var kept (build 3 4))
(probe kept)
(probe closures)
(println total (strings .size) (closures/999) ((closures .map (fn [c] (c))) .size))
(kept = nil)
(closures = nil))",
                  &probed, inspect);
  ASSERT_EQ(o.exit_code, kExitOk) << o.error;
  EXPECT_EQ(o.out, "too deep to print\n25 10000 999 1000\n");
  EXPECT_GT(visited, 100u);
}

TEST(VmMemory, ExceptionsAndCapturedCellsAreReleased) {
  std::vector<Value> probed;
  auto inspect = [&] {
    ASSERT_EQ(probed.size(), 2u);
    EXPECT_EQ(probed[0].as_object()->refcount(), 1u);
    EXPECT_EQ(probed[1].as_object()->refcount(), 1u);
    EXPECT_EQ(display(probed[1]), "[1001]");
  };
  Outcome o = run(R"((var caught nil)
(fn deep [n] (if (n == 0) (throw {^payload [1 2 3]}) else (deep (n - 1))))
(repeat 100 (try (deep 50) catch * (caught = $ex)))
(probe caught)
(fn make [] (var n [0]) (fn [] (n/0 += 1) n))
(var f (make))
(repeat 1000 (f))
(probe (f))
(fn thrower [] (throw "x"))
(repeat 1000 (try (thrower) catch * nil finally nil))
(caught = nil)
(f = nil)
(println "ok"))",
                  &probed, inspect);
  ASSERT_EQ(o.exit_code, kExitOk) << o.error;
  EXPECT_EQ(o.out, "ok\n");
}

// A value captured only by local functions must be freed with them. The
// probe's copy is then the only reference left once the program's variables
// are gone (under LeakSanitizer the closures and cells also show as leaks).
::testing::AssertionResult OnlyTheProbeHolds(const std::string& script) {
  std::vector<Value> probed;
  uint32_t count = 0;
  Outcome o = run(script, &probed, [&] {
    if (probed.size() == 1 && probed[0].is_object()) count = probed[0].as_object()->refcount();
  });
  if (o.exit_code != kExitOk) return ::testing::AssertionFailure() << o.error;
  if (count != 1) {
    return ::testing::AssertionFailure()
           << "the captured value still has " << count << " references: its closures leak\n"
           << script;
  }
  return ::testing::AssertionSuccess();
}

TEST(VmMemory, LocalFunctionsThatRecurseDirectlyAreFreed) {
  EXPECT_TRUE(OnlyTheProbeHolds(R"((fn outer []
  (var data (probe [1 2 3]))
  (fn walk [n] (if (n > 0) (walk (n - 1)) else data/0))
  (walk 3))
(println (outer)))"));
}

// Found while writing these tests: a local named function that referred to
// itself from inside a lambda captured its own cell (the cell held the
// closure, the closure the cell), so it was never freed. A named function
// refers to itself without capturing itself.
TEST(VmMemory, LocalFunctionReferringToItselfFromALambdaIsFreed) {
  EXPECT_TRUE(OnlyTheProbeHolds(R"((fn outer []
  (var data (probe [1 2 3]))
  (fn walk [n] (if (n > 0) ([n] .each (fn [x] (walk (x - 1))))) data/0)
  (walk 3))
(println (outer)))"));
}

// Mutually recursive local functions capture each other: a reference cycle,
// which reference counting does not free (no cycle collector yet; see
// docs/LANGUAGE.md, "Memory"). Breaking the cycle, as documented, frees
// everything, including what the functions captured.
TEST(VmMemory, LocalMutuallyRecursiveFunctionsAreFreedOnceTheCycleIsBroken) {
  EXPECT_TRUE(OnlyTheProbeHolds(R"((fn run []
  (var data (probe [1 2 3]))
  (fn is_even [n] (if (n == 0) data/0 else (is_odd (n - 1))))
  (fn is_odd [n] (if (n == 0) false else (is_even (n - 1))))
  (var answer (is_even 10))
  (is_odd = nil)
  answer)
(println (run)))"));
}

// ---- budgets ------------------------------------------------------------------

struct Compiled {
  std::string out;
  Runtime runtime;
  Module module{"t"};
  SourceRef source;
  Proto* main = nullptr;

  explicit Compiled(const std::string& text) {
    runtime.capture_output(&out);
    source = std::make_shared<SourceFile>(SourceFile{"t.weft", text});
    std::vector<NodePtr> program = read_program(*source);
    main = compile_program(runtime, module, source, program);
  }
};

TEST(VmBudget, SlicesGiveTheSameResultAsOneRun) {
  const std::string script = R"((fn fib [n] (if (n < 2) n else ((fib (n - 1)) + (fib (n - 2)))))
(var acc [])
(for i in (range 15) (acc .add (fib i)))
(try (throw acc) catch * (println $ex/value))
(acc .reduce 0 (fn [a x] (a + x))))";
  for (int64_t budget : {1, 2, 3, 7, 100, 1 << 20}) {
    Compiled c(script);
    Fiber fiber;
    Vm vm(c.runtime);
    vm.start(fiber, Value::adopt(Closure::make(c.main)), {});
    RunStatus status = RunStatus::Yielded;
    int slices = 0;
    while (status == RunStatus::Yielded && slices < 1'000'000) {
      status = vm.run(fiber, budget);
      ++slices;
    }
    ASSERT_EQ(status, RunStatus::Completed) << budget;
    EXPECT_EQ(display(fiber.result), "986") << budget;
    c.runtime.flush_out();
    EXPECT_EQ(c.out, "[0 1 1 2 3 5 8 13 21 34 55 89 144 233 377]\n") << budget;
    if (budget == 1) {
      EXPECT_GT(slices, 1000);
    }
    // Running a finished fiber again reports the same status.
    EXPECT_EQ(vm.run(fiber, 10), RunStatus::Completed);
    fiber.result = Value();
  }
}

TEST(VmBudget, AnInfiniteLoopYields) {
  for (const char* script : {"(while true nil)", "(loop)", "(fn f [] (f)) (f)",
                             "(fn f [n] (f n)) (f 1)", "(for x in (range 9223372036854775807) x)",
                             "(repeat 9223372036854775807 nil)"}) {
    Compiled c(script);
    Fiber fiber;
    Vm vm(c.runtime);
    vm.start(fiber, Value::adopt(Closure::make(c.main)), {});
    for (int i = 0; i < 3; ++i) EXPECT_EQ(vm.run(fiber, 1000), RunStatus::Yielded) << script;
  }
  // Recursion without end ends in a stack overflow even in small slices.
  Compiled c("(fn f [n] (f n)) (f 1)");
  Fiber fiber;
  Vm vm(c.runtime);
  vm.start(fiber, Value::adopt(Closure::make(c.main)), {});
  RunStatus status = RunStatus::Yielded;
  for (int i = 0; i < 1'000'000 && status == RunStatus::Yielded; ++i) status = vm.run(fiber, 1000);
  ASSERT_EQ(status, RunStatus::Failed);
  EXPECT_EQ(display(fiber.exception), "RuntimeException: stack overflow");
}

TEST(VmBudget, StartCallsAClosureWithArguments) {
  Compiled c("(fn add [a b = 10 rest...] [a b rest])");
  Fiber first;
  Vm vm(c.runtime);
  vm.start(first, Value::adopt(Closure::make(c.main)), {});
  ASSERT_EQ(vm.run_to_end(first), RunStatus::Completed);
  Value add = c.module.slot(static_cast<uint32_t>(c.module.find("add"))).load();
  ASSERT_TRUE(add.is(ObjType::Closure));
  Fiber fiber;
  vm.start(fiber, add, {Value::integer(1)});
  ASSERT_EQ(vm.run_to_end(fiber), RunStatus::Completed);
  EXPECT_EQ(display(fiber.result), "[1 10 []]");
  Fiber more;
  vm.start(more, add, {Value::integer(1), Value::integer(2), Value::integer(3)});
  ASSERT_EQ(vm.run_to_end(more), RunStatus::Completed);
  EXPECT_EQ(display(more.result), "[1 2 [3]]");
  Fiber none;
  vm.start(none, add, {});
  EXPECT_EQ(vm.run_to_end(none), RunStatus::Failed);
  EXPECT_EQ(display(none.exception), "ArgumentException: add expects at least 1 argument, got 0");
  Fiber not_callable;
  vm.start(not_callable, Value::integer(3), {});
  EXPECT_EQ(vm.run_to_end(not_callable), RunStatus::Failed);
}

}  // namespace
}  // namespace weft
