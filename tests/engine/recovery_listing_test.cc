// Crash-only recovery's listing (issue 21): which orders a restart resolves by one listing, from
// when, and what each page answered leaves to do.
#include "engine/recovery_listing.h"

#include <gtest/gtest.h>

namespace orderly {
namespace {

Order order(OrderId id, OrderState state, std::int64_t created_ms) {
  Order o;
  o.id = id;
  o.trade_id = 1;
  o.symbol = "AAPL";
  o.client_order_id = "cid-" + std::to_string(id);
  o.state = state;
  o.qty = Decimal::from_int(1);
  o.created_at = Timestamp::from_ms(created_ms);
  return o;
}

BrokerOrder listed(std::int64_t created_ms) {
  BrokerOrder b;
  b.created_at = Timestamp::from_ms(created_ms);
  return b;
}

TEST(RecoveryListing, OrdersInFlightAreListedFromAMinuteBeforeTheOldest) {
  Ledger l;
  EXPECT_FALSE(RecoveryListing::plan(l)) << "nothing in flight: no listing";
  l.add(order(1, OrderState::new_, 100'000));
  l.add(order(2, OrderState::submitting, 300'000));
  l.add(order(3, OrderState::unknown, 200'000));
  Order leg = order(4, OrderState::submitting, 50'000);
  leg.parent_order_id = 2;
  l.add(leg);
  const std::optional<RecoveryListing::Plan> plan = RecoveryListing::plan(l);
  ASSERT_TRUE(plan);
  EXPECT_EQ(plan->ids, (std::vector<OrderId>{2, 3})) << "a leg goes with its parent";
  EXPECT_EQ(plan->after, Timestamp::from_ms(140'000))
      << "the oldest (200 s) less a minute for the broker's clock";
}

TEST(RecoveryListing, ALegsReplacementIsListedFromItsGroup) {
  Ledger l;
  l.add(order(1, OrderState::new_, 10'000));  // the OCO's take-profit
  Order stop = order(2, OrderState::replaced, 10'000);
  stop.parent_order_id = 1;
  l.add(stop);
  Order moved = order(3, OrderState::submitting, 500'000);  // a modify's replacement
  moved.replaces_order_id = 2;
  l.add(moved);
  EXPECT_EQ(listed_created_at(l, l.order_at(3)), Timestamp::from_ms(10'000))
      << "nested under its group, which was submitted long before (DST 28900000038491)";
  EXPECT_EQ(listed_created_at(l, l.order_at(1)), Timestamp::from_ms(10'000));
}

TEST(RecoveryListing, AFullPageAsksTheNextUnlessItHasMorePagesThanOrdersLeft) {
  RecoveryListing r;
  r.begin({2, 3});
  r.page_staged();
  EXPECT_TRUE(r.running());
  const std::vector<BrokerOrder> full = {listed(1'000), listed(2'000)};
  RecoveryListing::Next next = r.after_page(full, 2, Timestamp::from_ms(0));
  EXPECT_EQ(next.kind, RecoveryListing::Next::Kind::next_page);
  EXPECT_EQ(next.after.ns, Timestamp::from_ms(2'000).ns - 1) << "`after` is exclusive";

  const std::vector<BrokerOrder> same = {listed(2'000), listed(2'000)};
  next = r.after_page(same, 2, Timestamp{Timestamp::from_ms(2'000).ns - 1});
  EXPECT_EQ(next.after, Timestamp::from_ms(2'000)) << "a page all at one time moves past it";

  EXPECT_EQ(r.after_page({listed(1'000)}, 2, std::nullopt).kind,
            RecoveryListing::Next::Kind::done);
  r.page_staged();
  EXPECT_EQ(r.after_page(full, 2, std::nullopt).kind, RecoveryListing::Next::Kind::abandon)
      << "as many pages as orders left: each is looked up by client id instead";

  r.resolved(2);
  EXPECT_FALSE(r.resolves(2));
  EXPECT_EQ(r.left(), (std::set<OrderId>{3}));
  r.clear();
  EXPECT_FALSE(r.running());
}

}  // namespace
}  // namespace orderly
