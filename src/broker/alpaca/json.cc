#include "broker/alpaca/json.h"

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <cmath>
#include <exception>
#include <system_error>

#include <fmt/format.h>

namespace orderly::alpaca {
namespace json = boost::json;
namespace {

Status malformed(std::string what) {
  return Status::error(Status::Code::corruption, "malformed JSON: " + std::move(what));
}

StatusOr<json::value> parse_value(std::string_view text) {
  try {
    std::error_code ec;
    json::value v = json::parse(json::string_view(text.data(), text.size()), ec);
    if (ec) return malformed(ec.message());
    return v;
  } catch (const std::exception& e) {  // bad_alloc or a limit: still a value, never a throw
    return malformed(e.what());
  }
}

std::string type_name(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null: return "null";
    case json::kind::bool_: return "bool";
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_: return "number";
    case json::kind::string: return "string";
    case json::kind::array: return "array";
    case json::kind::object: return "object";
  }
  return "?";
}

// A JSON number as exact decimal text. Integers are exact; a double is printed back in its
// shortest round-trip form, which equals what was sent as long as it had at most 15 significant
// digits. More than that may already have been rounded by the double, so it is refused (the
// caller sees an error instead of a silently wrong quantity).
std::optional<std::string> number_text(const json::value& v, std::string& error) {
  if (v.is_int64()) return std::to_string(v.get_int64());
  if (v.is_uint64()) return std::to_string(v.get_uint64());
  const double d = v.get_double();
  if (!std::isfinite(d)) {
    error = "not a finite number";
    return std::nullopt;
  }
  char buf[400];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::fixed);
  if (ec != std::errc()) {
    error = "number out of range";
    return std::nullopt;
  }
  std::string text(buf, end);
  int significant = 0;
  bool leading = true;
  for (char c : text) {
    if (c < '0' || c > '9') continue;
    if (leading && c == '0') continue;
    leading = false;
    ++significant;
  }
  // Trailing zeros of an integer part are not precision ("1e20" style numbers are not decimals).
  if (significant > 15) {
    error = "number " + text + " has more digits than a JSON double keeps exactly; send a string";
    return std::nullopt;
  }
  return text;
}

// Reads fields of one object, remembering the first problem, so the mapping code below reads
// like the field list of the Alpaca docs.
class Fields {
 public:
  Fields(const json::object& o, std::string context) : o_(o), context_(std::move(context)) {}

  bool ok() const { return error_.empty(); }
  Status status() const { return malformed(error_); }
  void fail(std::string_view key, std::string_view what) {
    if (error_.empty()) error_ = fmt::format("{}.{}: {}", context_, key, what);
  }

  const json::value* find(std::string_view key) const {
    auto it = o_.find(json::string_view(key.data(), key.size()));
    return it == o_.end() ? nullptr : &it->value();
  }
  bool present(std::string_view key) const {
    const auto* v = find(key);
    return v != nullptr && !v->is_null();
  }

  std::optional<std::string> opt_string(std::string_view key) {
    const auto* v = find(key);
    if (v == nullptr || v->is_null()) return std::nullopt;
    if (!v->is_string()) {
      fail(key, "expected a string, got " + type_name(*v));
      return std::nullopt;
    }
    return std::string(v->get_string());
  }
  std::string string(std::string_view key) { return require(opt_string(key), key); }
  std::string string_or_empty(std::string_view key) { return opt_string(key).value_or(""); }

  std::optional<Decimal> opt_decimal(std::string_view key) {
    const auto* v = find(key);
    if (v == nullptr || v->is_null()) return std::nullopt;
    std::string text;
    if (v->is_string()) {
      if (v->get_string().empty()) return std::nullopt;  // Alpaca's way of saying "none" too
      text = std::string(v->get_string());
    } else if (v->is_number()) {
      std::string why;
      auto t = number_text(*v, why);
      if (!t) {
        fail(key, why);
        return std::nullopt;
      }
      text = *t;
    } else {
      fail(key, "expected a decimal, got " + type_name(*v));
      return std::nullopt;
    }
    auto d = Decimal::parse(text);
    if (!d) fail(key, "invalid decimal '" + text + "'");
    return d;
  }
  Decimal decimal(std::string_view key) { return require(opt_decimal(key), key); }

  std::optional<Timestamp> opt_time(std::string_view key) {
    auto s = opt_string(key);
    if (!s || s->empty()) return std::nullopt;
    auto t = parse_rfc3339(*s);
    if (!t) fail(key, "invalid RFC3339 time '" + *s + "'");
    return t;
  }
  Timestamp time(std::string_view key) { return require(opt_time(key), key); }

  std::optional<bool> opt_bool(std::string_view key) {
    const auto* v = find(key);
    if (v == nullptr || v->is_null()) return std::nullopt;
    if (!v->is_bool()) {
      fail(key, "expected a bool, got " + type_name(*v));
      return std::nullopt;
    }
    return v->get_bool();
  }

  std::optional<std::int64_t> opt_int(std::string_view key) {
    const auto* v = find(key);
    if (v == nullptr || v->is_null()) return std::nullopt;
    if (v->is_int64()) return v->get_int64();
    if (v->is_uint64() && v->get_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
      return static_cast<std::int64_t>(v->get_uint64());
    }
    if (v->is_string()) {  // be liberal: "40310000"
      std::int64_t n = 0;
      auto sv = v->get_string();
      auto [p, ec] = std::from_chars(sv.data(), sv.data() + sv.size(), n);
      if (ec == std::errc() && p == sv.data() + sv.size()) return n;
    }
    fail(key, "expected an integer, got " + type_name(*v));
    return std::nullopt;
  }

  std::vector<std::string> string_list(std::string_view key) {
    std::vector<std::string> out;
    const auto* v = find(key);
    if (v == nullptr || v->is_null()) return out;
    if (!v->is_array()) {
      fail(key, "expected an array, got " + type_name(*v));
      return out;
    }
    for (const auto& e : v->get_array()) {
      if (!e.is_string()) {
        fail(key, "expected strings in the array");
        return {};
      }
      out.emplace_back(e.get_string());
    }
    return out;
  }

 private:
  template <typename T>
  T require(std::optional<T> v, std::string_view key) {
    if (v) return std::move(*v);
    if (ok()) fail(key, "missing");
    return T{};
  }

  const json::object& o_;
  std::string context_;
  std::string error_;
};

StatusOr<const json::object*> as_object(const json::value& v, std::string_view what) {
  if (!v.is_object()) return malformed(fmt::format("{}: expected an object, got {}", what, type_name(v)));
  return &v.get_object();
}

StatusOr<const json::array*> as_array(const json::value& v, std::string_view what) {
  if (!v.is_array()) return malformed(fmt::format("{}: expected an array, got {}", what, type_name(v)));
  return &v.get_array();
}

// The element's "id" when it has a readable one: names an unreadable element in reports.
std::string element_id(const json::value& v) {
  if (!v.is_object()) return "";
  auto it = v.get_object().find("id");
  if (it == v.get_object().end() || !it->value().is_string()) return "";
  return std::string(it->value().get_string());
}

UnreadableItem unreadable_item(std::string_view kind, const json::value& v, std::string reason) {
  UnreadableItem u;
  u.kind = std::string(kind);
  u.id = element_id(v);
  u.raw = json::serialize(v);
  if (u.raw.size() > UnreadableItem::kMaxRaw) u.raw.resize(UnreadableItem::kMaxRaw);
  u.reason = std::move(reason);
  return u;
}

using Skipped = std::vector<UnreadableItem>;

StatusOr<BrokerOrder> order_from(const json::object& o, std::string raw, int depth,
                                 Skipped* skipped);

StatusOr<BrokerOrder> order_from_value(const json::value& v, int depth, Skipped* skipped) {
  auto o = as_object(v, "order");
  if (!o.ok()) return o.status();
  return order_from(**o, json::serialize(v), depth, skipped);
}

// A leg that cannot be read is skipped: the parent order and its other legs still count.
void read_legs(const json::array& legs, int depth, BrokerOrder& r, Skipped* skipped) {
  for (const auto& leg : legs) {
    auto parsed = order_from_value(leg, depth + 1, skipped);
    if (parsed.ok()) {
      r.legs.push_back(std::move(parsed.value()));
      continue;
    }
    UnreadableItem u = unreadable_item("leg", leg, parsed.status().message());
    r.parse_notes.push_back("leg '" + u.id + "' skipped: " + u.reason);
    if (skipped != nullptr) skipped->push_back(std::move(u));
  }
}

StatusOr<BrokerOrder> order_from(const json::object& o, std::string raw, int depth,
                                 Skipped* skipped) {
  if (depth > 4) return malformed("order legs nested too deeply");
  Fields f(o, "order");
  BrokerOrder r;
  r.id = f.string("id");
  r.client_order_id = f.string_or_empty("client_order_id");
  r.symbol = f.string_or_empty("symbol");  // null or "" for multi-leg option orders
  // A multi-leg (mleg) option order has side "": its legs carry the sides. Any other value we do
  // not know makes the order unreadable rather than guessed.
  const std::string side = f.string_or_empty("side");
  if (side.empty()) {
    r.parse_notes.push_back("no side (sides are on the legs)");
  } else if (auto s = parse_side(side)) {
    r.side = *s;
  } else {
    f.fail("side", "unknown side '" + side + "'");
  }
  // `order_type` is the deprecated twin of `type`; either may be the one present.
  auto type = f.opt_string("type");
  if (!type) type = f.opt_string("order_type");
  if (type) {
    if (auto t = parse_order_type(*type)) {
      r.type = *t;
    } else {
      r.parse_notes.push_back("unknown type '" + *type + "'");
    }
  }
  if (auto tif = f.opt_string("time_in_force")) {
    if (auto t = parse_time_in_force(*tif)) {
      r.tif = *t;
    } else {
      r.parse_notes.push_back("unknown time_in_force '" + *tif + "'");
    }
  }
  if (auto cls = f.opt_string("order_class"); cls && !cls->empty()) {
    if (auto c = parse_order_class(*cls)) {
      r.order_class = *c;
    } else {
      r.parse_notes.push_back("unknown order_class '" + *cls + "'");
    }
  }
  r.qty = f.opt_decimal("qty");
  r.notional = f.opt_decimal("notional");
  r.filled_qty = f.opt_decimal("filled_qty").value_or(Decimal());
  r.filled_avg_price = f.opt_decimal("filled_avg_price");
  r.limit_price = f.opt_decimal("limit_price");
  r.stop_price = f.opt_decimal("stop_price");
  r.trail_price = f.opt_decimal("trail_price");
  r.trail_percent = f.opt_decimal("trail_percent");
  r.hwm = f.opt_decimal("hwm");
  r.status_text = f.string("status");
  r.status = parse_order_state(r.status_text);
  if (r.status && is_local(*r.status)) r.status.reset();  // "created" etc. are ours, not Alpaca's
  r.created_at = f.time("created_at");
  r.updated_at = f.opt_time("updated_at").value_or(r.created_at);
  r.submitted_at = f.opt_time("submitted_at");
  r.filled_at = f.opt_time("filled_at");
  r.expired_at = f.opt_time("expired_at");
  r.canceled_at = f.opt_time("canceled_at");
  r.failed_at = f.opt_time("failed_at");
  r.replaced_at = f.opt_time("replaced_at");
  r.replaced_by = f.opt_string("replaced_by");
  r.replaces = f.opt_string("replaces");
  r.extended_hours = f.opt_bool("extended_hours").value_or(false);
  r.asset_id = f.string_or_empty("asset_id");
  r.asset_class = f.string_or_empty("asset_class");
  r.position_intent = f.string_or_empty("position_intent");
  if (!f.ok()) return f.status();
  if (r.id.empty()) return malformed("order.id: empty");
  if (const auto* legs = f.find("legs"); legs != nullptr && !legs->is_null()) {
    auto arr = as_array(*legs, "order.legs");
    if (!arr.ok()) return arr.status();
    read_legs(**arr, depth, r, skipped);
  }
  r.raw = std::move(raw);
  return r;
}

StatusOr<BrokerPosition> position_from(const json::object& o, std::string raw) {
  Fields f(o, "position");
  BrokerPosition p;
  p.symbol = f.string("symbol");
  p.qty = f.decimal("qty");
  // qty_available was added later than qty; without it nothing is known to be held.
  p.qty_available = f.opt_decimal("qty_available").value_or(p.qty);
  p.avg_entry_price = f.opt_decimal("avg_entry_price").value_or(Decimal());
  p.current_price = f.opt_decimal("current_price");
  if (!f.ok()) return f.status();
  // Alpaca names a crypto position without the slash its orders carry ("BTCUSD" for BTC/USD,
  // the specification's crypto position example): the USD pairs orderly trades are named as
  // their orders are, so the engine finds the position of its BTC/USD trades.
  if (f.string_or_empty("asset_class") == "crypto" && p.symbol.size() > 3 &&
      p.symbol.find('/') == std::string::npos && p.symbol.ends_with("USD")) {
    p.symbol.insert(p.symbol.size() - 3, "/");
  }
  // Short positions: Alpaca documents a negative qty, but make sure a "short" side is negative.
  if (f.string_or_empty("side") == "short" && p.qty.is_positive()) {
    p.qty = -p.qty;
    if (p.qty_available.is_positive()) p.qty_available = -p.qty_available;
  }
  p.raw = std::move(raw);
  return p;
}

StatusOr<FillActivity> activity_from(const json::object& o, std::string raw) {
  Fields f(o, "activity");
  FillActivity a;
  a.id = f.string("id");
  a.order_id = f.string("order_id");
  a.symbol = f.string("symbol");
  const std::string side = f.string("side");
  if (f.ok()) {
    // Short sales show up as "sell_short" in activities.
    if (side == "sell_short") {
      a.side = Side::sell;
    } else if (auto s = parse_side(side)) {
      a.side = *s;
    } else {
      f.fail("side", "unknown side '" + side + "'");
    }
  }
  a.qty = f.decimal("qty");
  a.price = f.decimal("price");
  a.cum_qty = f.opt_decimal("cum_qty").value_or(Decimal());
  a.leaves_qty = f.opt_decimal("leaves_qty").value_or(Decimal());
  if (auto st = f.opt_string("order_status")) a.order_status = parse_order_state(*st);
  a.partial = f.string_or_empty("type") == "partial_fill";
  a.transaction_time = f.time("transaction_time");
  if (!f.ok()) return f.status();
  a.raw = std::move(raw);
  return a;
}

// Reads an array element by element: `from(object, raw, skipped)` maps one element; one that
// cannot be read is skipped and reported as `kind`, and the rest is still read.
template <typename T, typename Fn>
StatusOr<Listing<T>> listing_of(std::string_view text, std::string_view kind, Fn from) {
  auto v = parse_value(text);
  if (!v.ok()) return v.status();
  auto arr = as_array(*v, std::string(kind) + " list");
  if (!arr.ok()) return arr.status();
  Listing<T> out;
  out.items.reserve((*arr)->size());
  out.elements = (*arr)->size();
  for (const auto& e : **arr) {
    if (!e.is_object()) {
      out.unreadable.push_back(unreadable_item(kind, e, "expected an object, got " + type_name(e)));
      continue;
    }
    auto item = from(e.get_object(), json::serialize(e), &out.unreadable);
    if (item.ok()) {
      out.items.push_back(std::move(item.value()));
    } else {
      out.unreadable.push_back(unreadable_item(kind, e, item.status().message()));
    }
  }
  if (!(*arr)->empty()) out.last_id = element_id((*arr)->back());
  return out;
}

// An array where a skipped element would mislead the caller (cancel results): all or nothing.
template <typename T, typename Fn>
StatusOr<std::vector<T>> list_of(std::string_view text, std::string_view what, Fn from) {
  auto listing = listing_of<T>(text, what, [&](const json::object& o, std::string raw, Skipped*) {
    return from(o, std::move(raw));
  });
  if (!listing.ok()) return listing.status();
  if (!listing->unreadable.empty()) {
    return Status::error(Status::Code::corruption, listing->unreadable.front().reason);
  }
  return std::move(listing->items);
}

template <typename T, typename Fn>
StatusOr<T> one_of(std::string_view text, std::string_view what, Fn from) {
  auto v = parse_value(text);
  if (!v.ok()) return v.status();
  auto o = as_object(*v, what);
  if (!o.ok()) return o.status();
  return from(**o, std::string(text));
}

}  // namespace

StatusOr<BrokerOrder> parse_order(std::string_view text, std::vector<UnreadableItem>* unreadable) {
  return one_of<BrokerOrder>(text, "order", [unreadable](const json::object& o, std::string raw) {
    return order_from(o, std::move(raw), 0, unreadable);
  });
}

StatusOr<Listing<BrokerOrder>> parse_orders(std::string_view text) {
  return listing_of<BrokerOrder>(text, "order",
                                 [](const json::object& o, std::string raw, Skipped* skipped) {
                                   return order_from(o, std::move(raw), 0, skipped);
                                 });
}

StatusOr<BrokerPosition> parse_position(std::string_view text) {
  return one_of<BrokerPosition>(text, "position", position_from);
}

StatusOr<Listing<BrokerPosition>> parse_positions(std::string_view text) {
  return listing_of<BrokerPosition>(
      text, "position",
      [](const json::object& o, std::string raw, Skipped*) {
        return position_from(o, std::move(raw));
      });
}

StatusOr<Account> parse_account(std::string_view text) {
  return one_of<Account>(text, "account", [](const json::object& o, std::string raw) -> StatusOr<Account> {
    Fields f(o, "account");
    Account a;
    a.id = f.string("id");
    a.status = f.string_or_empty("status");
    a.cash = f.decimal("cash");
    a.buying_power = f.decimal("buying_power");
    a.equity = f.opt_decimal("equity").value_or(Decimal());
    a.trading_blocked = f.opt_bool("trading_blocked").value_or(false) ||
                        f.opt_bool("account_blocked").value_or(false);
    a.shorting_enabled = f.opt_bool("shorting_enabled");
    a.pattern_day_trader = f.opt_bool("pattern_day_trader");
    a.daytrade_count = f.opt_int("daytrade_count");
    if (!f.ok()) return f.status();
    a.raw = std::move(raw);
    return a;
  });
}

StatusOr<Listing<FillActivity>> parse_fill_activities(std::string_view text) {
  return listing_of<FillActivity>(
      text, "activity",
      [](const json::object& o, std::string raw, Skipped*) {
        return activity_from(o, std::move(raw));
      });
}

StatusOr<MarketClock> parse_clock(std::string_view text) {
  return one_of<MarketClock>(text, "clock", [](const json::object& o, std::string) -> StatusOr<MarketClock> {
    Fields f(o, "clock");
    MarketClock c;
    c.timestamp = f.time("timestamp");
    c.is_open = f.opt_bool("is_open").value_or(false);
    c.next_open = f.time("next_open");
    c.next_close = f.time("next_close");
    if (!f.ok()) return f.status();
    return c;
  });
}

namespace {

StatusOr<AssetRules> asset_from(const json::object& o, std::string) {
  Fields f(o, "asset");
  AssetRules a;
  a.symbol = f.string("symbol");
  a.asset_class = f.string_or_empty("class");
  a.status = f.string_or_empty("status");
  a.tradable = f.opt_bool("tradable").value_or(false);
  // Required by the specification: one missing is not taken as a refusal (the broker judges).
  a.fractionable = f.opt_bool("fractionable").value_or(true);
  a.shortable = f.opt_bool("shortable").value_or(true);
  a.borrow_status = f.string_or_empty("borrow_status");
  if (a.borrow_status.empty()) {
    if (auto etb = f.opt_bool("easy_to_borrow")) {
      a.borrow_status = *etb ? "easy_to_borrow" : "hard_to_borrow";
    }
  }
  if (const json::value* attrs = o.if_contains("attributes"); attrs && attrs->is_array()) {
    const json::array& list = attrs->get_array();
    a.fractional_eh = std::find(list.begin(), list.end(), json::value("fractional_eh_enabled")) !=
                      list.end();
  }
  a.min_order_size = f.opt_decimal("min_order_size");
  a.min_trade_increment = f.opt_decimal("min_trade_increment");
  a.price_increment = f.opt_decimal("price_increment");
  if (!f.ok()) return f.status();
  return a;
}

}  // namespace

StatusOr<AssetRules> parse_asset(std::string_view text) {
  return one_of<AssetRules>(text, "asset", asset_from);
}

StatusOr<std::vector<AssetRules>> parse_assets(std::string_view text) {
  auto listing = listing_of<AssetRules>(
      text, "asset",
      [](const json::object& o, std::string raw, Skipped*) { return asset_from(o, raw); });
  if (!listing.ok()) return listing.status();
  return std::move(listing->items);
}

StatusOr<std::vector<CancelResult>> parse_cancel_all(std::string_view text) {
  return list_of<CancelResult>(text, "cancel results", [](const json::object& o, std::string) -> StatusOr<CancelResult> {
    Fields f(o, "cancel result");
    CancelResult c;
    c.order_id = f.string("id");
    c.http_status = static_cast<int>(f.opt_int("status").value_or(0));
    if (const auto* body = f.find("body"); body != nullptr && !body->is_null()) {
      c.body = json::serialize(*body);
    }
    if (!f.ok()) return f.status();
    return c;
  });
}

StatusOr<ErrorBody> parse_error_body(std::string_view text) {
  return one_of<ErrorBody>(text, "error", [](const json::object& o, std::string) -> StatusOr<ErrorBody> {
    Fields f(o, "error");
    ErrorBody e;
    e.code = f.opt_int("code").value_or(0);
    e.message = f.string_or_empty("message");
    e.existing_order_id = f.opt_string("existing_order_id");
    e.reject_reason = f.opt_string("reject_reason");
    // The insufficient-qty body is recognised by its fields, not its wording: the other 40310000
    // refusals (buying power, short, wash trade) do not carry held_for_orders.
    if (f.present("held_for_orders") || f.present("existing_qty")) {
      InsufficientQty q;
      q.symbol = f.string_or_empty("symbol");
      q.existing_qty = f.opt_decimal("existing_qty").value_or(Decimal());
      q.held_for_orders = f.opt_decimal("held_for_orders").value_or(Decimal());
      q.available = f.opt_decimal("available").value_or(q.existing_qty - q.held_for_orders);
      q.related_orders = f.string_list("related_orders");  // omitted when nothing is held
      e.insufficient_qty = std::move(q);
    }
    if (!f.ok()) return f.status();
    return e;
  });
}

StatusOr<StreamMessage> parse_stream_message(std::string_view text) {
  auto v = parse_value(text);
  if (!v.ok()) return v.status();
  auto top = as_object(*v, "stream message");
  if (!top.ok()) return top.status();
  Fields f(**top, "message");
  const std::string stream = f.string("stream");
  if (!f.ok()) return f.status();
  const json::value* data = f.find("data");
  if (data == nullptr || !data->is_object()) return malformed("message.data: expected an object");
  const json::object& d = data->get_object();
  Fields df(d, "data");

  if (stream == "trade_updates") {
    TradeUpdate u;
    u.event = df.string("event");
    u.execution_id = df.opt_string("execution_id");
    u.price = df.opt_decimal("price");
    u.qty = df.opt_decimal("qty");
    u.position_qty = df.opt_decimal("position_qty");
    auto ts = df.opt_time("timestamp");
    if (!df.ok()) return df.status();
    const json::value* order = df.find("order");
    if (order == nullptr || order->is_null()) return malformed("data.order: missing");
    auto parsed = order_from_value(*order, 0, nullptr);  // unreadable legs: in parse_notes
    if (!parsed.ok()) return parsed.status();
    u.order = std::move(parsed.value());
    u.timestamp = ts.value_or(u.order.updated_at);
    u.raw = std::string(text);
    return StreamMessage(std::move(u));
  }

  StreamControl c;
  c.stream = stream;
  if (stream == "authorization") {
    const std::string status = df.string_or_empty("status");
    c.kind = status == "authorized" ? StreamControl::Kind::authorized
                                    : StreamControl::Kind::unauthorized;
    c.message = df.string_or_empty("message");
    if (c.message.empty() && c.kind == StreamControl::Kind::unauthorized) {
      c.message = "status '" + status + "' for action '" + df.string_or_empty("action") + "'";
    }
  } else if (stream == "listening") {
    c.kind = StreamControl::Kind::listening;
    c.streams = df.string_list("streams");
  }
  if (!df.ok()) return df.status();
  return StreamMessage(std::move(c));
}

std::string authenticate_message(std::string_view key_id, std::string_view secret_key) {
  json::object data;
  data["key_id"] = json::string_view(key_id.data(), key_id.size());
  data["secret_key"] = json::string_view(secret_key.data(), secret_key.size());
  json::object msg;
  msg["action"] = "authenticate";
  msg["data"] = std::move(data);
  return json::serialize(msg);
}

std::string listen_message() {
  return R"({"action":"listen","data":{"streams":["trade_updates"]}})";
}

namespace {
json::string dec(Decimal d) { return json::string(d.str()); }
}  // namespace

std::string serialize_order_request(const OrderRequest& r) {
  json::object o;
  o["symbol"] = r.symbol;
  // Alpaca takes exactly one of qty and notional.
  if (r.notional) {
    o["notional"] = dec(*r.notional);
  } else {
    o["qty"] = dec(r.qty);
  }
  o["side"] = std::string(to_string(r.side));
  o["type"] = std::string(to_string(r.type));
  o["time_in_force"] = std::string(to_string(r.tif));
  if (r.limit_price) o["limit_price"] = dec(*r.limit_price);
  if (r.stop_price) o["stop_price"] = dec(*r.stop_price);
  if (r.trail_price) o["trail_price"] = dec(*r.trail_price);
  if (r.trail_percent) o["trail_percent"] = dec(*r.trail_percent);
  if (!r.client_order_id.empty()) o["client_order_id"] = r.client_order_id;
  if (r.extended_hours) o["extended_hours"] = true;
  if (r.order_class != OrderClass::simple) {
    o["order_class"] = std::string(to_string(r.order_class));
    if (r.take_profit_limit_price) {
      json::object tp;
      tp["limit_price"] = dec(*r.take_profit_limit_price);
      o["take_profit"] = std::move(tp);
    }
    if (r.stop_loss_stop_price || r.stop_loss_limit_price) {
      json::object sl;
      if (r.stop_loss_stop_price) sl["stop_price"] = dec(*r.stop_loss_stop_price);
      if (r.stop_loss_limit_price) sl["limit_price"] = dec(*r.stop_loss_limit_price);
      o["stop_loss"] = std::move(sl);
    }
  }
  return json::serialize(o);
}

std::string serialize_replace_request(const ReplaceRequest& r) {
  json::object o;
  if (r.qty) o["qty"] = dec(*r.qty);
  if (r.limit_price) o["limit_price"] = dec(*r.limit_price);
  if (r.stop_price) o["stop_price"] = dec(*r.stop_price);
  if (r.trail) o["trail"] = dec(*r.trail);
  if (r.tif) o["time_in_force"] = std::string(to_string(*r.tif));
  if (r.client_order_id) o["client_order_id"] = *r.client_order_id;
  return json::serialize(o);
}

}  // namespace orderly::alpaca
