// The wait protocols of scheduler/parker.h and channel.h, hammered from
// many tasks on a real Scheduler: every item taken exactly once,
// per-producer order kept, no wake lost when a woken task leaves, close
// waking everyone.
// (tests/unit/channel_core_test.cpp has the larger storms, and
// mailbox_test.cpp the mailbox.) Run under ThreadSanitizer in CI.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "scheduler/channel.h"
#include "scheduler/parker.h"
#include "scheduler/scheduler.h"
#include "scheduler/task.h"

namespace weft {
namespace {

// ---- Parker ------------------------------------------------------------------

TEST(ParkerProtocol, AClaimWinsOncePerPark) {
  Parker parker;
  std::uint64_t epoch = parker.arm();
  EXPECT_TRUE(parker.armed_for(epoch));
  EXPECT_TRUE(parker.claim(epoch));
  EXPECT_FALSE(parker.claim(epoch));
  EXPECT_FALSE(parker.disarm(epoch));  // claimed: the task must pass it on
}

TEST(ParkerProtocol, AnOldTicketCannotClaimALaterPark) {
  Parker parker;
  std::uint64_t first = parker.arm();
  EXPECT_TRUE(parker.disarm(first));
  std::uint64_t second = parker.arm();
  EXPECT_NE(first, second);
  EXPECT_FALSE(parker.claim(first));
  EXPECT_TRUE(parker.armed_for(second));
  EXPECT_TRUE(parker.claim(second));
}

TEST(ParkerProtocol, ClaimsRaceFromManyThreads) {
  for (int round = 0; round < 200; ++round) {
    Parker parker;
    std::uint64_t epoch = parker.arm();
    std::atomic<int> winners{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&] {
        if (parker.claim(epoch)) winners.fetch_add(1);
      });
    }
    bool disarmed = parker.disarm(epoch);
    for (auto& thread : threads) thread.join();
    EXPECT_EQ(winners.load() + (disarmed ? 1 : 0), 1);
  }
}

// ---- ChannelCore with tasks ----------------------------------------------------

constexpr std::uint64_t kShift = 32;

std::uint64_t item_of(std::uint64_t producer, std::uint64_t index) {
  return (producer << kShift) | index;
}

struct Tally {
  std::atomic<std::uint64_t> received{0};
  std::atomic<std::uint64_t> sum{0};
  std::atomic<bool> order_broken{false};
  std::atomic<std::uint64_t> refused_sends{0};
  std::atomic<int> producers_left{0};
};

// A task that runs an operation again from the start each time it is woken
// (channel.h rule 5), as the engine's natives do.
class ChannelTask : public Task {
 protected:
  Parking park() { return Parking{*this, parker_, epoch_ = parker_.arm()}; }
  // At each run: ends the previous park; true when it had been claimed.
  bool end_park() {
    if (!parked_) return false;
    parked_ = false;
    return !parker_.disarm(epoch_);
  }
  void parked() { parked_ = true; }

 private:
  Parker parker_;
  std::uint64_t epoch_ = 0;
  bool parked_ = false;
};

class Producer final : public ChannelTask {
 public:
  Producer(ChannelCore<std::uint64_t>& core, Tally& tally, std::uint64_t id, std::uint64_t count,
           bool close_when_last)
      : core_(core), tally_(tally), id_(id), count_(count), close_when_last_(close_when_last) {}

  RunResult run(std::uint32_t) override {
    (void)end_park();
    while (next_ < count_) {
      std::uint64_t value = item_of(id_, next_);
      Parking parking = park();
      switch (core_.send(value, &parking)) {
        case ChannelOp::Done:
          ++next_;
          break;
        case ChannelOp::Parked:
          parked();
          return RunResult::Suspended;
        default:
          tally_.refused_sends.fetch_add(count_ - next_);
          return finish();
      }
    }
    return finish();
  }

 private:
  RunResult finish() {
    if (tally_.producers_left.fetch_sub(1) == 1 && close_when_last_) (void)core_.close();
    return RunResult::Completed;
  }

  ChannelCore<std::uint64_t>& core_;
  Tally& tally_;
  std::uint64_t id_, count_;
  std::uint64_t next_ = 0;
  bool close_when_last_;
};

class Consumer final : public ChannelTask {
 public:
  // `leave_after_claim`: the first time it is woken by a claim, it leaves
  // without receiving (as a task interrupted in .recv does) and passes the
  // wake on.
  Consumer(ChannelCore<std::uint64_t>& core, Tally& tally, std::uint64_t producers,
           bool leave_after_claim)
      : core_(core), tally_(tally), last_(producers, 0), leave_after_claim_(leave_after_claim) {}

  RunResult run(std::uint32_t) override {
    if (end_park() && leave_after_claim_) {
      core_.pass_on();
      return RunResult::Completed;
    }
    for (;;) {
      std::uint64_t value = 0;
      Parking parking = park();
      switch (core_.recv(value, &parking)) {
        case ChannelOp::Done: {
          std::uint64_t producer = value >> kShift;
          std::uint64_t index = value & ((std::uint64_t{1} << kShift) - 1);
          if (index + 1 <= last_[producer]) tally_.order_broken.store(true);
          last_[producer] = index + 1;
          tally_.received.fetch_add(1);
          tally_.sum.fetch_add(value);
          break;
        }
        case ChannelOp::Parked:
          parked();
          return RunResult::Suspended;
        default:
          return RunResult::Completed;
      }
    }
  }

 private:
  ChannelCore<std::uint64_t>& core_;
  Tally& tally_;
  std::vector<std::uint64_t> last_;  // next index expected from each producer, at least
  bool leave_after_claim_;
};

struct ChannelRun {
  std::size_t capacity;
  std::uint64_t producers;
  std::uint64_t consumers;
  std::uint64_t per_producer;
  std::uint64_t leaving_consumers = 0;
};

void run_channel(const ChannelRun& run) {
  ChannelCore<std::uint64_t> core(run.capacity);
  Tally tally;
  tally.producers_left.store(static_cast<int>(run.producers));
  {
    Scheduler scheduler(2);
    std::vector<TaskRef> tasks;
    for (std::uint64_t c = 0; c < run.consumers + run.leaving_consumers; ++c) {
      tasks.push_back(make_task<Consumer>(core, tally, run.producers, c >= run.consumers));
      scheduler.spawn(tasks.back());
    }
    for (std::uint64_t p = 0; p < run.producers; ++p) {
      tasks.push_back(make_task<Producer>(core, tally, p, run.per_producer, true));
      scheduler.spawn(tasks.back());
    }
    scheduler.wait_for_all_tasks_ended();
  }
  std::uint64_t expected_sum = 0;
  for (std::uint64_t p = 0; p < run.producers; ++p) {
    for (std::uint64_t i = 0; i < run.per_producer; ++i) expected_sum += item_of(p, i);
  }
  EXPECT_EQ(tally.refused_sends.load(), 0u);
  EXPECT_EQ(tally.received.load(), run.producers * run.per_producer);
  EXPECT_EQ(tally.sum.load(), expected_sum);
  EXPECT_FALSE(tally.order_broken.load());
}

TEST(ChannelCoreTasks, OneProducerOneConsumerBoundedOne) {
  run_channel({1, 1, 1, 20000});
}

TEST(ChannelCoreTasks, ManyProducersManyConsumersBounded) {
  run_channel({16, 8, 8, 10000});
}

TEST(ChannelCoreTasks, ManyProducersManyConsumersUnbounded) {
  run_channel({0, 8, 8, 10000});
}

TEST(ChannelCoreTasks, AWokenReceiverThatLeavesPassesTheWakeOn) {
  for (int round = 0; round < 20; ++round) run_channel({4, 4, 2, 2000, 8});
}

TEST(ChannelCoreTasks, CloseWakesParkedSendersAndReceivers) {
  for (int round = 0; round < 50; ++round) {
    ChannelCore<std::uint64_t> core(2);
    Tally tally;
    tally.producers_left.store(4);
    {
      Scheduler scheduler(2);
      std::vector<TaskRef> tasks;
      // Producers fill the channel and park; nobody receives yet.
      for (std::uint64_t p = 0; p < 4; ++p) {
        tasks.push_back(make_task<Producer>(core, tally, p, 10, false));
        scheduler.spawn(tasks.back());
      }
      while (core.size() < 2) std::this_thread::yield();
      (void)core.close();
      EXPECT_FALSE(core.close());  // once
      scheduler.wait_for_all_tasks_ended();
      // Receivers drain what was sent before the close, then see Closed.
      for (int c = 0; c < 3; ++c) {
        tasks.push_back(make_task<Consumer>(core, tally, 4, false));
        scheduler.spawn(tasks.back());
      }
      scheduler.wait_for_all_tasks_ended();
    }
    EXPECT_EQ(tally.received.load(), 2u);
    EXPECT_EQ(tally.received.load() + tally.refused_sends.load(), 40u);
  }
}

TEST(ChannelCoreTasks, FailGivesTheErrorAfterTheItems) {
  ChannelCore<int> core(0);
  int value = 1;
  ASSERT_EQ(core.send(value, nullptr), ChannelOp::Done);
  EXPECT_TRUE(core.fail(99));
  int out = 0;
  EXPECT_EQ(core.recv(out, nullptr), ChannelOp::Done);
  EXPECT_EQ(out, 1);
  EXPECT_EQ(core.recv(out, nullptr), ChannelOp::Failed);
  EXPECT_EQ(out, 99);
  EXPECT_EQ(core.recv(out, nullptr), ChannelOp::Failed);
  int more = 2;
  EXPECT_EQ(core.send(more, nullptr), ChannelOp::Closed);
}

TEST(ChannelCoreTasks, WithoutParkingFullAndEmptyWouldBlock) {
  ChannelCore<int> core(1);
  int out = 0;
  EXPECT_EQ(core.recv(out, nullptr), ChannelOp::WouldBlock);
  int a = 1;
  int b = 2;
  EXPECT_EQ(core.send(a, nullptr), ChannelOp::Done);
  EXPECT_EQ(core.send(b, nullptr), ChannelOp::WouldBlock);
  EXPECT_EQ(b, 2);  // untouched when not sent
  EXPECT_EQ(core.capacity(), 1u);
  EXPECT_EQ(core.size(), 1u);
}

}  // namespace
}  // namespace weft
