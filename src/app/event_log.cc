#include "app/event_log.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <map>
#include <regex>

#include "core/types.h"

namespace orderly::app {

bool LogLimiter::allow(const std::string& key, std::chrono::steady_clock::time_point now,
                       int& held_back) {
  auto [it, fresh] = entries_.try_emplace(key);
  Entry& e = it->second;
  if (!fresh && now - e.last < period_) {
    ++e.held_back;
    return false;
  }
  held_back = e.held_back;
  e.held_back = 0;
  e.last = now;
  // Bounded: keys not used for a period are forgotten (their count was told or is zero).
  if (entries_.size() > 4096) {
    for (auto i = entries_.begin(); i != entries_.end();) {
      i = (now - i->second.last >= period_ && i->second.held_back == 0) ? entries_.erase(i)
                                                                         : std::next(i);
    }
  }
  return true;
}

EventLog::EventLog(std::string prefix, SteadyNow now)
    : prefix_(std::move(prefix)),
      now_(now ? std::move(now) : SteadyNow([] { return std::chrono::steady_clock::now(); })) {
  // "[growth] " -> "growth": the account as a field of its own.
  if (prefix_.size() > 3) account_ = prefix_.substr(1, prefix_.size() - 3);
}

void EventLog::say(spdlog::level::level_enum level, std::string_view event,
                   const std::string& line, std::vector<LogField> fields) {
  if (!account_.empty()) fields.emplace(fields.begin(), "account", account_);
  log_event(level, event, prefix_ + line, fields);
}

bool EventLog::limited(spdlog::level::level_enum level, const std::string& key,
                       std::string_view event, const std::string& line,
                       std::vector<LogField> fields) {
  int held_back = 0;
  if (!limiter_.allow(key, now_(), held_back)) return false;
  if (held_back == 0) {
    say(level, event, line, std::move(fields));
    return true;
  }
  fields.emplace_back("held_back", held_back);
  say(level, event, fmt::format("{} ({} more like it in the last minute)", line, held_back),
      std::move(fields));
  return true;
}

void EventLog::committed(const WriteBatch& batch) {
  std::lock_guard lock(mu_);
  alerts(batch);
  orders(batch);
}

// Raises are rate-limited by kind (a burst of one kind is one line and a count), but the log
// never ends on a state that is not the truth: every told raise has its clear told, and a raise
// after a told clear of the same alert is told whatever the limiter says, twice a minute at
// most: past that the alert flaps, which is said once, and its lines are held back until a
// minute has passed (tick() then tells where it settled).
void EventLog::alerts(const WriteBatch& batch) {
  settle_flaps();
  for (const Alert& a : batch.alerts) {
    const std::string key = fmt::format("{} {}", to_string(a.kind), a.subject);
    if (a.active() && active_alerts_.insert(a.id).second) {
      if (told_cleared_.count(key) > 0 && hold_flapping(a, key)) continue;
      raise_line(a, key);
    } else if (!a.active() && active_alerts_.erase(a.id) > 0) {
      auto f = flaps_.find(key);
      if (f != flaps_.end() && f->second.pending && f->second.pending->id == a.id) {
        f->second.pending.reset();  // held: its clear is held too
      }
      if (told_raised_.erase(a.id) == 0) continue;
      const std::int64_t active_ms = a.cleared_at->ms_since(a.raised_at);
      say(spdlog::level::info, "alert_cleared",
          fmt::format("alert cleared: {} {} (active {:.1f} s)", to_string(a.kind), a.subject,
                      active_ms / 1000.0),
          {{"kind", std::string(to_string(a.kind))},
           {"severity", std::string(to_string(severity(a.kind)))},
           {"subject", a.subject},
           {"alert_id", a.id},
           {"active_ms", active_ms}});
      if (told_cleared_.size() > 4096) told_cleared_.clear();  // bounded; a re-raise may wait
      told_cleared_.insert(key);
    }
  }
}

// The raise of `a`: at once after a told clear of the same alert, else limited by kind.
void EventLog::raise_line(const Alert& a, const std::string& key, const std::string& note) {
  const auto level =
      severity(a.kind) == AlertSeverity::critical ? spdlog::level::err : spdlog::level::warn;
  const std::string line = fmt::format("ALERT raised ({}) {} {}: {}{}", to_string(severity(a.kind)),
                                       to_string(a.kind), a.subject, a.message, note);
  std::vector<LogField> fields = {{"kind", std::string(to_string(a.kind))},
                                  {"severity", std::string(to_string(severity(a.kind)))},
                                  {"subject", a.subject},
                                  {"alert_id", a.id},
                                  {"alert_message", a.message}};
  bool told = told_cleared_.erase(key) > 0;
  if (told) {
    say(level, "alert_raised", line, std::move(fields));
  } else {
    told = limited(level, fmt::format("alert {}", to_string(a.kind)), "alert_raised", line,
                   std::move(fields));
  }
  if (!told) return;
  told_raised_.insert(a.id);
  flaps_[key].told.push_back(now_());
}

// True when `a`, raised again after a told clear, is held back: two raises of it were told
// within the last minute already.
bool EventLog::hold_flapping(const Alert& a, const std::string& key) {
  Flap& f = flaps_[key];
  const auto now = now_();
  while (!f.told.empty() && now - f.told.front() >= std::chrono::minutes(1)) f.told.pop_front();
  if (f.told.size() < 2) return false;
  ++f.held;
  f.pending = a;
  if (!f.said) {
    f.said = true;
    say(spdlog::level::warn, "alert_flapping",
        fmt::format("ALERT {} {} flaps: raised and cleared again and again; its lines are held "
                    "back for a minute and counted (`orderly alerts` lists it as it is)",
                    to_string(a.kind), a.subject),
        {{"kind", std::string(to_string(a.kind))}, {"subject", a.subject}});
  }
  return true;
}

void EventLog::tick() {
  std::lock_guard lock(mu_);
  settle_flaps();
}

// A flapping alert whose minute has passed: the raise still active is told (its clear will be),
// or that it settled cleared; with the count of what was held back.
void EventLog::settle_flaps() {
  const auto now = now_();
  for (auto it = flaps_.begin(); it != flaps_.end();) {
    Flap& f = it->second;
    while (!f.told.empty() && now - f.told.front() >= std::chrono::minutes(1)) f.told.pop_front();
    if (f.held > 0 && f.told.empty()) {
      const std::string held = fmt::format(" ({} raises held back in the last minute)", f.held);
      if (f.pending) {
        told_cleared_.insert(it->first);  // told at once, as after a told clear
        raise_line(*f.pending, it->first, held);
      } else {
        say(spdlog::level::info, "alert_settled",
            fmt::format("alert {} settled: cleared{}", it->first, held),
            {{"held_back", f.held}});
      }
      f.held = 0;
      f.pending.reset();
      f.said = false;
    }
    it = f.told.empty() && f.held == 0 ? flaps_.erase(it) : std::next(it);
  }
}

void EventLog::orders(const WriteBatch& batch) {
  std::map<OrderId, const Order*> by_id;
  for (const Order& o : batch.orders) by_id[o.id] = &o;
  for (const OrderEvent& e : batch.events) {
    auto it = by_id.find(e.order_id);
    if (it == by_id.end()) continue;
    const Order& o = *it->second;
    if (e.source == EventSource::error) order_error(o, e);
    const bool placed_exit = !e.from && o.role != OrderRole::entry && !o.parent_order_id;
    if (placed_exit && !exits_of_trade_.insert(o.trade_id).second) exit_replaced(o, e);
  }
  for (const Trade& t : batch.trades) {
    if (t.state == TradeState::failed) {
      limited(spdlog::level::err, "trade failed " + t.spec.symbol, "trade_failed",
              fmt::format("trade {} {} failed: {}", t.id, t.spec.symbol, t.note),
              {{"trade_id", t.id},
               {"symbol", t.spec.symbol},
               {"client_trade_id", t.spec.client_trade_id},
               {"reason", t.note}});
    }
    if (is_terminal(t.state)) exits_of_trade_.erase(t.id);
  }
}

namespace {

// Alpaca's error code, when the text carries one: the note's "(HTTP 403, code 40310000)" or the
// body's {"code":40310000}.
std::string broker_code(std::string_view note) {
  static const std::regex code(R"((?:code\"?\s*[:=]?\s*)(\d{8}))");
  std::match_results<std::string_view::const_iterator> m;
  if (std::regex_search(note.begin(), note.end(), m, code)) return m[1].str();
  return {};
}

// An order's facts as log fields, with the event's note as the reason.
std::vector<LogField> order_fields(const Order& o, const OrderEvent& e) {
  std::vector<LogField> fields = {{"order_id", o.id},
                                  {"client_order_id", o.client_order_id},
                                  {"trade_id", o.trade_id},
                                  {"role", std::string(to_string(o.role))},
                                  {"side", std::string(to_string(o.side))},
                                  {"qty", o.qty.str()},
                                  {"symbol", o.symbol},
                                  {"reason", e.note}};
  if (o.limit_price) fields.emplace_back("limit_price", o.limit_price->str());
  if (o.stop_price) fields.emplace_back("stop_price", o.stop_price->str());
  return fields;
}

}  // namespace

// Every error event of an order was logged as "broker refused", also a request the broker never
// answered (no answer, a 5xx or 429, a reset connection: the order may be live at the broker) and
// one never sent. A refusal is a 4xx answer (its code: 4xxxxxxx, never 429); a request whose
// outcome became unknown is said as such; the rest (not sent, a lookup to try again, a late
// reply ignored) is told by the broker_unreachable line or changes nothing.
void EventLog::order_error(const Order& o, const OrderEvent& e) {
  std::vector<LogField> fields = order_fields(o, e);
  const std::string what = fmt::format("{} {} {} {} (order {}, {})", to_string(o.role),
                                       to_string(o.side), o.qty.str(), o.symbol, o.id,
                                       o.client_order_id);
  if (e.to == OrderState::unknown && e.from != OrderState::unknown) {
    limited(spdlog::level::warn, "unknown " + o.symbol, "order_outcome_unknown",
            fmt::format("outcome of {} unknown, looked up by its client id: {}", what, e.note),
            std::move(fields));
    return;
  }
  std::string code = broker_code(e.note);
  if (code.empty()) code = broker_code(e.payload);
  const bool http_4xx = e.note.find("(HTTP 4") != std::string::npos &&
                        e.note.find("(HTTP 429") == std::string::npos;
  const bool coded_4xx = code.starts_with("4") && !code.starts_with("429");
  if (e.note.starts_with("late error reply ignored") || !(http_4xx || coded_4xx)) return;
  if (!code.empty()) fields.emplace_back("broker_code", code);
  limited(spdlog::level::warn, "refused " + o.symbol, "order_refused",
          fmt::format("broker refused {}: {}", what, e.note), std::move(fields));
}

void EventLog::exit_replaced(const Order& o, const OrderEvent& e) {
  limited(spdlog::level::info, "exit " + o.symbol, "exit_replaced",
          fmt::format("exit re-placed for trade {}: {} {} {} {}{}{} ({})", o.trade_id,
                      to_string(o.role), to_string(o.side), o.qty.str(), o.symbol,
                      o.limit_price ? " limit " + o.limit_price->str() : "",
                      o.stop_price ? " stop " + o.stop_price->str() : "", e.note),
          order_fields(o, e));
}

void EventLog::commit_failed(const Status& status) {
  std::lock_guard lock(mu_);
  limited(spdlog::level::err, "store", "store_error",
          "store error: commit failed, the input is rolled back and found again by the next "
          "resync: " + status.message(),
          {{"reason", status.message()}});
}

void EventLog::broker_unreachable(const std::string& error) {
  say(spdlog::level::err, "broker_unreachable",
      fmt::format("broker unreachable: {}; calls wait, retried with backoff", error),
      {{"reason", error}});
}

void EventLog::broker_back(std::int64_t outage_ms, int attempts) {
  say(spdlog::level::info, "broker_back",
      fmt::format("broker reachable again after {:.1f} s ({} attempts); resyncing and "
                  "reconnecting the stream",
                  outage_ms / 1000.0, attempts),
      {{"outage_ms", outage_ms}, {"attempts", attempts}});
  if (on_broker_back_) on_broker_back_();
}

// A flapping stream is a line a minute each way, but a told drop always has its reconnection
// told: the log must not say "disconnected" about a stream that is up.
void EventLog::stream_connected() {
  std::lock_guard lock(mu_);
  const std::string line = "trade_updates stream connected";
  if (stream_told_down_) {
    say(spdlog::level::info, "stream_connected", line);
    stream_told_down_ = false;
  } else {
    limited(spdlog::level::info, "stream", "stream_connected", line);
  }
}

void EventLog::stream_disconnected(const std::string& reason) {
  std::lock_guard lock(mu_);
  if (limited(spdlog::level::warn, "stream down", "stream_disconnected",
              "trade_updates stream disconnected: " + reason, {{"reason", reason}})) {
    stream_told_down_ = true;
  }
}

Status LoggedStore::commit(const WriteBatch& batch) {
  Status s = ForwardingStore::commit(batch);
  if (s) {
    log_->committed(batch);
  } else {
    log_->commit_failed(s);
  }
  return s;
}

}  // namespace orderly::app
