#include "engine/reconciliation.h"

#include <utility>

namespace orderly {

void Reconciliation::request() {
  requested_ = true;
  report_ = ReconcileReport{};
  reported_.clear();
}

void Reconciliation::finish() {
  requested_ = false;
  report_.status = Status::success();
  finished_ = report_;
}

std::optional<ReconcileReport> Reconciliation::take_finished() {
  return std::exchange(finished_, std::nullopt);
}

std::optional<ReconcileReport> Reconciliation::progress() const {
  if (!requested_) return std::nullopt;
  ReconcileReport r = report_;
  r.complete = false;
  return r;
}

}  // namespace orderly
