#pragma once
// The engine's alerts (issue 21: a named component). An alert is raised once per kind and
// subject and cleared when its condition goes away. Every change belongs to the input that made
// it: it is written with that input's batch, and undone with it when the commit fails.

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/audit.h"
#include "core/time.h"

namespace orderly {

class Alerts {
 public:
  // Raises (kind, subject) unless it is active already: the first message stays.
  void raise(AlertKind k, const std::string& subject, std::string message, Timestamp now);
  void clear(AlertKind k, const std::string& subject, Timestamp now);
  bool active(AlertKind k, const std::string& subject) const {
    return active_.count({k, subject}) > 0;
  }
  bool any_active(AlertKind k) const;
  std::size_t active_count() const { return active_.size(); }
  std::size_t active_count(AlertKind k) const;
  // The active alerts, by kind then subject (of one kind: for_each_active(k, f)).
  template <typename F>
  void for_each_active(F&& f) const {
    for (const auto& [key, id] : active_) f(all_.at(id));
  }
  template <typename F>
  void for_each_active(AlertKind k, F&& f) const {
    for (auto it = active_.lower_bound({k, std::string()});
         it != active_.end() && it->first.first == k; ++it) {
      f(all_.at(it->second));
    }
  }
  std::vector<Alert> active_alerts() const;

  // ---- the input's part of the transaction ----
  void begin();
  // The alerts this input changed, and those carried from inputs whose commit failed.
  void add_to_batch(std::vector<Alert>& out);
  void committed() { carried_.clear(); }
  // Undoes the input's changes (its commit failed).
  void roll_back();
  // Raised or cleared at once, outside any input's undo: written with the next good commit
  // (the store's own anomaly, raised when a commit fails and cleared by the next good one).
  void raise_carried(AlertKind k, const std::string& subject, std::string message, Timestamp now);
  void clear_carried(AlertKind k, const std::string& subject, Timestamp now);

  // At start: the alerts active in the store and the highest id it gave.
  void load(std::int64_t max_id, const std::vector<Alert>& active);
  // Cleared alerts leave memory once their clearing is committed and `keep_ms` old: the store
  // has them, and only active ones are shown.
  void prune_cleared(Timestamp now, std::int64_t keep_ms);

 private:
  void rebuild_active();

  std::map<std::int64_t, Alert> all_;  // active, and cleared not yet pruned
  std::map<std::pair<AlertKind, std::string>, std::int64_t> active_;
  std::int64_t max_id_ = 0;
  // The input's undo: each alert it changed as it was before (nullopt: raised by it).
  std::map<std::int64_t, std::optional<Alert>> before_;
  std::int64_t max_id_before_ = 0;
  std::set<std::int64_t> carried_;  // changed, to be written with the next good commit
};

}  // namespace orderly
