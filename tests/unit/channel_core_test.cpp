// ChannelCore (scheduler/channel.h), its wait lists and the Parker
// (scheduler/parker.h), driven by real Scheduler tasks: FIFO order, exact
// accounting with many producers and consumers, close and fail with tasks
// parked, a claimed task that leaves (pass_on), stale tickets swept.
//
// Tests assert behaviour (exact counts, order), never time. A lost wake
// shows as a task left parked with work it could do once the scheduler is
// quiescent: the storms check that state before they close the channel
// (a close wakes everyone and would hide it).

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "scheduler/channel.h"
#include "scheduler/parker.h"
#include "scheduler/scheduler.h"
#include "scheduler/task.h"

namespace {

using weft::ChannelCore;
using weft::ChannelOp;
using weft::ParkedTask;
using weft::Parker;
using weft::Parking;
using weft::RunResult;
using weft::Scheduler;
using weft::SchedulerOptions;
using weft::Task;
using weft::TaskRef;

// ThreadSanitizer runs these several times slower: smaller storms there.
#if defined(__SANITIZE_THREAD__)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

constexpr std::uint32_t scaled(std::uint32_t n) {
  return kSanitized ? n / 4 : n;
}

// An item names its producer (high half) and its place in that producer's
// sequence (low half), so that every receipt can be checked.
using Item = std::uint64_t;
constexpr Item make_item(std::uint32_t producer, std::uint32_t seq) {
  return (Item{producer} << 32) | seq;
}
constexpr std::uint32_t producer_of(Item item) {
  return static_cast<std::uint32_t>(item >> 32);
}
constexpr std::uint32_t seq_of(Item item) {
  return static_cast<std::uint32_t>(item);
}

// What a task does when it runs again (the engine's interrupt, simulated):
// channel.h rule 6 and parker.h rule 3.
enum class Leave : std::uint8_t {
  Never,     // always retries (channel.h rule 5)
  OnCancel,  // leaves at its next run once cancel() was called
  OnResume,  // leaves on the first run after any park
};

// A task that drives channel operations the way engine tasks do: every
// try arms a new park; Parked suspends; the run after a park first
// disarms it, then retries, or leaves and passes a claimed wake on.
template <class T>
class ChannelTask : public Task {
 public:
  std::atomic<bool> overlapped{false};
  std::atomic<int> runs{0};
  // Written by the task's runs only; read by the test once quiescent.
  int claimed_resumes = 0;    // runs after a park that a waker had claimed
  int unclaimed_resumes = 0;  // runs after a park nobody claimed
  int unexpected = 0;         // a result the test did not allow, or a claim
                              // of a park that left no ticket
  bool left = false;          // ended by Leave instead of finishing
  bool passed_on = false;     // left after a claim, so called pass_on()

 protected:
  ChannelTask(ChannelCore<T>& core, Leave leave) : core_(core), leave_(leave) {}

  // The task's work from where it stopped (after the park, if any, was
  // disarmed).
  virtual RunResult step() = 0;

  // One try of send/recv with a newly armed park.
  ChannelOp try_send(T& value) {
    const Parking parking{*this, parker_, epoch_ = parker_.arm()};
    return finish_try(core_.send(value, &parking));
  }
  ChannelOp try_recv(T& out) {
    const Parking parking{*this, parker_, epoch_ = parker_.arm()};
    return finish_try(core_.recv(out, &parking));
  }

  ChannelCore<T>& core() { return core_; }

 private:
  RunResult run(std::uint32_t) final {
    if (in_run_.exchange(true, std::memory_order_acquire)) overlapped.store(true);
    runs.fetch_add(1, std::memory_order_relaxed);
    RunResult result = resume();
    in_run_.store(false, std::memory_order_release);
    return result;
  }

  RunResult resume() {
    bool claimed = false;
    const bool was_parked = parked_;
    if (parked_) {
      parked_ = false;
      // parker.h rule 3: disarm first; false means a waker claimed it.
      claimed = !parker_.disarm(epoch_);
      (claimed ? claimed_resumes : unclaimed_resumes) += 1;
    }
    const bool leaving = (leave_ == Leave::OnResume && was_parked) ||
                         (leave_ == Leave::OnCancel && cancel_requested());
    if (leaving) {
      // channel.h rule 6: a claim announced an item or a slot that this
      // task will not take; the next waiter must get it.
      if (claimed) core_.pass_on();
      passed_on = claimed;
      left = true;
      return RunResult::Completed;
    }
    return step();
  }

  ChannelOp finish_try(ChannelOp op) {
    if (op == ChannelOp::Parked) {
      parked_ = true;
    } else if (!parker_.disarm(epoch_)) {
      // No ticket of this park went anywhere: nothing can have claimed it.
      ++unexpected;
    }
    return op;
  }

  ChannelCore<T>& core_;
  const Leave leave_;
  Parker parker_;
  std::uint64_t epoch_ = 0;
  bool parked_ = false;
  std::atomic<bool> in_run_{false};
};

// Sends make_item(id, 0 .. count-1), then completes; the last producer of
// a group to end closes the channel if `close_when_done` is given.
class Producer final : public ChannelTask<Item> {
 public:
  Producer(ChannelCore<Item>& core, std::uint32_t id, std::uint32_t count, Leave leave,
           std::atomic<int>* close_when_done)
      : ChannelTask(core, leave), id_(id), count_(count), close_when_done_(close_when_done) {}

  std::uint32_t sent = 0;  // items that send() took (Done)
  bool saw_closed = false;

  [[nodiscard]] std::uint32_t id() const { return id_; }

 private:
  RunResult step() override {
    while (sent < count_) {
      Item item = make_item(id_, sent);
      switch (try_send(item)) {
        case ChannelOp::Parked:
          return RunResult::Suspended;
        case ChannelOp::Done:
          ++sent;
          break;
        case ChannelOp::Closed:
          saw_closed = true;
          return finish();
        default:
          ++unexpected;
          return finish();
      }
      // Let other tasks interleave with a producer that never parks.
      if (sent % 64 == 0 && sent < count_) return RunResult::Yielded;
    }
    return finish();
  }

  RunResult finish() {
    // acq_rel: the last producer's close comes after every other
    // producer's sends.
    if (close_when_done_ != nullptr &&
        close_when_done_->fetch_sub(1, std::memory_order_acq_rel) == 1) {
      core().close();
    }
    return RunResult::Completed;
  }

  const std::uint32_t id_;
  const std::uint32_t count_;
  std::atomic<int>* const close_when_done_;
};

// Receives until Closed or Failed, or until it has `limit` items (0: no
// limit), keeping what it got in order.
template <class T>
class Receiver final : public ChannelTask<T> {
 public:
  Receiver(ChannelCore<T>& core, Leave leave, std::atomic<std::uint64_t>* received,
           std::size_t limit = 0)
      : ChannelTask<T>(core, leave), received_(received), limit_(limit) {}

  std::vector<T> got;
  bool saw_closed = false;
  std::optional<T> failure;  // the error that Failed delivered

 private:
  RunResult step() override {
    for (;;) {
      T item{};
      switch (this->try_recv(item)) {
        case ChannelOp::Parked:
          return RunResult::Suspended;
        case ChannelOp::Done:
          got.push_back(std::move(item));
          // Relaxed: a progress counter for the test thread's pacing only.
          if (received_ != nullptr) received_->fetch_add(1, std::memory_order_relaxed);
          if (got.size() == limit_) return RunResult::Completed;
          if (got.size() % 64 == 0) return RunResult::Yielded;
          break;
        case ChannelOp::Closed:
          saw_closed = true;
          return RunResult::Completed;
        case ChannelOp::Failed:
          failure = std::move(item);
          return RunResult::Completed;
        default:
          ++this->unexpected;
          return RunResult::Completed;
      }
    }
  }

  std::atomic<std::uint64_t>* const received_;
  const std::size_t limit_;
};

using ItemReceiver = Receiver<Item>;

template <class TaskType, class... Args>
TaskType& spawn(Scheduler& scheduler, std::vector<TaskRef>& keep, Args&&... args) {
  keep.push_back(weft::make_task<TaskType>(std::forward<Args>(args)...));
  scheduler.spawn(keep.back());
  return static_cast<TaskType&>(*keep.back());
}

template <class TaskType>
std::vector<TaskType*> as(const std::vector<TaskRef>& tasks) {
  std::vector<TaskType*> out;
  for (const TaskRef& task : tasks) out.push_back(static_cast<TaskType*>(task.get()));
  return out;
}

template <class T>
void expect_sound(const ChannelTask<T>& task, const char* what, std::size_t index) {
  EXPECT_FALSE(task.overlapped.load()) << what << " " << index << " ran on two workers at once";
  EXPECT_EQ(task.unexpected, 0) << what << " " << index;
}

// Every item that a producer's send took was received exactly once, no
// other item was received, and every receiver saw each producer's items
// in the order sent.
void expect_exact_delivery(const std::vector<Producer*>& producers,
                           const std::vector<ItemReceiver*>& receivers) {
  std::vector<std::vector<std::uint8_t>> times(producers.size());
  for (std::size_t p = 0; p < producers.size(); ++p) {
    ASSERT_EQ(producers[p]->id(), p);
    times[p].assign(producers[p]->sent, 0);
  }
  for (std::size_t r = 0; r < receivers.size(); ++r) {
    std::vector<std::int64_t> last(producers.size(), -1);
    for (Item item : receivers[r]->got) {
      const std::uint32_t p = producer_of(item);
      const std::uint32_t seq = seq_of(item);
      ASSERT_LT(p, producers.size()) << "receiver " << r << " got a foreign item";
      ASSERT_LT(seq, times[p].size()) << "receiver " << r << " got an item never sent";
      ASSERT_EQ(++times[p][seq], 1) << "item " << p << ":" << seq << " received twice";
      ASSERT_GT(static_cast<std::int64_t>(seq), last[p])
          << "receiver " << r << " saw producer " << p << " out of order";
      last[p] = seq;
    }
  }
  for (std::size_t p = 0; p < producers.size(); ++p) {
    for (std::size_t seq = 0; seq < times[p].size(); ++seq) {
      ASSERT_EQ(times[p][seq], 1) << "item " << p << ":" << seq << " lost";
    }
  }
}

// ------------------------------------------------------------ Parker

TEST(Parker, ClaimWinsOnceAndThenDisarmFails) {
  Parker parker;
  const std::uint64_t epoch = parker.arm();
  EXPECT_TRUE(parker.armed_for(epoch));
  EXPECT_TRUE(parker.claim(epoch));
  EXPECT_FALSE(parker.armed_for(epoch));
  EXPECT_FALSE(parker.claim(epoch));
  EXPECT_FALSE(parker.disarm(epoch));  // the task learns that it was claimed
  EXPECT_FALSE(parker.disarm(epoch));
}

TEST(Parker, DisarmedParkCannotBeClaimed) {
  Parker parker;
  const std::uint64_t epoch = parker.arm();
  EXPECT_TRUE(parker.disarm(epoch));
  EXPECT_FALSE(parker.armed_for(epoch));
  EXPECT_FALSE(parker.claim(epoch));
}

TEST(Parker, StaleEpochsCannotClaimALaterPark) {
  Parker parker;
  std::vector<std::uint64_t> epochs;
  for (int i = 0; i < 100; ++i) {
    const std::uint64_t epoch = parker.arm();
    if (!epochs.empty()) {
      EXPECT_GT(epoch, epochs.back());
    }
    if (i % 2 == 0) {
      EXPECT_TRUE(parker.disarm(epoch));
    } else {
      EXPECT_TRUE(parker.claim(epoch));
    }
    epochs.push_back(epoch);
  }
  const std::uint64_t current = parker.arm();
  for (std::uint64_t stale : epochs) {
    EXPECT_FALSE(parker.armed_for(stale));
    EXPECT_FALSE(parker.claim(stale)) << "epoch " << stale;
  }
  EXPECT_TRUE(parker.armed_for(current));
  EXPECT_TRUE(parker.claim(current));
}

TEST(Parker, ArmWithoutDisarmStartsANewParkThatOldTicketsCannotClaim) {
  // A try that did not park may leave its park armed; the next arm()
  // must still retire it.
  Parker parker;
  const std::uint64_t first = parker.arm();
  const std::uint64_t second = parker.arm();
  EXPECT_GT(second, first);
  EXPECT_FALSE(parker.claim(first));
  EXPECT_TRUE(parker.claim(second));
}

// Each round the owner arms and then disarms while two other threads
// claim the same epoch (and one of them the previous, stale, epoch):
// exactly one of the three wins every round.
TEST(Parker, ExactlyOneOfClaimersAndOwnerWinsEachRound) {
  const std::uint32_t rounds = scaled(20'000);
  Parker parker;
  std::atomic<std::uint64_t> published{0};
  std::atomic<std::uint32_t> finished{0};
  auto wins = std::make_unique<std::atomic<std::uint8_t>[]>(rounds + 1);
  std::atomic<int> stale_wins{0};
  auto claimer = [&](bool also_stale) {
    for (std::uint64_t round = 1; round <= rounds; ++round) {
      while (published.load(std::memory_order_acquire) < round) std::this_thread::yield();
      if (parker.claim(round)) wins[round].fetch_add(1, std::memory_order_relaxed);
      if (also_stale && parker.claim(round - 1)) stale_wins.fetch_add(1);
      finished.fetch_add(1, std::memory_order_acq_rel);
    }
  };
  std::thread a(claimer, true);
  std::thread b(claimer, false);
  for (std::uint64_t round = 1; round <= rounds; ++round) {
    ASSERT_EQ(parker.arm(), round);
    published.store(round, std::memory_order_release);
    if (round % 2 == 0) std::this_thread::yield();  // vary who gets there first
    if (parker.disarm(round)) wins[round].fetch_add(1, std::memory_order_relaxed);
    while (finished.load(std::memory_order_acquire) < 2 * round) std::this_thread::yield();
  }
  a.join();
  b.join();
  EXPECT_EQ(stale_wins.load(), 0);
  for (std::uint32_t round = 1; round <= rounds; ++round) {
    ASSERT_EQ(wins[round].load(), 1) << "round " << round;
  }
}

// A task parked with tickets in two lists (as a select does): two threads
// wake both tickets at once; one wins, the task runs once more, and its
// disarm reports the claim. The tickets' references go when they do.
class TwoTicketTask final : public Task {
 public:
  std::optional<ParkedTask> first, second;
  std::atomic<int> runs{0};
  bool disarm_after_wake = true;

 private:
  RunResult run(std::uint32_t) override {
    if (runs.fetch_add(1, std::memory_order_relaxed) == 0) {
      epoch_ = parker_.arm();
      first.emplace(*this, parker_, epoch_);
      second.emplace(*this, parker_, epoch_);
      return RunResult::Suspended;
    }
    disarm_after_wake = parker_.disarm(epoch_);
    return RunResult::Completed;
  }
  Parker parker_;
  std::uint64_t epoch_ = 0;
};

TEST(Parker, ATicketPairWakesTheTaskOnce) {
  const int rounds = static_cast<int>(scaled(600));
  Scheduler scheduler(2);
  int first_won = 0;
  for (int round = 0; round < rounds; ++round) {
    TaskRef ref = weft::make_task<TwoTicketTask>();
    auto& task = static_cast<TwoTicketTask&>(*ref);
    scheduler.spawn(ref);
    scheduler.wait_until_quiescent();
    ASSERT_EQ(task.runs.load(), 1);
    EXPECT_EQ(task.state().refs(), 3u);  // ours and one per ticket
    EXPECT_FALSE(task.first->stale());
    // Both threads wait until both are there, then wake at once.
    std::atomic<int> ready{0};
    auto meet = [&] {
      ready.fetch_add(1, std::memory_order_acq_rel);
      for (int spins = 0; ready.load(std::memory_order_acquire) < 2; ++spins) {
        if (spins % 64 == 63) std::this_thread::yield();
      }
    };
    bool woke_second = false;
    std::thread other([&] {
      meet();
      woke_second = task.second->wake();
    });
    meet();
    const bool woke_first = task.first->wake();
    other.join();
    ASSERT_NE(woke_first, woke_second) << "round " << round;
    first_won += woke_first ? 1 : 0;
    scheduler.wait_for_all_tasks_ended();
    EXPECT_EQ(task.runs.load(), 2);
    EXPECT_FALSE(task.disarm_after_wake);
    EXPECT_TRUE(task.first->stale());
    EXPECT_TRUE(task.second->stale());
    task.first.reset();
    task.second.reset();
    EXPECT_EQ(task.state().refs(), 1u);
  }
  std::printf("  the first ticket won %d of %d rounds\n", first_won, rounds);
}

// ------------------------------------------------------------ without tasks

TEST(ChannelCoreBasics, WithoutParkingFullAndEmptyReportWouldBlock) {
  ChannelCore<int> core(2);
  EXPECT_EQ(core.capacity(), 2u);
  int out = -1;
  EXPECT_EQ(core.recv(out, nullptr), ChannelOp::WouldBlock);
  int one = 1, two = 2, three = 3;
  EXPECT_EQ(core.send(one, nullptr), ChannelOp::Done);
  EXPECT_EQ(core.send(two, nullptr), ChannelOp::Done);
  EXPECT_EQ(core.send(three, nullptr), ChannelOp::WouldBlock);
  EXPECT_EQ(three, 3);
  EXPECT_EQ(core.size(), 2u);
  EXPECT_EQ(core.recv(out, nullptr), ChannelOp::Done);
  EXPECT_EQ(out, 1);
  EXPECT_TRUE(core.close());
  EXPECT_FALSE(core.close());
  EXPECT_TRUE(core.closed());
  EXPECT_EQ(core.send(three, nullptr), ChannelOp::Closed);
  EXPECT_EQ(core.recv(out, nullptr), ChannelOp::Done);
  EXPECT_EQ(out, 2);
  EXPECT_EQ(core.recv(out, nullptr), ChannelOp::Closed);
  EXPECT_EQ(core.recv(out, nullptr), ChannelOp::Closed);
}

TEST(ChannelCoreBasics, UnboundedNeverFillsAndKeepsOrder) {
  ChannelCore<int> core(0);
  for (int i = 0; i < 10'000; ++i) {
    int v = i;
    ASSERT_EQ(core.send(v, nullptr), ChannelOp::Done);
  }
  EXPECT_EQ(core.size(), 10'000u);
  for (int i = 0; i < 10'000; ++i) {
    int out = -1;
    ASSERT_EQ(core.recv(out, nullptr), ChannelOp::Done);
    ASSERT_EQ(out, i);
  }
}

TEST(ChannelCoreBasics, FailDrainsThenReportsTheErrorForEver) {
  ChannelCore<std::string> core(0);
  std::string a = "a";
  ASSERT_EQ(core.send(a, nullptr), ChannelOp::Done);
  EXPECT_TRUE(core.fail("boom"));
  EXPECT_FALSE(core.fail("again"));
  EXPECT_FALSE(core.close());
  std::string b = "b";
  EXPECT_EQ(core.send(b, nullptr), ChannelOp::Closed);
  EXPECT_EQ(b, "b");
  std::string out;
  EXPECT_EQ(core.recv(out, nullptr), ChannelOp::Done);
  EXPECT_EQ(out, "a");
  for (int i = 0; i < 3; ++i) {
    out.clear();
    EXPECT_EQ(core.recv(out, nullptr), ChannelOp::Failed);
    EXPECT_EQ(out, "boom");
  }
}

// ------------------------------------------------------------ FIFO and storms

struct Shape {
  std::uint32_t producers;
  std::uint32_t receivers;
  std::size_t capacity;  // 0: unbounded
  std::uint32_t items;   // in total
  unsigned workers;
};

// Producers send their items; the last one closes the channel; receivers
// take until Closed. Checked at quiescence first, so that a lost wake
// fails the test instead of hanging it.
void run_storm(const Shape& shape) {
  Scheduler scheduler(SchedulerOptions{.workers = shape.workers});
  ChannelCore<Item> core(shape.capacity);
  std::atomic<int> producers_left{static_cast<int>(shape.producers)};
  std::vector<TaskRef> receiver_refs, producer_refs;
  for (std::uint32_t r = 0; r < shape.receivers; ++r) {
    spawn<ItemReceiver>(scheduler, receiver_refs, core, Leave::Never, nullptr);
  }
  for (std::uint32_t p = 0; p < shape.producers; ++p) {
    spawn<Producer>(scheduler, producer_refs, core, p, shape.items / shape.producers, Leave::Never,
                    &producers_left);
  }
  scheduler.wait_until_quiescent();
  const bool finished = scheduler.live_tasks() == 0;
  EXPECT_TRUE(finished) << scheduler.live_tasks() << " tasks still parked; items left "
                        << core.size() << ", producers left " << producers_left.load();
  if (!finished) core.close();  // lets the parked tasks end
  scheduler.wait_for_all_tasks_ended();

  const auto producers = as<Producer>(producer_refs);
  const auto receivers = as<ItemReceiver>(receiver_refs);
  for (std::size_t p = 0; p < producers.size(); ++p) {
    expect_sound(*producers[p], "producer", p);
    EXPECT_EQ(producers[p]->sent, shape.items / shape.producers) << "producer " << p;
    EXPECT_FALSE(producers[p]->saw_closed);
  }
  for (std::size_t r = 0; r < receivers.size(); ++r) {
    expect_sound(*receivers[r], "receiver", r);
    EXPECT_TRUE(receivers[r]->saw_closed) << "receiver " << r;
  }
  EXPECT_EQ(core.size(), 0u);
  expect_exact_delivery(producers, receivers);
}

TEST(ChannelCoreFifo, OneProducerOneReceiverBoundedOne) {
  run_storm(
      {.producers = 1, .receivers = 1, .capacity = 1, .items = scaled(100'000), .workers = 2});
}

TEST(ChannelCoreFifo, OneProducerOneReceiverBoundedSixteen) {
  run_storm(
      {.producers = 1, .receivers = 1, .capacity = 16, .items = scaled(200'000), .workers = 2});
}

TEST(ChannelCoreFifo, OneProducerOneReceiverUnbounded) {
  run_storm(
      {.producers = 1, .receivers = 1, .capacity = 0, .items = scaled(200'000), .workers = 2});
}

TEST(ChannelCoreFifo, EightProducersOneReceiverKeepsEachProducersOrder) {
  run_storm(
      {.producers = 8, .receivers = 1, .capacity = 4, .items = scaled(100'000), .workers = 4});
}

TEST(ChannelCoreStorm, EightByEightBoundedOne) {
  run_storm(
      {.producers = 8, .receivers = 8, .capacity = 1, .items = scaled(100'000), .workers = 4});
}

TEST(ChannelCoreStorm, EightByEightBoundedSixteen) {
  run_storm(
      {.producers = 8, .receivers = 8, .capacity = 16, .items = scaled(100'000), .workers = 4});
}

TEST(ChannelCoreStorm, EightByEightUnbounded) {
  run_storm(
      {.producers = 8, .receivers = 8, .capacity = 0, .items = scaled(100'000), .workers = 4});
}

// ------------------------------------------------------------ close and fail

// Senders parked on a full channel: close wakes each exactly once and each
// sees Closed; receivers that come after drain the items, then see Closed.
TEST(ChannelCoreClose, ParkedSendersWakeAndSeeClosedThenReceiversDrain) {
  constexpr std::uint32_t kSenders = 6;
  constexpr std::size_t kCapacity = 4;
  Scheduler scheduler(2);
  ChannelCore<Item> core(kCapacity);
  std::vector<TaskRef> sender_refs, receiver_refs;
  for (std::uint32_t p = 0; p < kSenders; ++p) {
    spawn<Producer>(scheduler, sender_refs, core, p, 1000, Leave::Never, nullptr);
  }
  scheduler.wait_until_quiescent();
  const auto senders = as<Producer>(sender_refs);
  ASSERT_EQ(core.size(), kCapacity);
  std::uint32_t sent = 0;
  for (const Producer* sender : senders) {
    ASSERT_FALSE(sender->is_complete());
    ASSERT_EQ(sender->runs.load(), 1);  // parked at its first try or after a few sends
    sent += sender->sent;
  }
  EXPECT_EQ(sent, kCapacity);
  EXPECT_TRUE(core.close());
  scheduler.wait_for_all_tasks_ended();
  for (std::size_t p = 0; p < senders.size(); ++p) {
    expect_sound(*senders[p], "sender", p);
    EXPECT_TRUE(senders[p]->saw_closed) << "sender " << p;
    EXPECT_EQ(senders[p]->runs.load(), 2) << "sender " << p;
    EXPECT_EQ(senders[p]->claimed_resumes, 1) << "sender " << p;
  }
  for (int r = 0; r < 3; ++r) {
    spawn<ItemReceiver>(scheduler, receiver_refs, core, Leave::Never, nullptr);
  }
  scheduler.wait_for_all_tasks_ended();
  const auto receivers = as<ItemReceiver>(receiver_refs);
  for (std::size_t r = 0; r < receivers.size(); ++r) {
    expect_sound(*receivers[r], "receiver", r);
    EXPECT_TRUE(receivers[r]->saw_closed);
  }
  expect_exact_delivery(senders, receivers);
}

// Receivers parked on an empty channel; items arrive and close follows at
// once: every receiver wakes, the items are taken exactly once, and every
// receiver ends with Closed.
TEST(ChannelCoreClose, ParkedReceiversDrainThenSeeClosed) {
  const int rounds = static_cast<int>(scaled(500));
  constexpr int kReceivers = 6;
  constexpr std::uint32_t kItems = 4;
  Scheduler scheduler(2);
  for (int round = 0; round < rounds; ++round) {
    ChannelCore<Item> core(round % 2 == 0 ? 0 : 8);
    std::vector<TaskRef> receiver_refs;
    for (int r = 0; r < kReceivers; ++r) {
      spawn<ItemReceiver>(scheduler, receiver_refs, core, Leave::Never, nullptr);
    }
    scheduler.wait_until_quiescent();
    ASSERT_EQ(scheduler.live_tasks(), static_cast<std::uint64_t>(kReceivers));
    for (std::uint32_t i = 0; i < kItems; ++i) {
      Item item = make_item(0, i);
      ASSERT_EQ(core.send(item, nullptr), ChannelOp::Done);
    }
    ASSERT_TRUE(core.close());
    scheduler.wait_for_all_tasks_ended();
    const auto receivers = as<ItemReceiver>(receiver_refs);
    std::vector<Item> all;
    for (std::size_t r = 0; r < receivers.size(); ++r) {
      expect_sound(*receivers[r], "receiver", r);
      ASSERT_TRUE(receivers[r]->saw_closed) << "round " << round << " receiver " << r;
      all.insert(all.end(), receivers[r]->got.begin(), receivers[r]->got.end());
    }
    std::sort(all.begin(), all.end());
    ASSERT_EQ(all.size(), kItems) << "round " << round;
    for (std::uint32_t i = 0; i < kItems; ++i) ASSERT_EQ(all[i], make_item(0, i));
  }
}

// Traffic in full flow when another thread closes the channel: every
// task ends, senders stop at Closed, receivers at Closed, and exactly the
// items whose send was Done are received, once each, in order per
// producer.
void run_close_race(std::size_t capacity, int round) {
  constexpr std::uint32_t kProducers = 4;
  constexpr std::uint32_t kReceivers = 4;
  const std::uint32_t per_producer = capacity == 0 ? scaled(20'000) : 1'000'000;
  Scheduler scheduler(SchedulerOptions{.workers = 4});
  ChannelCore<Item> core(capacity);
  std::atomic<std::uint64_t> received{0};
  std::vector<TaskRef> producer_refs, receiver_refs;
  for (std::uint32_t r = 0; r < kReceivers; ++r) {
    spawn<ItemReceiver>(scheduler, receiver_refs, core, Leave::Never, &received);
  }
  for (std::uint32_t p = 0; p < kProducers; ++p) {
    spawn<Producer>(scheduler, producer_refs, core, p, per_producer, Leave::Never, nullptr);
  }
  const std::uint64_t close_after = 500 + 997 * static_cast<std::uint64_t>(round % 7);
  while (received.load(std::memory_order_relaxed) < close_after && scheduler.active_tasks() > 0) {
    std::this_thread::yield();
  }
  ASSERT_TRUE(core.close());
  scheduler.wait_for_all_tasks_ended();
  const auto producers = as<Producer>(producer_refs);
  const auto receivers = as<ItemReceiver>(receiver_refs);
  for (std::size_t p = 0; p < producers.size(); ++p) {
    expect_sound(*producers[p], "producer", p);
    EXPECT_TRUE(producers[p]->saw_closed || producers[p]->sent == per_producer);
  }
  for (std::size_t r = 0; r < receivers.size(); ++r) {
    expect_sound(*receivers[r], "receiver", r);
    EXPECT_TRUE(receivers[r]->saw_closed) << "receiver " << r;
  }
  EXPECT_EQ(core.size(), 0u);
  expect_exact_delivery(producers, receivers);
}

TEST(ChannelCoreClose, CloseRacingWithTrafficKeepsEveryItemSentBeforeIt) {
  const int rounds = kSanitized ? 15 : 60;
  for (int round = 0; round < rounds; ++round) {
    const std::size_t capacity = round % 3 == 0 ? 1 : round % 3 == 1 ? 16 : 0;
    run_close_race(capacity, round);
    if (HasFatalFailure()) return;
  }
}

// Receivers parked; a few items and then fail(error): the items are taken
// once each and every receiver ends with Failed carrying the error.
TEST(ChannelCoreFail, ParkedReceiversDrainThenGetTheError) {
  const int rounds = static_cast<int>(scaled(500));
  constexpr int kReceivers = 5;
  Scheduler scheduler(2);
  for (int round = 0; round < rounds; ++round) {
    ChannelCore<std::string> core(round % 2 == 0 ? 0 : 2);
    std::vector<TaskRef> refs;
    for (int r = 0; r < kReceivers; ++r) {
      spawn<Receiver<std::string>>(scheduler, refs, core, Leave::Never, nullptr);
    }
    scheduler.wait_until_quiescent();
    std::string a = "a", b = "b";
    ASSERT_EQ(core.send(a, nullptr), ChannelOp::Done);
    ASSERT_EQ(core.send(b, nullptr), ChannelOp::Done);
    ASSERT_TRUE(core.fail("boom"));
    scheduler.wait_for_all_tasks_ended();
    std::vector<std::string> all;
    for (std::size_t r = 0; r < refs.size(); ++r) {
      auto& receiver = static_cast<Receiver<std::string>&>(*refs[r]);
      expect_sound(receiver, "receiver", r);
      EXPECT_FALSE(receiver.saw_closed);
      ASSERT_TRUE(receiver.failure.has_value()) << "round " << round << " receiver " << r;
      EXPECT_EQ(*receiver.failure, "boom");
      all.insert(all.end(), receiver.got.begin(), receiver.got.end());
    }
    std::sort(all.begin(), all.end());
    ASSERT_EQ(all, (std::vector<std::string>{"a", "b"})) << "round " << round;
    std::string later;
    EXPECT_EQ(core.recv(later, nullptr), ChannelOp::Failed);
    EXPECT_EQ(later, "boom");
  }
}

// ------------------------------------------------------------ leaving after a claim

// R1 parks, then R2. A send claims R1, which leaves without retrying (an
// interrupt): its pass_on must wake R2, which takes the item.
TEST(ChannelCorePassOn, ClaimedReceiverThatLeavesPassesTheItemOn) {
  Scheduler scheduler(2);
  ChannelCore<Item> core(0);
  std::vector<TaskRef> refs;
  auto& leaver = spawn<ItemReceiver>(scheduler, refs, core, Leave::OnResume, nullptr);
  scheduler.wait_until_quiescent();
  auto& stayer = spawn<ItemReceiver>(scheduler, refs, core, Leave::Never, nullptr, 1);
  scheduler.wait_until_quiescent();
  Item item = make_item(0, 42);
  ASSERT_EQ(core.send(item, nullptr), ChannelOp::Done);
  scheduler.wait_until_quiescent();
  EXPECT_TRUE(leaver.left);
  EXPECT_TRUE(leaver.passed_on);
  EXPECT_EQ(leaver.claimed_resumes, 1);
  EXPECT_TRUE(leaver.got.empty());
  EXPECT_TRUE(stayer.is_complete()) << "the item's wake was lost";
  EXPECT_EQ(stayer.got, std::vector<Item>{item});
  EXPECT_EQ(core.size(), 0u);
  core.close();
  scheduler.wait_for_all_tasks_ended();
}

// Sender side: S1 and S2 parked on a full channel; a receive claims S1,
// which leaves: its pass_on must wake S2, which fills the freed slot.
TEST(ChannelCorePassOn, ClaimedSenderThatLeavesPassesTheSlotOn) {
  Scheduler scheduler(2);
  ChannelCore<Item> core(1);
  Item filler = make_item(9, 0);
  ASSERT_EQ(core.send(filler, nullptr), ChannelOp::Done);
  std::vector<TaskRef> refs;
  auto& leaver = spawn<Producer>(scheduler, refs, core, 0, 1, Leave::OnResume, nullptr);
  scheduler.wait_until_quiescent();
  auto& stayer = spawn<Producer>(scheduler, refs, core, 1, 1, Leave::Never, nullptr);
  scheduler.wait_until_quiescent();
  Item out = 0;
  ASSERT_EQ(core.recv(out, nullptr), ChannelOp::Done);
  EXPECT_EQ(out, filler);
  scheduler.wait_until_quiescent();
  EXPECT_TRUE(leaver.left);
  EXPECT_TRUE(leaver.passed_on);
  EXPECT_EQ(leaver.sent, 0u);
  EXPECT_TRUE(stayer.is_complete()) << "the slot's wake was lost";
  EXPECT_EQ(stayer.sent, 1u);
  ASSERT_EQ(core.recv(out, nullptr), ChannelOp::Done);
  EXPECT_EQ(out, make_item(1, 0));
  core.close();
  scheduler.wait_for_all_tasks_ended();
}

// R1 parks, then R2; R1 is cancelled before any send, so it leaves with
// its park unclaimed and its ticket stale in the list. The send must skip
// that ticket and wake R2.
TEST(ChannelCorePassOn, StaleTicketOfAnUnclaimedLeaverIsSkipped) {
  Scheduler scheduler(2);
  ChannelCore<Item> core(0);
  std::vector<TaskRef> refs;
  auto& leaver = spawn<ItemReceiver>(scheduler, refs, core, Leave::OnCancel, nullptr);
  scheduler.wait_until_quiescent();
  auto& stayer = spawn<ItemReceiver>(scheduler, refs, core, Leave::Never, nullptr, 1);
  scheduler.wait_until_quiescent();
  leaver.cancel();
  scheduler.wait_until_quiescent();
  EXPECT_TRUE(leaver.left);
  EXPECT_FALSE(leaver.passed_on);
  EXPECT_EQ(leaver.unclaimed_resumes, 1);
  Item item = make_item(0, 7);
  ASSERT_EQ(core.send(item, nullptr), ChannelOp::Done);
  scheduler.wait_until_quiescent();
  EXPECT_TRUE(stayer.is_complete()) << "the wake went to the stale ticket";
  EXPECT_EQ(stayer.got, std::vector<Item>{item});
  core.close();
  scheduler.wait_for_all_tasks_ended();
}

// Producers and receivers, some of each cancelled at random points by
// another thread; a cancelled task leaves at its next run, passing on a
// claimed wake. Once the canceller is done and the scheduler is
// quiescent, no wake may have been lost: every remaining producer has
// sent all its items and the remaining receivers wait on an empty
// channel. Then close, and check the exact accounting.
void run_leaver_storm(std::size_t capacity, int round, int& claimed_leaves) {
  constexpr std::uint32_t kProducers = 6;  // the odd ones leave
  constexpr std::uint32_t kReceivers = 8;  // all but the first two leave
  const std::uint32_t per_producer = scaled(5'000);
  Scheduler scheduler(SchedulerOptions{.workers = 4});
  ChannelCore<Item> core(capacity);
  std::atomic<std::uint64_t> received{0};
  std::vector<TaskRef> producer_refs, receiver_refs;
  std::vector<Task*> leavers;
  for (std::uint32_t r = 0; r < kReceivers; ++r) {
    auto& receiver = spawn<ItemReceiver>(scheduler, receiver_refs, core,
                                         r < 2 ? Leave::Never : Leave::OnCancel, &received);
    if (r >= 2) leavers.push_back(&receiver);
  }
  for (std::uint32_t p = 0; p < kProducers; ++p) {
    auto& producer = spawn<Producer>(scheduler, producer_refs, core, p, per_producer,
                                     p % 2 == 1 ? Leave::OnCancel : Leave::Never, nullptr);
    if (p % 2 == 1) leavers.push_back(&producer);
  }
  std::mt19937 rng(static_cast<unsigned>(round));
  std::shuffle(leavers.begin(), leavers.end(), rng);
  std::thread canceller([&] {
    const std::uint64_t total = std::uint64_t{per_producer} * (kProducers / 2);
    for (std::size_t i = 0; i < leavers.size(); ++i) {
      const std::uint64_t at = total * (i + 1) / (leavers.size() + 2);
      while (received.load(std::memory_order_relaxed) < at && scheduler.active_tasks() > 0) {
        std::this_thread::yield();
      }
      leavers[i]->cancel();
    }
  });
  canceller.join();
  scheduler.wait_until_quiescent();

  const auto producers = as<Producer>(producer_refs);
  const auto receivers = as<ItemReceiver>(receiver_refs);
  bool lost = false;
  for (std::size_t p = 0; p < producers.size(); ++p) {
    if (p % 2 == 0 && !producers[p]->is_complete()) {
      lost = true;
      ADD_FAILURE() << "round " << round << ": producer " << p << " parked at "
                    << producers[p]->sent << " of " << per_producer << " with " << core.size()
                    << " items buffered";
    }
  }
  for (std::size_t r = 0; r < 2; ++r) EXPECT_FALSE(receivers[r]->is_complete());
  if (core.size() != 0) {
    lost = true;
    ADD_FAILURE() << "round " << round << ": " << core.size()
                  << " items left while the receivers stay parked";
  }
  ASSERT_TRUE(core.close());
  scheduler.wait_for_all_tasks_ended();
  if (lost) return;

  for (std::size_t p = 0; p < producers.size(); ++p) {
    expect_sound(*producers[p], "producer", p);
    if (p % 2 == 0) {
      EXPECT_EQ(producers[p]->sent, per_producer);
    }
    if (producers[p]->passed_on) ++claimed_leaves;
  }
  for (std::size_t r = 0; r < receivers.size(); ++r) {
    expect_sound(*receivers[r], "receiver", r);
    EXPECT_TRUE(receivers[r]->left || receivers[r]->saw_closed) << "receiver " << r;
    if (r < 2) {
      EXPECT_TRUE(receivers[r]->saw_closed);
    }
    if (receivers[r]->passed_on) ++claimed_leaves;
  }
  expect_exact_delivery(producers, receivers);
}

TEST(ChannelCorePassOn, LeaversAtRandomPointsLoseNoWake) {
  const int rounds = kSanitized ? 15 : 60;
  int claimed_leaves = 0;
  for (int round = 0; round < rounds; ++round) {
    const std::size_t capacity = round % 3 == 0 ? 1 : round % 3 == 1 ? 4 : 0;
    run_leaver_storm(capacity, round, claimed_leaves);
    if (HasFailure()) return;
  }
  std::printf("  %d tasks left after a claim and passed it on\n", claimed_leaves);
}

// ------------------------------------------------------------ stale tickets

// Parks on recv, then wakes itself before returning: every such park ends
// unclaimed and leaves a stale ticket in the receiver list. After
// `restless` of those it parks for good and takes one item.
class RestlessReceiver final : public ChannelTask<Item> {
 public:
  RestlessReceiver(ChannelCore<Item>& core, std::uint32_t restless)
      : ChannelTask(core, Leave::Never), restless_(restless) {}

  std::uint64_t max_refs = 0;  // task references seen, tickets included
  std::uint32_t parks = 0;
  std::optional<Item> got;

 private:
  RunResult step() override {
    max_refs = std::max(max_refs, state().refs());
    Item item = 0;
    switch (try_recv(item)) {
      case ChannelOp::Parked:
        if (parks++ < restless_) wake();  // runs again at once, unclaimed
        return RunResult::Suspended;
      case ChannelOp::Done:
        got = item;
        return RunResult::Completed;
      default:
        ++unexpected;
        return RunResult::Completed;
    }
  }

  const std::uint32_t restless_;
};

TEST(ChannelCoreStale, RepeatedUnclaimedParksDoNotGrowTheWaitList) {
  const std::uint32_t restless = scaled(100'000);
  Scheduler scheduler(2);
  auto core = std::make_unique<ChannelCore<Item>>(0);
  std::vector<TaskRef> refs;
  // A patient receiver, parked first: the sweeps must keep its ticket.
  auto& patient = spawn<ItemReceiver>(scheduler, refs, *core, Leave::Never, nullptr, 1);
  scheduler.wait_until_quiescent();
  auto& task = spawn<RestlessReceiver>(scheduler, refs, *core, restless);
  scheduler.wait_until_quiescent();
  EXPECT_EQ(task.parks, restless + 1);
  EXPECT_EQ(task.unclaimed_resumes, static_cast<int>(restless));
  EXPECT_EQ(task.claimed_resumes, 0);
  // Each ticket holds a reference (parker.h rule 4): ours, the run's and
  // the tickets still listed. Without sweeps this would reach `restless`.
  std::printf("  %u unclaimed parks: at most %llu references, %llu while idle\n", restless,
              static_cast<unsigned long long>(task.max_refs),
              static_cast<unsigned long long>(task.state().refs()));
  EXPECT_LE(task.max_refs, 64u);
  EXPECT_LE(task.state().refs(), 64u);

  // The sweeps kept the live tickets in order: the first send wakes the
  // patient receiver only (one item at a time: two woken receivers may
  // take two items in either order, channel.h rule 5).
  Item first = make_item(0, 1), second = make_item(0, 2);
  ASSERT_EQ(core->send(first, nullptr), ChannelOp::Done);
  scheduler.wait_until_quiescent();
  EXPECT_TRUE(patient.is_complete());
  EXPECT_EQ(patient.got, std::vector<Item>{first});
  EXPECT_FALSE(task.is_complete());
  ASSERT_EQ(core->send(second, nullptr), ChannelOp::Done);
  scheduler.wait_until_quiescent();
  EXPECT_TRUE(task.is_complete());
  EXPECT_EQ(task.got, std::optional<Item>(second));
  core->close();
  scheduler.wait_for_all_tasks_ended();
  expect_sound(task, "restless", 0);
  expect_sound(patient, "patient", 0);
  // Destroying the channel drops the stale tickets' references.
  core.reset();
  EXPECT_EQ(task.state().refs(), 1u);
  EXPECT_EQ(patient.state().refs(), 1u);
}

// ------------------------------------------------------------ where references drop

// A receiver that, when deleted, asks from another thread whether the
// channel's lock can be taken. Its last reference is a stale ticket, so
// it is deleted by whoever drops that ticket.
struct LockProbe {
  std::atomic<bool> deleted{false};
  std::atomic<bool> prober_took_lock{false};
  bool lock_free_during_delete = false;  // read after prober.join()
  std::thread prober;
};

class LockProbeReceiver final : public ChannelTask<Item> {
 public:
  LockProbeReceiver(ChannelCore<Item>& core, LockProbe& probe)
      : ChannelTask(core, Leave::OnCancel), probe_(probe) {}
  ~LockProbeReceiver() override {
    ChannelCore<Item>& channel = core();
    LockProbe& probe = probe_;
    probe.prober = std::thread([&channel, &probe] {
      (void)channel.size();
      probe.prober_took_lock.store(true);
    });
    // Bounded in the failing direction only: if the deleting thread holds
    // the channel's lock, size() cannot return before the delete is over.
    for (int i = 0; i < 400 && !probe.prober_took_lock.load(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    probe.lock_free_during_delete = probe.prober_took_lock.load();
    probe.deleted.store(true);
  }

 private:
  RunResult step() override {
    Item item = 0;
    return try_recv(item) == ChannelOp::Parked ? RunResult::Suspended : RunResult::Completed;
  }
  LockProbe& probe_;
};

// channel.h rule 6 and WaitList::pop wake tickets after the channel's
// lock is left because dropping a ticket may drop the last reference on a
// task (and delete it). WaitList::sweep, called by push under the lock,
// hands the stale tickets it drops to the channel, which destroys them
// after leaving its lock.
TEST(ChannelCoreStale, SweptTicketsDropTheirTaskOutsideTheLock) {
  Scheduler scheduler(2);
  ChannelCore<Item> core(0);
  LockProbe probe;
  {
    std::vector<TaskRef> refs;
    auto& leaver = spawn<LockProbeReceiver>(scheduler, refs, core, probe);
    scheduler.wait_until_quiescent();
    leaver.cancel();  // leaves unclaimed: its ticket is stale
    scheduler.wait_for_all_tasks_ended();
  }  // our reference goes: the stale ticket holds the last one
  ASSERT_FALSE(probe.deleted.load());
  // Enough parks on the same list for push() to sweep it.
  std::vector<TaskRef> refs;
  auto& restless = spawn<RestlessReceiver>(scheduler, refs, core, 40);
  scheduler.wait_until_quiescent();
  EXPECT_TRUE(probe.deleted.load());
  if (probe.prober.joinable()) probe.prober.join();
  EXPECT_TRUE(probe.lock_free_during_delete)
      << "a swept ticket deleted its task inside the channel's lock";
  Item item = make_item(0, 0);
  ASSERT_EQ(core.send(item, nullptr), ChannelOp::Done);
  scheduler.wait_for_all_tasks_ended();
  EXPECT_EQ(restless.got, std::optional<Item>(item));
}

// The control for the test above: close() takes the lists out and drops
// their tickets after leaving the lock.
TEST(ChannelCoreStale, CloseDropsStaleTicketsOutsideTheLock) {
  Scheduler scheduler(2);
  ChannelCore<Item> core(0);
  LockProbe probe;
  {
    std::vector<TaskRef> refs;
    auto& leaver = spawn<LockProbeReceiver>(scheduler, refs, core, probe);
    scheduler.wait_until_quiescent();
    leaver.cancel();
    scheduler.wait_for_all_tasks_ended();
  }
  ASSERT_FALSE(probe.deleted.load());
  ASSERT_TRUE(core.close());
  EXPECT_TRUE(probe.deleted.load());
  if (probe.prober.joinable()) probe.prober.join();
  EXPECT_TRUE(probe.lock_free_during_delete);
}

}  // namespace
