// Alpaca's JSON shapes: decimals as strings, absent values as explicit nulls, `order_type`
// beside `type`, `"order_class":""` for simple orders (alpaca-api.md §2.2, §4, §13).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <array>
#include <map>

#include "sim/exchange_impl.h"

namespace orderly::sim {
namespace {

json::value dec_or_null(const std::optional<Decimal>& d, const json::storage_ptr& sp) {
  if (!d) return json::value(nullptr, sp);
  return json::value(d->str(), sp);
}


json::value str_or_null(const std::string& s, const json::storage_ptr& sp) {
  if (s.empty()) return json::value(nullptr, sp);
  return json::value(s, sp);
}

std::string_view class_name(OClass c) {
  switch (c) {
    case OClass::simple: return "";
    case OClass::bracket: return "bracket";
    case OClass::oco: return "oco";
    case OClass::oto: return "oto";
  }
  return "";
}


// ---------------------------------------------------------------------------------------------

// An order carries up to six timestamps, usually the same two or three: formatting them with
// snprintf was a tenth of the cost of rendering an order.
}  // namespace

const std::string& ExchangeImpl::format_time(Timestamp t) const {
  for (const auto& [ns, text] : time_cache_) {
    if (ns == t.ns && !text.empty()) return text;
  }
  auto& slot = time_cache_[time_cache_next_++ % time_cache_.size()];
  slot = {t.ns, format_rfc3339(t)};
  return slot.second;
}

json::value ExchangeImpl::time_or_null(const std::optional<Timestamp>& t) const {
  if (!t) return json::value(nullptr, sp_);
  return json::value(format_time(*t), sp_);
}

json::object ExchangeImpl::order_json(const SimOrder& o, bool nested) const {
  json::object j(sp_);
  j.reserve(36);
  j["id"] = o.id;
  j["client_order_id"] = o.client_order_id;
  j["created_at"] = format_time(o.created_at);
  j["updated_at"] = format_time(o.updated_at);
  j["submitted_at"] = format_time(o.submitted_at);
  j["filled_at"] = time_or_null(o.filled_at);
  j["expired_at"] = time_or_null(o.expired_at);
  j["canceled_at"] = time_or_null(o.canceled_at);
  j["failed_at"] = time_or_null(o.failed_at);
  j["replaced_at"] = time_or_null(o.replaced_at);
  j["replaced_by"] = str_or_null(o.replaced_by, sp_);
  j["replaces"] = str_or_null(o.replaces, sp_);
  auto b = books_.find(o.symbol);
  j["asset_id"] = b != books_.end() ? b->second.asset_id : std::string();
  j["symbol"] = o.symbol;
  j["asset_class"] = o.crypto ? "crypto" : "us_equity";
  j["notional"] = dec_or_null(o.notional, sp_);
  j["qty"] = dec_or_null(o.qty, sp_);
  j["filled_qty"] = o.filled_qty.str();
  std::optional<Decimal> avg;
  if (o.filled_qty.is_positive()) avg = o.filled_value.checked_div(o.filled_qty);
  j["filled_avg_price"] = dec_or_null(avg, sp_);
  j["order_class"] = class_name(o.cls);
  j["order_type"] = to_string(o.type);
  j["type"] = to_string(o.type);
  j["side"] = o.buy ? "buy" : "sell";
  j["time_in_force"] = o.tif;
  j["limit_price"] = dec_or_null(o.limit_price, sp_);
  j["stop_price"] = dec_or_null(o.stop_price, sp_);
  j["status"] = to_string(o.status);
  j["extended_hours"] = o.extended_hours;
  if (nested && !o.legs.empty()) {
    json::array legs(sp_);
    for (const std::string& id : o.legs) {
      auto it = orders_.find(id);
      if (it != orders_.end()) legs.emplace_back(order_json(*it->second, false));
    }
    j["legs"] = std::move(legs);
  } else {
    j["legs"] = nullptr;
  }
  j["trail_percent"] = dec_or_null(o.trail_percent, sp_);
  j["trail_price"] = dec_or_null(o.trail_price, sp_);
  j["hwm"] = dec_or_null(o.hwm, sp_);
  j["position_intent"] = str_or_null(o.position_intent, sp_);
  j["source"] = nullptr;
  j["subtag"] = nullptr;
  return j;
}

// A short has negative qty, market value and cost basis (avg_entry_price stays positive); its
// qty_available is what open covers leave, negative too. A crypto position is named without the
// slash ("BTCUSD"), as Alpaca's positions are (alpaca-py #179, #537).
json::object ExchangeImpl::position_json(const std::string& symbol, const Position& p) const {
  const SymbolBook& b = books_.at(symbol);
  const bool is_short = p.qty.is_negative();
  const Decimal held = held_for_orders(b, nullptr, {}, !is_short);
  const Decimal available = Decimal::max(p.qty.abs() - held, Decimal());
  const Decimal price = b.price;
  const Decimal market_value = p.qty * price;
  const Decimal unrealized = market_value - p.cost_basis;
  const Decimal lastday_value = p.qty * b.lastday_price;
  const Decimal intraday = market_value - lastday_value;
  auto ratio = [](Decimal a, Decimal b) {
    return a.checked_div(b.abs()).value_or(Decimal()).str();
  };
  std::string shown = symbol;
  if (b.crypto) shown.erase(std::remove(shown.begin(), shown.end(), '/'), shown.end());
  json::object j(sp_);
  j["asset_id"] = b.asset_id;
  j["symbol"] = shown;
  j["exchange"] = b.crypto ? "" : b.exchange;
  j["asset_class"] = b.crypto ? "crypto" : "us_equity";
  j["asset_marginable"] = !b.crypto && config_.shorting;
  j["qty"] = p.qty.str();
  j["qty_available"] = (is_short ? -available : available).str();
  j["avg_entry_price"] = p.cost_basis.checked_div(p.qty).value_or(Decimal()).str();
  j["side"] = is_short ? "short" : "long";
  j["market_value"] = market_value.str();
  j["cost_basis"] = p.cost_basis.str();
  j["unrealized_pl"] = unrealized.str();
  j["unrealized_plpc"] = ratio(unrealized, p.cost_basis);
  j["unrealized_intraday_pl"] = intraday.str();
  j["unrealized_intraday_plpc"] = ratio(intraday, lastday_value);
  j["current_price"] = price.str();
  j["lastday_price"] = b.lastday_price.str();
  j["change_today"] = ratio(price - b.lastday_price, b.lastday_price);
  return j;
}

// The current specification's fields (PDT fields are gone since 2026-07-06). Buying power is
// cash-based (see buying_power()); `multiplier` says "2" when the account may short, as a paper
// margin account does, "1" otherwise.
json::object ExchangeImpl::account_json() const {
  Decimal long_value;
  for (const auto& [symbol, p] : positions_) {
    if (p.qty.is_positive()) long_value += p.qty * books_.at(symbol).price;
  }
  const Decimal short_value = short_market_value();
  const Decimal equity = cash_ + long_value + short_value;
  const std::string bp = Decimal::max(buying_power(), Decimal()).str();
  json::object j(sp_);
  j["id"] = account_id_;
  j["account_number"] = account_number_;
  j["status"] = "ACTIVE";
  j["crypto_status"] = "ACTIVE";
  j["currency"] = "USD";
  j["buying_power"] = bp;
  j["regt_buying_power"] = bp;
  j["effective_buying_power"] = bp;
  j["non_marginable_buying_power"] = bp;
  j["options_buying_power"] = bp;
  j["cash"] = cash_.str();
  j["accrued_fees"] = "0";
  j["pending_transfer_in"] = "0";
  j["pending_transfer_out"] = "0";
  j["pending_reg_taf_fees"] = "0";
  j["intraday_adjustments"] = "0";
  j["portfolio_value"] = equity.str();
  j["equity"] = equity.str();
  j["last_equity"] = config_.cash.str();
  j["balance_asof"] = format_date(et_day_of(clock_.now()) - 1);
  j["long_market_value"] = long_value.str();
  j["short_market_value"] = short_value.str();
  j["position_market_value"] = (long_value - short_value).str();
  j["initial_margin"] = reserved_total_.str();
  j["maintenance_margin"] = "0";
  j["last_maintenance_margin"] = "0";
  j["sma"] = "0";
  j["multiplier"] = config_.shorting ? "2" : "1";
  j["shorting_enabled"] = config_.shorting;
  j["options_approved_level"] = 0;
  j["options_trading_level"] = 0;
  j["crypto_tier"] = 1;
  j["trading_blocked"] = false;
  j["transfers_blocked"] = false;
  j["account_blocked"] = false;
  j["trade_suspended_by_user"] = false;
  j["admin_configurations"] = json::object(sp_);
  j["user_configurations"] = nullptr;
  j["created_at"] = format_rfc3339(created_at_);
  return j;
}

json::object ExchangeImpl::activity_json(const Activity& a) const {
  json::object j(sp_);
  j["id"] = a.id;
  j["activity_type"] = "FILL";
  j["transaction_time"] = format_rfc3339(a.time);
  j["type"] = a.partial ? "partial_fill" : "fill";
  j["price"] = a.price.str();
  j["qty"] = a.qty.str();
  j["side"] = a.buy ? "buy" : "sell";
  j["symbol"] = a.symbol;
  j["leaves_qty"] = a.leaves_qty.str();
  j["order_id"] = a.order_id;
  j["cum_qty"] = a.cum_qty.str();
  j["order_status"] = to_string(a.order_status);
  return j;
}

json::object ExchangeImpl::asset_json(const SymbolBook& b) const {
  // Shortable and the borrow status are the asset's own (the specification's Assets schema:
  // "Asset is shortable or not"); whether the account may short at all is the account's
  // shorting_enabled, as on Alpaca, where a long-only account still reads shortable assets.
  const bool shortable = !b.crypto && b.shortable;
  const bool easy_to_borrow = !b.crypto && b.easy_to_borrow;
  json::object j(sp_);
  j["id"] = b.asset_id;
  j["class"] = b.crypto ? "crypto" : "us_equity";
  j["exchange"] = b.exchange;
  j["symbol"] = b.symbol;
  j["name"] = b.name;
  j["status"] = b.active ? "active" : "inactive";
  j["tradable"] = b.tradable;
  j["marginable"] = !b.crypto && config_.shorting;
  j["shortable"] = shortable;
  j["easy_to_borrow"] = easy_to_borrow;
  j["fractionable"] = b.fractionable;
  if (b.crypto) {
    j["min_order_size"] = b.min_order_size.str();
    j["min_trade_increment"] = b.min_trade_increment.str();
    j["price_increment"] = b.price_increment.str();
  } else {
    j["borrow_status"] = easy_to_borrow ? "easy_to_borrow" : "hard_to_borrow";
  }
  json::array attributes(sp_);
  if (!b.crypto && b.fractional_eh) attributes.emplace_back("fractional_eh_enabled");
  j["attributes"] = std::move(attributes);
  return j;
}

// While open the next close comes first, while closed the next open: the pair stays ordered
// whether the clock or a session event decided the state.
json::object ExchangeImpl::clock_json(Timestamp now) const {
  const bool open = equities_open(now);
  const Timestamp next_open =
      open ? next_regular_open(next_regular_close(now)) : next_regular_open(now);
  const Timestamp next_close = open ? next_regular_close(now) : next_regular_close(next_open);
  json::object j(sp_);
  j["timestamp"] = format_et(now);
  j["is_open"] = open;
  j["next_open"] = format_et(next_open);
  j["next_close"] = format_et(next_close);
  return j;
}

// GET /v2/calendar: one entry per weekday (the simulated market has no holidays), Alpaca's
// legacy shape; settlement is T+1 on the next weekday.
json::array ExchangeImpl::calendar_json(std::int64_t first_day, std::int64_t last_day) const {
  json::array out(sp_);
  for (std::int64_t d = first_day; d <= last_day; ++d) {
    if (!is_weekday(d)) continue;
    std::int64_t settle = d + 1;
    while (!is_weekday(settle)) ++settle;
    json::object j(sp_);
    j["date"] = format_date(d);
    j["open"] = "09:30";
    j["close"] = "16:00";
    j["session_open"] = "0400";
    j["session_close"] = "2000";
    j["settlement_date"] = format_date(settle);
    out.emplace_back(std::move(j));
  }
  return out;
}

// Alpaca's error bodies come out with their keys sorted (a Go map), as in the captured
// {"available":"0","code":40310000,"existing_qty":"37",...}; we do the same.
json::object ExchangeImpl::error_body(const ApiError& e) {
  std::map<std::string, json::value> sorted;
  for (const auto& kv : e.extra) sorted.emplace(std::string(kv.key()), kv.value());
  if (e.code != 0) sorted.emplace("code", e.code);
  sorted.emplace("message", e.message);
  json::object j;
  for (auto& [k, v] : sorted) j[k] = std::move(v);
  return j;
}

std::string ExchangeImpl::stats_json() const {
  auto to_obj = [](const std::map<std::string, std::uint64_t>& m) {
    json::object o;
    for (const auto& [k, v] : m) o[k] = v;
    return o;
  };
  json::object j;
  j["requests"] = to_obj(request_counts_);
  j["responses"] = to_obj(response_counts_);
  j["errors_by_code"] = to_obj(error_counts_);
  j["faults"] = to_obj(fault_counts_);
  j["orders"] = orders_.size();
  j["open_orders"] = open_by_time_.size();
  j["stream_queue_overflow"] = stream_overflow_;
  return json::serialize(j);
}

}  // namespace orderly::sim
