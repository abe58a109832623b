// weft::embed::Engine and weft::embed::Promise (include/weft/): a Runtime
// behind the public API, host functions as natives that carry their
// std::function (NativeData), and host promises as futures the host settles
// from any thread.
//
// Protocol (promise.h's rules, on the engine side)
// ------------------------------------------------
//   1. An async host call makes a future, lists its Promise::State in the
//      engine's HostLink and takes an outside-work hold
//      (Runtime::outside_work_started) before the host function sees the
//      promise, while the calling task still runs (scheduler.h, "Holds").
//   2. Settling takes the HostLink's lock, takes the future out of the
//      state (so only the first settle finds it), settles it (waking the
//      tasks that await it), unlists the state, releases the hold and drops
//      the future, all under the lock. So a settle never races with the
//      engine's destruction, and the hold is released after the wake.
//   3. The state's destructor (the last Promise copy dropped) settles an
//      unsettled future as rejected (promise.h rule 3).
//   4. ~Engine takes the lock, cancels every listed future, releases their
//      holds and clears the link's runtime; settles after that find no
//      runtime and return false (promise.h rule 4). Only then is the
//      runtime destroyed.
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "engine/embed_value.h"
#include "engine/exception.h"
#include "engine/function.h"
#include "engine/future.h"
#include "engine/program.h"
#include "engine/runtime.h"
#include "weft/engine.h"

namespace weft {

namespace {

// What an engine's promises share with it (rules 2 and 4).
struct HostLink {
  std::mutex lock;
  Runtime* runtime = nullptr;  // null once the engine is gone
  std::unordered_set<embed::Promise::State*> pending;
};

std::vector<embed::Value> host_arguments(const NativeCall& call) {
  std::vector<embed::Value> args;
  args.reserve(call.count);
  for (uint32_t i = 0; i < call.count; ++i) args.push_back(to_host_value(call.args[i]));
  return args;
}

struct HostFunction final : NativeData {
  std::string name;
  embed::Function fn;
};

struct HostAsyncFunction final : NativeData {
  std::string name;
  embed::AsyncFunction fn;
  std::shared_ptr<HostLink> link;
};

}  // namespace

struct embed::Promise::State {
  std::shared_ptr<HostLink> link;
  weft::Value future;  // guarded by link->lock; nil once settled
  std::string function_name;

  // Rule 2. `settle_future` settles it under the lock, on the calling thread.
  template <class Settle>
  bool settle(Settle settle_future) {
    std::lock_guard guard(link->lock);
    if (link->runtime == nullptr || future.is_nil()) return false;
    weft::Value taken = std::move(future);
    future = weft::Value();
    settle_future(*taken.as<Future>());
    link->pending.erase(this);
    link->runtime->outside_work_finished();
    taken = weft::Value();
    return true;
  }

  ~State() {
    // Rule 3.
    (void)settle([this](Future& f) {
      (void)f.fail(make_exception(ExcClass::HostException,
                                  function_name + ": the host dropped the promise without "
                                                  "settling it"));
    });
  }
};

namespace embed {

bool Promise::resolve(Value value) const {
  return state_->settle([&value](Future& f) { (void)f.complete(from_host_value(value)); });
}

bool Promise::reject(std::string message) const {
  return state_->settle([this, &message](Future& f) {
    (void)f.fail(make_exception(ExcClass::HostException, state_->function_name + ": " + message));
  });
}

bool Promise::settled() const {
  std::lock_guard guard(state_->link->lock);
  return state_->future.is_nil();
}

}  // namespace embed

namespace {

weft::Value call_host_function(NativeCall& call) {
  const auto& host = static_cast<const HostFunction&>(*call.callee->data());
  embed::Value result;
  try {
    result = host.fn(host_arguments(call));
  } catch (const std::exception& error) {
    throw_error(ExcClass::HostException, host.name + ": " + error.what());
  } catch (...) {
    throw_error(ExcClass::HostException, host.name + ": the host function failed");
  }
  return from_host_value(result);
}

weft::Value call_host_async_function(NativeCall& call) {
  const auto& host = static_cast<const HostAsyncFunction&>(*call.callee->data());
  std::vector<embed::Value> args = host_arguments(call);
  weft::Value future = make_future(call.runtime);
  auto state = std::make_shared<embed::Promise::State>();
  state->link = host.link;
  state->future = future;
  state->function_name = host.name;
  {
    // Rule 1: listed and held before the host can settle it.
    std::lock_guard guard(host.link->lock);
    host.link->pending.insert(state.get());
    call.runtime.outside_work_started();
  }
  embed::Promise promise(state);
  try {
    host.fn(std::move(args), promise);
  } catch (const std::exception& error) {
    (void)promise.reject(error.what());
  } catch (...) {
    (void)promise.reject("the host function failed");
  }
  return future;
}

}  // namespace

namespace embed {

struct Engine::Impl {
  std::string output;  // written by the runtime while capturing, read between runs
  std::unique_ptr<Runtime> runtime;
  std::shared_ptr<HostLink> link = std::make_shared<HostLink>();
  bool capture = false;

  RunResult finish(ProgramResult program, Value value) {
    runtime->flush_out();
    RunResult result;
    result.exit_code = program.exit_code;
    result.error = std::move(program.error);
    result.value = std::move(value);
    if (capture) result.output = std::exchange(output, {});
    return result;
  }
};

Engine::Engine(EngineOptions options) : impl_(std::make_unique<Impl>()) {
  RuntimeOptions runtime_options;
  runtime_options.threads = options.threads;
  runtime_options.script_args = std::move(options.args);
  impl_->runtime = std::make_unique<Runtime>(std::move(runtime_options));
  impl_->link->runtime = impl_->runtime.get();
  impl_->capture = options.capture_output;
  if (impl_->capture) impl_->runtime->capture_output(&impl_->output);
}

Engine::~Engine() {
  {
    // Rule 4.
    std::lock_guard guard(impl_->link->lock);
    for (Promise::State* state : impl_->link->pending) {
      weft::Value taken = std::move(state->future);
      state->future = weft::Value();
      (void)taken.as<Future>()->cancel();
      impl_->runtime->outside_work_finished();
    }
    impl_->link->pending.clear();
    impl_->link->runtime = nullptr;
  }
  impl_->runtime->flush_out();
}

void Engine::register_function(std::string name, int min_args, int max_args, Function fn) {
  auto data = std::make_shared<HostFunction>();
  data->name = name;
  data->fn = std::move(fn);
  impl_->runtime->register_builtin(
      name, weft::Value::adopt(
                new Native(name, call_host_function, min_args, max_args, std::move(data))));
}

void Engine::register_async_function(std::string name, int min_args, int max_args,
                                     AsyncFunction fn) {
  auto data = std::make_shared<HostAsyncFunction>();
  data->name = name;
  data->fn = std::move(fn);
  data->link = impl_->link;
  impl_->runtime->register_builtin(
      name, weft::Value::adopt(
                new Native(name, call_host_async_function, min_args, max_args, std::move(data))));
}

RunResult Engine::run_source(std::string_view source, std::string name) {
  Value value;
  ProgramResult program = weft::run_source(
      *impl_->runtime,
      std::make_shared<SourceFile>(SourceFile{std::move(name), std::string(source)}),
      [&value](const weft::Value& v) { value = to_host_value(v); });
  return impl_->finish(std::move(program), std::move(value));
}

RunResult Engine::run_file(const std::string& path) {
  Value value;
  ProgramResult program = weft::run_file(
      *impl_->runtime, path, [&value](const weft::Value& v) { value = to_host_value(v); });
  return impl_->finish(std::move(program), std::move(value));
}

}  // namespace embed

}  // namespace weft
