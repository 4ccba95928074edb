#include "fault_store.h"

#include <fmt/format.h>

namespace orderly::dst {

StatusOr<LoadedState> FaultStore::load() {
  if (load_fail_pm_ > 0 && rng_.chance(load_fail_pm_)) {
    ++failed_loads_;
    trace_.add("store: injected load failure");
    return Status::error(Status::Code::io_error, "dst: injected load failure");
  }
  auto s = ForwardingStore::load();
  if (s.ok()) s->instance_tag = tag_;
  return s;
}

Status FaultStore::commit(const WriteBatch& batch) {
  if (commit_fail_pm_ > 0 && rng_.chance(commit_fail_pm_)) {
    ++failed_commits_;
    trace_.add(fmt::format("store: injected commit failure ({} orders, {} events)",
                           batch.orders.size(), batch.events.size()));
    return Status::error(Status::Code::io_error, "dst: injected commit failure");
  }
  Status st = ForwardingStore::commit(batch);
  if (st.ok()) ++commits_;
  return st;
}

}  // namespace orderly::dst
