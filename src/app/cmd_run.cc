// orderly run [--config orderly.toml] [--log-json] [--listen HOST:PORT]: the daemon. Config +
// Alpaca's environment, then per account (account_runner.h) the store (one owner at a time),
// the Alpaca broker and the engine's threaded runtime (sync, reconcile, retries), and one local
// API over them all (account_router.h), until SIGINT/SIGTERM.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>

#include "app/account_router.h"
#include "app/account_runner.h"
#include "app/command.h"
#include "app/config.h"
#include "app/logging.h"
#include "server/http_server.h"

namespace orderly::app {
namespace {

struct Options {
  std::string config_path = "orderly.toml";
  bool config_given = false;
  bool log_json = false;
  bool print_config = false;
  std::string listen;  // overrides [api] listen: two instances of one config on one host
};

sigset_t shutdown_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

// Waits up to `ms` for SIGINT/SIGTERM (blocked in every thread); true when one arrived.
bool wait_for_signal(std::int64_t ms) {
  sigset_t set = shutdown_signals();
  timespec ts{static_cast<time_t>(ms / 1000), static_cast<long>((ms % 1000) * 1'000'000)};
  int sig = sigtimedwait(&set, nullptr, &ts);
  return sig == SIGINT || sig == SIGTERM;
}

// The local API's address and who may use it ([api] token, public_reads, allowed_hosts).
server::ServerOptions api_server_options(const ApiConfig& api, const ListenAddress& listen) {
  server::ServerOptions o;
  o.host = listen.host;
  o.port = listen.port;
  o.access = {api.token, api.public_reads, api.allowed_hosts};
  // A daemon listening on a named address answers to that name (an IP literal cannot be rebound).
  if (listen.host != "0.0.0.0" && listen.host != "::") {
    o.access.allowed_hosts.push_back(listen.host);
  }
  return o;
}

int fail(int code, const std::string& message) {
  spdlog::error("{}", message);
  return code;
}

int run(const Options& o) {
  // Signals are taken synchronously by the main thread: block them before any thread starts.
  sigset_t signals = shutdown_signals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  Config config;
  if (o.config_given || std::filesystem::exists(o.config_path)) {
    auto loaded = load_config_file(o.config_path);
    if (!loaded.ok()) {
      std::cerr << "orderly run: bad configuration: " << loaded.status().message() << "\n";
      return kExitUsage;
    }
    config = *loaded;
  }
  apply_env(config);
  if (!o.listen.empty()) config.api.listen = o.listen;
  if (Status valid = validate(config); !valid) {
    std::cerr << "orderly run: bad configuration: " << valid.message() << "\n";
    return kExitUsage;
  }
  if (o.print_config) {  // secrets redacted; *_env variables need not be set to show the file
    std::cout << describe(config);
    return kExitOk;
  }
  auto accounts = resolve_accounts(config);
  if (!accounts.ok()) {
    std::cerr << "orderly run: bad configuration: " << accounts.status().message() << "\n";
    return kExitUsage;
  }
  std::vector<std::string> secrets = {config.broker.key_id, config.broker.secret_key,
                                      config.api.token};
  for (const auto& a : *accounts) {
    secrets.push_back(a.key_id);
    secrets.push_back(a.secret_key);
  }
  setup_logging(o.log_json, secrets);
  spdlog::info("orderly {} starting; configuration:\n{}", "0.1.0", describe(config));
  const bool multi = !config.accounts.empty();
  if (!multi && (config.broker.key_id.empty() || config.broker.secret_key.empty())) {
    spdlog::warn("no Alpaca credentials: set APCA_API_KEY_ID and APCA_API_SECRET_KEY (or [broker] "
                 "key_id/secret_key)");
  }
  if (multi && (process_env("APCA_API_KEY_ID") || process_env("APCA_API_SECRET_KEY"))) {
    spdlog::warn("APCA_API_* variables are ignored with [[accounts]]: each account names its "
                 "own (key_id_env / secret_key_env)");
  }
  auto listen = parse_listen_address(config.api.listen);  // validated above
  if (config.api.token.empty()) {
    spdlog::warn("[api] token is empty: the local API answers /healthz{} and refuses the rest",
                 config.api.public_reads ? " and reads" : "");
  }

  // ---- one runner per account: lease (or standby), store, broker, stream, engine
  SystemClock clock;
  std::vector<std::unique_ptr<AccountRunner>> runners;
  std::vector<AccountRunner*> views;
  for (const auto& a : *accounts) {
    runners.push_back(std::make_unique<AccountRunner>(
        a, config, account_store_url(config.store.url, a.name, accounts->size()), clock));
    views.push_back(runners.back().get());
  }
  for (auto& r : runners) r->start();
  auto stop_all = [&] {
    for (auto& r : runners) r->stop();  // engines stop, leases are released
  };

  // ---- the local API, as soon as this process is about to run an account: from the first
  // second, also while its store or broker is waited for (the API then answers 503 naming what
  // it waits for). A standby does not take the port, so a second instance of the same config
  // can wait on the same host.
  AccountRouter router(views, multi);
  const server::ServerOptions server_options = api_server_options(config.api, *listen);
  std::unique_ptr<server::HttpServer> http;
  auto next_bind = std::chrono::steady_clock::now();
  for (;;) {
    if (wait_for_signal(250)) break;
    bool any_active = false, all_failed = true;
    int exit_code = kExitOk;
    for (auto& r : runners) {
      AccountStatus s = r->status();
      // A runner that is "starting" says what it waits for once it has tried (empty before).
      any_active = any_active || s.state == AccountState::active ||
                   s.state == AccountState::stopping ||
                   (s.state == AccountState::starting && !s.detail.empty());
      if (s.state != AccountState::failed) all_failed = false;
      if (s.state == AccountState::failed && exit_code == kExitOk) exit_code = s.exit_code;
    }
    if (all_failed) {
      stop_all();
      return exit_code;
    }
    if (any_active && !http && std::chrono::steady_clock::now() >= next_bind) {
      http = std::make_unique<server::HttpServer>(router, server_options);
      if (Status s = http->start(); !s) {
        http.reset();
        if (!multi) {
          stop_all();
          return fail(kExitUnavailable, "orderly run: " + s.message());
        }
        // Two instances of one config on one host that ended up splitting the accounts: this
        // one's accounts keep trading; the API comes up when the port is free.
        spdlog::error("orderly run: {}; the accounts keep running, retrying in 5 s", s.message());
        next_bind = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        continue;
      }
      spdlog::info("API listening on http://{}:{} (dashboard at /)", listen->host, http->port());
    }
  }
  spdlog::info("shutting down: no new requests; finishing in-flight work");
  if (http) http->stop();  // stop accepting; requests being handled finish
  stop_all();              // in-flight commits finish; streams close; leases released
  spdlog::info("stopped");
  return kExitOk;
}

const bool registered = register_command({"run", 10, [](CLI::App& app, int& exit_code) {
  auto o = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("run", "The daemon: keeps every order in step with Alpaca and serves the local API");
  cmd->add_option("--config", o->config_path, "TOML config file (default orderly.toml when present)");
  cmd->add_flag("--log-json", o->log_json, "log one JSON object per line");
  cmd->add_option("--listen", o->listen, "HOST:PORT for the local API (overrides [api] listen)");
  cmd->add_flag("--print-config", o->print_config, "print the effective configuration (secrets redacted) and exit");
  cmd->callback([o, cmd, &exit_code] {
    o->config_given = cmd->count("--config") > 0;
    exit_code = run(*o);
  });
}});

}  // namespace
}  // namespace orderly::app
