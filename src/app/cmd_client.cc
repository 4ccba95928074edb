// The client commands: they read and steer the running daemon through its local API.
//   orderly trade open SYMBOL --qty N [--limit P] --tp P|+X% [--sl P|-X%] [--exits native|emulated]
//                      [--client-trade-id ID]
//   orderly status | orders | positions | alerts | audit ORDER | reconcile [--fix]
#include <CLI/CLI.hpp>
#include <boost/json.hpp>

#include <iostream>
#include <memory>
#include <random>

#include "app/cli_client.h"
#include "app/command.h"
#include "core/decimal.h"

namespace orderly::app {
namespace {
namespace json = boost::json;

std::string cell(const json::value* v) {
  if (v == nullptr || v->is_null()) return "-";
  if (v->is_string()) return v->as_string().empty() ? "-" : std::string(v->as_string());
  if (v->is_bool()) return v->as_bool() ? "yes" : "no";
  return json::serialize(*v);
}
std::string cell(const json::object& o, std::string_view key) { return cell(o.if_contains(key)); }

// Calls the daemon and hands the parsed answer to `print` (or prints the JSON with --json).
template <typename Print>
int query(const ClientOptions& options, const std::string& method, const std::string& target,
          const std::string& body, Print print) {
  std::string reply;
  int code = call_daemon(options, method, target, body, reply);
  if (code != kExitOk) return code;
  if (options.json) {
    std::cout << reply << (reply.empty() || reply.back() != '\n' ? "\n" : "");
    return kExitOk;
  }
  boost::system::error_code ec;
  json::value v = json::parse(reply, ec);
  if (ec) {
    std::cerr << "orderly: the daemon's answer is not JSON\n";
    return kExitFailure;
  }
  return print(v);
}

std::string orders_table(const json::array& orders) {
  std::vector<std::vector<std::string>> rows;
  // A daemon serving several accounts tags each order: then the table names it first.
  bool accounts = false;
  for (const auto& item : orders) accounts = accounts || item.as_object().contains("account");
  for (const auto& item : orders) {
    const auto& o = item.as_object();
    rows.push_back({cell(o, "id"), cell(o, "trade_id"), cell(o, "role"), cell(o, "symbol"),
                    cell(o, "side"), cell(o, "type"), cell(o, "qty"), cell(o, "limit_price"),
                    cell(o, "stop_price"), cell(o, "state"), cell(o, "filled_qty"),
                    cell(o, "filled_avg_price"), cell(o, "attempts"), cell(o, "broker_order_id"),
                    age_since(cell(o, "updated_at"))});
    if (accounts) rows.back().insert(rows.back().begin(), cell(o, "account"));
  }
  std::vector<std::string> header = {"ID",     "TRADE", "ROLE",     "SYMBOL",    "SIDE",
                                     "TYPE",   "QTY",   "LIMIT",    "STOP",      "STATE",
                                     "FILLED", "AVG",   "ATTEMPTS", "BROKER ID", "AGE"};
  if (accounts) header.insert(header.begin(), "ACCOUNT");
  return format_table(header, rows);
}

// ---- trade open ------------------------------------------------------------------------------

struct TradeOptions {
  ClientOptions client;
  std::string symbol;
  std::string qty;
  std::string limit;
  std::string tp;
  std::string sl;
  std::string exits = "emulated";
  std::string side = "buy";
  std::string client_trade_id;  // empty: one is made up, so that a retry can name the same trade
};

// "cli-" and 16 random hex digits: unique enough that two invocations never share one.
std::string make_client_trade_id() {
  std::random_device rd;
  std::uint64_t bits = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "cli-";
  for (int i = 0; i < 16; ++i, bits >>= 4) out += kHex[bits & 0xf];
  return out;
}

// "10.50" -> {price_key: "10.50"}; "+2%" / "2%" -> {"percent": "2"}. `sign` is the sign a
// percent may carry ('+' for a take-profit, '-' for a stop-loss).
std::optional<json::object> price_target(std::string text, char sign, const char* price_key,
                                         std::string& problem) {
  bool percent = !text.empty() && text.back() == '%';
  if (percent) {
    text.pop_back();
    if (!text.empty() && text.front() == sign) text.erase(0, 1);
  }
  auto d = Decimal::parse(text);
  if (!d || !d->is_positive()) {
    problem = "'" + text + "' is not a positive price or percent";
    return std::nullopt;
  }
  if (percent) return json::object{{"percent", d->str()}};
  return json::object{{price_key, d->str()}};
}

int trade_open(const TradeOptions& t) {
  auto qty = Decimal::parse(t.qty);
  if (!qty || !qty->is_positive()) {
    std::cerr << "orderly trade open: --qty '" << t.qty << "' is not a positive quantity\n";
    return kExitUsage;
  }
  json::object body{{"symbol", t.symbol}, {"side", t.side}, {"qty", qty->str()}, {"exits", t.exits}};
  if (t.limit.empty()) {
    body["entry"] = json::object{{"type", "market"}};
  } else {
    auto limit = Decimal::parse(t.limit);
    if (!limit || !limit->is_positive()) {
      std::cerr << "orderly trade open: --limit '" << t.limit << "' is not a positive price\n";
      return kExitUsage;
    }
    body["entry"] = json::object{{"type", "limit"}, {"limit_price", limit->str()}};
  }
  std::string problem;
  auto tp = price_target(t.tp, '+', "limit_price", problem);
  if (!tp) {
    std::cerr << "orderly trade open: --tp " << problem << "\n";
    return kExitUsage;
  }
  body["take_profit"] = *tp;
  if (!t.sl.empty()) {
    auto sl = price_target(t.sl, '-', "stop_price", problem);
    if (!sl) {
      std::cerr << "orderly trade open: --sl " << problem << "\n";
      return kExitUsage;
    }
    body["stop_loss"] = *sl;
  }
  const std::string key = t.client_trade_id.empty() ? make_client_trade_id() : t.client_trade_id;
  body["client_trade_id"] = key;
  const std::string request = json::serialize(body);
  int code = query(t.client, "POST", "/api/trades", request, [](const json::value& v) {
    const auto& trade = v.as_object();
    std::cout << "trade " << cell(trade, "id") << " " << cell(trade, "symbol") << " "
              << cell(trade, "state") << " (exits " << cell(trade, "exits") << ")\n";
    if (const auto* orders = trade.if_contains("orders"); orders && orders->is_array()) {
      std::cout << orders_table(orders->as_array());
    }
    return kExitOk;
  });
  if (code == kExitUnavailable) {
    // The daemon may have recorded the trade before the answer was lost: the same key finds it.
    std::cerr << "orderly trade open: the trade may have been opened; repeat the command with "
                 "--client-trade-id " << key << " to get it (never a second trade)\n";
  }
  return code;
}

// ---- reads -----------------------------------------------------------------------------------

int status(const ClientOptions& o) {
  return query(o, "GET", "/healthz", "", [](const json::value& v) {
    const auto& h = v.as_object();
    if (const auto* accounts = h.if_contains("accounts"); accounts && accounts->is_array()) {
      // A daemon serving several accounts: one row each.
      std::vector<std::vector<std::string>> rows;
      for (const auto& item : accounts->as_array()) {
        const auto& a = item.as_object();
        const json::value* health = a.if_contains("health");
        auto of = [&](std::string_view key) {
          return health && health->is_object() ? cell(health->as_object(), key) : "-";
        };
        rows.push_back({cell(a, "name"), cell(a, "state"), of("status"), of("stream_connected"),
                        of("sync_lag_ms"), of("open_orders"), of("rest_calls_last_minute"),
                        cell(a, "leases_lost")});
      }
      std::cout << "status: " << cell(h, "status") << "\n"
                << format_table({"ACCOUNT", "STATE", "STATUS", "STREAM", "SYNC LAG", "OPEN",
                                 "REST/MIN", "LEASES LOST"},
                                rows);
      return cell(h, "status") == "ok" ? kExitOk : kExitFailure;
    }
    std::cout << "status:            " << cell(h, "status") << "\n"
              << "stream connected:  " << cell(h, "stream_connected") << "\n"
              << "last stream event: " << cell(h, "last_stream_event_at") << "\n"
              << "last sync:         " << cell(h, "last_sync_at") << "\n"
              << "sync lag (ms):     " << cell(h, "sync_lag_ms") << "\n"
              << "store ok:          " << cell(h, "store_ok") << "\n"
              << "broker ok:         " << cell(h, "broker_ok") << "\n"
              << "open orders:       " << cell(h, "open_orders") << "\n"
              << "REST calls/min:    " << cell(h, "rest_calls_last_minute") << " of "
              << cell(h, "rest_budget_per_minute") << "\n";
    return cell(h, "status") == "ok" ? kExitOk : kExitFailure;
  });
}

struct OrdersOptions {
  ClientOptions client;
  std::string state;
  std::string symbol;
  std::string trade_id;
  bool open = false;
};

int orders(const OrdersOptions& o) {
  std::string target = "/api/orders?limit=1000";
  if (!o.state.empty()) target += "&state=" + o.state;
  if (!o.symbol.empty()) target += "&symbol=" + o.symbol;
  if (!o.trade_id.empty()) target += "&trade_id=" + o.trade_id;
  if (o.open) target += "&open=true";
  return query(o.client, "GET", target, "", [](const json::value& v) {
    std::cout << orders_table(v.as_array());
    return kExitOk;
  });
}

int positions(const ClientOptions& o) {
  return query(o, "GET", "/api/positions", "", [](const json::value& v) {
    std::vector<std::vector<std::string>> rows;
    int drifting = 0;
    for (const auto& item : v.as_array()) {
      const auto& p = item.as_object();
      bool drift = cell(p, "drift") != "0";
      drifting += drift ? 1 : 0;
      rows.push_back({cell(p, "symbol"), cell(p, "local_qty"), cell(p, "broker_qty"),
                      cell(p, "drift") + (drift ? "  <-- DRIFT" : "")});
    }
    std::cout << format_table({"SYMBOL", "LOCAL", "BROKER", "DRIFT"}, rows);
    return drifting == 0 ? kExitOk : kExitFailure;
  });
}

int alerts(const ClientOptions& o, bool all) {
  return query(o, "GET", all ? "/api/alerts" : "/api/alerts?active=true", "",
               [](const json::value& v) {
                 std::vector<std::vector<std::string>> rows;
                 for (const auto& item : v.as_array()) {
                   const auto& a = item.as_object();
                   rows.push_back({cell(a, "id"), cell(a, "kind"), cell(a, "subject"),
                                   cell(a, "raised_at"), cell(a, "cleared_at"), cell(a, "message")});
                 }
                 std::cout << format_table({"ID", "KIND", "SUBJECT", "RAISED", "CLEARED", "MESSAGE"},
                                           rows);
                 return kExitOk;
               });
}

int audit(const ClientOptions& o, const std::string& ref) {
  return query(o, "GET", "/api/orders/" + ref + "/audit", "", [](const json::value& v) {
    const auto& a = v.as_object();
    const auto& order = a.at("order").as_object();
    std::cout << "order " << cell(order, "id") << " (trade " << cell(order, "trade_id") << ", "
              << cell(order, "role") << ") " << cell(order, "side") << " " << cell(order, "qty")
              << " " << cell(order, "symbol") << " " << cell(order, "type") << "\n"
              << "  client_order_id " << cell(order, "client_order_id") << "\n"
              << "  broker_order_id " << cell(order, "broker_order_id") << "\n"
              << "  state " << cell(order, "state") << ", filled " << cell(order, "filled_qty")
              << " @ " << cell(order, "filled_avg_price") << ", attempts "
              << cell(order, "attempts") << "\n\n";
    std::vector<std::vector<std::string>> rows;
    for (const auto& item : a.at("events").as_array()) {
      const auto& e = item.as_object();
      std::string change = cell(e, "from") == "-" ? cell(e, "to") : cell(e, "from") + " -> " + cell(e, "to");
      rows.push_back({cell(e, "seq"), cell(e, "at"), cell(e, "source"), change,
                      cell(e, "filled_qty"), cell(e, "note")});
    }
    std::cout << format_table({"SEQ", "AT", "SOURCE", "STATE", "FILLED", "NOTE"}, rows);
    return kExitOk;
  });
}

int reconcile(const ClientOptions& o, bool fix) {
  json::object body{{"fix", fix}};
  return query(o, "POST", "/api/reconcile", json::serialize(body), [](const json::value& v) {
    const auto& r = v.as_object();
    std::cout << "orders checked:      " << cell(r, "orders_checked") << "\n"
              << "orders adopted:      " << cell(r, "orders_adopted") << "\n"
              << "external orders:     " << cell(r, "orders_external") << "\n"
              << "fills adopted:       " << cell(r, "fills_adopted") << "\n"
              << "position mismatches: " << cell(r, "position_mismatches") << "\n";
    for (const auto& f : r.at("findings").as_array()) std::cout << "  " << cell(&f) << "\n";
    return cell(r, "position_mismatches") == "0" ? kExitOk : kExitFailure;
  });
}

const bool registered_trade = register_command({"trade", 30, [](CLI::App& app, int& exit_code) {
  auto* trade = app.add_subcommand("trade", "Open trades on the running daemon");
  trade->require_subcommand(1);
  auto t = std::make_shared<TradeOptions>();
  auto* open = trade->add_subcommand("open", "Open a trade: an entry plus its take-profit (and stop-loss)");
  open->add_option("SYMBOL", t->symbol, "symbol, e.g. STWD")->required();
  open->add_option("--qty", t->qty, "quantity, e.g. 37")->required();
  open->add_option("--limit", t->limit, "limit price of the entry (market when absent)");
  open->add_option("--tp", t->tp, "take-profit: a price (10.50) or a percent from the fill (+2%)")
      ->required();
  open->add_option("--sl", t->sl, "stop-loss: a price (9.80) or a percent from the fill (-1%)");
  open->add_option("--exits", t->exits, "native (bracket) or emulated (after the fill)")
      ->check(CLI::IsMember({"native", "emulated"}));
  open->add_option("--side", t->side, "side of the entry")->check(CLI::IsMember({"buy", "sell"}));
  open->add_option("--client-trade-id", t->client_trade_id,
                   "your key for this trade (1-64 of A-Za-z0-9_.:-); a repeat with the same key "
                   "returns that trade instead of opening another (default: a new key)");
  add_client_options(open, t->client);
  open->callback([t, &exit_code] { exit_code = trade_open(*t); });
}});

const bool registered_reads = register_command({"status", 40, [](CLI::App& app, int& exit_code) {
  auto s = std::make_shared<ClientOptions>();
  auto* status_cmd = app.add_subcommand("status", "The daemon's health: stream, sync lag, store, broker");
  add_client_options(status_cmd, *s);
  status_cmd->callback([s, &exit_code] { exit_code = status(*s); });

  auto o = std::make_shared<OrdersOptions>();
  auto* orders_cmd = app.add_subcommand("orders", "Local orders (state, broker id, filled qty, age)");
  orders_cmd->add_option("--state", o->state, "only this state (e.g. accepted, filled)");
  orders_cmd->add_option("--symbol", o->symbol, "only this symbol");
  orders_cmd->add_option("--trade", o->trade_id, "only this trade id");
  orders_cmd->add_flag("--open", o->open, "only orders not yet terminal");
  add_client_options(orders_cmd, o->client);
  orders_cmd->callback([o, &exit_code] { exit_code = orders(*o); });

  auto p = std::make_shared<ClientOptions>();
  auto* positions_cmd = app.add_subcommand("positions", "Positions, local beside the broker's, drift flagged");
  add_client_options(positions_cmd, *p);
  positions_cmd->callback([p, &exit_code] { exit_code = positions(*p); });

  auto a = std::make_shared<ClientOptions>();
  auto all = std::make_shared<bool>(false);
  auto* alerts_cmd = app.add_subcommand("alerts", "Active alerts (--all: cleared ones too)");
  alerts_cmd->add_flag("--all", *all, "include cleared alerts");
  add_client_options(alerts_cmd, *a);
  alerts_cmd->callback([a, all, &exit_code] { exit_code = alerts(*a, *all); });
}});

const bool registered_audit = register_command({"audit", 45, [](CLI::App& app, int& exit_code) {
  auto o = std::make_shared<ClientOptions>();
  auto ref = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("audit", "The full lifecycle of one order: every event, its source and why");
  cmd->add_option("ORDER", *ref, "local id, client_order_id or broker_order_id")->required();
  add_client_options(cmd, *o);
  cmd->callback([o, ref, &exit_code] { exit_code = audit(*o, *ref); });
}});

const bool registered_reconcile = register_command({"reconcile", 50, [](CLI::App& app, int& exit_code) {
  auto o = std::make_shared<ClientOptions>();
  auto fix = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand("reconcile", "Compare orders and positions with the broker, once");
  cmd->add_flag("--fix", *fix, "adopt what the broker knows (missed fills, our unknown orders)");
  add_client_options(cmd, *o);
  cmd->callback([o, fix, &exit_code] { exit_code = reconcile(*o, *fix); });
}});

}  // namespace
}  // namespace orderly::app
