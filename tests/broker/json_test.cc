// JSON mapping against real Alpaca payloads (alpaca-api.md) and against broken input.
#include "broker/alpaca/json.h"

#include <gtest/gtest.h>

#include "fixtures.h"

namespace orderly::alpaca {
namespace {

// §2.2, verbatim (a notional market order).
constexpr std::string_view kDocsOrder = R"({"id":"61e69015-8549-4bfd-b9c3-01e75843f47d","client_order_id":"eb9e2aaa-f71a-4f51-b5b4-52a6c565dad4",
 "created_at":"2021-03-16T18:38:01.942282Z","updated_at":"2021-03-16T18:38:01.942282Z",
 "submitted_at":"2021-03-16T18:38:01.937734Z","filled_at":null,"expired_at":null,"canceled_at":null,
 "failed_at":null,"replaced_at":null,"replaced_by":null,"replaces":null,
 "asset_id":"b0b6dd9d-8b9b-48a9-ba46-b9d54906e415","symbol":"AAPL","asset_class":"us_equity",
 "notional":"500","qty":null,"filled_qty":"0","filled_avg_price":null,"order_class":"",
 "order_type":"market","type":"market","side":"buy","time_in_force":"day","limit_price":null,
 "stop_price":null,"status":"accepted","extended_hours":false,"legs":null,"trail_percent":null,
 "trail_price":null,"hwm":null,"position_intent":"buy_to_open"})";

TEST(AlpacaJson, ParsesTheDocumentedOrderWithEveryField) {
  auto o = parse_order(kDocsOrder);
  ASSERT_TRUE(o.ok()) << o.status().to_string();
  EXPECT_EQ(o->id, "61e69015-8549-4bfd-b9c3-01e75843f47d");
  EXPECT_EQ(o->client_order_id, "eb9e2aaa-f71a-4f51-b5b4-52a6c565dad4");
  EXPECT_EQ(o->symbol, "AAPL");
  EXPECT_EQ(o->side, Side::buy);
  EXPECT_EQ(o->type, OrderType::market);
  EXPECT_EQ(o->tif, TimeInForce::day);
  EXPECT_EQ(o->order_class, OrderClass::simple);
  EXPECT_FALSE(o->qty.has_value());
  EXPECT_EQ(o->notional, Decimal::must("500"));
  EXPECT_EQ(o->filled_qty, Decimal());
  EXPECT_FALSE(o->filled_avg_price.has_value());
  EXPECT_EQ(o->status, OrderState::accepted);
  EXPECT_EQ(o->status_text, "accepted");
  EXPECT_EQ(o->created_at, *parse_rfc3339("2021-03-16T18:38:01.942282Z"));
  EXPECT_EQ(o->submitted_at, parse_rfc3339("2021-03-16T18:38:01.937734Z"));
  EXPECT_FALSE(o->filled_at.has_value());
  EXPECT_FALSE(o->replaced_by.has_value());
  EXPECT_TRUE(o->legs.empty());
  EXPECT_EQ(o->asset_id, "b0b6dd9d-8b9b-48a9-ba46-b9d54906e415");
  EXPECT_EQ(o->asset_class, "us_equity");
  EXPECT_EQ(o->position_intent, "buy_to_open");
  EXPECT_FALSE(o->extended_hours);
  EXPECT_EQ(o->raw, kDocsOrder);
  EXPECT_TRUE(o->parse_notes.empty());
}

TEST(AlpacaJson, DecimalsAsNumbersAndOffsetsInTimestamps) {
  auto o = parse_order(R"({"id":"a","client_order_id":"c","symbol":"F","side":"sell",
    "type":"limit","time_in_force":"gtc","qty":37,"filled_qty":12.5,"filled_avg_price":105.8988475,
    "limit_price":"10.50","status":"partially_filled",
    "created_at":"2022-04-19T13:45:04.981350886-04:00","updated_at":"2022-04-19T17:45:05Z",
    "replaced_by":"b","filled_at":"2022-04-19T19:45:05.5+02:00"})");
  ASSERT_TRUE(o.ok()) << o.status().to_string();
  EXPECT_EQ(o->qty, Decimal::must("37"));
  EXPECT_EQ(o->filled_qty, Decimal::must("12.5"));
  EXPECT_EQ(o->filled_avg_price, Decimal::must("105.8988475"));
  EXPECT_EQ(o->limit_price->str(), "10.50");
  EXPECT_EQ(o->created_at, *parse_rfc3339("2022-04-19T17:45:04.981350886Z"));
  EXPECT_EQ(o->filled_at, parse_rfc3339("2022-04-19T17:45:05.5Z"));
  EXPECT_EQ(o->side, Side::sell);
  EXPECT_EQ(o->tif, TimeInForce::gtc);
  EXPECT_EQ(o->replaced_by, "b");
}

TEST(AlpacaJson, UnknownStatusIsKeptAsTextAndUnknownFieldsIgnored) {
  auto o = parse_order(R"({"id":"a","client_order_id":"c","symbol":"F","side":"buy",
    "type":"market","time_in_force":"day","qty":"1","filled_qty":"0","status":"moonwalking",
    "created_at":"2024-01-02T03:04:05Z","updated_at":null,"subtag":null,"source":"x",
    "commission":"0.01","brand_new_field":{"nested":[1,2,3]},"expires_at":"2024-01-02T21:00:00Z"})");
  ASSERT_TRUE(o.ok()) << o.status().to_string();
  EXPECT_FALSE(o->status.has_value());
  EXPECT_EQ(o->status_text, "moonwalking");
  EXPECT_EQ(o->updated_at, o->created_at);  // explicit null falls back to created_at
}

TEST(AlpacaJson, LocalStateNamesAreNotBrokerStatuses) {
  auto o = parse_order(R"({"id":"a","side":"buy","type":"market","status":"submitting",
    "created_at":"2024-01-02T03:04:05Z"})");
  ASSERT_TRUE(o.ok());
  EXPECT_FALSE(o->status.has_value());
}

TEST(AlpacaJson, UnknownTypeTifClassAreNotedNotFatal) {
  auto o = parse_order(R"({"id":"a","side":"buy","type":"pegged","time_in_force":"gtd",
    "order_class":"mystery","status":"new","created_at":"2024-01-02T03:04:05Z"})");
  ASSERT_TRUE(o.ok()) << o.status().to_string();
  EXPECT_EQ(o->parse_notes.size(), 3u);
}

TEST(AlpacaJson, BracketLegsAreParsedRecursively) {
  auto o = parse_order(R"({"id":"p","client_order_id":"c","symbol":"STWD","side":"buy",
    "type":"limit","order_type":"limit","time_in_force":"gtc","qty":"37","filled_qty":"0",
    "limit_price":"10.05","order_class":"bracket","status":"accepted",
    "created_at":"2024-01-02T03:04:05Z","updated_at":"2024-01-02T03:04:05Z",
    "legs":[{"id":"tp","client_order_id":"c-tp","symbol":"STWD","side":"sell","type":"limit",
      "time_in_force":"gtc","qty":"37","filled_qty":"0","limit_price":"10.50","order_class":"bracket",
      "status":"held","created_at":"2024-01-02T03:04:05Z","updated_at":"2024-01-02T03:04:05Z","legs":null},
     {"id":"sl","client_order_id":"c-sl","symbol":"STWD","side":"sell","type":"stop",
      "time_in_force":"gtc","qty":"37","filled_qty":"0","stop_price":"9.80","order_class":"bracket",
      "status":"held","created_at":"2024-01-02T03:04:05Z","updated_at":"2024-01-02T03:04:05Z"}]})");
  ASSERT_TRUE(o.ok()) << o.status().to_string();
  EXPECT_EQ(o->order_class, OrderClass::bracket);
  ASSERT_EQ(o->legs.size(), 2u);
  EXPECT_EQ(o->legs[0].id, "tp");
  EXPECT_EQ(o->legs[0].status, OrderState::held);
  EXPECT_EQ(o->legs[0].limit_price, Decimal::must("10.50"));
  EXPECT_EQ(o->legs[1].type, OrderType::stop);
  EXPECT_EQ(o->legs[1].stop_price, Decimal::must("9.80"));
  EXPECT_NE(o->legs[1].raw.find("\"sl\""), std::string::npos);
}

TEST(AlpacaJson, BrokenInputIsAnErrorNeverAThrow) {
  const std::string_view bad[] = {
      "",
      "{",
      R"({"id":"a","side":"buy")",                                   // truncated
      "[]",                                                           // wrong shape
      "null",
      "<html>502 Bad Gateway</html>",
      R"({"id":"a","side":"buy","status":"new"})",                    // no created_at
      R"({"id":"a","side":"up","status":"new","created_at":"2024-01-02T03:04:05Z"})",
      R"({"id":"a","side":"buy","status":"new","created_at":"yesterday"})",
      R"({"id":"a","side":"buy","status":"new","created_at":"2024-01-02T03:04:05Z","qty":"1e3"})",
      R"({"id":"a","side":"buy","status":"new","created_at":"2024-01-02T03:04:05Z","qty":true})",
      R"({"id":"a","side":"buy","status":"new","created_at":"2024-01-02T03:04:05Z","qty":"0.0000000000000000001"})",
      R"({"id":"a","side":"buy","status":"new","created_at":"2024-01-02T03:04:05Z","qty":1.2345678901234567})",
      R"({"id":"a","side":"buy","status":"new","created_at":"2024-01-02T03:04:05Z","legs":{}})",
      R"({"id":7,"side":"buy","status":"new","created_at":"2024-01-02T03:04:05Z"})",
      R"({"id":"","side":"buy","status":"new","created_at":"2024-01-02T03:04:05Z"})",
  };
  for (auto text : bad) {
    auto o = parse_order(text);
    EXPECT_FALSE(o.ok()) << text;
    if (!o.ok()) {
      EXPECT_NE(o.status().message().find("malformed JSON"), std::string::npos);
    }
  }
  EXPECT_FALSE(parse_orders(R"({"id":"a"})").ok());  // not a list at all
  EXPECT_FALSE(parse_positions("{}").ok());
  EXPECT_FALSE(parse_stream_message(R"({"stream":"trade_updates","data":{"event":"fill"}})").ok());
  EXPECT_FALSE(parse_stream_message(R"({"stream":"trade_updates"})").ok());
  EXPECT_FALSE(parse_stream_message("\x01").ok());
}

TEST(AlpacaJson, PositionFromTheDocs) {
  auto p = parse_positions(R"([{"asset_id":"b0b6dd9d-8b9b-48a9-ba46-b9d54906e415","symbol":"AAPL","exchange":"NASDAQ","asset_class":"us_equity",
 "asset_marginable":false,"qty":"2","qty_available":"2","avg_entry_price":"174.78","side":"long",
 "market_value":"348.58","cost_basis":"349.56","unrealized_pl":"-0.98","unrealized_plpc":"-0.0028035244307129",
 "unrealized_intraday_pl":"-0.98","unrealized_intraday_plpc":"-0.0028035244307129","current_price":"174.29",
 "lastday_price":"174.61","change_today":"-0.0018326556325525"},
 {"symbol":"TSLA","qty":"-5","qty_available":"-5","avg_entry_price":"200","side":"short","current_price":null}])");
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  ASSERT_EQ(p->size(), 2u);
  EXPECT_EQ((*p)[0].symbol, "AAPL");
  EXPECT_EQ((*p)[0].qty, Decimal::must("2"));
  EXPECT_EQ((*p)[0].avg_entry_price, Decimal::must("174.78"));
  EXPECT_EQ((*p)[0].current_price, Decimal::must("174.29"));
  EXPECT_EQ((*p)[1].qty, Decimal::must("-5"));
  EXPECT_FALSE((*p)[1].current_price.has_value());
}

TEST(AlpacaJson, AccountWithAndWithoutThePdtFields) {
  auto with = parse_account(R"({"id":"acc","account_number":"PA1","status":"ACTIVE","currency":"USD",
    "cash":"100000","buying_power":"200000.5","equity":"100000","pattern_day_trader":false,
    "daytrade_count":0,"trading_blocked":false,"account_blocked":false,"multiplier":"2"})");
  ASSERT_TRUE(with.ok()) << with.status().to_string();
  EXPECT_EQ(with->buying_power, Decimal::must("200000.5"));
  EXPECT_EQ(with->pattern_day_trader, false);
  EXPECT_EQ(with->daytrade_count, 0);
  auto without = parse_account(R"({"id":"acc","status":"ACTIVE","cash":"5","buying_power":"5",
    "equity":"5","trading_blocked":true})");
  ASSERT_TRUE(without.ok()) << without.status().to_string();
  EXPECT_FALSE(without->pattern_day_trader.has_value());
  EXPECT_TRUE(without->trading_blocked);
}

TEST(AlpacaJson, FillActivities) {
  auto a = parse_fill_activities(R"([{"id":"20220419134504981::8a6b","activity_type":"FILL",
    "transaction_time":"2022-04-19T17:45:04.981Z","type":"partial_fill","price":"105.89","qty":"10",
    "side":"buy","symbol":"AAPL","leaves_qty":"5","order_id":"o1","cum_qty":"10",
    "order_status":"partially_filled"}])");
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  ASSERT_EQ(a->size(), 1u);
  EXPECT_EQ((*a)[0].id, "20220419134504981::8a6b");
  EXPECT_TRUE((*a)[0].partial);
  EXPECT_EQ((*a)[0].leaves_qty, Decimal::must("5"));
  EXPECT_EQ((*a)[0].order_status, OrderState::partially_filled);
  EXPECT_EQ((*a)[0].transaction_time, *parse_rfc3339("2022-04-19T17:45:04.981Z"));
}

TEST(AlpacaJson, ClockInEasternTime) {
  auto c = parse_clock(R"({"timestamp":"2025-06-24T14:15:22-04:00","is_open":true,
    "next_open":"2025-06-25T09:30:00-04:00","next_close":"2025-06-24T16:00:00-04:00"})");
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_TRUE(c->is_open);
  EXPECT_EQ(c->next_close, *parse_rfc3339("2025-06-24T20:00:00Z"));
}

// The specification's Assets example (an equity: no sizes) and a crypto pair as Alpaca's crypto
// page shows it (its sizes as decimal strings).
TEST(AlpacaJson, AssetsWithAndWithoutCryptoSizes) {
  auto aapl = parse_asset(R"({"borrow_status":"easy_to_borrow","class":"us_equity",
    "easy_to_borrow":true,"exchange":"NASDAQ","fractionable":true,
    "id":"b0b6dd9d-8b9b-48a9-ba46-b9d54906e415","marginable":true,
    "name":"Apple Inc. Common Stock","shortable":true,"status":"active","symbol":"AAPL",
    "tradable":true})");
  ASSERT_TRUE(aapl.ok()) << aapl.status().to_string();
  EXPECT_EQ(aapl->asset_class, "us_equity");
  EXPECT_FALSE(aapl->min_order_size || aapl->min_trade_increment || aapl->price_increment);
  auto btc = parse_asset(R"({"id":"276e2673-764b-4ab6-a611-caf665ca6340","class":"crypto",
    "exchange":"ALPACA","symbol":"BTC/USD","name":"BTC/USD pair","status":"active",
    "tradable":true,"marginable":false,"shortable":false,"easy_to_borrow":false,
    "fractionable":true,"min_order_size":"0.0001","min_trade_increment":"0.0001",
    "price_increment":"1"})");
  ASSERT_TRUE(btc.ok()) << btc.status().to_string();
  EXPECT_EQ(btc->min_order_size, Decimal::must("0.0001"));
  EXPECT_EQ(btc->min_trade_increment, Decimal::must("0.0001"));
  EXPECT_EQ(btc->price_increment, Decimal::must("1"));
  EXPECT_FALSE(parse_asset(R"({"class":"crypto","min_order_size":"x"})").ok())
      << "no symbol, an unreadable size";
}

// What an equity's orders are refused by: fractionable, shortable and borrow_status (the
// deprecated easy_to_borrow flag read only where borrow_status is absent).
TEST(AlpacaJson, AssetsStateWhatAnEquitysOrdersAreRefusedBy) {
  auto htb = parse_asset(R"({"symbol":"GME","class":"us_equity","status":"active",
    "tradable":true,"fractionable":false,"shortable":true,"easy_to_borrow":true,
    "borrow_status":"hard_to_borrow","attributes":["ptp_no_exception"]})");
  ASSERT_TRUE(htb.ok()) << htb.status().to_string();
  EXPECT_FALSE(htb->fractionable);
  EXPECT_TRUE(htb->shortable);
  EXPECT_EQ(htb->borrow_status, "hard_to_borrow") << "borrow_status wins over the old flag";
  auto old = parse_asset(R"({"symbol":"F","class":"us_equity","status":"inactive",
    "tradable":false,"fractionable":true,"shortable":false,"easy_to_borrow":false})");
  ASSERT_TRUE(old.ok()) << old.status().to_string();
  EXPECT_FALSE(old->tradable);
  EXPECT_FALSE(old->shortable);
  EXPECT_EQ(old->borrow_status, "hard_to_borrow");
  EXPECT_FALSE(htb->fractional_eh) << "attributes without fractional_eh_enabled";
  auto eh = parse_asset(R"({"symbol":"AAPL","class":"us_equity",)"
                        R"("attributes":["has_options","fractional_eh_enabled"]})");
  ASSERT_TRUE(eh.ok()) << eh.status().to_string();
  EXPECT_TRUE(eh->fractional_eh);
  auto bare = parse_asset(R"({"symbol":"X","class":"us_equity"})");
  ASSERT_TRUE(bare.ok()) << bare.status().to_string();
  EXPECT_TRUE(bare->fractionable && bare->shortable && bare->fractional_eh)
      << "absent is not a refusal";
  EXPECT_EQ(bare->borrow_status, "");
}

TEST(AlpacaJson, InsufficientQtyBodies) {
  auto e = parse_error_body(R"J({"available":"0","code":40310000,"existing_qty":"3","held_for_orders":"3",
 "message":"insufficient qty available for order (requested: 1, available: 0)",
 "related_orders":["fe46998e-bb31-49a5-9266-8e5d99d84363"],"symbol":"F"})J");
  ASSERT_TRUE(e.ok()) << e.status().to_string();
  EXPECT_EQ(e->code, 40310000);
  ASSERT_TRUE(e->insufficient_qty.has_value());
  EXPECT_EQ(e->insufficient_qty->symbol, "F");
  EXPECT_EQ(e->insufficient_qty->held_for_orders, Decimal::must("3"));
  EXPECT_EQ(e->insufficient_qty->existing_qty, Decimal::must("3"));
  EXPECT_EQ(e->insufficient_qty->available, Decimal());
  EXPECT_EQ(e->insufficient_qty->related_orders,
            std::vector<std::string>{"fe46998e-bb31-49a5-9266-8e5d99d84363"});

  // related_orders is omitted when nothing is held.
  auto hood = parse_error_body(R"J({"available":"9","code":40310000,"existing_qty":"9","held_for_orders":"0",
 "message":"insufficient qty available for order (requested: 10, available: 9)","symbol":"HOOD"})J");
  ASSERT_TRUE(hood.ok());
  ASSERT_TRUE(hood->insufficient_qty.has_value());
  EXPECT_TRUE(hood->insufficient_qty->related_orders.empty());
  EXPECT_EQ(hood->insufficient_qty->available, Decimal::must("9"));
}

TEST(AlpacaJson, WashTradeAndGatewayBodies) {
  auto w = parse_error_body(R"({"code":40310000,"existing_order_id":"a182da86-1","message":"potential wash trade detected. use complex orders",
 "reject_reason":"opposite side market/stop order exists"})");
  ASSERT_TRUE(w.ok());
  EXPECT_FALSE(w->insufficient_qty.has_value());
  EXPECT_EQ(w->existing_order_id, "a182da86-1");
  EXPECT_EQ(w->reject_reason, "opposite side market/stop order exists");
  auto g = parse_error_body(R"({"message": "forbidden."})");
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->code, 0);
  EXPECT_EQ(g->message, "forbidden.");
  EXPECT_FALSE(parse_error_body("forbidden").ok());
}

TEST(AlpacaJson, CancelAllMultiStatus) {
  auto c = parse_cancel_all(R"([{"id":"497f6eca-6276-4993-bfeb-53cbbbba6f08","status":200},
 {"id":"72249bb6-6c89-4ea7-b8cf-73f1a140812b","status":404,"body":{"code":40410000,"message":"order not found"}}])");
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  ASSERT_EQ(c->size(), 2u);
  EXPECT_EQ((*c)[0].http_status, 200);
  EXPECT_EQ((*c)[1].http_status, 404);
  EXPECT_NE((*c)[1].body.find("40410000"), std::string::npos);
}

TEST(AlpacaJson, TradeUpdateFromTheDocs) {
  auto m = parse_stream_message(R"({"stream":"trade_updates","data":{"event":"fill","execution_id":"2f63ea93-423d-4169-b3f6-3fdafc10c418",
 "order":{"id":"o1","client_order_id":"c1","symbol":"AAPL","side":"buy","type":"market","time_in_force":"day",
 "qty":"1790.86","status":"filled","filled_qty":"1790.86","filled_avg_price":"105.8988475",
 "created_at":"2022-04-19T13:45:04.981350886-04:00","updated_at":"2022-04-19T17:45:05.024916716Z"},
 "position_qty":"0","price":"105.8988475","qty":"1790.86","timestamp":"2022-04-19T17:45:05.024916716Z"}})");
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  auto* u = std::get_if<TradeUpdate>(&*m);
  ASSERT_NE(u, nullptr);
  EXPECT_EQ(u->event, "fill");
  EXPECT_EQ(u->execution_id, "2f63ea93-423d-4169-b3f6-3fdafc10c418");
  EXPECT_EQ(u->price, Decimal::must("105.8988475"));
  EXPECT_EQ(u->qty, Decimal::must("1790.86"));
  EXPECT_EQ(u->position_qty, Decimal());
  EXPECT_EQ(u->order.status, OrderState::filled);
  EXPECT_EQ(u->order.filled_avg_price, Decimal::must("105.8988475"));
  EXPECT_EQ(u->timestamp, *parse_rfc3339("2022-04-19T17:45:05.024916716Z"));

  // execution_id is missing on some events; unknown event names are kept.
  auto odd = parse_stream_message(R"({"stream":"trade_updates","data":{"event":"restated",
    "order":{"id":"o1","side":"buy","status":"new","created_at":"2022-04-19T17:45:05Z"}}})");
  ASSERT_TRUE(odd.ok()) << odd.status().to_string();
  EXPECT_EQ(std::get<TradeUpdate>(*odd).event, "restated");
  EXPECT_FALSE(std::get<TradeUpdate>(*odd).execution_id.has_value());
}

TEST(AlpacaJson, StreamControlMessages) {
  auto ok = parse_stream_message(R"({"stream":"authorization","data":{"status":"authorized","action":"authenticate"}})");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(std::get<StreamControl>(*ok).kind, StreamControl::Kind::authorized);
  auto bad = parse_stream_message(R"({"stream":"authorization","data":{"action":"authenticate","message":"access key verification failed","status":"unauthorized"}})");
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ(std::get<StreamControl>(*bad).kind, StreamControl::Kind::unauthorized);
  EXPECT_EQ(std::get<StreamControl>(*bad).message, "access key verification failed");
  auto listening = parse_stream_message(R"({"stream":"listening","data":{"streams":["trade_updates"]}})");
  ASSERT_TRUE(listening.ok());
  EXPECT_EQ(std::get<StreamControl>(*listening).kind, StreamControl::Kind::listening);
  EXPECT_EQ(std::get<StreamControl>(*listening).streams, std::vector<std::string>{"trade_updates"});
}

// Alpaca takes exactly one of qty and notional; a trailing stop carries its trail.
TEST(AlpacaJson, SerializesNotionalInsteadOfQtyAndTrailingStops) {
  OrderRequest r;
  r.symbol = "STWD";
  r.notional = Decimal::must("500");
  r.client_order_id = "ol-abc-2-e0";
  EXPECT_EQ(serialize_order_request(r),
            R"({"symbol":"STWD","notional":"500","side":"buy","type":"market",)"
            R"("time_in_force":"day","client_order_id":"ol-abc-2-e0"})");
  OrderRequest t;
  t.symbol = "STWD";
  t.qty = Decimal::must("5");
  t.side = Side::sell;
  t.type = OrderType::trailing_stop;
  t.tif = TimeInForce::gtc;
  t.trail_percent = Decimal::must("1.5");
  t.extended_hours = false;
  EXPECT_EQ(serialize_order_request(t),
            R"({"symbol":"STWD","qty":"5","side":"sell","type":"trailing_stop",)"
            R"("time_in_force":"gtc","trail_percent":"1.5"})");
}

TEST(AlpacaJson, SerializesRequestsWithDecimalsAsStrings) {
  OrderRequest r = testing::stwd_take_profit("ol-abc-1-t0");
  EXPECT_EQ(serialize_order_request(r),
            R"({"symbol":"STWD","qty":"37","side":"sell","type":"limit","time_in_force":"gtc","limit_price":"10.50","client_order_id":"ol-abc-1-t0"})");

  r.order_class = OrderClass::oco;
  r.take_profit_limit_price = Decimal::must("10.50");
  r.stop_loss_stop_price = Decimal::must("9.80");
  r.stop_loss_limit_price = Decimal::must("9.75");
  const std::string oco = serialize_order_request(r);
  EXPECT_NE(oco.find(R"("order_class":"oco")"), std::string::npos);
  EXPECT_NE(oco.find(R"("take_profit":{"limit_price":"10.50"})"), std::string::npos);
  EXPECT_NE(oco.find(R"("stop_loss":{"stop_price":"9.80","limit_price":"9.75"})"), std::string::npos);

  ReplaceRequest rr;
  EXPECT_EQ(serialize_replace_request(rr), "{}");
  rr.qty = Decimal::must("12");
  rr.tif = TimeInForce::day;
  EXPECT_EQ(serialize_replace_request(rr), R"({"qty":"12","time_in_force":"day"})");
}

TEST(AlpacaJson, AuthenticateMessageEscapes) {
  const std::string m = authenticate_message("KEY\"1", "SEC");
  EXPECT_EQ(m, R"({"action":"authenticate","data":{"key_id":"KEY\"1","secret_key":"SEC"}})");
}

}  // namespace
}  // namespace orderly::alpaca
