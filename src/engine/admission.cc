#include "engine/admission.h"

#include <fmt/format.h>

#include <algorithm>

#include "engine/crypto.h"
#include "engine/trade_manager.h"

namespace orderly {

// Priced away from its trade's own market or limit by entry_path_clear.
bool is_stand_in(const Ledger& ledger, const Order& o) {
  if (o.role != OrderRole::entry || o.parent_order_id || o.replaces_order_id ||
      o.order_class != OrderClass::simple || o.notional) {
    return false;
  }
  const Trade* t = ledger.trade(o.trade_id);
  if (t == nullptr ||
      (t->spec.entry_type != OrderType::market && t->spec.entry_type != OrderType::limit)) {
    return false;
  }
  return o.type != t->spec.entry_type || o.limit_price != t->spec.entry_limit_price;
}

// Not while that side is changing at our request (an entry clearing its way, an exit being
// canceled or placed again): what it stepped inside comes back, and sending it again then met
// the exits placed again, stood in anew, and was canceled at the next clearing, round after
// round (DST trades seed 20830000000413: two entries at -e4, the exits of nine trades canceled
// and placed again until the per-minute cap left them naked).
std::optional<std::string> stand_in_outdated(const Ledger& ledger,
                                             const std::unordered_map<OrderId, OrderAux>& aux,
                                             const WayClearing& clearing, const SymbolBook& book,
                                             const Order& o) {
  if (clearing.clearing(o.symbol)) return std::nullopt;
  for (OrderId id : ledger.of_symbol(o.symbol)) {
    const Order& x = ledger.order_at(id);
    if (x.side == o.side || !working_or_pending(x)) continue;
    const auto ax = aux.find(id);
    const bool going =
        x.state == OrderState::pending_cancel || (ax != aux.end() && ax->second.cancel_sent);
    // On its way: not yet refused (one the broker refused, retried, is no book to wait for: a
    // stop alone our stand-in itself blocks would wait on it for good).
    const bool coming = !x.broker_order_id && !x.parent_order_id &&
                        (x.state == OrderState::submitting || x.attempts == 0);
    if (going || coming) return std::nullopt;
  }
  const Trade& t = *ledger.trade(o.trade_id);
  const std::optional<Decimal> own =
      t.spec.entry_type == OrderType::limit ? t.spec.entry_limit_price : std::nullopt;
  if (book.wash_blockers(o.side, t.spec.entry_type, own).empty()) {
    return fmt::format("none of our orders it stepped inside is left on the other side of {}",
                       o.symbol);
  }
  // They filled and others rest further out (another trade's exits): one tick inside those.
  const std::optional<Decimal> price = book.passing_limit(o.side, own, t.spec.price_increment);
  if (!price || !o.limit_price) return std::nullopt;
  const bool better = o.side == Side::buy ? *price > *o.limit_price : *price < *o.limit_price;
  if (!better) return std::nullopt;
  return fmt::format("our tightest order on the other side of {} moved: {} passes now", o.symbol,
                     price->str());
}

// A sell entry no long covers opens a short, and Alpaca refuses fractional short sales
// (40310000): it would fail at the broker after the trade was accepted (DST seed 31011). Within
// a held long it closes that long, which a fractional qty may. The broker's positions read
// says what it holds (another client's long included; what its open orders leave available),
// once it was asked after our last fill of the symbol. Before that, neither it nor our own
// ledger can say: a read asked before may show a long our own exit has sold since (DST trades
// seed 23700000030358: a stop-loss sold 3.3 INTC 0.2 s before a sell of 1.6), and our ledger
// may show one whose entry fills are not heard yet (23900000011408: a short's exits heard
// filled, its entries' fills lost, 28 AMZN "held"). The broker refused both as fractional
// shorts.
Status TradeAdmission::refuse_fractional_short(const TradeSpec& spec) const {
  if (spec.side != Side::sell || spec.qty.is_integer()) return Status::success();
  const Decimal available = s_.positions_read.available(spec.symbol);
  const bool read_since =
      s_.positions_read.read_at() && !s_.positions_read.changed_since_asked(spec.symbol);
  if (read_since && available >= spec.qty) return Status::success();
  const Decimal ours = s_.ledger.position_qty(spec.symbol);
  if (!read_since && (available >= spec.qty || ours >= spec.qty)) {
    return Status::error(
        Status::Code::unavailable,
        fmt::format("whether a long still covers this fractional sell of {} {} is known at the "
                    "next positions read, within about a second (a fill of ours came after the "
                    "last one; it showed {} available, our own fills make {}); nothing was "
                    "sent, try again",
                    spec.qty.str(), spec.symbol, available.str(), ours.str()));
  }
  return Status::error(Status::Code::invalid_argument,
                       fmt::format("a sell entry no long position covers opens a short, and "
                                   "Alpaca does not sell {} shares short (fractional): use "
                                   "whole shares",
                                   spec.qty.str()));
}

// Trades on one symbol in both directions at once would each protect a position the other
// cancels out (a sell entry against our own long meets the shares our exits hold). Scaling in
// either direction is fine; reversing waits until the other trades of the symbol ended.
std::string TradeAdmission::refuse_reversal(const TradeSpec& spec) const {
  for (OrderId id : s_.ledger.of_symbol(spec.symbol)) {
    const Order& o = s_.ledger.order_at(id);
    if (o.role != OrderRole::entry) continue;
    const Trade* t = s_.ledger.trade(o.trade_id);
    if (t == nullptr || is_terminal(t->state) || t->spec.side == spec.side) {
      continue;
    }
    return fmt::format("trade {} on {} is {} in the other direction: close or cancel it before "
                       "opening a {} trade on the symbol",
                       t->id, spec.symbol, to_string(t->state), to_string(spec.side));
  }
  return {};
}

// ---- Pairs of trades Alpaca's wash-trade check keeps from both being protected -------------
// The check (alpaca-api.md §5) refuses a simple stop beside any opposite order of the account
// and judges a stop_limit by its limit. A position whose only exit is a stop (no take-profit to
// pair it in an exempt OCO, not a trailing stop) keeps it beside our own entries resting on the
// other side only as a stop_limit priced past them (wash_safe_price): every such entry must be
// a limit short of the stop. A resting stop entry, or a limit at or past the stop, leaves that
// position with no exit the broker takes for as long as it rests (DST seeds 11300000000039,
// 11300000000145: refused again and again for minutes). Such a pair is refused when its second
// trade is opened; a flatten, a market order, likewise cannot pass our resting stop entries.
namespace {

bool has_lone_stop(const TradeSpec& s) {
  return s.exits != ExitMode::none && s.stop_loss && !s.stop_loss->trailing() &&
         !s.has_take_profit();
}

// Exits placed as simple orders (not an exempt OCO, not a trailing stop): a fractional or crypto
// position's, or a whole-share trade's single take-profit or stop. No price passes a resting
// stop entry of ours for them (the check sees a stop as a market order).
bool has_simple_exits(const TradeSpec& s) {
  if (s.exits == ExitMode::none) return false;
  if (s.fractional() || is_crypto_symbol(s.symbol)) return true;
  const bool stop = s.stop_loss && !s.stop_loss->trailing();
  return stop != s.has_take_profit() && !s.trailing_stop();
}

// The stop a trade keeps alone, priced from its `fill` when it is a percentage; nullopt when it
// has none or it is not known yet.
std::optional<Decimal> lone_stop_price(const TradeSpec& s, std::optional<Decimal> fill) {
  if (!has_lone_stop(s)) return std::nullopt;
  if (s.stop_loss->price) return s.stop_loss->price;
  if (!fill) return std::nullopt;
  const std::optional<ExitPrices> p = exit_prices(s, *fill);
  return p ? p->stop_loss : std::nullopt;
}

// An entry of `side` resting beside a lone stop of the other side that no stop_limit passes (one
// tick past the entry's limit, on the stop's pair's `increment` when known: wash_safe_price).
// nullopt `stop`: not known yet (a percentage of a price not seen yet), so any resting one.
bool blocks_lone_stop(Side side, OrderType type, std::optional<Decimal> limit,
                      std::optional<Decimal> stop, const std::optional<Decimal>& increment) {
  if (type == OrderType::market) return false;  // fills at once, not resting beside it
  if (type == OrderType::stop || !limit || !stop) return true;
  const Decimal tick = Decimal::price_increment_for(*limit);
  const bool buy = side == Side::buy;
  const Decimal past = round_to_tick(buy ? *limit + tick : *limit - tick,
                                     buy ? Rounding::up : Rounding::down, increment);
  return buy ? past > *stop : past < *stop;
}

}  // namespace

// A stand-in (a limit one tick inside our opposite orders) rests as long as they do. Beside a
// trade of ours whose only exit is a stop that no stop_limit passes at `price`, that position
// has no exit the broker takes for as long as it rests. The pair was judged when the trade was
// opened with the entry a market order, which rests nowhere (DST trades seed 23400000011208: a
// market buy clearing its way became a stand-in after a restart; 6.1 STWD, its stop refused
// 33 times to the end).
bool TradeAdmission::stand_in_blocks_a_lone_stop(const Order& entry, Decimal price) const {
  std::set<TradeId> seen;
  for (OrderId id : s_.ledger.of_symbol(entry.symbol)) {
    const TradeId tid = s_.ledger.order_at(id).trade_id;
    if (tid == entry.trade_id || !seen.insert(tid).second) continue;
    const Trade* t = s_.ledger.trade(tid);
    if (t == nullptr || is_terminal(t->state) || t->spec.side != entry.side) continue;
    if (!has_lone_stop(t->spec)) continue;
    const Order& its_entry = s_.ledger.order_at(view_of(s_.ledger, tid).entry);
    const std::optional<Decimal> stop = lone_stop_price(t->spec, its_entry.filled_avg_price);
    if (blocks_lone_stop(entry.side, OrderType::limit, price, stop, t->spec.price_increment)) {
      return true;
    }
  }
  return false;
}

namespace {

std::string describe_entry(const Order& e) {
  const std::optional<Decimal> at = e.type == OrderType::stop ? e.stop_price : e.limit_price;
  return fmt::format("{} {} entry {}{}", to_string(e.side), to_string(e.type), e.client_order_id,
                     at ? " at " + at->str() : std::string());
}

}  // namespace

// `self`: the trade whose exits change (modify), judged with `spec` as its new exits; 0 for a
// new trade, whose entry is judged too. `fill`: the price `self`'s entry filled at, once it is
// done filling. A percent stop is priced from the fill, which no earlier price bounds (a limit
// fills at or better than its price, a market anywhere), so until then it is judged unknown:
// any resting entry of ours it could meet blocks it (DST trades seeds 22100000002661,
// 22100000005647: a percent stop judged from the entry's limit, or the market, as it was;
// the fill came in lower and another trade's buy limit, short of the guess, was past the stop,
// which was then refused to the end).
std::string TradeAdmission::refuse_unprotectable_pair(const TradeSpec& spec, TradeId self,
                                                      std::optional<Decimal> fill) const {
  const bool lone = has_lone_stop(spec);
  const std::optional<Decimal> mine = lone_stop_price(spec, fill);
  for (OrderId id : s_.ledger.of_symbol(spec.symbol)) {
    const Order& e = s_.ledger.order_at(id);
    const Trade* t = s_.ledger.trade(e.trade_id);
    if (e.role != OrderRole::entry || e.replaces_order_id || t == nullptr || t->id == self ||
        is_terminal(t->state)) {
      continue;
    }
    if (t->state == TradeState::closing) {
      if (self != 0 ||
          (spec.entry_type != OrderType::stop && spec.entry_type != OrderType::stop_limit)) {
        continue;
      }
      return fmt::format("trade {} on {} is closing: the market order that flattens it cannot "
                         "pass a stop entry of ours resting on the other side (Alpaca's "
                         "wash-trade check); open this once it is closed",
                         t->id, spec.symbol);
    }
    // A stand-in limit (priced inside our opposite orders) goes back to its trade's own price
    // once they move (stand_in_entries.cc): judged at both (DST trades seed 20770000000824: a
    // limit at 121.62 stood in under it; a stop-only trade at 120.92 was opened beside it, the
    // limit went back to 121.62 and the stop was refused to the end).
    const bool blocks =
        blocks_lone_stop(e.side, e.type, e.limit_price, mine, spec.price_increment) ||
        (is_stand_in(s_.ledger, e) &&
         blocks_lone_stop(e.side, t->spec.entry_type, t->spec.entry_limit_price, mine,
                          spec.price_increment));
    if (lone && working_or_pending(e) && e.filled_qty < e.qty && blocks) {
      return fmt::format(
          "the stop-loss{} would be this trade's only exit, a simple stop order, which Alpaca's "
          "wash-trade check refuses beside our {} (trade {}) resting on {} (only bracket, OCO "
          "and trailing-stop orders are exempt, and a stop_limit only past our resting limits): "
          "add a take-profit, make the stop a trailing stop, or open it once that entry is gone",
          mine ? " " + mine->str() : std::string(), describe_entry(e), t->id, spec.symbol);
    }
    if (has_simple_exits(spec) && working_or_pending(e) && e.type == OrderType::stop) {
      return fmt::format("this trade's exits would be simple orders (fractional, crypto, or a "
                         "single exit), which Alpaca's wash-trade check refuses beside our {} "
                         "(trade {}) resting on {}: open it once that entry filled or is gone",
                         describe_entry(e), t->id, spec.symbol);
    }
    if (self == 0 && spec.entry_type == OrderType::stop && has_simple_exits(t->spec)) {
      return fmt::format("this stop entry would rest beside trade {}'s exits on {}, simple "
                         "orders (fractional, crypto, or a single exit) that Alpaca's wash-trade "
                         "check then refuses: give trade {} both exits, or use a limit entry",
                         t->id, spec.symbol, t->id);
    }
    if (self != 0 || !has_lone_stop(t->spec)) continue;
    const std::optional<Decimal> theirs =
        lone_stop_price(t->spec, working_or_pending(e) ? std::nullopt : e.filled_avg_price);
    if (blocks_lone_stop(spec.side, spec.entry_type, spec.entry_limit_price, theirs,
                         t->spec.price_increment)) {
      return fmt::format(
          "this {} entry would rest beside trade {}'s stop-loss{} on {}, its only exit, which "
          "Alpaca's wash-trade check refuses beside a resting opposite order (a stop_limit passes "
          "only limits short of the stop): use a market entry or a limit short of the stop, or "
          "give trade {} a take-profit first",
          to_string(spec.entry_type), t->id, theirs ? " " + theirs->str() : std::string(),
          spec.symbol, t->id);
    }
  }
  return {};
}

// Closing a trade that holds shares sends a market order, which the check refuses while a stop
// or stop_limit entry of ours rests on the other side of the symbol (no marketable price passes
// it). So does closing one whose entry is at the broker (or on its way) and may fill before its
// cancel lands: the fill is then flattened against the same check (DST trades seed
// 19000000000883: a market entry filled as its close was asked; the flatten was refused 34
// times, the trade closing for good and its position without its canceled exits).
std::string TradeAdmission::refuse_blocked_flatten(TradeId id) const {
  const Trade& t = s_.ledger.trade_at(id);
  const TradeView v = view_of(s_.ledger, id);
  const Decimal held = held_of(s_.ledger, s_.oversold_symbols, id, v);
  const bool may_fill = std::any_of(v.entries.begin(), v.entries.end(), [&](OrderId e) {
    return working_or_pending(s_.ledger.order_at(e)) && !never_sent(s_.ledger.order_at(e));
  });
  if (!held.is_positive() && !may_fill) return {};
  for (OrderId oid : s_.ledger.of_symbol(t.spec.symbol)) {
    const Order& e = s_.ledger.order_at(oid);
    // A stop_limit entry's limit lies beyond the market with its stop: a flatten priced past
    // it would rest there (DST seed 13000000000190: closing for good).
    if (e.role != OrderRole::entry || e.trade_id == id || e.side != t.spec.side ||
        (e.type != OrderType::stop && e.type != OrderType::stop_limit) ||
        !working_or_pending(e)) {
      continue;  // an unsent one counts: it may be sent in the flatten's own pass
    }
    if (!held.is_positive()) {
      return fmt::format(
          "trade {}'s entry is at the broker and may fill: closing it would then send a market "
          "order, which Alpaca's wash-trade check refuses while our {} (trade {}) rests on the "
          "other side; cancel its entry alone (without flatten), or cancel trade {} first",
          id, describe_entry(e), e.trade_id, e.trade_id);
    }
    return fmt::format("trade {} holds {} {}: closing it sends a market order, which Alpaca's "
                       "wash-trade check refuses while our {} (trade {}) rests on the other "
                       "side; cancel trade {} first, or close this one once that entry filled",
                       id, held.str(), t.spec.symbol, describe_entry(e), e.trade_id,
                       e.trade_id);
  }
  return {};
}

}  // namespace orderly
