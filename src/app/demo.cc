#include "app/demo.h"

#include <boost/json.hpp>

#include <filesystem>
#include <map>
#include <random>
#include <set>

#include "app/cli_client.h"
#include "core/ids.h"
#include "runtime/runtime.h"
#include "sim/exchange.h"
#include "sim/inprocess/inprocess_broker.h"
#include "store/open.h"
#include "store/store.h"

namespace orderly::app {
namespace json = boost::json;
namespace {

struct Symbol {
  const char* name;
  const char* price;
  int qty;
  bool tp_fills;  // the price later rises through the take-profit
};

// The incident's four symbols (with its quantities where the report shows them) and nine more:
// 13 symbols, as in the report. Eight take-profits fill; five stay open, holding the shares.
constexpr Symbol kSymbols[] = {
    {"OKE", "72.10", 12, true},   {"STWD", "20.15", 37, true},  {"EPD", "31.40", 25, true},
    {"ET", "17.25", 40, true},    {"KMI", "27.30", 30, true},   {"WMB", "57.80", 15, true},
    {"MPLX", "50.20", 18, true},  {"PAA", "17.90", 45, true},   {"TRGP", "165.40", 6, false},
    {"LNG", "225.10", 4, false},  {"AGNC", "9.85", 80, false},  {"NLY", "20.40", 40, false},
    {"BXMT", "18.70", 42, false},
};

// Every take-profit fill (a sell) vanishes from the stream: only polling can find it.
constexpr const char* kFaults =
    R"({"rules":[{"on":"stream","action":"drop","p":1.0,"event":"fill","side":"sell"},)"
    R"({"on":"stream","action":"drop","p":1.0,"event":"partial_fill","side":"sell"}]})";

std::int64_t json_count(const json::value& stats, std::string_view group, std::string_view key) {
  const auto* g = stats.as_object().if_contains(group);
  if (g == nullptr || !g->is_object()) return 0;
  const auto* v = g->as_object().if_contains(key);
  return v != nullptr && v->is_int64() ? v->as_int64() : 0;
}

}  // namespace

StatusOr<DemoResult> run_demo(const std::function<void(const std::string&)>& progress) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path dir = fs::temp_directory_path(ec) /
                 ("orderly-demo-" + std::to_string(std::random_device{}()));
  fs::create_directories(dir, ec);
  if (ec) return Status::error(Status::Code::io_error, "cannot create " + dir.string());
  struct Cleanup {
    fs::path dir;
    ~Cleanup() {
      std::error_code ignored;
      fs::remove_all(dir, ignored);
    }
  } cleanup{dir};

  ManualClock clock;
  sim::SimConfig sim_config;
  sim_config.seed = 7;
  auto exchange = sim::make_exchange(sim_config, clock);
  std::map<std::string, Decimal> prices;
  for (const auto& s : kSymbols) prices[s.name] = Decimal::must(s.price);
  exchange->set_prices(prices);
  if (std::string e = exchange->set_faults_json(kFaults); !e.empty()) {
    return Status::error(Status::Code::internal, "demo fault plan: " + e);
  }

  auto store = open_store("sqlite:" + (dir / "orderly.db").string(), "demo");
  if (!store.ok()) return store.status();
  // The production AlpacaBroker and trade_updates parsing over the model, in this process.
  auto broker_ptr = sim::make_inprocess_broker(*exchange, clock);
  Broker& broker = *broker_ptr;
  sim::InProcessStream stream(*exchange);

  RuntimeOptions options;
  options.engine.account_identity = "demo";
  auto advance = [&](Timestamp now) {
    exchange->advance(now);
    stream.pump(now);
  };
  SimulationRuntime runtime(**store, broker, clock, options, advance);
  if (Status s = runtime.start(); !s) return s;
  stream.start(runtime);

  DemoResult result;
  result.symbols = static_cast<int>(std::size(kSymbols));
  progress("opening " + std::to_string(result.symbols) +
           " trades: market entry, take-profit +2% (emulated: placed after the entry fills)");
  std::map<std::string, TradeId> trade_of;
  for (const auto& s : kSymbols) {
    TradeSpec spec;
    spec.symbol = s.name;
    spec.qty = Decimal::from_int(s.qty);
    spec.entry_type = OrderType::market;
    spec.tif = TimeInForce::day;
    spec.take_profit.percent = Decimal::from_int(2);
    spec.exits = ExitMode::emulated;
    auto trade = runtime.open_trade(spec);
    if (!trade.ok()) return trade.status();
    trade_of[s.name] = trade->id;
  }
  runtime.run_for(5'000);
  progress("entries filled; take-profits accepted by the broker and holding the shares");

  progress("fault plan: every take-profit fill event is dropped from the stream");
  std::map<std::string, Decimal> rally;
  for (const auto& s : kSymbols) {
    if (s.tp_fills) rally[s.name] = *Decimal::must(s.price).add_percent(Decimal::from_int(3));
  }
  exchange->set_prices(rally);
  progress("prices of 8 symbols rise 3%: their take-profits fill at the broker, unseen on the stream");
  for (int i = 1; i <= 3; ++i) {
    runtime.run_for(10'000);
    progress("virtual time +" + std::to_string(5 + i * 10) + " s: polling for missed fills");
  }
  runtime.run_for(10'000);

  // ---- measure, against the broker model
  const EngineMetrics& m = runtime.engine().metrics();
  for (const auto& [reason, n] : m.retries_by_reason) result.retries += n;
  result.fills_stream = m.fills_from_stream;
  result.fills_poll = m.fills_from_poll;
  result.detection_ms_max = m.detection_ms_max;
  json::value stats = json::parse(exchange->stats_json());
  result.submissions = json_count(stats, "requests", "POST /v2/orders");
  result.insufficient_qty_errors = json_count(stats, "errors_by_code", "40310000");

  OrderFilter all;
  all.limit = 100'000;
  auto local_orders = (*store)->list_orders(all);
  if (!local_orders.ok()) return local_orders.status();
  ListOrdersQuery q;
  q.status = OrderListStatus::all;
  auto broker_orders = broker.list_orders(q);
  if (!broker_orders.ok()) {
    return Status::error(Status::Code::unavailable, broker_orders.error().describe());
  }
  std::map<std::string, int> per_intent;  // client ids are unique at Alpaca: count by intent
  std::set<std::string> local_cids;
  for (const auto& o : *local_orders) local_cids.insert(o.client_order_id);
  for (const auto& b : broker_orders.value()) {
    auto parts = parse_client_order_id(b.client_order_id);
    if (!parts) continue;
    std::string intent = std::to_string(parts->trade_id) + "/" +
                         std::string(to_string(parts->role)) + "/" +
                         std::to_string(parts->generation);
    if (++per_intent[intent] > 1 || !local_cids.count(b.client_order_id)) {
      ++result.duplicate_submissions;
    }
  }
  std::map<std::string, const BrokerOrder*> by_broker_id;
  for (const auto& b : broker_orders.value()) by_broker_id[b.id] = &b;
  for (const auto& o : *local_orders) {
    if (!o.broker_order_id) {
      if (!is_terminal(o.state)) ++result.orders_out_of_sync;  // stuck before the broker
      continue;
    }
    auto it = by_broker_id.find(*o.broker_order_id);
    if (it == by_broker_id.end() || it->second->status != o.state ||
        it->second->filled_qty != o.filled_qty) {
      ++result.orders_out_of_sync;
    }
  }
  auto broker_positions = broker.list_positions();
  auto local_positions = (*store)->positions();
  if (!broker_positions.ok() || !local_positions.ok()) {
    return Status::error(Status::Code::unavailable, "cannot read positions");
  }
  std::map<std::string, std::pair<Decimal, Decimal>> pos;  // symbol -> (local, broker)
  for (const auto& p : *local_positions) pos[p.symbol].first = p.qty;
  for (const auto& p : broker_positions.value()) pos[p.symbol].second = p.qty;
  for (const auto& [symbol, qty] : pos) {
    if (qty.first != qty.second) ++result.position_mismatches;
  }

  // ---- per symbol: what happened, from the local state and its audit trail
  std::vector<std::vector<std::string>> rows;
  for (const auto& s : kSymbols) {
    OrderFilter f;
    f.trade_id = trade_of[s.name];
    auto orders = (*store)->list_orders(f);
    std::string entry = "-", tp = "-", tp_state = "-", detected = "-", held = "0";
    if (orders.ok()) {
      for (const auto& o : *orders) {
        if (o.role == OrderRole::entry) {
          entry = o.filled_qty.str() + " @ " + (o.filled_avg_price ? o.filled_avg_price->str() : "-");
        } else if (o.role == OrderRole::take_profit) {
          tp = o.limit_price ? o.limit_price->str() : "-";
          tp_state = std::string(to_string(o.state));
          if (o.state == OrderState::filled) {
            auto events = (*store)->order_events(o.id);
            if (events.ok()) {
              for (const auto& e : *events) {
                if (e.to == OrderState::filled) detected = std::string(to_string(e.source));
              }
            }
          } else if (is_open_at_broker(o.state)) {
            held = o.leaves_qty().str();
          }
        }
      }
    }
    Decimal local = pos[s.name].first, at_broker = pos[s.name].second;
    rows.push_back({s.name, entry, tp, tp_state, detected, held, local.str(), at_broker.str()});
  }
  result.per_symbol = format_table({"SYMBOL", "ENTRY FILLED", "TP LIMIT", "TP STATE",
                                    "TP FILL SEEN BY", "HELD BY TP", "LOCAL POS", "BROKER POS"},
                                   rows);
  auto forensics = analyze_store(**store);
  if (!forensics.ok()) return forensics.status();
  result.forensics = *forensics;
  return result;
}

std::string demo_json(const DemoResult& r) {
  json::object o{
      {"symbols", r.symbols},
      {"submissions", r.submissions},
      {"retries", r.retries},
      {"insufficient_qty_errors", r.insufficient_qty_errors},
      {"duplicate_submissions", r.duplicate_submissions},
      {"orders_out_of_sync", r.orders_out_of_sync},
      {"position_mismatches", r.position_mismatches},
      {"fills_detected", json::object{{"stream", r.fills_stream}, {"poll", r.fills_poll}}},
      {"detection_ms_max", r.detection_ms_max},
  };
  return json::serialize(o);
}

}  // namespace orderly::app
