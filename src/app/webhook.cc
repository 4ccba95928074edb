#include "app/webhook.h"

#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "broker/alpaca/beast_transport.h"
#include "core/audit.h"
#include "store/store.h"

namespace orderly::app {
namespace json = boost::json;

class AlertWebhook::Impl {
 public:
  Impl(Store& store, std::unique_ptr<alpaca::HttpTransport> transport, std::string target,
       WebhookOptions options)
      : store_(store), transport_(std::move(transport)), target_(std::move(target)), o_(options) {}
  ~Impl() { stop(); }

  void start() {
    if (thread_.joinable()) return;
    collect(true);  // before start() returns: what exists now is history, what follows is news
    thread_ = std::thread([this] { run(); });
  }
  void stop() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  std::atomic<std::int64_t> sent{0};
  std::atomic<std::int64_t> dropped{0};

 private:
  // Sleeps up to `ms`; false when stopping.
  bool wait(std::int64_t ms) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(ms), [&] { return stop_; });
    return !stop_;
  }

  std::string message(const Alert& a, bool cleared, int held_back = 0) const {
    json::object alert{{"id", a.id},
                       {"kind", to_string(a.kind)},
                       {"subject", a.subject},
                       {"message", a.message},
                       {"raised_at", format_rfc3339(a.raised_at)},
                       {"cleared_at", a.cleared_at ? json::value(format_rfc3339(*a.cleared_at))
                                                   : json::value(nullptr)}};
    json::object out{{"event", cleared ? "cleared" : "raised"}, {"alert", std::move(alert)}};
    if (!o_.account.empty()) out["account"] = o_.account;
    if (held_back > 0) out["held_back"] = held_back;
    return json::serialize(out);
  }

  // New raises and clears since the last look. The first look only records what is there:
  // a restart does not repeat old alerts.
  void collect(bool first) {
    auto alerts = store_.list_alerts(false, 500);
    if (!alerts.ok()) return;
    // Oldest first (the store lists the newest first): messages go out in the order things
    // happened, and a flapping alert's held state is its latest.
    std::sort(alerts->begin(), alerts->end(),
              [](const Alert& x, const Alert& y) { return x.id < y.id; });
    for (const auto& a : *alerts) {
      int state = a.active() ? 1 : 2;
      int& known = known_[a.id];
      if (known >= state) continue;
      if (!first && !held(a, known == 0)) {
        if (known == 0 && state == 2) queue(message(a, false));
        queue(message(a, state == 2));
        if (known == 0) flaps_[key(a)].sent.push_back(std::chrono::steady_clock::now());
      }
      known = state;
    }
    if (!first) settle_flaps();
  }

  // An alert raised and cleared again and again (the engine's stuck_order on a symbol, seen by
  // hand 437 times in a minute: 874 POSTs to a chat) is sent twice a period; the rest is held
  // back, and when the period has passed its latest state is sent with the count held back.
  struct Flap {
    std::deque<std::chrono::steady_clock::time_point> sent;  // raises sent within the period
    int held = 0;
    std::optional<Alert> last;  // the latest held alert, as last seen
  };
  static std::string key(const Alert& a) {
    return std::string(to_string(a.kind)) + " " + a.subject;
  }
  void prune(Flap& f, std::chrono::steady_clock::time_point now) const {
    const auto period = std::chrono::milliseconds(o_.flap_period_ms);
    while (!f.sent.empty() && now - f.sent.front() >= period) f.sent.pop_front();
  }
  // True when `a`'s change is held back: a new raise of an alert sent twice within the period,
  // or the clear of one that was held.
  bool held(const Alert& a, bool fresh) {
    if (!fresh && !held_ids_.count(a.id)) return false;
    Flap& f = flaps_[key(a)];
    if (fresh) {
      prune(f, std::chrono::steady_clock::now());
      if (f.sent.size() < 2) return false;
      ++f.held;
      held_ids_.insert(a.id);
    }
    if (!f.last || f.last->id <= a.id) f.last = a;
    return true;
  }
  void settle_flaps() {
    const auto now = std::chrono::steady_clock::now();
    for (auto it = flaps_.begin(); it != flaps_.end();) {
      Flap& f = it->second;
      prune(f, now);
      if (f.held > 0 && f.sent.empty() && f.last) {
        queue(message(*f.last, !f.last->active(), f.held));
        held_ids_.erase(f.last->id);  // sent now: its clear will be
        f.sent.push_back(now);
        f.held = 0;
        f.last.reset();
      }
      it = f.sent.empty() && f.held == 0 ? flaps_.erase(it) : std::next(it);
    }
    if (held_ids_.size() > 100'000) held_ids_.clear();  // bounded
  }

  void queue(std::string body) {
    if (queue_.size() >= o_.queue_max) {
      queue_.pop_front();
      ++dropped;
    }
    queue_.push_back(std::move(body));
  }

  bool deliver(const std::string& body) {
    std::int64_t backoff = o_.backoff_base_ms;
    for (int attempt = 1; attempt <= o_.attempts_max; ++attempt) {
      alpaca::HttpRequest req{"POST", target_, {{"Content-Type", "application/json"}}, body};
      auto result = transport_->send(req);
      if (result.ok() && result.value().status >= 200 && result.value().status < 300) {
        return true;
      }
      spdlog::warn("alert webhook: attempt {} failed ({}); next in {} ms", attempt,
                   result.ok() ? "HTTP " + std::to_string(result.value().status)
                               : result.error().message,
                   backoff);
      if (attempt == o_.attempts_max || !wait(backoff)) break;
      backoff = std::min(backoff * 2, o_.backoff_cap_ms);
    }
    return false;
  }

  void run() {
    while (wait(o_.poll_ms)) {
      collect(false);
      while (!queue_.empty()) {
        if (deliver(queue_.front())) {
          ++sent;
        } else {
          ++dropped;
          spdlog::error("alert webhook: gave up on one message after {} attempts", o_.attempts_max);
        }
        queue_.pop_front();
        std::lock_guard lock(mu_);
        if (stop_) return;
      }
    }
  }

  Store& store_;
  std::unique_ptr<alpaca::HttpTransport> transport_;
  std::string target_;
  WebhookOptions o_;
  std::map<std::int64_t, int> known_;  // alert id -> 1 raised, 2 cleared (sent or recorded)
  std::map<std::string, Flap> flaps_;  // by "kind subject"
  std::set<std::int64_t> held_ids_;    // alerts whose raise was held back
  std::deque<std::string> queue_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

StatusOr<std::unique_ptr<AlertWebhook>> AlertWebhook::create(Store& store, const std::string& url,
                                                             WebhookOptions options) {
  auto parsed = boost::urls::parse_absolute_uri(url);
  if (!parsed || (parsed->scheme() != "http" && parsed->scheme() != "https") ||
      parsed->host().empty()) {
    return Status::error(Status::Code::invalid_argument,
                         "alerts.webhook_url must be http(s)://host[:port]/path");
  }
  std::string base = std::string(parsed->scheme()) + "://" + std::string(parsed->encoded_host_and_port());
  std::string target = std::string(parsed->encoded_path());
  if (target.empty()) target = "/";
  if (parsed->has_query()) target += "?" + std::string(parsed->encoded_query());
  alpaca::BeastTransportOptions transport_options;
  transport_options.base_url = base;
  transport_options.read_timeout_ms = 10'000;
  auto transport = alpaca::BeastTransport::create(transport_options);
  if (!transport.ok()) return transport.status();
  return std::unique_ptr<AlertWebhook>(new AlertWebhook(
      std::make_unique<Impl>(store, std::move(*transport), std::move(target), options)));
}

AlertWebhook::AlertWebhook(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
AlertWebhook::~AlertWebhook() = default;
void AlertWebhook::start() { impl_->start(); }
void AlertWebhook::stop() { impl_->stop(); }
std::int64_t AlertWebhook::sent() const { return impl_->sent.load(); }
std::int64_t AlertWebhook::dropped() const { return impl_->dropped.load(); }

}  // namespace orderly::app
