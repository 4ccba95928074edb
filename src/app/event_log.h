#pragma once
// The daemon's log of what an operator must hear about, one line each: alert raised/cleared,
// broker refusal of an order, trade failed, exit re-placed, stream connected/disconnected, broker
// unreachable/back, store errors. The engine stays silent (sans-IO): EventLog reads what it
// committed, through LoggedStore (a Store that forwards to the real one and reports each
// committed batch), and what the runtime saw of the outside (RuntimeObserver).
// Repetitive lines (same kind) are said once a minute at most, with a count of what was held
// back; but a told failure always has its end told (alert cleared, stream connected again), so
// the log's last word on anything is the truth.

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "app/logging.h"
#include "runtime/runtime.h"
#include "store/forwarding_store.h"
#include "store/store.h"

namespace orderly::app {

// At most one line per key and period; what was held back is counted into the next line.
class LogLimiter {
 public:
  explicit LogLimiter(std::chrono::milliseconds period = std::chrono::minutes(1))
      : period_(period) {}
  // True when a line for `key` may be written now; `held_back` is how many were not since the
  // last one written.
  bool allow(const std::string& key, std::chrono::steady_clock::time_point now, int& held_back);

 private:
  struct Entry {
    std::chrono::steady_clock::time_point last;
    int held_back = 0;
  };
  std::chrono::milliseconds period_;
  std::map<std::string, Entry> entries_;
};

class EventLog final : public RuntimeObserver {
 public:
  using SteadyNow = std::function<std::chrono::steady_clock::time_point()>;
  // `prefix`: "[account] " with several accounts, "" otherwise. `now`: the clock of the
  // once-a-minute limits (tests step it).
  explicit EventLog(std::string prefix, SteadyNow now = {});

  // Called about once a second: what was held back of a flapping alert is told once its minute
  // has passed, so the log's last word on it is the truth although nothing else happens.
  void tick();

  // Called (on a runtime thread, after the line) when the broker answers again after an outage:
  // the daemon reconnects its stream at once there rather than after the stream's own backoff.
  void on_broker_back(std::function<void()> f) { on_broker_back_ = std::move(f); }

  // What a committed batch says (called after the commit succeeded).
  void committed(const WriteBatch& batch);
  void commit_failed(const Status& status);

  void broker_unreachable(const std::string& error) override;
  void broker_back(std::int64_t outage_ms, int attempts) override;
  void stream_connected() override;
  void stream_disconnected(const std::string& reason) override;

  // One line: `line` in text (after the account's prefix), `event` and `fields` (with the
  // account) as JSON keys.
  void say(spdlog::level::level_enum level, std::string_view event, const std::string& line,
           std::vector<LogField> fields = {});

 private:
  // An alert raised and cleared again and again (one seen by hand 10 times a second for a
  // minute: 600 lines) is told twice, then said to flap; the rest is held back and counted.
  struct Flap {
    std::deque<std::chrono::steady_clock::time_point> told;  // raises told within the period
    int held = 0;                  // raises held back since the last line about it
    std::optional<Alert> pending;  // the last held raise, while it is active
    bool said = false;             // the "flapping" line was said
  };
  void alerts(const WriteBatch& batch);
  void raise_line(const Alert& a, const std::string& key, const std::string& note = "");
  bool hold_flapping(const Alert& a, const std::string& key);
  void settle_flaps();
  void orders(const WriteBatch& batch);
  void order_error(const Order& o, const OrderEvent& e);
  void exit_replaced(const Order& o, const OrderEvent& e);
  // say() unless lines of `key` were written within the last minute (then counted); true when
  // written.
  bool limited(spdlog::level::level_enum level, const std::string& key, std::string_view event,
               const std::string& line, std::vector<LogField> fields = {});

  std::string prefix_;
  std::string account_;  // the prefix's name, a field of every line
  std::function<void()> on_broker_back_;
  std::mutex mu_;
  LogLimiter limiter_;
  std::set<std::int64_t> active_alerts_;   // raised, not yet cleared
  std::set<std::int64_t> told_raised_;     // ... whose raise was logged
  std::set<std::string> told_cleared_;     // "kind subject" whose last line said cleared
  std::map<std::string, Flap> flaps_;      // by "kind subject"
  SteadyNow now_;
  bool stream_told_down_ = false;          // the last stream line logged said disconnected
  std::set<std::int64_t> exits_of_trade_;  // trades whose first exit was placed
};

// A Store that tells `log` about every batch it committed (or failed to commit).
class LoggedStore final : public ForwardingStore {
 public:
  LoggedStore(std::unique_ptr<Store> inner, std::shared_ptr<EventLog> log)
      : ForwardingStore(std::move(inner)), log_(std::move(log)) {}

  Status commit(const WriteBatch& batch) override;

 private:
  std::shared_ptr<EventLog> log_;
};

}  // namespace orderly::app
