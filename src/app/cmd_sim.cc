// orderly sim --listen HOST:PORT ...: the Alpaca-compatible exchange simulator over HTTP and
// WebSocket (REST /v2/*, trade_updates at /stream, control under /sim/), until SIGINT/SIGTERM.
#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "app/command.h"

#if ORDERLY_HAVE_SIM
#include "sim/server/sim_server.h"
#endif

namespace orderly::app {
namespace {

struct Options {
  std::string listen = "127.0.0.1:8931";
  std::uint64_t seed = 1;
  std::string cash = "100000";
  std::string crypto_fee = "0.0025";
  std::vector<std::string> price_increments;  // "BTC/USD=1"
  std::int64_t tick_ms = 0;
  std::string faults;
  std::string key;
  std::string secret;
  bool text_frames = false;
  bool partial_fills = false;
  bool regular_hours = false;
  bool no_short = false;
  int rate_limit = 200;
  int threads = 1;
  bool verbose = false;
};

#if ORDERLY_HAVE_SIM
struct HostPort {
  std::string host;
  std::uint16_t port = 0;
};

// "127.0.0.1:8931" or "[::1]:8931".
std::optional<HostPort> parse_listen(const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) return std::nullopt;
  std::string host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  std::string port_text = text.substr(colon + 1);
  if (port_text.empty() || port_text.size() > 5 ||
      port_text.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  int port = std::stoi(port_text);
  if (port > 65535) return std::nullopt;
  return HostPort{host, static_cast<std::uint16_t>(port)};
}

// --faults takes the plan inline or, as "@path", from a file.
std::optional<std::string> read_faults(const std::string& arg, std::string& error) {
  if (arg.empty()) return std::nullopt;
  if (arg.front() != '@') return arg;
  std::ifstream in(arg.substr(1), std::ios::binary);
  if (!in) {
    error = "cannot read fault plan file '" + arg.substr(1) + "'";
    return std::nullopt;
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void setup_logging(bool verbose) {
  // stdout carries the one "listening" line that scripts read; logs go to stderr.
  auto logger = spdlog::stderr_logger_mt("sim");
  logger->set_pattern("%Y-%m-%d %H:%M:%S,%e - %n - %l - %v");
  spdlog::set_default_logger(logger);
  spdlog::set_level(verbose ? spdlog::level::debug : spdlog::level::info);
}

int run(const Options& o) {
  auto where = parse_listen(o.listen);
  if (!where) {
    std::cerr << "orderly sim: --listen must be HOST:PORT, e.g. 127.0.0.1:8931\n";
    return kExitUsage;
  }
  auto cash = Decimal::parse(o.cash);
  if (!cash || cash->is_negative()) {
    std::cerr << "orderly sim: --cash must be a non-negative decimal, e.g. 100000\n";
    return kExitUsage;
  }
  auto crypto_fee = Decimal::parse(o.crypto_fee);
  if (!crypto_fee || crypto_fee->is_negative() || *crypto_fee >= Decimal::from_int(1)) {
    std::cerr << "orderly sim: --crypto-fee must be a rate in [0, 1), e.g. 0.0025 for 0.25%\n";
    return kExitUsage;
  }
  std::map<std::string, Decimal> price_increments;
  for (const std::string& arg : o.price_increments) {
    const auto eq = arg.find('=');
    const std::string pair = arg.substr(0, eq);
    const auto inc = eq == std::string::npos ? std::nullopt : Decimal::parse(arg.substr(eq + 1));
    if (pair.find('/') == std::string::npos || !inc || !inc->is_positive()) {
      std::cerr << "orderly sim: --price-increment takes PAIR=INCREMENT, e.g. BTC/USD=1\n";
      return kExitUsage;
    }
    price_increments[pair] = *inc;
  }
  if (o.key.empty() != o.secret.empty()) {
    std::cerr << "orderly sim: give both --key and --secret, or neither\n";
    return kExitUsage;
  }
  if (o.tick_ms < 0 || o.rate_limit < 0 || o.threads < 1 || o.threads > 64) {
    std::cerr << "orderly sim: --tick-ms and --rate-limit must be >= 0, --threads 1..64\n";
    return kExitUsage;
  }
  std::string error;
  auto faults = read_faults(o.faults, error);
  if (!error.empty()) {
    std::cerr << "orderly sim: " << error << "\n";
    return kExitUsage;
  }
  setup_logging(o.verbose);

  sim::SimServerOptions options;
  options.host = where->host;
  options.port = where->port;
  options.config.seed = o.seed;
  options.config.cash = *cash;
  options.config.tick_ms = o.tick_ms;
  options.config.partial_fills = o.partial_fills;
  options.config.regular_hours_only = o.regular_hours;
  options.config.shorting = !o.no_short;
  options.config.crypto_fee_rate = *crypto_fee;
  options.config.crypto_price_increments = std::move(price_increments);
  options.config.rate_limit_per_min = o.rate_limit;
  if (!o.key.empty()) {
    options.config.key_id = o.key;
    options.config.secret_key = o.secret;
  }
  options.faults_json = faults;
  options.text_frames = o.text_frames;
  options.io_threads = o.threads;

  // Block the stop signals before any server thread exists, so every thread inherits the mask
  // and only sigwait() below sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto server = sim::SimServer::start(std::move(options));
  if (!server.ok()) {
    std::cerr << "orderly sim: " << server.status().message() << "\n";
    bool usage = server.status().code() == Status::Code::invalid_argument;
    return usage ? kExitUsage : kExitUnavailable;
  }
  std::string shown_host =
      where->host.find(':') != std::string::npos ? "[" + where->host + "]" : where->host;
  std::printf("orderly sim listening on %s:%u\n", shown_host.c_str(),
              static_cast<unsigned>((*server)->port()));
  std::fflush(stdout);
  spdlog::info("simulator up: seed {}, cash {}, keys {}, {} frames", o.seed, cash->str(),
               o.key.empty() ? "any" : "required", o.text_frames ? "text" : "binary");

  int signal = 0;
  sigwait(&stop_signals, &signal);
  spdlog::info("{} received, shutting down", signal == SIGINT ? "SIGINT" : "SIGTERM");
  (*server)->stop();
  return kExitOk;
}
#else
int run(const Options&) {
  std::cerr << "orderly sim: this build has no simulator\n";
  return kExitUnavailable;
}
#endif

const bool registered = register_command({"sim", 30, [](CLI::App& app, int& exit_code) {
  auto options = std::make_shared<Options>();
  auto* cmd = app.add_subcommand(
      "sim",
      "Alpaca-compatible exchange simulator: REST /v2/*, trade_updates stream at /stream, "
      "control at /sim/prices, /sim/faults, /sim/stats, /sim/session, /sim/assets");
  cmd->add_option("--listen", options->listen, "HOST:PORT to listen on (port 0: any free port)")
      ->capture_default_str();
  cmd->add_option("--seed", options->seed, "seed of prices, fills and faults")->capture_default_str();
  cmd->add_option("--cash", options->cash, "starting cash in USD")->capture_default_str();
  cmd->add_option("--tick-ms", options->tick_ms,
                  "random-walk step interval in ms (0: prices move only via /sim/prices)")
      ->capture_default_str();
  cmd->add_option("--faults", options->faults, "fault plan JSON, inline or @FILE (see DESIGN.md)");
  cmd->add_option("--key", options->key, "require this APCA-API-KEY-ID");
  cmd->add_option("--secret", options->secret, "require this APCA-API-SECRET-KEY");
  cmd->add_flag("--text-frames", options->text_frames,
                "send stream messages as text frames (Alpaca's paper stream sends binary)");
  cmd->add_flag("--partial-fills", options->partial_fills, "fill marketable orders in random lots");
  cmd->add_flag("--regular-hours", options->regular_hours,
                "market open only in regular NYSE hours (default: always open)");
  cmd->add_flag("--no-short", options->no_short,
                "a long-only account: GET /v2/account says shorting_enabled false and short "
                "sales are refused (403 account is not allowed to short); the assets keep their "
                "own shortable flag. Default: a paper margin account that may short "
                "easy-to-borrow equities");
  cmd->add_option("--crypto-fee", options->crypto_fee,
                  "crypto fee rate, taken from what a fill delivers: coins on a buy (the position "
                  "is smaller than the order's filled qty), dollars on a sell")
      ->capture_default_str();
  cmd->add_option("--price-increment", options->price_increments,
                  "a crypto pair's price_increment instead of the cent, e.g. BTC/USD=1 (Alpaca's "
                  "example); its orders' prices must be multiples of it. Repeatable");
  cmd->add_option("--rate-limit", options->rate_limit,
                  "REST requests per minute per key, sent as X-Ratelimit-* headers; beyond it 429 "
                  "(0: unlimited)")
      ->capture_default_str();
  cmd->add_option("--threads", options->threads, "network threads (the model runs on one)")
      ->capture_default_str();
  cmd->add_flag("-v,--verbose", options->verbose, "log every request (debug level)");
  cmd->callback([options, &exit_code] { exit_code = run(*options); });
}});

}  // namespace
}  // namespace orderly::app
