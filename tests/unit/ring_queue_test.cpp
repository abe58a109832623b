// RingQueue (scheduler/ring_queue.h): first in, first out across the
// inline slots, growth, wrap-around, the return to the inline slots, and
// take_all; items that own memory, so ASan's leak check sees a lost or
// doubly destroyed one.

#include "scheduler/ring_queue.h"

#include <gtest/gtest.h>

#include <deque>
#include <memory>
#include <string>
#include <vector>

namespace {

using weft::RingQueue;

TEST(RingQueue, KeepsOrderThroughGrowthAndWrapAround) {
  RingQueue<std::string, 2> queue;
  std::deque<std::string> model;
  int next = 0;
  // Pushes two, pops one, many times: the head walks around every
  // capacity the queue grows through.
  for (int round = 0; round < 600; ++round) {
    for (int i = 0; i < 2; ++i) {
      std::string item = "item " + std::to_string(next++) + std::string(40, 'x');
      model.push_back(item);
      queue.push_back(std::move(item));
    }
    std::string out;
    queue.pop_front_into(out);
    ASSERT_EQ(out, model.front());
    model.pop_front();
    ASSERT_EQ(queue.size(), model.size());
  }
  while (!queue.empty()) {
    std::string out;
    queue.pop_front_into(out);
    ASSERT_EQ(out, model.front());
    model.pop_front();
  }
  EXPECT_TRUE(model.empty());
}

TEST(RingQueue, EmptiedQueueWorksFromTheInlineSlotsAgain) {
  RingQueue<std::unique_ptr<int>, 2> queue;
  // Past kKeptSlots: the block is freed when the queue empties.
  const int many = static_cast<int>(RingQueue<std::unique_ptr<int>, 2>::kKeptSlots) * 3;
  for (int i = 0; i < many; ++i) queue.push_back(std::make_unique<int>(i));
  for (int i = 0; i < many; ++i) {
    std::unique_ptr<int> out;
    queue.pop_front_into(out);
    ASSERT_EQ(*out, i);
  }
  EXPECT_TRUE(queue.empty());
  for (int i = 0; i < 5; ++i) queue.push_back(std::make_unique<int>(100 + i));
  std::unique_ptr<int> out;
  queue.pop_front_into(out);
  EXPECT_EQ(*out, 100);
  EXPECT_EQ(queue.size(), 4u);
}

TEST(RingQueue, TakeAllGivesEveryItemInOrderAndEmpties) {
  RingQueue<std::unique_ptr<int>, 2> queue;
  for (int i = 0; i < 7; ++i) queue.push_back(std::make_unique<int>(i));
  std::unique_ptr<int> out;
  queue.pop_front_into(out);  // the head is not at slot 0
  queue.push_back(std::make_unique<int>(7));
  std::vector<std::unique_ptr<int>> all = queue.take_all();
  ASSERT_EQ(all.size(), 7u);
  for (int i = 0; i < 7; ++i) EXPECT_EQ(*all[static_cast<size_t>(i)], i + 1);
  EXPECT_TRUE(queue.empty());
  EXPECT_TRUE(queue.take_all().empty());
}

// The batch of scheduler/mailbox.h rule 3: a heap block changes hands,
// inline items move one by one, and the order holds either way, round
// after round with the same two queues.
TEST(RingQueue, MoveAllIntoHandsOverEveryItemInOrder) {
  RingQueue<std::unique_ptr<int>, 2> queue;
  RingQueue<std::unique_ptr<int>, 2> batch;
  int next = 0;
  int expected = 0;
  for (int round = 0; round < 40; ++round) {
    const int count = (round * 7) % 300;  // inline, small blocks, past kKeptSlots
    for (int i = 0; i < count; ++i) queue.push_back(std::make_unique<int>(next++));
    if (round % 3 == 0 && !queue.empty()) {  // a head away from slot 0
      std::unique_ptr<int> out;
      queue.pop_front_into(out);
      ASSERT_EQ(*out, expected++);
    }
    const std::size_t moved = queue.size();
    queue.move_all_into(batch);
    EXPECT_TRUE(queue.empty());
    ASSERT_EQ(batch.size(), moved);
    queue.push_back(std::make_unique<int>(-1));  // the queue works on at once
    while (!batch.empty()) {
      std::unique_ptr<int> out;
      batch.pop_front_into(out);
      ASSERT_EQ(*out, expected++);
    }
    std::unique_ptr<int> filler;
    queue.pop_front_into(filler);
    EXPECT_EQ(*filler, -1);
  }
  EXPECT_EQ(expected, next);
}

TEST(RingQueue, DestroysWhatItStillHolds) {
  auto counter = std::make_shared<int>(0);
  {
    RingQueue<std::shared_ptr<int>, 2> queue;
    for (int i = 0; i < 9; ++i) queue.push_back(std::shared_ptr<int>(counter));
    std::shared_ptr<int> out;
    queue.pop_front_into(out);
    EXPECT_EQ(counter.use_count(), 10);
  }
  EXPECT_EQ(counter.use_count(), 1);
}

}  // namespace
