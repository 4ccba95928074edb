// Orders, holds, buying power, matching, fills, groups and positions of the simulated exchange.
#include <algorithm>
#include <unordered_map>

#include "sim/exchange_impl.h"
#include "sim/universe.h"

namespace orderly::sim {
namespace {

// Alpaca values a market buy 2.5-4% above the last price for buying power; we use 3%.
const Decimal kMarketCollarPercent = Decimal::from_int(3);
const Decimal kOneCent = Decimal::must("0.01");
const Decimal kQtyIncrement = Decimal::must("0.000000001");  // Alpaca: at most 9 decimals

std::uint64_t fnv1a(std::string_view s) {
  std::uint64_t h = 1469598103934665603ull;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h;
}

// Asset ids do not depend on the seed: the same symbol has the same id in every run.
std::string asset_id_for(std::string_view symbol) { return Rng(fnv1a(symbol)).uuid(); }

ApiError err(int http, std::int64_t code, std::string message) {
  return ApiError{http, code, std::move(message), {}};
}

std::string state_error(St s) {
  return "order is already in \"" + std::string(to_string(s)) + "\" state";
}

}  // namespace

std::string_view to_string(St s) {
  switch (s) {
    case St::accepted: return "accepted";
    case St::pending_new: return "pending_new";
    case St::new_: return "new";
    case St::partially_filled: return "partially_filled";
    case St::filled: return "filled";
    case St::canceled: return "canceled";
    case St::expired: return "expired";
    case St::rejected: return "rejected";
    case St::replaced: return "replaced";
    case St::pending_cancel: return "pending_cancel";
    case St::pending_replace: return "pending_replace";
    case St::held: return "held";
  }
  return "new";
}

bool is_terminal(St s) {
  return s == St::filled || s == St::canceled || s == St::expired || s == St::rejected ||
         s == St::replaced;
}

std::string_view to_string(OType t) {
  switch (t) {
    case OType::market: return "market";
    case OType::limit: return "limit";
    case OType::stop: return "stop";
    case OType::stop_limit: return "stop_limit";
    case OType::trailing_stop: return "trailing_stop";
  }
  return "market";
}

ExchangeImpl::ExchangeImpl(const SimConfig& config, const Clock& clock)
    : config_(config),
      clock_(clock),
      id_rng_(config.seed),
      price_rng_(config.seed ^ 0x5052494345ull),
      fill_rng_(config.seed ^ 0x46494c4cull),
      fault_rng_(config.seed ^ 0x4641554c54ull),
      created_at_(clock.now()),
      cash_(config.cash) {
  account_id_ = id_rng_.uuid();
  account_number_ = "PA" + std::to_string(100000000 + id_rng_.below(900000000));
  for (const ListedSymbol& s : builtin_universe()) {
    add_book(s.symbol, Decimal::must(s.price), s.exchange, s.name, false);
  }
  for (const ListedSymbol& s : builtin_crypto()) {
    add_book(s.symbol, Decimal::must(s.price), s.exchange, s.name, true);
  }
}

void ExchangeImpl::add_book(std::string_view symbol, Decimal price, std::string_view exchange,
                            std::string_view name, bool crypto) {
  SymbolBook b;
  b.symbol = std::string(symbol);
  b.asset_id = asset_id_for(symbol);
  b.exchange = std::string(exchange);
  b.name = std::string(name);
  b.price = price;
  b.lastday_price = price;
  b.crypto = crypto;
  for (const CryptoSizes& c : builtin_crypto_sizes()) {
    if (!crypto || c.symbol != symbol) continue;
    b.min_order_size = Decimal::must(c.min_order_size);
    b.min_trade_increment = Decimal::must(c.min_trade_increment);
    b.price_increment = Decimal::must(c.price_increment);
  }
  if (auto it = config_.crypto_price_increments.find(b.symbol);
      crypto && it != config_.crypto_price_increments.end()) {
    b.price_increment = it->second;
  }
  books_.emplace(b.symbol, std::move(b));
}

SimOrder* ExchangeImpl::find_order(std::string_view id) {
  auto it = orders_.find(std::string(id));
  return it == orders_.end() ? nullptr : it->second.get();
}

SimOrder* ExchangeImpl::find_by_client_id(std::string_view cid) {
  auto it = by_client_id_.find(std::string(cid));
  return it == by_client_id_.end() ? nullptr : it->second;
}

SymbolBook* ExchangeImpl::book(std::string_view symbol) {
  auto it = books_.find(symbol);
  return it == books_.end() ? nullptr : &it->second;
}

const Position* ExchangeImpl::position(std::string_view symbol) const {
  auto it = positions_.find(symbol);
  return it == positions_.end() ? nullptr : &it->second;
}

// ---------------------------------------------------------------------------------------------
// Holds. Every open sell holds its remaining qty; orders sharing a hold root (the legs of one
// bracket or OCO, an order and its pending replacement) hold once, at the largest remainder.
// Bracket/OTO legs hold nothing until their entry has filled: the shares do not exist yet.
Decimal ExchangeImpl::held_for_orders(const SymbolBook& b, std::vector<std::string>* related,
                                      std::string_view exclude_root, bool sells) const {
  struct Group {
    std::string_view root;
    Decimal held;
    const SimOrder* first;
  };
  std::vector<Group> groups;
  for (const auto& [seq, o] : sells ? b.open_sells : b.open_buys) {
    if (o->opening) continue;  // an order opening the other side holds nothing of this position
    if (!o->parent_id.empty() && o->cls != OClass::oco) {
      auto it = orders_.find(o->parent_id);
      if (it != orders_.end() && it->second->status != St::filled) continue;
    }
    if (!exclude_root.empty() && o->hold_root == exclude_root) continue;
    const Decimal rem = o->remaining();
    auto g = std::find_if(groups.begin(), groups.end(),
                          [&](const Group& x) { return x.root == o->hold_root; });
    if (g == groups.end()) {
      groups.push_back({o->hold_root, rem, o});
    } else {
      g->held = Decimal::max(g->held, rem);
    }
  }
  Decimal total;
  for (const Group& g : groups) {
    total += g.held;
    if (related) related->push_back(g.first->id);
  }
  return total;
}

// A closing order (a sell of a long, a buy covering a short) may not exceed what the open closing
// orders leave of the position: one order never flips long to short or back.
std::optional<ApiError> ExchangeImpl::check_closing_qty(const SymbolBook& b, bool buy,
                                                        Decimal existing, Decimal qty,
                                                        std::string_view exclude_root) const {
  const Decimal held_others = held_for_orders(b, nullptr, exclude_root, !buy);
  if (qty <= existing - held_others) return std::nullopt;
  // Alpaca's body reports every hold, including the order being replaced (Alpaca-API #282).
  std::vector<std::string> related;
  const Decimal held = held_for_orders(b, &related, {}, !buy);
  const Decimal available = Decimal::max(existing - held, Decimal());
  ApiError e = err(403, 40310000,
                   "insufficient qty available for order (requested: " + qty.str() +
                       ", available: " + available.str() + ")");
  e.extra["available"] = available.str();
  e.extra["existing_qty"] = existing.str();
  e.extra["held_for_orders"] = held.str();
  if (held.is_positive()) {
    json::array ids;
    for (auto& id : related) ids.emplace_back(id);
    e.extra["related_orders"] = std::move(ids);
  }
  e.extra["symbol"] = b.symbol;
  return e;
}

// The order against the position: a closing order within the position, else an opening one. A
// sell without a long opens (or adds to) a short: allowed on an easy-to-borrow equity when the
// account may short, never fractional, never crypto (Alpaca does not lend coins).
std::optional<ApiError> ExchangeImpl::check_side(const SymbolBook& b, const OrderRequest& req,
                                                 std::string_view exclude_root,
                                                 bool& opening) const {
  const Position* p = position(b.symbol);
  const Decimal existing = p ? p->qty : Decimal();
  const bool closing = req.buy ? existing.is_negative() : existing.is_positive();
  opening = !closing;
  if (closing) return check_closing_qty(b, req.buy, existing.abs(), *req.qty, exclude_root);
  if (req.buy) return std::nullopt;
  if (b.crypto) return check_closing_qty(b, false, Decimal(), *req.qty, exclude_root);
  if (!config_.shorting) return err(403, 40310000, "account is not allowed to short");
  // A hard-to-borrow asset is shorted at Alpaca only against a locate; the simulator takes none.
  if (!b.shortable || !b.easy_to_borrow) {
    return err(422, 42210000, "asset \"" + b.symbol + "\" cannot be sold short");
  }
  if (!req.qty->is_integer()) return err(403, 40310000, "fractional orders cannot be sold short");
  return std::nullopt;
}

// Alpaca cannot tell which way a position is meant to go while an order opening the other way
// is open (alpaca_zorro_plugin #12): a long buy waits for the short sell, and the reverse.
std::optional<ApiError> ExchangeImpl::opposite_opening_order(const SymbolBook& b,
                                                             const OrderRequest& req) const {
  for (const auto& [seq, o] : req.buy ? b.open_sells : b.open_buys) {
    if (!o->opening || o->role != Role::main) continue;
    return err(403, 40310000, req.buy ? "cannot open a long buy while a short sell order is open"
                                      : "cannot open a short sell while a long buy order is open");
  }
  return std::nullopt;
}

// `extra`: buying power the order gives back when it goes (a replaced order's own reservation).
std::optional<ApiError> ExchangeImpl::check_buying_power(const SymbolBook& b,
                                                         const OrderRequest& req,
                                                         Decimal extra) const {
  const Decimal cost = cost_of(b, req);
  const Decimal bp = buying_power() + extra;
  if (cost <= bp) return std::nullopt;
  ApiError e = err(403, 40310000, "insufficient buying power");
  e.extra["buying_power"] = Decimal::max(bp, Decimal()).str();
  e.extra["cost_basis"] = cost.str();
  return e;
}

Decimal ExchangeImpl::short_market_value() const {
  Decimal total;
  for (const auto& [symbol, p] : positions_) {
    if (p.qty.is_negative()) total += p.qty * books_.at(symbol).price;
  }
  return total;
}

// Cash, less what open opening orders reserve, less the short exposure (the proceeds of a short
// sale sit in cash but are owed): a short consumes buying power as a buy of the same size does.
Decimal ExchangeImpl::buying_power() const {
  return cash_ + short_market_value() + short_market_value() - reserved_total_;
}

std::string ExchangeImpl::resolve_symbol(std::string_view symbol) const {
  if (books_.count(symbol) || symbol.size() <= 3 || symbol.find('/') != std::string_view::npos ||
      !symbol.ends_with("USD")) {
    return std::string(symbol);
  }
  std::string pair = std::string(symbol.substr(0, symbol.size() - 3)) + "/USD";
  auto it = books_.find(pair);
  return it != books_.end() && it->second.crypto ? pair : std::string(symbol);
}

// §5: a simple order is refused when an opposite-side open order of the account could cross it:
// a new market/stop order against any opposite order, a new limit (a stop-limit by its limit)
// against an opposite limit at a crossing price (buy limit >= sell limit). A new limit next to an
// opposite stop is accepted. Complex orders (bracket, OCO, OTO) and trailing stops are exempt.
// Held legs count once their group is live (the entry filled; an OCO at once).
std::optional<ApiError> ExchangeImpl::wash_trade_check(const SymbolBook& b,
                                                       const OrderRequest& req) const {
  if (req.cls != OClass::simple || req.type == OType::trailing_stop) return std::nullopt;
  const auto& opposite = req.buy ? b.open_sells : b.open_buys;
  const bool new_market_or_stop = req.type == OType::market || req.type == OType::stop;
  for (const auto& [seq, o] : opposite) {
    if (o->status == St::held && !group_live(*o)) continue;
    const bool old_has_limit = o->type == OType::limit || o->type == OType::stop_limit;
    if (!new_market_or_stop) {
      if (!old_has_limit) continue;
      const Decimal buy_limit = req.buy ? *req.limit_price : *o->limit_price;
      const Decimal sell_limit = req.buy ? *o->limit_price : *req.limit_price;
      if (buy_limit < sell_limit) continue;
    }
    ApiError e = err(403, 40310000, "potential wash trade detected. use complex orders");
    e.extra["existing_order_id"] = o->id;
    e.extra["reject_reason"] = old_has_limit ? "opposite side limit order exists"
                                             : "opposite side market/stop order exists";
    return e;
  }
  return std::nullopt;
}

// A held leg is live once its entry has filled completely (an OCO's legs are live at once).
bool ExchangeImpl::group_live(const SimOrder& leg) const {
  if (leg.parent_id.empty() || leg.cls == OClass::oco) return true;
  auto it = orders_.find(leg.parent_id);
  return it == orders_.end() || it->second->status == St::filled;
}

Decimal ExchangeImpl::cost_of(const SymbolBook& b, const OrderRequest& req) const {
  if (req.notional) return *req.notional;
  Decimal unit;
  switch (req.type) {
    case OType::limit:
    case OType::stop_limit: unit = *req.limit_price; break;
    case OType::stop:
      unit = req.stop_price->add_percent(kMarketCollarPercent).value_or(unit);
      break;
    case OType::market:
    case OType::trailing_stop:
      unit = b.price.add_percent(kMarketCollarPercent).value_or(unit);
      break;
  }
  if (!req.buy) {
    // An opening short: MAX(limit price, 3% above the market) (Alpaca's buying power rules).
    unit = Decimal::max(unit, b.price.add_percent(kMarketCollarPercent).value_or(unit));
  }
  unit = unit.round_to(kOneCent, Rounding::up);
  // An absurd qty overflows: report it as a cost no account can afford.
  return req.qty->checked_mul(unit).value_or(Decimal::largest());
}

void ExchangeImpl::index_open(SimOrder& o) {
  open_by_time_.emplace(std::make_pair(o.submitted_at.ns, o.seq), &o);
  SymbolBook& b = books_.at(o.symbol);
  (o.buy ? b.open_buys : b.open_sells).emplace(o.seq, &o);
}

void ExchangeImpl::unindex_open(SimOrder& o) {
  open_by_time_.erase(std::make_pair(o.submitted_at.ns, o.seq));
  SymbolBook& b = books_.at(o.symbol);
  (o.buy ? b.open_buys : b.open_sells).erase(o.seq);
}

void ExchangeImpl::update_reservation(SimOrder& o) {
  Decimal want;
  if (o.opening && o.open()) {
    if (o.notional) {
      want = Decimal::max(*o.notional - o.filled_value, Decimal());
    } else {
      want = o.remaining().checked_mul(o.reserve_unit).value_or(Decimal());
    }
    // A held leg reserves nothing: its entry already paid (bracket) or holds the shares (OCO).
    if (o.role != Role::main) want = Decimal();
  }
  reserved_total_ += want - o.reserved;
  o.reserved = want;
}

void ExchangeImpl::set_status(SimOrder& o, St s, Timestamp now) {
  const bool was_open = o.open();
  o.status = s;
  o.updated_at = now;
  if (was_open && !o.open()) unindex_open(o);
  switch (s) {
    case St::filled: o.filled_at = now; break;
    case St::canceled: o.canceled_at = now; break;
    case St::expired: o.expired_at = now; break;
    case St::rejected: o.failed_at = now; break;
    case St::replaced: o.replaced_at = now; break;
    default: break;
  }
  update_reservation(o);
}

void ExchangeImpl::finish(SimOrder& o, St s, Timestamp now, std::string_view event) {
  set_status(o, s, now);
  emit(o, event, now);
}

SimOrder* ExchangeImpl::create_order(const OrderRequest& req, SymbolBook& b, Role role,
                                     OType type, bool buy, std::optional<Decimal> limit,
                                     std::optional<Decimal> stop, St status) {
  const Timestamp now = clock_.now();
  auto owned = std::make_unique<SimOrder>();
  SimOrder& o = *owned;
  o.seq = next_seq_++;
  o.id = id_rng_.uuid();
  o.client_order_id = !req.client_order_id.empty() ? req.client_order_id : id_rng_.uuid();
  o.symbol = b.symbol;
  o.buy = buy;
  o.type = type;
  o.cls = req.cls;
  o.role = role;
  o.tif = req.tif;
  o.qty = req.qty;
  if (role == Role::main) o.notional = req.notional;
  o.limit_price = limit;
  o.stop_price = stop;
  if (role == Role::main) {
    o.trail_price = req.trail_price;
    o.trail_percent = req.trail_percent;
  }
  o.status = status;
  o.created_at = o.updated_at = o.submitted_at = now;
  o.hold_root = o.id;
  o.extended_hours = role == Role::main && req.extended_hours;
  o.crypto = b.crypto;
  o.opening = role == Role::main && req.opening;
  o.position_intent = role == Role::main && !req.position_intent.empty()
                          ? req.position_intent
                          : std::string(buy ? (o.opening ? "buy_to_open" : "buy_to_close")
                                            : (o.opening ? "sell_to_open" : "sell_to_close"));
  if (o.opening) {
    OrderRequest unit_req = req;
    unit_req.qty = Decimal::from_int(1);
    unit_req.notional.reset();
    o.reserve_unit = req.notional ? Decimal() : cost_of(b, unit_req);
  }
  orders_.emplace(o.id, std::move(owned));
  by_client_id_.emplace(o.client_order_id, &o);
  all_by_time_.emplace(std::make_pair(o.submitted_at.ns, o.seq), &o);
  index_open(o);
  update_reservation(o);
  return &o;
}

// Fractional quantities and notional amounts (probed on paper, 2026-09: every refusal 42210000):
// time in force day first, then a simple order; market, limit, stop and stop-limit orders take
// them (Alpaca added fractional stop and stop-limit orders in 2024); notional stays market-only
// as the current specification says.
static std::optional<ApiError> check_fractional(const OrderRequest& req) {
  const bool fractional = req.notional || (req.qty && !req.qty->is_integer());
  if (!fractional) return std::nullopt;
  if (req.tif != "day") return err(422, 42210000, "fractional orders must be DAY orders");
  if (req.cls != OClass::simple)
    return err(422, 42210000, "fractional orders must be simple orders");
  if (req.type == OType::trailing_stop) {
    return err(422, 42210000, "fractional orders must be market, limit, stop or stop_limit orders");
  }
  if (req.notional && req.type != OType::market) {
    return err(422, 42210000, "notional orders must be market orders");
  }
  return std::nullopt;
}

// An equity order against its asset's flags (users' logs of Alpaca's answers, 2026): a
// fractional qty or a notional on an asset that is not fractionable, 403 40310000 (some logs
// show 422 42210000); a notional under 1.00, 422 42210000; on a hard-to-borrow asset any order
// but a day order, 422 42210000 (gtc stops and take-profits of a long refused alike).
static std::optional<ApiError> check_equity_asset(const SymbolBook& b, const OrderRequest& req) {
  const bool fractional = req.notional || (req.qty && !req.qty->is_integer());
  if (fractional && !b.fractionable) {
    return err(403, 40310000, "asset \"" + b.symbol + "\" is not fractionable");
  }
  if (req.notional && *req.notional < Decimal::from_int(1)) {
    return err(422, 42210000, "notional amount must be >= 1.00");
  }
  // Alpaca's answer to a fractional extended-hours order of an asset without the attribute is
  // not on record: the wording is the simulator's.
  if (fractional && req.extended_hours && !b.fractional_eh) {
    return err(422, 42210000,
               "fractional orders are not accepted in extended hours for asset \"" + b.symbol +
                   "\"");
  }
  if (!b.easy_to_borrow && req.tif != "day") {
    return err(422, 42210000,
               "only day orders are allowed for hard-to-borrow asset \"" + b.symbol + "\"");
  }
  return std::nullopt;
}

// Auction orders (alpaca-api.md §2.1): opg is refused 9:28am-7pm ET and cls 3:50pm-7pm ET; after
// 7pm either queues for the next session. The wording is the simulator's (Alpaca's is not on
// record); the status and code are those of its other order refusals. Only when the simulator
// keeps the market's hours: an always-open market has no auctions to miss.
static std::optional<ApiError> check_auction_window(const OrderRequest& req, Timestamp now) {
  const auto tif = parse_time_in_force(req.tif);
  if (!tif || !auction_refused_until(*tif, now)) return std::nullopt;
  return err(422, 42210000,
             *tif == TimeInForce::opg
                 ? "opg orders are not accepted between 9:28am and 7:00pm ET"
                 : "cls orders are not accepted between 3:50pm and 7:00pm ET");
}

// A crypto order's qty and prices against its asset's sizes. Below min_order_size Alpaca answers
// 403 "order qty must be >= minimal qty of order 0.000000002" (seen in users' logs of refused
// crypto sells; the code is UNCONFIRMED: 40310000, as its "cost basis must be >= minimal amount
// of order 1" has). Alpaca's answers to a qty off min_trade_increment or a price off
// price_increment are not on record: the status, code and wording here are the simulator's.
static std::optional<ApiError> check_crypto_sizes(const SymbolBook& b,
                                                  std::optional<Decimal> qty,
                                                  std::optional<Decimal> limit_price,
                                                  std::optional<Decimal> stop_price) {
  if (qty && b.min_order_size.is_positive() && *qty < b.min_order_size) {
    return err(403, 40310000,
               "order qty must be >= minimal qty of order " + b.min_order_size.str());
  }
  if (qty && b.min_trade_increment.is_positive() &&
      qty->round_to(b.min_trade_increment, Rounding::down) != *qty) {
    return err(422, 42210000,
               "qty " + qty->str() + " is not a multiple of min_trade_increment " +
                   b.min_trade_increment.str());
  }
  for (auto [p, field] : {std::pair{limit_price, "limit_price"}, {stop_price, "stop_price"}}) {
    if (p && b.price_increment.is_positive() &&
        p->round_to(b.price_increment, Rounding::down) != *p) {
      return err(422, 42210000,
                 std::string("invalid ") + field + " " + p->str() +
                     ": not a multiple of price_increment " + b.price_increment.str());
    }
  }
  return std::nullopt;
}

// Alpaca refuses a crypto order worth less than a least value no asset states: 403 40310000
// "cost basis must be >= minimal amount of order 10" (paper accounts, users' logs of 2026). The
// value is the notional, else the qty at the limit price, else at the last price.
static std::optional<ApiError> check_crypto_value(const SymbolBook& b, const OrderRequest& req) {
  if (!b.min_order_value.is_positive()) return std::nullopt;
  const Decimal value =
      req.notional ? *req.notional : *req.qty * (req.limit_price ? *req.limit_price : b.price);
  if (value >= b.min_order_value) return std::nullopt;
  return err(403, 40310000, "cost basis must be >= minimal amount of order " +
                                b.min_order_value.str());
}

// Crypto (§2.1, OrderType/TimeInForce/OrderClass in the specification): market, limit and
// stop-limit; gtc or ioc; simple orders; any fraction (qty or notional) within the asset's sizes.
std::optional<ApiError> ExchangeImpl::check_crypto(const SymbolBook& b,
                                                   const OrderRequest& req) const {
  if (req.type != OType::market && req.type != OType::limit && req.type != OType::stop_limit) {
    return err(422, 40010001, "invalid order type for crypto order");
  }
  if (req.tif != "gtc" && req.tif != "ioc") {
    return err(422, 40010001, "invalid time_in_force for crypto order");
  }
  if (req.cls != OClass::simple) return err(422, 40010001, "invalid order class for crypto order");
  if (req.notional && req.type != OType::market) {
    return err(422, 42210000, "notional orders must be market orders");
  }
  if (auto e = check_crypto_sizes(b, req.qty, req.limit_price, req.stop_price)) return e;
  return check_crypto_value(b, req);
}

// Bracket/OCO/OTO exits on the right side of their base price (§2.1).
static std::optional<ApiError> check_group_prices(const SymbolBook& b, const OrderRequest& req) {
  if (req.cls == OClass::simple) return std::nullopt;
  const bool exits_sell = req.cls == OClass::oco ? !req.buy : req.buy;
  Decimal base = b.price;
  if (req.cls == OClass::oco) base = *req.tp_limit;
  else if (req.limit_price) base = *req.limit_price;
  else if (req.stop_price) base = *req.stop_price;
  if (req.sl_stop) {
    const bool ok = exits_sell ? *req.sl_stop <= base - kOneCent : *req.sl_stop >= base + kOneCent;
    if (!ok) {
      ApiError e = err(422, 42210000,
                       std::string("stop_loss.stop_price must be ") +
                           (exits_sell ? "<= base_price - 0.01" : ">= base_price + 0.01"));
      e.extra["base_price"] = base.str();
      return e;
    }
  }
  if (req.tp_limit && req.cls != OClass::oco) {
    const bool ok =
        exits_sell ? *req.tp_limit >= base + kOneCent : *req.tp_limit <= base - kOneCent;
    if (!ok) {
      ApiError e = err(422, 42210000,
                       std::string("take_profit.limit_price must be ") +
                           (exits_sell ? ">= base_price + 0.01" : "<= base_price - 0.01"));
      e.extra["base_price"] = base.str();
      return e;
    }
  }
  return std::nullopt;
}

// Order of checks: asset, asset class rules, client id, group prices, position side, buying
// power, wash trade, an opening order the other way.
std::variant<SimOrder*, ApiError> ExchangeImpl::place(const OrderRequest& request) {
  OrderRequest req = request;
  req.symbol = resolve_symbol(req.symbol);
  SymbolBook* b = book(req.symbol);
  // Unknown symbols: 422/42210000 (Alpaca answers 422 for an order on an unknown asset).
  if (!b) return err(422, 42210000, "asset \"" + req.symbol + "\" not found");
  // The wording for an inactive asset is UNCONFIRMED: Alpaca's inactive assets are not tradable.
  if (!b->tradable || !b->active) {
    return err(422, 42210000, "asset \"" + req.symbol + "\" is not tradable");
  }
  if (!b->crypto) {
    if (auto e = check_equity_asset(*b, req)) return *e;
  }
  if (auto e = b->crypto ? check_crypto(*b, req) : check_fractional(req)) return *e;
  if (config_.regular_hours_only) {
    if (auto e = check_auction_window(req, clock_.now())) return *e;
  }
  if (!req.client_order_id.empty() && by_client_id_.count(req.client_order_id)) {
    return err(422, 40010001, "client_order_id must be unique");
  }
  if (auto e = check_group_prices(*b, req)) return *e;
  req.opening = true;
  if (req.qty) {  // a notional order is a buy (notional sells are not supported)
    if (auto e = check_side(*b, req, {}, req.opening)) return *e;
  }
  if (req.opening) {
    if (auto e = check_buying_power(*b, req, Decimal())) return *e;
  }
  if (auto e = wash_trade_check(*b, req)) return *e;
  if (req.opening) {
    if (auto e = opposite_opening_order(*b, req)) return *e;
  }
  const bool exits_sell = req.cls == OClass::oco ? !req.buy : req.buy;

  SimOrder* main = nullptr;
  if (req.cls == OClass::oco) {
    // The OCO parent is the take-profit limit; its leg is the stop-loss, watched while held.
    main = create_order(req, *b, Role::main, OType::limit, req.buy, req.tp_limit, std::nullopt,
                        St::accepted);
  } else {
    main = create_order(req, *b, Role::main, req.type, req.buy, req.limit_price, req.stop_price,
                        St::accepted);
  }
  OrderRequest leg_req = req;
  leg_req.client_order_id.clear();
  leg_req.notional.reset();
  leg_req.extended_hours = false;
  leg_req.position_intent.clear();
  auto add_leg = [&](Role role) {
    const bool tp = role == Role::take_profit;
    SimOrder* leg = create_order(
        leg_req, *b, role, tp ? OType::limit : (req.sl_limit ? OType::stop_limit : OType::stop),
        exits_sell ? false : true, tp ? req.tp_limit : req.sl_limit,
        tp ? std::nullopt : req.sl_stop, St::held);
    leg->parent_id = main->id;
    leg->hold_root = main->id;
    main->legs.push_back(leg->id);
  };
  if (req.cls == OClass::bracket) {
    add_leg(Role::take_profit);
    add_leg(Role::stop_loss);
  } else if (req.cls == OClass::oto) {
    add_leg(req.tp_limit ? Role::take_profit : Role::stop_loss);
  } else if (req.cls == OClass::oco) {
    main->role = Role::take_profit;
    add_leg(Role::stop_loss);
  }
  pending_.push_back({PendingKind::activate, main});
  return main;
}

std::vector<SimOrder*> ExchangeImpl::group_of(SimOrder& o) {
  SimOrder* root = &o;
  if (!o.parent_id.empty()) {
    if (SimOrder* p = find_order(o.parent_id)) root = p;
  }
  std::vector<SimOrder*> out{root};
  for (const std::string& id : root->legs) {
    if (SimOrder* leg = find_order(id)) out.push_back(leg);
  }
  return out;
}

SimOrder* ExchangeImpl::sibling_exit(SimOrder& o) {
  if (o.cls == OClass::oco) {
    if (o.parent_id.empty()) return o.legs.empty() ? nullptr : find_order(o.legs.front());
    return find_order(o.parent_id);
  }
  if (o.cls == OClass::bracket && !o.parent_id.empty()) {
    SimOrder* parent = find_order(o.parent_id);
    if (!parent) return nullptr;
    for (const std::string& id : parent->legs) {
      if (id != o.id) return find_order(id);
    }
  }
  return nullptr;
}

std::optional<ApiError> ExchangeImpl::cancel(SimOrder& o) {
  if (!o.open() || o.status == St::pending_cancel || o.status == St::pending_replace) {
    return err(422, 42210000, state_error(o.status));
  }
  const Timestamp now = clock_.now();
  // Cancelling any order of a group cancels the rest (§8). The shares stay held until the
  // cancel completes on the next advance(), as at Alpaca (alpaca-trade-api-csharp #247).
  for (SimOrder* m : group_of(o)) {
    if (!m->open() || m->status == St::pending_cancel) continue;
    m->status = St::pending_cancel;
    m->updated_at = now;
    emit(*m, "pending_cancel", now);
    pending_.push_back({PendingKind::cancel, m});
  }
  return std::nullopt;
}

void ExchangeImpl::cancel_now(SimOrder& o, Timestamp now) {
  for (SimOrder* m : group_of(o)) {
    if (m->open()) finish(*m, St::canceled, now, "canceled");
  }
}

// What a replace may not change, or when it may not happen at all (§2.8).
static std::optional<ApiError> replace_refusal(const SimOrder& o, const ReplaceRequest& rr) {
  if (!o.open()) return err(422, 42210000, state_error(o.status));
  if (o.status == St::accepted || o.status == St::pending_new || o.status == St::pending_cancel ||
      o.status == St::pending_replace) {
    // Alpaca refuses to replace an order it has not routed yet, or one already changing.
    return err(
        422, 42210000,
        "order is in \"" + std::string(to_string(o.status)) + "\" state and cannot be replaced");
  }
  if (o.notional) return err(422, 40010001, "notional orders cannot be replaced");
  // "Qty of equity fractional orders are not allowed to change" (PatchOrderRequest; wording of
  // the refusal UNCONFIRMED).
  if (rr.qty && o.qty && !o.qty->is_integer() && !o.crypto && *rr.qty != *o.qty) {
    return err(422, 40010001, "qty of a fractional order cannot be changed");
  }
  if (o.cls == OClass::oto && o.role != Role::main) {
    return err(422, 40010001, "legs of oto orders cannot be replaced");
  }
  const bool wants_limit = o.type == OType::limit || o.type == OType::stop_limit;
  const bool wants_stop = o.type == OType::stop || o.type == OType::stop_limit;
  if (rr.limit_price && !wants_limit) {
    return err(422, 40010001,
               "limit_price is not valid for " + std::string(to_string(o.type)) + " orders");
  }
  if (rr.stop_price && !wants_stop) {
    return err(422, 40010001,
               "stop_price is not valid for " + std::string(to_string(o.type)) + " orders");
  }
  if (rr.trail && o.type != OType::trailing_stop) {
    return err(422, 40010001, "trail is only valid for trailing_stop orders");
  }
  return std::nullopt;
}

std::variant<SimOrder*, ApiError> ExchangeImpl::replace(SimOrder& o, const ReplaceRequest& rr) {
  if (auto e = replace_refusal(o, rr)) return *e;
  const Decimal qty = rr.qty.value_or(o.remaining());
  if (!qty.is_positive()) return err(422, 40010001, "qty must be > 0");
  if (rr.client_order_id && by_client_id_.count(*rr.client_order_id)) {
    return err(422, 40010001, "client_order_id must be unique");
  }
  SymbolBook& b = books_.at(o.symbol);
  // A pair's new prices are judged as a new order's are (a replace's qty is left to the rules
  // below: Alpaca's for it are not on record).
  if (b.crypto) {
    if (auto e = check_crypto_sizes(b, std::nullopt, rr.limit_price, rr.stop_price)) return *e;
  }
  OrderRequest req;
  req.symbol = o.symbol;
  req.buy = o.buy;
  req.type = o.type;
  req.tif = rr.tif.value_or(o.tif);
  req.qty = qty;
  req.limit_price = rr.limit_price ? rr.limit_price : o.limit_price;
  req.stop_price = rr.stop_price ? rr.stop_price : o.stop_price;
  req.trail_price = o.trail_price;
  req.trail_percent = o.trail_percent;
  if (rr.trail) (o.trail_price ? req.trail_price : req.trail_percent) = rr.trail;
  req.cls = o.cls;
  req.client_order_id = rr.client_order_id.value_or("");
  req.extended_hours = o.extended_hours;
  req.position_intent = o.position_intent;
  req.opening = o.opening;
  if (o.opening) {
    if (o.role == Role::main) {
      if (auto e = check_buying_power(b, req, o.reserved)) return *e;
    }
  } else if (o.role == Role::main || group_live(o)) {
    // A leg of an entry that has not filled holds nothing yet: there is no position to check.
    const Position* p = position(o.symbol);
    const Decimal existing = p ? p->qty.abs() : Decimal();
    if (auto e = check_closing_qty(b, o.buy, existing, qty, o.hold_root)) return *e;
  }
  const Timestamp now = clock_.now();
  const bool held = o.status == St::held;
  SimOrder* nw = create_order(req, b, o.role, o.type, o.buy, req.limit_price, req.stop_price,
                              held ? St::held : St::accepted);
  nw->replaces = o.id;
  nw->parent_id = o.parent_id;
  nw->legs = o.legs;
  nw->hold_root = o.hold_root;
  // Watched only once the replace completes: until then the order it replaces is the one in
  // its group, and a fill of the group's other order cancels it, replacement and all. Armed at
  // once, a stop leg's replacement triggered while the take-profit filled, and both filled
  // (DST trades seed 23700000018216: 58 INTC short covered, then 19 more bought).
  nw->armed = false;
  nw->stop_triggered = o.stop_triggered;
  nw->hwm = o.hwm;
  if (nw->type == OType::trailing_stop && nw->hwm && !nw->stop_triggered) {
    follow_trail(*nw, *nw->hwm);
  }
  nw->position_intent = o.position_intent;
  update_reservation(*nw);
  o.replaced_by = nw->id;
  o.status = St::pending_replace;
  o.updated_at = now;
  emit(o, "pending_replace", now);
  pending_.push_back({PendingKind::replace, &o, nw});
  return nw;
}

// ---------------------------------------------------------------------------------------------
// Time passing: pending acknowledgements, cancels and replaces, the random walk, matching.

void ExchangeImpl::advance(Timestamp now) {
  try {
    const bool open = equities_open(now);
    if (config_.regular_hours_only && !session_open_) expire_day_orders(now);
    process_pending(now, open);
    walk_prices(now);
    match(now, open);
  } catch (const std::exception&) {
    // Decimal overflow on absurd input must not take the exchange down; the order stays as is.
  }
}

void ExchangeImpl::process_pending(Timestamp now, bool market_open) {
  std::vector<Pending> work;
  work.swap(pending_);
  std::vector<Pending> later;
  for (const Pending& p : work) {
    SimOrder& o = *p.order;
    switch (p.kind) {
      case PendingKind::activate:
        if (o.status != St::accepted) break;  // canceled before it was acknowledged
        if (!market_open && !o.crypto) {
          later.push_back(p);
          break;
        }
        set_status(o, St::new_, now);
        emit(o, "new", now);
        to_check_.push_back(&o);
        if (o.cls == OClass::oco) {
          for (const std::string& id : o.legs) {
            if (SimOrder* leg = find_order(id); leg && leg->status == St::held) {
              leg->armed = true;
              to_check_.push_back(leg);
            }
          }
        }
        break;
      case PendingKind::cancel:
        if (o.open()) finish(o, St::canceled, now, "canceled");
        break;
      case PendingKind::replace: {
        SimOrder& nw = *p.replacement;
        if (o.status != St::pending_replace) {
          // The old order was canceled (a group cancel) before the replace completed.
          emit(o, "order_replace_rejected", now);
          if (nw.open()) finish(nw, St::canceled, now, "canceled");
          break;
        }
        set_status(o, St::replaced, now);
        emit(o, "replaced", now);
        // The group as it is now: its parent, or one of its legs, may have been replaced meanwhile.
        nw.parent_id = o.parent_id;
        nw.legs = o.legs;
        if (!o.parent_id.empty()) {
          if (SimOrder* parent = find_order(o.parent_id)) {
            std::replace(parent->legs.begin(), parent->legs.end(), o.id, nw.id);
          }
        }
        for (const std::string& id : nw.legs) {
          if (SimOrder* leg = find_order(id)) leg->parent_id = nw.id;
        }
        nw.armed = o.armed;
        if (nw.status == St::accepted) {
          if (!market_open && !nw.crypto) {
            later.push_back({PendingKind::activate, &nw});
            break;
          }
          set_status(nw, St::new_, now);
          emit(nw, "new", now);
        }
        to_check_.push_back(&nw);
        break;
      }
    }
  }
  pending_.insert(pending_.begin(), later.begin(), later.end());
}

void ExchangeImpl::walk_prices(Timestamp now) {
  if (config_.tick_ms <= 0) return;
  if (!walk_started_) {
    walk_started_ = true;
    last_walk_ = now;
    return;
  }
  std::int64_t steps = now.ms_since(last_walk_) / config_.tick_ms;
  if (steps <= 0) return;
  last_walk_ = last_walk_.plus_ms(steps * config_.tick_ms);
  // A long jump of virtual time walks at most this many steps: the walk is scenery, not data.
  steps = std::min<std::int64_t>(steps, 50);
  for (std::int64_t k = 0; k < steps; ++k) {
    for (auto& [symbol, b] : books_) {
      const Decimal inc = Decimal::price_increment_for(b.price);
      // Steps of about 5 basis points, at least one tick: -2..+2 steps.
      const std::int64_t move = static_cast<std::int64_t>(price_rng_.below(5)) - 2;
      if (move == 0) continue;
      const Decimal::Units bp5 = b.price.units() / 2000;
      const Decimal::Units step = std::max(inc.units(), bp5 - bp5 % inc.units());
      Decimal::Units units = b.price.units() + move * step;
      if (units < inc.units()) units = inc.units();
      b.price = Decimal::from_units(units, 0).round_price(Rounding::half_even);
      mark_dirty(symbol);
    }
  }
}

// While equities are closed only crypto matches; equity orders and symbols wait for the open.
void ExchangeImpl::match(Timestamp now, bool equities_open) {
  std::vector<SimOrder*> work, wait;
  for (SimOrder* o : to_check_) (equities_open || o->crypto ? work : wait).push_back(o);
  to_check_.swap(wait);
  for (auto it = dirty_symbols_.begin(); it != dirty_symbols_.end();) {
    SymbolBook* b = book(*it);
    if (b && !equities_open && !b->crypto) {
      ++it;
      continue;
    }
    if (b) {
      for (auto& [seq, o] : b->open_buys) work.push_back(o);
      for (auto& [seq, o] : b->open_sells) work.push_back(o);
    }
    it = dirty_symbols_.erase(it);
  }
  std::sort(work.begin(), work.end(),
            [](const SimOrder* a, const SimOrder* b) { return a->seq < b->seq; });
  work.erase(std::unique(work.begin(), work.end()), work.end());
  for (SimOrder* o : work) {
    if (o->open()) try_fill(*o, now);
  }
}

void ExchangeImpl::trigger_stop_leg(SimOrder& sl, Timestamp now) {
  // Simplification of §8 (Alpaca replaces the TP and fills the SL through a new order): the
  // live leg is canceled and the stop-loss order itself works from here on.
  if (SimOrder* tp = sibling_exit(sl); tp && tp->open()) {
    finish(*tp, St::canceled, now, "canceled");
  }
  sl.armed = false;
  set_status(sl, St::new_, now);
}

// A trailing stop's high-water mark (the lowest price for a buy) moves with the market and its
// stop keeps the trail behind it: hwm - trail_price, or hwm * (1 - trail_percent/100) (§2.1).
void ExchangeImpl::follow_trail(SimOrder& o, Decimal price) {
  o.hwm = !o.hwm ? price : o.buy ? Decimal::min(*o.hwm, price) : Decimal::max(*o.hwm, price);
  Decimal stop = *o.hwm;
  if (o.trail_price) {
    stop = o.buy ? stop + *o.trail_price : stop - *o.trail_price;
  } else if (o.trail_percent) {
    stop = stop.add_percent(o.buy ? *o.trail_percent : -*o.trail_percent).value_or(stop);
  }
  if (!stop.is_positive()) stop = Decimal::must("0.0001");  // a trail wider than the price
  const Decimal tick = Decimal::price_increment_for(stop);
  // Printed at the tick's precision ("10.70", not "10.700000000").
  o.stop_price = Decimal::from_units(
      stop.round_to(tick, o.buy ? Rounding::up : Rounding::down).units(), tick.scale());
}

void ExchangeImpl::try_fill(SimOrder& o, Timestamp now) {
  const bool watching = o.status == St::held && o.armed;
  if (!(o.status == St::new_ || o.status == St::partially_filled || watching)) return;
  const Decimal px = books_.at(o.symbol).price;
  const bool ioc_like = o.tif == "ioc" || o.tif == "fok";
  if (o.type == OType::trailing_stop && !o.stop_triggered) follow_trail(o, px);
  if ((o.type == OType::stop || o.type == OType::stop_limit || o.type == OType::trailing_stop) &&
      !o.stop_triggered) {
    const bool hit = o.buy ? px >= *o.stop_price : px <= *o.stop_price;
    if (!hit) {
      if (ioc_like && !o.first_check_done) finish(o, St::canceled, now, "canceled");
      o.first_check_done = true;
      return;
    }
    o.stop_triggered = true;
    if (watching) trigger_stop_leg(o, now);
  } else if (watching) {
    return;  // a held leg only wakes up through its stop
  }
  const bool limit_style = o.type == OType::limit || o.type == OType::stop_limit;
  const bool marketable = !limit_style || (o.buy ? px <= *o.limit_price : px >= *o.limit_price);
  if (!marketable) {
    if (watching) emit(o, "new", now);  // a triggered stop-limit leg now rests
    if (ioc_like && !o.first_check_done) finish(o, St::canceled, now, "canceled");
    o.first_check_done = true;
    return;
  }
  Decimal lot;
  if (o.notional) {
    lot = (*o.notional - o.filled_value)
              .checked_div(px, Rounding::down)
              .value_or(Decimal())
              .round_to(kQtyIncrement, Rounding::down);
    if (!lot.is_positive()) {
      finish(o, St::canceled, now, "canceled");
      return;
    }
    o.qty = o.filled_qty + lot;
  } else {
    lot = o.remaining();
    // Paper trading fills a random part 10% of the time (§10); fok never fills partially.
    const auto whole = static_cast<std::int64_t>(lot.units() / Decimal::kUnitsPerOne);
    if (config_.partial_fills && o.tif != "fok" && whole >= 2 && fill_rng_.chance(0.1)) {
      lot = Decimal::from_int(1 + static_cast<std::int64_t>(fill_rng_.below(whole - 1)));
    }
  }
  o.first_check_done = true;
  execute(o, lot, px, now);
  if (o.open() && o.tif == "ioc") finish(o, St::canceled, now, "canceled");
  if (o.open()) to_check_.push_back(&o);  // the remainder is re-evaluated on the next pass
}

// Signed position arithmetic: adding keeps the average entry, reducing keeps it for the rest. A
// fill that would cross zero (possible only through races the order checks cannot see) closes the
// position, and opens the remainder the other way only where shorting is possible.
void ExchangeImpl::move_position(const std::string& symbol, Decimal delta, Decimal price) {
  Position& p = positions_[symbol];
  const Decimal old = p.qty;
  Decimal now = old + delta;
  const bool flips = !old.is_zero() && !now.is_zero() && now.is_negative() != old.is_negative();
  if (flips && (!config_.shorting || books_.at(symbol).crypto)) now = Decimal();
  if (old.is_zero() || old.is_negative() == delta.is_negative()) {
    p.cost_basis += delta * price;
  } else if (flips) {
    p.cost_basis = now * price;
  } else {
    p.cost_basis = (p.cost_basis * now).checked_div(old).value_or(Decimal());
  }
  p.qty = now;
  if (now.is_zero()) positions_.erase(symbol);
}

void ExchangeImpl::execute(SimOrder& o, Decimal qty, Decimal price, Timestamp now) {
  const Decimal value = qty * price;
  Decimal delta = o.buy ? qty : -qty;
  Decimal cash_delta = o.buy ? -value : value;
  if (o.crypto) {
    // The fee comes out of what the fill delivers (alpaca-api.md §13): coins on a buy, so the
    // position is slightly smaller than the filled qty; dollars on a sell.
    // Dollars move in cents: a purchase rounds up, proceeds round down. A fee in coins is
    // rounded up to the nine decimals of a quantity (kQtyIncrement).
    if (o.buy) {
      delta -= qty.checked_mul(config_.crypto_fee_rate, Rounding::up)
                   .value_or(Decimal())
                   .round_to(kQtyIncrement, Rounding::up);
      cash_delta = -value.round_to(kOneCent, Rounding::up);
    } else {
      const Decimal fee =
          value.checked_mul(config_.crypto_fee_rate, Rounding::up).value_or(Decimal());
      cash_delta = (value - fee).round_to(kOneCent, Rounding::down);
    }
  }
  move_position(o.symbol, delta, price);
  cash_ += cash_delta;
  o.filled_qty += qty;
  o.filled_value += value;
  const bool full = o.filled_qty >= *o.qty;
  set_status(o, full ? St::filled : St::partially_filled, now);

  Activity a;
  ++activity_seq_;
  a.time = now;
  a.partial = !full;
  a.price = price;
  a.qty = qty;
  a.leaves_qty = o.remaining();
  a.cum_qty = o.filled_qty;
  a.buy = o.buy;
  a.symbol = o.symbol;
  a.order_id = o.id;
  a.order_status = o.status;
  a.id = activity_id(now);
  activities_.push_back(std::move(a));

  emit(o, full ? "fill" : "partial_fill", now, price, qty);
  after_fill(o, now);
}

// Alpaca's shape, "YYYYMMDDhhmmssSSS::<uuid>" (UTC). The uuid's first eight hex digits carry a
// sequence number, so ids still sort by time and, within one millisecond, by execution: the last
// id seen stays a watermark (page_token) for catch-up.
std::string ExchangeImpl::activity_id(Timestamp now) {
  ++activity_seq_;
  const std::string t = format_rfc3339(now);  // YYYY-MM-DDTHH:MM:SS[.fff...]Z
  std::string id;
  for (char c : t.substr(0, 19)) {
    if (c >= '0' && c <= '9') id += c;
  }
  const std::int64_t ms = ((now.ns / 1'000'000) % 1000 + 1000) % 1000;
  char buf[16];
  std::snprintf(buf, sizeof buf, "%03lld::%08llx", static_cast<long long>(ms),
                static_cast<unsigned long long>(activity_seq_ & 0xffffffffull));
  return id + buf + id_rng_.uuid().substr(8);
}

void ExchangeImpl::after_fill(SimOrder& o, Timestamp now) {
  const bool full = o.status == St::filled;
  if (full && o.role == Role::main && (o.cls == OClass::bracket || o.cls == OClass::oto)) {
    // The legs wake up only once the entry is completely filled (§8): the take-profit goes
    // `new`; a bracket's stop-loss stays `held` while its stop is watched.
    for (const std::string& id : o.legs) {
      SimOrder* leg = find_order(id);
      if (!leg || leg->status != St::held) continue;
      if (leg->role == Role::take_profit || o.cls == OClass::oto) {
        set_status(*leg, St::new_, now);
        emit(*leg, "new", now);
      } else {
        leg->armed = true;
      }
      to_check_.push_back(leg);
    }
    return;
  }
  SimOrder* sibling = sibling_exit(o);
  if (!sibling || !sibling->open()) return;
  if (full) {
    finish(*sibling, St::canceled, now, "canceled");  // one exit filled: the other is void
  } else {
    // A partial exit shrinks its sibling, so the group never holds more than the position.
    sibling->qty = sibling->filled_qty + o.remaining();
    update_reservation(*sibling);
  }
}

void ExchangeImpl::expire_day_orders(Timestamp now) {
  if (next_close_.ns == 0) next_close_ = next_regular_close(now);
  if (now < next_close_) return;
  next_close_ = next_regular_close(now);
  expire_open_day_orders(now);
}

// The close: every open day order ends `expired`, bracket and OCO legs included (they carry
// their group's time in force), as at Alpaca; gtc orders and crypto stay.
void ExchangeImpl::expire_open_day_orders(Timestamp now) {
  std::vector<SimOrder*> due;
  for (auto& [key, o] : open_by_time_) {
    if (o->crypto) continue;
    if (o->tif == "day" || o->tif == "opg" || o->tif == "cls") due.push_back(o);
  }
  for (SimOrder* o : due) {
    if (o->open()) finish(*o, St::expired, now, "expired");
  }
}

bool ExchangeImpl::equities_open(Timestamp now) const {
  if (session_open_) return *session_open_;
  return !config_.regular_hours_only || regular_hours_open(now);
}

void ExchangeImpl::session(SessionEvent event) {
  const Timestamp now = clock_.now();
  const bool was_open = equities_open(now);
  session_open_ = event == SessionEvent::open;
  if (event == SessionEvent::close && was_open) {
    try {
      expire_open_day_orders(now);
    } catch (const std::exception&) {
    }
  }
  if (event == SessionEvent::open && !was_open) {
    // Prices may have moved while closed: every resting order is looked at again.
    for (auto& [symbol, b] : books_) mark_dirty(symbol);
  }
}

void ExchangeImpl::set_prices(const std::map<std::string, Decimal>& prices) {
  for (const auto& [symbol, price] : prices) {
    if (!price.is_positive()) continue;
    auto it = books_.find(symbol);
    if (it == books_.end()) {
      // A pair written with its slash ("DOGE/USD") is listed as crypto, without sizes of its own.
      const bool pair = symbol.find('/') != std::string::npos;
      add_book(symbol, price, pair ? "CRYPTO" : "NYSE", symbol, pair);
    } else {
      it->second.price = price;
    }
    mark_dirty(symbol);
  }
  const Timestamp now = clock_.now();
  try {
    match(now, equities_open(now));
  } catch (const std::exception&) {
  }
}

// ---------------------------------------------------------------------------------------------
// Stream messages and their faults.

void ExchangeImpl::emit(const SimOrder& o, std::string_view event, Timestamp now,
                        std::optional<Decimal> price, std::optional<Decimal> qty) {
  std::string text;
  {
    CallArena<8192> arena(sp_);
    text = stream_message_json(o, event, now, price, qty);
  }
  enqueue_stream(StreamMessage{std::move(text), now}, o, event);
}

std::string ExchangeImpl::stream_message_json(const SimOrder& o, std::string_view event,
                                              Timestamp now, std::optional<Decimal> price,
                                              std::optional<Decimal> qty) {
  json::object data(sp_);
  data["event"] = event;
  data["execution_id"] = id_rng_.uuid();
  data["order"] = order_json(o, false);
  if (price && qty) {
    const Position* p = position(o.symbol);
    data["position_qty"] = (p ? p->qty : Decimal()).str();
    data["price"] = price->str();
    data["qty"] = qty->str();
  }
  data["timestamp"] = format_rfc3339(now);
  json::object msg(sp_);
  msg["stream"] = "trade_updates";
  msg["data"] = std::move(data);
  return json::serialize(msg);
}

void ExchangeImpl::enqueue_stream(StreamMessage m, const SimOrder& o, std::string_view event) {
  bool drop = false, duplicate = false, reorder = false;
  std::int64_t delay_ms = 0;
  for (const FaultRule& r : plan_.rules) {
    if (r.on != FaultOn::stream || r.action == FaultAction::disconnect) continue;
    if (r.event && *r.event != event) continue;
    if (r.side && (*r.side == "buy") != o.buy) continue;
    if (r.symbol && *r.symbol != o.symbol) continue;
    if (!fault_rng_.chance(r.p)) continue;
    count_fault(r.action);
    switch (r.action) {
      case FaultAction::drop: drop = true; break;
      case FaultAction::duplicate: duplicate = true; break;
      case FaultAction::reorder: reorder = true; break;
      case FaultAction::delay: delay_ms += r.delay_ms; break;
      default: break;
    }
  }
  if (drop) return;
  m.deliver_at = m.deliver_at.plus_ms(delay_ms);
  auto push = [&](const StreamMessage& x) {
    if (stream_.size() >= kStreamQueueMax) {
      stream_.pop_front();  // nobody is reading: keep memory bounded, count the loss
      ++stream_overflow_;
    }
    stream_.push_back(x);
  };
  if (reorder) {
    // Goes out after the next message instead of before it.
    if (reorder_slot_) push(*reorder_slot_);
    reorder_slot_ = m;
    if (duplicate) push(m);
    return;
  }
  push(m);
  if (duplicate) push(m);
  if (reorder_slot_) {
    push(*reorder_slot_);
    reorder_slot_.reset();
  }
}

std::vector<StreamMessage> ExchangeImpl::take_stream_messages(Timestamp now) {
  // A reordered message with nothing after it would wait forever: release it after a second.
  if (reorder_slot_ && reorder_slot_->deliver_at.plus_ms(1000) <= now) {
    stream_.push_back(*reorder_slot_);
    reorder_slot_.reset();
  }
  std::vector<StreamMessage> out;
  std::deque<StreamMessage> keep;
  out.reserve(stream_.size());
  for (StreamMessage& m : stream_) {
    if (m.deliver_at <= now) out.push_back(std::move(m));
    else keep.push_back(std::move(m));
  }
  stream_.swap(keep);
  return out;
}

bool ExchangeImpl::stream_disconnect_due(Timestamp now) {
  bool due = false;
  for (std::size_t i = 0; i < plan_.rules.size(); ++i) {
    const FaultRule& r = plan_.rules[i];
    if (r.action != FaultAction::disconnect) continue;
    Timestamp& next = next_disconnect_[i];
    if (next.ns == 0) next = now.plus_ms(r.every_s * 1000);
    if (now < next) continue;
    next = now.plus_ms(r.every_s * 1000);
    if (!fault_rng_.chance(r.p)) continue;
    count_fault(r.action);
    due = true;
  }
  return due;
}

std::string ExchangeImpl::set_faults_json(std::string_view text) {
  auto parsed = parse_fault_plan(text);
  if (auto* e = std::get_if<std::string>(&parsed)) return *e;
  plan_ = std::move(std::get<FaultPlan>(parsed));
  next_disconnect_.assign(plan_.rules.size(), Timestamp{});
  const Timestamp now = clock_.now();
  for (std::size_t i = 0; i < plan_.rules.size(); ++i) {
    if (plan_.rules[i].action == FaultAction::disconnect) {
      next_disconnect_[i] = now.plus_ms(plan_.rules[i].every_s * 1000);
    }
  }
  return "";
}

bool ExchangeImpl::check_credentials(std::string_view key_id, std::string_view secret_key) const {
  if (!config_.key_id || !config_.secret_key) return true;
  return key_id == *config_.key_id && secret_key == *config_.secret_key;
}

}  // namespace orderly::sim
