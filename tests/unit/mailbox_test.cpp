// Mailbox (scheduler/mailbox.h): Activate exactly once per idle ->
// non-empty transition, never two activations at once, per-sender order,
// and close. The storm uses plain threads for producers and activations;
// the activations' state is in plain fields on purpose (mailbox.h rule 5:
// the lock orders one activation before the next), so that ThreadSanitizer
// checks the hand-off.

#include "scheduler/mailbox.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using weft::Mailbox;
using weft::MailboxPush;
using weft::MailboxTake;

#if defined(__SANITIZE_THREAD__)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

// ------------------------------------------------------------ one thread

TEST(Mailbox, PushActivatesOnlyAnIdleMailbox) {
  Mailbox<int> box;
  int a = 1, b = 2, c = 3;
  EXPECT_EQ(box.push(a), MailboxPush::Activate);
  EXPECT_EQ(box.push(b), MailboxPush::Queued);
  EXPECT_EQ(box.size(), 2u);
  int out = 0;
  EXPECT_EQ(box.take(out), MailboxTake::Item);
  EXPECT_EQ(out, 1);
  EXPECT_EQ(box.take(out), MailboxTake::Item);
  EXPECT_EQ(out, 2);
  EXPECT_EQ(box.take(out), MailboxTake::Idle);
  EXPECT_EQ(box.push(c), MailboxPush::Activate);
  EXPECT_EQ(box.take(out), MailboxTake::Item);
  EXPECT_EQ(out, 3);
  EXPECT_EQ(box.take(out), MailboxTake::Idle);
}

TEST(Mailbox, TakeThatMayNotIdleKeepsTheActivation) {
  Mailbox<int> box;
  int a = 1, b = 2, c = 3;
  EXPECT_EQ(box.push(a), MailboxPush::Activate);
  int out = 0;
  EXPECT_EQ(box.take(out, false), MailboxTake::Item);
  EXPECT_EQ(box.take(out, false), MailboxTake::Empty);
  EXPECT_EQ(box.take(out, false), MailboxTake::Empty);
  EXPECT_EQ(box.push(b), MailboxPush::Queued);  // the lingering activation takes it
  EXPECT_EQ(box.take(out, false), MailboxTake::Item);
  EXPECT_EQ(out, 2);
  EXPECT_EQ(box.take(out), MailboxTake::Idle);
  EXPECT_EQ(box.push(c), MailboxPush::Activate);
}

TEST(Mailbox, CloseOnAnIdleMailboxActivatesTheLastActivation) {
  Mailbox<std::unique_ptr<int>> box;
  EXPECT_EQ(box.close(), MailboxPush::Activate);
  EXPECT_TRUE(box.closed());
  std::unique_ptr<int> out;
  EXPECT_EQ(box.take(out), MailboxTake::Finished);
  EXPECT_EQ(box.take(out), MailboxTake::Finished);  // stays finished, never Idle
  EXPECT_EQ(box.take(out, false), MailboxTake::Finished);
  auto late = std::make_unique<int>(5);
  EXPECT_EQ(box.push(late), MailboxPush::Refused);
  ASSERT_NE(late, nullptr);  // a refused item is untouched
  EXPECT_EQ(*late, 5);
  EXPECT_EQ(box.close(), MailboxPush::Refused);
  EXPECT_EQ(box.size(), 0u);
}

TEST(Mailbox, CloseAfterAnActivationWentIdleActivatesAgain) {
  Mailbox<int> box;
  int a = 1;
  EXPECT_EQ(box.push(a), MailboxPush::Activate);
  int out = 0;
  EXPECT_EQ(box.take(out), MailboxTake::Item);
  EXPECT_EQ(box.take(out), MailboxTake::Idle);
  EXPECT_EQ(box.close(), MailboxPush::Activate);
  EXPECT_EQ(box.take(out), MailboxTake::Finished);
}

TEST(Mailbox, CloseWhileActiveIsQueuedAndTheQueueDrainsFirst) {
  Mailbox<std::string> box;
  std::string a = "a", b = "b", c = "c";
  EXPECT_EQ(box.push(a), MailboxPush::Activate);
  EXPECT_EQ(box.push(b), MailboxPush::Queued);
  EXPECT_EQ(box.push(c), MailboxPush::Queued);
  EXPECT_EQ(box.close(), MailboxPush::Queued);
  std::string late = "late";
  EXPECT_EQ(box.push(late), MailboxPush::Refused);
  EXPECT_EQ(late, "late");
  std::string out;
  for (const char* expected : {"a", "b", "c"}) {
    EXPECT_EQ(box.take(out), MailboxTake::Item);
    EXPECT_EQ(out, expected);
  }
  EXPECT_EQ(box.take(out), MailboxTake::Finished);
  EXPECT_EQ(box.take(out), MailboxTake::Finished);
  EXPECT_EQ(box.close(), MailboxPush::Refused);
}

TEST(Mailbox, CloseWhileLingeringIsQueued) {
  Mailbox<int> box;
  int a = 1;
  EXPECT_EQ(box.push(a), MailboxPush::Activate);
  int out = 0;
  EXPECT_EQ(box.take(out, false), MailboxTake::Item);
  EXPECT_EQ(box.take(out, false), MailboxTake::Empty);
  EXPECT_EQ(box.close(), MailboxPush::Queued);
  EXPECT_EQ(box.take(out, false), MailboxTake::Finished);
}

TEST(Mailbox, TakeAllHandsOverTheQueue) {
  Mailbox<int> box;
  for (int i = 0; i < 5; ++i) {
    int v = i;
    (void)box.push(v);
  }
  std::vector<int> all = box.take_all();
  EXPECT_EQ(all, (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_EQ(box.size(), 0u);
}

// Rules 2-4: order and counts hold while pushes interleave with takes,
// across a close, and through take_all.
TEST(Mailbox, OrderHoldsAcrossPushesCloseAndTakeAll) {
  Mailbox<int> box;
  int next = 0;
  auto push = [&](int count) {
    for (int i = 0; i < count; ++i) {
      int v = next++;
      (void)box.push(v);
    }
  };
  push(3);
  int out = -1;
  ASSERT_EQ(box.take(out), MailboxTake::Item);
  EXPECT_EQ(out, 0);
  push(2);  // 3 4 queue behind the batch (1 2) the first take moved out
  EXPECT_EQ(box.size(), 2u);
  for (int expected = 1; expected <= 3; ++expected) {
    ASSERT_EQ(box.take(out), MailboxTake::Item);
    EXPECT_EQ(out, expected);
  }
  EXPECT_EQ(box.close(), MailboxPush::Queued);
  int refused = 99;
  EXPECT_EQ(box.push(refused), MailboxPush::Refused);
  ASSERT_EQ(box.take(out), MailboxTake::Item);
  EXPECT_EQ(out, 4);
  EXPECT_EQ(box.take(out), MailboxTake::Finished);

  Mailbox<int> other;
  for (int i = 0; i < 4; ++i) {
    int v = i;
    (void)other.push(v);
  }
  ASSERT_EQ(other.take(out), MailboxTake::Item);
  int late = 4;
  (void)other.push(late);
  // Rule 3: take_all (any thread) hands over the queue; the activation's
  // batch is its own to drop.
  EXPECT_EQ(other.take_all(), (std::vector<int>{4}));
  EXPECT_EQ(other.take_batch(), (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(other.size(), 0u);
  EXPECT_EQ(other.take(out), MailboxTake::Idle);
}

// ------------------------------------------------------------ many threads

struct Message {
  std::uint32_t producer = 0;
  std::uint32_t seq = 0;
};

// Activation requests, from the pusher that got Activate to the consumer
// threads; stop() ends the consumers.
class ActivationQueue {
 public:
  void push() {
    {
      std::lock_guard lock(mutex_);
      ++pending_;
    }
    ready_.notify_one();
  }
  // False once stopped.
  bool pop() {
    std::unique_lock lock(mutex_);
    ready_.wait(lock, [&] { return pending_ > 0 || stopped_; });
    if (stopped_) return false;
    --pending_;
    return true;
  }
  void stop() {
    {
      std::lock_guard lock(mutex_);
      stopped_ = true;
    }
    ready_.notify_all();
  }
  int pending() {
    std::lock_guard lock(mutex_);
    return pending_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  int pending_ = 0;
  bool stopped_ = false;
};

// `producers` threads push `per_producer` messages each; every Activate
// (from a push, or from the final close) starts one activation on one of
// `consumers` threads, which takes until Idle (or Finished). With
// `linger`, activations sometimes take without idling first (Empty).
void run_storm(unsigned producers, std::uint32_t per_producer, unsigned consumers, bool linger,
               bool report) {
  constexpr std::uint32_t burst = 4;
  Mailbox<Message> box;
  ActivationQueue activations;
  std::atomic<int> in_flight{0};
  std::atomic<bool> overlapped{false};
  std::atomic<std::uint64_t> activates{0};  // Activate results handed out
  std::atomic<std::uint64_t> idles{0};      // activations that ended Idle
  std::atomic<int> unexpected{0};

  // The activations' state: plain, touched only inside an activation.
  std::vector<std::int64_t> last(producers, -1);
  std::uint64_t consumed = 0;
  std::uint64_t activations_run = 0;
  std::uint64_t empties = 0;
  int finished = 0;
  bool in_order = true;

  // acq_rel: the counter is only a detector; the ordering of the state
  // above comes from the mailbox lock.
  auto enter = [&] {
    if (in_flight.fetch_add(1, std::memory_order_acq_rel) != 0) overlapped.store(true);
  };
  auto leave = [&] { in_flight.fetch_sub(1, std::memory_order_acq_rel); };

  auto activation = [&] {
    enter();
    ++activations_run;
    unsigned empty_streak = 0;
    for (;;) {
      // Lingering: an empty mailbox is asked once more before idling.
      const bool may_idle = !linger || empty_streak >= 1;
      Message message;
      // Out of the count while inside take(): once take() says Idle this
      // activation is over, and the next one may start at once.
      leave();
      const MailboxTake result = box.take(message, may_idle);
      if (result == MailboxTake::Idle) {
        idles.fetch_add(1, std::memory_order_relaxed);
        return;
      }
      enter();
      switch (result) {
        case MailboxTake::Item:
          if (message.producer >= producers ||
              static_cast<std::int64_t>(message.seq) != last[message.producer] + 1) {
            in_order = false;
          } else {
            last[message.producer] = message.seq;
          }
          ++consumed;
          empty_streak = 0;
          break;
        case MailboxTake::Empty:
          ++empties;
          ++empty_streak;  // asks again at once (the engine yields first)
          break;
        case MailboxTake::Finished:
          ++finished;
          leave();
          activations.stop();
          return;
        case MailboxTake::Idle:
          break;
      }
    }
  };

  std::vector<std::thread> consumer_threads;
  for (unsigned c = 0; c < consumers; ++c) {
    consumer_threads.emplace_back([&] {
      while (activations.pop()) activation();
    });
  }
  std::vector<std::thread> producer_threads;
  for (unsigned p = 0; p < producers; ++p) {
    producer_threads.emplace_back([&, p] {
      for (std::uint32_t seq = 0; seq < per_producer; ++seq) {
        Message message{p, seq};
        switch (box.push(message)) {
          case MailboxPush::Activate:
            activates.fetch_add(1, std::memory_order_relaxed);
            activations.push();
            break;
          case MailboxPush::Queued:
            break;
          case MailboxPush::Refused:
            unexpected.fetch_add(1);
            break;
        }
        // Pauses let the activation catch up and go idle, so that the
        // idle -> non-empty transition happens often.
        if (seq % burst == 0) std::this_thread::yield();
      }
    });
  }
  for (std::thread& t : producer_threads) t.join();
  const MailboxPush closing = box.close();
  EXPECT_NE(closing, MailboxPush::Refused);
  if (closing == MailboxPush::Activate) {
    activates.fetch_add(1, std::memory_order_relaxed);
    activations.push();
  }
  for (std::thread& t : consumer_threads) t.join();

  EXPECT_FALSE(overlapped.load()) << "two activations ran at once";
  EXPECT_EQ(unexpected.load(), 0);
  EXPECT_EQ(activations.pending(), 0) << "an Activate after the mailbox finished";
  EXPECT_EQ(finished, 1);
  EXPECT_EQ(activations_run, activates.load());
  // Every activation but the last ended Idle: one Activate per idle ->
  // non-empty transition, and the close's (or the last push's) for the end.
  EXPECT_EQ(activates.load(), idles.load() + 1);
  EXPECT_TRUE(in_order);
  EXPECT_EQ(consumed, std::uint64_t{producers} * per_producer);
  for (unsigned p = 0; p < producers; ++p) {
    EXPECT_EQ(last[p], static_cast<std::int64_t>(per_producer) - 1) << "producer " << p;
  }
  EXPECT_EQ(box.size(), 0u);
  if (!report) return;
  std::printf("  %llu activations for %llu messages%s%llu lingering takes\n",
              static_cast<unsigned long long>(activations_run),
              static_cast<unsigned long long>(consumed), linger ? ", " : " (no linger), ",
              static_cast<unsigned long long>(empties));
}

TEST(MailboxStress, OneActivationAtATimeEachMessageOnceInOrder) {
  const int rounds = kSanitized ? 2 : 3;
  for (int round = 0; round < rounds; ++round) {
    run_storm(4, kSanitized ? 5'000 : 20'000, 2, /*linger=*/false, /*report=*/round == 0);
    if (HasFailure()) return;
  }
}

TEST(MailboxStress, LingeringActivationsStillHandOffExactlyOnce) {
  const int rounds = kSanitized ? 2 : 3;
  for (int round = 0; round < rounds; ++round) {
    run_storm(4, kSanitized ? 5'000 : 20'000, 2, /*linger=*/true, /*report=*/round == 0);
    if (HasFailure()) return;
  }
}

// Many short rounds: the close lands at every phase of an activation
// (idle, running, just gone idle).
TEST(MailboxStress, CloseAtEveryPhaseFinishesExactlyOnce) {
  const int rounds = kSanitized ? 100 : 200;
  for (int round = 0; round < rounds; ++round) {
    run_storm(2, 50 + round % 50, 2, /*linger=*/round % 2 == 1, /*report=*/false);
    if (HasFailure()) return;
  }
}

}  // namespace
