#include "app/event_log.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <map>

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

void EventLog::limited(int level, const std::string& key, const std::string& line) {
  int held_back = 0;
  if (!limiter_.allow(key, std::chrono::steady_clock::now(), held_back)) return;
  const std::string text =
      held_back == 0 ? line
                     : fmt::format("{} ({} more like it in the last minute)", line, held_back);
  spdlog::log(static_cast<spdlog::level::level_enum>(level), "{}{}", prefix_, text);
}

void EventLog::committed(const WriteBatch& batch) {
  std::lock_guard lock(mu_);
  alerts(batch);
  orders(batch);
}

void EventLog::alerts(const WriteBatch& batch) {
  for (const Alert& a : batch.alerts) {
    const bool known = active_alerts_.count(a.id) > 0;
    if (a.active() && !known) {
      active_alerts_.insert(a.id);
      const auto level = severity(a.kind) == AlertSeverity::critical ? spdlog::level::err
                                                                      : spdlog::level::warn;
      limited(level, fmt::format("alert {}", to_string(a.kind)),
              fmt::format("ALERT raised ({}) {} {}: {}", to_string(severity(a.kind)),
                          to_string(a.kind), a.subject, a.message));
    } else if (!a.active() && known) {
      active_alerts_.erase(a.id);
      limited(spdlog::level::info, fmt::format("alert cleared {}", to_string(a.kind)),
              fmt::format("alert cleared: {} {} (active {:.1f} s)", to_string(a.kind), a.subject,
                          a.cleared_at->ms_since(a.raised_at) / 1000.0));
    }
  }
}

void EventLog::orders(const WriteBatch& batch) {
  std::map<OrderId, const Order*> by_id;
  for (const Order& o : batch.orders) by_id[o.id] = &o;
  for (const OrderEvent& e : batch.events) {
    auto it = by_id.find(e.order_id);
    if (it == by_id.end()) continue;
    const Order& o = *it->second;
    if (e.source == EventSource::error) {
      limited(spdlog::level::warn, "refused " + o.symbol,
              fmt::format("broker refused {} {} {} {} (order {}, {}): {}", to_string(o.role),
                          to_string(o.side), o.qty.str(), o.symbol, o.id, o.client_order_id,
                          e.note));
    }
    const bool placed_exit = !e.from && o.role != OrderRole::entry && !o.parent_order_id;
    if (placed_exit && !exits_of_trade_.insert(o.trade_id).second) {
      limited(spdlog::level::info, "exit " + o.symbol,
              fmt::format("exit re-placed for trade {}: {} {} {} {}{}{} ({})", o.trade_id,
                          to_string(o.role), to_string(o.side), o.qty.str(), o.symbol,
                          o.limit_price ? " limit " + o.limit_price->str() : "",
                          o.stop_price ? " stop " + o.stop_price->str() : "", e.note));
    }
  }
  for (const Trade& t : batch.trades) {
    if (t.state == TradeState::failed) {
      limited(spdlog::level::err, "trade failed " + t.spec.symbol,
              fmt::format("trade {} {} failed: {}", t.id, t.spec.symbol, t.note));
    }
    if (is_terminal(t.state)) exits_of_trade_.erase(t.id);
  }
}

void EventLog::commit_failed(const Status& status) {
  std::lock_guard lock(mu_);
  limited(spdlog::level::err, "store", "store error: commit failed, the input is rolled back "
                                       "and found again by the next resync: " +
                                           status.message());
}

void EventLog::broker_unreachable(const std::string& error) {
  spdlog::error("{}broker unreachable: {}; calls wait, retried with backoff", prefix_, error);
}

void EventLog::broker_back(std::int64_t outage_ms, int attempts) {
  spdlog::info("{}broker reachable again after {:.1f} s ({} attempts); resyncing", prefix_,
               outage_ms / 1000.0, attempts);
}

void EventLog::stream_connected() {
  std::lock_guard lock(mu_);
  limited(spdlog::level::info, "stream", "trade_updates stream connected");
}

void EventLog::stream_disconnected(const std::string& reason) {
  std::lock_guard lock(mu_);
  limited(spdlog::level::warn, "stream down", "trade_updates stream disconnected: " + reason);
}

Status LoggedStore::commit(const WriteBatch& batch) {
  Status s = inner_->commit(batch);
  if (s) {
    log_->committed(batch);
  } else {
    log_->commit_failed(s);
  }
  return s;
}

}  // namespace orderly::app
