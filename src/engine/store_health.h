#pragma once
// Whether the store takes the engine's writes (issue 21: out of three Impl fields over four
// files): failing since the first failure after the last good commit, and why. What /healthz
// and /metrics say of the store.

#include <optional>
#include <string>

#include "core/time.h"

namespace orderly {

class StoreHealth {
 public:
  // A commit, or a read an input could not do without, failed at `now`.
  void failed(std::string why, Timestamp now) {
    if (ok_) since_ = now;
    ok_ = false;
    error_ = std::move(why);
  }
  // The start could not load the store: failing (the start is retried), since no input ran.
  void load_failed(std::string why) {
    ok_ = false;
    error_ = std::move(why);
  }
  // The first good commit after failed ones.
  void back() {
    ok_ = true;
    since_.reset();
    error_.clear();
  }
  bool ok() const { return ok_; }
  const std::string& error() const { return error_; }
  std::optional<Timestamp> failing_since() const { return since_; }

 private:
  bool ok_ = true;
  std::string error_;
  std::optional<Timestamp> since_;
};

}  // namespace orderly
