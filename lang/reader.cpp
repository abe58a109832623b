// The reader turns source text into syntax trees in one pass, with no token
// list in between: a cursor walks the text code point by code point, and each
// node is made as soon as its characters have been seen.
//
// Implementation overview
//
// Nested forms are not read by recursion. Every form that has been opened and
// not yet closed -- '(' '[' '{', and the '#{' hole of an interpolated
// string -- is an OpenForm on an explicit stack, and a finished node is handed
// to the form below it (deliver). So the reader's C++ stack depth is the same
// whatever the input, and kMaxNesting, by bounding the stack of open forms,
// also bounds the depth of every tree that the compiler later walks
// recursively.
//
// An interpolated string is read in pieces: its text up to a '#{' (the hole is
// then an OpenForm that takes exactly one form), the '}', then its text up to
// the next '#{' or the closing '"'. One OpenForm serves all holes of a string.
//
// The first problem in text order is thrown as a ParseError; partial trees are
// owned by the stack and freed as it unwinds.
#include "lang/reader.h"

#include <charconv>
#include <cstdint>
#include <cstdio>
#include <string_view>
#include <utility>

namespace weft {
namespace {

struct Decoded {
  char32_t value = 0;
  uint32_t size = 0;  // in bytes; 0 when the bytes are not valid UTF-8
};

// Strict UTF-8 (RFC 3629): overlong forms, surrogates and values past
// U+10FFFF are invalid, so every accepted text round-trips.
Decoded decode_utf8(std::string_view text, size_t pos) {
  unsigned char lead = static_cast<unsigned char>(text[pos]);
  if (lead < 0x80) return {lead, 1};
  uint32_t size;
  char32_t value;
  char32_t smallest;
  if ((lead & 0xE0) == 0xC0) {
    size = 2, value = lead & 0x1F, smallest = 0x80;
  } else if ((lead & 0xF0) == 0xE0) {
    size = 3, value = lead & 0x0F, smallest = 0x800;
  } else if ((lead & 0xF8) == 0xF0) {
    size = 4, value = lead & 0x07, smallest = 0x10000;
  } else {
    return {};
  }
  if (text.size() - pos < size) return {};
  for (uint32_t i = 1; i < size; ++i) {
    unsigned char next = static_cast<unsigned char>(text[pos + i]);
    if ((next & 0xC0) != 0x80) return {};
    value = (value << 6) | (next & 0x3F);
  }
  if (value < smallest || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) return {};
  return {value, size};
}

void append_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

bool is_whitespace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ',';
}

// C0 and C1 controls and DEL. Outside strings and comments they are errors
// rather than symbol characters: an invisible character in a name would make
// two names that look alike differ.
bool is_control(char32_t c) {
  return c < 0x20 || (c >= 0x7F && c < 0xA0);
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

bool is_hex_digit(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int digit_value(char c) {
  if (is_digit(c)) return c - '0';
  return (c | 0x20) - 'a' + 10;
}

bool is_symbol_char(char32_t c) {
  if (c >= 0x80) return !is_control(c);
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("_-+*/%<>=!?$&|.:@~'").find(static_cast<char>(c)) !=
         std::string_view::npos;
}

// A token that starts like this is read as a number, so `-1` is a literal
// while `-` and `-x` are symbols.
bool starts_like_number(std::string_view token) {
  return !token.empty() &&
         (is_digit(token[0]) || (token[0] == '-' && token.size() > 1 && is_digit(token[1])));
}

// Digits in `base`, '_' separators skipped, as a magnitude of at most
// `limit`; false when it is larger.
bool parse_magnitude(std::string_view digits, int base, uint64_t limit, uint64_t& out) {
  uint64_t value = 0;
  for (char c : digits) {
    if (c == '_') continue;
    uint64_t digit = static_cast<uint64_t>(digit_value(c));
    if (value > (limit - digit) / static_cast<uint64_t>(base)) return false;
    value = value * static_cast<uint64_t>(base) + digit;
  }
  out = value;
  return true;
}

// End of `[0-9][0-9_]*` starting at `pos`; `pos` itself when there is none.
size_t scan_digits(std::string_view text, size_t pos) {
  if (pos >= text.size() || !is_digit(text[pos])) return pos;
  while (pos < text.size() && (is_digit(text[pos]) || text[pos] == '_')) ++pos;
  return pos;
}

size_t count_code_points(std::string_view text) {
  size_t count = 0;
  for (char c : text) count += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return count;
}

std::string code_point_name(char32_t c) {
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "U+%04X", static_cast<unsigned>(c));
  return buffer;
}

// A character as a message shows it: itself when visible, else U+XXXX.
std::string show_char(char32_t c) {
  if (is_control(c) || c == ' ') return code_point_name(c);
  std::string out;
  append_utf8(out, c);
  return out;
}

std::string show_loc(SourceLoc loc) {
  return std::to_string(loc.line) + ":" + std::to_string(loc.column);
}

const char* opener_for(char closer) {
  switch (closer) {
    case ')':
      return "(";
    case ']':
      return "[";
    case '}':
      return "{";
    default:
      return "#{";
  }
}

std::string show_map_key(const Node& key) {
  return key.kind == NodeKind::Keyword ? "^" + key.text : "\"" + key.text + "\"";
}

NodePtr make_node(NodeKind kind, SourceLoc loc) {
  NodePtr node = std::make_unique<Node>();
  node->kind = kind;
  node->loc = loc;
  return node;
}

NodePtr make_int(int64_t value, SourceLoc loc) {
  NodePtr node = make_node(NodeKind::Int, loc);
  node->int_value = value;
  return node;
}

NodePtr make_text(NodeKind kind, std::string text, SourceLoc loc) {
  NodePtr node = make_node(kind, loc);
  node->text = std::move(text);
  return node;
}

class Reader {
 public:
  explicit Reader(std::string_view text) : text_(text) {}

  std::vector<NodePtr> read_program();

 private:
  // A form whose opener has been read and whose closer has not.
  struct OpenForm {
    NodePtr node;
    char closer = 0;         // ')' ']' '}', or 0 for the hole of an interpolated string
    SourceLoc opened;        // the opener: '(' '[' '{', or the current hole's '#{'
    SourceLoc string_start;  // holes only: the string's '#"'
    bool has_expr = false;   // holes only: its one form has been read
  };

  bool at_end() const { return pos_ >= text_.size(); }
  char peek(size_t ahead = 0) const {
    return pos_ + ahead < text_.size() ? text_[pos_ + ahead] : '\0';
  }
  char32_t peek_code_point() const;
  char32_t advance();
  [[noreturn]] void fail(SourceLoc loc, std::string message, bool incomplete = false) const {
    throw ParseError{loc, std::move(message), incomplete};
  }

  void skip_trivia();
  void skip_block_comment();
  void read_item();
  void open_form(NodeKind kind, char closer);
  void close_form(char closer);
  void check_depth(SourceLoc opener) const;
  void deliver(NodePtr node);
  void check_map_entry(const std::vector<NodePtr>& entries, const Node& node) const;
  NodePtr read_string();
  bool read_string_text(std::string& out, SourceLoc string_start, bool interpolated,
                        SourceLoc* hole);
  void read_escape(std::string& out, SourceLoc string_start);
  void read_unicode_escape(std::string& out, SourceLoc escape, SourceLoc string_start);
  void read_interpolated();
  bool read_interpolated_text(Node& string, SourceLoc string_start, SourceLoc* hole);
  void close_hole();
  void read_keyword();
  std::string_view read_symbol_run();
  void read_token();
  NodePtr read_number(std::string_view token, SourceLoc start) const;
  NodePtr read_path(std::string_view token, SourceLoc start) const;
  NodePtr read_path_segment(std::string_view segment, std::string_view path, SourceLoc loc) const;

  std::string_view text_;
  size_t pos_ = 0;
  SourceLoc loc_{1, 1};
  std::vector<OpenForm> open_;
  std::vector<NodePtr> program_;
};

char32_t Reader::peek_code_point() const {
  Decoded decoded = decode_utf8(text_, pos_);
  if (decoded.size == 0) fail(loc_, "invalid UTF-8");
  return decoded.value;
}

char32_t Reader::advance() {
  char32_t value = static_cast<unsigned char>(text_[pos_]);
  if (value < 0x80) {
    ++pos_;
  } else {
    Decoded decoded = decode_utf8(text_, pos_);
    if (decoded.size == 0) fail(loc_, "invalid UTF-8");
    value = decoded.value;
    pos_ += decoded.size;
  }
  if (value == '\n') {
    ++loc_.line;
    loc_.column = 1;
  } else {
    ++loc_.column;
  }
  return value;
}

std::vector<NodePtr> Reader::read_program() {
  // program := form*
  // A byte order mark is not text; it takes a column so that positions still
  // match format_diagnostic's count of the line's code points.
  if (text_.starts_with("\xEF\xBB\xBF")) advance();
  for (;;) {
    if (!open_.empty() && open_.back().closer == 0 && open_.back().has_expr) {
      close_hole();
      continue;
    }
    skip_trivia();
    if (at_end()) break;
    read_item();
  }
  if (!open_.empty()) {
    const OpenForm& innermost = open_.back();
    fail(loc_,
         std::string("unclosed '") + opener_for(innermost.closer) + "' opened at " +
             show_loc(innermost.opened),
         true);
  }
  return std::move(program_);
}

void Reader::skip_trivia() {
  // trivia  := (whitespace | ',' | comment)*
  // comment := '#' any* end-of-line | block_comment, but not '#"', which
  //            starts an interpolated string
  while (!at_end()) {
    char c = peek();
    if (is_whitespace(c)) {
      advance();
    } else if (c != '#' || peek(1) == '"') {
      return;
    } else if (peek(1) == '<') {
      skip_block_comment();
    } else {
      while (!at_end() && peek() != '\n') advance();
    }
  }
}

void Reader::skip_block_comment() {
  // block_comment := '#<' (block_comment | any)* '>#'
  // Nesting lets a block comment be put around code that holds one already.
  SourceLoc start = loc_;
  advance();
  advance();
  size_t depth = 1;
  while (depth > 0) {
    if (at_end()) fail(start, "unterminated block comment", true);
    if (peek() == '#' && peek(1) == '<') {
      advance();
      advance();
      ++depth;
    } else if (peek() == '>' && peek(1) == '#') {
      advance();
      advance();
      --depth;
    } else {
      advance();
    }
  }
}

void Reader::read_item() {
  // form := atom | '(' form* ')' | '[' form* ']' | '{' (key form)* '}'
  char c = peek();
  switch (c) {
    case '(':
      return open_form(NodeKind::List, ')');
    case '[':
      return open_form(NodeKind::Array, ']');
    case '{':
      return open_form(NodeKind::Map, '}');
    case ')':
    case ']':
    case '}':
      return close_form(c);
    case '"':
      return deliver(read_string());
    case '#':
      return read_interpolated();  // skip_trivia stops at '#' only before '"'
    case '^':
      return read_keyword();
    default:
      break;
  }
  char32_t code_point = peek_code_point();
  if (is_symbol_char(code_point)) return read_token();
  if (is_control(code_point)) fail(loc_, "unexpected character " + code_point_name(code_point));
  fail(loc_, "unexpected character '" + show_char(code_point) + "'");
}

void Reader::check_depth(SourceLoc opener) const {
  if (open_.size() >= static_cast<size_t>(kMaxNesting)) {
    fail(opener, "nesting too deep (more than " + std::to_string(kMaxNesting) + " levels)");
  }
}

void Reader::open_form(NodeKind kind, char closer) {
  SourceLoc opened = loc_;
  check_depth(opened);
  advance();
  open_.push_back(OpenForm{make_node(kind, opened), closer, opened, {}, false});
}

void Reader::close_form(char closer) {
  SourceLoc at = loc_;
  if (open_.empty()) fail(at, std::string("unexpected '") + closer + "'");
  OpenForm& innermost = open_.back();
  if (innermost.closer == 0) {
    // A hole that has its form is closed by close_hole, so this one is empty.
    fail(at, closer == '}' ? "empty '#{}' in interpolated string" : "expected '}' to close '#{'");
  }
  if (innermost.closer != closer) {
    fail(at, std::string("expected '") + innermost.closer + "' to close '" +
                 opener_for(innermost.closer) + "' opened at " + show_loc(innermost.opened));
  }
  const std::vector<NodePtr>& children = innermost.node->children;
  if (closer == '}' && children.size() % 2 == 1) {
    fail(children.back()->loc, "map literal needs a value after " + show_map_key(*children.back()));
  }
  advance();
  NodePtr node = std::move(innermost.node);
  open_.pop_back();
  deliver(std::move(node));
}

// Hands a finished node to the innermost open form, or to the program.
void Reader::deliver(NodePtr node) {
  if (open_.empty()) {
    program_.push_back(std::move(node));
    return;
  }
  OpenForm& innermost = open_.back();
  if (innermost.closer == 0) {
    // A hole takes exactly one form. A '^^name' flag is two nodes, so its
    // second one lands here too.
    if (innermost.has_expr) fail(node->loc, "expected '}' to close '#{'");
    innermost.has_expr = true;
  } else if (innermost.closer == '}') {
    check_map_entry(innermost.node->children, *node);
  }
  innermost.node->children.push_back(std::move(node));
}

// Checked as each entry arrives, so that the first problem in the text is the
// one reported.
void Reader::check_map_entry(const std::vector<NodePtr>& entries, const Node& node) const {
  // map := '{' (key value)* '}'    key := keyword | string
  bool is_key = entries.size() % 2 == 0;
  if (is_key && node.kind != NodeKind::Keyword && node.kind != NodeKind::String) {
    fail(node.loc, "map keys must be ^names or strings");
  }
  // A keyword is never a value, so one here means the key before it has none.
  if (!is_key && node.kind == NodeKind::Keyword) {
    fail(entries.back()->loc, "map literal needs a value after " + show_map_key(*entries.back()));
  }
}

NodePtr Reader::read_string() {
  // string := '"' (char | escape)* '"'
  SourceLoc start = loc_;
  advance();
  NodePtr node = make_node(NodeKind::String, start);
  read_string_text(node->text, start, false, nullptr);
  return node;
}

// Reads string text up to and including the closing '"' (false) or, in an
// interpolated string, a '#{' (true, with its position in `hole`).
bool Reader::read_string_text(std::string& out, SourceLoc string_start, bool interpolated,
                              SourceLoc* hole) {
  for (;;) {
    if (at_end()) fail(string_start, "unterminated string", true);
    char c = peek();
    if (c == '"') {
      advance();
      return false;
    }
    if (c == '\\') {
      read_escape(out, string_start);
      continue;
    }
    if (interpolated && c == '#' && peek(1) == '{') {
      *hole = loc_;
      advance();
      advance();
      return true;
    }
    // A string's value must not depend on the line endings of the file it
    // was saved in.
    if (c == '\r' && peek(1) == '\n') {
      advance();
      continue;
    }
    size_t begin = pos_;
    advance();
    out.append(text_.substr(begin, pos_ - begin));
  }
}

void Reader::read_escape(std::string& out, SourceLoc string_start) {
  // escape := '\' ( [ntr0e\\"'#${}] | unicode_escape )
  SourceLoc escape = loc_;
  advance();
  if (at_end()) fail(string_start, "unterminated string", true);
  char32_t c = advance();
  switch (c) {
    case 'n':
      out += '\n';
      break;
    case 't':
      out += '\t';
      break;
    case 'r':
      out += '\r';
      break;
    case '0':
      out += '\0';
      break;
    case 'e':
      out += '\x1B';
      break;
    case '\\':
    case '"':
    case '\'':
    case '#':
    case '$':
    case '{':
    case '}':
      out += static_cast<char>(c);
      break;
    case 'u':
      read_unicode_escape(out, escape, string_start);
      break;
    default:
      fail(escape, "unknown escape '\\" + show_char(c) + "'");
  }
}

void Reader::read_unicode_escape(std::string& out, SourceLoc escape, SourceLoc string_start) {
  // unicode_escape := 'u' hex hex hex hex | 'u{' hex{1,6} '}'
  char32_t value = 0;
  if (peek() == '{') {
    advance();
    int digits = 0;
    while (!at_end() && is_hex_digit(peek())) {
      if (++digits > 6) fail(escape, "invalid unicode escape: more than 6 hex digits");
      value = value * 16 + static_cast<char32_t>(digit_value(peek()));
      advance();
    }
    if (at_end()) fail(string_start, "unterminated string", true);
    if (digits == 0 || peek() != '}') {
      fail(escape, "invalid unicode escape: expected hex digits and '}' after '\\u{'");
    }
    advance();
  } else {
    for (int i = 0; i < 4; ++i) {
      if (at_end()) fail(string_start, "unterminated string", true);
      if (!is_hex_digit(peek())) fail(escape, "invalid unicode escape: expected 4 hex digits");
      value = value * 16 + static_cast<char32_t>(digit_value(peek()));
      advance();
    }
  }
  if (value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) {
    fail(escape, "invalid code point " + code_point_name(value) + " in unicode escape");
  }
  append_utf8(out, value);
}

void Reader::read_interpolated() {
  // interp := '#"' (char | escape | '#{' form '}')* '"'
  SourceLoc start = loc_;
  advance();
  advance();
  NodePtr node = make_node(NodeKind::Interpolated, start);
  SourceLoc hole;
  if (!read_interpolated_text(*node, start, &hole)) return deliver(std::move(node));
  check_depth(hole);
  open_.push_back(OpenForm{std::move(node), 0, hole, start, false});
}

// Adds the literal text up to the next hole or the end of `string` as a
// String child (none when it is empty); true when a hole follows.
bool Reader::read_interpolated_text(Node& string, SourceLoc string_start, SourceLoc* hole) {
  SourceLoc part_start = loc_;
  std::string part;
  bool at_hole = read_string_text(part, string_start, true, hole);
  if (!part.empty()) {
    string.children.push_back(make_text(NodeKind::String, std::move(part), part_start));
  }
  return at_hole;
}

// The innermost form is a hole that has its form: reads its '}' and the
// string's text after it.
void Reader::close_hole() {
  OpenForm& hole = open_.back();
  skip_trivia();
  if (at_end()) fail(loc_, "unclosed '#{' opened at " + show_loc(hole.opened), true);
  if (peek() != '}') fail(loc_, "expected '}' to close '#{'");
  advance();
  SourceLoc next_hole;
  if (read_interpolated_text(*hole.node, hole.string_start, &next_hole)) {
    hole.opened = next_hole;
    hole.has_expr = false;
    return;
  }
  NodePtr node = std::move(hole.node);
  open_.pop_back();
  deliver(std::move(node));
}

void Reader::read_keyword() {
  // keyword := '^' name | '^^' name (name true) | '^!' name (name false)
  SourceLoc start = loc_;
  advance();
  const char* prefix = "^";
  if (peek() == '^') {
    prefix = "^^";
    advance();
  } else if (peek() == '!') {
    prefix = "^!";
    advance();
  }
  std::string_view name = read_symbol_run();
  if (name.empty()) fail(loc_, std::string("expected a name after '") + prefix + "'");
  deliver(make_text(NodeKind::Keyword, std::string(name), start));
  if (prefix[1] != '\0') {
    // The flag's value has no characters of its own; it takes the keyword's position.
    NodePtr flag = make_node(NodeKind::Bool, start);
    flag->bool_value = prefix[1] == '^';
    deliver(std::move(flag));
  }
}

std::string_view Reader::read_symbol_run() {
  size_t begin = pos_;
  while (!at_end() && is_symbol_char(peek_code_point())) advance();
  return text_.substr(begin, pos_ - begin);
}

void Reader::read_token() {
  // atom := number | path | symbol | 'true' | 'false' | 'nil'
  SourceLoc start = loc_;
  std::string_view token = read_symbol_run();
  // A token made only of operator characters is an operator even when it
  // holds a '/': `/`, `//`, and the update operator `/=` are not paths with
  // empty segments.
  if (token.find('/') != std::string_view::npos &&
      token.find_first_not_of("+-*/%<>=!&|~") != std::string_view::npos) {
    return deliver(read_path(token, start));
  }
  if (starts_like_number(token)) return deliver(read_number(token, start));
  if (token == "true" || token == "false") {
    NodePtr node = make_node(NodeKind::Bool, start);
    node->bool_value = token == "true";
    return deliver(std::move(node));
  }
  if (token == "nil") return deliver(make_node(NodeKind::Nil, start));
  deliver(make_text(NodeKind::Symbol, std::string(token), start));
}

NodePtr Reader::read_number(std::string_view token, SourceLoc start) const {
  // number := '-'? ( '0' [xX] hex [hex_]*
  //                | digits '.' digits exponent? | digits exponent | digits )
  // digits := [0-9] [0-9_]*     exponent := [eE] [+-]? [0-9]+
  bool negative = token[0] == '-';
  std::string_view body = token.substr(negative ? 1 : 0);
  auto invalid = [&] { fail(start, "invalid number '" + std::string(token) + "'"); };
  // -9223372036854775808 fits although its magnitude does not fit as positive.
  uint64_t limit = static_cast<uint64_t>(INT64_MAX) + (negative ? 1 : 0);
  auto make_integer = [&](std::string_view digits, int base) {
    uint64_t magnitude = 0;
    if (!parse_magnitude(digits, base, limit, magnitude)) fail(start, "integer literal too large");
    // Unsigned negation then conversion is exact for every magnitude up to 2^63.
    return make_int(static_cast<int64_t>(negative ? 0 - magnitude : magnitude), start);
  };

  if (body.size() > 1 && body[0] == '0' && (body[1] == 'x' || body[1] == 'X')) {
    std::string_view digits = body.substr(2);
    if (digits.empty() || !is_hex_digit(digits[0])) invalid();
    for (char c : digits) {
      if (!is_hex_digit(c) && c != '_') invalid();
    }
    return make_integer(digits, 16);
  }

  size_t end = scan_digits(body, 0);
  bool is_float = false;
  if (end < body.size() && body[end] == '.') {
    size_t fraction_end = scan_digits(body, end + 1);
    if (fraction_end == end + 1) invalid();
    end = fraction_end;
    is_float = true;
  }
  if (end < body.size() && (body[end] == 'e' || body[end] == 'E')) {
    size_t exponent = end + 1;
    if (exponent < body.size() && (body[exponent] == '+' || body[exponent] == '-')) ++exponent;
    size_t exponent_end = exponent;
    while (exponent_end < body.size() && is_digit(body[exponent_end])) ++exponent_end;
    if (exponent_end == exponent) invalid();
    end = exponent_end;
    is_float = true;
  }
  if (end != body.size()) invalid();
  if (!is_float) return make_integer(body, 10);

  std::string digits;
  for (char c : token) {
    if (c != '_') digits += c;
  }
  double value = 0;
  // from_chars, unlike strtod, does not depend on the C locale.
  auto [last, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (error != std::errc() || last != digits.data() + digits.size()) {
    fail(start, "float literal out of range '" + std::string(token) + "'");
  }
  NodePtr node = make_node(NodeKind::Float, start);
  node->float_value = value;
  return node;
}

NodePtr Reader::read_path(std::string_view token, SourceLoc start) const {
  // path := root ('/' segment)+
  // A path token holds no newline, so segment positions differ in column only.
  NodePtr path = make_node(NodeKind::Path, start);
  uint32_t column = start.column;
  size_t begin = 0;
  for (;;) {
    size_t slash = token.find('/', begin);
    std::string_view piece = token.substr(
        begin, slash == std::string_view::npos ? std::string_view::npos : slash - begin);
    SourceLoc loc{start.line, column};
    if (piece.empty()) fail(loc, "empty segment in path '" + std::string(token) + "'");
    if (path->children.empty()) {
      if (starts_like_number(piece)) {
        fail(loc, "a path must start with a name, not '" + std::string(piece) + "'");
      }
      path->children.push_back(make_text(NodeKind::Symbol, std::string(piece), loc));
    } else {
      path->children.push_back(read_path_segment(piece, token, loc));
    }
    if (slash == std::string_view::npos) break;
    column += static_cast<uint32_t>(count_code_points(piece)) + 1;
    begin = slash + 1;
  }
  return path;
}

NodePtr Reader::read_path_segment(std::string_view segment, std::string_view path,
                                  SourceLoc loc) const {
  // segment := '-'? [0-9]+ (index) | '.' name (method) | name (key)
  bool negative = segment[0] == '-';
  std::string_view digits = segment.substr(negative ? 1 : 0);
  if (!digits.empty() && digits.find_first_not_of("0123456789") == std::string_view::npos) {
    uint64_t limit = static_cast<uint64_t>(INT64_MAX) + (negative ? 1 : 0);
    uint64_t magnitude = 0;
    if (!parse_magnitude(digits, 10, limit, magnitude)) fail(loc, "integer literal too large");
    return make_int(static_cast<int64_t>(negative ? 0 - magnitude : magnitude), loc);
  }
  if (segment[0] == '.') {
    if (segment.size() == 1) {
      fail(loc, "expected a method name after '.' in path '" + std::string(path) + "'");
    }
    return make_text(NodeKind::Symbol, std::string(segment), loc);
  }
  return make_text(NodeKind::String, std::string(segment), loc);
}

}  // namespace

std::vector<NodePtr> read_program(const SourceFile& source) {
  return Reader(source.text).read_program();
}

}  // namespace weft
