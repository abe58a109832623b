// Micro-benchmarks of the value representation and the two containers the
// VM leans on hardest: copying a Value (a plain 16-byte copy for numbers,
// an atomic retain/release pair for objects), Array push and indexed get,
// and Map set/get with String keys.
//
//   build/release/bench/weft_microbench [--benchmark_filter=Map]

#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/array.h"
#include "engine/map.h"
#include "engine/string.h"
#include "engine/value.h"

namespace {

using weft::Array;
using weft::Map;
using weft::Value;
// make_string has string_view and string&& overloads; a bare literal would
// be ambiguous, so literals are spelled as string_views.
using namespace std::string_view_literals;

// Keys "key0", "key1", ... made once, outside the timed loops.
std::vector<std::string> make_keys(int64_t count) {
  std::vector<std::string> keys;
  keys.reserve(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) keys.push_back("key" + std::to_string(i));
  return keys;
}

// ------------------------------------------------------------ Value copy

void BM_ValueCopyInt(benchmark::State& state) {
  Value source = Value::integer(42);
  for (auto _ : state) {
    Value copy(source);
    benchmark::DoNotOptimize(copy);
  }
}
BENCHMARK(BM_ValueCopyInt);

void BM_ValueCopyFloat(benchmark::State& state) {
  Value source = Value::floating(2.5);
  for (auto _ : state) {
    Value copy(source);
    benchmark::DoNotOptimize(copy);
  }
}
BENCHMARK(BM_ValueCopyFloat);

// Copy + destroy of an object value: one relaxed fetch_add and one acq_rel
// fetch_sub on the shared count.
void BM_ValueCopyString(benchmark::State& state) {
  Value source = weft::make_string("a string of moderate length"sv);
  for (auto _ : state) {
    Value copy(source);
    benchmark::DoNotOptimize(copy);
  }
}
BENCHMARK(BM_ValueCopyString);

void BM_ValueCopyArray(benchmark::State& state) {
  Value source = weft::make_array({Value::integer(1), Value::integer(2)});
  for (auto _ : state) {
    Value copy(source);
    benchmark::DoNotOptimize(copy);
  }
}
BENCHMARK(BM_ValueCopyArray);

// The same object copied from two threads at once: the count's cache line
// bounces between cores.
void BM_ValueCopySharedObject(benchmark::State& state) {
  static Value shared = weft::make_array();
  for (auto _ : state) {
    Value copy(shared);
    benchmark::DoNotOptimize(copy);
  }
}
BENCHMARK(BM_ValueCopySharedObject)->Threads(1)->Threads(2);

// Moving never touches the count.
void BM_ValueMoveObject(benchmark::State& state) {
  Value a = weft::make_string("moved back and forth"sv);
  Value b;
  for (auto _ : state) {
    b = std::move(a);
    a = std::move(b);
    benchmark::DoNotOptimize(a);
  }
}
BENCHMARK(BM_ValueMoveObject);

// Assignment over a live object value: retain the new, release the old.
void BM_ValueAssignObject(benchmark::State& state) {
  Value x = weft::make_string("x"sv);
  Value y = weft::make_string("y"sv);
  Value slot;
  bool flip = false;
  for (auto _ : state) {
    slot = flip ? x : y;
    flip = !flip;
    benchmark::DoNotOptimize(slot);
  }
}
BENCHMARK(BM_ValueAssignObject);

// ------------------------------------------------------------ strings

void BM_StringMake(benchmark::State& state) {
  std::string text(static_cast<size_t>(state.range(0)), 'x');
  for (auto _ : state) {
    Value s = weft::make_string(text);
    benchmark::DoNotOptimize(s);
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_StringMake)->Arg(8)->Arg(64)->Arg(1024);

// ------------------------------------------------------------ Array

// Pushes `n` Ints into a fresh array (includes the vector's regrowth and
// the array's destruction).
void BM_ArrayPush(benchmark::State& state) {
  const int64_t n = state.range(0);
  for (auto _ : state) {
    Value array = weft::make_array();
    Array* a = array.as<Array>();
    for (int64_t i = 0; i < n; ++i) a->push(Value::integer(i));
    benchmark::DoNotOptimize(a);
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_ArrayPush)->Arg(1000)->Arg(100000);

void BM_ArrayPushString(benchmark::State& state) {
  const int64_t n = state.range(0);
  Value item = weft::make_string("shared item"sv);
  for (auto _ : state) {
    Value array = weft::make_array();
    Array* a = array.as<Array>();
    for (int64_t i = 0; i < n; ++i) a->push(item);
    benchmark::DoNotOptimize(a);
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_ArrayPushString)->Arg(1000);

void BM_ArrayGet(benchmark::State& state) {
  const int64_t n = state.range(0);
  Value array = weft::make_array();
  Array* a = array.as<Array>();
  for (int64_t i = 0; i < n; ++i) a->push(Value::integer(i));
  int64_t sum = 0;
  for (auto _ : state) {
    for (int64_t i = 0; i < n; ++i) sum += a->get(i).as_int();
    benchmark::DoNotOptimize(sum);
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_ArrayGet)->Arg(1000)->Arg(100000);

// Negative indexes count from the end.
void BM_ArrayGetNegative(benchmark::State& state) {
  const int64_t n = 1000;
  Value array = weft::make_array();
  Array* a = array.as<Array>();
  for (int64_t i = 0; i < n; ++i) a->push(Value::integer(i));
  int64_t sum = 0;
  for (auto _ : state) {
    for (int64_t i = 1; i <= n; ++i) sum += a->get(-i).as_int();
    benchmark::DoNotOptimize(sum);
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_ArrayGetNegative);

// The VM's for-loop path.
void BM_ArrayTryGet(benchmark::State& state) {
  const int64_t n = 1000;
  Value array = weft::make_array();
  Array* a = array.as<Array>();
  for (int64_t i = 0; i < n; ++i) a->push(Value::integer(i));
  int64_t sum = 0;
  for (auto _ : state) {
    Value item;
    size_t size = 0;
    for (size_t i = 0; a->try_get(i, item, size); ++i) sum += item.as_int();
    benchmark::DoNotOptimize(sum);
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_ArrayTryGet);

void BM_ArraySet(benchmark::State& state) {
  const int64_t n = 1000;
  Value array = weft::make_array();
  Array* a = array.as<Array>();
  for (int64_t i = 0; i < n; ++i) a->push(Value::integer(i));
  for (auto _ : state) {
    for (int64_t i = 0; i < n; ++i) a->set(i, Value::integer(i + 1));
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_ArraySet);

// ------------------------------------------------------------ Map

// Inserts `n` fresh String keys into an empty map (includes making the key
// Strings, as a script's interpolated keys would).
void BM_MapSetNewKeys(benchmark::State& state) {
  const int64_t n = state.range(0);
  std::vector<std::string> keys = make_keys(n);
  for (auto _ : state) {
    Value map = weft::make_map();
    Map* m = map.as<Map>();
    for (int64_t i = 0; i < n; ++i) m->set(keys[static_cast<size_t>(i)], Value::integer(i));
    benchmark::DoNotOptimize(m);
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_MapSetNewKeys)->Arg(100)->Arg(10000)->Arg(200000);

// Overwrites existing keys with ready-made key Strings.
void BM_MapSetExisting(benchmark::State& state) {
  const int64_t n = state.range(0);
  std::vector<std::string> texts = make_keys(n);
  std::vector<Value> keys;
  keys.reserve(texts.size());
  for (const std::string& t : texts) keys.push_back(weft::make_string(t));
  Value map = weft::make_map();
  Map* m = map.as<Map>();
  for (int64_t i = 0; i < n; ++i) m->set(keys[static_cast<size_t>(i)], Value::integer(i));
  for (auto _ : state) {
    for (int64_t i = 0; i < n; ++i) m->set(keys[static_cast<size_t>(i)], Value::integer(-i));
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_MapSetExisting)->Arg(100)->Arg(10000);

void BM_MapGetHit(benchmark::State& state) {
  const int64_t n = state.range(0);
  std::vector<std::string> keys = make_keys(n);
  Value map = weft::make_map();
  Map* m = map.as<Map>();
  for (int64_t i = 0; i < n; ++i) m->set(keys[static_cast<size_t>(i)], Value::integer(i));
  int64_t sum = 0;
  for (auto _ : state) {
    for (int64_t i = 0; i < n; ++i) sum += m->get(keys[static_cast<size_t>(i)]).as_int();
    benchmark::DoNotOptimize(sum);
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_MapGetHit)->Arg(100)->Arg(10000)->Arg(200000);

void BM_MapGetMiss(benchmark::State& state) {
  const int64_t n = state.range(0);
  std::vector<std::string> keys = make_keys(n);
  std::vector<std::string> absent;
  absent.reserve(keys.size());
  for (const std::string& k : keys) absent.push_back("no" + k);
  Value map = weft::make_map();
  Map* m = map.as<Map>();
  for (int64_t i = 0; i < n; ++i) m->set(keys[static_cast<size_t>(i)], Value::integer(i));
  int64_t found = 0;
  for (auto _ : state) {
    Value out;
    for (int64_t i = 0; i < n; ++i) found += m->find(absent[static_cast<size_t>(i)], out);
    benchmark::DoNotOptimize(found);
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_MapGetMiss)->Arg(10000);

// Fills, then erases every key (exercises hole compaction).
void BM_MapSetErase(benchmark::State& state) {
  const int64_t n = state.range(0);
  std::vector<std::string> keys = make_keys(n);
  for (auto _ : state) {
    Value map = weft::make_map();
    Map* m = map.as<Map>();
    for (int64_t i = 0; i < n; ++i) m->set(keys[static_cast<size_t>(i)], Value::integer(i));
    for (int64_t i = 0; i < n; ++i) m->erase(keys[static_cast<size_t>(i)]);
    benchmark::DoNotOptimize(m);
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_MapSetErase)->Arg(10000);

void BM_MapIterate(benchmark::State& state) {
  const int64_t n = 10000;
  std::vector<std::string> keys = make_keys(n);
  Value map = weft::make_map();
  Map* m = map.as<Map>();
  for (int64_t i = 0; i < n; ++i) m->set(keys[static_cast<size_t>(i)], Value::integer(i));
  int64_t sum = 0;
  for (auto _ : state) {
    size_t cursor = 0;
    Value key;
    Value value;
    while (m->next_entry(cursor, key, value)) sum += value.as_int();
    benchmark::DoNotOptimize(sum);
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_MapIterate);

}  // namespace
