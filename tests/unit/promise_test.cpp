// PromiseCore and its waiters: settle-once, registration order, value
// visibility, removal of interest; hammered from many threads. Run under
// ThreadSanitizer too (the plain `int` values below are deliberately not
// atomic: TSan checks that the claim/publish protocol orders them).

#include "scheduler/promise.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

namespace {

using weft::AddWaiterResult;
using weft::DetachableWaiter;
using weft::Outcome;
using weft::PromiseCore;
using weft::Waiter;

#if defined(__SANITIZE_THREAD__)
constexpr int kRounds = 2000;
#else
constexpr int kRounds = 3000;
#endif

// Spins until `go` is set, so that the racing threads start together.
void wait_for_go(const std::atomic<bool>& go) {
  while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
}

// Records each call; `log` is appended by the settler's thread only.
struct RecordingWaiter final : Waiter {
  int id = 0;
  std::atomic<int> calls{0};
  Outcome seen = Outcome::Pending;
  int value_seen = -1;
  const int* value = nullptr;
  std::vector<int>* log = nullptr;

  void on_settled(Outcome outcome) noexcept override {
    seen = outcome;
    if (value != nullptr) value_seen = *value;
    if (log != nullptr) log->push_back(id);
    calls.fetch_add(1, std::memory_order_relaxed);
  }
};

TEST(PromiseCore, StartsPendingAndSettlesOnce) {
  PromiseCore promise;
  EXPECT_EQ(promise.outcome(), Outcome::Pending);
  EXPECT_FALSE(promise.is_settled());
  EXPECT_TRUE(promise.try_settle(Outcome::Failure));
  EXPECT_FALSE(promise.try_settle(Outcome::Success));
  EXPECT_FALSE(promise.try_claim());
  EXPECT_EQ(promise.outcome(), Outcome::Failure);
}

TEST(PromiseCore, WaitersCalledOnceInRegistrationOrder) {
  PromiseCore promise;
  std::vector<int> log;
  RecordingWaiter waiters[5];
  for (int i = 0; i < 5; ++i) {
    waiters[i].id = i;
    waiters[i].log = &log;
    ASSERT_EQ(promise.add_waiter(waiters[i]), AddWaiterResult::Registered);
  }
  EXPECT_TRUE(promise.try_settle(Outcome::Success));
  EXPECT_EQ(log, (std::vector<int>{0, 1, 2, 3, 4}));
  for (auto& w : waiters) {
    EXPECT_EQ(w.calls.load(), 1);
    EXPECT_EQ(w.seen, Outcome::Success);
  }
  RecordingWaiter late;
  EXPECT_EQ(promise.add_waiter(late), AddWaiterResult::AlreadySettled);
  EXPECT_EQ(late.calls.load(), 0);
}

TEST(PromiseCore, ClaimerWritesValueBeforeWaitersSeeIt) {
  PromiseCore promise;
  int value = 0;
  RecordingWaiter waiter;
  waiter.value = &value;
  ASSERT_EQ(promise.add_waiter(waiter), AddWaiterResult::Registered);
  ASSERT_TRUE(promise.try_claim());
  EXPECT_EQ(promise.outcome(), Outcome::Pending);  // claimed, not published
  value = 42;
  promise.publish(Outcome::Success);
  EXPECT_EQ(waiter.value_seen, 42);
}

// A waiter registered while the settler is calling the others (NOTIFYING)
// is queued behind them, not told AlreadySettled ahead of them.
TEST(PromiseCore, WaiterAddedDuringNotificationIsCalledAfterTheOthers) {
  struct Chaining final : Waiter {
    PromiseCore* promise = nullptr;
    std::vector<int>* log = nullptr;
    Waiter* to_add = nullptr;
    AddWaiterResult result = AddWaiterResult::AlreadySettled;
    void on_settled(Outcome) noexcept override {
      log->push_back(0);
      result = promise->add_waiter(*to_add);
    }
  };
  PromiseCore promise;
  std::vector<int> log;
  RecordingWaiter second, third;
  second.id = 1;
  second.log = &log;
  third.id = 2;
  third.log = &log;
  Chaining first;
  first.promise = &promise;
  first.log = &log;
  first.to_add = &third;
  ASSERT_EQ(promise.add_waiter(first), AddWaiterResult::Registered);
  ASSERT_EQ(promise.add_waiter(second), AddWaiterResult::Registered);
  ASSERT_TRUE(promise.try_settle(Outcome::Success));
  EXPECT_EQ(first.result, AddWaiterResult::Registered);
  EXPECT_EQ(log, (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(third.calls.load(), 1);
}

TEST(PromiseCore, DestroyedPendingPromiseCancelsItsWaiters) {
  RecordingWaiter waiter;
  {
    PromiseCore promise;
    ASSERT_EQ(promise.add_waiter(waiter), AddWaiterResult::Registered);
  }
  EXPECT_EQ(waiter.calls.load(), 1);
  EXPECT_EQ(waiter.seen, Outcome::Cancelled);
}

// Many threads register waiters while another settles: each waiter is
// either called exactly once or told AlreadySettled, never both; each
// thread's waiters are called in its registration order; a thread told
// AlreadySettled finds all its earlier waiters already called; every
// waiter sees the value written under the claim.
TEST(PromiseCoreStress, SettleRacesAddWaiter) {
  constexpr int kAdders = 3;
  constexpr int kPerAdder = 24;
  for (int round = 0; round < kRounds; ++round) {
    PromiseCore promise;
    int value = -1;
    std::vector<int> log;
    log.reserve(kAdders * kPerAdder);
    auto waiters = std::make_unique<RecordingWaiter[]>(kAdders * kPerAdder);
    std::vector<AddWaiterResult> results(kAdders * kPerAdder);
    std::vector<int> order_violations(kAdders, 0);
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < kAdders; ++t) {
      threads.emplace_back([&, t] {
        wait_for_go(go);
        for (int k = 0; k < kPerAdder; ++k) {
          const int id = t * kPerAdder + k;
          RecordingWaiter& w = waiters[id];
          w.id = id;
          w.log = &log;
          w.value = &value;
          results[id] = promise.add_waiter(w);
          if (results[id] == AddWaiterResult::AlreadySettled) {
            // Acted at once: the value is visible, earlier waiters are done.
            if (value != round) ++order_violations[t];
            for (int j = 0; j < k; ++j) {
              if (results[t * kPerAdder + j] == AddWaiterResult::Registered &&
                  waiters[t * kPerAdder + j].calls.load(std::memory_order_relaxed) != 1) {
                ++order_violations[t];
              }
            }
          }
        }
      });
    }
    threads.emplace_back([&] {
      wait_for_go(go);
      for (int spin = 0; spin < round % 64; ++spin) std::this_thread::yield();
      ASSERT_TRUE(promise.try_settle(Outcome::Success, [&] { value = round; }));
    });
    go.store(true, std::memory_order_release);
    for (auto& thread : threads) thread.join();

    std::vector<int> last_seen(kAdders, -1);
    for (int id : log) {
      const int t = id / kPerAdder;
      EXPECT_LT(last_seen[t], id) << "round " << round;
      last_seen[t] = id;
    }
    for (int id = 0; id < kAdders * kPerAdder; ++id) {
      const int calls = waiters[id].calls.load();
      if (results[id] == AddWaiterResult::Registered) {
        ASSERT_EQ(calls, 1) << "round " << round << " waiter " << id;
        ASSERT_EQ(waiters[id].value_seen, round);
        ASSERT_EQ(waiters[id].seen, Outcome::Success);
      } else {
        ASSERT_EQ(calls, 0) << "round " << round << " waiter " << id;
      }
    }
    for (int t = 0; t < kAdders; ++t) ASSERT_EQ(order_violations[t], 0);
  }
}

// Several settlers race, each writing its own value under its claim:
// exactly one wins, and everyone sees the winner's outcome and value.
TEST(PromiseCoreStress, SettleRacesSettle) {
  constexpr int kSettlers = 4;
  const Outcome outcomes[kSettlers] = {Outcome::Success, Outcome::Failure, Outcome::Cancelled,
                                       Outcome::Success};
  for (int round = 0; round < kRounds; ++round) {
    PromiseCore promise;
    int value = -1;
    RecordingWaiter early[4];
    for (auto& w : early) {
      w.value = &value;
      ASSERT_EQ(promise.add_waiter(w), AddWaiterResult::Registered);
    }
    std::atomic<bool> go{false};
    bool won[kSettlers] = {};
    std::vector<std::thread> threads;
    for (int s = 0; s < kSettlers; ++s) {
      threads.emplace_back([&, s] {
        wait_for_go(go);
        won[s] = promise.try_settle(outcomes[s], [&] { value = s; });
      });
    }
    go.store(true, std::memory_order_release);
    for (auto& thread : threads) thread.join();
    int winners = 0, winner = -1;
    for (int s = 0; s < kSettlers; ++s) {
      if (won[s]) {
        ++winners;
        winner = s;
      }
    }
    ASSERT_EQ(winners, 1) << "round " << round;
    EXPECT_EQ(promise.outcome(), outcomes[winner]);
    EXPECT_EQ(value, winner);
    for (auto& w : early) {
      ASSERT_EQ(w.calls.load(), 1);
      EXPECT_EQ(w.seen, outcomes[winner]);
      EXPECT_EQ(w.value_seen, winner);
    }
  }
}

// A removable waiter for the cancel/detach race; counts its fire() calls
// and its destruction.
struct CountingDetachable final : DetachableWaiter {
  std::atomic<int>* fired;
  std::atomic<int>* destroyed;
  CountingDetachable(std::atomic<int>* f, std::atomic<int>* d) : fired(f), destroyed(d) {}
  ~CountingDetachable() override { destroyed->fetch_add(1, std::memory_order_relaxed); }
  void fire(Outcome) noexcept override { fired->fetch_add(1, std::memory_order_relaxed); }
};

// A resolver and a canceller race to settle while other threads register
// removable waiters and withdraw them: one settle wins; for each waiter,
// fire() ran exactly when detach() returned false (and it was registered);
// every node is freed exactly once, whichever side let go last.
TEST(PromiseCoreStress, SettleRacesCancelAndDetach) {
  constexpr int kAdders = 2;
  constexpr int kPerAdder = 16;
  constexpr int kNodes = kAdders * kPerAdder;
  for (int round = 0; round < kRounds; ++round) {
    auto promise = std::make_unique<PromiseCore>();
    int value = -1;
    std::vector<std::atomic<int>> fired(kNodes), destroyed(kNodes);
    std::vector<AddWaiterResult> armed(kNodes);
    std::vector<char> detached_first(kNodes, 0);
    std::atomic<bool> go{false};
    bool resolved = false, cancelled = false;
    std::vector<std::thread> threads;
    for (int t = 0; t < kAdders; ++t) {
      threads.emplace_back([&, t] {
        wait_for_go(go);
        for (int k = 0; k < kPerAdder; ++k) {
          const int id = t * kPerAdder + k;
          auto* node = new CountingDetachable(&fired[id], &destroyed[id]);
          armed[id] = node->arm(*promise);
          // Half withdraw at once, half after the next registration.
          if (k % 2 == 1) std::this_thread::yield();
          detached_first[id] = node->detach() ? 1 : 0;
        }
      });
    }
    threads.emplace_back([&] {
      wait_for_go(go);
      resolved = promise->try_settle(Outcome::Success, [&] { value = 1; });
    });
    threads.emplace_back([&] {
      wait_for_go(go);
      cancelled = promise->try_settle(Outcome::Cancelled, [&] { value = 2; });
    });
    go.store(true, std::memory_order_release);
    for (auto& thread : threads) thread.join();
    ASSERT_NE(resolved, cancelled) << "round " << round;
    EXPECT_EQ(value, resolved ? 1 : 2);
    EXPECT_EQ(promise->outcome(), resolved ? Outcome::Success : Outcome::Cancelled);
    promise.reset();
    for (int id = 0; id < kNodes; ++id) {
      const int f = fired[id].load();
      if (armed[id] == AddWaiterResult::AlreadySettled) {
        ASSERT_EQ(f, 0);
        ASSERT_TRUE(detached_first[id]);
      } else {
        ASSERT_EQ(f, detached_first[id] ? 0 : 1) << "round " << round << " node " << id;
      }
      ASSERT_EQ(destroyed[id].load(), 1) << "round " << round << " node " << id;
    }
  }
}

// Removable waiters on a promise that is destroyed while they are still
// armed are called (Cancelled) once and freed once.
TEST(PromiseCore, DetachableWaiterFreedWhenPromiseDies) {
  std::atomic<int> fired{0}, destroyed{0};
  auto* kept = new CountingDetachable(&fired, &destroyed);
  auto* withdrawn = new CountingDetachable(&fired, &destroyed);
  {
    PromiseCore promise;
    ASSERT_EQ(kept->arm(promise), AddWaiterResult::Registered);
    ASSERT_EQ(withdrawn->arm(promise), AddWaiterResult::Registered);
    EXPECT_TRUE(withdrawn->detach());
    EXPECT_EQ(destroyed.load(), 0);  // the promise still holds it
  }
  EXPECT_EQ(fired.load(), 1);
  EXPECT_EQ(destroyed.load(), 1);  // `withdrawn`; `kept` waits for its owner
  EXPECT_FALSE(kept->detach());
  EXPECT_EQ(destroyed.load(), 2);
}

// A removable waiter that records when it fired, to check the order.
struct SequencedDetachable final : DetachableWaiter {
  std::atomic<int>* sequence;
  std::atomic<int>* fired_at;
  std::atomic<int>* destroyed;
  SequencedDetachable(std::atomic<int>* s, std::atomic<int>* f, std::atomic<int>* d)
      : sequence(s), fired_at(f), destroyed(d) {}
  ~SequencedDetachable() override { destroyed->fetch_add(1, std::memory_order_relaxed); }
  void fire(Outcome) noexcept override {
    fired_at->store(sequence->fetch_add(1, std::memory_order_relaxed) + 1,
                    std::memory_order_relaxed);
  }
};

// Rules 9 to 11: waiters withdrawn from a promise that stays pending are
// freed as later waiters register, and the rest are still called once, in
// registration order.
TEST(PromiseCore, PruningFreesWithdrawnWaitersAndKeepsOrder) {
  constexpr int kNodes = 2000;
  PromiseCore promise;
  std::atomic<int> sequence{0};
  std::vector<std::atomic<int>> fired_at(kNodes), destroyed(kNodes);
  std::vector<SequencedDetachable*> kept;
  for (int id = 0; id < kNodes; ++id) {
    auto* node = new SequencedDetachable(&sequence, &fired_at[id], &destroyed[id]);
    ASSERT_EQ(node->arm(promise), AddWaiterResult::Registered);
    if (id % 2 == 1) {
      ASSERT_TRUE(node->detach());
    } else {
      kept.push_back(node);
    }
  }
  int freed_while_pending = 0;
  for (int id = 1; id < kNodes; id += 2) freed_while_pending += destroyed[id].load();
  // Rule 9: at most as many withdrawn nodes are left as were kept by the
  // last prune, rounded up to a power of two (at least kMinPruneInterval).
  const int kept_count = kNodes / 2;
  const int left = kNodes / 2 - freed_while_pending;
  EXPECT_LE(left, 2 * kept_count + static_cast<int>(PromiseCore::kMinPruneInterval));
  EXPECT_GT(freed_while_pending, kNodes / 4);
  ASSERT_TRUE(promise.try_settle(Outcome::Success));
  int last = 0;
  for (int id = 0; id < kNodes; id += 2) {
    ASSERT_GT(fired_at[id].load(), last) << "node " << id;
    last = fired_at[id].load();
  }
  for (int id = 1; id < kNodes; id += 2) {
    EXPECT_EQ(fired_at[id].load(), 0);
    EXPECT_EQ(destroyed[id].load(), 1);
  }
  for (auto* node : kept) EXPECT_FALSE(node->detach());
  for (int id = 0; id < kNodes; ++id) EXPECT_EQ(destroyed[id].load(), 1) << "node " << id;
}

// Prunes race pushes, detaches, each other and the settle (which may hand
// its notifying to a pruner, rule 12): every waiter that was registered and
// not withdrawn first fires exactly once, each adder's waiters fire in the
// order it registered them, and every node is freed exactly once.
TEST(PromiseCoreStress, PruneRacesSettleAndPush) {
  constexpr int kAdders = 3;
  constexpr int kPerAdder = 300;
  constexpr int kNodes = kAdders * kPerAdder;
  for (int round = 0; round < kRounds / 20; ++round) {
    auto promise = std::make_unique<PromiseCore>();
    int value = -1;
    std::atomic<int> sequence{0};
    std::vector<std::atomic<int>> fired_at(kNodes), destroyed(kNodes);
    std::vector<AddWaiterResult> armed(kNodes);
    std::vector<char> detached_first(kNodes, 0);
    std::vector<std::vector<SequencedDetachable*>> keep(kAdders);
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < kAdders; ++t) {
      threads.emplace_back([&, t] {
        wait_for_go(go);
        for (int k = 0; k < kPerAdder; ++k) {
          const int id = t * kPerAdder + k;
          auto* node = new SequencedDetachable(&sequence, &fired_at[id], &destroyed[id]);
          armed[id] = node->arm(*promise);
          if (k % 3 == 0) {
            keep[t].push_back(node);  // detached after the settle
          } else {
            detached_first[id] = node->detach() ? 1 : 0;
          }
        }
      });
    }
    threads.emplace_back([&] {
      wait_for_go(go);
      for (int spin = 0; spin < (round % 7) * 50; ++spin) std::this_thread::yield();
      ASSERT_TRUE(promise->try_settle(Outcome::Success, [&] { value = 1; }));
    });
    go.store(true, std::memory_order_release);
    for (auto& thread : threads) thread.join();
    EXPECT_EQ(value, 1);
    for (int t = 0; t < kAdders; ++t) {
      for (auto* node : keep[t]) (void)node->detach();
    }
    promise.reset();
    for (int t = 0; t < kAdders; ++t) {
      int last = 0;
      for (int k = 0; k < kPerAdder; ++k) {
        const int id = t * kPerAdder + k;
        const int at = fired_at[id].load();
        const bool should_fire =
            armed[id] == AddWaiterResult::Registered && (k % 3 == 0 || !detached_first[id]);
        ASSERT_EQ(at != 0, should_fire) << "round " << round << " node " << id;
        if (at != 0) {
          ASSERT_GT(at, last) << "round " << round << " node " << id;
          last = at;
        }
        ASSERT_EQ(destroyed[id].load(), 1) << "round " << round << " node " << id;
      }
    }
  }
}

}  // namespace
