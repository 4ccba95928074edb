#pragma once
// A TradeUpdateHandler that records everything, thread-safe, with a polling wait.

#include <chrono>
#include <functional>
#include <mutex>
#include <thread>

#include "broker/broker.h"

namespace orderly::testing {

class RecordingHandler : public TradeUpdateHandler {
 public:
  void on_trade_update(TradeUpdate update) override {
    std::lock_guard lock(mutex_);
    updates_.push_back(std::move(update));
  }
  void on_connected() override {
    std::lock_guard lock(mutex_);
    ++connected_;
  }
  void on_disconnected(std::string reason) override {
    std::lock_guard lock(mutex_);
    ++disconnected_;
    reasons_.push_back(std::move(reason));
  }
  void on_malformed(std::string raw, std::string reason) override {
    std::lock_guard lock(mutex_);
    ++malformed_;
    reasons_.push_back("malformed: " + reason + " in " + raw);
  }

  std::vector<TradeUpdate> updates() const {
    std::lock_guard lock(mutex_);
    return updates_;
  }
  std::vector<std::string> reasons() const {
    std::lock_guard lock(mutex_);
    return reasons_;
  }
  int connected() const {
    std::lock_guard lock(mutex_);
    return connected_;
  }
  int disconnected() const {
    std::lock_guard lock(mutex_);
    return disconnected_;
  }
  int malformed() const {
    std::lock_guard lock(mutex_);
    return malformed_;
  }

  // Polls `done` until it holds or a generous deadline passes.
  bool wait_for(const std::function<bool()>& done,
                std::chrono::milliseconds deadline = std::chrono::seconds(30)) const {
    const auto until = std::chrono::steady_clock::now() + deadline;
    while (std::chrono::steady_clock::now() < until) {
      if (done()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return done();
  }

 private:
  mutable std::mutex mutex_;
  std::vector<TradeUpdate> updates_;
  std::vector<std::string> reasons_;
  int connected_ = 0;
  int disconnected_ = 0;
  int malformed_ = 0;
};

}  // namespace orderly::testing
