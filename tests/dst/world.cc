// One seeded run: the engine (SimulationRuntime) over the AlpacaBroker, whose HTTP seam is wired
// to the exchange model in virtual time; the model's trade_updates feed the engine as the stream
// would. The seed draws the trades, the price path, the fault plan, the crashes and the storage
// faults; nothing else (no wall clock, no random_device) decides anything.

#include <boost/json.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <memory>
#include <optional>

#include "broker/alpaca/alpaca_broker.h"
#include "broker/alpaca/json.h"
#include "core/ids.h"
#include "dst.h"
#include "fault_store.h"
#include "invariants.h"
#include "rng.h"
#include "runtime/runtime.h"
#include "sim/exchange.h"
#include "sim/universe.h"
#include "sim_transport.h"
#include "store/open.h"

namespace orderly::dst {

const std::vector<std::string>& all_fault_kinds() {
  static const std::vector<std::string> kinds = {
      "drop",    "duplicate",     "reorder", "delay",        "disconnect", "http503",
      "http429", "slow",          "lose_response", "crash",  "result_delay", "store"};
  return kinds;
}

namespace {

// Continuous I6 (principle 9: a gap is bounded, audited and raised). A gap longer than the
// engine's grace must be raised as unprotected_position within this much more: the engine
// learns of a gap it did not cause from the stream or, the event lost, from the next sweep
// (every 1.5 poll intervals while the stream is suspect) and the fetch of what it missed; it
// judges its positions every 100 ms.
constexpr std::int64_t kRaiseWithinMs = 3'000;
// A raised gap must still end: longer than this (more than any run's fault phase) it is a
// violation too. One that outlives the faults is also caught by the final check.
constexpr std::int64_t kRaisedBoundMs = 120'000;

// n / 10^scale as a Decimal (from_units takes the internal units of 1e-18).
Decimal frac(std::int64_t n, int scale) {
  Decimal::Units units = n;
  for (int i = scale; i < Decimal::kMaxScale; ++i) units *= 10;
  return Decimal::from_units(units, scale);
}

// The trace's words for a trade's entry and targets.
std::string entry_text(const TradeSpec& s) {
  if (s.entry_type == OrderType::stop) return "stop " + s.entry_stop_price->str();
  if (s.entry_type == OrderType::stop_limit) {
    return "stop " + s.entry_stop_price->str() + " limit " + s.entry_limit_price->str();
  }
  return s.entry_limit_price ? s.entry_limit_price->str() : "market";
}

std::string tp_text(const PriceTarget& tp) {
  if (tp.price) return tp.price->str();
  return tp.percent ? tp.percent->str() + "%" : "-";
}

std::string sl_text(const std::optional<PriceTarget>& sl) {
  if (!sl) return "-";
  if (sl->price) return sl->price->str();
  if (sl->percent) return sl->percent->str() + "%";
  if (sl->trail_percent) return "trail " + sl->trail_percent->str() + "%";
  return sl->trail_price ? "trail $" + sl->trail_price->str() : "?";
}

struct SymbolState {
  std::string symbol;
  Decimal base;  // the universe's starting price: moves are relative to it, so prices oscillate
};

class World {
 public:
  explicit World(const Options& o)
      : opt_(o), rng_(o.seed), wl_rng_(o.seed ^ 0x14'0000'0014ULL), trace_(30, o.echo_trace) {
    extended_ = o.extended_workload && wl_rng_.chance(700);
  }

  RunResult run();

 private:
  bool allowed(const std::string& kind) const {
    return opt_.faults.empty() || opt_.faults.count(kind) > 0;
  }
  bool on(const std::string& kind) const { return plan_.count(kind) > 0; }
  Timestamp now() const { return clock_.now(); }
  void violation(const std::string& inv, const std::string& details) {
    trace_.add(fmt::format("VIOLATION {} {}", inv, details));
    result_.violations.push_back({inv, details});
  }

  Status setup();
  std::string draw_fault_plan();
  void on_advance(Timestamp t);
  void deliver(const sim::StreamMessage& m);
  void step();
  void run_for(std::int64_t ms);
  void ensure_running();
  void note_crash_at_command(const std::string& when);
  struct Shape {
    Side side = Side::buy;
    TimeInForce tif = TimeInForce::gtc;
    bool fractional = false;
    // Issue 17's kinds drawn on top (extended workload only): stop and stop-limit entries,
    // trailing-stop exits, a stop-loss or a take-profit alone.
    bool varied = false;
  };
  void open_trade(Rng& rng, const Shape& shape);
  void place(const TradeSpec& spec);
  void vary_trade(Rng& rng, TradeSpec& spec, Decimal last);
  void open_crypto_trade();
  void modify_trade();
  ExitChange draw_exit_change(const Trade& t, Decimal market);
  void check_modified_exits();
  std::string off_target(const BrokerOrder& o, OrderRole role, const TradeSpec& s);
  void extended_action();
  void issue17_action(std::int64_t roll);
  void move_crypto_price();
  void cancel_exit_as_another_client();
  void cancel_trade();
  void move_price();
  void check_continuous();
  void check_unexpected_states();
  void check_final();  // after the quiet period

  Options opt_;
  Rng rng_;
  // The issue-14 workload (--workload extended) draws from its own source, so the seeds of the
  // base workload replay exactly as before; it is on for 7 seeds in 10.
  Rng wl_rng_;
  bool extended_ = false;
  std::int64_t grace_ms_ = 0;  // EngineConfig::unprotected_grace_ms of the engine under test
  std::int64_t unexpected_seen_ = 0;  // the runtime's unexpected_states() at the last check
  std::int64_t lost_fill_ms_ = 0;  // its idle_poll_interval_ms: a fill lost while healthy
  std::int64_t lost_end_ms_ = 0;   // its idle_sweep_interval_ms: an exit's end lost so
  std::int64_t quiet_ms_ = 0;      // after the faults stop
  std::optional<Timestamp> reopen_at_;  // the session is closed until then
  Trace trace_;
  ManualClock clock_;
  Timestamp start_;
  std::unique_ptr<sim::Exchange> exchange_;
  std::shared_ptr<SimTransport> transport_;
  std::unique_ptr<alpaca::AlpacaBroker> broker_;
  std::unique_ptr<FaultStore> store_;
  std::unique_ptr<SimulationRuntime> rt_;
  std::unique_ptr<Checker> checker_;
  std::string owner_;
  std::vector<SymbolState> symbols_;
  std::map<std::string, Decimal> last_price_;
  std::set<std::string> plan_;
  RunResult result_;

  bool stream_up_ = true;          // the connection between the exchange and orderly
  bool runtime_thinks_up_ = false;  // what the runtime was last told
  Timestamp reconnect_at_;
  Timestamp restart_at_;
  bool crash_armed_ = false;
  bool crash_armed_before_send_ = false;
  std::int64_t trades_opened_ = 0;
  // Trades whose exits a modify changed (the last modify accepted), judged after the quiet
  // period: their working exits carry the new targets.
  std::set<TradeId> modified_;
  std::int64_t stream_delivered_ = 0;
  std::int64_t stream_lost_ = 0;
};

std::string World::draw_fault_plan() {
  // Each allowed kind is in this seed's plan with probability 1/2, so runs see both single faults
  // and combinations; the parameters are drawn too.
  for (const std::string& k : all_fault_kinds()) {
    if (allowed(k) && rng_.chance(500)) plan_.insert(k);
  }
  std::vector<std::string> rules;
  auto p = [&](int lo_pm, int hi_pm) { return fmt::format("{:.3f}", rng_.range(lo_pm, hi_pm) / 1000.0); };
  if (on("drop")) {
    // Half the time only fills are lost: the incident's shape (TP fills never heard of).
    rules.push_back(rng_.chance(500)
                        ? fmt::format(R"({{"on":"stream","action":"drop","p":{}}})", p(20, 300))
                        : fmt::format(R"({{"on":"stream","action":"drop","p":{},"event":"fill"}})",
                                      p(200, 1000)));
  }
  if (on("duplicate")) {
    rules.push_back(fmt::format(R"({{"on":"stream","action":"duplicate","p":{}}})", p(20, 300)));
  }
  if (on("reorder")) {
    rules.push_back(fmt::format(R"({{"on":"stream","action":"reorder","p":{}}})", p(20, 300)));
  }
  if (on("delay")) {
    rules.push_back(fmt::format(R"({{"on":"stream","action":"delay","p":{},"delay_ms":{}}})",
                                p(50, 400), rng_.range(50, 4000)));
  }
  if (on("disconnect")) {
    rules.push_back(fmt::format(R"({{"on":"stream","action":"disconnect","every_s":{}}})",
                                rng_.range(5, 40)));
  }
  if (on("http503")) {
    rules.push_back(
        rng_.chance(500)
            ? fmt::format(R"({{"on":"http","action":"status","p":{},"status":503}})", p(10, 100))
            : fmt::format(
                  R"({{"on":"http","action":"status","p":{},"status":503,"route":"POST /v2/orders"}})",
                  p(50, 400)));
  }
  if (on("http429")) {
    rules.push_back(
        fmt::format(R"({{"on":"http","action":"status","p":{},"status":429}})", p(10, 100)));
  }
  if (on("slow")) {
    rules.push_back(fmt::format(R"({{"on":"http","action":"slow","p":{},"delay_ms":{}}})",
                                p(20, 200), rng_.range(200, 9000)));
  }
  if (on("lose_response")) {
    rules.push_back(
        rng_.chance(500)
            ? fmt::format(R"({{"on":"http","action":"lose_response","p":{}}})", p(10, 100))
            : fmt::format(
                  R"({{"on":"http","action":"lose_response","p":{},"route":"POST /v2/orders"}})",
                  p(50, 400)));
  }
  std::string joined;
  for (const auto& r : rules) joined += (joined.empty() ? "" : ",") + r;
  return "{\"rules\":[" + joined + "]}";
}

Status World::setup() {
  clock_.advance_ms(rng_.range(0, 3'600'000));  // a different hour of the (always open) day
  start_ = clock_.now();

  sim::SimConfig sc;
  sc.seed = rng_.next();
  sc.partial_fills = rng_.chance(500);
  sc.shorting = extended_;
  exchange_ = sim::make_exchange(sc, clock_);

  // A few symbols per run, so exits of different trades share (or not) a symbol's holdings.
  std::vector<SymbolState> universe;
  for (const auto& s : sim::builtin_universe()) {
    universe.push_back({std::string(s.symbol), Decimal::must(s.price)});
  }
  const auto n = rng_.range(1, 4);
  for (int i = 0; i < n && !universe.empty(); ++i) {
    auto at = static_cast<std::size_t>(rng_.range(0, static_cast<std::int64_t>(universe.size()) - 1));
    symbols_.push_back(universe[at]);
    universe.erase(universe.begin() + static_cast<std::ptrdiff_t>(at));
  }

  transport_ = std::make_shared<SimTransport>(*exchange_, clock_, trace_);
  if (opt_.mutation == "no_exit_book") transport_->mutation = opt_.mutation;
  std::shared_ptr<alpaca::HttpTransport> seam = transport_;
  if (opt_.mutation == "resubmit") seam = std::make_shared<ResubmitMutation>(transport_, clock_);
  alpaca::AlpacaConfig ac;
  ac.key_id = "dst-key";
  ac.secret_key = "dst-secret";
  broker_ = std::make_unique<alpaca::AlpacaBroker>(seam, ac, &clock_);

  auto inner = open_store("sqlite::memory:", "dst");
  if (!inner.ok()) return inner.status();
  const std::string tag = make_instance_tag(rng_.next());
  store_ = std::make_unique<FaultStore>(std::move(inner.value()), rng_, trace_, tag);

  const std::string plan_json = draw_fault_plan();
  if (std::string err = exchange_->set_faults_json(plan_json); !err.empty()) {
    return Status::error(Status::Code::invalid_argument, "fault plan refused: " + err);
  }
  if (on("store")) {
    store_->set_commit_failure_per_mille(static_cast<int>(rng_.range(5, 60)));
    store_->set_load_failure_per_mille(static_cast<int>(rng_.range(100, 400)));
  }
  std::string kinds;
  for (const auto& k : plan_) kinds += (kinds.empty() ? "" : ",") + k;
  trace_.add(fmt::format("seed {} plan [{}] partial_fills={} symbols={}", opt_.seed, kinds,
                         sc.partial_fills, symbols_.size()));
  trace_.add("faults " + plan_json);

  RuntimeOptions ro;
  grace_ms_ = ro.engine.unprotected_grace_ms;  // the bound of continuous I6 is the engine's own
  lost_fill_ms_ = ro.engine.idle_poll_interval_ms;
  lost_end_ms_ = ro.engine.idle_sweep_interval_ms;
  // Every gap is swept: a sweep runs every idle_sweep_interval_ms while the stream is healthy,
  // then what it found missing is fetched.
  quiet_ms_ = ro.engine.idle_sweep_interval_ms + 2 * ro.engine.idle_poll_interval_ms;
  ro.engine.account_identity = "dst";
  ro.engine.seed = rng_.next();
  owner_ = account_tag(ro.engine.account_identity) + tag;
  rt_ = std::make_unique<SimulationRuntime>(*store_, *broker_, clock_, ro,
                                            [this](Timestamp t) { on_advance(t); });
  // I7 bound: the engine's own budget, plus the calls a crash can keep out of the persisted
  // window (released after the last commit: at most max_inflight_commands). Both stay under
  // Alpaca's 200/min, which is what the budget's margin is for.
  const int rate_bound = static_cast<int>(ro.engine.rate_limit_per_min) +
                         ro.engine.max_inflight_commands;
  checker_ = std::make_unique<Checker>(
      *exchange_, *store_, clock_, owner_,
      [this](const std::string& inv, const std::string& d) { violation(inv, d); }, rate_bound);

  // I1, at the moment it would happen: an order whose broker id is committed is never re-sent.
  transport_->on_submit = [this](const std::string& cid) { checker_->on_submit(cid); };
  transport_->on_insufficient_qty = [this](const std::string& req, const std::string& body) {
    checker_->on_insufficient_qty(req, body, transport_->positions_read_at());
  };

  rt_->on_connected();
  runtime_thinks_up_ = true;
  ensure_running();
  return Status::success();
}

void World::ensure_running() {
  if (rt_->running() || now() < restart_at_) return;
  // The process comes back with the stream in whatever state the network is in.
  if (!stream_up_ && runtime_thinks_up_) {
    rt_->on_disconnected("dst: stream down at start");
    runtime_thinks_up_ = false;
  } else if (stream_up_ && !runtime_thinks_up_) {
    rt_->on_connected();
    runtime_thinks_up_ = true;
  }
  Status st = rt_->start();
  trace_.add(st.ok() ? std::string("engine started") : "engine start failed: " + st.message());
  if (!st.ok()) {
    ++result_.coverage["store:load_failed"];
    restart_at_ = now().plus_ms(rng_.range(100, 2000));
  } else if (!rt_->running()) {
    // start() settles, i.e. runs the recovery's first commands: an armed crash can hit there.
    note_crash_at_command("during recovery");
  }
}

void World::note_crash_at_command(const std::string& when) {
  const std::string point =
      crash_armed_ ? (crash_armed_before_send_ ? "crash:before_send" : "crash:after_send")
                   : "crash:other";
  crash_armed_ = false;
  ++result_.coverage[point];
  if (when == "during recovery") ++result_.coverage["crash:during_recovery"];
  trace_.add("engine crashed at a command (" + point + ", " + when + ")");
  restart_at_ = now().plus_ms(rng_.range(0, 3000));
}

void World::on_advance(Timestamp t) {
  trace_.set_time_ms(t.ms_since(start_));
  exchange_->advance(t);
  if (stream_up_ && exchange_->stream_disconnect_due(t)) {
    stream_up_ = false;
    reconnect_at_ = t.plus_ms(rng_.range(100, 5000));
    ++result_.coverage["stream:disconnected"];
    trace_.add("stream: disconnected by the fault plan");
    if (rt_->running() && runtime_thinks_up_) {
      rt_->on_disconnected("dst: fault plan disconnect");
      runtime_thinks_up_ = false;
    }
  } else if (!stream_up_ && t >= reconnect_at_) {
    stream_up_ = true;
    trace_.add("stream: reconnected");
    if (rt_->running()) {
      rt_->on_connected();
      runtime_thinks_up_ = true;
    }
  }
  for (const sim::StreamMessage& m : exchange_->take_stream_messages(t)) deliver(m);
}

void World::deliver(const sim::StreamMessage& m) {
  auto parsed = alpaca::parse_stream_message(m.json);
  if (!parsed.ok()) {
    violation("setup", "unparseable stream message: " + parsed.status().message());
    return;
  }
  auto* u = std::get_if<TradeUpdate>(&parsed.value());
  if (!u) return;
  const std::string what =
      fmt::format("{} {} {} filled={}", u->event, u->order.client_order_id,
                  u->order.status ? to_string(*u->order.status) : std::string_view(u->order.status_text),
                  u->order.filled_qty.str());
  checker_->on_stream_message(*u);
  if (!stream_up_ || !rt_->running()) {
    ++stream_lost_;
    trace_.add("stream: not heard (" + std::string(stream_up_ ? "engine down" : "stream down") +
               "): " + what);
    return;
  }
  ++stream_delivered_;
  trace_.add("stream: " + what);
  rt_->on_trade_update(std::move(*u));
}

void World::run_for(std::int64_t ms) {
  // In slices, so a crash armed on a command is noticed and the process restarted after a while.
  while (ms > 0) {
    const std::int64_t slice = std::min<std::int64_t>(ms, 500);
    const bool was_running = rt_->running();
    rt_->run_for(slice, 100);
    ms -= slice;
    if (was_running && !rt_->running()) note_crash_at_command("while running");
    ensure_running();
    check_continuous();
  }
}

void World::open_trade(Rng& rng, const Shape& shape) {
  if (!rt_->running()) return;
  const SymbolState& s = rng.pick(symbols_);
  // Prices as the market stands now: the exchange's last price is what we moved it to.
  const Decimal last = last_price_.count(s.symbol) ? last_price_.at(s.symbol) : s.base;
  TradeSpec spec;
  spec.symbol = s.symbol;
  spec.side = shape.side;
  spec.tif = shape.tif;
  spec.qty = shape.fractional ? frac(rng.range(1, 99), 1) : Decimal::from_int(rng.range(1, 60));
  spec.exits = rng.chance(400) ? ExitMode::native : ExitMode::emulated;
  // A sell (short) entry mirrors a buy: its limit at or above the market, its take-profit
  // below the reference, its stop above.
  const int dir = shape.side == Side::buy ? 1 : -1;
  Decimal ref = last;
  // Alpaca takes fractional quantities on market (and limit) day orders only: market, day.
  if (shape.fractional) spec.tif = TimeInForce::day;
  if (rng.chance(350) && !shape.fractional) {
    spec.entry_type = OrderType::limit;
    // At or a little below the market: some fill at once, some when the price dips, some never.
    ref = (last * frac(1000 - dir * rng.range(0, 15), 3))
              .round_price(dir > 0 ? Rounding::down : Rounding::up);
    spec.entry_limit_price = ref;
  }
  const auto tp_bp = rng.range(50, 300);  // basis points away from the reference
  const auto sl_bp = rng.range(50, 300);
  const bool with_sl = spec.exits == ExitMode::native || rng.chance(700);
  if (spec.exits == ExitMode::native || rng.chance(500)) {
    spec.take_profit.price = (ref * frac(10000 + dir * tp_bp, 4))
                                 .round_price(dir > 0 ? Rounding::up : Rounding::down);
    if (with_sl) {
      spec.stop_loss = PriceTarget{(ref * frac(10000 - dir * sl_bp, 4))
                                       .round_price(dir > 0 ? Rounding::down : Rounding::up),
                                   std::nullopt};
    }
  } else {
    spec.take_profit.percent = frac(tp_bp, 2);
    if (with_sl) spec.stop_loss = PriceTarget{std::nullopt, frac(sl_bp, 2)};
  }
  if (shape.varied) vary_trade(rng, spec, last);
  if (std::string err = validate(spec); !err.empty()) {
    violation("setup", "generated an invalid trade: " + err);
    return;
  }
  place(spec);
}

// Opens the trade and says so in the trace (the base workload's lines read as they always did).
void World::place(const TradeSpec& spec) {
  auto t = rt_->open_trade(spec);
  trace_.add(fmt::format("open_trade {}{}{} {} {} entry={} tp={} sl={} -> {}",
                         spec.side == Side::sell ? "sell " : "",
                         spec.tif == TimeInForce::day ? "day " : "", spec.symbol,
                         spec.qty.str(), to_string(spec.exits), entry_text(spec),
                         tp_text(spec.take_profit), sl_text(spec.stop_loss),
                         t.ok() ? fmt::format("trade {}", t->id) : "error " + t.status().message()));
  if (t.ok()) ++trades_opened_;
  if (!rt_->running()) note_crash_at_command("in open_trade");
}

// Issue 17's kinds, drawn on a trade the base rules made: a stop or stop-limit entry past the
// market (a breakout), then its exits as a trailing stop alone, a stop alone, a take-profit
// alone or both, around the entry's reference price.
void World::vary_trade(Rng& rng, TradeSpec& spec, Decimal last) {
  const int dir = spec.side == Side::buy ? 1 : -1;
  const Rounding away = dir > 0 ? Rounding::up : Rounding::down;
  const Rounding toward = dir > 0 ? Rounding::down : Rounding::up;
  Decimal ref = spec.entry_limit_price.value_or(last);
  const auto entry = rng.range(0, 9);
  if (!spec.fractional() && entry < 4) {
    // A buy stop above the market (a sell stop below it): it triggers when the price gets there.
    spec.entry_type = entry < 3 ? OrderType::stop : OrderType::stop_limit;
    ref = (last * frac(10000 + dir * rng.range(5, 150), 4)).round_price(away);
    spec.entry_stop_price = ref;
    spec.entry_limit_price.reset();
    if (entry == 3) spec.entry_limit_price = (ref * frac(10000 + dir * 50, 4)).round_price(away);
  }
  auto tp = (ref * frac(10000 + dir * rng.range(50, 300), 4)).round_price(away);
  const auto sl = (ref * frac(10000 - dir * rng.range(50, 300), 4)).round_price(toward);
  // A stop_limit's limit lies past its stop: a take-profit drawn from the stop may fall on it,
  // which orderly rightly refuses (seed 20740000000552). It goes one tick past the limit then.
  if (const std::optional<Decimal> lim = spec.entry_limit_price;
      lim && spec.entry_type == OrderType::stop_limit && (dir > 0 ? tp <= *lim : tp >= *lim)) {
    const Decimal tick = Decimal::price_increment_for(*lim);
    tp = dir > 0 ? *lim + tick : *lim - tick;
  }
  spec.take_profit = PriceTarget{};
  spec.stop_loss.reset();
  const auto exits = rng.range(0, 9);
  if (exits < 3 && !spec.fractional()) {
    spec.stop_loss = rng.chance(500) ? PriceTarget{.trail_percent = frac(rng.range(5, 30), 1)}
                                     : PriceTarget{.trail_price = (ref * frac(15, 3))
                                                                      .round_price(Rounding::up)};
  } else if (exits < 5) {
    spec.stop_loss = PriceTarget{.price = sl};
  } else if (exits < 7) {
    spec.take_profit.price = tp;
  } else {
    spec.take_profit.price = tp;
    spec.stop_loss = PriceTarget{.price = sl};
  }
  if (!spec.has_take_profit() || !spec.stop_loss || spec.trailing_stop()) {
    spec.exits = ExitMode::emulated;  // a bracket needs both, and no trailing stop
  }
}

// A crypto pair (sim: BTC/USD, ETH/USD, SOL/USD): a buy of a fraction of a coin, gtc, with a
// take-profit, a stop-loss (placed as a stop_limit) or both; the fee comes out of the coins.
void World::open_crypto_trade() {
  if (!rt_->running()) return;
  auto pairs = sim::builtin_crypto();
  const sim::ListedSymbol& c = wl_rng_.pick(pairs);
  const std::string symbol(c.symbol);
  if (!last_price_.count(symbol)) last_price_[symbol] = Decimal::must(c.price);
  const Decimal last = last_price_.at(symbol);
  TradeSpec spec;
  spec.symbol = symbol;
  spec.tif = TimeInForce::gtc;
  // About $100 to $20,000 of it, to the coin's usual precision.
  const Decimal dollars = Decimal::from_int(wl_rng_.range(100, 20'000));
  spec.qty = dollars.checked_div(last, Rounding::down)
                 .value_or(Decimal())
                 .round_to(Decimal::must("0.0001"), Rounding::down);
  if (!spec.qty.is_positive()) spec.qty = Decimal::must("0.0001");
  Decimal ref = last;
  if (wl_rng_.chance(400)) {
    spec.entry_type = OrderType::limit;
    ref = (last * frac(1000 - wl_rng_.range(0, 15), 3)).round_price(Rounding::down);
    spec.entry_limit_price = ref;
  }
  const auto exits = wl_rng_.range(0, 2);
  if (exits != 1) {
    spec.take_profit.price =
        (ref * frac(10000 + wl_rng_.range(50, 300), 4)).round_price(Rounding::up);
  }
  if (exits != 0) {
    spec.stop_loss = PriceTarget{
        .price = (ref * frac(10000 - wl_rng_.range(50, 300), 4)).round_price(Rounding::down)};
  }
  if (std::string err = validate(spec); !err.empty()) {
    violation("setup", "generated an invalid crypto trade: " + err);
    return;
  }
  place(spec);
}

// Moves the exits of a live trade (PATCH /api/trades/ID): new prices around the market, an exit
// removed or added, a stop turned into a trailing stop or back. Refusals (a price the market
// has passed, a change the trade's shape does not take, exits busy at the broker) are answers.
void World::modify_trade() {
  if (!rt_->running()) return;
  std::vector<Trade> live;
  for (const Trade& t : rt_->engine().trades()) {
    if (!is_terminal(t.state) && t.state != TradeState::closing &&
        t.spec.exits != ExitMode::none) {
      live.push_back(t);
    }
  }
  if (live.empty()) return;
  const Trade& t = wl_rng_.pick(live);
  // The market as we last moved it, else the entry's price, else 1: a target far off the market
  // (the engine judges it against what it last read, or the broker does) is an input too.
  const Decimal market = last_price_.count(t.spec.symbol) ? last_price_.at(t.spec.symbol)
                                                          : t.spec.entry_reference().value_or(
                                                                Decimal::from_int(1));
  const ExitChange c = draw_exit_change(t, market);
  TradeSpec next = t.spec;
  if (c.remove_take_profit) next.take_profit = PriceTarget{};
  if (c.take_profit) next.take_profit = *c.take_profit;
  if (c.remove_stop_loss) next.stop_loss.reset();
  if (c.stop_loss) next.stop_loss = c.stop_loss;
  const Status st = rt_->modify_exits(t.id, c);
  trace_.add(fmt::format("modify_trade {} tp={} sl={} -> {}", t.id, tp_text(next.take_profit),
                         sl_text(next.stop_loss), st.ok() ? "ok" : st.message()));
  if (st.ok()) modified_.insert(t.id);
  if (!rt_->running()) note_crash_at_command("in modify_trade");
}

ExitChange World::draw_exit_change(const Trade& t, Decimal market) {
  const TradeSpec& s = t.spec;
  const int dir = s.side == Side::buy ? 1 : -1;
  const Rounding away = dir > 0 ? Rounding::up : Rounding::down;
  const Rounding toward = dir > 0 ? Rounding::down : Rounding::up;
  const auto tp = [&] {
    return PriceTarget{
        .price = (market * frac(10000 + dir * wl_rng_.range(30, 300), 4)).round_price(away)};
  };
  const auto sl = [&] {
    return PriceTarget{
        .price = (market * frac(10000 - dir * wl_rng_.range(30, 300), 4)).round_price(toward)};
  };
  const auto trail = [&] { return PriceTarget{.trail_percent = frac(wl_rng_.range(5, 30), 1)}; };
  ExitChange c;
  const auto kind = wl_rng_.range(0, 9);
  const bool crypto = s.symbol.find('/') != std::string::npos;
  if (kind < 4) {  // new prices for the exits it has
    if (s.has_take_profit()) c.take_profit = tp();
    if (s.stop_loss && !s.trailing_stop()) c.stop_loss = sl();
    if (s.trailing_stop()) c.stop_loss = trail();
  } else if (kind < 5 && s.has_take_profit() && s.stop_loss) {
    c.remove_take_profit = true;
  } else if (kind < 6 && s.has_take_profit() && s.stop_loss) {
    c.remove_stop_loss = true;
  } else if (kind < 7 && !s.stop_loss) {
    c.stop_loss = sl();
  } else if (kind < 8 && !s.has_take_profit() && !s.trailing_stop()) {
    c.take_profit = tp();
  } else if (kind < 9 && !crypto && !s.has_take_profit()) {
    c.stop_loss = s.trailing_stop() ? sl() : trail();
  } else {
    c.stop_loss = sl();  // the stop alone, moved (break-even, by hand)
  }
  return c;
}

// The issue-14 situations, each drawn from wl_rng_: short entries, fractional quantities, day
// orders across a session close, several trades at once on the symbols, and exits canceled by
// another client of the account.
void World::extended_action() {
  if (reopen_at_ && now() >= *reopen_at_) {
    exchange_->session(sim::SessionEvent::open);
    reopen_at_.reset();
    trace_.add("session open");
  }
  const auto roll = wl_rng_.range(0, 999);
  if (roll < 80) {
    open_trade(wl_rng_, Shape{Side::sell, TimeInForce::gtc, false});
  } else if (roll < 130) {
    open_trade(wl_rng_, Shape{wl_rng_.chance(500) ? Side::buy : Side::sell, TimeInForce::day,
                              wl_rng_.chance(500)});
  } else if (roll < 170) {
    open_trade(wl_rng_, Shape{Side::buy, TimeInForce::gtc, false});
    open_trade(wl_rng_, Shape{Side::sell, TimeInForce::gtc, false});  // reversing
  } else if (roll < 200 && !reopen_at_) {
    exchange_->session(sim::SessionEvent::close);
    reopen_at_ = now().plus_ms(wl_rng_.range(2'000, 30'000));
    trace_.add("session close");
  } else if (roll < 250) {
    cancel_exit_as_another_client();
  } else if (roll < 270) {
    const auto n = wl_rng_.range(3, 12);
    trace_.add(fmt::format("burst of {} trades", n));
    for (std::int64_t i = 0; i < n; ++i) {
      open_trade(wl_rng_, Shape{wl_rng_.chance(700) ? Side::buy : Side::sell});
    }
  } else if (opt_.trades_workload) {
    issue17_action(roll);
  }
}

// Issue 17's trades (rolls 270-469 of extended_action): modifies, the newer kinds, crypto.
void World::issue17_action(std::int64_t roll) {
  if (roll < 370) {
    modify_trade();
  } else if (roll < 420) {
    const bool fractional = wl_rng_.chance(200);
    open_trade(wl_rng_, Shape{wl_rng_.chance(650) ? Side::buy : Side::sell,
                              fractional ? TimeInForce::day : TimeInForce::gtc, fractional,
                              /*varied=*/true});
  } else if (roll < 440) {
    open_crypto_trade();
  } else if (roll < 470 && !last_price_.empty()) {
    move_crypto_price();
  }
}

void World::cancel_exit_as_another_client() {
  sim::HttpReply r = checker_->control("GET", "/v2/orders?status=open&limit=500&nested=false");
  auto orders = alpaca::parse_orders(r.body);
  if (!orders.ok()) return;
  std::vector<const BrokerOrder*> exits;
  for (const BrokerOrder& o : *orders) {
    auto parts = parse_client_order_id(o.client_order_id);
    if (!parts || parts->role != OrderRole::entry) exits.push_back(&o);
  }
  if (exits.empty()) return;
  const BrokerOrder& victim = *wl_rng_.pick(exits);
  sim::HttpReply d = checker_->control("DELETE", "/v2/orders/" + victim.id);
  trace_.add(fmt::format("another client cancels {} ({} {}) -> {}", victim.client_order_id,
                         victim.symbol, to_string(victim.side), d.status));
}

void World::cancel_trade() {
  if (!rt_->running()) return;
  std::vector<TradeId> live;
  for (const Trade& t : rt_->engine().trades()) {
    if (!is_terminal(t.state) && t.state != TradeState::closing) live.push_back(t.id);
  }
  if (live.empty()) return;
  const TradeId id = rng_.pick(live);
  Status st = rt_->cancel_trade(id);
  trace_.add(fmt::format("cancel_trade {} -> {}", id, st.ok() ? "ok" : st.message()));
  if (!rt_->running()) note_crash_at_command("in cancel_trade");
}

void World::move_price() {
  const SymbolState& s = rng_.pick(symbols_);
  // Within +-4% of the starting price: take-profits and stops 0.5-3% away fill on some paths.
  const Decimal p =
      (s.base * frac(1000 + rng_.range(-40, 40), 3)).round_price(Rounding::half_even);
  last_price_[s.symbol] = p;
  exchange_->set_prices({{s.symbol, p}});
  trace_.add(fmt::format("price {} {}", s.symbol, p.str()));
}

// I9 (issue 17): after the quiet period, every open trade a modify changed has at most one
// working exit of each role at the broker, at the trade's targets (a take-profit at its price,
// a stop at its stop, a trailing stop at its trail). An exit the wash-trade check priced past
// our own orders (audited so) and a target given in percent are not judged by price.
void World::check_modified_exits() {
  sim::HttpReply r = checker_->control("GET", "/v2/orders?status=open&limit=500&nested=true");
  auto parsed = alpaca::parse_orders(r.body);
  if (!parsed.ok()) return;
  std::vector<BrokerOrder> open;
  for (const BrokerOrder& o : *parsed) {
    open.push_back(o);
    for (const BrokerOrder& leg : o.legs) {
      if (leg.status && is_open_at_broker(*leg.status)) open.push_back(leg);
    }
  }
  for (TradeId id : modified_) {
    auto t = store_->get_trade(id);
    if (!t.ok() || !t->has_value() || (*t)->state != TradeState::open) continue;
    const TradeSpec& s = (*t)->spec;
    std::map<OrderRole, int> working;
    for (const BrokerOrder& o : open) {
      auto parts = parse_client_order_id(o.client_order_id);
      if (!parts || parts->trade_id != id || parts->role == OrderRole::entry) continue;
      ++working[parts->role];
      if (std::string wrong = off_target(o, parts->role, s); !wrong.empty()) {
        violation("I9", fmt::format("trade {} (modified): {} {}", id, o.client_order_id, wrong));
      }
    }
    for (const auto& [role, n] : working) {
      if (n > 1) {
        violation("I9", fmt::format("trade {} (modified) has {} working {} exits at the broker",
                                    id, n, to_string(role)));
      }
    }
  }
}

// What is wrong with a working exit against the trade's targets (empty: nothing).
std::string World::off_target(const BrokerOrder& o, OrderRole role, const TradeSpec& s) {
  // Priced past our own orders by the wash-trade check: this order, or one it replaced (a
  // grown exit keeps its predecessor's price; DST trades seed 23400000005181).
  auto local = store_->find_order_by_client_id(o.client_order_id);
  std::optional<OrderId> id;
  if (local.ok() && local->has_value()) id = (*local)->id;
  for (int depth = 0; id && depth < 16; ++depth) {
    auto events = store_->order_events(*id);
    for (const OrderEvent& e : events.ok() ? *events : std::vector<OrderEvent>{}) {
      if (e.note.find("wash-trade") != std::string::npos) return {};
    }
    auto order = store_->get_order(*id);
    id = order.ok() && order->has_value() ? (*order)->replaces_order_id : std::nullopt;
  }
  const auto str = [](const std::optional<Decimal>& d) { return d ? d->str() : "-"; };
  if (role == OrderRole::take_profit && o.type == OrderType::limit) {
    if (!s.take_profit.is_set()) return "works for a take-profit the trade no longer has";
    if (s.take_profit.price && o.limit_price != s.take_profit.price) {
      return fmt::format("limit {} where the take-profit is {}", str(o.limit_price),
                         s.take_profit.price->str());
    }
  }
  if (role != OrderRole::stop_loss) return {};
  if (!s.stop_loss) return "works for a stop-loss the trade no longer has";
  if (o.type == OrderType::trailing_stop) {
    if (o.trail_percent != s.stop_loss->trail_percent ||
        o.trail_price != s.stop_loss->trail_price) {
      return fmt::format("trails {} / {}% where the stop-loss trails {}", str(o.trail_price),
                         str(o.trail_percent), sl_text(s.stop_loss));
    }
  } else if ((o.type == OrderType::stop || o.type == OrderType::stop_limit) &&
             (s.stop_loss->trailing() ||
              (s.stop_loss->price && o.stop_price != s.stop_loss->price))) {
    return fmt::format("stop {} where the stop-loss is {}", str(o.stop_price),
                       sl_text(s.stop_loss));
  }
  return {};
}

// Crypto trades 24/7 and its prices move apart from the stocks': within +-4% of the listing.
void World::move_crypto_price() {
  std::vector<const sim::ListedSymbol*> traded;
  for (const sim::ListedSymbol& c : sim::builtin_crypto()) {
    if (last_price_.count(std::string(c.symbol))) traded.push_back(&c);
  }
  if (traded.empty()) return;
  const sim::ListedSymbol& c = *wl_rng_.pick(traded);
  const Decimal p = (Decimal::must(c.price) * frac(1000 + wl_rng_.range(-40, 40), 3))
                        .round_price(Rounding::half_even);
  last_price_[std::string(c.symbol)] = p;
  exchange_->set_prices({{std::string(c.symbol), p}});
  trace_.add(fmt::format("price {} {}", c.symbol, p.str()));
}

void World::step() {
  if (extended_) extended_action();
  const auto roll = rng_.range(0, 999);
  if (roll < 280) {
    open_trade(rng_, Shape{});
  } else if (roll < 580) {
    move_price();
  } else if (roll < 660) {
    cancel_trade();
  } else if (roll < 720 && on("crash")) {
    if (rt_->running()) {
      rt_->crash();
      ++result_.coverage["crash:kill"];
      restart_at_ = now().plus_ms(rng_.range(0, 5000));
      trace_.add("engine killed");
    }
  } else if (roll < 780 && on("crash")) {
    if (rt_->running() && !crash_armed_) {
      crash_armed_ = true;
      crash_armed_before_send_ = rng_.chance(500);
      const int n = static_cast<int>(rng_.range(1, 6));
      rt_->crash_at_command(n, crash_armed_before_send_);
      trace_.add(fmt::format("armed crash at command +{} {}", n,
                             crash_armed_before_send_ ? "before send" : "after send"));
    }
  } else if (roll < 820 && on("lose_response")) {
    const int n = static_cast<int>(rng_.range(1, 2));
    rt_->lose_next_submit_responses(n);
    ++result_.coverage["runtime:lose_submit_response"];
    trace_.add(fmt::format("lose the next {} submit responses", n));
  } else if (roll < 860 && on("result_delay")) {
    const auto ms = rng_.chance(300) ? 0 : rng_.range(50, 3000);
    rt_->set_result_delay_ms(ms);
    ++result_.coverage["runtime:result_delay"];
    trace_.add(fmt::format("result delay {} ms", ms));
  }
  run_for(rng_.range(100, 3000));
}

void World::check_continuous() {
  checker_->check_audit_log();
  check_unexpected_states();
  checker_->check_rate(transport_->max_calls_per_minute());
  if (opt_.check_protection || opt_.protection_stats) {
    constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max() / 4;
    Checker::ProtectionBounds b{kNever, kNever, kNever};
    if (opt_.check_protection) {
      b = {grace_ms_, kRaiseWithinMs, kRaisedBoundMs, lost_fill_ms_, lost_end_ms_};
    }
    std::set<std::string> raised;
    if (rt_->running()) {
      for (const Alert& a : rt_->engine().active_alerts()) {
        if (a.kind == AlertKind::unprotected_position) raised.insert(a.subject);
      }
    }
    result_.longest_unprotected_ms = checker_->check_protection(b, rt_->running(), raised);
  }
}

// I10: the engine's anomaly alert on subject `engine` says which input and what it met.
void World::check_unexpected_states() {
  const std::int64_t n = rt_->unexpected_states();
  if (n == unexpected_seen_) return;
  std::string what = "(engine not running: its alert is gone)";
  if (rt_->running()) {
    for (const Alert& a : rt_->engine().active_alerts()) {
      if (a.kind == AlertKind::anomaly && a.subject == "engine") what = a.message;
    }
  }
  violation("I10", fmt::format("{} input(s) rolled back for an unexpected state: {}",
                               n - unexpected_seen_, what));
  unexpected_seen_ = n;
}

void World::check_final() {
  checker_->check_final(rt_->engine());
  check_unexpected_states();
  check_modified_exits();
}

RunResult World::run() {
  if (Status st = setup(); !st.ok()) {
    result_.violations.push_back({"setup", st.message()});
    return std::move(result_);
  }
  for (int i = 0; i < opt_.steps; ++i) step();

  // Faults stop; the process is up, the stream connected; then a quiet period.
  exchange_->set_faults_json(R"({"rules":[]})");
  store_->set_commit_failure_per_mille(0);
  store_->set_load_failure_per_mille(0);
  rt_->set_result_delay_ms(0);
  rt_->lose_next_submit_responses(0);
  rt_->crash_at_command(0, false);  // disarms: the count it names has already passed
  crash_armed_ = false;
  if (reopen_at_) {
    exchange_->session(sim::SessionEvent::open);
    reopen_at_.reset();
    trace_.add("session open");
  }
  trace_.add("faults stopped; quiet period");
  if (!stream_up_) reconnect_at_ = now();
  restart_at_ = now();
  run_for(quiet_ms_);
  // An order backing off after a run of refusals may be due only after the quiet period (the
  // backoff doubles up to minutes); it is judged once its last scheduled attempt had its
  // quiet period too. Bounded: a retry that keeps being rescheduled is a finding.
  for (int extension = 0; extension < 8 && rt_->running(); ++extension) {
    std::optional<Timestamp> due;
    for (const Order& o : rt_->engine().orders()) {
      if (o.state == OrderState::created && o.next_attempt_at && *o.next_attempt_at > now() &&
          (!due || *o.next_attempt_at > *due)) {
        due = o.next_attempt_at;
      }
    }
    if (!due) break;
    trace_.add(fmt::format("an order retries at +{} ms: quiet period extended",
                           due->ms_since(now())));
    run_for(due->ms_since(now()) + quiet_ms_);
  }
  if (!rt_->running()) {
    violation("setup", "the engine did not restart after the faults stopped");
  } else {
    rt_->settle();
    check_final();
  }

  // Coverage: what the exchange and the store actually injected.
  auto stats = boost::json::parse(exchange_->stats_json()).as_object();
  if (auto* f = stats.if_contains("faults")) {
    for (const auto& kv : f->as_object()) {
      result_.coverage["fault:" + std::string(kv.key())] += kv.value().to_number<std::int64_t>();
    }
  }
  if (store_->failed_commits() > 0) result_.coverage["store:commit_failed"] += store_->failed_commits();
  if (transport_->lost_responses() > 0) result_.coverage["http:lost_response"] += transport_->lost_responses();
  if (transport_->wash_trades() > 0) result_.coverage["broker:wash_trade_refused"] += transport_->wash_trades();
  if (transport_->no_buying_power() > 0) result_.coverage["broker:buying_power_refused"] += transport_->no_buying_power();
  if (transport_->timeouts() > 0) result_.coverage["http:client_timeout"] += transport_->timeouts();
  result_.summary = fmt::format(
      "trades={} rest_calls={} max_calls_per_min={} stream_heard={} stream_lost={} commits={} "
      "failed_commits={} trace_lines={}",
      trades_opened_, transport_->calls(), transport_->max_calls_per_minute(), stream_delivered_,
      stream_lost_, store_->commits(), store_->failed_commits(), trace_.lines());
  result_.trace_hash = trace_.hash();
  result_.trace_lines = trace_.lines();
  result_.trace_tail.assign(trace_.tail().begin(), trace_.tail().end());
  return std::move(result_);
}

}  // namespace

RunResult run_seed(const Options& options) {
  World w(options);
  return w.run();
}

}  // namespace orderly::dst
