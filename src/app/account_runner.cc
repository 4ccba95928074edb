#include "app/account_runner.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <thread>

#include "app/command.h"
#include "app/config.h"
#include "app/event_log.h"
#include "app/market_clock.h"
#include "app/webhook.h"
#include "broker/alpaca/alpaca_broker.h"
#include "broker/alpaca/stream_client.h"
#include "broker/account_cache.h"
#include "broker/asset_cache.h"
#include "broker/outside_calls.h"
#include "runtime/runtime.h"
#include "server/api.h"
#include "store/lease.h"
#include "store/open.h"
#include "store/store.h"

namespace orderly::app {

namespace {

constexpr std::int64_t kEngineStalledMs = 5000;

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
    return Status::success();
  }

 private:
  std::string path_;
  int fd_ = -1;
};

// Everything one owned account runs. Members are destroyed in reverse order: the API first,
// the store last.
struct Session {
  std::shared_ptr<EventLog> log;  // the store and the runtime report to it
  std::unique_ptr<Store> store;
  std::unique_ptr<Broker> broker;
  // The reads beside the engine (clock, assets, account) go through `outside`, which counts
  // them in `outside_calls` for the engine's rate budget.
  std::unique_ptr<OutsideCalls> outside_calls;
  std::unique_ptr<CountedBroker> outside;
  std::unique_ptr<TradeUpdateStream> stream;
  std::unique_ptr<ThreadedRuntime> runtime;
  std::unique_ptr<MarketClockWatch> market;  // uses `outside`; the API reads it
  std::unique_ptr<AssetCache> assets;        // uses `outside`; the API reads it
  std::unique_ptr<AccountCache> account;     // uses `outside`; the API reads it
  std::unique_ptr<AlertWebhook> webhook;  // reads the store: stops before it goes
  std::unique_ptr<server::Api> api;
};

// What the Alpaca client last heard of the account's minute, for the reads beside the engine
// (CountedBroker); another broker states none.
CountedBroker::RoomSource rate_room_of(Broker& broker) {
  auto* alpaca = dynamic_cast<alpaca::AlpacaBroker*>(&broker);
  if (alpaca == nullptr) return {};
  return [alpaca] { return alpaca->rate_room(); };
}

}  // namespace

class AccountRunner::Impl {
 public:
  Impl(AccountConfig account, const Config& config, std::string store_url, const Clock& clock)
      : account_(std::move(account)),
        config_(config),
        store_url_(std::move(store_url)),
        clock_(clock),
        alpaca_{account_.base_url, account_.key_id, account_.secret_key} {
    status_.name = account_.name;
    status_.store_account = store_account(account_);
    // One name per log line: with several accounts "which one?" is the first question.
    prefix_ = config_.accounts.empty() ? "" : "[" + account_.name + "] ";
    events_ = std::make_unique<EventLog>(prefix_);
  }

  void start() {
    thread_ = std::thread([this] { run(); });
  }

  void stop() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  AccountStatus status() const {
    std::lock_guard lock(mu_);
    return status_;
  }
  std::shared_ptr<server::Api> api() const {
    std::lock_guard lock(mu_);
    // Aliasing: the caller's pointer keeps the whole session (engine, store) alive, not just
    // the Api that refers to them.
    if (!session_) return nullptr;
    return std::shared_ptr<server::Api>(session_, session_->api.get());
  }
  const std::string& name() const { return account_.name; }

 private:
  void set_state(AccountState s, std::string detail, int exit_code = 0) {
    std::lock_guard lock(mu_);
    status_.state = s;
    status_.detail = std::move(detail);
    status_.since = clock_.now();
    status_.exit_code = exit_code;
  }
  // Waits up to `ms` for stop() or a lost lease; true when the runner must stop waiting.
  bool wait(std::int64_t ms) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::milliseconds(ms), [this] { return stopping_ || lost_; });
  }
  bool stopping() const {
    std::lock_guard lock(mu_);
    return stopping_;
  }
  void fail(int exit_code, const std::string& message) {
    events_->say(spdlog::level::err, "account_failed", "orderly run: " + message,
                 {{"reason", message}});
    set_state(AccountState::failed, message, exit_code);
  }

  void run() {
    if (store_url_.rfind("sqlite:", 0) == 0) {
      std::string path = store_url_.substr(7);
      if (path != ":memory:") {
        if (Status s = sqlite_lock_.acquire(path); !s) return fail(kExitUnavailable, s.message());
      }
    }
    LeaseOptions lease_options;
    lease_options.ttl_ms = config_.lease.ttl_ms;
    lease_options.safety_margin_ms = config_.lease.safety_margin_ms;
    lease_options.renew_interval_ms = config_.lease.renew_interval_ms;
    auto opened = open_lease(store_url_, status_.store_account, lease_options);
    if (!opened.ok()) return fail(kExitUnavailable, "store lease: " + opened.status().message());
    lease_ = std::move(*opened);

    while (!stopping()) {
      if (!acquire()) break;
      serve();
    }
    if (lease_) (void)lease_->release();
    set_state(AccountState::stopped, "");
  }

  // The standby loop. False when stopped or failed.
  bool acquire() {
    {
      std::lock_guard lock(mu_);
      lost_ = false;  // the loss was handled; the keeper is gone, nothing sets it again now
    }
    std::string last_error;
    for (bool reported = false;;) {
      Status s = lease_->try_acquire();
      if (s) break;
      if (s.code() != Status::Code::busy) {
        // The database is away: keep trying (the owner, if any, is in the same situation).
        // Said once per distinct error, not once a second.
        if (s.message() != last_error) {
          events_->say(spdlog::level::warn, "store_error",
                       "store lease: " + s.message() + "; retrying", {{"reason", s.message()}});
          last_error = s.message();
          set_state(AccountState::starting, "waiting for the store: " + s.message());
        }
      } else if (!reported) {
        events_->say(spdlog::level::warn, "standby",
                     fmt::format("account {} is owned by another running orderly; waiting to "
                                 "take over: {}",
                                 status_.store_account, s.message()),
                     {{"store_account", status_.store_account}, {"reason", s.message()}});
        set_state(AccountState::standby, s.message());
        reported = true;
      }
      if (wait(std::min<std::int64_t>(1000, config_.lease.renew_interval_ms))) {
        if (stopping()) return false;
      }
    }
    {
      std::lock_guard lock(mu_);
      ++status_.leases_acquired;
    }
    events_->say(spdlog::level::info, "lease_gained",
                 fmt::format("account {} leased (fencing token {})", status_.store_account,
                             lease_->token()),
                 {{"store_account", status_.store_account}, {"fencing_token", lease_->token()}});
    set_state(AccountState::starting, "lease acquired; connecting to the broker");
    return true;
  }

  // Runs the account until stop() or a lost lease.
  void serve() {
    keeper_ = std::make_unique<LeaseKeeper>(*lease_, [this](const Status& s) {
      // Stop submitting at once: past the safety margin another instance may take the account.
      {
        std::lock_guard lock(mu_);
        lost_ = true;
        lost_reason_ = s.message();
      }
      cv_.notify_all();
    });
    auto session = open_session();
    if (session) {
      {
        std::lock_guard lock(mu_);
        session_ = session;
      }
      set_state(AccountState::active, "");
      std::unique_lock lock(mu_);
      while (!cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_ || lost_; })) {
        lock.unlock();
        watch_engine(*session->runtime);
        session->log->tick();
        lock.lock();
      }
    }
    bool lost = false;
    std::string reason;
    {
      std::lock_guard lock(mu_);
      lost = lost_;
      reason = lost_reason_;
      session_.reset();  // requests still holding it finish against a stopped engine
      if (session) {
        // Until the engine has stopped (a commit may wait for the database), say so.
        status_.state = AccountState::stopping;
        status_.detail = lost ? "lease lost: " + reason : "shutting down";
        status_.since = clock_.now();
      }
    }
    if (session && session->runtime) session->runtime->stop();  // in-flight commits finish
    session.reset();
    keeper_.reset();
    if (lost) {
      // The store is fenced against us now, so this alert lives in the daemon (log, /healthz,
      // /api/accounts, /metrics), not in the account's alert table.
      events_->say(spdlog::level::err, "lease_lost",
                   "ALERT lease_lost: account lease lost (" + reason +
                       "); this account stopped, the others keep running; waiting to take it "
                       "over again",
                   {{"kind", "lease_lost"},
                    {"severity", "critical"},
                    {"subject", status_.store_account},
                    {"reason", reason}});
      {
        std::lock_guard lock(mu_);
        ++status_.leases_lost;
        status_.last_lost_at = clock_.now();
        status_.last_lost_reason = reason;
      }
      set_state(AccountState::standby, "lease lost: " + reason);
    }
  }

  // An engine thread waiting inside the store (a frozen disk) logs nothing, and /healthz answers
  // from its last snapshot: without this the log stayed silent for as long as the freeze lasted.
  // Said once when it lasts kEngineStalledMs, and once when the engine answers again.
  void watch_engine(const ThreadedRuntime& runtime) {
    const std::int64_t late = runtime.health().snapshot_age_ms.value_or(0);  // <= 300 ms
    if (late >= kEngineStalledMs && !engine_stalled_) {
      engine_stalled_ = true;
      events_->say(spdlog::level::err, "engine_stalled",
                   fmt::format("the engine has not answered for {:.1f} s (waiting on the "
                               "store?): nothing is recorded or sent meanwhile; reads answer 503 "
                               "'store busy', /healthz its last figures",
                               late / 1000.0),
                   {{"stalled_ms", late}});
    } else if (late == 0 && engine_stalled_) {
      engine_stalled_ = false;
      events_->say(spdlog::level::info, "engine_answering", "the engine answers again");
    }
  }

  // Store, broker (waited for), stream, engine, API. Null when stopped, lost or failed.
  std::shared_ptr<Session> open_session() {
    auto session = std::make_shared<Session>();
    session->log = std::make_shared<EventLog>(prefix_);
    for (std::int64_t wait_ms = 1000;;) {
      auto store = open_store(store_url_, status_.store_account);
      if (store.ok()) {
        session->store = std::make_unique<LoggedStore>(std::move(*store), session->log);
        break;
      }
      // A SQLite file that cannot be opened is a set-up error; a database server that is away
      // comes back, and the lease (its own connection) tells whether we still own the account.
      if (store_url_.rfind("sqlite:", 0) == 0) {
        fail(kExitUnavailable, "cannot open the store: " + store.status().message());
        wait_for_stop();
        return nullptr;
      }
      events_->say(spdlog::level::warn, "store_error",
                   fmt::format("cannot open the store: {}; retrying in {} ms",
                               store.status().message(), wait_ms),
                   {{"reason", store.status().message()}, {"retry_ms", wait_ms}});
      set_state(AccountState::starting, "waiting for the store: " + store.status().message());
      if (wait(wait_ms)) return nullptr;
      wait_ms = std::min<std::int64_t>(wait_ms * 2, 30'000);
    }
    // Fencing: every write batch checks the lease's token in its own transaction, so a process
    // that lost the account can no longer commit (and so can no longer submit: outbox).
    if (Status s = session->store->bind_lease(lease_); !s) {
      fail(kExitUnavailable, "store lease: " + s.message());
      wait_for_stop();
      return nullptr;
    }
    auto broker =
        alpaca::make_alpaca_broker(alpaca_, static_cast<int>(account_.rate_limit_per_min));
    if (!broker.ok()) {
      fail(kExitUsage, "broker: " + alpaca::redact(broker.status().message(), alpaca_));
      wait_for_stop();
      return nullptr;
    }
    session->broker = std::move(*broker);
    session->outside_calls = std::make_unique<OutsideCalls>();
    session->outside =
        std::make_unique<CountedBroker>(*session->broker, *session->outside_calls, clock_,
                                        rate_room_of(*session->broker));
    // Counted too: the broker counts it in the account's minute.
    if (!wait_for_broker(*session->outside)) return nullptr;

    RuntimeOptions options;
    options.engine.account_identity = account_.key_id.empty() ? "default" : account_.key_id;
    options.engine.rate_limit_per_min = static_cast<int>(account_.rate_limit_per_min);
    options.engine.poll_interval_ms = config_.sync.poll_interval_ms;
    options.engine.idle_poll_interval_ms = config_.sync.idle_poll_interval_ms;
    options.engine.idle_sweep_interval_ms = config_.sync.idle_sweep_interval_ms;
    options.engine.reconcile_interval_ms = config_.sync.positions_interval_ms;
    options.engine.retry_base_ms = config_.retry.base_ms;
    options.engine.retry_cap_ms = config_.retry.cap_ms;
    options.engine.retry_max_attempts = static_cast<int>(config_.retry.max_attempts);
    options.engine.sync_lag_ms = config_.alerts.sync_lag_ms;
    options.engine.stuck_order_ms = config_.alerts.stuck_order_ms;
    options.observer = session->log.get();
    options.outside_calls = session->outside_calls.get();
    options.engine.unprotected_grace_ms = config_.alerts.unprotected_grace_ms;
    if (config_.sync.stream) {
      alpaca::StreamOptions stream_options;
      stream_options.base_url = account_.base_url;
      stream_options.key_id = account_.key_id;
      stream_options.secret_key = account_.secret_key;
      auto created = alpaca::AlpacaStream::create(stream_options);
      if (!created.ok()) {
        fail(kExitUsage,
             "trade_updates stream: " + alpaca::redact(created.status().message(), alpaca_));
        wait_for_stop();
        return nullptr;
      }
      // On the broker's return the stream reconnects at once: its own backoff (up to 30 s)
      // would leave it down well after REST works again.
      alpaca::AlpacaStream* stream = created->get();
      session->log->on_broker_back([stream] { stream->reconnect_now(); });
      session->stream = std::move(*created);
    } else {
      spdlog::info("{}trade_updates stream off: polling only", prefix_);
    }
    session->runtime = std::make_unique<ThreadedRuntime>(*session->store, *session->broker,
                                                         session->stream.get(), clock_, options);
    if (Status s = session->runtime->start(); !s) {
      fail(kExitUnavailable, "the engine could not start: " + s.message());
      wait_for_stop();
      return nullptr;
    }
    if (!config_.alerts.webhook_url.empty()) {
      WebhookOptions webhook_options;
      if (!config_.accounts.empty()) webhook_options.account = account_.name;
      auto created =
          AlertWebhook::create(*session->store, config_.alerts.webhook_url, webhook_options);
      if (!created.ok()) {
        session->runtime->stop();
        fail(kExitUsage, created.status().message());
        wait_for_stop();
        return nullptr;
      }
      session->webhook = std::move(*created);
      session->webhook->start();
      spdlog::info("{}alerts are POSTed to the configured webhook", prefix_);
    }
    session->api = std::make_unique<server::Api>(*session->runtime, *session->store,
                                                 config_.api.token, clock_);
    session->market = std::make_unique<MarketClockWatch>(*session->outside, clock_,
                                                         config_.sync.clock_refresh_ms);
    session->market->start();
    session->api->set_market_source(
        [watch = session->market.get()]() -> std::optional<server::Api::Market> {
          auto m = watch->current();
          if (!m) return std::nullopt;
          return server::Api::Market{m->clock.is_open, m->clock.next_open, m->clock.next_close,
                                     m->read_at};
        });
    session->assets = std::make_unique<AssetCache>(*session->outside, clock_);
    session->api->set_asset_source([cache = session->assets.get()](const std::string& symbol) {
      server::Api::AssetAnswer out;
      auto answer = cache->get(symbol);
      if (answer.ok()) out.asset = answer.value();
      else if (answer.error().not_found()) out.not_found = true;
      else out.error = answer.error().describe();
      return out;
    });
    session->account = std::make_unique<AccountCache>(*session->outside, clock_);
    session->api->set_account_source([cache = session->account.get()](std::int64_t max_age_ms) {
      AccountCache::Answer a = cache->get(max_age_ms);
      return server::Api::AccountAnswer{
          a.account.has_value(), a.account ? a.account->shorting_enabled : std::nullopt,
          a.read_at, std::move(a.error)};
    });
    // One call, made only before a sell entry would be refused as a short (server/api.h).
    session->api->set_position_source([broker = session->outside.get()](const std::string& sym) {
      server::Api::PositionAnswer out;
      auto positions = broker->list_positions();
      if (!positions.ok()) {
        out.error = positions.error().describe();
        return out;
      }
      out.read = true;
      for (const BrokerPosition& p : positions.value()) {
        if (p.symbol == sym) out.qty = p.qty;
      }
      return out;
    });
    return session;
  }

  bool wait_for_broker(Broker& broker) {
    for (std::int64_t wait_ms = 1000;;) {
      auto info = broker.get_account();
      if (info.ok()) {
        events_->say(spdlog::level::info, "broker_reachable",
                     fmt::format("broker reachable at {} (account status {})",
                                 printable_url(account_.base_url), info->status),
                     {{"url", printable_url(account_.base_url)},
                      {"account_status", info->status}});
        return true;
      }
      const BrokerError& e = info.error();
      if (e.kind == BrokerError::Kind::rejected && (e.http_status == 401 || e.http_status == 403)) {
        fail(kExitUsage, "the broker refused the credentials (HTTP " + std::to_string(e.http_status) +
                             "); check " +
                             (config_.accounts.empty()
                                  ? std::string("APCA_API_KEY_ID / APCA_API_SECRET_KEY")
                                  : "the keys of account '" + account_.name + "'"));
        wait_for_stop();
        return false;
      }
      const std::string why = alpaca::redact(e.message, alpaca_);
      events_->say(spdlog::level::warn, "broker_unreachable",
                   fmt::format("broker unreachable at {}: {}; retrying in {} ms",
                               printable_url(account_.base_url), why, wait_ms),
                   {{"url", printable_url(account_.base_url)},
                    {"reason", why},
                    {"retry_ms", wait_ms}});
      set_state(AccountState::starting,
                "waiting for the broker at " + printable_url(account_.base_url) + ": " + why);
      if (wait(wait_ms)) return false;
      wait_ms = std::min<std::int64_t>(wait_ms * 2, 30'000);
    }
  }

  // A failed account keeps its lease until the daemon stops: another instance with the same
  // (broken) configuration would fail the same way, and flapping owners help nobody.
  void wait_for_stop() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return stopping_; });
  }

  const AccountConfig account_;
  const Config config_;
  const std::string store_url_;
  const Clock& clock_;
  const alpaca::AlpacaConfig alpaca_;
  std::string prefix_;
  std::unique_ptr<EventLog> events_;  // lease and start-up lines (a session has its own)
  bool engine_stalled_ = false;       // the runner's thread only

  StoreLock sqlite_lock_;
  std::shared_ptr<AccountLease> lease_;
  std::unique_ptr<LeaseKeeper> keeper_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool lost_ = false;
  std::string lost_reason_;
  AccountStatus status_;
  std::shared_ptr<Session> session_;
  std::thread thread_;
};

AccountRunner::AccountRunner(AccountConfig account, const Config& config, std::string store_url,
                             const Clock& clock)
    : impl_(std::make_unique<Impl>(std::move(account), config, std::move(store_url), clock)) {}
AccountRunner::~AccountRunner() { stop(); }
void AccountRunner::start() { impl_->start(); }
void AccountRunner::stop() { impl_->stop(); }
AccountStatus AccountRunner::status() const { return impl_->status(); }
const std::string& AccountRunner::name() const { return impl_->name(); }
std::shared_ptr<server::Api> AccountRunner::api() const { return impl_->api(); }

}  // namespace orderly::app
