// The reader's rules, one group of cases per rule of LANGUAGE.md section 1.
// Trees are compared through `dump`, a compact S-expression form that shows
// each node's kind: Int 1, Float F1.5, String "s", Symbol s, Keyword ^k,
// Path path(...), Interpolated #(...), List (...), Array [...], Map {...}.
#include "lang/reader.h"

#include <gtest/gtest.h>

#include <charconv>
#include <string>
#include <string_view>

#include "lang/syntax.h"

namespace weft {
namespace {

void dump_node(const Node& node, std::string& out);

void dump_children(const Node& node, const char* open, const char* close, std::string& out) {
  out += open;
  for (size_t i = 0; i < node.children.size(); ++i) {
    if (i > 0) out += ' ';
    dump_node(*node.children[i], out);
  }
  out += close;
}

void dump_node(const Node& node, std::string& out) {
  switch (node.kind) {
    case NodeKind::Nil:
      out += "nil";
      break;
    case NodeKind::Bool:
      out += node.bool_value ? "true" : "false";
      break;
    case NodeKind::Int:
      out += std::to_string(node.int_value);
      break;
    case NodeKind::Float: {
      char buffer[64];
      auto result = std::to_chars(buffer, buffer + sizeof buffer, node.float_value);
      out += 'F';
      out.append(buffer, result.ptr);
      break;
    }
    case NodeKind::String:
      out += '"';
      for (char c : node.text) {
        switch (c) {
          case '\n':
            out += "\\n";
            break;
          case '\t':
            out += "\\t";
            break;
          case '\r':
            out += "\\r";
            break;
          case '\0':
            out += "\\0";
            break;
          case '\x1B':
            out += "\\e";
            break;
          case '"':
            out += "\\\"";
            break;
          case '\\':
            out += "\\\\";
            break;
          default:
            out += c;
        }
      }
      out += '"';
      break;
    case NodeKind::Interpolated:
      dump_children(node, "#(", ")", out);
      break;
    case NodeKind::Symbol:
      out += node.text;
      break;
    case NodeKind::Keyword:
      out += "^" + node.text;
      break;
    case NodeKind::Path:
      dump_children(node, "path(", ")", out);
      break;
    case NodeKind::List:
      dump_children(node, "(", ")", out);
      break;
    case NodeKind::Array:
      dump_children(node, "[", "]", out);
      break;
    case NodeKind::Map:
      dump_children(node, "{", "}", out);
      break;
  }
}

std::vector<NodePtr> read(std::string_view text) {
  return read_program(SourceFile{"test.weft", std::string(text)});
}

// The program as dumped forms separated by spaces, or "error: L:C: message"
// ("incomplete: ..." when the error has incomplete set).
std::string dump(std::string_view text) {
  try {
    std::vector<NodePtr> program = read(text);
    std::string out;
    for (size_t i = 0; i < program.size(); ++i) {
      if (i > 0) out += ' ';
      dump_node(*program[i], out);
    }
    return out;
  } catch (const ParseError& error) {
    return std::string(error.incomplete ? "incomplete: " : "error: ") +
           std::to_string(error.loc.line) + ":" + std::to_string(error.loc.column) + ": " +
           error.message;
  }
}

NodePtr read_one(std::string_view text) {
  std::vector<NodePtr> program = read(text);
  EXPECT_EQ(program.size(), 1u) << text;
  if (program.empty()) return std::make_unique<Node>();
  return std::move(program[0]);
}

ParseError read_error(std::string_view text) {
  try {
    read(text);
  } catch (const ParseError& error) {
    return error;
  }
  ADD_FAILURE() << "expected a ParseError for: " << text;
  return {};
}

std::string loc_of(const Node& node) {
  return std::to_string(node.loc.line) + ":" + std::to_string(node.loc.column);
}

// ---- atoms

TEST(Reader, EmptyAndWhitespaceOnly) {
  EXPECT_EQ(read("").size(), 0u);
  EXPECT_EQ(read(" \t\r\n,,  ").size(), 0u);
}

TEST(Reader, CommaIsWhitespace) {
  EXPECT_EQ(dump("[1,2 ,3,]"), "[1 2 3]");
}

TEST(Reader, BoolsAndNil) {
  std::vector<NodePtr> program = read("true false nil");
  ASSERT_EQ(program.size(), 3u);
  EXPECT_EQ(program[0]->kind, NodeKind::Bool);
  EXPECT_TRUE(program[0]->bool_value);
  EXPECT_EQ(program[1]->kind, NodeKind::Bool);
  EXPECT_FALSE(program[1]->bool_value);
  EXPECT_EQ(program[2]->kind, NodeKind::Nil);
}

TEST(Reader, WordsThatStartLikeLiteralsAreSymbols) {
  for (const char* text : {"truex", "nil?", "false-ish", "True", "NIL"}) {
    NodePtr node = read_one(text);
    EXPECT_EQ(node->kind, NodeKind::Symbol) << text;
    EXPECT_EQ(node->text, text);
  }
}

TEST(Reader, Symbols) {
  const char* symbols[] = {"name",  "list-all", "valid?", "$ex",  "+",  "-",   "*",   "/",
                           "//",    "%",        "<=",     "==",   "!=", "&&",  "||",  "..",
                           ".size", "a:b",      "@x",     "~x",   "x'", "_",   "a.b", "é",
                           "日本",  "a1",       "-x",     "--1",  "+1", "a-1", "!",   "=",
                           "...",   "x->y",     "$",      "&rest"};
  for (const char* text : symbols) {
    NodePtr node = read_one(text);
    EXPECT_EQ(node->kind, NodeKind::Symbol) << text;
    EXPECT_EQ(node->text, text);
  }
}

TEST(Reader, SymbolsEndAtDelimiters) {
  EXPECT_EQ(dump("a(b)c[d]e{^f g}h\"i\"j"), "a (b) c [d] e {^f g} h \"i\" j");
  EXPECT_EQ(dump("a#comment\nb"), "a b");
  EXPECT_EQ(dump("a^b"), "a ^b");
}

// ---- numbers

TEST(Reader, Integers) {
  EXPECT_EQ(dump("0 10 -3 007 1_000_000 1__0 1_"), "0 10 -3 7 1000000 10 1");
  EXPECT_EQ(dump("0x1F 0X1f 0xff_ff -0x10 0x0"), "31 31 65535 -16 0");
  EXPECT_EQ(dump("9223372036854775807 -9223372036854775808"),
            "9223372036854775807 -9223372036854775808");
  EXPECT_EQ(dump("0x7FFFFFFFFFFFFFFF -0x8000000000000000"),
            "9223372036854775807 -9223372036854775808");
  NodePtr node = read_one("-42");
  EXPECT_EQ(node->kind, NodeKind::Int);
  EXPECT_EQ(node->int_value, -42);
}

TEST(Reader, IntegerTooLarge) {
  for (const char* text :
       {"9223372036854775808", "-9223372036854775809", "0x8000000000000000", "0xFFFFFFFFFFFFFFFF",
        "99999999999999999999999", "1_000_000_000_000_000_000_000"}) {
    EXPECT_EQ(dump(text), "error: 1:1: integer literal too large") << text;
  }
  EXPECT_EQ(dump("(x\n  -99999999999999999999)"), "error: 2:3: integer literal too large");
}

TEST(Reader, Floats) {
  EXPECT_EQ(dump("3.14 -0.5 1.0e10 1e3 2E-2 1e+2 1_000.5 0.1 -0.0 1.5e-3"),
            "F3.14 F-0.5 F1e+10 F1000 F0.02 F100 F1000.5 F0.1 F-0 F0.0015");
  NodePtr node = read_one("1e3");
  EXPECT_EQ(node->kind, NodeKind::Float);
  EXPECT_DOUBLE_EQ(node->float_value, 1000.0);
  EXPECT_EQ(dump("1e400"), "error: 1:1: float literal out of range '1e400'");
}

TEST(Reader, InvalidNumbers) {
  for (const char* text : {"3abc", "1.", "1.e5", "1e", "1e+", "1e5x", "0x", "0xg", "0x_1", "1.2.3",
                           "-1x", "1_000x", "0x1G", "1..3", "2.x", "1.5f", "0b101", "1e1.5"}) {
    EXPECT_EQ(dump(text), std::string("error: 1:1: invalid number '") + text + "'") << text;
  }
  EXPECT_EQ(dump("(f 3abc)"), "error: 1:4: invalid number '3abc'");
}

TEST(Reader, NegativeLiteralsVersusOperators) {
  std::vector<NodePtr> program = read("(a -1)");
  ASSERT_EQ(program.size(), 1u);
  const Node& list = *program[0];
  ASSERT_EQ(list.children.size(), 2u);
  EXPECT_EQ(list.children[0]->kind, NodeKind::Symbol);
  EXPECT_EQ(list.children[1]->kind, NodeKind::Int);
  EXPECT_EQ(list.children[1]->int_value, -1);

  program = read("(a - 1)");
  const Node& infix = *program[0];
  ASSERT_EQ(infix.children.size(), 3u);
  EXPECT_EQ(infix.children[1]->kind, NodeKind::Symbol);
  EXPECT_EQ(infix.children[1]->text, "-");
  EXPECT_EQ(infix.children[2]->int_value, 1);

  EXPECT_EQ(dump("(a-1)"), "(a-1)");
  EXPECT_EQ(read_one("(a-1)")->children[0]->kind, NodeKind::Symbol);
  EXPECT_EQ(dump("[-1 -2.5 - -x -0x1]"), "[-1 F-2.5 - -x -1]");
  EXPECT_EQ(dump("(-1)"), "(-1)");
  EXPECT_EQ(read_one("(-1)")->children[0]->kind, NodeKind::Int);
}

// ---- strings

TEST(Reader, Strings) {
  NodePtr node = read_one("\"hello world\"");
  EXPECT_EQ(node->kind, NodeKind::String);
  EXPECT_EQ(node->text, "hello world");
  EXPECT_EQ(read_one("\"\"")->text, "");
  EXPECT_EQ(read_one("\"line one\nline two\"")->text, "line one\nline two");
  EXPECT_EQ(read_one("\"héllo 日本 😀\"")->text, "héllo 日本 😀");
  EXPECT_EQ(read_one("\"# not a comment ^ ( ] {\"")->text, "# not a comment ^ ( ] {");
  EXPECT_EQ(read_one("\"#{x}\"")->text, "#{x}");  // plain strings do not interpolate
  EXPECT_EQ(read_one("\"tab\there\x01\"")->text, "tab\there\x01");
}

TEST(Reader, StringLineEndingsAreNormalized) {
  EXPECT_EQ(read_one("\"a\r\nb\"")->text, "a\nb");
  EXPECT_EQ(read_one("\"a\rb\"")->text, "a\rb");
}

TEST(Reader, StringEscapes) {
  EXPECT_EQ(read_one(R"w("\n\t\r\\\"\'\#\$\{\}\e")w")->text, "\n\t\r\\\"'#${}\x1B");
  NodePtr nul = read_one(R"w("a\0b")w");
  EXPECT_EQ(nul->text, std::string("a\0b", 3));
  EXPECT_EQ(read_one(R"w("\u{1F600}")w")->text, "😀");
  EXPECT_EQ(read_one(R"w("\u00e9\u00E9")w")->text, "éé");
  EXPECT_EQ(read_one(R"w("\u{41}\u{0041}\u{10FFFF}")w")->text, "AA\xF4\x8F\xBF\xBF");
  EXPECT_EQ(read_one(R"w("\u{0}")w")->text, std::string("\0", 1));
  EXPECT_EQ(read_one(R"w("\u65e5\u672c")w")->text, "日本");
  EXPECT_EQ(read_one(R"w("\u0041BC")w")->text, "ABC");
}

TEST(Reader, BadEscapes) {
  EXPECT_EQ(dump(R"w("ab\q")w"), "error: 1:4: unknown escape '\\q'");
  EXPECT_EQ(dump(R"w("\a")w"), "error: 1:2: unknown escape '\\a'");
  EXPECT_EQ(dump(R"w("\x41")w"), "error: 1:2: unknown escape '\\x'");
  EXPECT_EQ(dump("\"\\\n\""), "error: 1:2: unknown escape '\\U+000A'");
  EXPECT_EQ(dump("\"\\é\""), "error: 1:2: unknown escape '\\é'");
  EXPECT_EQ(dump("x\n  \"\\u{D800}\""), "error: 2:4: invalid code point U+D800 in unicode escape");
  EXPECT_EQ(dump(R"w("\uDFFF")w"), "error: 1:2: invalid code point U+DFFF in unicode escape");
  EXPECT_EQ(dump(R"w("\u{110000}")w"), "error: 1:2: invalid code point U+110000 in unicode escape");
  EXPECT_EQ(dump(R"w("\u{}")w"),
            "error: 1:2: invalid unicode escape: expected hex digits and '}' after '\\u{'");
  EXPECT_EQ(dump(R"w("\u{12x}")w"),
            "error: 1:2: invalid unicode escape: expected hex digits and '}' after '\\u{'");
  EXPECT_EQ(dump(R"w("\u{1234567}")w"),
            "error: 1:2: invalid unicode escape: more than 6 hex digits");
  EXPECT_EQ(dump(R"w("\u12")w"), "error: 1:2: invalid unicode escape: expected 4 hex digits");
  EXPECT_EQ(dump(R"w("\uZZZZ")w"), "error: 1:2: invalid unicode escape: expected 4 hex digits");
}

TEST(Reader, UnterminatedString) {
  EXPECT_EQ(dump("(print \"abc"), "incomplete: 1:8: unterminated string");
  EXPECT_EQ(dump("x\n\"abc\ndef"), "incomplete: 2:1: unterminated string");
  EXPECT_EQ(dump("\"abc\\"), "incomplete: 1:1: unterminated string");
  EXPECT_EQ(dump("\"\\u{1F6"), "incomplete: 1:1: unterminated string");
  EXPECT_EQ(dump("\"\\u00"), "incomplete: 1:1: unterminated string");
  EXPECT_EQ(dump("\""), "incomplete: 1:1: unterminated string");
  ParseError error = read_error("\"abc");
  EXPECT_TRUE(error.incomplete);
  EXPECT_EQ(error.message, "unterminated string");
}

// ---- interpolated strings

TEST(Reader, InterpolatedString) {
  NodePtr node = read_one(R"w(#"Hello, #{name}! #{(n + 1)}")w");
  EXPECT_EQ(node->kind, NodeKind::Interpolated);
  ASSERT_EQ(node->children.size(), 4u);
  EXPECT_EQ(node->children[0]->kind, NodeKind::String);
  EXPECT_EQ(node->children[0]->text, "Hello, ");
  EXPECT_EQ(node->children[1]->kind, NodeKind::Symbol);
  EXPECT_EQ(node->children[1]->text, "name");
  EXPECT_EQ(node->children[2]->kind, NodeKind::String);
  EXPECT_EQ(node->children[2]->text, "! ");
  EXPECT_EQ(node->children[3]->kind, NodeKind::List);
  EXPECT_EQ(dump(R"w(#"Hello, #{name}! #{(n + 1)}")w"), R"w(#("Hello, " name "! " (n + 1)))w");
}

TEST(Reader, InterpolatedStringOmitsEmptyParts) {
  EXPECT_EQ(dump(R"w(#"#{a}#{b}")w"), "#(a b)");
  EXPECT_EQ(dump(R"w(#"#{a}")w"), "#(a)");
  EXPECT_EQ(dump(R"w(#"")w"), "#()");
  EXPECT_EQ(dump(R"w(#"plain")w"), R"w(#("plain"))w");
  EXPECT_EQ(read_one(R"w(#"plain")w")->kind, NodeKind::Interpolated);
}

TEST(Reader, InterpolatedStringContents) {
  EXPECT_EQ(dump(R"w(#"#{ x }")w"), "#(x)");
  EXPECT_EQ(dump("#\"#{\n  x # comment }\n , }\""), "#(x)");
  EXPECT_EQ(dump("#\"#{#< block >#x}\""), "#(x)");
  EXPECT_EQ(dump(R"w(#"a\n\t\#{x}\u{1F600}")w"), "#(\"a\\n\\t#{x}😀\")");
  EXPECT_EQ(dump(R"w(#"# { #x {}")w"), R"w(#("# { #x {}"))w");
  EXPECT_EQ(dump(R"w(#"#{"str"}")w"), R"w(#("str"))w");
  EXPECT_EQ(dump(R"w(#"#{[1 {^a 2}]}")w"), "#([1 {^a 2}])");
  EXPECT_EQ(dump(R"w(#"v=#{a/0}")w"), R"w(#("v=" path(a 0)))w");
  EXPECT_EQ(dump(R"w(#"#{-1}")w"), "#(-1)");
  EXPECT_EQ(dump("#\"a\nb #{x}\""), "#(\"a\\nb \" x)");
  EXPECT_EQ(dump(R"w(x #"a" y)w"), R"w(x #("a") y)w");
}

TEST(Reader, NestedInterpolation) {
  EXPECT_EQ(dump(R"w(#"a #{#"b #{c} d"} e")w"), R"w(#("a " #("b " c " d") " e"))w");
  EXPECT_EQ(dump(R"w(#"#{#"#{#"#{x}"}"}")w"), "#(#(#(x)))");
  EXPECT_EQ(dump(R"w((f #"x#{(g #"y#{z}")}"))w"), R"w((f #("x" (g #("y" z)))))w");
}

TEST(Reader, InterpolationErrors) {
  EXPECT_EQ(dump(R"w(#"#{a b}")w"), "error: 1:7: expected '}' to close '#{'");
  EXPECT_EQ(dump(R"w(#"#{a)}")w"), "error: 1:6: expected '}' to close '#{'");
  EXPECT_EQ(dump(R"w(#"#{)}")w"), "error: 1:5: expected '}' to close '#{'");
  EXPECT_EQ(dump(R"w(#"#{^^x}")w"), "error: 1:5: expected '}' to close '#{'");
  EXPECT_EQ(dump(R"w(#"#{}")w"), "error: 1:5: empty '#{}' in interpolated string");
  EXPECT_EQ(dump(R"w(#"#{ }")w"), "error: 1:6: empty '#{}' in interpolated string");
  EXPECT_EQ(dump("#\"ab"), "incomplete: 1:1: unterminated string");
  EXPECT_EQ(dump("#\"ab #{x} cd"), "incomplete: 1:1: unterminated string");
  EXPECT_EQ(dump("#\"ab #{x"), "incomplete: 1:9: unclosed '#{' opened at 1:6");
  EXPECT_EQ(dump("#\"ab #{"), "incomplete: 1:8: unclosed '#{' opened at 1:6");
  EXPECT_EQ(dump("#\"ab #{(x"), "incomplete: 1:10: unclosed '(' opened at 1:8");
  EXPECT_EQ(dump("#\"a #{x} b #{y"), "incomplete: 1:15: unclosed '#{' opened at 1:12");
  EXPECT_EQ(dump(R"w(#"\q")w"), "error: 1:3: unknown escape '\\q'");
  // A hole ends at its '}': the quote after x does not end the string.
  EXPECT_EQ(dump("#\"#{x\"}"), "error: 1:6: expected '}' to close '#{'");
}

// ---- paths

TEST(Reader, Paths) {
  EXPECT_EQ(dump("a/0 a/-1 cfg/host m/outer/inner obj/.size"),
            R"w(path(a 0) path(a -1) path(cfg "host") path(m "outer" "inner") path(obj .size))w");
  EXPECT_EQ(dump("$ex/message str/join m/a/0/b"),
            R"w(path($ex "message") path(str "join") path(m "a" 0 "b"))w");
  EXPECT_EQ(
      dump("a/1x a/1.5 a/0x1F a/- a/-x a/valid? a/é"),
      R"w(path(a "1x") path(a "1.5") path(a "0x1F") path(a "-") path(a "-x") path(a "valid?") path(a "é"))w");
  EXPECT_EQ(dump("(arr/0 = 99)"), "(path(arr 0) = 99)");
  EXPECT_EQ(dump("server/.stop/x"), R"w(path(server .stop "x"))w");
  EXPECT_EQ(dump("-/x true/x"), R"w(path(- "x") path(true "x"))w");
}

TEST(Reader, PathSegmentKinds) {
  NodePtr path = read_one("obj/items/-2/.size");
  EXPECT_EQ(path->kind, NodeKind::Path);
  ASSERT_EQ(path->children.size(), 4u);
  EXPECT_EQ(path->children[0]->kind, NodeKind::Symbol);
  EXPECT_EQ(path->children[0]->text, "obj");
  EXPECT_EQ(path->children[1]->kind, NodeKind::String);
  EXPECT_EQ(path->children[1]->text, "items");
  EXPECT_EQ(path->children[2]->kind, NodeKind::Int);
  EXPECT_EQ(path->children[2]->int_value, -2);
  EXPECT_EQ(path->children[3]->kind, NodeKind::Symbol);
  EXPECT_EQ(path->children[3]->text, ".size");
}

TEST(Reader, SlashOperatorsAreSymbols) {
  for (const char* text : {"/", "//", "///", "/=", "//=", "</>", "-/"}) {
    NodePtr node = read_one(text);
    EXPECT_EQ(node->kind, NodeKind::Symbol) << text;
    EXPECT_EQ(node->text, text);
  }
  EXPECT_EQ(dump("(a / b)"), "(a / b)");
  EXPECT_EQ(dump("(x /= 2)"), "(x /= 2)");
}

TEST(Reader, PathPositions) {
  NodePtr path = read_one("  é/üü/0/.m");
  EXPECT_EQ(loc_of(*path), "1:3");
  ASSERT_EQ(path->children.size(), 4u);
  EXPECT_EQ(loc_of(*path->children[0]), "1:3");
  EXPECT_EQ(loc_of(*path->children[1]), "1:5");
  EXPECT_EQ(loc_of(*path->children[2]), "1:8");
  EXPECT_EQ(loc_of(*path->children[3]), "1:10");
}

TEST(Reader, PathErrors) {
  EXPECT_EQ(dump("a//b"), "error: 1:3: empty segment in path 'a//b'");
  EXPECT_EQ(dump("x a/"), "error: 1:5: empty segment in path 'a/'");
  EXPECT_EQ(dump("/a"), "error: 1:1: empty segment in path '/a'");
  EXPECT_EQ(dump("3/x"), "error: 1:1: a path must start with a name, not '3'");
  EXPECT_EQ(dump("-1/x"), "error: 1:1: a path must start with a name, not '-1'");
  EXPECT_EQ(dump("1.5/2"), "error: 1:1: a path must start with a name, not '1.5'");
  EXPECT_EQ(dump("a/."), "error: 1:3: expected a method name after '.' in path 'a/.'");
  EXPECT_EQ(dump("a/99999999999999999999"), "error: 1:3: integer literal too large");
}

// ---- keywords and flags

TEST(Reader, Keywords) {
  NodePtr node = read_one("^port");
  EXPECT_EQ(node->kind, NodeKind::Keyword);
  EXPECT_EQ(node->text, "port");
  EXPECT_EQ(dump("(f ^port 9090 ^host \"h\")"), "(f ^port 9090 ^host \"h\")");
  EXPECT_EQ(dump("^a-b? ^é"), "^a-b? ^é");
}

TEST(Reader, FlagShortcuts) {
  std::vector<NodePtr> program = read("^^ssl ^!ssl");
  ASSERT_EQ(program.size(), 4u);
  EXPECT_EQ(program[0]->kind, NodeKind::Keyword);
  EXPECT_EQ(program[0]->text, "ssl");
  EXPECT_EQ(program[1]->kind, NodeKind::Bool);
  EXPECT_TRUE(program[1]->bool_value);
  EXPECT_EQ(program[2]->kind, NodeKind::Keyword);
  EXPECT_EQ(program[2]->text, "ssl");
  EXPECT_EQ(program[3]->kind, NodeKind::Bool);
  EXPECT_FALSE(program[3]->bool_value);
  // The flag's Bool takes the keyword's position.
  EXPECT_EQ(loc_of(*program[1]), "1:1");
  EXPECT_EQ(loc_of(*program[3]), "1:7");
  EXPECT_EQ(dump("(fn ^^async f [])"), "(fn ^async true f [])");
}

TEST(Reader, KeywordErrors) {
  EXPECT_EQ(dump("^"), "error: 1:2: expected a name after '^'");
  EXPECT_EQ(dump("(f ^ x)"), "error: 1:5: expected a name after '^'");
  EXPECT_EQ(dump("^^"), "error: 1:3: expected a name after '^^'");
  EXPECT_EQ(dump("^!"), "error: 1:3: expected a name after '^!'");
  EXPECT_EQ(dump("^\"x\""), "error: 1:2: expected a name after '^'");
  EXPECT_EQ(dump("^^^x"), "error: 1:3: expected a name after '^^'");
  EXPECT_EQ(dump("(^)"), "error: 1:3: expected a name after '^'");
}

// ---- collections

TEST(Reader, Collections) {
  EXPECT_EQ(dump("() [] {}"), "() [] {}");
  EXPECT_EQ(dump("[1 2 \"x\" [3]]"), "[1 2 \"x\" [3]]");
  EXPECT_EQ(dump("(a (b [c {^d e}]))"), "(a (b [c {^d e}]))");
  EXPECT_EQ(read_one("()")->kind, NodeKind::List);
  EXPECT_EQ(read_one("[]")->kind, NodeKind::Array);
  EXPECT_EQ(read_one("{}")->kind, NodeKind::Map);
}

TEST(Reader, Maps) {
  EXPECT_EQ(dump("{^host \"h\" ^port 80}"), "{^host \"h\" ^port 80}");
  EXPECT_EQ(dump("{\"a b\" 1 ^c [2]}"), "{\"a b\" 1 ^c [2]}");
  EXPECT_EQ(dump("{^^ssl ^port 1 ^!verbose}"), "{^ssl true ^port 1 ^verbose false}");
  EXPECT_EQ(dump("{^a {^b {}}}"), "{^a {^b {}}}");
  EXPECT_EQ(dump("{^a (f ^b 1)}"), "{^a (f ^b 1)}");
}

TEST(Reader, MapErrors) {
  EXPECT_EQ(dump("{^a}"), "error: 1:2: map literal needs a value after ^a");
  EXPECT_EQ(dump("{^a 1\n ^b}"), "error: 2:2: map literal needs a value after ^b");
  EXPECT_EQ(dump("{\"k\"}"), "error: 1:2: map literal needs a value after \"k\"");
  EXPECT_EQ(dump("{^a ^b 1}"), "error: 1:2: map literal needs a value after ^a");
  EXPECT_EQ(dump("{^a ^^b}"), "error: 1:2: map literal needs a value after ^a");
  EXPECT_EQ(dump("{1 2}"), "error: 1:2: map keys must be ^names or strings");
  EXPECT_EQ(dump("{^a 1 b 2}"), "error: 1:7: map keys must be ^names or strings");
  EXPECT_EQ(dump("{(k) 1}"), "error: 1:2: map keys must be ^names or strings");
  EXPECT_EQ(dump("{#\"k\" 1}"), "error: 1:2: map keys must be ^names or strings");
  EXPECT_EQ(dump("{a/b 1}"), "error: 1:2: map keys must be ^names or strings");
}

TEST(Reader, BracketErrors) {
  EXPECT_EQ(dump("(a]"), "error: 1:3: expected ')' to close '(' opened at 1:1");
  EXPECT_EQ(dump("x\n  [a\n  (b)}"), "error: 3:6: expected ']' to close '[' opened at 2:3");
  EXPECT_EQ(dump("{^a 1)"), "error: 1:6: expected '}' to close '{' opened at 1:1");
  EXPECT_EQ(dump(")"), "error: 1:1: unexpected ')'");
  EXPECT_EQ(dump("(a) ]"), "error: 1:5: unexpected ']'");
  EXPECT_EQ(dump("}"), "error: 1:1: unexpected '}'");
  EXPECT_EQ(dump("(a"), "incomplete: 1:3: unclosed '(' opened at 1:1");
  EXPECT_EQ(dump("(a\n  [b\n"), "incomplete: 3:1: unclosed '[' opened at 2:3");
  EXPECT_EQ(dump("{^a 1"), "incomplete: 1:6: unclosed '{' opened at 1:1");
  EXPECT_EQ(dump("(a # comment"), "incomplete: 1:13: unclosed '(' opened at 1:1");
}

TEST(Reader, IncompleteFlag) {
  EXPECT_TRUE(read_error("(a").incomplete);
  EXPECT_TRUE(read_error("[").incomplete);
  EXPECT_TRUE(read_error("{").incomplete);
  EXPECT_TRUE(read_error("\"abc").incomplete);
  EXPECT_TRUE(read_error("#\"a #{b").incomplete);
  EXPECT_TRUE(read_error("#< comment").incomplete);
  EXPECT_FALSE(read_error("(a]").incomplete);
  EXPECT_FALSE(read_error(")").incomplete);
  EXPECT_FALSE(read_error("3x").incomplete);
  EXPECT_FALSE(read_error("{^a}").incomplete);
  EXPECT_FALSE(read_error("\"\\q").incomplete);
}

// ---- comments

TEST(Reader, Comments) {
  EXPECT_EQ(dump("a # comment (\nb"), "a b");
  EXPECT_EQ(dump("#!/usr/bin/env weft\n(main)"), "(main)");
  EXPECT_EQ(dump("a #< block ) ] \n still ># b"), "a b");
  EXPECT_EQ(dump("a #< outer #< inner >#  still outer ># b"), "a b");
  EXPECT_EQ(dump("#<>#x"), "x");
  EXPECT_EQ(dump("#<#>#x"), "x");
  EXPECT_EQ(dump("(a #< b ># c)"), "(a c)");
  EXPECT_EQ(dump("# only a comment"), "");
  EXPECT_EQ(dump("#"), "");
  EXPECT_EQ(dump("a #{ not interpolation\nb"), "a b");
  EXPECT_EQ(dump("# \x01 control and é in a comment\nx"), "x");
  EXPECT_EQ(dump("#< \"unclosed string in comment >#x"), "x");
}

TEST(Reader, UnterminatedBlockComment) {
  EXPECT_EQ(dump("a\n  #< never closed"), "incomplete: 2:3: unterminated block comment");
  EXPECT_EQ(dump("#< #< >#"), "incomplete: 1:1: unterminated block comment");
}

// ---- positions

TEST(Reader, Positions) {
  std::vector<NodePtr> program = read("(a\n  [b \"s\"]\n\t{^k 1.5})\nlast");
  ASSERT_EQ(program.size(), 2u);
  const Node& list = *program[0];
  EXPECT_EQ(loc_of(list), "1:1");
  EXPECT_EQ(loc_of(*list.children[0]), "1:2");
  const Node& array = *list.children[1];
  EXPECT_EQ(loc_of(array), "2:3");
  EXPECT_EQ(loc_of(*array.children[0]), "2:4");
  EXPECT_EQ(loc_of(*array.children[1]), "2:6");
  const Node& map = *list.children[2];
  EXPECT_EQ(loc_of(map), "3:2");  // a tab is one column
  EXPECT_EQ(loc_of(*map.children[0]), "3:3");
  EXPECT_EQ(loc_of(*map.children[1]), "3:6");
  EXPECT_EQ(loc_of(*program[1]), "4:1");
}

TEST(Reader, ColumnsCountCodePoints) {
  std::vector<NodePtr> program = read("\"日本語\" x é😀 y");
  ASSERT_EQ(program.size(), 4u);
  EXPECT_EQ(loc_of(*program[1]), "1:7");
  EXPECT_EQ(loc_of(*program[2]), "1:9");
  EXPECT_EQ(loc_of(*program[3]), "1:12");
}

TEST(Reader, PositionsAfterMultiLineTokens) {
  std::vector<NodePtr> program = read("\"a\nbc\" x #< \n\n ># y\r\nz");
  ASSERT_EQ(program.size(), 4u);
  EXPECT_EQ(loc_of(*program[0]), "1:1");
  EXPECT_EQ(loc_of(*program[1]), "2:5");
  EXPECT_EQ(loc_of(*program[2]), "4:5");
  EXPECT_EQ(loc_of(*program[3]), "5:1");
}

TEST(Reader, InterpolationPositions) {
  NodePtr node = read_one("  #\"ab #{x}\ncd #{ (y) }\"");
  EXPECT_EQ(loc_of(*node), "1:3");
  ASSERT_EQ(node->children.size(), 4u);
  EXPECT_EQ(loc_of(*node->children[0]), "1:5");
  EXPECT_EQ(loc_of(*node->children[1]), "1:10");
  EXPECT_EQ(loc_of(*node->children[2]), "1:12");
  EXPECT_EQ(loc_of(*node->children[3]), "2:7");
}

TEST(Reader, ByteOrderMarkIsSkipped) {
  std::vector<NodePtr> program = read("\xEF\xBB\xBFx");
  ASSERT_EQ(program.size(), 1u);
  EXPECT_EQ(program[0]->text, "x");
  EXPECT_EQ(loc_of(*program[0]), "1:2");
}

// ---- characters

TEST(Reader, InvalidUtf8) {
  EXPECT_EQ(dump("ab \xFF"), "error: 1:4: invalid UTF-8");
  EXPECT_EQ(dump("a\xFF"), "error: 1:2: invalid UTF-8");
  EXPECT_EQ(dump("x\n \"ok \xC3\""), "error: 2:6: invalid UTF-8");   // truncated sequence
  EXPECT_EQ(dump("\xC0\xAF"), "error: 1:1: invalid UTF-8");          // overlong '/'
  EXPECT_EQ(dump("\"\xED\xA0\x80\""), "error: 1:2: invalid UTF-8");  // surrogate
  EXPECT_EQ(dump("\xF4\x90\x80\x80"), "error: 1:1: invalid UTF-8");  // past U+10FFFF
  EXPECT_EQ(dump("# comment \x80\n"), "error: 1:11: invalid UTF-8");
  EXPECT_EQ(dump("#\"a \xFE\""), "error: 1:5: invalid UTF-8");
  EXPECT_EQ(dump("^\xE2\x82"), "error: 1:2: invalid UTF-8");
  EXPECT_EQ(dump("é\xE2"), "error: 1:2: invalid UTF-8");
}

TEST(Reader, UnexpectedCharacters) {
  EXPECT_EQ(dump("a \x01"), "error: 1:3: unexpected character U+0001");
  EXPECT_EQ(dump(std::string("(a \0)", 5)), "error: 1:4: unexpected character U+0000");
  EXPECT_EQ(dump("\x7F"), "error: 1:1: unexpected character U+007F");
  EXPECT_EQ(dump("x\xC2\x85"), "error: 1:2: unexpected character U+0085");
  EXPECT_EQ(dump("a;b"), "error: 1:2: unexpected character ';'");
  EXPECT_EQ(dump("`x"), "error: 1:1: unexpected character '`'");
  EXPECT_EQ(dump("\\x"), "error: 1:1: unexpected character '\\'");
}

// ---- nesting

std::string nested(std::string_view open, std::string_view inner, std::string_view close,
                   size_t depth) {
  std::string text;
  text.reserve(depth * (open.size() + close.size()) + inner.size());
  for (size_t i = 0; i < depth; ++i) text += open;
  text += inner;
  for (size_t i = 0; i < depth; ++i) text += close;
  return text;
}

TEST(Reader, NestingLimit) {
  EXPECT_EQ(read(nested("(", "x", ")", kMaxNesting)).size(), 1u);
  EXPECT_EQ(read(nested("[", "", "]", kMaxNesting)).size(), 1u);
  EXPECT_EQ(read(nested("{^a ", "1", "}", kMaxNesting)).size(), 1u);
  EXPECT_EQ(read(nested("#\"#{", "x", "}\"", kMaxNesting)).size(), 1u);
  EXPECT_EQ(dump(nested("(", "x", ")", kMaxNesting + 1)),
            "error: 1:1001: nesting too deep (more than 1000 levels)");
  EXPECT_EQ(dump(nested("[", "", "]", kMaxNesting + 1)),
            "error: 1:1001: nesting too deep (more than 1000 levels)");
  EXPECT_EQ(dump(nested("{^a ", "1", "}", kMaxNesting + 1)),
            "error: 1:4001: nesting too deep (more than 1000 levels)");
  // Each '#{' is one level: the 1001st hole opens at column 4 * 1000 + 3.
  EXPECT_EQ(dump(nested("#\"#{", "x", "}\"", kMaxNesting + 1)),
            "error: 1:4003: nesting too deep (more than 1000 levels)");
  // Levels mix kinds.
  EXPECT_EQ(read(nested("([#\"#{", "x", "}\"])", kMaxNesting / 3)).size(), 1u);
  EXPECT_EQ(read_error(nested("([#\"#{", "x", "}\"])", kMaxNesting / 3 + 1)).message,
            "nesting too deep (more than 1000 levels)");
}

TEST(Reader, DeepNestingFailsCleanly) {
  const size_t depth = 100'000;
  for (std::string_view open : {"(", "[", "{", "#\"#{", "([{^a #\"#{"}) {
    std::string unclosed;
    for (size_t i = 0; i < depth; ++i) unclosed += open;
    ParseError error = read_error(unclosed);
    EXPECT_EQ(error.message, "nesting too deep (more than 1000 levels)") << open;
    EXPECT_FALSE(error.incomplete);
  }
  EXPECT_EQ(read_error(nested("(", "", ")", depth)).message,
            "nesting too deep (more than 1000 levels)");
  // Deep closers alone fail at the first one.
  EXPECT_EQ(dump(std::string(depth, ')')), "error: 1:1: unexpected ')'");
  // Deep block comments are not forms and have no limit.
  EXPECT_EQ(dump(nested("#<", "", ">#", depth) + "x"), "x");
}

TEST(Reader, ManyFormsAreNotNesting) {
  std::string text;
  for (int i = 0; i < 5000; ++i) text += "(a [b]) ";
  EXPECT_EQ(read(text).size(), 5000u);
}

TEST(ReaderSyntax, NodeKindNames) {
  EXPECT_STREQ(node_kind_name(NodeKind::Nil), "Nil");
  EXPECT_STREQ(node_kind_name(NodeKind::Bool), "Bool");
  EXPECT_STREQ(node_kind_name(NodeKind::Int), "Int");
  EXPECT_STREQ(node_kind_name(NodeKind::Float), "Float");
  EXPECT_STREQ(node_kind_name(NodeKind::String), "String");
  EXPECT_STREQ(node_kind_name(NodeKind::Interpolated), "Interpolated");
  EXPECT_STREQ(node_kind_name(NodeKind::Symbol), "Symbol");
  EXPECT_STREQ(node_kind_name(NodeKind::Keyword), "Keyword");
  EXPECT_STREQ(node_kind_name(NodeKind::Path), "Path");
  EXPECT_STREQ(node_kind_name(NodeKind::List), "List");
  EXPECT_STREQ(node_kind_name(NodeKind::Array), "Array");
  EXPECT_STREQ(node_kind_name(NodeKind::Map), "Map");
}

TEST(Reader, DiagnosticForParseError) {
  SourceFile source{"demo.weft", "(var x 1)\n(print (x ]"};
  try {
    read_program(source);
    FAIL() << "expected a ParseError";
  } catch (const ParseError& error) {
    EXPECT_EQ(format_diagnostic(source, error.loc, error.message),
              "demo.weft:2:11: expected ')' to close '(' opened at 2:8\n"
              "  (print (x ]\n"
              "            ^\n");
  }
}

}  // namespace
}  // namespace weft
