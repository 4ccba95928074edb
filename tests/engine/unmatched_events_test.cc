// Stream events of orders not matched yet (issue 21): a leg's are held until its id is known;
// another client's never match, so what is held stays bounded.
#include "engine/unmatched_events.h"

#include <gtest/gtest.h>

namespace orderly {
namespace {

TradeUpdate event(std::string order_id, std::string name) {
  TradeUpdate u;
  u.event = std::move(name);
  u.order.id = std::move(order_id);
  u.raw = std::string(1'000, 'x');  // a payload's size, as Alpaca sends one
  return u;
}

TEST(UnmatchedEvents, ALegsEventsAreReleasedInTheOrderTheyCameOnceItsIdIsKnown) {
  UnmatchedEvents held;
  held.hold(event("leg-1", "new"));
  held.hold(event("other", "new"));
  held.hold(event("leg-1", "fill"));
  EXPECT_FALSE(held.any_released());
  held.release("leg-1");
  ASSERT_TRUE(held.any_released());
  EXPECT_EQ(held.take_released().event, "new");
  EXPECT_EQ(held.take_released().event, "fill");
  EXPECT_FALSE(held.any_released());
  EXPECT_EQ(held.orders_held(), 1u) << "the other order's stay held";
  held.release("never-held");
  EXPECT_FALSE(held.any_released());
}

TEST(UnmatchedEvents, AnotherClientsTradingNeverGrowsWhatIsHeldPastTheCap) {
  UnmatchedEvents held;
  held.hold(event("leg-1", "new"));
  for (int i = 0; i < 50'000; ++i) {
    held.hold(event("ext-" + std::to_string(i), "new"));
    held.hold(event("ext-" + std::to_string(i), "fill"));
  }
  EXPECT_EQ(held.orders_held(), UnmatchedEvents::kMaxOrders);
  held.release("leg-1");
  EXPECT_FALSE(held.any_released()) << "the oldest is let go first";
  held.release("ext-49999");
  ASSERT_TRUE(held.any_released()) << "a recent one is still held";
  EXPECT_EQ(held.take_released().event, "new");
  EXPECT_EQ(held.take_released().event, "fill");
}

TEST(UnmatchedEvents, AnOrdersEventsAreCappedAndAReleasedIdHeldAgainKeepsItsNewPlace) {
  UnmatchedEvents held;
  for (int i = 0; i < 40; ++i) held.hold(event("busy", "partial_fill"));
  held.release("busy");
  int n = 0;
  while (held.any_released()) {
    held.take_released();
    ++n;
  }
  EXPECT_EQ(n, static_cast<int>(UnmatchedEvents::kMaxPerOrder));

  held.hold(event("again", "new"));
  held.release("again");
  held.take_released();
  for (std::size_t i = 1; i < UnmatchedEvents::kMaxOrders; ++i) {
    held.hold(event("x-" + std::to_string(i), "new"));
  }
  held.hold(event("again", "fill"));  // held again, the newest: its first place is stale
  held.hold(event("one-more", "new"));  // full: the oldest held, x-1, is let go
  held.release("x-1");
  EXPECT_FALSE(held.any_released());
  held.release("again");
  ASSERT_TRUE(held.any_released());
  EXPECT_EQ(held.take_released().event, "fill");
}

}  // namespace
}  // namespace orderly
