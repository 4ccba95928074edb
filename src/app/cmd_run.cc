// orderly run [--config orderly.toml] [--log-json]: the daemon. Config + Alpaca's environment,
// the store (one owner at a time), the Alpaca broker, the engine's threaded runtime (sync,
// reconcile, retries), and the local API, until SIGINT/SIGTERM.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>

#include "app/command.h"
#include "app/config.h"
#include "app/logging.h"
#include "app/webhook.h"
#include "broker/alpaca/alpaca_broker.h"
#include "broker/alpaca/stream_client.h"
#include "engine/runtime.h"
#include "server/api.h"
#include "server/http_server.h"
#include "store/lease.h"
#include "store/store.h"

namespace orderly::app {
namespace {

struct Options {
  std::string config_path = "orderly.toml";
  bool config_given = false;
  bool log_json = false;
  bool print_config = false;
};

// An exclusive lock next to a SQLite store: a second daemon on the same file would submit for
// the same account from a second ledger, which is how duplicate orders are born.
class StoreLock {
 public:
  ~StoreLock() {
    if (fd_ >= 0) ::close(fd_);  // releases the lock
  }
  Status acquire(const std::string& db_path) {
    path_ = db_path + ".lock";
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ < 0) {
      return Status::error(Status::Code::io_error,
                           "cannot create lock file " + path_ + ": " + std::strerror(errno));
    }
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      return Status::error(Status::Code::busy, "the store " + db_path +
                                                   " is owned by another running orderly (lock " +
                                                   path_ + " is held)");
    }
    std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd_, 0) == 0) {
      [[maybe_unused]] auto n = ::write(fd_, pid.data(), pid.size());
    }
    return Status::ok();
  }

 private:
  std::string path_;
  int fd_ = -1;
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
  if (Status valid = validate(config); !valid) {
    std::cerr << "orderly run: bad configuration: " << valid.message() << "\n";
    return kExitUsage;
  }
  setup_logging(o.log_json, {config.broker.key_id, config.broker.secret_key, config.api.token});
  if (o.print_config) {
    std::cout << describe(config);
    return kExitOk;
  }
  spdlog::info("orderly {} starting; configuration:\n{}", "0.1.0", describe(config));
  if (config.broker.key_id.empty() || config.broker.secret_key.empty()) {
    spdlog::warn("no Alpaca credentials: set APCA_API_KEY_ID and APCA_API_SECRET_KEY (or [broker] "
                 "key_id/secret_key)");
  }
  auto listen = parse_listen_address(config.api.listen);  // validated above
  if (config.api.token.empty()) {
    spdlog::warn("[api] token is empty: the local API refuses every mutating call");
  }

  // ---- store, owned by this process alone
  StoreLock lock;
  std::shared_ptr<AccountLease> lease;
  std::unique_ptr<LeaseKeeper> keeper;
  const std::string account = store_account(config);
  if (config.store.url.rfind("sqlite:", 0) == 0) {
    std::string path = config.store.url.substr(7);
    if (path != ":memory:") {
      if (Status s = lock.acquire(path); !s) return fail(kExitUnavailable, "orderly run: " + s.message());
    }
  } else {
    auto opened = open_lease(config.store.url, account);
    if (!opened.ok()) return fail(kExitUnavailable, "orderly run: store lease: " + opened.status().message());
    lease = std::move(*opened);
    // A standby: another instance owns the account; take over when its lease lapses (it died or
    // lost the database), and recover through the normal crash-recovery path.
    for (bool reported = false;;) {
      Status s = lease->try_acquire();
      if (s) break;
      if (s.code() != Status::Code::busy) {
        return fail(kExitUnavailable, "orderly run: store lease: " + s.message());
      }
      if (!reported) {
        spdlog::warn("account {} is owned by another running orderly; waiting to take over: {}",
                     account, s.message());
        reported = true;
      }
      if (wait_for_signal(1000)) return kExitOk;
    }
    spdlog::info("account {} leased (fencing token {})", account, lease->token());
    keeper = std::make_unique<LeaseKeeper>(*lease, [](const Status& s) {
      // Stop submitting at once: past the safety margin another instance may take the account.
      spdlog::error("account lease lost ({}); shutting down", s.message());
      kill(getpid(), SIGTERM);
    });
  }
  auto store = open_store(config.store.url, account);
  if (!store.ok()) {
    return fail(kExitUnavailable, "orderly run: cannot open the store: " + store.status().message());
  }
  // Fencing: every write batch checks the lease's token in its own transaction, so a process
  // that lost the account can no longer commit (and so can no longer submit: outbox).
  if (lease) {
    if (Status s = (*store)->bind_lease(lease); !s) {
      return fail(kExitUnavailable, "orderly run: store lease: " + s.message());
    }
  }

  // ---- broker: wait for it (with backoff) rather than start blind
  alpaca::AlpacaConfig alpaca_config{config.broker.base_url, config.broker.key_id,
                                     config.broker.secret_key};
  auto broker = alpaca::make_alpaca_broker(alpaca_config);
  if (!broker.ok()) {
    return fail(kExitUsage, "orderly run: broker: " + alpaca::redact(broker.status().message(), alpaca_config));
  }
  for (std::int64_t wait_ms = 1000;;) {
    auto account_info = (*broker)->get_account();
    if (account_info.ok()) {
      spdlog::info("broker reachable at {} (account status {})", config.broker.base_url,
                   account_info->status);
      break;
    }
    const BrokerError& e = account_info.error();
    if (e.kind == BrokerError::Kind::rejected && (e.http_status == 401 || e.http_status == 403)) {
      return fail(kExitUsage, "orderly run: the broker refused the credentials (HTTP " +
                                  std::to_string(e.http_status) + "); check APCA_API_KEY_ID / APCA_API_SECRET_KEY");
    }
    spdlog::warn("broker unreachable at {}: {}; retrying in {} ms", config.broker.base_url,
                 alpaca::redact(e.message, alpaca_config), wait_ms);
    if (wait_for_signal(wait_ms)) return kExitOk;
    wait_ms = std::min<std::int64_t>(wait_ms * 2, 30'000);
  }

  // ---- engine
  RuntimeOptions options;
  options.engine.account_identity = config.broker.key_id.empty() ? "default" : config.broker.key_id;
  options.engine.rate_limit_per_min = static_cast<int>(config.broker.rate_limit_per_min);
  options.engine.poll_interval_ms = config.sync.poll_interval_ms;
  options.engine.idle_poll_interval_ms = config.sync.idle_poll_interval_ms;
  options.engine.retry_base_ms = config.retry.base_ms;
  options.engine.retry_cap_ms = config.retry.cap_ms;
  options.engine.retry_max_attempts = static_cast<int>(config.retry.max_attempts);
  options.engine.sync_lag_ms = config.alerts.sync_lag_ms;
  options.engine.stuck_order_ms = config.alerts.stuck_order_ms;
  SystemClock clock;
  std::unique_ptr<TradeUpdateStream> stream;
  if (config.sync.stream) {
    alpaca::StreamOptions stream_options;
    stream_options.base_url = config.broker.base_url;
    stream_options.key_id = config.broker.key_id;
    stream_options.secret_key = config.broker.secret_key;
    auto created = alpaca::AlpacaStream::create(stream_options);
    if (!created.ok()) {
      return fail(kExitUsage, "orderly run: trade_updates stream: " +
                                  alpaca::redact(created.status().message(), alpaca_config));
    }
    stream = std::move(*created);
  }
  if (!stream) spdlog::info("trade_updates stream off: polling only");
  ThreadedRuntime runtime(**store, **broker, stream.get(), clock, options);
  if (Status s = runtime.start(); !s) {
    return fail(kExitUnavailable, "orderly run: the engine could not start: " + s.message());
  }

  // ---- local API
  server::Api api(runtime, **store, config.api.token, clock);
  server::ServerOptions server_options;
  server_options.host = listen->host;
  server_options.port = listen->port;
  server::HttpServer http(api, server_options);
  if (Status s = http.start(); !s) {
    runtime.stop();
    return fail(kExitUnavailable, "orderly run: " + s.message());
  }
  spdlog::info("API listening on http://{}:{} (dashboard at /)", listen->host, http.port());
  std::unique_ptr<AlertWebhook> webhook;
  if (!config.alerts.webhook_url.empty()) {
    auto created = AlertWebhook::create(**store, config.alerts.webhook_url);
    if (!created.ok()) {
      http.stop();
      runtime.stop();
      return fail(kExitUsage, "orderly run: " + created.status().message());
    }
    webhook = std::move(*created);
    webhook->start();
    spdlog::info("alerts are POSTed to the configured webhook");
  }

  while (!wait_for_signal(60'000)) {
  }
  spdlog::info("shutting down: no new requests; finishing in-flight work");
  http.stop();     // stop accepting; requests being handled finish
  runtime.stop();  // in-flight commits finish; the stream closes
  if (webhook) webhook->stop();
  if (lease) {
    keeper.reset();
    (void)lease->release();
  }
  spdlog::info("stopped");
  return kExitOk;
}

const bool registered = register_command({"run", 10, [](CLI::App& app, int& exit_code) {
  auto o = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("run", "The daemon: keeps every order in step with Alpaca and serves the local API");
  cmd->add_option("--config", o->config_path, "TOML config file (default orderly.toml when present)");
  cmd->add_flag("--log-json", o->log_json, "log one JSON object per line");
  cmd->add_flag("--print-config", o->print_config, "print the effective configuration (secrets redacted) and exit");
  cmd->callback([o, cmd, &exit_code] {
    o->config_given = cmd->count("--config") > 0;
    exit_code = run(*o);
  });
}});

}  // namespace
}  // namespace orderly::app
