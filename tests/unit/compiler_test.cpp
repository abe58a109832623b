// The compiler, mostly without running anything: every special form
// compiles to well-formed bytecode (a verifier checks register, constant,
// upvalue and jump operands of every instruction), register allocation
// copes with many locals, deep nesting and long bodies, compile errors
// name the right position, module-level functions are immortal, and the
// disassembler lists every instruction.
//
// Inputs that might crash the compiler (stack overflow on a long flat
// expression) run in a death-test child, so a crash fails one assertion
// instead of ending the whole test binary.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "engine/exception.h"
#include "engine/fiber.h"
#include "engine/format.h"
#include "engine/function.h"
#include "engine/instruction.h"
#include "engine/program.h"
#include "engine/runtime.h"
#include "engine/string.h"
#include "engine/vm.h"
#include "lang/compiler.h"
#include "lang/reader.h"

namespace weft {
namespace {

// A runtime and module with one program compiled into them.
struct Unit {
  std::string out;
  Runtime runtime;
  Module module{"t"};
  SourceRef source;
  Proto* main = nullptr;
  std::optional<CompileError> error;

  explicit Unit(const std::string& text) {
    runtime.capture_output(&out);
    source = std::make_shared<SourceFile>(SourceFile{"t.weft", text});
    try {
      std::vector<NodePtr> program = read_program(*source);
      main = compile_program(runtime, module, source, program);
    } catch (const CompileError& e) {
      error = e;
    } catch (const ParseError& e) {
      // The inputs here are meant to parse; report it as an error anyway.
      error = CompileError{e.loc, "(parse error) " + e.message};
    }
  }
};

std::string describe(const CompileError& e) {
  return std::to_string(e.loc.line) + ":" + std::to_string(e.loc.column) + ": " + e.message;
}

constexpr uint32_t kExceptionClassCount = 0
#define EXCEPTION_CLASS(name, parent) +1
#include "engine/exception_classes.def"
#undef EXCEPTION_CLASS
    ;

// Checks the operands of every instruction of `p` and of the functions
// nested in it. Gives a description of each problem; empty when all is well.
std::string verify(const Proto& p, const Module& module) {
  std::ostringstream problems;
  const size_t n = p.code.size();
  const uint32_t regs = p.num_registers;
  if (n == 0) problems << p.name << ": no code\n";
  if (p.locations.size() != n) {
    problems << p.name << ": " << p.locations.size() << " locations for " << n
             << " instructions\n";
  }
  if (n > 0) {
    Opcode last = p.code.back().op;
    if (last != Opcode::RETURN && last != Opcode::JMP && last != Opcode::THROW) {
      problems << p.name << ": ends with " << opcode_name(last) << " (falls off the end)\n";
    }
  }
  for (size_t pc = 0; pc < n; ++pc) {
    const Instr& ins = p.code[pc];
    auto bad = [&](const std::string& what) {
      problems << p.name << ":" << pc << " " << opcode_name(ins.op) << " " << ins.a << " "
               << ins.b << " " << ins.c << ": " << what << "\n";
    };
    auto reg = [&](uint32_t r) {
      if (r >= regs) bad("register " + std::to_string(r) + " >= " + std::to_string(regs));
    };
    auto reg_range = [&](uint32_t first, uint32_t count) {
      if (count > 0 && first + count > regs) {
        bad("registers " + std::to_string(first) + "+" + std::to_string(count) + " > " +
            std::to_string(regs));
      }
    };
    auto konst = [&](uint32_t k) {
      if (k >= p.constants.size()) bad("constant " + std::to_string(k) + " out of range");
    };
    auto rk = [&](uint16_t x, uint8_t flag) {
      if (ins.flags & flag) {
        konst(x);
      } else {
        reg(x);
      }
    };
    auto target = [&] {
      int64_t t = static_cast<int64_t>(pc) + 1 + ins.sbx();
      if (t < 0 || t >= static_cast<int64_t>(n)) bad("jump to " + std::to_string(t));
    };
    switch (ins.op) {
      case Opcode::MOVE:
      case Opcode::NEWCELL:
      case Opcode::GETCELL:
      case Opcode::SETCELL:
      case Opcode::ADDI:
      case Opcode::NEG:
      case Opcode::NOT:
        reg(ins.a);
        reg(ins.b);
        break;
      case Opcode::LOADK:
        reg(ins.a);
        konst(ins.bx());
        break;
      case Opcode::LOADI:
      case Opcode::LOADTRUE:
      case Opcode::LOADFALSE:
      case Opcode::SELF:
      case Opcode::RETURN:
      case Opcode::THROW:
      case Opcode::GETBUILTIN:
        reg(ins.a);
        break;
      case Opcode::LOADNIL:
        reg_range(ins.a, ins.b + 1u);
        break;
      case Opcode::GETGLOBAL:
      case Opcode::SETGLOBAL:
        reg(ins.a);
        if (ins.bx() >= module.size()) bad("global slot out of range");
        break;
      case Opcode::GETUPVAL:
      case Opcode::GETCAPTURED:
        reg(ins.a);
        if (ins.b >= p.upvalues.size()) bad("upvalue out of range");
        break;
      case Opcode::SETUPVAL:
        if (ins.a >= p.upvalues.size()) bad("upvalue out of range");
        reg(ins.b);
        break;
      case Opcode::CLOSURE: {
        reg(ins.a);
        konst(ins.bx());
        if (ins.bx() < p.constants.size()) {
          const Value& k = p.constants[ins.bx()];
          if (!k.is(ObjType::Proto)) {
            bad("closure of a non-prototype");
          } else {
            for (const UpvalueDesc& uv : k.as<Proto>()->upvalues) {
              if (uv.from_parent_register ? uv.index >= regs : uv.index >= p.upvalues.size()) {
                bad("captures out of range " + std::to_string(uv.index));
              }
            }
          }
        }
        break;
      }
      case Opcode::ADD:
      case Opcode::SUB:
      case Opcode::MUL:
      case Opcode::DIV:
      case Opcode::MOD:
      case Opcode::EQ:
      case Opcode::NE:
      case Opcode::LT:
      case Opcode::LE:
        reg(ins.a);
        rk(ins.b, kFlagKB);
        rk(ins.c, kFlagKC);
        break;
      case Opcode::JMP:
        target();
        break;
      case Opcode::JMPIF:
      case Opcode::JMPIFNOT:
      case Opcode::JMPIFPRESENT:
      case Opcode::TRY:
        reg(ins.a);
        target();
        break;
      case Opcode::CALL:
        reg_range(ins.a, ins.b + 1u);
        break;
      case Opcode::INVOKE:
        reg_range(ins.a, ins.b + 2u);
        konst(ins.c);
        if (ins.c < p.constants.size() && !p.constants[ins.c].is(ObjType::String)) {
          bad("method name is not a String");
        }
        break;
      case Opcode::NEWARRAY:
      case Opcode::CONCAT:
        reg(ins.a);
        reg_range(ins.b, ins.c);
        break;
      case Opcode::NEWMAP:
        reg(ins.a);
        reg_range(ins.b, 2u * ins.c);
        break;
      case Opcode::GETFIELD:
        reg(ins.a);
        reg(ins.b);
        konst(ins.c);
        break;
      case Opcode::SETFIELD:
        reg(ins.a);
        konst(ins.b);
        reg(ins.c);
        break;
      case Opcode::GETINDEX:
      case Opcode::SETINDEX:
      case Opcode::RANGE:
        reg(ins.a);
        reg(ins.b);
        reg(ins.c);
        break;
      case Opcode::ITERPREP:
        reg_range(ins.a, 4);
        break;
      case Opcode::ITERNEXT:
      case Opcode::FORPREP:
      case Opcode::FORLOOP:
        reg_range(ins.a, 4);
        target();
        break;
      case Opcode::ENDTRY:
        break;
      case Opcode::EXCMATCH:
        reg(ins.a);
        reg(ins.b);
        if (ins.c >= kExceptionClassCount) bad("no such exception class");
        break;
      default:
        // Opcodes added after this verifier: check what the shape tells.
        if (opcode_shape(ins.op) == OperandShape::AsBx || opcode_shape(ins.op) == OperandShape::sBx) {
          target();
        }
        break;
    }
  }
  for (const Value& k : p.constants) {
    if (k.is(ObjType::Proto)) problems << verify(*k.as<Proto>(), module);
  }
  return problems.str();
}

void collect_opcodes(const Proto& p, std::set<Opcode>& out) {
  for (const Instr& ins : p.code) out.insert(ins.op);
  for (const Value& k : p.constants) {
    if (k.is(ObjType::Proto)) collect_opcodes(*k.as<Proto>(), out);
  }
}

// The last function prototype among `p`'s constants (the function a test
// program defines), or null.
const Proto* nested_proto(const Proto& p) {
  const Proto* found = nullptr;
  for (const Value& k : p.constants) {
    if (k.is(ObjType::Proto)) found = k.as<Proto>();
  }
  return found;
}

size_t total_instructions(const Proto& p) {
  size_t n = p.code.size();
  for (const Value& k : p.constants) {
    if (k.is(ObjType::Proto)) n += total_instructions(*k.as<Proto>());
  }
  return n;
}

// Compiles `text`; it must compile and verify.
::testing::AssertionResult CompilesClean(const std::string& text) {
  Unit u(text);
  if (u.error) {
    return ::testing::AssertionFailure() << "compile error " << describe(*u.error) << " in\n"
                                         << text.substr(0, 400);
  }
  std::string problems = verify(*u.main, u.module);
  if (!problems.empty()) {
    return ::testing::AssertionFailure() << problems.substr(0, 2000) << "in\n"
                                         << text.substr(0, 400) << "\n"
                                         << disassemble(*u.main).substr(0, 4000);
  }
  return ::testing::AssertionSuccess();
}

struct RunResult {
  int exit_code;
  std::string out;
  std::string error;
};

RunResult run(const std::string& text) {
  std::string out;
  RunResult r{};
  {
    Runtime runtime;
    runtime.capture_output(&out);
    Module module("t");
    auto source = std::make_shared<SourceFile>(SourceFile{"t.weft", text});
    ProgramResult result = run_program(runtime, module, source);
    runtime.flush_out();
    r.exit_code = result.exit_code;
    r.error = result.error;
    result.value = Value();
    runtime.capture_output(nullptr);
  }
  r.out = out;
  return r;
}

std::string repeat(const std::string& s, size_t n) {
  std::string out;
  out.reserve(s.size() * n);
  for (size_t i = 0; i < n; ++i) out += s;
  return out;
}

// ---- every form ---------------------------------------------------------------

TEST(CompilerForms, EachSpecialFormCompilesToWellFormedCode) {
  const char* const programs[] = {
      "",
      "nil",
      "(var x)",
      "(var x 1)",
      "(var x 1) (x = 2) (x += 1) (x -= 1) (x *= 2) (x /= 2) (x %= 2)",
      "(do)",
      "(do 1 2 3)",
      "(do (var a 1) (var b 2) (a + b))",
      "(if true 1)",
      "(if true then 1 elif false then 2 elif nil 3 else 4)",
      "(if true 1 2 3 else 4 5)",
      "(var r (if false 1))",
      "(ifel true 1 2)",
      "(case 1)",
      "(case 1 when 1 2 when \"x\" 3 when [1] 4 else 5)",
      "(var v 3) (case v when (v + 1) 1 when v 2)",
      "(while false)",
      "(while false 1 2)",
      "(var i 0) (while (i < 3) (if (i == 1) (continue)) (i += 1) (if (i == 9) (break)))",
      "(loop (break))",
      "(var r (loop (break 1)))",
      "(loop (loop (break 2)) (break 1))",
      "(repeat 3 1)",
      "(repeat 3 (break) (continue))",
      "(for x in [1] x)",
      "(for i x in [1] x)",
      "(for k v in {^a 1} k)",
      "(for k in {^a 1} k)",
      "(for c in \"abc\" c)",
      "(for x in (0 .. 3) x)",
      "(var n 3) (for x in (n .. 0) x)",
      "(for x in (range 3) (continue))",
      "(for x in (range 1 5) x)",
      "(for x in (range 1 5 2) (break))",
      "(var r (0 .. 3)) (for i x in r x)",
      "(fn f [] 1)",
      "(fn f [a b = 1 rest... ^k ^^flag ^!off ^port = 80] a)",
      "(fn f [x] (return x))",
      "(fn f [] (return))",
      "(fn f [] (if true (return 1)) 2)",
      "(var g (fn [x] (x * 2)))",
      "(fn outer [] (var n 0) (fn inner [] (n += 1)) (inner))",
      "(fn outer [a] (fn [b] (fn [c] (a + b + c))))",
      "(fn f [n] (if (n == 0) 0 else (f (n - 1))))",
      "(do (fn even [n] (if (n == 0) true else (odd (n - 1)))) (fn odd [n] (if (n == 0) false else "
      "(even (n - 1)))) (even 4))",
      "(try 1 catch * 2)",
      "(try 1 catch TypeException 2 catch e 3 finally 4)",
      "(try 1 finally 2)",
      "(try)",
      "(try 1)",
      "(try (throw \"x\") catch * $ex/message)",
      "(fn f [] (try (return 1) finally (println 2)))",
      "(for x in [1] (try (break) finally (continue)))",
      "(throw \"x\")",
      "(throw (new TypeException \"m\"))",
      "(new Exception)",
      "(new ArgumentException \"a\" ^extra 1)",
      "(var m {^a [1]}) (m/a/0 = 1) (m/b = 2) (m/a/0 += 1) (m/a/-1 *= 3)",
      "(var m {^a {^b 1}}) m/a/b m/a/.size m/a/b/c",
      "(var a [1 2]) a/0 a/-1 a/.size (a .add 3) (a .get 0)",
      "(1 + 2 * 3 - 4 / 5 % 6)",
      "(1 < 2 <= 3 > 0 >= 0 == 0 != 1)",
      "(true && false || nil)",
      "(+ 1 2 3) (- 1 2 3) (* 1 2) (/ 1 2) (% 1 2) (< 1 2 3) (== 1 1) (&& 1 2 3) (|| nil 2)",
      "(- 1) (+ 1) (! true)",
      "(1 .. 3)",
      "(var x 1) (x + 1) (x - 1) (x + 40000) (x - 40000) (1 + x) (x * 1.5) (x + \"s\")",
      "#\"a #{1} b #{(1 + 2)}\"",
      "#\"\"",
      "{^a 1 \"b c\" 2 ^^f ^!g}",
      "{}",
      "[1 [2] {} \"s\" 1.5 -3 true false nil]",
      "(str/join \",\" [])",
      "(println (json/stringify {^a 1}))",
      "(var f (fn [^k] k)) (f ^k 1) (f ^^k) (f ^!k)",
      "(var obj {^m (fn [x] x)}) (obj .m 1) (obj .m ^k 2)",
      "(fn f [] (var x 1) (var x 2) x)",
  };
  for (const char* program : programs) EXPECT_TRUE(CompilesClean(program));
}

TEST(CompilerForms, ProgramsCompileIdenticallyTwice) {
  // Pass 1 (analysis) and pass 2 must agree; two compilations of one text
  // must too (the compiler keeps no state between them).
  const std::string program = R"((fn make [] (var n 0) (fn [] (n += 1)))
(var fs [])
(for i in (0 .. 3) (fs .add (fn [] i)))
(try (throw "x") catch e (fs .add (fn [] e)) finally nil))";
  Unit a(program);
  Unit b(program);
  ASSERT_FALSE(a.error);
  ASSERT_FALSE(b.error);
  EXPECT_EQ(disassemble(*a.main), disassemble(*b.main));
}

TEST(CompilerForms, CapturedAndAssignedVariablesLiveInCellsAndOthersDoNot) {
  // a and c are captured and assigned (c by the closure), b and d are
  // neither, e is captured and never assigned: two cells, and e is copied
  // into the closure.
  Unit u("(fn f [a b] (var c 1) (var d 2) (var e 3) (a = 5) (fn [] (c = 2) (a + c + e)))");
  ASSERT_FALSE(u.error) << describe(*u.error);
  const Proto* f = nested_proto(*u.main);
  ASSERT_NE(f, nullptr);
  size_t cells = 0;
  for (const Instr& ins : f->code) cells += ins.op == Opcode::NEWCELL;
  EXPECT_EQ(cells, 2u) << disassemble(*f);
  const Proto* inner = nested_proto(*f);
  ASSERT_NE(inner, nullptr);
  std::set<Opcode> ops;
  collect_opcodes(*inner, ops);
  EXPECT_TRUE(ops.count(Opcode::GETUPVAL)) << disassemble(*inner);
  EXPECT_TRUE(ops.count(Opcode::SETUPVAL)) << disassemble(*inner);
  EXPECT_TRUE(ops.count(Opcode::GETCAPTURED)) << disassemble(*inner);
}

TEST(CompilerForms, PathsOnALocalReadItsOwnRegisterWithoutACopy) {
  // state/0 reads and (state/1 += m) updates (one UPDATEFIELD) through
  // the parameter's own register: no MOVE (a copy counts a reference to
  // the array, twice per statement). A variable that the value assigns is
  // copied first (tests/lang/assignment/operand_assigned_later.weft runs
  // that case).
  Unit u("(fn f [state m] (state/1 += m) (state/0 == state/1))");
  ASSERT_FALSE(u.error) << describe(*u.error);
  const Proto* f = nested_proto(*u.main);
  ASSERT_NE(f, nullptr);
  const uint16_t state = 0;  // the first parameter's register
  size_t copies = 0;
  size_t reads = 0;
  size_t updates = 0;
  for (const Instr& ins : f->code) {
    copies += ins.op == Opcode::MOVE && ins.b == state;
    reads += ins.op == Opcode::GETFIELD && ins.b == state;
    updates += ins.op == Opcode::UPDATEFIELD && ins.b == state;
  }
  EXPECT_EQ(copies, 0u) << disassemble(*f);
  EXPECT_EQ(reads, 2u) << disassemble(*f);
  EXPECT_EQ(updates, 1u) << disassemble(*f);
}

TEST(CompilerForms, AMethodCallMarksAnArrayLiteralAsItsFreshLastArgument) {
  // (a .send ["ping" i]) may hand the literal over without a copy
  // (engine/actor.h, adopt_fresh_message); a variable never is.
  Unit u("(fn f [a i m] (a .send [\"ping\" i]) (a .send m) (a .send [i] ^k 1))");
  ASSERT_FALSE(u.error) << describe(*u.error);
  const Proto* f = nested_proto(*u.main);
  ASSERT_NE(f, nullptr);
  std::vector<uint8_t> fresh;
  for (const Instr& ins : f->code) {
    if (ins.op == Opcode::INVOKE) fresh.push_back(ins.flags & kFlagFreshLastArg);
  }
  ASSERT_EQ(fresh.size(), 3u) << disassemble(*f);
  EXPECT_NE(fresh[0], 0) << disassemble(*f);
  EXPECT_EQ(fresh[1], 0) << disassemble(*f);
  EXPECT_EQ(fresh[2], 0) << disassemble(*f);  // with keywords the last is their map
}

TEST(CompilerForms, ACompoundAssignmentThroughAPathIsOneStep) {
  // The value first, then one UPDATEFIELD that reads, combines and writes
  // the item under the container's lock (engine/access.h update_path):
  // no GETFIELD, arithmetic and SETFIELD that another task could fall
  // between.
  Unit u("(fn f [counts n] (counts/hits -= (n * 2)))");
  ASSERT_FALSE(u.error) << describe(*u.error);
  const Proto* f = nested_proto(*u.main);
  ASSERT_NE(f, nullptr);
  size_t updates = 0;
  for (const Instr& ins : f->code) {
    EXPECT_NE(ins.op, Opcode::GETFIELD) << disassemble(*f);
    EXPECT_NE(ins.op, Opcode::SETFIELD) << disassemble(*f);
    if (ins.op == Opcode::UPDATEFIELD) {
      ++updates;
      EXPECT_EQ(static_cast<Opcode>(ins.flags), Opcode::SUB) << disassemble(*f);
    }
  }
  EXPECT_EQ(updates, 1u) << disassemble(*f);
}

TEST(CompilerForms, AVariableCapturedByValueKeepsItsValuePerClosure) {
  // Each iteration's i is copied into its closure when the closure is made;
  // a hoisted function captured before its definition still goes through a
  // cell (it is assigned when the definition runs).
  EXPECT_EQ(run("(var fs [])\n"
                "(for i in (range 3) (fs .add (fn [] (i * 10))))\n"
                "(for f in fs (println (f)))\n"
                "(fn outer []\n"
                "  (fn even? [n] (if (n == 0) true else (odd? (n - 1))))\n"
                "  (fn odd? [n] (if (n == 0) false else (even? (n - 1))))\n"
                "  (var answer (even? 10))\n"
                "  (even? = nil)\n"  // breaks the cycle (LANGUAGE.md, memory)
                "  answer)\n"
                "(println (outer))\n"
                "(fn counter [] (var n 0) (fn [] (n += 1) n))\n"
                "(var c (counter))\n"
                "(c) (c)\n"
                "(println (c))\n")
                .out,
            "0\n10\n20\ntrue\n3\n");
}

// ---- register allocation --------------------------------------------------------

TEST(CompilerRegisters, ThreeHundredLocals) {
  std::string body;
  std::string sum = "(var sum 0)\n";
  for (int i = 0; i < 300; ++i) {
    body += "(var v" + std::to_string(i) + " " + std::to_string(i) + ")\n";
    sum += "(sum += v" + std::to_string(i) + ")\n";
  }
  std::string program = "(fn f []\n" + body + sum + "sum)\n(println (f))";
  ASSERT_TRUE(CompilesClean(program));
  Unit u(program);
  const Proto* f = nested_proto(*u.main);
  ASSERT_NE(f, nullptr);
  EXPECT_GE(f->num_registers, 300);
  EXPECT_LT(f->num_registers, 320);
  RunResult r = run(program);
  EXPECT_EQ(r.exit_code, kExitOk) << r.error;
  EXPECT_EQ(r.out, "44850\n");

  // The same inside nested blocks, with every local read after the inner
  // blocks end (their registers must not have been reused).
  std::string nested = "(fn g []\n";
  for (int i = 0; i < 300; ++i) {
    nested += "(var w" + std::to_string(i) + " " + std::to_string(i) + ")\n";
    if (i % 10 == 9) nested += "(do (var t1 -1) (var t2 -2) (t1 + t2))\n";
  }
  nested += "[w0 w150 w299])\n(println (g))";
  RunResult n = run(nested);
  EXPECT_EQ(n.exit_code, kExitOk) << n.error;
  EXPECT_EQ(n.out, "[0 150 299]\n");
}

TEST(CompilerRegisters, ThreeHundredParameters) {
  std::string params;
  std::string args;
  for (int i = 0; i < 300; ++i) {
    params += " p" + std::to_string(i);
    args += " " + std::to_string(i);
  }
  std::string program = "(fn f [" + params + "] [p0 p1 p298 p299])\n(println (f" + args + "))";
  ASSERT_TRUE(CompilesClean(program));
  RunResult r = run(program);
  EXPECT_EQ(r.exit_code, kExitOk) << r.error;
  EXPECT_EQ(r.out, "[0 1 298 299]\n");
}

TEST(CompilerRegisters, TemporariesAreFreedAfterEachStatement) {
  std::string body;
  for (int i = 0; i < 2000; ++i) {
    body += "(println (i + (i * 2)) [i {^k (str i)}] (f i (i - 1)))\n";
  }
  std::string program = "(fn f [a b] a)\n(fn g [i]\n" + body + ")";
  Unit u(program);
  ASSERT_FALSE(u.error) << describe(*u.error);
  EXPECT_EQ(verify(*u.main, u.module), "");
  for (const Value& k : u.main->constants) {
    if (k.is(ObjType::Proto) && k.as<Proto>()->name == "g") {
      EXPECT_LT(k.as<Proto>()->num_registers, 16) << "registers are not reused";
    }
  }
}

struct Nested {
  int levels;  // reader levels per step
  const char* name;
  const char* head;
  const char* open;
  const char* middle;
  const char* close;
  const char* tail;
  const char* expected;  // printed output for 500 levels
};

// Each form nested 500 levels deep (the reader allows 1000).
const Nested kNested[] = {
    {1, "call", "(fn f [x] (x + 1))\n(println ", "(f ", "0", ")", ")", "500\n"},
    {1, "infix", "(println ", "(1 + ", "0", ")", ")", "500\n"},
    {1, "prefix", "(println ", "(+ 1 ", "0", ")", ")", "500\n"},
    {1, "compare_then", "(println ", "(if (1 < 2) ", "7", ")", ")", "7\n"},
    {1, "if", "(println ", "(if true ", "1", ")", ")", "1\n"},
    {1, "if_else", "(println ", "(if false 0 else ", "2", ")", ")", "2\n"},
    {1, "ifel", "(println ", "(ifel true ", "1", " 2)", ")", "1\n"},
    {1, "do", "(println ", "(do ", "1", ")", ")", "1\n"},
    {1, "do_var", "(fn g [] ", "(do (var v 1) ", "v", ")", ") (println (g))", "1\n"},
    {2, "lambda_call", "(println ", "((fn [] ", "1", "))", ")", "1\n"},
    {2, "lambda_capture", "(fn outer [x] ", "((fn [] ", "x", "))", ") (println (outer 5))", "5\n"},
    {1, "array", "(var a ", "[", "1", "]", ") (println (a/0/0/0 == nil))", "false\n"},
    {1, "map", "(var m ", "{^a ", "1", "}", ") (println m/a/a/a/a/.size)", "1\n"},
    {1, "for", "(println ", "(for x in [1] ", "x", ")", ")", "nil\n"},
    {1, "while", "(println ", "(while false ", "1", ")", ")", "nil\n"},
    {1, "repeat", "(var n 0) ", "(repeat 1 ", "(n += 1)", ")", " (println n)", "1\n"},
    {1, "try_catch", "(println ", "(try ", "(throw \"x\")", " catch * 2)", ")", "2\n"},
    {1, "case", "(println ", "(case 1 when 1 ", "3", ")", ")", "3\n"},
    {1, "method", "(println ", "(", "[1 2]", " .reverse)", ")", "[1 2]\n"},
    {1, "interpolation", "(println ", "#\"a#{", "1", "}\"", ")", ""},
    {1, "and", "(println ", "(true && ", "1", ")", ")", "1\n"},
    {1, "or", "(println ", "(nil || ", "1", ")", ")", "1\n"},
    {1, "not", "(println ", "(! ", "1", ")", ")", "true\n"},
    {1, "negate", "(println ", "(- ", "1", ")", ")", "1\n"},
    {1, "assign", "(var v 0) (println ", "(v = ", "1", ")", ")", "1\n"},
    {1, "throw", "(try ", "(throw ", "1", ")", " catch * (println $ex/value))", "1\n"},
    {1, "return", "(fn h [] ", "(return ", "1", ")", ") (println (h))", "1\n"},
    {1, "keyword", "(fn k [^a] a) (println ", "(k ^a ", "1", ")", ")", "1\n"},
    {1, "range", "(println ", "(0 .. ", "1", ")", ")", ""},
};

TEST(CompilerRegisters, DeepNesting) {
  for (const Nested& n : kNested) {
    size_t depth = n.levels == 1 ? 500 : 490;
    std::string program = std::string(n.head) + repeat(n.open, depth) + n.middle +
                          repeat(n.close, depth) + n.tail;
    EXPECT_TRUE(CompilesClean(program)) << n.name;
    if (n.expected[0] == '\0') continue;
    RunResult r = run(program);
    EXPECT_EQ(r.exit_code, kExitOk) << n.name << ": " << r.error;
    EXPECT_EQ(r.out, n.expected) << n.name;
  }
}

TEST(CompilerRegisters, NestingAtTheReadersLimit) {
  // As deep as the reader allows: it compiles, or it is a CompileError, and
  // either way nothing overflows the stack.
  for (const Nested& n : kNested) {
    for (size_t depth : {900, 995}) {
      size_t steps = depth / static_cast<size_t>(n.levels);
      std::string program = std::string(n.head) + repeat(n.open, steps) + n.middle +
                            repeat(n.close, steps) + n.tail;
      auto source = std::make_shared<SourceFile>(SourceFile{"t.weft", program});
      std::vector<NodePtr> nodes;
      try {
        nodes = read_program(*source);
      } catch (const ParseError&) {
        continue;  // forms that take two levels per step pass the limit
      }
      Runtime runtime;
      Module module("t");
      try {
        Proto* main = compile_program(runtime, module, source, nodes);
        EXPECT_EQ(verify(*main, module), "") << n.name << " " << depth;
      } catch (const CompileError& e) {
        EXPECT_FALSE(e.message.empty());
      }
    }
  }
}

// ---- long bodies ------------------------------------------------------------------

// Compiles `program`: either it compiles to well-formed code (and then,
// when `expected` is given, prints that), or it is a CompileError.
void compiles_or_is_an_error(const std::string& name, const std::string& program,
                             const char* expected = nullptr) {
  Unit u(program);
  if (u.error) {
    EXPECT_FALSE(u.error->message.empty()) << name;
    EXPECT_GE(u.error->loc.line, 1u) << name;
    return;
  }
  EXPECT_EQ(verify(*u.main, u.module).substr(0, 2000), "") << name;
  if (expected != nullptr) {
    Fiber fiber;
    Vm vm(u.runtime);
    vm.start(fiber, Value::adopt(Closure::make(u.main)), {});
    RunStatus status = vm.run_to_end(fiber);
    EXPECT_EQ(status, RunStatus::Completed) << name << ": " << display(fiber.exception);
    u.runtime.flush_out();
    EXPECT_EQ(u.out, expected) << name;
  }
}

// Bodies of more than 70,000 instructions (each call statement below is
// three), and more than 65,536 constants in one function.
TEST(CompilerLimits, SeventyThousandInstructions) {
  const size_t n = 70'000;
  std::string calls;  // 70,000 distinct string constants
  for (size_t i = 0; i < n; ++i) calls += "(f \"k" + std::to_string(i) + "\")\n";
  compiles_or_is_an_error("function body",
                          "(var count 0) (fn f [s] (count += 1))\n(fn g []\n" + calls +
                              ")\n(g) (println count)",
                          "70000\n");
  const size_t m = 24'000;  // 72,000 instructions
  std::string fewer;
  for (size_t i = 0; i < m; ++i) fewer += "(f \"k" + std::to_string(i) + "\")\n";
  compiles_or_is_an_error("top-level statements",
                          "(var count 0) (fn f [s] (count += 1))\n" + fewer + "(println count)",
                          "24000\n");
  compiles_or_is_an_error("loop body (long backward jump)",
                          "(var count 0) (fn f [s] (count += 1))\n(var i 0)\n(while (i < 2)\n" +
                              fewer + "(i += 1))\n(println count)",
                          "48000\n");
  compiles_or_is_an_error("if branch (long forward jump)",
                          "(var count 0) (fn f [s] (count += 1))\n(if (count == 1)\n" + fewer +
                              " else (println \"skipped\"))",
                          "skipped\n");
  compiles_or_is_an_error("try body (long handler jump)",
                          "(var count 0) (fn f [s] (count += 1))\n(try\n" + fewer +
                              "(throw \"end\") catch * (println count $ex/message))",
                          "24000 end\n");
  compiles_or_is_an_error("for body with a captured variable",
                          "(var fs [])\n(for i in (range 2)\n(fs .add (fn [] i))\n" +
                              repeat("(i + 1)\n", m) + ")\n(println (fs/1))",
                          "1\n");

  std::string int_constants;  // 70,000 distinct Int constants as operands
  for (size_t i = 0; i < n; ++i) {
    int_constants += "(x = (y + " + std::to_string(10'000'000'000LL + static_cast<int64_t>(i)) +
                     "))\n";
  }
  compiles_or_is_an_error("Int constants beyond 16 bits",
                          "(fn g [] (var y 1) (var x 0)\n" + int_constants + "x)\n(println (g))",
                          "10000070000\n");

  std::string keys;  // 70,000 distinct path keys
  for (size_t i = 0; i < n; ++i) keys += "(m/k" + std::to_string(i) + " = " + std::to_string(i) + ")\n";
  compiles_or_is_an_error("path keys", "(fn g [] (var m {})\n" + keys + "m/k69999)\n(println (g))",
                          "69999\n");

  std::string methods;  // 70,000 distinct method names
  for (size_t i = 0; i < n; ++i) methods += "(m .f" + std::to_string(i) + ")\n";
  compiles_or_is_an_error("method names", "(fn g [m]\n" + methods + ")", nullptr);

  std::string whens;
  for (size_t i = 0; i < n; ++i) whens += " when \"w" + std::to_string(i) + "\" " + std::to_string(i);
  compiles_or_is_an_error("case with 70,000 whens", "(println (case \"w69999\"" + whens + "))",
                          "69999\n");

  std::string elifs = "(var v 23999)\n(println (if (v == 0) 0";
  for (size_t i = 1; i < m; ++i) elifs += " elif (v == " + std::to_string(i) + ") " + std::to_string(i);
  compiles_or_is_an_error("if with 24,000 elifs", elifs + "))", "23999\n");
}

TEST(CompilerLimits, TooManyRegistersIsACompileError) {
  const size_t n = 70'000;
  std::string locals;
  for (size_t i = 0; i < n; ++i) locals += "(var v" + std::to_string(i) + " 1)\n";
  Unit many_locals("(fn f []\n" + locals + ")");
  ASSERT_TRUE(many_locals.error);
  EXPECT_NE(many_locals.error->message.find("too many registers"), std::string::npos)
      << describe(*many_locals.error);

  std::string args = repeat(" 1", n);
  compiles_or_is_an_error("call with 70,000 arguments", "(println" + args + ")", nullptr);
  compiles_or_is_an_error("array of 70,000 items", "(var a [" + args + "]) (println (a .size))",
                          "70000\n");
  compiles_or_is_an_error("map of 40,000 entries",
                          [&] {
                            std::string m = "(var m {";
                            for (size_t i = 0; i < 40'000; ++i) m += "^k" + std::to_string(i) + " 1 ";
                            return m + "}) (println (m .size))";
                          }(),
                          "40000\n");
  compiles_or_is_an_error("interpolation with 70,000 holes",
                          "(println (#\"" + repeat("#{1}", n) + "\" .size))", "70000\n");
  // At top level the variables are globals and take no registers.
  compiles_or_is_an_error("70,000 globals", locals + "(println v69999)", "1\n");
}

// A flat operator chain is read as one list, but the compiler builds a
// left-nested tree of it: the C++ stack must not grow with its length.
TEST(CompilerLimits, LongFlatOperatorChainsDoNotOverflowTheStack) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const size_t n = 70'000;
  struct Chain {
    const char* name;
    std::string text;
  } chains[] = {
      {"infix +", "(var x 1) (println (x" + repeat(" + x", n) + "))"},
      {"prefix +", "(var x 1) (println (+" + repeat(" x", n) + "))"},
      {"infix &&", "(var x 1) (println (x" + repeat(" && x", n) + "))"},
      {"prefix ||", "(var x nil) (println (||" + repeat(" x", n) + "))"},
      {"infix mixed", "(var x 1) (println (x" + repeat(" + x * x", n / 2) + "))"},
  };
  for (const Chain& chain : chains) {
    EXPECT_EXIT(
        {
          Unit u(chain.text);
          if (!u.error && !verify(*u.main, u.module).empty()) std::exit(3);
          std::exit(0);
        },
        ::testing::ExitedWithCode(0), "")
        << chain.name << ": the compiler crashed (or produced bad code) on " << n << " operands";
  }
}

// Found while writing these tests: a left-folded chain kept one temporary
// per operand alive until the whole chain was done (and recursed once per
// operand): (+ x x ... x) with 10,000 operands took 10,000 registers, with
// 60,000 it was a CompileError "function too large", and under ASan the
// error thrown from that depth aborted the sanitizer. Folding needs two or
// three registers.
TEST(CompilerLimits, FlatOperatorChainsUseFewRegisters) {
  const size_t n = 10'000;
  const std::string chains[] = {
      "(var x 1) (println (x" + repeat(" + x", n) + "))",
      "(var x 1) (println (+" + repeat(" x", n) + "))",
      "(var x 1) (println (x" + repeat(" * x - x", n / 2) + "))",
      "(var x 1) (println (x" + repeat(" && x", n) + "))",
      "(var x 1) (println (x" + repeat(" < x", n) + "))",
      "(fn f [x] (x" + repeat(" + x", n) + "))",
  };
  for (const std::string& program : chains) {
    Unit u(program);
    ASSERT_FALSE(u.error) << describe(*u.error) << " in " << program.substr(0, 60);
    EXPECT_EQ(verify(*u.main, u.module), "");
    std::vector<const Proto*> protos;
    std::function<void(const Proto&)> walk = [&](const Proto& p) {
      protos.push_back(&p);
      for (const Value& k : p.constants) {
        if (k.is(ObjType::Proto)) walk(*k.as<Proto>());
      }
    };
    walk(*u.main);
    for (const Proto* p : protos) {
      EXPECT_LT(p->num_registers, 64) << p->name << " of " << program.substr(0, 60);
    }
  }
}

// Found while writing these tests: each finally body is compiled twice
// (normal exit and exception path), so try/finally nested in finally bodies
// doubled the code at every level (20 levels took seconds and millions of
// instructions, 30 never finished). The code must grow linearly.
TEST(CompilerLimits, NestedFinallyBlocksDoNotDoubleTheCode) {
  auto size_at = [](int depth) -> size_t {
    std::string program = repeat("(try 0 finally ", depth) + "(println 1)" + repeat(")", depth);
    Unit u(program);
    if (u.error) return 0;
    return total_instructions(*u.main);
  };
  size_t small = size_at(4);
  size_t large = size_at(16);
  ASSERT_GT(small, 0u);
  EXPECT_LT(large, small * 16) << "4 levels: " << small << " instructions, 16 levels: " << large;
  // A return or break crossing 16 finally blocks copies each of them once:
  // that much is linear.
  std::string returns = "(fn f [] " + repeat("(try ", 16) + "(return 1)" +
                        repeat(" finally (println 0))", 16) + ")";
  std::string breaks = "(while true " + repeat("(try ", 16) + "(break)" +
                       repeat(" finally (println 0))", 16) + ")";
  for (const std::string& program : {returns, breaks}) {
    Unit u(program);
    ASSERT_FALSE(u.error) << describe(*u.error);
    EXPECT_LT(total_instructions(*u.main), 1000u) << program;
  }
}

// ---- compile errors -----------------------------------------------------------------

struct ErrorCase {
  const char* program;
  uint32_t line;
  uint32_t column;
  const char* message;  // a prefix of the message
};

const ErrorCase kErrors[] = {
    {"(println x)", 1, 10, "undefined variable 'x'"},
    {"(var a 1)\n(fn f []\n  (a + missing))", 3, 8, "undefined variable 'missing'"},
    {"(y = 1)", 1, 2, "cannot assign to undeclared variable 'y'"},
    {"(fn f [] (zz += 1))", 1, 11, "cannot assign to undeclared variable 'zz'"},
    {"(break)", 1, 1, "break outside a loop"},
    {"(continue)", 1, 1, "continue outside a loop"},
    {"(while true (fn [] (break)))", 1, 20, "break outside a loop"},
    {"(for x in [1] (fn g [] (continue)))", 1, 24, "continue outside a loop"},
    {"(return 1)", 1, 1, "return outside a function"},
    {"(if true\n  (return))", 2, 3, "return outside a function"},
    {"(while true (return 1))", 1, 13, "return outside a function"},
    {"(fn f [] (+ 1 (var x 2)))", 1, 15, "var must be a statement of a block"},
    {"(fn f [] (f (var z 1)))", 1, 13, "var must be a statement of a block"},
    {"(do (println (var x 1)))", 1, 14, "var must be a statement of a block"},
    {"(if)", 1, 1, "if needs a condition"},
    {"(fn)", 1, 1, "fn needs a parameter list"},
    {"(fn f)", 1, 1, "fn needs a parameter list"},
    {"(for x)", 1, 1, "for takes one or two names"},
    {"(for a b c in [1] a)", 1, 1, "for takes one or two names"},
    {"(for x in)", 1, 8, "for needs a collection after 'in'"},
    {"(for 1 in [1] 1)", 1, 6, "for expects variable names before 'in'"},
    {"(try x catch)", 1, 8, "catch needs a class, a name or *"},
    {"(var)", 1, 1, "var takes a name and an optional value"},
    {"(var x 1 2)", 1, 1, "var takes a name and an optional value"},
    {"(var 1 2)", 1, 1, "var takes a name and an optional value"},
    {"(case)", 1, 1, "case needs a value"},
    {"(case 1 2)", 1, 9, "expected 'when' or 'else' in case"},
    {"(case 1 when)", 1, 9, "when needs a value"},
    {"(ifel 1 2)", 1, 1, "ifel takes a condition and two branches"},
    {"(while)", 1, 1, "while needs a condition"},
    {"(repeat)", 1, 1, "repeat needs a count"},
    {"(throw)", 1, 1, "throw takes one value"},
    {"(new Foo \"x\")", 1, 6, "unknown class 'Foo'"},
    {"()", 1, 1, "empty list () is not an expression"},
    {"(println +)", 1, 10, "operator '+' used as a value"},
    {"(var v .size)", 1, 8, "method selector '.size' must follow a receiver"},
    {"(println ^a)", 1, 10, "keyword ^a needs a value"},
    {"(var k ^a)", 1, 8, "keyword ^a is only allowed"},
    {"(fn f [a = 1 b] a)", 1, 14, "parameter 'b' without a default follows one with a default"},
    {"(fn f [a... b...] a)", 1, 13, "only one rest parameter"},
    {"(fn f [r... a] a)", 1, 13, "positional parameters must come before the rest parameter"},
    {"(fn f [1] 1)", 1, 8, "expected a parameter name"},
    {"(fn f [a =] a)", 1, 10, "expected a default value after '='"},
    {"(+)", 1, 2, "operator '+' needs operands"},
    {"(* 1)", 1, 2, "operator '*' needs two operands"},
    {"(1 + 2 3)", 1, 8, "expected an operator between operands"},
    {"(1 + + 2)", 1, 6, "expected an operand before '+'"},
    {"(! 1 2)", 1, 2, "! takes one operand"},
    {"(var x 1) (x = 1 2)", 1, 14, "assignment takes one target and one value"},
    {"(1 = 2)", 1, 2, "cannot assign to this expression"},
    {"(var a [1]) (a/.size = 1)", 1, 14, "cannot assign to a method call"},
    {"(println = 1)", 1, 2, "cannot assign to 'println'"},
    {"(fn f [] (f = 1))", 1, 11, "cannot assign to 'f'"},
    {"(var x 1) (break 1 2)", 1, 11, "break outside a loop"},
    {"(loop (break 1 2))", 1, 7, "break takes at most one value"},
    {"(loop (continue 1))", 1, 7, "continue takes no value"},
    {"(fn f [] (return 1 2))", 1, 10, "return takes at most one value"},
    {"(var x 1)\n(if x\n  (println\n    undefined_thing))", 4, 5, "undefined variable 'undefined_thing'"},
};

TEST(CompilerErrors, MessagesAndPositions) {
  for (const ErrorCase& c : kErrors) {
    Unit u(c.program);
    if (!u.error) {
      ADD_FAILURE() << "compiled: " << c.program;
      continue;
    }
    EXPECT_EQ(u.error->loc.line, c.line) << c.program << " -> " << describe(*u.error);
    EXPECT_EQ(u.error->loc.column, c.column) << c.program << " -> " << describe(*u.error);
    EXPECT_EQ(u.error->message.rfind(c.message, 0), 0u)
        << c.program << " -> " << describe(*u.error) << "\nexpected: " << c.message;
  }
}

TEST(CompilerErrors, ReportedByRunProgramWithACaretAndNothingRuns) {
  RunResult r = run("(println \"first\")\n(var a 1)\n(println (a + nope))\n");
  EXPECT_EQ(r.exit_code, kExitCompileError);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.error,
            "t.weft:3:15: undefined variable 'nope'\n"
            "  (println (a + nope))\n"
            "                ^\n");
  RunResult parse = run("(println \"first\")\n(println (1 + 2)");
  EXPECT_EQ(parse.exit_code, kExitCompileError);
  EXPECT_EQ(parse.out, "");
}

TEST(CompilerErrors, LoopsAndFunctionsNestProperly) {
  // break and continue reach the loop of their own function through any
  // number of blocks; return reaches its function from any loop or try.
  for (const char* program : {
           "(while true (do (if true (do (break)))))",
           "(for x in [1] (try (continue) catch * (break) finally nil))",
           "(loop (case 1 when 1 (break 2)))",
           "(fn f [] (while true (for x in [1] (return x))))",
           "(fn f [] (loop (try (return 1) finally (break))))",
           "(while true (var g (fn [] (while true (break)))) (break))",
           // Break values holding loops of their own (the loop stack grows
           // while the break compiles).
           "(fn f [] (loop (break (loop (break)))))",
           "(fn f [] (loop (break (for i in [1] (while true (repeat 1 (break)))))))",
           "(while true (break (loop (try (break 1) finally (loop (break 2))))))",
       }) {
    EXPECT_TRUE(CompilesClean(program)) << program;
  }
}

TEST(CompilerErrors, AFailedCompilationLeavesTheModuleUsable) {
  Runtime runtime;
  std::string out;
  runtime.capture_output(&out);
  Module module("repl");
  auto first = std::make_shared<SourceFile>(SourceFile{"<repl>", "(var kept 41) (fn inc [x] (x + 1))"});
  ProgramResult ok = run_program(runtime, module, first);
  ASSERT_EQ(ok.exit_code, kExitOk) << ok.error;
  auto broken = std::make_shared<SourceFile>(SourceFile{"<repl>", "(var other 1) (oops)"});
  EXPECT_EQ(run_program(runtime, module, broken).exit_code, kExitCompileError);
  auto second = std::make_shared<SourceFile>(SourceFile{"<repl>", "(println (inc kept))"});
  ProgramResult again = run_program(runtime, module, second);
  EXPECT_EQ(again.exit_code, kExitOk) << again.error;
  runtime.flush_out();
  EXPECT_EQ(out, "42\n");
  runtime.capture_output(nullptr);
}

// ---- immortal module-level functions -----------------------------------------------

TEST(CompilerImmortal, TopLevelFunctionsAreNeverCounted) {
  Unit u(R"((fn f [x] (x + 1))
(fn g [] (f 1))
(var i 0)
(while (i < 20000)
  (f i)
  (g)
  (var h f)
  (h i)
  ([1] .map f)
  (i += 1)))");
  ASSERT_FALSE(u.error) << describe(*u.error);
  // The CLOSURE instructions of f and g carry the immortal flag.
  size_t immortal_closures = 0;
  for (const Instr& ins : u.main->code) {
    if (ins.op == Opcode::CLOSURE && (ins.flags & kFlagImmortal)) ++immortal_closures;
  }
  EXPECT_EQ(immortal_closures, 2u) << disassemble(*u.main);

  Fiber fiber;
  Vm vm(u.runtime);
  vm.start(fiber, Value::adopt(Closure::make(u.main)), {});
  int64_t f_slot = u.module.find("f");
  int64_t g_slot = u.module.find("g");
  ASSERT_GE(f_slot, 0);
  ASSERT_GE(g_slot, 0);
  std::optional<uint32_t> f_count;
  std::optional<uint32_t> g_count;
  int slices = 0;
  RunStatus status = RunStatus::Yielded;
  while (status == RunStatus::Yielded) {
    status = vm.run(fiber, 997);
    ++slices;
    Value f = u.module.slot(static_cast<uint32_t>(f_slot)).load();
    Value g = u.module.slot(static_cast<uint32_t>(g_slot)).load();
    if (!f.is(ObjType::Closure) || !g.is(ObjType::Closure)) continue;
    EXPECT_TRUE(f.as_object()->is_immortal());
    EXPECT_TRUE(g.as_object()->is_immortal());
    if (!f_count) f_count = f.as_object()->refcount();
    if (!g_count) g_count = g.as_object()->refcount();
    ASSERT_EQ(f.as_object()->refcount(), *f_count) << "after slice " << slices;
    ASSERT_EQ(g.as_object()->refcount(), *g_count) << "after slice " << slices;
  }
  EXPECT_EQ(status, RunStatus::Completed) << display(fiber.exception);
  EXPECT_GT(slices, 50);
  EXPECT_TRUE(f_count.has_value());
}

TEST(CompilerImmortal, OnlyModuleLevelNamedFunctionsAreImmortal) {
  Unit u(R"((var lambda (fn [x] x))
(fn outer [] (fn inner [] 1) inner)
(do (fn local [] 2)))");
  ASSERT_FALSE(u.error) << describe(*u.error);
  size_t immortal = 0;
  size_t closures = 0;
  std::function<void(const Proto&)> walk = [&](const Proto& p) {
    for (const Instr& ins : p.code) {
      if (ins.op != Opcode::CLOSURE) continue;
      ++closures;
      if (ins.flags & kFlagImmortal) ++immortal;
    }
    for (const Value& k : p.constants) {
      if (k.is(ObjType::Proto)) walk(*k.as<Proto>());
    }
  };
  walk(*u.main);
  EXPECT_EQ(closures, 4u);
  EXPECT_EQ(immortal, 1u) << "only `outer`";
}

// ---- the disassembler --------------------------------------------------------------

const char* const kEveryOpcodeProgram = R"((var g 1)
(var s "text")
(var fl 1.5)
(var big 10000000000)
(fn helper [a b = 2 rest... ^k] (if (a == nil) (return b)) [a b rest k])
(fn counter [] (var n 0) (fn [] (n += 1) n))
(fn self_ref [n] (if (n > 0) (self_ref (n - 1)) else self_ref))
(fn setter [] (var v 0) (var set (fn [x] (v = x))) (v = 1) (set 5) v)
(fn adder [x] (fn [y] (x + y)))
(var t true) (var f false) (var nothing nil)
(var arith [(g + 1) (g - 1) (g + fl) (g - big) (g * 2) (g / 2) (g % 2) (- g) (! g)])
(var cmp [(g == 1) (g != 1) (g < 2) (g <= 2) (g > 0) (g >= 0) (1 < g < 3)])
(var logic [(t && f) (f || t)])
(var m {^a 1 ^b [1 2]})
(m/a = 2) (m/b/0 += 1)
(var r (1 .. 3))
(var text #"g=#{g} s=#{s}")
(for x in [1 2] x)
(for i in (0 .. 3) i)
(for i in (range 0 10 2) i)
(repeat 2 nil)
(while f nil)
(var lv (loop (break 1)))
(case g when 1 "one" else "other")
(try (throw "x") catch TypeException 1 catch * 2 finally 3)
(var e (new TypeException "m"))
(var sz (s .size))
(var path m/b/0)
(helper 1 ^k 2)
((counter))
(setter)
((adder 1) 2)
(self_ref 2)
(println m s))";

struct ListedFunction {
  std::string name;
  size_t declared;  // "N instructions" in the header
  std::vector<std::pair<size_t, std::string>> lines;  // pc, opcode name
};

// Splits a listing into functions and their instruction lines.
std::vector<ListedFunction> parse_listing(const std::string& listing) {
  std::vector<ListedFunction> out;
  std::istringstream in(listing);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("function ", 0) == 0) {
      ListedFunction f;
      f.name = line.substr(9, line.find(' ', 9) - 9);
      size_t colon = line.rfind("): ");
      f.declared = colon == std::string::npos ? 0 : std::stoul(line.substr(colon + 3));
      out.push_back(f);
      continue;
    }
    if (line.empty() || out.empty()) continue;
    std::istringstream fields(line);
    size_t pc = 0;
    std::string location;
    std::string name;
    fields >> pc >> location;
    // The location is "[line:col]" and may hold a space after the colon.
    while (!location.empty() && location.back() != ']' && fields >> name) location += name;
    fields >> name;
    out.back().lines.emplace_back(pc, name);
  }
  return out;
}

void collect_protos(const Proto& p, std::vector<const Proto*>& out) {
  out.push_back(&p);
  for (const Value& k : p.constants) {
    if (k.is(ObjType::Proto)) collect_protos(*k.as<Proto>(), out);
  }
}

TEST(CompilerDisassembler, ListsEveryInstructionOfEveryFunction) {
  Unit u(kEveryOpcodeProgram);
  ASSERT_FALSE(u.error) << describe(*u.error);
  EXPECT_EQ(verify(*u.main, u.module), "");
  std::string listing = disassemble(*u.main);
  std::vector<const Proto*> protos;
  collect_protos(*u.main, protos);
  std::vector<ListedFunction> listed = parse_listing(listing);
  ASSERT_EQ(listed.size(), protos.size()) << listing;
  for (size_t i = 0; i < protos.size(); ++i) {
    const Proto& p = *protos[i];
    EXPECT_EQ(listed[i].name, p.name);
    EXPECT_EQ(listed[i].declared, p.code.size()) << p.name;
    ASSERT_EQ(listed[i].lines.size(), p.code.size()) << p.name << "\n" << listing;
    for (size_t pc = 0; pc < p.code.size(); ++pc) {
      EXPECT_EQ(listed[i].lines[pc].first, pc) << p.name;
      EXPECT_EQ(listed[i].lines[pc].second, opcode_name(p.code[pc].op)) << p.name << " pc " << pc;
    }
  }
  // The program meets (nearly) every opcode the compiler emits.
  std::set<Opcode> seen;
  collect_opcodes(*u.main, seen);
  for (Opcode op : {Opcode::MOVE,         Opcode::LOADK,     Opcode::LOADI,       Opcode::LOADNIL,
                    Opcode::LOADTRUE,     Opcode::LOADFALSE, Opcode::GETGLOBAL,   Opcode::SETGLOBAL,
                    Opcode::GETBUILTIN,   Opcode::NEWCELL,   Opcode::GETCELL,     Opcode::SETCELL,
                    Opcode::GETUPVAL,     Opcode::SETUPVAL,  Opcode::GETCAPTURED, Opcode::CLOSURE,
                    Opcode::SELF,         Opcode::ADD,       Opcode::SUB,         Opcode::MUL,
                    Opcode::DIV,          Opcode::MOD,       Opcode::ADDI,        Opcode::NEG,
                    Opcode::NOT,          Opcode::EQ,        Opcode::NE,          Opcode::LT,
                    Opcode::LE,           Opcode::JMP,       Opcode::JMPIF,       Opcode::JMPIFNOT,
                    Opcode::JMPIFPRESENT, Opcode::CALL,      Opcode::INVOKE,      Opcode::RETURN,
                    Opcode::NEWARRAY,     Opcode::NEWMAP,    Opcode::GETFIELD,    Opcode::SETFIELD,
                    Opcode::RANGE,        Opcode::CONCAT,    Opcode::ITERPREP,    Opcode::ITERNEXT,
                    Opcode::FORPREP,      Opcode::FORLOOP,   Opcode::TRY,         Opcode::ENDTRY,
                    Opcode::THROW,        Opcode::EXCMATCH}) {
    EXPECT_TRUE(seen.count(op)) << "the sample program has no " << opcode_name(op);
  }
  // And it runs.
  RunResult r = run(kEveryOpcodeProgram);
  EXPECT_EQ(r.exit_code, kExitOk) << r.error;
  EXPECT_EQ(r.out, "{^a 2 ^b [2 2]} text\n");
}

TEST(CompilerDisassembler, NamesEveryOpcode) {
  // A hand-made prototype with one instruction of each opcode.
  Proto proto;
  proto.name = "synthetic";
  proto.num_registers = 8;
  proto.constants.push_back(Value::integer(7));
  const size_t count = static_cast<size_t>(Opcode::Count);
  for (size_t i = 0; i < count; ++i) {
    proto.code.push_back(Instr{static_cast<Opcode>(i), 0, 1, 0, 0});
    proto.locations.push_back(SourceLoc{static_cast<uint32_t>(i + 1), 1});
  }
  std::string listing = disassemble(proto);
  std::vector<ListedFunction> listed = parse_listing(listing);
  ASSERT_EQ(listed.size(), 1u) << listing;
  ASSERT_EQ(listed[0].lines.size(), count) << listing;
  std::set<std::string> names;
  for (size_t i = 0; i < count; ++i) {
    std::string name = opcode_name(static_cast<Opcode>(i));
    EXPECT_FALSE(name.empty());
    EXPECT_EQ(listed[0].lines[i].second, name);
    names.insert(name);
  }
  EXPECT_EQ(names.size(), count) << "opcode names are distinct";
}

}  // namespace
}  // namespace weft
