// Values, reference counting, arrays, maps, and how values print, compare
// and test equal (engine/format.h).
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <limits>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/access.h"
#include "engine/array.h"
#include "engine/array_cursor.h"
#include "engine/exception.h"
#include "engine/format.h"
#include "engine/function.h"
#include "engine/map.h"
#include "engine/range.h"
#include "engine/string.h"
#include "engine/value.h"
#include "tests/unit/value_builders.h"

namespace weft {
namespace {

using namespace test_values;

// Runs `body`, which must raise a script error of class `cls`; gives its
// message.
template <typename Body>
std::string error_message(ExcClass cls, Body body) {
  try {
    body();
  } catch (const ScriptError& e) {
    EXPECT_EQ(exc_class_name(e.cls), std::string(exc_class_name(cls))) << e.message;
    return e.message;
  }
  ADD_FAILURE() << "no ScriptError was thrown";
  return "";
}

// ---- Value ----------------------------------------------------------------

TEST(ValueTest, ImmediatesAndTruthiness) {
  EXPECT_EQ(sizeof(Value), 16u);
  EXPECT_TRUE(Value().is_nil());
  EXPECT_FALSE(Value().truthy());
  EXPECT_FALSE(Value::boolean(false).truthy());
  EXPECT_TRUE(Value::boolean(true).truthy());
  EXPECT_TRUE(I(0).truthy());
  EXPECT_TRUE(S("").truthy());
  EXPECT_TRUE(A({}).truthy());
  EXPECT_FALSE(Value::missing().truthy());
  EXPECT_EQ(I(-5).as_int(), -5);
  EXPECT_DOUBLE_EQ(F(2.5).as_float(), 2.5);
  EXPECT_DOUBLE_EQ(I(3).as_number(), 3.0);
  EXPECT_TRUE(I(1).is_number());
  EXPECT_TRUE(F(1).is_number());
}

TEST(ValueTest, CopyRetainsAndDestroyReleases) {
  Value s = S("hello");
  Obj* obj = s.as_object();
  EXPECT_EQ(obj->refcount(), 1u);
  {
    Value copy = s;
    EXPECT_EQ(obj->refcount(), 2u);
    Value assigned;
    assigned = copy;
    EXPECT_EQ(obj->refcount(), 3u);
  }
  EXPECT_EQ(obj->refcount(), 1u);
  Value moved = std::move(s);
  EXPECT_TRUE(s.is_nil());  // NOLINT(bugprone-use-after-move): moving empties
  EXPECT_EQ(obj->refcount(), 1u);
  Value shared = Value::share(obj);
  EXPECT_EQ(obj->refcount(), 2u);
  moved = I(1);  // releases one reference
  EXPECT_EQ(obj->refcount(), 1u);
  moved = shared;
  Value& alias = moved;
  moved = alias;  // self-assignment keeps the count
  EXPECT_EQ(obj->refcount(), 2u);
}

TEST(ValueTest, ArrayHoldsReferences) {
  Value s = S("x");
  {
    Value a = A({s, s});
    EXPECT_EQ(s.as_object()->refcount(), 3u);
  }
  EXPECT_EQ(s.as_object()->refcount(), 1u);
}

TEST(ValueTest, ImmortalIsNeverCounted) {
  Obj* obj = String::make(std::string_view("forever"));
  obj->set_flag(kImmortal);
  {
    Value a = Value::share(obj);
    Value b = a;
    EXPECT_EQ(obj->refcount(), 1u);
  }
  destroy_immortals({obj});
}

TEST(ValueTest, MillionDeepArrayIsDestroyedIteratively) {
  Value v = A({});
  for (int i = 0; i < 1000000; ++i) v = A({std::move(v)});
  v = Value();  // would overflow the C++ stack if destruction recursed
  SUCCEED();
}

TEST(ValueTest, DeepMapIsDestroyedIteratively) {
  Value v;
  for (int i = 0; i < 200000; ++i) {
    Value next = make_map();
    next.as<Map>()->set("next", std::move(v));
    v = std::move(next);
  }
  v = Value();
  SUCCEED();
}

TEST(ValueTest, StringLengthInCodePoints) {
  Value s = S("h\xC3\xA9llo \xE2\x82\xAC");  // "héllo €"
  const String* str = s.as<String>();
  EXPECT_EQ(str->length(), 7u);
  EXPECT_EQ(str->byte_size(), 10u);
  EXPECT_FALSE(str->is_ascii());
  EXPECT_EQ(str->byte_offset(2), 3u);
  EXPECT_EQ(str->byte_offset(7), 10u);
}

// ---- Array ----------------------------------------------------------------

TEST(ArrayTest, GetSetPushPop) {
  Value v = A({I(1), I(2), I(3)});
  Array* a = v.as<Array>();
  EXPECT_EQ(a->size(), 3u);
  EXPECT_EQ(a->get(0).as_int(), 1);
  EXPECT_EQ(a->get(-1).as_int(), 3);
  EXPECT_TRUE(a->get(3).is_nil());
  EXPECT_TRUE(a->get(-4).is_nil());
  a->set(-1, I(30));
  EXPECT_EQ(a->get(2).as_int(), 30);
  EXPECT_EQ(error_message(ExcClass::RuntimeException, [&] { a->set(5, I(0)); }),
            "index 5 out of range for Array of size 3");
  a->push(S("x"));
  EXPECT_EQ(a->size(), 4u);
  EXPECT_EQ(display(a->pop()), "x");
  EXPECT_EQ(display(v), "[1 2 30]");
  Value out;
  size_t size = 0;
  EXPECT_TRUE(a->try_get(1, out, size));
  EXPECT_EQ(out.as_int(), 2);
  EXPECT_EQ(size, 3u);
  EXPECT_FALSE(a->try_get(3, out, size));
  Value empty = A({});
  EXPECT_TRUE(empty.as<Array>()->pop().is_nil());
}

TEST(ArrayTest, InsertAndRemoveAt) {
  Value v = A({I(1), I(3)});
  Array* a = v.as<Array>();
  EXPECT_TRUE(a->insert(1, I(2)));
  EXPECT_TRUE(a->insert(3, I(4)));
  EXPECT_TRUE(a->insert(-1, I(5)));  // -1 appends
  EXPECT_TRUE(a->insert(0, I(0)));
  EXPECT_FALSE(a->insert(7, I(9)));
  EXPECT_EQ(display(v), "[0 1 2 3 4 5]");
  Value removed;
  EXPECT_TRUE(a->remove_at(-1, removed));
  EXPECT_EQ(removed.as_int(), 5);
  EXPECT_TRUE(a->remove_at(0, removed));
  EXPECT_EQ(removed.as_int(), 0);
  EXPECT_FALSE(a->remove_at(4, removed));
  EXPECT_EQ(display(v), "[1 2 3 4]");
}

TEST(ArrayTest, FrozenRejectsMutation) {
  Value v = A({I(1)});
  Array* a = v.as<Array>();
  a->set_flag(kFrozen);
  const std::string msg = "cannot modify a frozen Array";
  EXPECT_EQ(error_message(ExcClass::RuntimeException, [&] { a->push(I(2)); }), msg);
  EXPECT_EQ(error_message(ExcClass::RuntimeException, [&] { a->set(0, I(2)); }), msg);
  EXPECT_EQ(error_message(ExcClass::RuntimeException, [&] { (void)a->pop(); }), msg);
  EXPECT_EQ(error_message(ExcClass::RuntimeException, [&] { (void)a->insert(0, I(2)); }), msg);
  Value removed;
  EXPECT_EQ(error_message(ExcClass::RuntimeException, [&] { (void)a->remove_at(0, removed); }),
            msg);
  EXPECT_EQ(error_message(ExcClass::RuntimeException, [&] { a->replace_all({}); }), msg);
  EXPECT_EQ(display(v), "[1]");
}

// ---- Map ------------------------------------------------------------------

TEST(MapTest, KeepsInsertionOrder) {
  Value v = M({{"b", I(1)}, {"a", I(2)}, {"c", I(3)}});
  Map* m = v.as<Map>();
  m->set("a", I(20));  // overwriting keeps the position
  EXPECT_EQ(display(v), "{^b 1 ^a 20 ^c 3}");
  EXPECT_EQ(m->size(), 3u);
  EXPECT_TRUE(m->contains("c"));
  EXPECT_FALSE(m->contains("d"));
  EXPECT_TRUE(m->get("d").is_nil());
  EXPECT_EQ(display(make_array(m->keys())), "[b a c]");
  EXPECT_EQ(display(make_array(m->values())), "[1 20 3]");
}

TEST(MapTest, DeleteAndCompaction) {
  Value v = make_map();
  Map* m = v.as<Map>();
  for (int i = 0; i < 100; ++i) m->set("k" + std::to_string(i), I(i));
  for (int i = 0; i < 100; ++i) {
    if (i % 3 != 0) {
      Value removed;
      EXPECT_TRUE(m->erase("k" + std::to_string(i), &removed));
      EXPECT_EQ(removed.as_int(), i);
    }
  }
  EXPECT_FALSE(m->erase("k1"));
  EXPECT_EQ(m->size(), 34u);
  std::vector<Value> keys = m->keys();
  ASSERT_EQ(keys.size(), 34u);
  for (size_t i = 0; i < keys.size(); ++i) {
    EXPECT_EQ(keys[i].as<String>()->str(), "k" + std::to_string(i * 3));
    EXPECT_EQ(m->get(keys[i].as<String>()->view()).as_int(), static_cast<int64_t>(i * 3));
  }
  m->set("k1", I(-1));  // a re-added key goes to the end
  EXPECT_EQ(m->keys().back().as<String>()->str(), "k1");
  size_t cursor = 0;
  Value key, value;
  int seen = 0;
  while (m->next_entry(cursor, key, value)) ++seen;
  EXPECT_EQ(seen, 35);
}

TEST(MapTest, GrowsFromScanningToAnIndexAndBack) {
  // Up to 8 entries a map is scanned, past that it is indexed; every size
  // on the way, and erasing down through compaction, finds the same keys.
  Value v = make_map();
  Map* m = v.as<Map>();
  for (int i = 0; i < 20; ++i) {
    m->set("k" + std::to_string(i), I(i));
    for (int j = 0; j <= i; ++j) ASSERT_EQ(m->get("k" + std::to_string(j)).as_int(), j);
    ASSERT_FALSE(m->contains("k" + std::to_string(i + 1)));
    ASSERT_EQ(m->size(), static_cast<size_t>(i + 1));
  }
  for (int i = 19; i >= 2; --i) {
    ASSERT_TRUE(m->erase("k" + std::to_string(i)));
    ASSERT_FALSE(m->contains("k" + std::to_string(i)));
    ASSERT_EQ(m->get("k0").as_int(), 0);
    ASSERT_EQ(m->get("k1").as_int(), 1);
  }
  EXPECT_EQ(m->size(), 2u);
  m->set("k0", I(7));
  m->set("x", I(8));
  EXPECT_EQ(display(v), "{^k0 7 ^k1 1 ^x 8}");
}

TEST(MapTest, FrozenRejectsMutation) {
  Value v = M({{"a", I(1)}});
  Map* m = v.as<Map>();
  m->set_flag(kFrozen);
  const std::string msg = "cannot modify a frozen Map";
  EXPECT_EQ(error_message(ExcClass::RuntimeException, [&] { m->set("b", I(2)); }), msg);
  EXPECT_EQ(error_message(ExcClass::RuntimeException, [&] { (void)m->erase("a"); }), msg);
  EXPECT_EQ(m->get("a").as_int(), 1);
}

// ---- Ranges ---------------------------------------------------------------

TEST(RangeTest, MakeAndPrint) {
  EXPECT_EQ(display(make_inclusive_range(0, 3)), "0..3");
  EXPECT_EQ(display(make_inclusive_range(3, 1)), "3..1");
  EXPECT_EQ(display(make_range(0, 10, 2)), "(range 0 10 2)");
  EXPECT_EQ(display(make_range(0, 0, 1)), "(range 0 0)");
  EXPECT_EQ(make_range(0, 10, 3).as<Range>()->count(), 4);
  EXPECT_EQ(make_range(10, 0, -3).as<Range>()->count(), 4);
  EXPECT_EQ(error_message(ExcClass::ArgumentException, [] { (void)make_range(0, 1, 0); }),
            "range step must not be 0");
}

// ---- Printing -------------------------------------------------------------

TEST(FormatTest, Floats) {
  EXPECT_EQ(format_float(1.0), "1.0");
  EXPECT_EQ(format_float(0.1), "0.1");
  EXPECT_EQ(format_float(-2.5), "-2.5");
  EXPECT_EQ(format_float(0.0), "0.0");
  EXPECT_EQ(format_float(-0.0), "-0.0");
  EXPECT_EQ(format_float(100.0), "100.0");
  EXPECT_EQ(format_float(123.456), "123.456");
  EXPECT_EQ(format_float(1e15), "1000000000000000.0");
  EXPECT_EQ(format_float(1e16), "1e+16");
  EXPECT_EQ(format_float(1e20), "1e+20");
  EXPECT_EQ(format_float(-1.5e300), "-1.5e+300");
  EXPECT_EQ(format_float(0.0001), "0.0001");
  EXPECT_EQ(format_float(0.00001), "1e-05");
  EXPECT_EQ(format_float(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(format_float(1.0 / 3), "0.3333333333333333");
  EXPECT_EQ(format_float(std::numeric_limits<double>::infinity()), "inf");
  EXPECT_EQ(format_float(-std::numeric_limits<double>::infinity()), "-inf");
  EXPECT_EQ(format_float(std::nan("")), "nan");
  EXPECT_EQ(format_float(5e-324), "5e-324");
  // Every printed float reads back as itself.
  for (double d : {0.1, 1.0 / 7, 2.0 / 3 * 1e10, 123456789.125, 9007199254740993.0, 1e-7}) {
    EXPECT_EQ(std::stod(format_float(d)), d) << format_float(d);
  }
}

TEST(FormatTest, Display) {
  EXPECT_EQ(display(Value()), "nil");
  EXPECT_EQ(display(Value::boolean(true)), "true");
  EXPECT_EQ(display(Value::boolean(false)), "false");
  EXPECT_EQ(display(I(-42)), "-42");
  EXPECT_EQ(display(I(INT64_MIN)), "-9223372036854775808");
  EXPECT_EQ(display(F(3)), "3.0");
  EXPECT_EQ(display(S("raw \"text\"")), "raw \"text\"");
  EXPECT_EQ(display(A({S("a"), I(1), A({I(3)})})), "[a 1 [3]]");
  EXPECT_EQ(display(A({})), "[]");
  EXPECT_EQ(display(make_map()), "{}");
  EXPECT_EQ(display(M({{"a", I(1)}, {"b", S("x")}})), "{^a 1 ^b x}");
  EXPECT_EQ(display(M({{"m", M({{"n", A({})}})}})), "{^m {^n []}}");
  EXPECT_EQ(display(make_exception(ExcClass::TypeException, "bad")), "TypeException: bad");
  Value native = Value::adopt(new Native("println", nullptr, 0, -1));
  EXPECT_EQ(display(native), "<builtin println>");
  std::string out = "x=";
  append_display(out, A({F(1.5), Value()}));
  EXPECT_EQ(out, "x=[1.5 nil]");
}

TEST(FormatTest, DisplayOfFunctions) {
  auto* proto = new Proto();
  proto->name = "greet";
  Value named = Value::adopt(Closure::make(proto));
  auto* lambda_proto = new Proto();
  lambda_proto->name = "<fn>";
  Value lambda = Value::adopt(Closure::make(lambda_proto));
  release(proto);
  release(lambda_proto);
  EXPECT_EQ(display(named), "<fn greet>");
  EXPECT_EQ(display(lambda), "<fn>");
  EXPECT_EQ(type_name(named), "Function");
}

TEST(FormatTest, DeepNestingThrowsInsteadOfOverflowing) {
  Value deep = A({});
  for (int i = 0; i < kMaxValueDepth + 5; ++i) deep = A({std::move(deep)});
  error_message(ExcClass::RuntimeException, [&] { (void)display(deep); });

  Value shallow = A({});
  for (int i = 0; i < kMaxValueDepth - 2; ++i) shallow = A({std::move(shallow)});
  std::string printed = display(shallow);
  EXPECT_EQ(printed.size(), 2u * (kMaxValueDepth - 1));
}

TEST(FormatTest, CycleThrowsInsteadOfLooping) {
  Value a = A({I(1)});
  a.as<Array>()->push(a);
  error_message(ExcClass::RuntimeException, [&] { (void)display(a); });
  Value b = A({I(1)});
  b.as<Array>()->push(b);
  error_message(ExcClass::RuntimeException, [&] { (void)values_equal(a, b); });
  EXPECT_TRUE(values_equal(a, a));  // identity answers at once
  // Break the cycles so that the arrays are freed.
  a.as<Array>()->replace_all({});
  b.as<Array>()->replace_all({});
}

TEST(FormatTest, TypeNames) {
  EXPECT_EQ(type_name(Value()), "Nil");
  EXPECT_EQ(type_name(Value::boolean(true)), "Bool");
  EXPECT_EQ(type_name(I(1)), "Int");
  EXPECT_EQ(type_name(F(1)), "Float");
  EXPECT_EQ(type_name(S("")), "String");
  EXPECT_EQ(type_name(A({})), "Array");
  EXPECT_EQ(type_name(make_map()), "Map");
  EXPECT_EQ(type_name(make_inclusive_range(0, 1)), "Range");
  EXPECT_EQ(type_name(make_exception(ExcClass::IOError, "x")), "IOError");
  EXPECT_EQ(type_name(make_exception(ExcClass::Exception, "x")), "Exception");
}

// ---- Equality -------------------------------------------------------------

TEST(EqualityTest, Structural) {
  EXPECT_TRUE(values_equal(I(2), F(2.0)));
  EXPECT_TRUE(values_equal(F(2.0), I(2)));
  EXPECT_FALSE(values_equal(I(2), F(2.5)));
  EXPECT_FALSE(values_equal(F(std::nan("")), F(std::nan(""))));
  EXPECT_FALSE(values_equal(I(INT64_MAX), F(9223372036854775808.0)));
  EXPECT_TRUE(values_equal(I(int64_t{1} << 60), F(std::ldexp(1.0, 60))));
  EXPECT_FALSE(values_equal(I((int64_t{1} << 60) + 1), F(std::ldexp(1.0, 60))));
  EXPECT_TRUE(values_equal(Value(), Value()));
  EXPECT_FALSE(values_equal(Value(), Value::boolean(false)));
  EXPECT_FALSE(values_equal(I(0), Value::boolean(false)));
  EXPECT_FALSE(values_equal(I(1), S("1")));
  EXPECT_TRUE(values_equal(S("abc"), S("abc")));
  EXPECT_FALSE(values_equal(S("abc"), S("abd")));
  EXPECT_TRUE(values_equal(A({I(1), A({S("x")})}), A({F(1), A({S("x")})})));
  EXPECT_FALSE(values_equal(A({I(1)}), A({I(1), I(2)})));
  EXPECT_FALSE(values_equal(A({I(1), A({S("x")})}), A({I(1), A({S("y")})})));
  EXPECT_TRUE(values_equal(M({{"a", I(1)}, {"b", I(2)}}), M({{"b", I(2)}, {"a", F(1)}})));
  EXPECT_FALSE(values_equal(M({{"a", I(1)}}), M({{"a", I(1)}, {"b", I(2)}})));
  EXPECT_FALSE(values_equal(M({{"a", I(1)}}), M({{"b", I(1)}})));
  EXPECT_FALSE(values_equal(M({{"a", I(1)}}), A({I(1)})));
  EXPECT_TRUE(values_equal(make_inclusive_range(0, 3), make_range(0, 4, 1)));
  EXPECT_FALSE(values_equal(make_inclusive_range(0, 3), A({I(0), I(1), I(2), I(3)})));
  Value e = make_exception(ExcClass::Exception, "x");
  EXPECT_TRUE(values_equal(e, e));
  EXPECT_FALSE(values_equal(e, make_exception(ExcClass::Exception, "x")));
}

TEST(EqualityTest, DeepButWithinLimit) {
  Value a = A({});
  Value b = A({});
  for (int i = 0; i < 5000; ++i) {
    a = A({I(i), std::move(a)});
    b = A({F(i), std::move(b)});
  }
  EXPECT_TRUE(values_equal(a, b));
}

// ---- Ordering -------------------------------------------------------------

TEST(CompareTest, NumbersStringsArrays) {
  EXPECT_LT(compare_values(I(1), I(2)), 0);
  EXPECT_GT(compare_values(F(2.5), I(2)), 0);
  EXPECT_EQ(compare_values(I(2), F(2.0)), 0);
  EXPECT_LT(compare_values(I(INT64_MAX), F(9223372036854775808.0)), 0);
  EXPECT_GT(compare_values(I(-1), F(-1.5)), 0);
  EXPECT_LT(compare_values(S("abc"), S("abd")), 0);
  EXPECT_LT(compare_values(S("ab"), S("abc")), 0);
  EXPECT_LT(compare_values(S("z"), S("\xC3\xA9")), 0);  // by code point
  EXPECT_EQ(compare_values(S("x"), S("x")), 0);
  EXPECT_LT(compare_values(A({I(1), I(2)}), A({I(1), I(3)})), 0);
  EXPECT_LT(compare_values(A({I(1)}), A({I(1), I(0)})), 0);
  EXPECT_GT(compare_values(A({I(2)}), A({I(1), I(9)})), 0);
  EXPECT_EQ(compare_values(A({A({I(1)}), S("a")}), A({A({F(1)}), S("a")})), 0);
  EXPECT_LT(compare_values(A({A({I(1)}), I(5)}), A({A({I(1), I(0)}), I(0)})), 0);
  EXPECT_EQ(compare_values(A({}), A({})), 0);
  // NaN sorts above every number.
  EXPECT_GT(compare_values(F(std::nan("")), I(5)), 0);
  EXPECT_LT(compare_values(I(5), F(std::nan(""))), 0);
}

TEST(CompareTest, MismatchedTypesThrow) {
  EXPECT_EQ(error_message(ExcClass::TypeException, [] { (void)compare_values(S("a"), I(1)); }),
            "cannot compare String and Int");
  EXPECT_EQ(error_message(ExcClass::TypeException,
                          [] {
                            (void)compare_values(A({I(1), Value()}), A({I(1), I(2)}));
                          }),
            "cannot compare Nil and Int");
  EXPECT_EQ(error_message(ExcClass::TypeException,
                          [] { (void)compare_values(Value::boolean(true), Value()); }),
            "cannot compare Bool and Nil");
  EXPECT_EQ(
      error_message(ExcClass::TypeException, [] { (void)compare_values(make_map(), make_map()); }),
      "cannot compare Map and Map");
}

}  // namespace
}  // namespace weft

namespace weft {
namespace {

TEST(MethodCache, RemembersOneTypePerSlotAndNothingBeyondItsSlots) {
  MethodCache cache;
  const Value array_size;
  const Value string_size;
  EXPECT_EQ(cache.find(0, ObjType::Array), nullptr);  // no slots yet
  cache.remember(0, ObjType::Array, &array_size);     // ignored
  cache.make_slots(2);
  EXPECT_EQ(cache.find(0, ObjType::Array), nullptr);
  cache.remember(0, ObjType::Array, &array_size);
  EXPECT_EQ(cache.find(0, ObjType::Array), &array_size);
  EXPECT_EQ(cache.find(0, ObjType::String), nullptr);
  EXPECT_EQ(cache.find(1, ObjType::Array), nullptr);
  cache.remember(0, ObjType::String, &string_size);  // the site saw another type
  EXPECT_EQ(cache.find(0, ObjType::String), &string_size);
  EXPECT_EQ(cache.find(0, ObjType::Array), nullptr);
  cache.remember(2, ObjType::Array, &array_size);  // no such slot
  EXPECT_EQ(cache.find(2, ObjType::Array), nullptr);
}

}  // namespace
}  // namespace weft

namespace weft {
namespace {

// array.h rule 5: a reader that sees the array frozen reads it without the
// lock and sees everything written before the freeze. Run under TSan too
// (scripts/test.sh), which reports the race if the freeze did not order it.
TEST(FrozenArray, ReadersThatSeeItFrozenSeeEveryWriteBeforeTheFreeze) {
  constexpr int kItems = 2000;
  constexpr int kReaders = 3;
  for (int round = 0; round < 20; ++round) {
    Value array = make_array();
    Array& items = *array.as<Array>();
    std::atomic<int> checked{0};
    std::vector<std::thread> readers;
    for (int r = 0; r < kReaders; ++r) {
      readers.emplace_back([&] {
        while (!items.is_frozen()) std::this_thread::yield();
        ASSERT_EQ(items.size(), static_cast<size_t>(kItems));
        for (int i = 0; i < kItems; ++i) {
          ASSERT_EQ(items.get(i).as_int(), i);
          Value out;
          size_t size = 0;
          ASSERT_TRUE(items.try_get(static_cast<size_t>(i), out, size));
        }
        EXPECT_EQ(items.snapshot().size(), static_cast<size_t>(kItems));
        checked.fetch_add(1, std::memory_order_relaxed);
      });
    }
    for (int i = 0; i < kItems; ++i) items.push(Value::integer(i));
    items.freeze();
    for (std::thread& reader : readers) reader.join();
    EXPECT_EQ(checked.load(), kReaders);
    EXPECT_THROW(items.push(Value::integer(0)), ScriptError);
  }
}

// array.h rules 8 and 9 and array_cursor.h: a loop that copied a chunk of
// items reads none of them once a later change is known to it, whether its
// cursor counts references or lends items. Writers set every item to the
// next round's string, then publish the round; a reader that loaded round r
// before a step must get an item of round r or later at that step, from a
// chunk copied before or after. Items are counted strings, so a stale or
// freed one (a lent item released under a reader) is an error under ASan,
// and TSan checks the protocol's ordering.
void check_cursor_reads_no_item_older_than_a_change(bool lend) {
  constexpr int kItems = 64;
  constexpr int kRounds = 300;
  constexpr int kReaders = 3;
  auto text = [](int position, int round) {
    return "p" + std::to_string(position) + "/" + std::to_string(round);
  };
  Value array = make_array();
  Array& items = *array.as<Array>();
  for (int i = 0; i < kItems; ++i) items.push(S(text(i, 0)));
  std::atomic<int> published{0};
  std::atomic<bool> done{false};
  std::vector<std::thread> readers;
  for (int r = 0; r < kReaders; ++r) {
    readers.emplace_back([&] {
      while (!done.load(std::memory_order_acquire)) {
        Value cursor = ArrayCursor::start(array, 0, lend);
        Value item;
        size_t position = 0;
        size_t steps = 0;
        for (;;) {
          const int floor = published.load(std::memory_order_acquire);
          if (!cursor.as<ArrayCursor>()->next(items, item, position)) break;
          ++steps;
          const std::string seen(item.as<String>()->view());
          const size_t slash = seen.find('/');
          const bool right_position = seen.substr(0, slash) == "p" + std::to_string(position);
          // The grower's item is always of round 0.
          const bool fresh = position >= kItems || std::stoi(seen.substr(slash + 1)) >= floor;
          if (!right_position || !fresh) cursor.as<ArrayCursor>()->let_go_of(item);
          ASSERT_TRUE(right_position) << seen << " at " << position;
          ASSERT_TRUE(fresh) << seen << " at " << position << ", round " << floor;
        }
        cursor.as<ArrayCursor>()->let_go_of(item);
        ASSERT_GE(steps, static_cast<size_t>(kItems));
      }
    });
  }
  std::thread grower([&] {
    while (!done.load(std::memory_order_acquire)) {
      items.push(S(text(kItems, 0)));
      items.pop();
    }
  });
  for (int round = 1; round <= kRounds; ++round) {
    for (int i = 0; i < kItems; ++i) items.set(i, S(text(i, round)));
    published.store(round, std::memory_order_release);
  }
  done.store(true, std::memory_order_release);
  for (std::thread& reader : readers) reader.join();
  grower.join();
}

TEST(ArrayCursor, ReadsNoItemOlderThanAChangeItHasSeen) {
  check_cursor_reads_no_item_older_than_a_change(/*lend=*/false);
}

TEST(ArrayCursor, LendingReadsNoItemOlderThanAChangeItHasSeen) {
  check_cursor_reads_no_item_older_than_a_change(/*lend=*/true);
}

// array.h rule 9: while a cursor lends, the items replaced, popped, removed
// and replaced wholesale that a lender copied stay alive (a lent copy may
// still point at them), each kept once however often it is replaced, and
// they are released when no lender records them: nothing is lost or kept.
TEST(ArrayCursor, ItemsRetiredWhileLentLiveUntilNoLenderRecordsThem) {
  Value array = make_array();
  Array& items = *array.as<Array>();
  for (int i = 0; i < 20; ++i) items.push(S("item " + std::to_string(i)));
  // Both copy positions 0 to 15.
  Value first = ArrayCursor::start(array, 0, /*lend=*/true);
  Value second = ArrayCursor::start(array, 0, /*lend=*/true);
  Value var;
  size_t position = 0;
  ASSERT_TRUE(first.as<ArrayCursor>()->next(items, var, position));
  Value watched = var;  // counted: shows whether the array still counts it
  Value fifth = items.get(5);
  EXPECT_TRUE(watched.as_object()->held_only_by(2));
  items.set(0, S("replaced"));
  for (int i = 0; i < 1000; ++i) {
    items.set(5, S("churn"));
    items.set(5, fifth);  // the recorded item back, and away again
  }
  Value popped = items.pop();  // position 19: no lender copied it
  Value removed;
  ASSERT_TRUE(items.remove_at(1, removed));
  items.replace_all({S("new")});
  // The lent variable still reads its item: the array keeps its reference,
  // once for every recorded item however often it was replaced.
  EXPECT_EQ(var.as<String>()->view(), "item 0");
  EXPECT_TRUE(watched.as_object()->held_only_by(2));
  EXPECT_TRUE(fifth.as_object()->held_only_by(2));
  EXPECT_TRUE(popped.as_object()->held_only_by(1));
  EXPECT_TRUE(removed.as_object()->held_only_by(2));
  // The next step sees the change (the array has no position 1 now) and
  // stops lending; the other cursor still lends, so the retired items stay.
  EXPECT_FALSE(first.as<ArrayCursor>()->next(items, var, position));
  EXPECT_TRUE(var.is_nil());
  EXPECT_TRUE(watched.as_object()->held_only_by(2));
  // A settled variable keeps its item with a reference of its own.
  Value kept;
  ASSERT_TRUE(second.as<ArrayCursor>()->next(items, kept, position));
  second.as<ArrayCursor>()->settle(kept);
  EXPECT_EQ(kept.as<String>()->view(), "new");
  EXPECT_TRUE(watched.as_object()->held_only_by(1));
  EXPECT_TRUE(fifth.as_object()->held_only_by(1));
  EXPECT_TRUE(removed.as_object()->held_only_by(1));
}

// array.h rule 9 and array_cursor.h rule 3: a change stops the lending at
// the next step, and what the array kept for the lender goes with it.
TEST(ArrayCursor, AChangeEndsTheLendingAndWhatItKept) {
  Value array = make_array();
  Array& items = *array.as<Array>();
  for (int i = 0; i < 40; ++i) items.push(S("item " + std::to_string(i)));
  Value cursor = ArrayCursor::start(array, 0, /*lend=*/true);
  Value var;
  size_t position = 0;
  ASSERT_TRUE(cursor.as<ArrayCursor>()->next(items, var, position));
  Value third = items.get(3);
  items.set(3, S("changed"));  // recorded: kept
  EXPECT_TRUE(third.as_object()->held_only_by(2));
  // The change stops the lending: the cursor counts from here on.
  ASSERT_TRUE(cursor.as<ArrayCursor>()->next(items, var, position));
  EXPECT_TRUE(third.as_object()->held_only_by(1));
  while (cursor.as<ArrayCursor>()->next(items, var, position)) {
  }
  EXPECT_EQ(position, 39u);
}

// array.h rule 6: threads adding into one array item and one map entry at
// once lose no update, on the number path (under the lock) and on the
// other (combined outside it, written if unchanged, else again).
TEST(CompoundUpdate, ConcurrentUpdatesOfOneItemLoseNone) {
  constexpr int kThreads = 4;
  constexpr int kRounds = 2000;
  Value array = make_array({Value::integer(0), make_string("")});
  Value map = make_map();
  map.as<Map>()->set("n", Value::integer(0));
  map.as<Map>()->set("s", make_string(""));
  const Value zero = Value::integer(0);
  const Value one = Value::integer(1);
  const Value n = make_string("n");
  const Value s = make_string("s");
  const Value dot = make_string(".");
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kRounds; ++i) {
        (void)update_path(array, zero, Opcode::ADD, one);
        (void)update_path(array, one, Opcode::ADD, dot);
        (void)update_path(map, n, Opcode::SUB, one);
        (void)update_path(map, s, Opcode::ADD, dot);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(array.as<Array>()->get(0).as_int(), kThreads * kRounds);
  EXPECT_EQ(array.as<Array>()->get(1).as<String>()->length(), size_t{kThreads * kRounds});
  EXPECT_EQ(map.as<Map>()->get("n").as_int(), -kThreads * kRounds);
  EXPECT_EQ(map.as<Map>()->get("s").as<String>()->length(), size_t{kThreads * kRounds});
}

// object.h rule 6: a reference is Sole only while it is the only one.
TEST(SoleReach, OnlyTheOnlyReferenceIsSole) {
  Value array = make_array({Value::integer(0)});
  EXPECT_EQ(reach_of_register(array), Reach::Sole);
  Value other = array;
  EXPECT_EQ(reach_of_register(array), Reach::Shared);
  other = Value();
  EXPECT_EQ(reach_of_register(array), Reach::Sole);
  EXPECT_EQ(reach_of_register(Value::integer(1)), Reach::Shared);
}

// array.h rule 7: a holder that updates without the lock while it holds
// the only reference, and with it while a copy it handed to another thread
// is alive there, loses no update (and under ThreadSanitizer, races with
// nothing: the other thread's release of its copy orders its accesses
// before the lock-free ones).
TEST(SoleReach, UpdatesThroughACopyHandedOutAndBackLoseNone) {
  constexpr int kRounds = 300;
  constexpr int kUpdates = 50;
  Value array = make_array({Value::integer(0)});
  Value map = make_map();
  map.as<Map>()->set("n", Value::integer(0));
  const Value zero = Value::integer(0);
  const Value one = Value::integer(1);
  const Value n = make_string("n");
  std::mutex slot_lock;
  Value slot_array;
  Value slot_map;
  std::atomic<int> taken{0};
  std::thread other([&] {
    for (int round = 0; round < kRounds; ++round) {
      Value mine_array;
      Value mine_map;
      while (mine_array.is_nil()) {
        std::lock_guard guard(slot_lock);
        mine_array = std::move(slot_array);
        mine_map = std::move(slot_map);
      }
      taken.fetch_add(1);
      for (int i = 0; i < kUpdates; ++i) {
        (void)update_path(mine_array, zero, Opcode::ADD, one, reach_of_register(mine_array));
        (void)update_path(mine_map, n, Opcode::ADD, one, reach_of_register(mine_map));
      }
    }
  });
  for (int round = 0; round < kRounds; ++round) {
    {
      std::lock_guard guard(slot_lock);
      slot_array = array;
      slot_map = map;
    }
    while (taken.load() == round) {
    }
    for (int i = 0; i < kUpdates; ++i) {
      (void)update_path(array, zero, Opcode::ADD, one, reach_of_register(array));
      (void)update_path(map, n, Opcode::ADD, one, reach_of_register(map));
    }
  }
  other.join();
  EXPECT_EQ(array.as<Array>()->get(0).as_int(), 2 * kRounds * kUpdates);
  EXPECT_EQ(map.as<Map>()->get("n").as_int(), 2 * kRounds * kUpdates);
  EXPECT_EQ(reach_of_register(array), Reach::Sole);
}

TEST(CompoundUpdate, ErrorsAreThoseOfTheOperator) {
  Value array = make_array({Value::integer(1), Value()});
  EXPECT_THROW((void)update_path(array, Value::integer(1), Opcode::ADD, Value::integer(1)),
               ScriptError);  // nil + 1
  EXPECT_THROW((void)update_path(array, Value::integer(5), Opcode::ADD, Value::integer(1)),
               ScriptError);  // out of range reads nil
  EXPECT_THROW((void)update_path(array, Value::integer(0), Opcode::MOD, Value::integer(0)),
               ScriptError);  // division by zero
  EXPECT_EQ(update_path(array, Value::integer(-2), Opcode::MUL, Value::integer(7)).as_int(), 7);
  array.as<Array>()->freeze();
  EXPECT_THROW((void)update_path(array, Value::integer(0), Opcode::ADD, Value::integer(1)),
               ScriptError);
  EXPECT_EQ(array.as<Array>()->get(0).as_int(), 7);
}

}  // namespace
}  // namespace weft
