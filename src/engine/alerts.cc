#include "engine/alerts.h"

namespace orderly {

void Alerts::raise(AlertKind k, const std::string& subject, std::string message, Timestamp now) {
  auto key = std::make_pair(k, subject);
  if (active_.count(key)) return;
  Alert a;
  a.id = ++max_id_;
  a.kind = k;
  a.subject = subject;
  a.message = std::move(message);
  a.raised_at = now;
  before_[a.id] = std::nullopt;
  active_[key] = a.id;
  all_[a.id] = std::move(a);
}

void Alerts::clear(AlertKind k, const std::string& subject, Timestamp now) {
  auto it = active_.find({k, subject});
  if (it == active_.end()) return;
  const std::int64_t id = it->second;
  if (!before_.count(id)) before_[id] = all_[id];
  all_[id].cleared_at = now;
  active_.erase(it);
}

bool Alerts::any_active(AlertKind k) const {
  auto it = active_.lower_bound({k, std::string()});
  return it != active_.end() && it->first.first == k;
}

std::size_t Alerts::active_count(AlertKind k) const {
  std::size_t n = 0;
  for_each_active(k, [&](const Alert&) { ++n; });
  return n;
}

std::vector<Alert> Alerts::active_alerts() const {
  std::vector<Alert> out;
  for_each_active([&](const Alert& a) { out.push_back(a); });
  return out;
}

void Alerts::begin() {
  before_.clear();
  max_id_before_ = max_id_;
}

void Alerts::add_to_batch(std::vector<Alert>& out) {
  for (std::int64_t id : carried_) before_.try_emplace(id, all_.at(id));
  for (auto& [id, before] : before_) out.push_back(all_.at(id));
}

void Alerts::roll_back() {
  for (auto& [id, before] : before_) {
    if (before) all_[id] = *before; else all_.erase(id);
  }
  rebuild_active();
  max_id_ = max_id_before_;
  before_.clear();
}

void Alerts::raise_carried(AlertKind k, const std::string& subject, std::string message,
                           Timestamp now) {
  auto was = before_;
  before_.clear();
  raise(k, subject, std::move(message), now);
  for (auto& [id, before] : before_) carried_.insert(id);
  before_ = std::move(was);
}

void Alerts::clear_carried(AlertKind k, const std::string& subject, Timestamp now) {
  auto it = active_.find({k, subject});
  if (it == active_.end()) return;
  all_[it->second].cleared_at = now;
  carried_.insert(it->second);
  active_.erase(it);
}

void Alerts::load(std::int64_t max_id, const std::vector<Alert>& active) {
  max_id_ = max_id;
  for (const Alert& a : active) all_[a.id] = a;
  rebuild_active();
}

void Alerts::prune_cleared(Timestamp now, std::int64_t keep_ms) {
  for (auto it = all_.begin(); it != all_.end();) {
    const Alert& a = it->second;
    if (a.cleared_at && now.ms_since(*a.cleared_at) >= keep_ms && !carried_.count(it->first) &&
        !before_.count(it->first)) {
      it = all_.erase(it);
      continue;
    }
    ++it;
  }
}

void Alerts::rebuild_active() {
  active_.clear();
  for (auto& [id, a] : all_) {
    if (a.active()) active_[{a.kind, a.subject}] = id;
  }
}

}  // namespace orderly
