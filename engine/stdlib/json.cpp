// json/parse and json/stringify (decision 25), on RapidJSON.
//
// Parsing uses RapidJSON's iterative SAX reader and builds Values straight
// from its events; stringifying walks the value with an explicit stack. So
// neither recurses on the C++ stack, however deep the document.
#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cmath>
#include <vector>

#include "engine/array.h"
#include "engine/exception.h"
#include "engine/format.h"
#include "engine/map.h"
#include "engine/range.h"
#include "engine/runtime.h"
#include "engine/stdlib/stdlib.h"
#include "engine/string.h"

namespace weft {

namespace {

constexpr size_t kMaxJsonDepth = 10000;

// Receives the reader's events. Each open array or object is a frame of
// its own until it closes, so a half-built document is a flat list of
// frames and is released without recursion when parsing fails.
class ValueBuilder {
 public:
  bool Null() { return add(Value()); }
  bool Bool(bool b) { return add(Value::boolean(b)); }
  bool Int(int i) { return add(Value::integer(i)); }
  bool Uint(unsigned u) { return add(Value::integer(u)); }
  bool Int64(int64_t i) { return add(Value::integer(i)); }
  bool Uint64(uint64_t u) {
    if (u > static_cast<uint64_t>(INT64_MAX)) return add(Value::floating(static_cast<double>(u)));
    return add(Value::integer(static_cast<int64_t>(u)));
  }
  bool Double(double d) { return add(Value::floating(d)); }
  bool RawNumber(const char*, rapidjson::SizeType, bool) { return false; }  // not requested
  bool String(const char* s, rapidjson::SizeType length, bool) {
    return add(make_string(std::string_view(s, length)));
  }
  bool Key(const char* s, rapidjson::SizeType length, bool) {
    frames_.back().key = make_string(std::string_view(s, length));
    return true;
  }
  bool StartObject() { return open(make_map()); }
  bool EndObject(rapidjson::SizeType) { return close(); }
  bool StartArray() { return open(Value()); }
  bool EndArray(rapidjson::SizeType) { return close(); }

  bool too_deep() const { return too_deep_; }
  Value take_result() { return std::move(result_); }

 private:
  struct Frame {
    Value map;                 // the Map being filled, or nil for an array
    std::vector<Value> items;  // an array's items so far
    Value key;                 // the key whose value comes next
  };

  bool open(Value map) {
    if (frames_.size() >= kMaxJsonDepth) {
      too_deep_ = true;
      return false;
    }
    frames_.push_back(Frame{std::move(map), {}, Value()});
    return true;
  }

  bool close() {
    Frame done = std::move(frames_.back());
    frames_.pop_back();
    return add(done.map.is_nil() ? make_array(std::move(done.items)) : std::move(done.map));
  }

  bool add(Value v) {
    if (frames_.empty()) {
      result_ = std::move(v);
    } else if (Frame& top = frames_.back(); top.map.is_nil()) {
      top.items.push_back(std::move(v));
    } else {
      top.map.as<Map>()->set(std::move(top.key), std::move(v));
      top.key = Value();
    }
    return true;
  }

  std::vector<Frame> frames_;
  Value result_;
  bool too_deep_ = false;
};

[[noreturn]] void throw_parse_error(std::string reason, size_t offset) {
  // RapidJSON's messages are sentences ("Invalid value."); they read better
  // inside ours without the capital and the period.
  if (!reason.empty() && reason.back() == '.') reason.pop_back();
  if (!reason.empty() && reason[0] >= 'A' && reason[0] <= 'Z') reason[0] += 'a' - 'A';
  throw_error(ExcClass::ParseException,
              "json/parse: " + reason + " at offset " + std::to_string(offset));
}

Value parse(NativeCall& call) {
  const Value& input = call.arg(0);
  if (!input.is(ObjType::String)) {
    throw_error(ExcClass::TypeException, "json/parse expects a String, got " + type_name(input));
  }
  std::string_view text = input.as<String>()->view();
  rapidjson::MemoryStream stream(text.data(), text.size());
  rapidjson::Reader reader;
  ValueBuilder builder;
  constexpr unsigned kFlags = rapidjson::kParseIterativeFlag | rapidjson::kParseFullPrecisionFlag |
                              rapidjson::kParseValidateEncodingFlag;
  rapidjson::ParseResult ok = reader.Parse<kFlags>(stream, builder);
  if (!ok) {
    if (builder.too_deep()) {
      throw_error(ExcClass::ParseException, "json/parse: nesting too deep");
    }
    throw_parse_error(rapidjson::GetParseError_En(ok.Code()), ok.Offset());
  }
  // The stream reads a NUL byte as its end; one inside the text is an error.
  if (stream.Tell() < text.size()) throw_parse_error("unexpected NUL byte", stream.Tell());
  return builder.take_result();
}

[[noreturn]] void throw_cannot_convert(const std::string& what) {
  throw_error(ExcClass::TypeException, "cannot convert " + what + " to JSON");
}

template <typename Writer>
void write_scalar(Writer& writer, const Value& v) {
  switch (v.tag()) {
    case ValueTag::Nil:
    case ValueTag::Missing:
      writer.Null();
      return;
    case ValueTag::Bool:
      writer.Bool(v.as_bool());
      return;
    case ValueTag::Int:
      writer.Int64(v.as_int());
      return;
    case ValueTag::Float: {
      double d = v.as_float();
      if (!std::isfinite(d)) throw_cannot_convert("Float " + format_float(d));
      // The printed form: shortest round trip, "1.0" when integral.
      std::string text = format_float(d);
      writer.RawValue(text.data(), text.size(), rapidjson::kNumberType);
      return;
    }
    case ValueTag::Object:
      break;
  }
  if (v.is(ObjType::String)) {
    std::string_view s = v.as<String>()->view();
    writer.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
    return;
  }
  if (v.is(ObjType::Range)) {
    const Range* r = v.as<Range>();
    // Like .to_a: a range too long to ever fit in memory as text is refused
    // up front rather than written until allocation fails.
    if (r->count() > (int64_t{1} << 27)) {
      throw_error(ExcClass::RuntimeException, "range too large to convert to JSON");
    }
    writer.StartArray();
    for (int64_t i = 0; i < r->count(); ++i) writer.Int64(r->at(i));
    writer.EndArray();
    return;
  }
  throw_cannot_convert(type_name(v));
}

struct WriteFrame {
  std::vector<Value> items;  // array items, or map keys and values interleaved
  size_t next = 0;
  bool is_map = false;
};

template <typename Writer>
void write_value(Writer& writer, const Value& root) {
  std::vector<WriteFrame> stack;
  auto write = [&](const Value& v) {
    if (!v.is(ObjType::Array) && !v.is(ObjType::Map)) {
      write_scalar(writer, v);
      return;
    }
    if (stack.size() >= static_cast<size_t>(kMaxValueDepth)) {
      throw_error(ExcClass::RuntimeException, "json/stringify: value nested more than " +
                                                  std::to_string(kMaxValueDepth) + " levels deep");
    }
    WriteFrame frame;
    if (v.is(ObjType::Array)) {
      frame.items = v.as<Array>()->snapshot();
      writer.StartArray();
    } else {
      for (auto& [key, value] : v.as<Map>()->entries()) {
        frame.items.push_back(std::move(key));
        frame.items.push_back(std::move(value));
      }
      frame.is_map = true;
      writer.StartObject();
    }
    stack.push_back(std::move(frame));
  };
  write(root);
  while (!stack.empty()) {
    WriteFrame& top = stack.back();
    if (top.next == top.items.size()) {
      if (top.is_map) {
        writer.EndObject();
      } else {
        writer.EndArray();
      }
      stack.pop_back();
      continue;
    }
    size_t i = top.next++;
    if (top.is_map && i % 2 == 0) {
      std::string_view key = top.items[i].as<String>()->view();
      writer.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
      continue;
    }
    Value item = top.items[i];  // write() may move `top`
    write(item);
  }
}

// (json/stringify v ^indent n): compact, or pretty with n spaces.
Value stringify(NativeCall& call) {
  Value indent = call.keyword("indent");
  if (indent.is_nil() && call.count >= 2) indent = call.args[1];
  rapidjson::StringBuffer buffer;
  if (indent.is_nil()) {
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    write_value(writer, call.arg(0));
  } else {
    if (!indent.is_int() || indent.as_int() < 0 || indent.as_int() > 64) {
      throw_error(ExcClass::ArgumentException,
                  "json/stringify expects ^indent between 0 and 64, got " + display(indent));
    }
    rapidjson::PrettyWriter<rapidjson::StringBuffer> writer(buffer);
    writer.SetIndent(' ', static_cast<unsigned>(indent.as_int()));
    write_value(writer, call.arg(0));
  }
  return make_string(std::string_view(buffer.GetString(), buffer.GetSize()));
}

}  // namespace

void register_json_builtins(Runtime& runtime) {
  runtime.register_native("json/parse", parse, 1, 1);
  runtime.register_native("json/stringify", stringify, 1, 2, {"indent"});
}

}  // namespace weft
