// Sessions: an auction entry Alpaca would refuse at this time of day is held by orderly and sent
// when Alpaca takes it again, and reaches the auction it was meant for. Judged at the simulator
// (which keeps the market's hours and Alpaca's auction windows) and in the engine's audit.

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "core/market_hours.h"
#include "sim_world.h"

namespace orderly::testing {
namespace {

// Thursday 2026-12-03 10:00 EST (15:00 UTC): the regular session is open, the opening auction
// is over.
constexpr std::int64_t kThursday10amEt = 1'796'310'000'000;

TEST(MarketHours, AuctionWindowsFollowAlpacasRule) {
  const Timestamp ten_am = Timestamp::from_ms(kThursday10amEt);
  EXPECT_EQ(format_et(ten_am), "2026-12-03T10:00:00-05:00");
  const Timestamp seven_pm = ten_am.plus_ms(9 * 3'600'000);
  EXPECT_EQ(auction_refused_until(TimeInForce::opg, ten_am), seven_pm);
  EXPECT_EQ(auction_refused_until(TimeInForce::cls, ten_am), std::nullopt);  // before 15:50
  EXPECT_EQ(auction_refused_until(TimeInForce::cls, ten_am.plus_ms(350 * 60'000)), seven_pm);
  EXPECT_EQ(auction_refused_until(TimeInForce::opg, ten_am.plus_ms(-33 * 60'000)),
            std::nullopt);  // 9:27
  EXPECT_EQ(auction_refused_until(TimeInForce::opg, ten_am.plus_ms(-32 * 60'000)), seven_pm);
  EXPECT_EQ(auction_refused_until(TimeInForce::opg, seven_pm), std::nullopt);
  EXPECT_EQ(auction_refused_until(TimeInForce::day, ten_am), std::nullopt);
  // Summer (EDT): 19:00 EDT is 23:00 UTC.
  const Timestamp july = *parse_rfc3339("2026-07-09T14:00:00Z");
  EXPECT_EQ(auction_refused_until(TimeInForce::opg, july), parse_rfc3339("2026-07-09T23:00:00Z"));
}

std::vector<BrokerOrder> broker_orders_of(SimWorld& w, const std::string& symbol) {
  std::vector<BrokerOrder> out;
  for (BrokerOrder& o : w.broker_orders()) {
    if (o.symbol == symbol) out.push_back(std::move(o));
  }
  return out;
}

std::optional<Order> entry_of(SimWorld& w, TradeId trade) {
  for (const Order& o : w.rt->engine().orders()) {
    if (o.trade_id == trade && o.role == OrderRole::entry) return o;
  }
  return std::nullopt;
}

int audits_saying(SimWorld& w, OrderId id, const std::string& text) {
  auto events = w.store->order_events(id);
  EXPECT_TRUE(events.ok());
  if (!events.ok()) return 0;
  return static_cast<int>(std::count_if(events->begin(), events->end(), [&](const OrderEvent& e) {
    return e.note.find(text) != std::string::npos;
  }));
}

// 10:00 ET: Alpaca refuses an opg order (the simulator does too, asked directly); orderly holds
// the trade's entry, says so once, keeps holding it across a restart, sends it at 19:00 ET, and
// the order fills at the next morning's open, after which the position has its exits.
TEST(EngineSession, AnOpeningAuctionEntryWaitsForTheWindowAndReachesTheNextOpen) {
  SimWorld w(7, {}, /*regular_hours=*/true);
  w.clock.set(Timestamp::from_ms(kThursday10amEt));
  w.set_price("F", "10.00");
  w.start();

  OrderRequest direct;
  direct.symbol = "F";
  direct.qty = Decimal::must("1");
  direct.tif = TimeInForce::opg;
  direct.client_order_id = "direct-opg";
  auto refused = w.broker.submit_order(direct);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().http_status, 422);

  auto trade = w.rt->open_trade(market_trade_with_exits("F", "10", TimeInForce::opg));
  ASSERT_TRUE(trade.ok()) << trade.status().to_string();
  w.run(5'000);
  const std::optional<Order> held = entry_of(w, trade->id);
  ASSERT_TRUE(held.has_value());
  const OrderId entry_id = held->id;
  EXPECT_EQ(held->state, OrderState::created);
  EXPECT_TRUE(broker_orders_of(w, "F").empty()) << "sent inside the window";
  EXPECT_EQ(audits_saying(w, entry_id, "queued for session"), 1);
  EXPECT_EQ(audits_saying(w, entry_id, "sent at 2026-12-03T19:00:00-05:00"), 1);
  EXPECT_TRUE(w.rt->engine().active_alerts().empty()) << "waiting for a session is not an alarm";

  w.start();  // a restart inside the window: still held, not announced again
  w.rt->run_for(3 * 3'600'000, 10'000);
  EXPECT_TRUE(broker_orders_of(w, "F").empty());
  EXPECT_EQ(audits_saying(w, entry_id, "queued for session"), 1);

  w.rt->run_for(6 * 3'600'000 + 60'000, 10'000);  // 19:01 ET
  auto at_broker = broker_orders_of(w, "F");
  ASSERT_EQ(at_broker.size(), 1u);
  EXPECT_EQ(at_broker[0].tif, TimeInForce::opg);
  EXPECT_TRUE(at_broker[0].status && is_open_at_broker(*at_broker[0].status))
      << "taken after 19:00 ET, it waits for the open: " << at_broker[0].status_text;

  w.rt->run_for(14 * 3'600'000 + 40 * 60'000, 10'000);  // Friday 9:41 ET
  std::string exits;
  for (const BrokerOrder& o : broker_orders_of(w, "F")) {
    if (o.side == Side::sell && o.status && is_open_at_broker(*o.status))
      exits += o.client_order_id + " ";
  }
  EXPECT_EQ(entry_of(w, trade->id)->state, OrderState::filled);
  EXPECT_FALSE(exits.empty()) << "the filled position has no working exit at the broker";
}

}  // namespace
}  // namespace orderly::testing
