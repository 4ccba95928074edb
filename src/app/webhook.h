#pragma once
// Alerts POSTed to [alerts] webhook_url as they are raised and cleared: a thread follows the
// store's alerts, queues a JSON message per change (bounded queue: the oldest is dropped when
// full) and sends it with bounded retries and exponential backoff. A webhook that is down never
// slows the engine: it only reads the store.

#include <cstdint>
#include <memory>
#include <string>

#include "core/status.h"

namespace orderly {
class Store;
}

namespace orderly::app {

struct WebhookOptions {
  std::int64_t poll_ms = 1000;
  std::size_t queue_max = 1000;
  int attempts_max = 5;
  std::int64_t backoff_base_ms = 500;
  std::int64_t backoff_cap_ms = 30'000;
  std::string account;  // several accounts: each message names its account ("account": NAME)
  // An alert raised more than twice within this period flaps: the rest is held back and counted.
  std::int64_t flap_period_ms = 60'000;
};

class AlertWebhook {
 public:
  // `url`: http(s)://host[:port]/path (plain http only to loopback).
  static StatusOr<std::unique_ptr<AlertWebhook>> create(Store& store, const std::string& url,
                                                       WebhookOptions options = {});
  ~AlertWebhook();  // stops
  void start();
  void stop();
  std::int64_t sent() const;
  std::int64_t dropped() const;

  class Impl;

 private:
  explicit AlertWebhook(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace orderly::app
