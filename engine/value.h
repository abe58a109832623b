// A script value: 16 bytes, numbers, booleans and nil unboxed.
//
//   byte 0      bytes 1..7   bytes 8..15
//   +---------+------------+--------------------------------------+
//   |   tag   |  (unused)  | int64 | double | bool | Obj* (owned)  |
//   +---------+------------+--------------------------------------+
//
// Why not NaN-boxing: a tagged 16-byte value keeps full 64-bit integers
// (overflow is detected with the compiler's checked-arithmetic builtins,
// not by range tests after the fact) and makes every accessor a plain load.
// docs/ARCHITECTURE.md has the measurement.
//
// A Value owns one reference to its object: copying retains, destruction
// releases, moving steals. Registers, arrays and maps are all vectors of
// Values, so reference counting is never done by hand.
#pragma once

#include <cstdint>
#include <utility>

#include "engine/object.h"

namespace weft {

enum class ValueTag : uint8_t {
  Nil,
  Bool,
  Int,
  Float,
  Object,
  // Marks a parameter that the caller did not pass; never visible to
  // scripts (the callee's prologue replaces it with the default or nil).
  Missing,
};

class Value {
 public:
  Value() : tag_(ValueTag::Nil), int_(0) {}
  Value(const Value& other) : tag_(other.tag_), int_(other.int_) {
    if (tag_ == ValueTag::Object) obj_->retain();
  }
  Value(Value&& other) noexcept : tag_(other.tag_), int_(other.int_) {
    other.tag_ = ValueTag::Nil;
  }
  Value& operator=(const Value& other) {
    if (this == &other) return *this;  // `old` below would empty `other` too
    if (other.tag_ == ValueTag::Object) other.obj_->retain();
    Value old(std::move(*this));
    tag_ = other.tag_;
    int_ = other.int_;
    return *this;
  }
  Value& operator=(Value&& other) noexcept {
    if (this != &other) {
      Value old(std::move(*this));
      tag_ = other.tag_;
      int_ = other.int_;
      other.tag_ = ValueTag::Nil;
    }
    return *this;
  }
  ~Value() {
    if (tag_ == ValueTag::Object) release(obj_);
  }

  static Value nil() { return Value(); }
  static Value missing() {
    Value v;
    v.tag_ = ValueTag::Missing;
    return v;
  }
  static Value boolean(bool b) {
    Value v;
    v.tag_ = ValueTag::Bool;
    // All eight bytes, as 0 or 1 (bool_ is the first of them): a one-byte
    // store that a copy's eight-byte load of the payload then reads
    // cannot be forwarded, and stalls the load (a tenth of a message
    // handler's time in bench/actors/fjthroughput.weft).
    v.int_ = b ? 1 : 0;
    return v;
  }
  static Value integer(int64_t i) {
    Value v;
    v.tag_ = ValueTag::Int;
    v.int_ = i;
    return v;
  }
  static Value floating(double d) {
    Value v;
    v.tag_ = ValueTag::Float;
    v.float_ = d;
    return v;
  }
  // Takes over the caller's reference (a freshly made object has count 1).
  static Value adopt(Obj* obj) {
    Value v;
    v.tag_ = ValueTag::Object;
    v.obj_ = obj;
    return v;
  }
  // Adds a reference of its own.
  static Value share(Obj* obj) {
    obj->retain();
    return adopt(obj);
  }
  // An uncounted copy of `other` (the interpreter's BORROW): it holds no
  // reference, so it is valid only while `other`'s holder keeps its own,
  // and it ends by forget() or take_reference(), never by a release.
  static Value borrowed(const Value& other) {
    Value v;
    v.tag_ = other.tag_;
    v.int_ = other.int_;
    return v;
  }
  // Ends a borrowed copy: nil, with no reference given back.
  void forget() { tag_ = ValueTag::Nil; }
  // Turns a borrowed copy into an owned one.
  void take_reference() {
    if (tag_ == ValueTag::Object) obj_->retain();
  }

  ValueTag tag() const { return tag_; }
  bool is_nil() const { return tag_ == ValueTag::Nil; }
  bool is_missing() const { return tag_ == ValueTag::Missing; }
  bool is_bool() const { return tag_ == ValueTag::Bool; }
  bool is_int() const { return tag_ == ValueTag::Int; }
  bool is_float() const { return tag_ == ValueTag::Float; }
  bool is_number() const { return tag_ == ValueTag::Int || tag_ == ValueTag::Float; }
  bool is_object() const { return tag_ == ValueTag::Object; }
  bool is(ObjType type) const { return tag_ == ValueTag::Object && obj_->type() == type; }

  bool as_bool() const { return bool_; }
  int64_t as_int() const { return int_; }
  double as_float() const { return float_; }
  double as_number() const { return tag_ == ValueTag::Int ? static_cast<double>(int_) : float_; }
  Obj* as_object() const { return obj_; }
  template <typename T>
  T* as() const {
    return static_cast<T*>(obj_);
  }

  // nil and false are false; everything else, 0 and "" included, is true.
  bool truthy() const {
    return !(tag_ == ValueTag::Nil || (tag_ == ValueTag::Bool && !bool_) ||
             tag_ == ValueTag::Missing);
  }

  void swap_with(Value& other) noexcept {
    std::swap(tag_, other.tag_);
    std::swap(int_, other.int_);
  }

  // The same value bit for bit: the same object, or an equal non-object
  // (a compare-and-swap's "still the one read", array.h rule 6).
  [[nodiscard]] bool identical_to(const Value& other) const {
    return tag_ == other.tag_ && int_ == other.int_;
  }

  // The payload's bits, for SharedSlot's lock-free reads.
  uint64_t raw_payload() const { return static_cast<uint64_t>(int_); }
  // A value from raw bits without retaining: only for non-objects and
  // immortal objects, which need no count.
  static Value from_raw_unretained(ValueTag tag, uint64_t payload) {
    Value v;
    v.tag_ = tag;
    v.int_ = static_cast<int64_t>(payload);
    return v;
  }

  // Gives up ownership without releasing (the caller takes the reference).
  Obj* release_object() {
    tag_ = ValueTag::Nil;
    return obj_;
  }

 private:
  ValueTag tag_;
  union {
    int64_t int_;
    double float_;
    bool bool_;
    Obj* obj_;
  };
};

static_assert(sizeof(Value) == 16, "Value must stay 16 bytes");

// For release_children(): hands the reference held by `value` to the
// destruction loop instead of releasing (and possibly recursing) here.
inline void release_into(Value& value, DestroyWorklist& worklist) {
  if (value.is_object()) {
    Obj* child = value.release_object();
    if (child->release_ref()) worklist.push_back(child);
  }
}

}  // namespace weft
