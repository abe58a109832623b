// The embedding API (include/weft/) as a host uses it: results and errors
// as C++ values, host functions, async host functions whose promises the
// host settles from its own threads (run under ThreadSanitizer in CI), and
// the lifetime rules of promises (promise.h).
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "examples/embed/host_pool.h"
#include "weft/weft.h"

namespace {

using weft::embed::Engine;
using weft::embed::EngineOptions;
using weft::embed::Promise;
using weft::embed::RunResult;
using weft::embed::Value;

EngineOptions capturing(unsigned threads = 2) {
  EngineOptions options;
  options.threads = threads;
  options.capture_output = true;
  return options;
}

TEST(Embed, ResultsComeBackAsCppValues) {
  Engine engine(capturing());
  RunResult result = engine.run_source(R"((println "hi") {"n" 1 "xs" [1.5 "two" nil true]})");
  ASSERT_TRUE(result.ok()) << result.error;
  EXPECT_EQ(result.output, "hi\n");
  ASSERT_EQ(result.value.kind(), Value::Kind::Map);
  EXPECT_EQ(result.value.find("n")->as_int(), 1);
  const Value::Array& xs = result.value.find("xs")->as_array();
  ASSERT_EQ(xs.size(), 4u);
  EXPECT_EQ(xs[0].as_float(), 1.5);
  EXPECT_EQ(xs[1].as_string(), "two");
  EXPECT_TRUE(xs[2].is_nil());
  EXPECT_TRUE(xs[3].as_bool());
  EXPECT_THROW((void)xs[1].as_int(), std::invalid_argument);
  RunResult function = engine.run_source("(fn [x] x)");
  EXPECT_EQ(function.value.kind(), Value::Kind::Other);
}

TEST(Embed, ErrorsCarryTheirLocationAndStatus) {
  Engine engine(capturing());
  RunResult compile = engine.run_source("(println 1)\n(println no-such-name)", "bad.weft");
  EXPECT_EQ(compile.exit_code, 65);
  EXPECT_NE(compile.error.find("bad.weft:2:"), std::string::npos) << compile.error;
  EXPECT_NE(compile.error.find("undefined variable 'no-such-name'"), std::string::npos);

  RunResult runtime = engine.run_source("(fn f [] (throw \"boom\"))\n(f)", "throws.weft");
  EXPECT_EQ(runtime.exit_code, 70);
  EXPECT_NE(runtime.error.find("boom"), std::string::npos) << runtime.error;
  EXPECT_NE(runtime.error.find("throws.weft:1"), std::string::npos) << runtime.error;

  RunResult missing = engine.run_file("/nonexistent/script.weft");
  EXPECT_EQ(missing.exit_code, 66);

  RunResult exited = engine.run_source("(println \"before\") (exit 3)");
  EXPECT_EQ(exited.exit_code, 3);
  EXPECT_EQ(exited.output, "before\n");

  // The engine is still usable after failures.
  EXPECT_EQ(engine.run_source("(1 + 2)").value.as_int(), 3);
}

TEST(Embed, HostFunctionsTakeAndGiveValuesAndThrowHostExceptions) {
  Engine engine(capturing());
  engine.register_function("host/join", 1, -1, [](const std::vector<Value>& args) {
    std::string out;
    for (const Value& arg : args) out += arg.to_string();
    return Value(out);
  });
  engine.register_function("host/fail", 0, 0, [](const std::vector<Value>&) -> Value {
    throw weft::embed::Error("refused by the host");
  });
  RunResult result = engine.run_source(R"(
    (println (host/join "a" 1 [2 3]))
    (try (host/fail) catch HostException (println "caught:" $ex/message))
    (host/join "x"))");
  ASSERT_TRUE(result.ok()) << result.error;
  EXPECT_EQ(result.output, "a1[2 3]\ncaught: host/fail: refused by the host\n");
  EXPECT_EQ(result.value.as_string(), "x");
  RunResult arity = engine.run_source("(host/join)");
  EXPECT_EQ(arity.exit_code, 70);
}

// 8 host threads settle 8 x 1000 promises that 8000 script tasks await at
// once; every 97th is rejected. The sums are exact.
TEST(Embed, AsyncFunctionsAreSettledFromTheHostsOwnThreads) {
  constexpr int kCalls = 8000;
  weft_example::HostPool host(8);
  Engine engine(capturing());
  std::atomic<int> calls{0};
  engine.register_async_function("host/double", 1, 1,
                                 [&](std::vector<Value> args, Promise promise) {
                                   calls.fetch_add(1, std::memory_order_relaxed);
                                   std::int64_t n = args[0].as_int();
                                   host.submit([n, promise] {
                                     if (n % 97 == 0) {
                                       EXPECT_TRUE(promise.reject("multiple of 97"));
                                     } else {
                                       EXPECT_TRUE(promise.resolve(Value(n * 2)));
                                     }
                                     EXPECT_FALSE(promise.resolve(Value(0)));  // rule 1
                                   });
                                 });
  RunResult result = engine.run_source(R"(
    (var tasks ((range 8000) .map (fn [i]
      (async (try (await (host/double i)) catch HostException -1)))))
    (var sum 0)
    (var refused 0)
    (for t in tasks
      (var v (await t))
      (if (v == -1) (refused += 1) else (sum += v)))
    [sum refused])");
  ASSERT_TRUE(result.ok()) << result.error;
  std::int64_t expected_sum = 0;
  std::int64_t expected_refused = 0;
  for (std::int64_t i = 0; i < kCalls; ++i) {
    if (i % 97 == 0) {
      ++expected_refused;
    } else {
      expected_sum += 2 * i;
    }
  }
  EXPECT_EQ(calls.load(), kCalls);
  EXPECT_EQ(result.value.as_array()[0].as_int(), expected_sum);
  EXPECT_EQ(result.value.as_array()[1].as_int(), expected_refused);
}

// A task awaiting a promise the host settles later is waiting on pending
// work, not deadlocked, however idle the workers are meanwhile.
TEST(Embed, AwaitingAHostPromiseIsNotADeadlock) {
  Engine engine(capturing());
  std::vector<std::thread> late;
  engine.register_async_function("host/later", 0, 0, [&](std::vector<Value>, Promise promise) {
    late.emplace_back([promise] {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      promise.resolve(Value("late"));
    });
  });
  RunResult result = engine.run_source("(await (host/later))");
  for (std::thread& thread : late) thread.join();
  ASSERT_TRUE(result.ok()) << result.error;
  EXPECT_EQ(result.value.as_string(), "late");
}

TEST(Embed, ADroppedPromiseRejectsItsFuture) {
  Engine engine(capturing());
  engine.register_async_function("host/forget", 0, 0, [](std::vector<Value>, Promise) {});
  RunResult result =
      engine.run_source("(try (await (host/forget)) catch HostException (println $ex/message))");
  ASSERT_TRUE(result.ok()) << result.error;
  EXPECT_EQ(result.output, "host/forget: the host dropped the promise without settling it\n");
}

TEST(Embed, PromisesOutlivingTheirEngineAreRefusedQuietly) {
  std::vector<Promise> kept;
  {
    Engine engine(capturing());
    engine.register_async_function(
        "host/keep", 0, 0, [&](std::vector<Value>, Promise promise) { kept.push_back(promise); });
    RunResult result = engine.run_source("(host/keep) (host/keep) \"not awaited\"");
    ASSERT_TRUE(result.ok()) << result.error;
    EXPECT_FALSE(kept[0].settled());
  }
  EXPECT_TRUE(kept[0].settled());
  EXPECT_FALSE(kept[0].resolve(Value(1)));
  EXPECT_FALSE(kept[1].reject("too late"));
}

TEST(Embed, ADeadlockedScriptIsReportedNotHung) {
  Engine engine(capturing());
  RunResult result = engine.run_source("(var c (chan)) (c .recv)", "stuck.weft");
  EXPECT_EQ(result.exit_code, 70);
  EXPECT_NE(result.error.find("deadlock: 1 task waiting forever"), std::string::npos)
      << result.error;
}

TEST(Embed, ScriptArgumentsAndTwoEnginesAtOnce) {
  EngineOptions options = capturing(2);
  options.args = {"first", "second"};
  Engine one(options);
  Engine two(capturing(2));
  EXPECT_EQ(one.run_source("$args/1").value.as_string(), "second");
  EXPECT_EQ(two.run_source("$args/.size").value.as_int(), 0);
}

}  // namespace
