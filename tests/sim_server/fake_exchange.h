#pragma once
// A scripted Exchange for the transport tests: it records what the server hands it and answers
// with whatever the test queued, so faults (lost response, delay, status) are exact.

#include <atomic>
#include <deque>
#include <mutex>

#include "sim/exchange.h"

namespace orderly::sim::testing {

struct FakeState {
  std::mutex mu;
  std::vector<HttpCall> calls;
  std::deque<HttpReply> replies;  // answered in order; empty: 200 {"ok":true}
  std::vector<std::string> pending_stream;
  bool disconnect_once = false;
  std::map<std::string, Decimal> prices;
  std::string faults;
  std::atomic<int> advances{0};
};

class FakeExchange final : public Exchange {
 public:
  explicit FakeExchange(std::shared_ptr<FakeState> s) : s_(std::move(s)) {}

  HttpReply handle(const HttpCall& call) override {
    std::lock_guard lock(s_->mu);
    s_->calls.push_back(call);
    if (s_->replies.empty()) return HttpReply{200, {}, "{\"ok\":true}"};
    HttpReply r = s_->replies.front();
    s_->replies.pop_front();
    return r;
  }
  void advance(Timestamp) override { ++s_->advances; }
  std::vector<StreamMessage> take_stream_messages(Timestamp now) override {
    std::lock_guard lock(s_->mu);
    std::vector<StreamMessage> out;
    for (auto& m : s_->pending_stream) out.push_back({std::move(m), now});
    s_->pending_stream.clear();
    return out;
  }
  bool stream_disconnect_due(Timestamp) override {
    std::lock_guard lock(s_->mu);
    return std::exchange(s_->disconnect_once, false);
  }
  void set_prices(const std::map<std::string, Decimal>& prices) override {
    std::lock_guard lock(s_->mu);
    for (auto& [k, v] : prices) s_->prices[k] = v;
  }
  std::string set_faults_json(std::string_view json) override {
    std::lock_guard lock(s_->mu);
    if (json.find("rules") == std::string_view::npos) return "fault plan needs \"rules\"";
    s_->faults = std::string(json);
    return "";
  }
  std::string stats_json() const override { return "{\"requests\":{}}"; }

 private:
  std::shared_ptr<FakeState> s_;
};

}  // namespace orderly::sim::testing
