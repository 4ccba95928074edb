// orderly check-orders BROKER_ORDER_ID... [--json] [--config FILE]: the broker's own view of
// these orders. The incident's first question was "what does Alpaca say about this order?" and
// nobody could answer it; this asks Alpaca directly, bypassing every local state.
#include <CLI/CLI.hpp>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <iostream>

#include "app/command.h"
#include "app/config.h"
#include "broker/alpaca/alpaca_broker.h"
#include "broker/alpaca/config.h"

namespace orderly::app {
namespace {

struct Options {
  std::vector<std::string> ids;
  std::string config_path;
  bool json = false;
};

std::string opt_text(const std::optional<Decimal>& d) { return d ? d->str() : "-"; }

boost::json::value opt_json(const std::optional<Decimal>& d) {
  if (!d) return nullptr;
  return boost::json::string(d->str());
}

// An answer that arrived but could not be read (exit 1: the broker is reachable).
std::string unreadable_answer(const BrokerError& e, const alpaca::AlpacaConfig& config) {
  return "unreadable answer from the broker: " + alpaca::redact(e.message, config);
}

// An options multi-leg order (order_class mleg) has no side of its own: its legs carry them.
// It was printed "buy", the side an order without one is read with.
std::string side_text(const BrokerOrder& b) {
  if (b.order_class != OrderClass::mleg) return std::string(to_string(b.side));
  std::string out = "mleg:";
  for (const BrokerOrder& leg : b.legs) {
    out += fmt::format("{} {} {} {}", out.back() == ':' ? "" : ",", to_string(leg.side),
                       opt_text(leg.qty), leg.symbol);
  }
  return out;
}

// The broker's view of one order, as a --json row.
boost::json::object found_row(const std::string& id, const BrokerOrder& b) {
  boost::json::object row;
  row["id"] = id;
  row["found"] = true;
  row["status"] = b.status_text;
  row["filled_qty"] = b.filled_qty.str();
  row["filled_avg_price"] = opt_json(b.filled_avg_price);
  row["symbol"] = b.symbol;
  row["side"] = b.order_class == OrderClass::mleg ? "" : std::string(to_string(b.side));
  row["qty"] = opt_json(b.qty);
  row["client_order_id"] = b.client_order_id;
  row["updated_at"] = format_rfc3339(b.updated_at);
  if (!b.legs.empty()) {
    boost::json::array legs;
    for (const BrokerOrder& leg : b.legs) {
      legs.push_back({{"symbol", leg.symbol},
                      {"side", std::string(to_string(leg.side))},
                      {"qty", opt_json(leg.qty)},
                      {"status", leg.status_text}});
    }
    row["legs"] = std::move(legs);
  }
  return row;
}

void print_found(const std::string& id, const BrokerOrder& b) {
  std::cout << id << "  " << b.status_text << "  filled " << b.filled_qty.str() << "/"
            << opt_text(b.qty) << " @ " << opt_text(b.filled_avg_price) << "  " << b.symbol << " "
            << side_text(b) << "  updated " << format_rfc3339(b.updated_at) << "\n";
}

int run(const Options& o) {
  Config config;
  if (!o.config_path.empty()) {
    auto loaded = load_config_file(o.config_path);
    if (!loaded.ok()) {
      std::cerr << "orderly check-orders: " << loaded.status().message() << "\n";
      return kExitUsage;
    }
    config = *loaded;
  }
  apply_env(config);
  const alpaca::AlpacaConfig alpaca_config{config.broker.base_url, config.broker.key_id,
                                           config.broker.secret_key};
  auto broker = alpaca::make_alpaca_broker(alpaca_config);
  if (!broker.ok()) {
    std::cerr << "orderly check-orders: "
              << alpaca::redact(broker.status().message(), alpaca_config) << "\n";
    return kExitUsage;
  }

  int exit_code = kExitOk;
  boost::json::array rows;
  for (const auto& id : o.ids) {
    auto order = (*broker)->get_order(id);
    boost::json::object row;
    row["id"] = id;
    if (order.ok()) {
      row = found_row(id, order.value());
      if (!o.json) print_found(id, order.value());
    } else {
      const BrokerError& e = order.error();
      row["found"] = false;
      const bool unreadable = e.kind == BrokerError::Kind::unreadable;
      if (unreadable || (e.kind == BrokerError::Kind::rejected && e.not_found())) {
        // Unreadable: the broker answered, so it is reachable; its answer is the problem.
        const std::string message = unreadable ? unreadable_answer(e, alpaca_config) : "not found";
        row["error"] = message;
        exit_code = std::max(exit_code, kExitFailure);
        if (!o.json) std::cout << id << "  " << message << (unreadable ? "\n" : " at the broker\n");
      } else {
        const std::string message = alpaca::redact(e.describe(), alpaca_config);
        row["error"] = message;
        // Refused credentials are a configuration problem; anything else: broker unavailable.
        const bool credentials = e.kind == BrokerError::Kind::rejected &&
                                 (e.http_status == 401 || e.http_status == 403);
        exit_code = credentials ? kExitUsage : kExitUnavailable;
        if (!o.json) std::cout << id << "  error: " << message << "\n";
      }
    }
    rows.push_back(std::move(row));
    if (exit_code == kExitUnavailable || exit_code == kExitUsage) break;  // do not hammer it
  }
  if (o.json) std::cout << boost::json::serialize(rows) << "\n";
  return exit_code;
}

const bool registered = register_command(
    {"check-orders", 70, [](CLI::App& app, int& exit_code) {
       auto options = std::make_shared<Options>();
       auto* cmd = app.add_subcommand(
           "check-orders",
           "Ask the broker for the current status, filled qty and average price of orders "
           "(credentials from APCA_API_KEY_ID / APCA_API_SECRET_KEY / APCA_API_BASE_URL or "
           "--config). Exit 0: all found, 1: some not found or unreadable, 3: broker unreachable");
       cmd->add_option("ids", options->ids, "Broker order ids")->required();
       cmd->add_flag("--json", options->json, "One JSON array of results");
       cmd->add_option("--config", options->config_path, "orderly.toml (environment overrides it)");
       cmd->callback([options, &exit_code] { exit_code = run(*options); });
     }});

}  // namespace
}  // namespace orderly::app
