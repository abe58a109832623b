// InlineVector (engine/inline_vector.h): elements stay in order and intact
// across the move from the inline storage to the heap and back.
#include "engine/inline_vector.h"

#include <gtest/gtest.h>

#include <cstdint>

namespace weft {
namespace {

struct Item {
  std::uint64_t a;
  std::uint32_t b;
};

TEST(InlineVector, KeepsElementsInOrderAcrossGrowth) {
  InlineVector<Item, 1> items;
  EXPECT_TRUE(items.empty());
  for (std::uint32_t i = 0; i < 1000; ++i) items.push_back(Item{i * 3ull, i});
  ASSERT_EQ(items.size(), 1000u);
  for (std::uint32_t i = 0; i < 1000; ++i) {
    EXPECT_EQ(items[i].a, i * 3ull);
    EXPECT_EQ(items[i].b, i);
  }
  EXPECT_EQ(items.back().b, 999u);
  for (int i = 0; i < 600; ++i) items.pop_back();
  EXPECT_EQ(items.size(), 400u);
  EXPECT_EQ(items.back().b, 399u);
  items.push_back(Item{7, 7});
  EXPECT_EQ(items.back().a, 7u);
  EXPECT_EQ(items[399].b, 399u);
}

TEST(InlineVector, ResetReturnsToTheInlineStorage) {
  InlineVector<Item, 2> items;
  items.reserve(64);
  for (std::uint32_t i = 0; i < 10; ++i) items.push_back(Item{i, i});
  items.reset();
  EXPECT_TRUE(items.empty());
  items.push_back(Item{1, 2});
  items.push_back(Item{3, 4});
  EXPECT_EQ(items[0].b, 2u);
  EXPECT_EQ(items[1].a, 3u);
  items.clear();
  EXPECT_EQ(items.size(), 0u);
}

}  // namespace
}  // namespace weft
