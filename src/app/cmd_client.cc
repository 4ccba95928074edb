// The client commands: they read and steer the running daemon through its local API.
//   orderly trade open SYMBOL --qty N|--notional USD [--limit P] [--stop P [--stop-limit P]]
//                      [--tif T] [--extended-hours] [--side buy|sell] [--tp P|+X%]
//                      [--sl P|-X%|trail:P|trail:X%] [--exits native|emulated|none]
//                      [--client-trade-id ID] [--wait [S]]
//   orderly trade modify ID [--tp P|+X%|none] [--sl P|-X%|trail:P|trail:X%|none]
//   orderly trade cancel ID [--flatten] | trade close ID | close-all --yes
//   orderly status | orders | positions | alerts | audit ORDER | reconcile [--fix]
#include <CLI/CLI.hpp>
#include <boost/json.hpp>

#include <chrono>
#include <iostream>
#include <optional>
#include <thread>
#include <memory>
#include <random>
#include <tuple>

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

// The daemon's answer: `verdict` turns it into the exit code (the same with --json as with the
// table), `print` shows it unless --json prints the daemon's JSON as it came.
template <typename Print, typename Verdict>
int shown(const ClientOptions& options, const std::string& reply, Print print, Verdict verdict) {
  boost::system::error_code ec;
  json::value v = json::parse(reply, ec);
  if (ec) {
    std::cerr << "orderly: the daemon's answer is not JSON\n";
    return kExitFailure;
  }
  if (options.json) {
    std::cout << reply << (reply.empty() || reply.back() != '\n' ? "\n" : "");
  } else {
    print(v);
  }
  return verdict(v);
}

// Calls the daemon and shows its answer.
template <typename Print, typename Verdict>
int query(const ClientOptions& options, const std::string& method, const std::string& target,
          const std::string& body, Print print, Verdict verdict, const std::vector<int>& pass = {}) {
  std::string reply;
  int code = call_daemon(options, method, target, body, reply, pass);
  if (code != kExitOk) return code;
  return shown(options, reply, print, verdict);
}

template <typename Print>
int query(const ClientOptions& options, const std::string& method, const std::string& target,
          const std::string& body, Print print) {
  return query(options, method, target, body, print, [](const json::value&) { return kExitOk; });
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
  std::string notional;
  std::string limit;
  std::string stop;        // the entry's stop price: a stop (breakout) entry
  std::string stop_limit;  // with --stop: the limit of a stop-limit entry
  std::string tif;         // empty: the daemon's default (day when fractional, else gtc)
  bool extended_hours = false;
  std::string tp;
  std::string sl;
  std::string exits = "emulated";
  std::string side = "buy";
  std::string client_trade_id;  // empty: one is made up, so that a retry can name the same trade
  std::optional<double> wait;  // --wait [S]: seconds to wait for the entry to reach the broker
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
  // "trail:0.50" / "trail:1.5%": a trailing stop-loss (the daemon refuses it on a take-profit).
  const bool trail = text.starts_with("trail:");
  if (trail) text.erase(0, 6);
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
  if (trail) return json::object{{percent ? "trail_percent" : "trail_price", d->str()}};
  if (percent) return json::object{{"percent", d->str()}};
  return json::object{{price_key, d->str()}};
}

// A positive decimal option, or the usage error that names it.
std::optional<std::string> positive(const std::string& flag, const std::string& text,
                                    std::string& problem) {
  auto d = Decimal::parse(text);
  if (!d || !d->is_positive()) {
    problem = flag + " '" + text + "' is not a positive number";
    return std::nullopt;
  }
  return d->str();
}

// The entry of `trade open`: its size, type and prices, tif and session. Empty `problem`: ok.
json::object entry_body(const TradeOptions& t, std::string& problem) {
  json::object body{{"symbol", t.symbol}, {"side", t.side}, {"exits", t.exits}};
  auto size = t.notional.empty() ? positive("--qty", t.qty, problem)
                                 : positive("--notional", t.notional, problem);
  if (!size) return body;
  body[t.notional.empty() ? "qty" : "notional"] = *size;
  json::object entry{{"type", "market"}};
  if (!t.stop_limit.empty() && t.stop.empty()) {
    problem = "--stop-limit is the limit of a stop-limit entry: give its --stop too";
    return body;
  }
  if (!t.stop.empty() && !t.limit.empty()) {
    problem = "--limit and --stop: for a stop-limit entry give --stop P --stop-limit P";
    return body;
  }
  for (const auto& [flag, text, key] :
       {std::tuple{"--limit", t.limit, "limit_price"}, {"--stop", t.stop, "stop_price"},
        {"--stop-limit", t.stop_limit, "limit_price"}}) {
    if (text.empty()) continue;
    auto price = positive(flag, text, problem);
    if (!price) return body;
    entry[key] = *price;
  }
  const bool has_stop = entry.contains("stop_price");
  const bool has_limit = entry.contains("limit_price");
  entry["type"] = has_stop ? (has_limit ? "stop_limit" : "stop") : (has_limit ? "limit" : "market");
  body["entry"] = std::move(entry);
  if (!t.tif.empty()) body["tif"] = t.tif;
  if (t.extended_hours) body["extended_hours"] = true;
  return body;
}

// "" (the flag alone) is `otherwise` seconds.
std::optional<double> wait_seconds(const std::string& text, double otherwise) {
  if (text.empty()) return otherwise;
  auto d = Decimal::parse(text);
  if (!d || d->is_negative()) return std::nullopt;
  return std::stod(d->str());
}

void print_trade(const json::value& v) {
  const auto& trade = v.as_object();
  std::cout << "trade " << cell(trade, "id") << " " << cell(trade, "symbol") << " "
            << cell(trade, "state") << " (exits " << cell(trade, "exits") << ")\n";
  if (const auto* orders = trade.if_contains("orders"); orders && orders->is_array()) {
    std::cout << orders_table(orders->as_array());
  }
}

// Where the trade's entry stands: at the broker (it has a broker id), refused (with the
// broker's reason), or still on its way.
enum class EntryFate { pending, at_broker, refused };
EntryFate entry_fate(const json::object& trade, std::string& reason) {
  if (cell(trade, "state") == "failed") {
    reason = cell(trade, "note");
    return EntryFate::refused;
  }
  const json::value* orders = trade.if_contains("orders");
  if (orders == nullptr || !orders->is_array()) return EntryFate::pending;
  for (const auto& item : orders->as_array()) {
    const auto& o = item.as_object();
    if (cell(o, "role") != "entry") continue;
    const std::string state = cell(o, "state");
    if (state == "submit_failed" || state == "parked" || state == "rejected") {
      reason = cell(o, "last_error");
      return EntryFate::refused;
    }
    if (cell(o, "broker_order_id") != "-") return EntryFate::at_broker;
  }
  return EntryFate::pending;
}

// True (and said) when the daemon's /healthz says the broker is unreachable: an entry waiting
// for it is exit 3, as every command says "cannot be reached", not 1 (a refusal or a problem).
bool broker_unreachable(const ClientOptions& client) {
  std::string reply;
  if (call_daemon(client, "GET", "/healthz", "", reply, {503}) != kExitOk) return false;
  boost::system::error_code ec;
  json::value h = json::parse(reply, ec);
  const json::value* reachable =
      !ec && h.is_object() ? h.as_object().if_contains("broker_reachable") : nullptr;
  if (reachable == nullptr || !reachable->is_bool() || reachable->as_bool()) return false;
  std::cerr << "orderly trade open: the broker is unreachable; the entry is sent when it is back\n";
  return true;
}

// trade open --wait: asks for the trade until its entry is at the broker (exit 0) or refused
// (exit 1, the broker's reason on stderr); still on its way after `seconds`: exit 1, or 3 while
// the broker is unreachable.
int wait_for_entry(const ClientOptions& client, const std::string& created, double seconds) {
  boost::system::error_code ec;
  json::value v = json::parse(created, ec);
  if (ec || !v.is_object()) {
    std::cerr << "orderly: the daemon's answer is not JSON\n";
    return kExitFailure;
  }
  const std::string id = cell(v.as_object(), "id");
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000));
  std::string reason;
  EntryFate fate = entry_fate(v.as_object(), reason);
  while (fate == EntryFate::pending && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    std::string reply;
    if (int code = call_daemon(client, "GET", "/api/trades/" + id, "", reply); code != kExitOk) {
      return code;
    }
    json::value now = json::parse(reply, ec);
    if (ec || !now.is_object()) continue;
    v = std::move(now);
    fate = entry_fate(v.as_object(), reason);
  }
  if (client.json) {
    std::cout << json::serialize(v) << "\n";
  } else {
    print_trade(v);
  }
  if (fate == EntryFate::refused) {
    std::cerr << "orderly trade open: the entry was refused: "
              << (reason == "-" ? std::string("no reason given") : reason) << "\n";
    return kExitFailure;
  }
  if (fate == EntryFate::pending) {
    std::cerr << "orderly trade open: the entry is not at the broker after " << seconds
              << " s (still being sent)\n";
    return broker_unreachable(client) ? kExitUnavailable : kExitFailure;
  }
  return kExitOk;
}

int trade_open(const TradeOptions& t) {
  std::string problem;
  json::object body = entry_body(t, problem);
  if (problem.empty() && !t.tp.empty()) {
    if (auto tp = price_target(t.tp, '+', "limit_price", problem)) {
      body["take_profit"] = *tp;
    } else {
      problem = "--tp " + problem;
    }
  }
  if (problem.empty() && !t.sl.empty()) {
    if (auto sl = price_target(t.sl, '-', "stop_price", problem)) {
      body["stop_loss"] = *sl;
    } else {
      problem = "--sl " + problem;
    }
  }
  if (!problem.empty()) {
    std::cerr << "orderly trade open: " << problem << "\n";
    return kExitUsage;
  }
  const std::string key = t.client_trade_id.empty() ? make_client_trade_id() : t.client_trade_id;
  body["client_trade_id"] = key;
  const std::string request = json::serialize(body);
  std::string reply;
  const int code = call_daemon(t.client, "POST", "/api/trades", request, reply);
  if (code == kExitOk && t.wait) return wait_for_entry(t.client, reply, *t.wait);
  if (code == kExitOk) {
    return shown(t.client, reply, print_trade, [](const json::value&) { return kExitOk; });
  }
  // A 503 is an answer: the trade was not opened (the daemon says why). Only an answer lost on
  // the way leaves it open to doubt.
  if (code == kExitUnavailable && reply.empty()) {
    // The daemon may have recorded the trade before the answer was lost: the same key finds it.
    std::cerr << "orderly trade open: the trade may have been opened; repeat the command with "
                 "--client-trade-id " << key << " to get it (never a second trade)\n";
  }
  return code;
}

// ---- trade cancel / close --------------------------------------------------------------------

// `trade cancel ID [--flatten]`: DELETE /api/trades/ID (what has not filled; the daemon refuses
// with 409 while a position is held) or with ?flatten=true; `trade close ID`: the latter.
void add_trade_cancel_close(CLI::App* trade, int& exit_code) {
  struct Options {
    ClientOptions client;
    std::string id;
    bool flatten = false;
  };
  auto c = std::make_shared<Options>();
  auto* cancel = trade->add_subcommand(
      "cancel", "Cancel what has not filled (refused while a position is held, unless --flatten)");
  cancel->add_option("ID", c->id, "the trade's id")->required();
  cancel->add_flag("--flatten", c->flatten,
                   "also cancel its exits and sell (buy back) what it holds at market");
  add_client_options(cancel, c->client);
  auto x = std::make_shared<Options>();
  auto* close = trade->add_subcommand(
      "close", "Close a trade: cancel its orders, then sell (buy back) what it holds at market");
  close->add_option("ID", x->id, "the trade's id")->required();
  add_client_options(close, x->client);
  auto run = [&exit_code](const Options& o, bool flatten) {
    if (o.id.empty() || o.id.find_first_not_of("0123456789") != std::string::npos) {
      std::cerr << "orderly trade: ID must be a trade's number\n";
      exit_code = kExitUsage;
      return;
    }
    const std::string target = "/api/trades/" + o.id + (flatten ? "?flatten=true" : "");
    exit_code = query(o.client, "DELETE", target, "", print_trade);
  };
  cancel->callback([c, run] { run(*c, c->flatten); });
  close->callback([x, run] { run(*x, true); });
}

// ---- trade modify ----------------------------------------------------------------------------

// One exit of `trade modify`: "none" removes it, anything else is read as `trade open` reads it.
bool add_exit_change(json::object& body, const char* key, const std::string& text, char sign,
                     const char* price_key, std::string& problem) {
  if (text.empty()) return true;
  if (text == "none") {
    body[key] = nullptr;
    return true;
  }
  auto target = price_target(text, sign, price_key, problem);
  if (target) body[key] = std::move(*target);
  return target.has_value();
}

// `trade modify ID --tp P --sl P`: PATCH /api/trades/ID. The daemon validates (400 naming the
// rule) and answers with the trade; its exits at the broker follow.
void add_trade_modify(CLI::App* trade, int& exit_code) {
  struct Options {
    ClientOptions client;
    std::string id, tp, sl;
  };
  auto o = std::make_shared<Options>();
  auto* cmd = trade->add_subcommand(
      "modify", "Move a trade's exits (replaced at the broker; canceled and placed again where "
                "Alpaca takes no replace)");
  cmd->add_option("ID", o->id, "the trade's id")->required();
  cmd->add_option("--tp", o->tp, "new take-profit: a price, +X% from the fill, or none");
  cmd->add_option("--sl", o->sl,
                  "new stop-loss: a price, -X% from the fill, trail:P, trail:X%, or none");
  add_client_options(cmd, o->client);
  cmd->callback([o, &exit_code] {
    std::string problem;
    json::object body;
    if (o->id.empty() || o->id.find_first_not_of("0123456789") != std::string::npos) {
      problem = "ID must be a trade's number";
    } else if (o->tp.empty() && o->sl.empty()) {
      problem = "give --tp and/or --sl";
    } else if (!add_exit_change(body, "take_profit", o->tp, '+', "limit_price", problem)) {
      problem = "--tp " + problem;
    } else if (!add_exit_change(body, "stop_loss", o->sl, '-', "stop_price", problem)) {
      problem = "--sl " + problem;
    }
    if (!problem.empty()) {
      std::cerr << "orderly trade modify: " << problem << "\n";
      exit_code = kExitUsage;
      return;
    }
    exit_code = query(o->client, "PATCH", "/api/trades/" + o->id, json::serialize(body),
                      [](const json::value& v) {
                        std::cout << cell(v.as_object(), "note") << "\n";  // what changed
                        print_trade(v);
                      });
  });
}

// ---- reads -----------------------------------------------------------------------------------

// ok 0, degraded 1, down 3 (as unreachable: the account cannot trade).
int health_verdict(const json::value& v) {
  const json::value* status = v.is_object() ? v.as_object().if_contains("status") : nullptr;
  if (status == nullptr || !status->is_string()) return kExitUnavailable;
  if (status->as_string() == "ok") return kExitOk;
  return status->as_string() == "degraded" ? kExitFailure : kExitUnavailable;
}

// "open, closes 2026-12-03T21:00:00Z" from /healthz's market (the broker's clock).
std::string market_line(const json::value* m) {
  if (m == nullptr || !m->is_object()) return "not read yet";
  const auto& o = m->as_object();
  const json::value* open = o.if_contains("is_open");
  if (open == nullptr || !open->is_bool()) return "not read yet";
  return open->as_bool() ? "open, closes " + cell(o, "next_close")
                         : "closed, opens " + cell(o, "next_open");
}

void print_health(const json::value& v) {
  const auto& h = v.as_object();
  std::cout << "status:            " << cell(h, "status") << "\n";
  if (const auto* reasons = h.if_contains("reasons"); reasons && reasons->is_array()) {
    for (const auto& r : reasons->as_array()) std::cout << "  - " << cell(&r) << "\n";
  }
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
    std::cout << format_table({"ACCOUNT", "STATE", "STATUS", "STREAM", "SYNC LAG", "OPEN",
                               "REST/MIN", "LEASES LOST"},
                              rows);
    return;
  }
  if (!h.contains("stream_connected")) return;  // not running yet: the reasons say why
  std::cout << "stream connected:  " << cell(h, "stream_connected") << "\n"
            << "last stream event: " << cell(h, "last_stream_event_at") << "\n"
            << "last sync:         " << cell(h, "last_sync_at") << "\n"
            << "sync lag (ms):     " << cell(h, "sync_lag_ms") << "\n"
            << "store ok:          " << cell(h, "store_ok") << "\n"
            << "broker ok:         " << cell(h, "broker_ok") << "\n"
            << "unprotected:       " << cell(h, "unprotected_positions") << "\n"
            << "open orders:       " << cell(h, "open_orders") << "\n"
            << "REST calls/min:    " << cell(h, "rest_calls_last_minute") << " of "
            << cell(h, "rest_budget_per_minute") << "\n"
            << "market:            " << market_line(h.if_contains("market")) << "\n";
}

int status_once(const ClientOptions& o) {
  return query(o, "GET", "/healthz", "", print_health, health_verdict, {503});
}

// --wait S: asks every half second until the daemon says ok (or S seconds passed), quietly;
// then answers like a plain `status`.
int status(const ClientOptions& o, std::optional<double> wait_s) {
  if (wait_s) {
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::milliseconds(static_cast<std::int64_t>(*wait_s * 1000));
    while (std::chrono::steady_clock::now() < deadline) {
      std::string reply;
      std::cerr.setstate(std::ios::failbit);  // "unreachable" is expected while it starts
      const int code = call_daemon(o, "GET", "/healthz", "", reply, {503});
      std::cerr.clear();
      boost::system::error_code ec;
      json::value v = json::parse(reply, ec);
      if (code == kExitOk && !ec && health_verdict(v) == kExitOk) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
  }
  return status_once(o);
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
  if (!o.symbol.empty()) {
    // A crypto pair's slash (BTC/USD) is written %2F, as any character outside a symbol's own.
    std::string encoded;
    for (char c : o.symbol) encoded += c == '/' ? std::string("%2F") : std::string(1, c);
    target += "&symbol=" + encoded;
  }
  if (!o.trade_id.empty()) target += "&trade_id=" + o.trade_id;
  if (o.open) target += "&open=true";
  return query(o.client, "GET", target, "", [](const json::value& v) {
    std::cout << orders_table(v.as_array());
    return kExitOk;
  });
}

bool drifting(const json::object& p) {
  const json::value* m = p.if_contains("mismatch");
  if (m != nullptr && m->is_bool()) return m->as_bool();
  auto d = Decimal::parse(cell(p, "drift"));  // "0.0" is no drift: compared as a number
  return d && !d->is_zero();
}

int positions(const ClientOptions& o) {
  return query(
      o, "GET", "/api/positions", "",
      [](const json::value& v) {
        std::vector<std::vector<std::string>> rows;
        for (const auto& item : v.as_array()) {
          const auto& p = item.as_object();
          rows.push_back({cell(p, "symbol"), cell(p, "local_qty"), cell(p, "broker_qty"),
                          cell(p, "avg_entry_price"), cell(p, "current_price"),
                          cell(p, "unrealized_pl"),
                          cell(p, "drift") + (drifting(p) ? "  <-- DRIFT" : "")});
        }
        std::cout << format_table(
            {"SYMBOL", "LOCAL", "BROKER", "AVG ENTRY", "LAST", "UNREALIZED P&L", "DRIFT"}, rows);
      },
      [](const json::value& v) {
        for (const auto& item : v.as_array()) {
          if (drifting(item.as_object())) return kExitFailure;
        }
        return kExitOk;
      });
}

// Exit 1 while any alert is active (whatever --all shows).
int alerts(const ClientOptions& o, bool all) {
  return query(
      o, "GET", all ? "/api/alerts" : "/api/alerts?active=true", "",
      [](const json::value& v) {
        std::vector<std::vector<std::string>> rows;
        for (const auto& item : v.as_array()) {
          const auto& a = item.as_object();
          rows.push_back({cell(a, "id"), cell(a, "severity"), cell(a, "kind"), cell(a, "subject"),
                          cell(a, "raised_at"), cell(a, "cleared_at"), cell(a, "message")});
        }
        std::cout << format_table(
            {"ID", "SEVERITY", "KIND", "SUBJECT", "RAISED", "CLEARED", "MESSAGE"}, rows);
      },
      [](const json::value& v) {
        for (const auto& item : v.as_array()) {
          const json::value* active = item.as_object().if_contains("active");
          if (active != nullptr && active->is_bool() && active->as_bool()) return kExitFailure;
        }
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
  });
}

int reconcile(const ClientOptions& o, bool fix) {
  json::object body{{"fix", fix}};
  return query(
      o, "POST", "/api/reconcile", json::serialize(body),
      [](const json::value& v) {
        const auto& r = v.as_object();
        std::cout << "orders checked:      " << cell(r, "orders_checked") << "\n"
                  << "orders adopted:      " << cell(r, "orders_adopted") << "\n"
                  << "external orders:     " << cell(r, "orders_external") << "\n"
                  << "ours, not adoptable: " << cell(r, "orders_unadopted") << "\n"
                  << "fills adopted:       " << cell(r, "fills_adopted") << "\n"
                  << "position mismatches: " << cell(r, "position_mismatches") << "\n";
        if (const auto* done = r.if_contains("complete"); done && done->is_bool() && !done->as_bool()) {
          std::cout << "INCOMPLETE: the reconciliation still runs (the broker is slow); these "
                       "are its findings so far\n";
        }
        for (const auto& f : r.at("findings").as_array()) std::cout << "  " << cell(&f) << "\n";
      },
      [](const json::value& v) {
        const auto& r = v.as_object();
        const json::value* complete = r.if_contains("complete");
        // External orders are reported, not failed: someone may trade by hand on the account.
        const bool clean = cell(r, "position_mismatches") == "0" &&
                           (cell(r, "orders_unadopted") == "0" ||
                            cell(r, "orders_unadopted") == "-") &&
                           !(complete && complete->is_bool() && !complete->as_bool());
        return clean ? kExitOk : kExitFailure;
      });
}

const bool registered_trade = register_command({"trade", 30, [](CLI::App& app, int& exit_code) {
  auto* trade = app.add_subcommand("trade",
                                   "Open, modify, cancel and close trades on the running daemon");
  trade->require_subcommand(1);
  auto t = std::make_shared<TradeOptions>();
  auto* open = trade->add_subcommand(
      "open", "Open a trade: an entry plus its take-profit and/or stop-loss");
  open->add_option("SYMBOL", t->symbol, "symbol, e.g. STWD")->required();
  auto* qty = open->add_option("--qty", t->qty, "quantity, e.g. 37 (fractional: 0.5, tif day)");
  auto* notional = open->add_option("--notional", t->notional,
                                    "dollars to buy at market instead of a quantity (tif day)");
  qty->excludes(notional);
  open->add_option("--limit", t->limit, "limit price of the entry (market when absent)");
  open->add_option("--stop", t->stop, "stop price of the entry: a stop (breakout) entry");
  open->add_option("--stop-limit", t->stop_limit, "with --stop: the limit of a stop-limit entry");
  open->add_option("--tif", t->tif, "time in force of the entry (default: day when fractional, "
                                    "notional or extended hours, else gtc)")
      ->check(CLI::IsMember({"day", "gtc", "ioc", "fok", "opg", "cls"}));
  open->add_flag("--extended-hours", t->extended_hours,
                 "a limit day entry that may fill before the open and after the close");
  open->add_option("--tp", t->tp, "take-profit: a price (10.50) or a percent from the fill (+2%)");
  open->add_option("--sl", t->sl, "stop-loss: a price (9.80), a percent from the fill (-1%), "
                                  "or a trailing stop (trail:0.50, trail:1.5%)");
  open->add_option("--exits", t->exits,
                   "native (bracket), emulated (after the fill) or none (the entry alone)")
      ->check(CLI::IsMember({"native", "emulated", "none"}));
  open->add_option("--side", t->side, "buy, or sell to open a short (its exits buy)")
      ->check(CLI::IsMember({"buy", "sell"}));
  open->add_option("--client-trade-id", t->client_trade_id,
                   "your key for this trade (1-64 of A-Za-z0-9_.:-); a repeat with the same key "
                   "returns that trade instead of opening another (default: a new key)");
  auto wait = std::make_shared<std::string>();
  open->add_option("--wait", *wait,
                   "wait up to SECONDS (default 30) until the entry is at the broker or refused "
                   "(exit 1 with the broker's reason)")
      ->expected(0, 1);
  add_client_options(open, t->client);
  open->callback([t, wait, open, &exit_code] {
    if (open->count("--wait") > 0) {
      t->wait = wait_seconds(*wait, 30);
      if (!t->wait) {
        std::cerr << "orderly trade open: --wait '" << *wait << "' is not a number of seconds\n";
        exit_code = kExitUsage;
        return;
      }
    }
    if (t->qty.empty() == t->notional.empty()) {
      std::cerr << "orderly trade open: give --qty or --notional\n";
      exit_code = kExitUsage;
      return;
    }
    exit_code = trade_open(*t);
  });
  add_trade_cancel_close(trade, exit_code);
  add_trade_modify(trade, exit_code);
}});

const bool registered_close_all = register_command({"close-all", 35, [](CLI::App& app,
                                                                         int& exit_code) {
  auto o = std::make_shared<ClientOptions>();
  auto yes = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand(
      "close-all", "Close every open trade: cancel its orders, sell (or buy back) at market");
  cmd->add_flag("--yes", *yes, "really: without it nothing is sent");
  add_client_options(cmd, *o);
  cmd->callback([o, yes, &exit_code] {
    if (!*yes) {
      std::cerr << "orderly close-all: this flattens every open trade at market; add --yes\n";
      exit_code = kExitUsage;
      return;
    }
    exit_code = query(*o, "POST", "/api/close-all", "", [](const json::value& v) {
      const auto& ids = v.as_object().at("closing").as_array();
      std::cout << "closing " << ids.size() << " trade(s)";
      for (const auto& id : ids) std::cout << " " << json::serialize(id);
      std::cout << "\n";
    });
  });
}});

const bool registered_reads = register_command({"status", 40, [](CLI::App& app, int& exit_code) {
  auto s = std::make_shared<ClientOptions>();
  auto wait = std::make_shared<std::string>();
  auto* status_cmd = app.add_subcommand(
      "status", "The daemon's health and why (exit 0 ok, 1 degraded, 3 down or unreachable)");
  status_cmd->add_option("--wait", *wait, "wait up to SECONDS (default 60) for the daemon to be "
                                          "ready (status ok)")
      ->expected(0, 1);
  add_client_options(status_cmd, *s);
  status_cmd->callback([s, wait, status_cmd, &exit_code] {
    std::optional<double> seconds;
    if (status_cmd->count("--wait") > 0) {
      seconds = wait_seconds(*wait, 60);
      if (!seconds) {
        std::cerr << "orderly status: --wait '" << *wait << "' is not a number of seconds\n";
        exit_code = kExitUsage;
        return;
      }
    }
    exit_code = status(*s, seconds);
  });

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
