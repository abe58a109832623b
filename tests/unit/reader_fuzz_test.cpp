// Robustness of the reader: whatever the input, read_program gives nodes or
// throws ParseError -- never crashes, hangs, overflows the stack or throws
// anything else. The inputs come from a fixed-seed PRNG so that a failure
// reproduces; each family aims at a different part of the reader:
//
//   random bytes        invalid UTF-8, control characters, stray delimiters
//   token soup          Weft's own tokens in random order: the paths through
//                       the reader that random bytes seldom reach
//   every prefix        of valid programs: each way an input can end early
//   byte mutations      of valid programs: one wrong character in good code
//   deep nesting        ( [ { #{ up to 100,000 levels, balanced and not
#include <gtest/gtest.h>

#include <cstdint>
#include <exception>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/function.h"
#include "engine/runtime.h"
#include "lang/compiler.h"
#include "lang/reader.h"
#include "lang/syntax.h"

namespace weft {
namespace {

const char* const kPrograms[] = {
    R"w(#!/usr/bin/env weft
# A program that uses every kind of form.
(var config {^host "example.org" ^port 8080 ^^tls ^!verbose "a key" [1 2]})
(fn greet [name = "World" rest... ^loud = false]
  (println #"Hello, #{name}! You are #{(config/port + 1)} \u{1F600}"))
(var xs [1 -2 3.5 -0.25 1.0e10 2E-3 0x1F -0x10 1_000_000 true false nil])
(xs/0 = 99) (println xs/-1 config/host xs/.size $ex/message)
#< block #< nested ># comment >#
(if (a - 1 < b -1) then "yes\n\t\"quoted\"" else '(x y))
)w",
    R"w((fn ^^async fetch [url]
  (try
    (var r (await (http/get_async url ^timeout 0.5 ^headers {"Accept" "text/plain"})))
    r/body/.trim
    catch IOError (println #"failed: #{$ex/message} at #{#"nested #{url}"}")
    finally (println "done")))
(pmap (fn [x] (x * 2)) [1 2 3] ^workers 4)
(for i x in [10 20] (println i x))
(case v when 1 "one" when 2 "two" else "many")
)w",
    R"w(# "日本語 é ü" "\e[1m\0\r\'\#\$\{\}\\" #"#{ {^a [1 {^b (c d/e/0/.f)}]} }"
(var s "multi
line string") (str/join ", " ["a" "b"]) (re/match "a+" "caaat")
(// 7 2) (/ 1 2) (x //= 3) (0 .. 3) (range 0 10 2) a.b:c@d~e'f?g!h&i|j%k<l>m=n
)w",
    R"w({^outer {^inner {^deep [#"#{#"#{#"#{x}"}"}" -9223372036854775808 9223372036854775807]}}}
(loop (if (n > 10) (break n)) (n += 1)) (repeat 3 (print "."))
(actor/spawn ^state 0 (fn [ctx msg state] (state + msg)))
)w",
};

// The alphabet of the token soup: whole tokens, and fragments that sit on
// the boundaries between the reader's states.
const char* const kTokens[] = {
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    "\"",
    "#\"",
    "#{",
    "}\"",
    "#",
    "#<",
    ">#",
    "#!",
    "^",
    "^^",
    "^!",
    "\\",
    "\\u",
    "\\u{",
    "1F600",
    "D800",
    "\\n",
    "\\q",
    "x",
    "name",
    "-",
    "-1",
    "0x",
    "0x1F",
    "1.5",
    "e5",
    "1e",
    "1_000",
    "/",
    "//",
    "a/b",
    "a/0",
    "/.m",
    ".",
    "$ex",
    "true",
    "nil",
    "false",
    " ",
    "\n",
    "\t",
    ",",
    "\r\n",
    "é",
    "日",
    "😀",
    "\xFF",
    "\xC3",
    "\x01",
    ";",
    "\x7F",
    "9223372036854775808",
    "-9223372036854775808",
    "+",
    "..",
    "?",
    "'",
    "{^a 1}",
    "[1 2]",
    "(f x)",
};

std::string printable(std::string_view input) {
  std::string out;
  for (char c : input.substr(0, 300)) {
    unsigned char byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte < 0x7F) {
      out += c;
    } else {
      char buffer[8];
      std::snprintf(buffer, sizeof buffer, "\\x%02X", byte);
      out += buffer;
    }
  }
  if (input.size() > 300) out += "... (" + std::to_string(input.size()) + " bytes)";
  return out;
}

// Code points (bytes that are not UTF-8 continuations) on each line, for
// checking that every position reported lies inside the text or just after it.
std::vector<uint32_t> line_lengths(std::string_view text) {
  std::vector<uint32_t> lengths(1, 0);
  for (char c : text) {
    if (c == '\n') {
      lengths.push_back(0);
    } else if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) {
      ++lengths.back();
    }
  }
  return lengths;
}

bool position_in_text(SourceLoc loc, const std::vector<uint32_t>& lengths) {
  return loc.line >= 1 && loc.line <= lengths.size() && loc.column >= 1 &&
         loc.column <= lengths[loc.line - 1] + 1;
}

class ReaderFuzz : public ::testing::Test {
 protected:
  enum class Expect { Anything, Success, Failure };

  // Reads `input`, checks the outcome, and returns true when it parsed.
  bool check(const std::string& input, Expect expect = Expect::Anything) {
    ++inputs_;
    SourceFile source{"fuzz.weft", input};
    std::vector<uint32_t> lengths = line_lengths(input);
    try {
      std::vector<NodePtr> program = read_program(source);
      ++parsed_;
      check_tree(program, lengths, input);
      EXPECT_NE(expect, Expect::Failure) << "parsed: " << printable(input);
      return true;
    } catch (const ParseError& error) {
      EXPECT_FALSE(error.message.empty()) << printable(input);
      EXPECT_TRUE(position_in_text(error.loc, lengths))
          << error.loc.line << ":" << error.loc.column << " " << error.message << " for "
          << printable(input);
      EXPECT_FALSE(format_diagnostic(source, error.loc, error.message).empty());
      EXPECT_NE(expect, Expect::Success) << error.message << " for " << printable(input);
      last_error_ = error.message;
    } catch (const std::exception& other) {
      ADD_FAILURE() << "std::exception '" << other.what() << "' for " << printable(input);
    } catch (...) {
      ADD_FAILURE() << "unknown exception for " << printable(input);
    }
    return false;
  }

  // Walks the tree with an explicit stack (the test must not be the thing
  // that overflows) and checks depth and positions.
  void check_tree(const std::vector<NodePtr>& program, const std::vector<uint32_t>& lengths,
                  const std::string& input) {
    std::vector<std::pair<const Node*, int>> pending;
    for (const NodePtr& node : program) pending.emplace_back(node.get(), 1);
    while (!pending.empty()) {
      auto [node, depth] = pending.back();
      pending.pop_back();
      // A path adds one level under the deepest form.
      ASSERT_LE(depth, kMaxNesting + 2) << printable(input);
      ASSERT_TRUE(position_in_text(node->loc, lengths))
          << node_kind_name(node->kind) << " at " << node->loc.line << ":" << node->loc.column
          << " in " << printable(input);
      for (const NodePtr& child : node->children) pending.emplace_back(child.get(), depth + 1);
    }
  }

  std::mt19937_64 random_{0x5EED'F00D};
  size_t inputs_ = 0;
  size_t parsed_ = 0;
  std::string last_error_;

  size_t below(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(random_); }
  char random_byte() { return static_cast<char>(below(256)); }
};

TEST_F(ReaderFuzz, TheCorpusParses) {
  for (const char* program : kPrograms) EXPECT_TRUE(check(program, Expect::Success));
}

TEST_F(ReaderFuzz, RandomBytes) {
  for (int i = 0; i < 3000; ++i) {
    std::string input;
    size_t size = below(96);
    for (size_t j = 0; j < size; ++j) input += random_byte();
    check(input);
  }
  EXPECT_EQ(inputs_, 3000u);
}

TEST_F(ReaderFuzz, TokenSoup) {
  constexpr size_t kTokenCount = sizeof kTokens / sizeof kTokens[0];
  for (int i = 0; i < 4000; ++i) {
    std::string input;
    size_t count = 1 + below(40);
    for (size_t j = 0; j < count; ++j) {
      input += kTokens[below(kTokenCount)];
      // Mostly separated, sometimes glued, so that tokens run into each other.
      if (below(3) != 0) input += ' ';
    }
    check(input);
  }
  // Soup must reach the reader's successes too, not only its errors.
  EXPECT_GT(parsed_, 100u);
}

TEST_F(ReaderFuzz, EveryPrefixOfValidPrograms) {
  for (const char* program : kPrograms) {
    std::string text = program;
    for (size_t length = 0; length <= text.size(); ++length) check(text.substr(0, length));
  }
  EXPECT_GT(inputs_, 1000u);
}

TEST_F(ReaderFuzz, ByteMutationsOfValidPrograms) {
  constexpr size_t kProgramCount = sizeof kPrograms / sizeof kPrograms[0];
  const std::string_view significant = "()[]{}\"#^\\/-.,<>!u0x1e \n";
  for (int i = 0; i < 4000; ++i) {
    std::string input = kPrograms[below(kProgramCount)];
    size_t mutations = 1 + below(4);
    for (size_t m = 0; m < mutations && !input.empty(); ++m) {
      size_t at = below(input.size());
      switch (below(5)) {
        case 0:
          input[at] = random_byte();
          break;
        case 1:
          input[at] = significant[below(significant.size())];
          break;
        case 2:
          input.insert(at, 1, significant[below(significant.size())]);
          break;
        case 3:
          input.erase(at, 1 + below(4));
          break;
        default:
          input.insert(at, input.substr(below(input.size()), below(16)));
          break;
      }
    }
    check(input);
  }
}

TEST_F(ReaderFuzz, DeepNesting) {
  struct Level {
    const char* open;
    const char* close;
  };
  const Level levels[] = {{"(", ")"}, {"[", "]"}, {"{^k ", "}"}, {"#\"#{", "}\""}};
  const size_t depths[] = {1, 2, 500, 999, 1000, 1001, 1002, 5000, 100'000};
  for (size_t depth : depths) {
    for (int variant = 0; variant < 6; ++variant) {
      // Variants 0-3 nest one kind; 4 and 5 mix kinds at random.
      std::vector<const Level*> chosen;
      for (size_t i = 0; i < depth; ++i) {
        chosen.push_back(variant < 4 ? &levels[variant] : &levels[below(4)]);
      }
      std::string open;
      for (const Level* level : chosen) open += level->open;
      std::string balanced = open + "x";
      for (size_t i = depth; i-- > 0;) balanced += chosen[i]->close;

      bool too_deep = depth > static_cast<size_t>(kMaxNesting);
      check(balanced, too_deep ? Expect::Failure : Expect::Success);
      if (too_deep) {
        EXPECT_EQ(last_error_, "nesting too deep (more than 1000 levels)");
      }
      check(open, Expect::Failure);
      // Closed halfway, or closed with the wrong closers.
      check(balanced.substr(0, balanced.size() / 2), Expect::Failure);
      std::string wrong = open + "x" + std::string(depth, variant % 2 == 0 ? ']' : ')');
      check(wrong);
    }
  }
  // A hundred thousand closers, and a hundred thousand holes in one flat string.
  check(std::string(100'000, ')'), Expect::Failure);
  std::string holes = "#\"";
  for (int i = 0; i < 100'000; ++i) holes += "#{x}";
  holes += "\"";
  EXPECT_TRUE(check(holes, Expect::Success));
}

// Whatever the reader accepts, the compiler takes without crashing: it
// gives a prototype or a CompileError at a position inside the text. Token
// soup makes trees no program would (keywords and paths in odd places,
// operators as heads, selectors as values, interpolations of anything).
TEST_F(ReaderFuzz, WhatParsesCompilesOrGivesACompileError) {
  constexpr size_t kTokenCount = sizeof kTokens / sizeof kTokens[0];
  // Tokens that make forms, so that the soup reaches the compiler's forms.
  const char* const kForms[] = {"(var x ", "(fn f [a b = 1 r... ^k] ", "(if x ", "(for i x in ",
                                "(while ", "(loop ", "(break ", "(return ", "(try ", " catch * ",
                                " catch e ", " finally ", "(case x when 1 ", "(x = ", "(x += ",
                                "(a/0 = ", "(obj .m ", "(new TypeException ", "(throw ", "(do ",
                                "(repeat 2 ", "(ifel ", "(x .. ", "(1 + ", "(< ", "(! "};
  constexpr size_t kFormCount = sizeof kForms / sizeof kForms[0];
  Runtime runtime;
  size_t compiled = 0;
  size_t rejected = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string input = "(var x 1) (var a [1]) (var obj {}) ";
    size_t count = 1 + below(30);
    for (size_t j = 0; j < count; ++j) {
      input += below(3) == 0 ? kForms[below(kFormCount)] : kTokens[below(kTokenCount)];
      if (below(3) != 0) input += ' ';
    }
    // Close what is open, so that more of the soup parses.
    int open = 0;
    for (char c : input) open += c == '(' ? 1 : c == ')' ? -1 : 0;
    for (; open > 0; --open) input += ')';
    auto source = std::make_shared<SourceFile>(SourceFile{"fuzz.weft", input});
    std::vector<NodePtr> program;
    try {
      program = read_program(*source);
    } catch (const ParseError&) {
      continue;
    }
    Module module("fuzz");
    try {
      compile_program(runtime, module, source, program);
      ++compiled;
    } catch (const CompileError& e) {
      ++rejected;
      EXPECT_FALSE(e.message.empty()) << printable(input);
      EXPECT_TRUE(position_in_text(e.loc, line_lengths(input)))
          << e.loc.line << ":" << e.loc.column << " " << e.message << " for " << printable(input);
    } catch (const std::exception& other) {
      ADD_FAILURE() << "std::exception '" << other.what() << "' for " << printable(input);
    } catch (...) {
      ADD_FAILURE() << "unknown exception for " << printable(input);
    }
  }
  // Most of the soup does not parse; enough of it must reach the compiler.
  EXPECT_GT(compiled, 20u);
  EXPECT_GT(rejected, 100u);
}

TEST(ReaderFuzzTotal, AtLeastTenThousandInputs) {
  // The families above: 3000 + 4000 + every prefix (> 1000) + 4000 + deep
  // nesting; this guards against the counts shrinking by accident.
  size_t prefixes = 0;
  for (const char* program : kPrograms) prefixes += std::string_view(program).size() + 1;
  EXPECT_GE(3000 + 4000 + prefixes + 4000, 10'000u);
}

}  // namespace
}  // namespace weft
