// The simulator's answers against Alpaca's published Trading API description (OpenAPI v2.0.1 in
// alpacahq/alpaca-mcp-server, src/alpaca_mcp_server/specs/trading-api.json): every property of
// the Order, Position, Account, TradingActivities, legacy Clock and legacy Calendar schemas that
// the specification's examples show, with its JSON type, and the enumerations. Facts copied
// from the specification (names, types, enum values), nothing else.
#include <set>

#include "sim_fixture.h"

namespace orderly::sim::testing {
namespace {

enum class Kind { str, str_or_null, boolean, integer, array_or_null, object, object_or_null };

struct Field {
  const char* name;
  Kind kind;
};

bool kind_matches(const json::value& v, Kind k) {
  switch (k) {
    case Kind::str: return v.is_string();
    case Kind::str_or_null: return v.is_string() || v.is_null();
    case Kind::boolean: return v.is_bool();
    case Kind::integer: return v.is_int64() || v.is_uint64();
    case Kind::array_or_null: return v.is_array() || v.is_null();
    case Kind::object: return v.is_object();
    case Kind::object_or_null: return v.is_object() || v.is_null();
  }
  return false;
}

// Every listed field present with its type; returns the differences, one per line.
std::string conform(const json::value& v, std::initializer_list<Field> fields, const char* what) {
  std::string out;
  if (!v.is_object()) return std::string(what) + ": not an object\n";
  for (const Field& f : fields) {
    const json::value* x = v.as_object().if_contains(f.name);
    if (!x) out += std::string(what) + "." + f.name + ": missing\n";
    else if (!kind_matches(*x, f.kind))
      out += std::string(what) + "." + f.name + ": " + json::serialize(*x) + "\n";
  }
  return out;
}

std::string in_enum(const json::value& v, const char* key, std::set<std::string> values,
                    const char* what) {
  const json::value* x = v.as_object().if_contains(key);
  if (!x || !x->is_string() || !values.count(std::string(x->as_string()))) {
    return std::string(what) + "." + key +
           " not in its enum: " + (x ? json::serialize(*x) : "missing") + "\n";
  }
  return "";
}

// Schema "Order" (required: notional, type, time_in_force) and the properties of its examples.
std::string order_conforms(const json::value& o) {
  std::string out = conform(o, {
      {"id", Kind::str}, {"client_order_id", Kind::str}, {"created_at", Kind::str},
      {"updated_at", Kind::str_or_null}, {"submitted_at", Kind::str_or_null},
      {"filled_at", Kind::str_or_null}, {"expired_at", Kind::str_or_null},
      {"canceled_at", Kind::str_or_null}, {"failed_at", Kind::str_or_null},
      {"replaced_at", Kind::str_or_null}, {"replaced_by", Kind::str_or_null},
      {"replaces", Kind::str_or_null}, {"asset_id", Kind::str}, {"symbol", Kind::str},
      {"asset_class", Kind::str}, {"notional", Kind::str_or_null}, {"qty", Kind::str_or_null},
      {"filled_qty", Kind::str}, {"filled_avg_price", Kind::str_or_null},
      {"order_class", Kind::str}, {"order_type", Kind::str}, {"type", Kind::str},
      {"side", Kind::str}, {"time_in_force", Kind::str}, {"limit_price", Kind::str_or_null},
      {"stop_price", Kind::str_or_null}, {"status", Kind::str}, {"extended_hours", Kind::boolean},
      {"legs", Kind::array_or_null}, {"trail_percent", Kind::str_or_null},
      {"trail_price", Kind::str_or_null}, {"hwm", Kind::str_or_null},
      {"position_intent", Kind::str}, {"source", Kind::str_or_null}, {"subtag", Kind::str_or_null}},
      "order");
  if (!out.empty()) return out;
  out += in_enum(o, "status", {"new", "partially_filled", "filled", "done_for_day", "canceled",
                               "expired", "replaced", "pending_cancel", "pending_replace",
                               "accepted", "pending_new", "accepted_for_bidding", "stopped",
                               "rejected", "suspended", "calculated", "held"}, "order");
  out += in_enum(o, "type", {"market", "limit", "stop", "stop_limit", "trailing_stop"}, "order");
  out += in_enum(o, "time_in_force", {"day", "gtc", "opg", "cls", "ioc", "fok"}, "order");
  out += in_enum(o, "order_class", {"simple", "bracket", "oco", "oto", "mleg", ""}, "order");
  out += in_enum(o, "asset_class", {"us_equity", "us_option", "crypto", "ipo"}, "order");
  out += in_enum(o, "side", {"buy", "sell"}, "order");
  out += in_enum(o, "position_intent",
                 {"buy_to_open", "buy_to_close", "sell_to_open", "sell_to_close"}, "order");
  if (o.at("legs").is_array()) {
    for (const auto& leg : o.at("legs").as_array()) out += order_conforms(leg);
  }
  return out;
}

// Schema "Position" (its required list, plus qty_available).
std::string position_conforms(const json::value& p) {
  std::string out = conform(p, {
      {"asset_id", Kind::str}, {"symbol", Kind::str}, {"exchange", Kind::str},
      {"asset_class", Kind::str}, {"avg_entry_price", Kind::str}, {"qty", Kind::str},
      {"qty_available", Kind::str}, {"side", Kind::str}, {"market_value", Kind::str},
      {"cost_basis", Kind::str}, {"unrealized_pl", Kind::str}, {"unrealized_plpc", Kind::str},
      {"unrealized_intraday_pl", Kind::str}, {"unrealized_intraday_plpc", Kind::str},
      {"current_price", Kind::str}, {"lastday_price", Kind::str}, {"change_today", Kind::str},
      {"asset_marginable", Kind::boolean}}, "position");
  if (!out.empty()) return out;
  out += in_enum(p, "side", {"long", "short"}, "position");
  out += in_enum(p, "exchange", {"AMEX", "ARCA", "BATS", "NYSE", "NASDAQ", "NYSEARCA", "OTC", ""},
                 "position");
  out += in_enum(p, "asset_class", {"us_equity", "us_option", "crypto", "ipo"}, "position");
  return out;
}

class SpecShapes : public ShortingSimTest {};

TEST_F(SpecShapes, OrdersOfEveryKindConform) {
  buy_filled("F", "10");
  for (const Answer& a : place_every_kind()) EXPECT_EQ(order_conforms(a.body), "") << a.raw;
  tick();
  const Answer all = get("/v2/orders?status=all&nested=true&limit=500");
  for (const auto& o : all.body.as_array()) {
    EXPECT_EQ(order_conforms(o), "") << json::serialize(o);
  }
  for (const auto& m : stream()) {
    EXPECT_EQ(order_conforms(m.at("data").at("order")), "") << json::serialize(m);
  }
}

TEST_F(SpecShapes, PositionsLongShortAndCryptoConform) {
  buy_filled("F", "10");
  post("/v2/orders", order("PFE", "sell", "4"));
  post("/v2/orders", order("BTC/USD", "buy", "0.01", R"("type":"market","time_in_force":"gtc")"));
  tick();
  const Answer positions = get("/v2/positions");
  const auto& list = positions.body.as_array();
  ASSERT_EQ(list.size(), 3u);
  for (const auto& p : list) EXPECT_EQ(position_conforms(p), "") << json::serialize(p);
}

TEST_F(SpecShapes, AccountConforms) {
  Answer a = get("/v2/account");
  EXPECT_EQ(conform(a.body, {
      {"id", Kind::str}, {"status", Kind::str}, {"account_number", Kind::str},
      {"account_blocked", Kind::boolean}, {"accrued_fees", Kind::str}, {"balance_asof", Kind::str},
      {"buying_power", Kind::str}, {"cash", Kind::str}, {"created_at", Kind::str},
      {"crypto_status", Kind::str}, {"currency", Kind::str}, {"equity", Kind::str},
      {"initial_margin", Kind::str}, {"intraday_adjustments", Kind::str},
      {"last_equity", Kind::str}, {"last_maintenance_margin", Kind::str},
      {"long_market_value", Kind::str}, {"maintenance_margin", Kind::str},
      {"multiplier", Kind::str}, {"non_marginable_buying_power", Kind::str},
      {"options_approved_level", Kind::integer}, {"options_buying_power", Kind::str},
      {"options_trading_level", Kind::integer}, {"pending_reg_taf_fees", Kind::str},
      {"pending_transfer_in", Kind::str}, {"portfolio_value", Kind::str},
      {"regt_buying_power", Kind::str}, {"short_market_value", Kind::str},
      {"shorting_enabled", Kind::boolean}, {"sma", Kind::str},
      {"trade_suspended_by_user", Kind::boolean}, {"trading_blocked", Kind::boolean},
      {"transfers_blocked", Kind::boolean}, {"effective_buying_power", Kind::str},
      {"position_market_value", Kind::str}, {"admin_configurations", Kind::object},
      {"user_configurations", Kind::object_or_null}}, "account"), "") << a.raw;
  EXPECT_EQ(in_enum(a.body, "status",
                    {"INACTIVE", "PAPER_ONLY", "ONBOARDING", "SUBMISSION_FAILED", "SUBMITTED",
                     "ACCOUNT_UPDATED", "APPROVAL_PENDING", "ACTIVE", "REJECTED", "ACCOUNT_CLOSED",
                     "APPROVED", "ACCOUNT_CLOSED_PENDING", "ACTION_REQUIRED", "LIMITED"},
                    "account"),
            "");
  EXPECT_EQ(in_enum(a.body, "multiplier", {"1", "2", "4"}, "account"), "");
}

TEST_F(SpecShapes, FillActivitiesConform) {
  buy_filled("F", "3");
  const Answer fills = get("/v2/account/activities/FILL");
  for (const auto& act : fills.body.as_array()) {
    EXPECT_EQ(conform(act,
                      {{"activity_type", Kind::str},
                       {"cum_qty", Kind::str},
                       {"id", Kind::str},
                       {"leaves_qty", Kind::str},
                       {"order_id", Kind::str},
                       {"order_status", Kind::str},
                       {"price", Kind::str},
                       {"qty", Kind::str},
                       {"side", Kind::str},
                       {"symbol", Kind::str},
                       {"transaction_time", Kind::str},
                       {"type", Kind::str}},
                      "activity"),
              "")
        << json::serialize(act);
    EXPECT_EQ(in_enum(act, "type", {"fill", "partial_fill"}, "activity"), "");
  }
}

TEST_F(SpecShapes, ClockAndCalendarConform) {
  EXPECT_EQ(conform(get("/v2/clock").body, {{"timestamp", Kind::str}, {"is_open", Kind::boolean},
                                            {"next_open", Kind::str}, {"next_close", Kind::str}},
                    "clock"), "");
  const Answer calendar = get("/v2/calendar");
  for (const auto& day : calendar.body.as_array()) {
    EXPECT_EQ(conform(day, {{"date", Kind::str}, {"open", Kind::str}, {"close", Kind::str},
                            {"session_open", Kind::str}, {"session_close", Kind::str},
                            {"settlement_date", Kind::str}}, "calendar"), "");
  }
}

TEST_F(SpecShapes, AssetsCarryTheRequiredFields) {
  const Answer assets = get("/v2/assets");
  for (const auto& asset : assets.body.as_array()) {
    EXPECT_EQ(conform(asset,
                      {{"id", Kind::str},
                       {"class", Kind::str},
                       {"exchange", Kind::str},
                       {"symbol", Kind::str},
                       {"name", Kind::str},
                       {"status", Kind::str},
                       {"tradable", Kind::boolean},
                       {"marginable", Kind::boolean},
                       {"shortable", Kind::boolean},
                       {"easy_to_borrow", Kind::boolean},
                       {"fractionable", Kind::boolean}},
                      "asset"),
              "")
        << json::serialize(asset);
  }
}

}  // namespace
}  // namespace orderly::sim::testing
