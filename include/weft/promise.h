// weft::embed::Promise: the host's end of a future that a script awaits.
// An async host function (Engine::register_async_function) gets one and
// settles it later, from any thread: its own pool, a callback library.
//
// Protocol
//   1. The first resolve() or reject() settles the future and wakes the
//      tasks that await it; later calls return false and do nothing. Any
//      thread; copies share one state.
//   2. While a promise is unsettled the program is not idle: the deadlock
//      detector counts it as pending work, the way it counts a timer.
//   3. A promise dropped unsettled (its last copy destroyed) rejects its
//      future with "the host dropped the promise", so no task waits
//      forever on a host that forgot it.
//   4. Promises still unsettled when their Engine is destroyed are
//      rejected then; settling one afterwards returns false.
#pragma once

#include <memory>
#include <string>

#include "weft/value.h"

namespace weft::embed {

class Promise {
 public:
  bool resolve(Value value) const;
  bool reject(std::string message) const;
  bool settled() const;

  // The engine makes promises; State is defined on its side only.
  struct State;
  explicit Promise(std::shared_ptr<State> state) : state_(std::move(state)) {}

 private:
  std::shared_ptr<State> state_;
};

}  // namespace weft::embed
