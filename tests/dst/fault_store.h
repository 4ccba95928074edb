#pragma once
// A Store decorator that injects storage faults: commit() fails cleanly (nothing applied, as an
// SQLite transaction that rolled back) with a probability, and load() fails the same way, so a
// restart can meet a store that is briefly unreadable. Reads other than load() pass through.
//
// It also pins the store's instance tag to one derived from the seed: the SQLite backend draws it
// from the OS entropy source, and it is part of every client_order_id, so without this a seed
// would not replay bit for bit.

#include <cstdint>
#include <memory>
#include <string>

#include "rng.h"
#include "store/forwarding_store.h"
#include "trace.h"

namespace orderly::dst {

class FaultStore final : public ForwardingStore {
 public:
  FaultStore(std::unique_ptr<Store> inner, Rng& rng, Trace& trace, std::string instance_tag)
      : ForwardingStore(std::move(inner)),
        rng_(rng),
        trace_(trace),
        tag_(std::move(instance_tag)) {}

  // Probabilities in per mille; 0 turns the fault off.
  void set_commit_failure_per_mille(int p) { commit_fail_pm_ = p; }
  void set_load_failure_per_mille(int p) { load_fail_pm_ = p; }

  std::int64_t commits() const { return commits_; }
  std::int64_t failed_commits() const { return failed_commits_; }
  std::int64_t failed_loads() const { return failed_loads_; }

  StatusOr<LoadedState> load() override;
  Status commit(const WriteBatch& batch) override;

 private:
  Rng& rng_;
  Trace& trace_;
  std::string tag_;
  int commit_fail_pm_ = 0;
  int load_fail_pm_ = 0;
  std::int64_t commits_ = 0;
  std::int64_t failed_commits_ = 0;
  std::int64_t failed_loads_ = 0;
};

}  // namespace orderly::dst
