// Robustness of the whole pipeline: whatever the input, read_program gives
// nodes or throws ParseError, compile_program gives a prototype or throws
// CompileError, and running it with a small instruction budget ends in a
// completed or failed fiber or a yield -- never a crash, a hang, or a C++
// exception of another kind. Inputs come from a fixed-seed PRNG so that a
// failure reproduces:
//
//   grammar programs   random well-formed programs mixing every special
//                      form, calls to builtins with arguments of random
//                      types, paths, operators, methods of every type
//   corpus mutations   the scripts of tests/lang with subtrees swapped,
//                      deleted, duplicated, wrapped or replaced
//   deep nesting       100,000 levels is a ParseError, not a stack overflow
//
// Each program runs for at most kSlices slices of kBudget backward jumps or
// calls, so infinite loops and recursions end; its output is captured and a
// program that prints more than 1 MB, or whose memory grows by more than
// 256 MB, is abandoned (that is fine, not a failure).
//
// Programs must not leave the test: the grammar never calls (exit) or io/
// functions, and mutated scripts have every `exit`, `io/`, `async`,
// `await`, `scope` and `__` renamed, so nothing spawns tasks on other
// threads either.
//
// The grammar's programs cannot create reference cycles (which reference
// counting leaks, and LeakSanitizer would report): lambdas appear only as
// callbacks, named functions only at the top level, and what is stored into
// an existing container or atom never refers to a variable. Mutated scripts
// may create cycles; under LeakSanitizer their allocations are not checked.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/exception.h"
#include "engine/fiber.h"
#include "engine/format.h"
#include "engine/function.h"
#include "engine/runtime.h"
#include "engine/string.h"
#include "engine/vm.h"
#include "lang/compiler.h"
#include "lang/reader.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
// Declared here: GCC 12 on Debian ships no sanitizer/allocator_interface.h,
// but the sanitizer runtimes define the function.
extern "C" size_t __sanitizer_get_current_allocated_bytes();
#define WEFT_ROBUSTNESS_SANITIZER_ALLOCATOR 1
#else
#include <malloc.h>
#endif
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

namespace weft {
namespace {

constexpr int64_t kBudget = 4;
constexpr int kSlices = 100;
constexpr size_t kMaxOutput = 1 << 20;
constexpr size_t kMaxGrowth = size_t{256} << 20;

size_t allocated_bytes() {
#ifdef WEFT_ROBUSTNESS_SANITIZER_ALLOCATOR
  return __sanitizer_get_current_allocated_bytes();
#else
  struct mallinfo2 info = mallinfo2();
  return info.uordblks + info.hblkhd;
#endif
}

std::string printable(std::string_view input) {
  std::string out;
  for (char c : input.substr(0, 1500)) {
    unsigned char byte = static_cast<unsigned char>(c);
    if ((byte >= 0x20 && byte < 0x7F) || c == '\n') {
      out += c;
    } else {
      char buffer[8];
      std::snprintf(buffer, sizeof buffer, "\\x%02X", byte);
      out += buffer;
    }
  }
  if (input.size() > 1500) out += "... (" + std::to_string(input.size()) + " bytes)";
  return out;
}

// Renames what a fuzzed program must not reach: leaving the process,
// files, and tasks on other threads (async, actors, channels, pipelines).
std::string defuse(std::string text) {
  static const std::pair<std::string_view, std::string_view> kRenames[] = {
      {"exit", "exot"},     {"io/", "xo/"},   {"async", "asynk"},       {"await", "awayt"},
      {"scope", "scoop"},   {"__", "_x"},     {"actor/", "xctor/"},     {"chan", "chxn"},
      {"select", "selxct"}, {"pmap", "pmxp"}, {"pipeline", "pipexine"},
  };
  for (auto [from, to] : kRenames) {
    for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at)) {
      text.replace(at, from.size(), to);
      at += to.size();
    }
  }
  return text;
}

// ---- running one input -----------------------------------------------------------

struct Tally {
  size_t inputs = 0;
  size_t parse_errors = 0;
  size_t compile_errors = 0;
  size_t completed = 0;
  size_t failed = 0;
  size_t still_running = 0;  // yielded through every slice
  size_t abandoned = 0;      // too much output or memory

  std::string summary() const {
    std::ostringstream s;
    s << inputs << " inputs: " << parse_errors << " parse errors, " << compile_errors
      << " compile errors, " << completed << " completed, " << failed << " failed, "
      << still_running << " still running after the budget, " << abandoned << " abandoned";
    return s.str();
  }
};

class Harness {
 public:
  Harness() { fresh_runtime(); }
  ~Harness() { runtime_->capture_output(nullptr); }

  const Tally& tally() const { return tally_; }

  void check(const std::string& text) {
    if (++tally_.inputs % 500 == 0) fresh_runtime();
    // WEFT_FUZZ_LOG=path keeps the input being checked in `path`, so that
    // one that crashes the process can be found and reproduced.
    if (const char* log = std::getenv("WEFT_FUZZ_LOG"))
      std::ofstream(log, std::ios::binary) << text;
    // WEFT_FUZZ_DUMP=dir writes every input to dir/N.weft instead of running
    // it (to run them one process each, e.g. with `weft`).
    if (const char* dir = std::getenv("WEFT_FUZZ_DUMP")) {
      std::ofstream(std::string(dir) + "/" + std::to_string(tally_.inputs) + ".weft",
                    std::ios::binary)
          << text;
      return;
    }
    auto source = std::make_shared<SourceFile>(SourceFile{"fuzz.weft", text});
    try {
      check_source(source);
    } catch (const ParseError& e) {
      ADD_FAILURE() << "ParseError escaped after reading: " << e.message << "\n" << printable(text);
    } catch (const CompileError& e) {
      ADD_FAILURE() << "CompileError escaped after compiling: " << e.message << "\n"
                    << printable(text);
    } catch (const ScriptError& e) {
      ADD_FAILURE() << "ScriptError escaped the VM: " << e.message << "\n" << printable(text);
    } catch (const ScriptThrow&) {
      ADD_FAILURE() << "ScriptThrow escaped the VM\n" << printable(text);
    } catch (const ExitRequest&) {
      ADD_FAILURE() << "the program reached (exit)\n" << printable(text);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "std::exception '" << e.what() << "'\n" << printable(text);
    } catch (...) {
      ADD_FAILURE() << "unknown C++ exception\n" << printable(text);
    }
  }

 private:
  void fresh_runtime() {
    if (runtime_) runtime_->capture_output(nullptr);
    runtime_.reset();
    runtime_ = std::make_unique<Runtime>();
    runtime_->capture_output(&out_);
  }

  void check_source(const SourceRef& source) {
    std::vector<NodePtr> program;
    try {
      program = read_program(*source);
    } catch (const ParseError& e) {
      ++tally_.parse_errors;
      EXPECT_FALSE(e.message.empty());
      EXPECT_GE(e.loc.line, 1u) << e.message << "\n" << printable(source->text);
      EXPECT_FALSE(format_diagnostic(*source, e.loc, e.message).empty());
      return;
    }
    // Declared before the fiber: values the program made may refer to the
    // module's constants, so the fiber goes first.
    Module module("fuzz");
    Proto* main = nullptr;
    try {
      main = compile_program(*runtime_, module, source, program);
    } catch (const CompileError& e) {
      ++tally_.compile_errors;
      if (std::getenv("WEFT_FUZZ_SHOW") != nullptr && tally_.compile_errors < 8) {
        std::fprintf(stderr, "COMPILE ERROR %s\n%s\n", e.message.c_str(), source->text.c_str());
      }
      EXPECT_FALSE(e.message.empty()) << printable(source->text);
      EXPECT_GE(e.loc.line, 1u) << e.message << "\n" << printable(source->text);
      EXPECT_FALSE(format_diagnostic(*source, e.loc, e.message).empty());
      return;
    }
    ASSERT_NE(main, nullptr);
    out_.clear();
    size_t baseline = allocated_bytes();
    Fiber fiber;
    Vm vm(*runtime_);
    vm.start(fiber, Value::adopt(Closure::make(main)), {});
    RunStatus status = RunStatus::Yielded;
    for (int slice = 0; slice < kSlices && status == RunStatus::Yielded; ++slice) {
      status = vm.run(fiber, kBudget);
      if (out_.size() > kMaxOutput || allocated_bytes() > baseline + kMaxGrowth) {
        ++tally_.abandoned;
        return;
      }
    }
    if (status == RunStatus::Yielded) {
      ++tally_.still_running;
      return;
    }
    EXPECT_TRUE(fiber.frames.empty()) << printable(source->text);
    if (status == RunStatus::Completed) {
      ++tally_.completed;
      describe(fiber.result);
    } else if (status == RunStatus::Failed) {
      ++tally_.failed;
      ASSERT_TRUE(fiber.exception.is(ObjType::Exception)) << display(fiber.exception) << "\n"
                                                          << printable(source->text);
      const Exception& e = *fiber.exception.as<Exception>();
      EXPECT_TRUE(e.message().is(ObjType::String));
      describe(fiber.exception);
      describe(e.trace());
    } else {
      ADD_FAILURE() << "unexpected status " << static_cast<int>(status) << "\n"
                    << printable(source->text);
    }
  }

  // Printing a result must work too (or throw the RuntimeException for
  // values nested too deep).
  static void describe(const Value& v) {
    try {
      (void)display(v);
    } catch (const ScriptError& e) {
      EXPECT_EQ(e.cls, ExcClass::RuntimeException) << e.message;
    }
  }

  std::string out_;
  std::unique_ptr<Runtime> runtime_;
  Tally tally_;
};

// ---- the grammar -------------------------------------------------------------------

const char* const kInts[] = {"0",
                             "1",
                             "2",
                             "3",
                             "-1",
                             "-2",
                             "5",
                             "7",
                             "10",
                             "16",
                             "100",
                             "1000",
                             "-1000",
                             "32767",
                             "-32768",
                             "65536",
                             "2147483648",
                             "9223372036854775807",
                             "-9223372036854775808",
                             "9223372036854775806",
                             "4611686018427387904",
                             "-4611686018427387904"};
const char* const kFloats[] = {"0.0",   "-0.0",   "0.5",    "1.5", "-2.25", "3.14",
                               "1e308", "-1e308", "1e-308", "2.0", "1e16",  "0.1"};
const char* const kStrings[] = {
    R"("")",          R"("a")",    R"("abc")",        R"("héllo")",   R"("a,b,c")",
    R"("  x  ")",     R"("\n\t")", R"("123")",        R"("-4.5")",    R"("[1,2,{\"a\":null}]")",
    R"("{\"k\":1}")", R"("(")",    R"("a+")",         R"("(a)(b)?")", R"("\\d+")",
    R"("[")",         R"("😀")",    R"("\u{1F600}x")", R"("key")",     R"("size")",
    R"("1e400")",     R"("\"")",   R"("#{x}")",       R"("nan")",     R"(" 12 ")"};
const char* const kKeys[] = {"a", "b", "key", "size", "kids", "greet", "n", "x"};
const char* const kClasses[] = {"Exception",
                                "RuntimeException",
                                "TypeException",
                                "ArgumentException",
                                "IOError",
                                "ParseException",
                                "AssertionException",
                                "NetworkException",
                                "ConcurrencyException",
                                "TimeoutException",
                                "CancellationException"};
const char* const kBinaryOps[] = {
    "+", "-", "*", "/", "%", "==", "!=", "<", "<=", ">", ">=", "&&", "||", ".."};
const char* const kPrefixOps[] = {"+", "-", "*", "/", "%", "<", "==", "&&", "||"};
const char* const kMethods[] = {
    "size",   "empty?",    "add",     "append",      "pop",       "get",      "first",
    "last",   "sort",      "reverse", "slice",       "contains",  "index_of", "join",
    "insert", "remove_at", "keys",    "values",      "set",       "delete",   "upper",
    "lower",  "trim",      "split",   "starts_with", "ends_with", "replace",  "find",
    "to_i",   "to_f",      "substr",  "chars",       "repeat",    "to_a",     "map",
    "filter", "reduce",    "each",    "sort_by",     "value",     "reset",    "compare_and_set",
    "swap",   "nope",      "greet",   "message"};
// Methods that store an argument into their receiver: their arguments must
// not refer to variables (a container holding itself is a cycle).
// (.swap stores what its callback returns, so it gets no callback here.)
bool stores_argument(std::string_view m) {
  return m == "add" || m == "append" || m == "insert" || m == "set" || m == "reset" ||
         m == "compare_and_set" || m == "swap";
}
bool takes_callback(std::string_view m) {
  return m == "map" || m == "filter" || m == "reduce" || m == "each" || m == "sort_by";
}

// Builtins the grammar calls; those the runtime lacks are dropped.
const char* const kBuiltins[] = {"abs",           "assert",      "ceil",       "floor",
                                 "freeze",        "frozen?",     "json/parse", "json/stringify",
                                 "max",           "min",         "now",        "now_ms",
                                 "print",         "println",     "quot",       "rand",
                                 "range",         "re/find_all", "re/match",   "re/replace",
                                 "re/split",      "round",       "sqrt",       "str",
                                 "str/join",      "typeof",      "atom",       "__new_exception",
                                 "__sort_by_keys"};

class Grammar {
 public:
  Grammar(uint64_t seed, std::vector<std::string> builtins)
      : random_(seed), builtins_(std::move(builtins)) {}

  std::string program() {
    scopes_.assign(1, {});
    functions_.clear();
    loops_ = 0;
    in_function_ = false;
    in_callback_ = false;
    catches_ = 0;
    size_t count = 1 + below(10);
    std::string out;
    for (size_t i = 0; i < count; ++i) {
      out += top_statement(2 + static_cast<int>(below(2)));
      out += '\n';
    }
    return out;
  }

  // One statement, for the mutator to insert.
  std::string statement_for_mutation() {
    scopes_.assign(1, {"x", "a", "m", "s"});
    loops_ = 1;
    in_function_ = true;
    in_callback_ = false;
    catches_ = 0;
    return statement(2);
  }

  size_t below(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(random_); }

 private:
  template <typename T, size_t N>
  const T& pick(const T (&items)[N]) {
    return items[below(N)];
  }
  bool chance(int percent) { return static_cast<int>(below(100)) < percent; }

  std::string name(const char* prefix) { return prefix + std::to_string(next_name_++); }

  void declare(const std::string& n) { scopes_.back().push_back(n); }

  const std::string* visible_variable() {
    size_t total = 0;
    for (const auto& scope : scopes_) total += scope.size();
    if (total == 0) return nullptr;
    size_t k = below(total);
    for (const auto& scope : scopes_) {
      if (k < scope.size()) return &scope[k];
      k -= scope.size();
    }
    return nullptr;
  }

  // ---- atoms ----
  std::string literal() {
    switch (below(9)) {
      case 0:
      case 1:
        return pick(kInts);
      case 2:
        return pick(kFloats);
      case 3:
      case 4:
        return pick(kStrings);
      case 5:
        return chance(50) ? "true" : "false";
      case 6:
        return "nil";
      case 7:
        return "[" + std::string(pick(kInts)) + " " + pick(kStrings) + "]";
      default:
        return "{^" + std::string(pick(kKeys)) + " " + pick(kInts) + "}";
    }
  }

  // A variable reference, or a literal when none is visible (or in a
  // fresh context, where variables may not be used).
  std::string variable(bool fresh) {
    if (fresh) return literal();
    if (catches_ > 0 && chance(10)) return "$ex";
    const std::string* v = visible_variable();
    // Rarely a name that is not declared: most programs should compile.
    if (below(1000) < 3) return "undeclared_" + pick_key();
    if (v == nullptr) return literal();
    return *v;
  }
  std::string pick_key() { return pick(kKeys); }

  std::string path(bool fresh) {
    if (fresh) return literal();
    std::string root = catches_ > 0 && chance(20) ? "$ex" : variable(false);
    if (root.empty() ||
        !(std::isalpha(static_cast<unsigned char>(root[0])) || root[0] == '$' || root[0] == '_') ||
        root == "nil" || root == "true" || root == "false") {
      return root;
    }
    size_t segments = 1 + below(3);
    for (size_t i = 0; i < segments; ++i) {
      switch (below(5)) {
        case 0:
          root += "/" + std::to_string(static_cast<int>(below(4)) - 1);
          break;
        case 1:
          root += "/." + std::string(pick(kMethods));
          break;
        case 2:
          root += root.rfind("$ex", 0) == 0 ? "/message" : "/" + pick_key();
          break;
        default:
          root += "/" + pick_key();
          break;
      }
    }
    return root;
  }

  // ---- expressions ----
  std::string expr(int depth, bool fresh = false) {
    if (depth <= 0) return chance(50) ? literal() : variable(fresh);
    switch (below(24)) {
      case 0:
      case 1:
        return literal();
      case 2:
      case 3:
        return variable(fresh);
      case 4:
        return path(fresh);
      case 5: {
        std::string s = "#\"x";
        size_t holes = 1 + below(2);
        for (size_t i = 0; i < holes; ++i) s += "#{" + expr(depth - 1, fresh) + "} ";
        return s + "\"";
      }
      case 6: {
        std::string s = "[";
        size_t n = below(4);
        for (size_t i = 0; i < n; ++i) s += (i ? " " : "") + expr(depth - 1, fresh);
        return s + "]";
      }
      case 7: {
        std::string s = "{";
        size_t n = below(3);
        for (size_t i = 0; i < n; ++i) {
          s += chance(80) ? "^" + pick_key() + " " : std::string(pick(kStrings)) + " ";
          s += expr(depth - 1, fresh) + " ";
        }
        if (chance(15)) s += "^^flag";
        return s + "}";
      }
      case 8:
      case 9:
        return "(" + expr(depth - 1, fresh) + " " + pick(kBinaryOps) + " " +
               expr(depth - 1, fresh) + ")";
      case 10: {
        std::string s = "(" + expr(depth - 1, fresh);
        size_t n = 1 + below(3);
        for (size_t i = 0; i < n; ++i) {
          s += std::string(" ") + (chance(50) ? "<" : "<=") + " " + expr(depth - 1, fresh);
        }
        return s + ")";
      }
      case 11: {
        std::string s = std::string("(") + pick(kPrefixOps);
        size_t n = below(100) == 0 ? below(2) : 2 + below(2);
        for (size_t i = 0; i < n; ++i) s += " " + expr(depth - 1, fresh);
        return s + ")";
      }
      case 12:
        return std::string("(") + (chance(50) ? "-" : "!") + " " + expr(depth - 1, fresh) + ")";
      case 13:
      case 14:
        return builtin_call(depth, fresh);
      case 15:
      case 16:
        return method_call(depth, fresh);
      case 17:
        if (fresh || functions_.empty()) return builtin_call(depth, fresh);
        return user_call(depth);
      case 18:
        return "(if " + expr(depth - 1, fresh) + " " + expr(depth - 1, fresh) +
               (chance(60) ? " else " + expr(depth - 1, fresh) : std::string()) + ")";
      case 19:
        return "(case " + expr(depth - 1, fresh) + " when " + literal() + " " +
               expr(depth - 1, fresh) + " when " + literal() + " " + expr(depth - 1, fresh) +
               (chance(50) ? " else " + expr(depth - 1, fresh) : std::string()) + ")";
      case 20:
        if (fresh) return "(ifel " + expr(depth - 1, true) + " 1 2)";
        return "(do " + block_body(depth - 1) + ")";
      case 21:
        if (fresh) return "(new " + std::string(pick(kClasses)) + " " + pick(kStrings) + ")";
        return try_form(depth - 1);
      case 22:
        if (fresh || in_callback_)
          return "(new " + std::string(pick(kClasses)) + " " + pick(kStrings) + ")";
        return "((fn [p] " + callback_body(depth - 1, {"p"}) + ") " + expr(depth - 1) + ")";
      default:
        if (fresh) return "(typeof " + expr(depth - 1, true) + ")";
        return "(loop " + loop_body(depth - 1, true) + ")";
    }
  }

  std::string arguments(int depth, bool fresh, size_t max) {
    std::string s;
    size_t n = below(max + 1);
    for (size_t i = 0; i < n; ++i) s += " " + expr(depth - 1, fresh);
    return s;
  }

  std::string builtin_call(int depth, bool fresh) {
    const std::string& b = builtins_[below(builtins_.size())];
    std::string s = "(" + b + arguments(depth, fresh, 3);
    if (b == "json/stringify" && chance(30)) s += " ^indent " + std::string(pick(kInts));
    if (chance(5)) s += " ^" + pick_key() + " " + literal();
    return s + ")";
  }

  std::string method_call(int depth, bool fresh) {
    std::string m = pick(kMethods);
    std::string s = "(" + expr(depth - 1, fresh) + " ." + m;
    if (takes_callback(m) && !fresh && !in_callback_ && chance(80)) {
      if (m == "reduce") s += " " + expr(depth - 1, true);
      std::vector<std::string> params;
      size_t n = 1 + below(2);
      for (size_t i = 0; i < n; ++i) params.push_back(name("q"));
      std::string list;
      for (const std::string& p : params) list += (list.empty() ? "" : " ") + p;
      s += " (fn [" + list + "] " + callback_body(depth - 1, params) + ")";
      return s + ")";
    }
    s += arguments(depth, fresh || stores_argument(m), 2);
    return s + ")";
  }

  std::string user_call(int depth) {
    const auto& [fname, arity] = functions_[below(functions_.size())];
    std::string s = "(" + fname;
    int n = arity + (chance(15) ? static_cast<int>(below(3)) - 1 : 0);
    for (int i = 0; i < n; ++i) s += " " + expr(depth - 1);
    if (chance(10)) s += " ^p0 " + literal();
    return s + ")";
  }

  // The body of a lambda: no lambdas or named functions inside.
  std::string callback_body(int depth, const std::vector<std::string>& params) {
    bool saved_callback = in_callback_;
    bool saved_function = in_function_;
    int saved_loops = loops_;
    in_callback_ = true;
    in_function_ = true;
    loops_ = 0;
    scopes_.emplace_back(params);
    std::string body = block_body(depth);
    scopes_.pop_back();
    loops_ = saved_loops;
    in_function_ = saved_function;
    in_callback_ = saved_callback;
    return body;
  }

  // Statements then a final expression, in a scope of their own.
  std::string block_body(int depth) {
    scopes_.emplace_back();
    std::string s;
    size_t n = depth > 0 ? below(3) : 0;
    for (size_t i = 0; i < n; ++i) s += statement(depth - 1) + " ";
    s += expr(depth);
    scopes_.pop_back();
    return s;
  }

  std::string loop_body(int depth, bool with_break) {
    ++loops_;
    std::string body = block_body(depth);
    if (with_break) {
      body +=
          chance(70) ? " (if " + expr(depth, false) + " (break " + expr(depth) + "))" : " (break)";
    }
    --loops_;
    return body;
  }

  std::string try_form(int depth) {
    std::string s = "(try " + block_body(depth);
    size_t clauses = below(3);
    for (size_t i = 0; i < clauses; ++i) {
      ++catches_;
      scopes_.emplace_back();
      switch (below(3)) {
        case 0:
          s += " catch " + std::string(pick(kClasses));
          break;
        case 1: {
          std::string e = name("e");
          s += " catch " + e;
          declare(e);
          break;
        }
        default:
          s += " catch *";
          break;
      }
      s += " " + block_body(depth);
      scopes_.pop_back();
      --catches_;
    }
    if (clauses == 0 || chance(40)) s += " finally " + block_body(depth);
    return s + ")";
  }

  // ---- statements ----
  std::string statement(int depth) {
    const std::string* v = visible_variable();
    switch (below(22)) {
      case 0:
      case 1: {
        std::string n = name("v");
        std::string s = "(var " + n + " " + expr(depth) + ")";
        declare(n);
        return s;
      }
      case 2:
        if (v == nullptr) return expr(depth);
        return "(" + *v + " = " + expr(depth) + ")";
      case 3:
        if (v == nullptr) return expr(depth);
        return "(" + *v + " " + pick(kCompound) + " " + literal() + ")";
      case 4: {
        if (v == nullptr) return expr(depth);
        std::string target =
            *v + "/" + (chance(50) ? std::to_string(static_cast<int>(below(3)) - 1) : pick_key());
        if (chance(30)) target += "/" + pick_key();
        if (chance(30)) return "(" + target + " " + pick(kCompound) + " " + literal() + ")";
        return "(" + target + " = " + expr(depth, true) + ")";
      }
      case 5:
        return "(println " + expr(depth) + ")";
      case 6:
        return "(if " + expr(depth - 1) + " then " + block_body(depth - 1) + " elif " +
               expr(depth - 1) + " " + block_body(depth - 1) + " else " + block_body(depth - 1) +
               ")";
      case 7: {
        std::string counter = name("c");
        std::string s = "(do (var " + counter + " 0) (while (" + counter + " < " +
                        std::to_string(below(6)) + ") (" + counter + " += 1) ";
        scopes_.emplace_back(std::vector<std::string>{counter});
        s += loop_body(depth - 1, false);
        scopes_.pop_back();
        return s + "))";
      }
      case 8:
        if (chance(20)) return "(while true " + loop_body(depth - 1, chance(50)) + ")";
        return "(while " + expr(depth - 1) + " " + loop_body(depth - 1, false) + ")";
      case 9:
      case 10:
        return for_form(depth);
      case 11:
        return "(repeat " + std::string(chance(80) ? std::to_string(below(5)) : pick(kInts)) + " " +
               loop_body(depth - 1, false) + ")";
      case 12:
        return "(loop " + loop_body(depth - 1, true) + ")";
      case 13:
        return try_form(depth - 1);
      case 14:
        if (loops_ == 0 && below(1000) >= 3) return expr(depth);
        return chance(50) ? "(break)" : "(continue)";
      case 15:
        if (!in_function_ && below(1000) >= 3) return expr(depth);
        return chance(30) ? "(return)" : "(return " + expr(depth - 1) + ")";
      case 16:
        return "(throw " +
               (chance(50) ? expr(depth - 1)
                           : "(new " + std::string(pick(kClasses)) + " " + pick(kStrings) + ")") +
               ")";
      case 17:
        return "(case " + expr(depth - 1) + " when " + literal() + " " + block_body(depth - 1) +
               " else " + block_body(depth - 1) + ")";
      case 18:
        return "(ifel " + expr(depth - 1) + " " + expr(depth - 1) + " " + expr(depth - 1) + ")";
      default:
        return expr(depth);
    }
  }

  std::string for_form(int depth) {
    std::vector<std::string> vars;
    std::string source;
    switch (below(8)) {
      case 0:
        source = "(" + std::to_string(static_cast<int>(below(6)) - 2) + " .. " +
                 std::to_string(static_cast<int>(below(6)) - 2) + ")";
        break;
      case 1:
        source = "(range " + std::to_string(below(5)) + ")";
        break;
      case 2:
        source = "(range " + std::string(pick(kInts)) + " " + pick(kInts) + " " + pick(kInts) + ")";
        break;
      case 3:
        source = pick(kStrings);
        break;
      case 4:
        source = "{^a 1 ^b [2] \"c d\" nil}";
        break;
      case 5:
        source = "[1 \"two\" [3] {^four 4}]";
        break;
      default:
        source = expr(depth - 1);
        break;
    }
    vars.push_back(name("i"));
    if (chance(40)) vars.push_back(name("x"));
    std::string s = "(for";
    for (const std::string& v : vars) s += " " + v;
    s += " in " + source + " ";
    scopes_.emplace_back(vars);
    s += loop_body(depth - 1, false);
    scopes_.pop_back();
    return s + ")";
  }

  // Module-level statements: globals and named functions, which capture
  // nothing (so they cannot be part of a cycle).
  std::string top_statement(int depth) {
    switch (below(6)) {
      case 0: {
        std::string n = name("g");
        std::string s = "(var " + n + " " + expr(depth) + ")";
        declare(n);
        return s;
      }
      case 1:
      case 2: {
        std::string f = name("f");
        std::vector<std::string> params;
        std::string list;
        size_t n = below(4);
        bool defaulted = false;
        for (size_t i = 0; i < n; ++i) {
          std::string p = "p" + std::to_string(i);
          params.push_back(p);
          list += (i ? " " : "") + p;
          // After one default every positional parameter needs one.
          if (i > 0 && (defaulted || chance(25))) {
            list += " = " + literal();
            defaulted = true;
          }
        }
        if (chance(20)) {
          params.push_back("rest");
          list += std::string(list.empty() ? "" : " ") + "rest...";
        }
        if (chance(20)) {
          params.push_back("kw");
          list += std::string(list.empty() ? "" : " ") + "^kw = " + literal();
        }
        functions_.emplace_back(f, static_cast<int>(n));
        in_function_ = true;
        scopes_.emplace_back(params);
        std::string body = block_body(depth);
        scopes_.pop_back();
        in_function_ = false;
        return "(fn " + f + " [" + list + "] " + body + ")";
      }
      default: {
        // Often inside a try, so that a type error does not end the whole
        // program (unless the statement declares a global).
        size_t globals = scopes_.front().size();
        std::string s = statement(depth);
        if (scopes_.front().size() == globals && chance(60)) s = "(try " + s + " catch * nil)";
        return s;
      }
    }
  }

  static constexpr const char* kCompound[] = {"+=", "-=", "*=", "/=", "%="};

  std::mt19937_64 random_;
  std::vector<std::string> builtins_;
  std::vector<std::vector<std::string>> scopes_;
  std::vector<std::pair<std::string, int>> functions_;
  int loops_ = 0;
  bool in_function_ = false;
  bool in_callback_ = false;
  int catches_ = 0;
  size_t next_name_ = 0;
};

std::vector<std::string> available_builtins(Runtime& runtime) {
  std::vector<std::string> out;
  for (const char* b : kBuiltins) {
    if (runtime.find_builtin(b) >= 0) out.emplace_back(b);
  }
  return out;
}

// ---- the corpus and its mutations ------------------------------------------------------

std::filesystem::path corpus_directory() {
  std::vector<std::filesystem::path> candidates;
#ifdef WEFT_TEST_LANG_DIR
  candidates.emplace_back(WEFT_TEST_LANG_DIR);
#endif
  if (const char* env = std::getenv("WEFT_TEST_LANG_DIR")) candidates.emplace_back(env);
  candidates.push_back(std::filesystem::path(__FILE__).parent_path().parent_path() / "lang");
  candidates.emplace_back("tests/lang");
  for (const auto& c : candidates) {
    std::error_code ec;
    if (std::filesystem::is_directory(c, ec)) return c;
  }
  return {};
}

std::vector<std::string> load_corpus() {
  std::vector<std::string> out;
  std::filesystem::path dir = corpus_directory();
  if (dir.empty()) return out;
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file() && it->path().extension() == ".weft") files.push_back(it->path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& file : files) {
    std::ifstream in(file, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    // The harness runs each program on a bare fiber with an instruction
    // budget, not as a task on the scheduler, and does not wait for tasks
    // it would start; programs that use the concurrency forms are covered
    // by tests/lang/async and stress/ instead.
    const std::string& body = text.str();
    bool concurrent =
        body.find("async") != std::string::npos || body.find("await") != std::string::npos ||
        body.find("scope") != std::string::npos || body.find("Future") != std::string::npos ||
        body.find("sleep") != std::string::npos || body.find("actor/") != std::string::npos ||
        body.find("chan") != std::string::npos || body.find("select") != std::string::npos ||
        body.find("pmap") != std::string::npos || body.find("pipeline") != std::string::npos;
    if (body.size() < 100'000 && !concurrent) out.push_back(body);
  }
  return out;
}

// Tokens of a script: delimiters, strings (with interpolations), comments,
// whitespace and atoms, so that mutations mostly keep it readable.
struct Token {
  enum Kind { Open, Close, Atom, Space } kind;
  std::string text;
};

std::vector<Token> tokenize(const std::string& s) {
  std::vector<Token> out;
  size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    size_t start = i;
    if (c == '(' || c == '[' || c == '{') {
      out.push_back({Token::Open, std::string(1, c)});
      ++i;
    } else if (c == ')' || c == ']' || c == '}') {
      out.push_back({Token::Close, std::string(1, c)});
      ++i;
    } else if (std::isspace(static_cast<unsigned char>(c)) || c == ',') {
      while (i < s.size() && (std::isspace(static_cast<unsigned char>(s[i])) || s[i] == ',')) ++i;
      out.push_back({Token::Space, s.substr(start, i - start)});
    } else if (c == '#' && i + 1 < s.size() && s[i + 1] != '"') {
      while (i < s.size() && s[i] != '\n') ++i;  // a comment (block comments: close enough)
      out.push_back({Token::Space, s.substr(start, i - start)});
    } else if (c == '"' || (c == '#' && i + 1 < s.size() && s[i + 1] == '"')) {
      i += c == '#' ? 2 : 1;
      int holes = 0;
      while (i < s.size()) {
        if (s[i] == '\\') {
          i += 2;
          continue;
        }
        if (s[i] == '#' && i + 1 < s.size() && s[i + 1] == '{') {
          ++holes;
          i += 2;
          continue;
        }
        if (s[i] == '}' && holes > 0) --holes;
        if (s[i] == '"' && holes == 0) {
          ++i;
          break;
        }
        ++i;
      }
      out.push_back({Token::Atom, s.substr(start, std::min(i, s.size()) - start)});
    } else {
      while (i < s.size() && !std::isspace(static_cast<unsigned char>(s[i])) &&
             std::string_view("()[]{}\",").find(s[i]) == std::string_view::npos) {
        ++i;
      }
      out.push_back({Token::Atom, s.substr(start, i - start)});
    }
  }
  return out;
}

std::string join(const std::vector<Token>& tokens) {
  std::string out;
  for (const Token& t : tokens) out += t.text;
  return out;
}

class Mutator {
 public:
  explicit Mutator(Grammar& grammar) : grammar_(grammar) {}

  std::string mutate(const std::string& script) {
    std::vector<Token> tokens = tokenize(script);
    size_t rounds = 1 + grammar_.below(3);
    for (size_t r = 0; r < rounds && !tokens.empty(); ++r) mutate_once(tokens);
    std::string text = join(tokens);
    if (grammar_.below(10) == 0 && !text.empty()) {
      text[grammar_.below(text.size())] = "()[]{}\"#^/ \n0"[grammar_.below(14)];
    }
    return defuse(text);
  }

 private:
  // The extent [first, last) of the form starting at token `at`.
  size_t form_end(const std::vector<Token>& tokens, size_t at) {
    if (tokens[at].kind != Token::Open) return at + 1;
    int depth = 0;
    for (size_t i = at; i < tokens.size(); ++i) {
      if (tokens[i].kind == Token::Open) ++depth;
      if (tokens[i].kind == Token::Close && --depth == 0) return i + 1;
    }
    return tokens.size();
  }

  size_t random_form(const std::vector<Token>& tokens) {
    for (int tries = 0; tries < 20; ++tries) {
      size_t at = grammar_.below(tokens.size());
      if (tokens[at].kind == Token::Open || tokens[at].kind == Token::Atom) return at;
    }
    return 0;
  }

  void mutate_once(std::vector<Token>& tokens) {
    size_t at = random_form(tokens);
    size_t end = form_end(tokens, at);
    std::vector<Token> form(tokens.begin() + static_cast<long>(at),
                            tokens.begin() + static_cast<long>(end));
    switch (grammar_.below(9)) {
      case 0:  // delete the form
        tokens.erase(tokens.begin() + static_cast<long>(at),
                     tokens.begin() + static_cast<long>(end));
        break;
      case 1: {  // duplicate it somewhere else
        size_t to = grammar_.below(tokens.size() + 1);
        form.insert(form.begin(), Token{Token::Space, " "});
        tokens.insert(tokens.begin() + static_cast<long>(to), form.begin(), form.end());
        break;
      }
      case 2: {  // replace it with another form of the script
        size_t other = random_form(tokens);
        size_t other_end = form_end(tokens, other);
        std::vector<Token> copy(tokens.begin() + static_cast<long>(other),
                                tokens.begin() + static_cast<long>(other_end));
        tokens.erase(tokens.begin() + static_cast<long>(at),
                     tokens.begin() + static_cast<long>(end));
        tokens.insert(tokens.begin() + static_cast<long>(at), copy.begin(), copy.end());
        break;
      }
      case 3: {  // replace an atom with an interesting one
        static const char* const kAtoms[] = {"nil",
                                             "true",
                                             "0",
                                             "-1",
                                             "9223372036854775807",
                                             "-9223372036854775808",
                                             "1e308",
                                             "\"\"",
                                             "[]",
                                             "{}",
                                             "(break)",
                                             "(continue)",
                                             "(return)",
                                             "$ex",
                                             "(throw \"boom\")",
                                             "(0 .. 3)",
                                             "x/0/a",
                                             "x/.size",
                                             "(fn [] 1)",
                                             "(loop)",
                                             "(while true)",
                                             "(new TypeException \"t\")"};
        std::vector<Token> replacement =
            tokenize(kAtoms[grammar_.below(sizeof kAtoms / sizeof kAtoms[0])]);
        tokens.erase(tokens.begin() + static_cast<long>(at),
                     tokens.begin() + static_cast<long>(end));
        tokens.insert(tokens.begin() + static_cast<long>(at), replacement.begin(),
                      replacement.end());
        break;
      }
      case 4: {  // wrap it
        static const char* const kWraps[][2] = {{"(do ", ")"},
                                                {"(try ", " catch * nil)"},
                                                {"(try ", " finally nil)"},
                                                {"(loop ", " (break))"},
                                                {"(fn [] ", ")"},
                                                {"(if true ", ")"},
                                                {"(while false ", ")"},
                                                {"[", "]"},
                                                {"(", " .size)"},
                                                {"(for q in ", " q)"},
                                                {"(repeat 2 ", ")"},
                                                {"(println ", ")"}};
        const auto& wrap = kWraps[grammar_.below(sizeof kWraps / sizeof kWraps[0])];
        tokens.insert(tokens.begin() + static_cast<long>(end), Token{Token::Atom, wrap[1]});
        tokens.insert(tokens.begin() + static_cast<long>(at), Token{Token::Atom, wrap[0]});
        break;
      }
      case 5: {  // swap two atoms
        size_t other = grammar_.below(tokens.size());
        if (tokens[at].kind == Token::Atom && tokens[other].kind == Token::Atom) {
          std::swap(tokens[at].text, tokens[other].text);
        }
        break;
      }
      case 6: {  // insert a generated statement
        std::string statement = " " + grammar_.statement_for_mutation() + " ";
        tokens.insert(tokens.begin() + static_cast<long>(at), Token{Token::Atom, statement});
        break;
      }
      case 7:  // drop one delimiter
        if (tokens[at].kind == Token::Open) tokens.erase(tokens.begin() + static_cast<long>(at));
        break;
      default: {  // an atom from elsewhere in the script
        size_t other = grammar_.below(tokens.size());
        if (tokens[other].kind == Token::Atom) tokens[at] = tokens[other];
        break;
      }
    }
  }

  Grammar& grammar_;
};

// ---- the tests --------------------------------------------------------------------------

// The fixed seed, or WEFT_FUZZ_SEED to explore others (with WEFT_FUZZ_DUMP).
uint64_t seed(uint64_t fixed) {
  const char* text = std::getenv("WEFT_FUZZ_SEED");
  return text != nullptr ? fixed ^ std::strtoull(text, nullptr, 0) : fixed;
}

// Each program runs in a fresh runtime; 2000 keep the test to seconds in
// Release and within its timeout under the sanitizers.
constexpr int kGrammarPrograms = 2000;
constexpr int kMutantsPerScript = 23;

TEST(Robustness, GrammarProgramsReadCompileAndRun) {
  Harness harness;
  Runtime probe;
  Grammar grammar(seed(0xF0220D5EEDull), available_builtins(probe));
  size_t longest = 0;
  for (int i = 0; i < kGrammarPrograms; ++i) {
    std::string program = grammar.program();
    longest = std::max(longest, program.size());
    // The grammar itself never reaches outside the test.
    ASSERT_EQ(defuse(program).find("exot"), std::string::npos) << program;
    ASSERT_EQ(program.find("io/"), std::string::npos) << program;
    harness.check(program);
    if (::testing::Test::HasFailure() && i % 100 == 0) break;  // one report is enough
  }
  const Tally& t = harness.tally();
  std::printf("[ grammar  ] %s; longest %zu bytes\n", t.summary().c_str(), longest);
  // The grammar names undeclared variables and misuses operators on
  // purpose, so most programs stop at a CompileError; enough of them still
  // run, to the end or to a runtime error, for the interpreter to be
  // exercised too.
  EXPECT_GT(t.completed, t.inputs / 50) << t.summary();
  EXPECT_GT(t.failed, t.inputs / 50) << t.summary();
}

TEST(Robustness, MutatedLanguageTestsReadCompileAndRun) {
  std::vector<std::string> corpus = load_corpus();
  if (corpus.empty()) GTEST_SKIP() << "tests/lang not found (set WEFT_TEST_LANG_DIR)";
#if defined(__SANITIZE_ADDRESS__)
  // Mutations may make reference cycles, which leak by design of reference
  // counting; they are not what this test looks for.
  __lsan_disable();
#endif
  Harness harness;
  Runtime probe;
  Grammar grammar(seed(0xC0FFEEull), available_builtins(probe));
  Mutator mutator(grammar);
  for (const std::string& script : corpus) {
    harness.check(defuse(script));
    for (int i = 0; i < kMutantsPerScript; ++i) harness.check(mutator.mutate(script));
    if (::testing::Test::HasFailure()) break;
  }
#if defined(__SANITIZE_ADDRESS__)
  __lsan_enable();
#endif
  const Tally& t = harness.tally();
  std::printf("[ mutants  ] %s (from %zu scripts)\n", t.summary().c_str(), corpus.size());
  EXPECT_EQ(t.inputs, corpus.size() * (kMutantsPerScript + 1));
  EXPECT_GT(t.completed + t.failed, t.inputs / 4) << t.summary();
}

TEST(Robustness, AtLeastTenThousandInputs) {
  // The two families above; guards against the counts shrinking by accident.
  EXPECT_GE(kGrammarPrograms + 400 * (kMutantsPerScript + 1), 10'000);
}

TEST(Robustness, DeepNestingIsAParseErrorNotACrash) {
  Harness harness;
  for (const char* open : {"(", "[", "{^k ", "(do ", "(f ", "#\"#{", "(fn [] "}) {
    std::string text;
    for (int i = 0; i < 100'000; ++i) text += open;
    SourceFile source{"deep.weft", text + "1"};
    EXPECT_THROW(read_program(source), ParseError) << open;
    harness.check(text);
  }
  std::string balanced = std::string(100'000, '(') + "x" + std::string(100'000, ')');
  SourceFile source{"deep.weft", balanced};
  try {
    read_program(source);
    ADD_FAILURE() << "100,000 levels parsed";
  } catch (const ParseError& e) {
    EXPECT_NE(e.message.find("nesting too deep"), std::string::npos) << e.message;
  }
  EXPECT_EQ(harness.tally().parse_errors, harness.tally().inputs);
}

TEST(Robustness, HostileSnippets) {
  // Hand-picked inputs at the edges of each part; each must just end.
  Harness harness;
  const char* const snippets[] = {
      "(while true)",
      "(loop)",
      "(fn f [] (f)) (f)",
      "(fn f [n] (try (f n) finally (f n))) (f 1)",
      "(fn f [] (try (f) catch * (f))) (f)",
      "(var a []) (repeat 100 (a = [a a])) (println (a .size))",
      "(println ((range 100000) .to_a))",
      "(json/parse (\"[\" .repeat 100000))",
      "(json/parse (str (\"[\" .repeat 5000) (\"]\" .repeat 5000)))",
      "(re/match (\"(\" .repeat 1000) \"x\")",
      "(re/replace (\"a\" .repeat 10000) \"a*\" \"\\\\0\\\\0\")",
      "(str/join \",\" (range 100000))",
      "((range -9223372036854775808 9223372036854775807) .size)",
      "((range -9223372036854775808 9223372036854775807 -1) .to_a)",
      "(for x in (range -9223372036854775808 9223372036854775807 4611686018427387904) (println x))",
      "([1 2 3] .slice -9223372036854775808 9223372036854775807)",
      "(\"abc\" .substr -9223372036854775808 9223372036854775807)",
      "([1 2 3] .insert 9223372036854775807 0)",
      "([] .remove_at -9223372036854775808)",
      "(\"x\" .repeat 9223372036854775807)",
      "(\"\" .repeat 9223372036854775807)",
      "(quot -9223372036854775808 -1)",
      "(abs -9223372036854775808)",
      "(round 1e300) (floor -1e300) (ceil 1e308)",
      "(round (0.0 / 1)) (sqrt -1)",
      "(min) (max [])",
      "(rand 0) (rand -5) (rand 9223372036854775807)",
      "(json/stringify (1e308 * 10))",
      "(json/stringify [1] ^indent 9223372036854775807)",
      "(__sort_by_keys [1 2 3] [1])",
      "(__sort_by_keys 5 nil)",
      "(__new_exception \"NoSuchClass\" 1)",
      "(__new_exception 5)",
      "(var a (atom 1)) (a .reset [1]) (a .compare_and_set 1 2) (a .swap 5)",
      "(freeze 5) (frozen? (freeze {^a [1 {^b []}]}))",
      "(typeof (fn [] 1)) (typeof typeof) (typeof (new TimeoutException \"x\"))",
      "(var m {}) (m/a/b/c = 1)",
      "(var m {^a {}}) (m/a/b/c = 1)",
      "(var x 1) (x/0 = 1)",
      "(try (throw nil) catch * $ex/value)",
      "(try (throw (new Exception)) catch * $ex/message)",
      "(println (new TypeException [1 2 3]))",
      "(var e nil) (try (throw \"x\") catch * (e = $ex)) (throw e) ",
      "(fn f [^a ^b] [a b]) (f ^b 1 ^a 2 ^c 3)",
      "(fn f [a b... ] 1) (f ^a 1 ^b 2)",
      "(var obj {^f (fn [x] x)}) (obj .f ^x 1)",
      "(var obj {^f 5}) (obj .f)",
      "(var obj {^size (fn [] 1)}) (obj .size)",
      "(for k v in \"héllo😀\" (println k v))",
      "(for i x in (range 3) (println i x))",
      "(var a [1 2 3]) (for x in a (a .add x) (if ((a .size) > 50) (break)))",
      "(var m {^a 1}) (for k v in m (m .set (str k \"x\") v) (if ((m .size) > 50) (break)))",
      "(var m {^a 1 ^b 2 ^c 3}) (for k v in m (m .delete \"a\") (m .delete \"b\") (m .set \"d\" "
      "4))",
      "(println #\"#{#\"#{#\"#{1}\"}\"}\")",
      "(println 1 2 3 ^sep \"-\")",
      "(case (0.0 / 1) when nil 1 else 2)",
      "(println (0.1 + 0.2) 1e-320 -1e-320 (1 / 3.0))",
      "(println ((1e308 * 10) - (1e308 * 10)))",
  };
  for (const char* snippet : snippets) harness.check(snippet);
  std::printf("[ snippets ] %s\n", harness.tally().summary().c_str());
}

}  // namespace
}  // namespace weft
