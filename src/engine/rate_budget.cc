#include "engine/rate_budget.h"

#include <algorithm>
#include <cstdlib>
#include <map>

#include <fmt/format.h>

namespace orderly {
namespace {

void drop_older_than_a_minute(std::deque<Timestamp>& times, Timestamp now) {
  while (!times.empty() && now.ms_since(times.front()) >= 60'000) times.pop_front();
}

}  // namespace

// While entries wait for the budget, the catch-up runs every one and a half poll intervals (a
// completed poll at least every two, issue 20) from a share entries leave free for it.
RateBudget::Limits RateBudget::limits() const {
  Limits l;
  l.budget = limit();
  const std::int64_t tenth = std::max<std::int64_t>(1, l.budget / 10);
  l.background = l.budget - tenth;
  l.idle_polls = std::max<std::int64_t>(1, l.background - tenth);
  const std::int64_t spacing = std::max<std::int64_t>(1, cfg_.poll_interval_ms * 3 / 2);
  l.catch_up_share = std::max<std::int64_t>(
      1, std::min<std::int64_t>(l.budget / 3, (60'000 + spacing - 1) / spacing));
  l.catch_up_spacing_ms = std::max(spacing, (60'000 + l.catch_up_share - 1) / l.catch_up_share);
  // The catch-up finds a missed fill in one call whatever the number of open orders, while a
  // sweep of 10,000 is 21 pages: sharing one ceiling, the pages took every slot that freed up
  // and the catch-up waited behind them (a fill missed with the stream down took 7 s to find
  // at 10,000 open orders, not 2 polls).
  l.sweep_cap = std::max<std::int64_t>(1, l.background - l.catch_up_share);
  l.inflight_cap = cfg_.max_inflight;
  l.deferrable_inflight_cap = l.inflight_cap > 1 ? l.inflight_cap - 1 : l.inflight_cap;
  if (stated_) l.gap = std::max<std::int64_t>(0, *stated_ - 1 - l.budget);
  return l;
}

std::int64_t RateBudget::calls_last_minute(Timestamp now) {
  return own_calls_last_minute(now) + outside_;
}

std::int64_t RateBudget::own_calls_last_minute(Timestamp now) {
  drop_older_than_a_minute(calls_, now);
  drop_older_than_a_minute(assumed_, now);
  return static_cast<std::int64_t>(calls_.size() + assumed_.size());
}

void RateBudget::age(Timestamp now) {
  drop_older_than_a_minute(sweep_calls_, now);
  drop_older_than_a_minute(catchup_calls_, now);
  drop_older_than_a_minute(paced_catchup_calls_, now);
}

// - protective work and lookups: the whole budget and every in-flight slot;
// - entries: keep clear of a tenth of the budget, of the slots kept for exits, of the
//   catch-ups' share and of one in-flight slot. A burst of entries thus never delays the exit
//   of a filled position by more than one slot;
// - the fill catch-up within its share (one per catch_up_spacing_ms): the whole budget, as a
//   lookup. The sync never pauses for a burst (issue 20: trading calls took the whole minute at
//   once and no poll completed for up to two minutes);
// - sweep pages, and catch-ups beyond their share: idle slack only, a further tenth short of
//   what entries may fill. A poll stays in the window for a minute once sent: filling the
//   window with them made an entry queued next wait for them to age out (tens of seconds in
//   the dashboard test, poll_interval_ms = 200) and took the tenth kept for protective work.
//
// The calls made beside the engine (asset, account and clock reads, r.outside) are no entry's
// concern: entries, sweeps and polls are judged by the engine's own calls, so such a read never
// holds an order back. They fill first the gap the budget leaves under the broker's limit; only
// what goes beyond it counts against the whole budget that protective work, lookups and
// catch-ups share. And nothing is released that would take the minute's calls, the engine's and
// the others', to the broker's limit: there the client's rate window would hold the call unseen
// (no 429, no alert), where the engine holds it in its queue and says so (rate_limit_near).
bool RateBudget::fits(CommandPriority p, bool paced, const Limits& l, const Round& r) const {
  const auto inflight = static_cast<std::int64_t>(r.inflight);
  if (r.used + r.outside >= l.budget + l.gap) return false;
  const std::int64_t beyond_gap = std::max<std::int64_t>(0, r.outside - l.gap);
  // The part of the catch-ups' share not used in the window is kept for them: entries leave
  // what no catch-up took; idle polls leave what no paced catch-up took, so the paced ones to
  // come never lift the window above the idle polls' ceiling.
  auto unused = [&](const std::deque<Timestamp>& taken) {
    return std::max<std::int64_t>(0, l.catch_up_share - static_cast<std::int64_t>(taken.size()));
  };
  const bool entries_wait = r.used + r.reserve + unused(catchup_calls_) >= l.background;
  const bool idle_polls_wait = r.used + r.reserve + unused(paced_catchup_calls_) >= l.idle_polls;
  switch (p) {
    case CommandPriority::protective:
    case CommandPriority::lookup:
      return r.used + beyond_gap < l.budget && inflight < l.inflight_cap;
    case CommandPriority::catch_up:
      if (inflight >= l.deferrable_inflight_cap) return false;
      // Within its share the catch-up is how a fill the stream lost is found, and with it the
      // exits that fill needs: the slots kept for exits do not hold it back (DST trades seed
      // 25800000022624: a full window, the catch-up held 27 s behind that reserve and behind
      // the lookups, an ETH/USD fill unknown and its position without a stop all that time).
      if (paced) return r.used + beyond_gap < l.budget;
      return r.used + beyond_gap + r.reserve < l.budget && !idle_polls_wait;
    case CommandPriority::entry: return !entries_wait && inflight < l.deferrable_inflight_cap;
    case CommandPriority::sweep:
      // While the stream is down or suspect the sweep is how cancels and expiries are learned:
      // it waits for entries only. While it is healthy it is idle slack.
      if ((r.stream_suspect ? entries_wait : idle_polls_wait) ||
          inflight >= l.deferrable_inflight_cap) {
        return false;
      }
      return static_cast<std::int64_t>(sweep_calls_.size()) < l.sweep_cap;
  }
  return false;
}

bool RateBudget::paced_catchup(bool first_page, const Limits& l, Timestamp now) const {
  return !first_page || !last_paced_catchup_ ||
         now.ms_since(*last_paced_catchup_) >= l.catch_up_spacing_ms;
}

void RateBudget::note_release(CommandPriority p, bool paced, Timestamp now) {
  if (p == CommandPriority::catch_up) {
    if (paced) {
      paced_catchup_calls_.push_back(now);
      last_paced_catchup_ = now;
    }
    catchup_calls_.push_back(now);
  }
  calls_.push_back(now);
  if (p == CommandPriority::sweep) sweep_calls_.push_back(now);
}

const std::deque<std::pair<Timestamp, OrderId>>& RateBudget::entry_releases(Timestamp now) {
  while (!entry_releases_.empty() && now.ms_since(entry_releases_.front().first) >= 60'000) {
    entry_releases_.pop_front();
  }
  return entry_releases_;
}

std::string RateBudget::encode_window(Timestamp now) {
  calls_last_minute(now);
  std::map<std::int64_t, int> per_second;
  for (Timestamp t : calls_) per_second[t.ms() / 1000]++;
  std::string out;
  for (auto& [sec, n] : per_second) {
    if (!out.empty()) out += ',';
    out += fmt::format("{}:{}", sec, n);
  }
  return out;
}

void RateBudget::assume_unrecorded_calls(Timestamp now) {
  if (own_calls_last_minute(now) == 0) return;
  for (int i = 0; i < cfg_.max_inflight; ++i) assumed_.push_back(now);
}

void RateBudget::restore_window(const std::string& text) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t comma = text.find(',', pos);
    std::string item = text.substr(pos, comma == std::string::npos ? std::string::npos
                                                                    : comma - pos);
    pos = comma == std::string::npos ? text.size() : comma + 1;
    auto colon = item.find(':');
    if (colon == std::string::npos) continue;
    char* end = nullptr;
    const long long sec = std::strtoll(item.c_str(), &end, 10);
    const long n = std::strtol(item.c_str() + colon + 1, &end, 10);
    // The end of that second: conservative, the calls leave the window no earlier.
    for (long i = 0; i < n && i < 1000; ++i) calls_.push_back(Timestamp::from_ms(sec * 1000 + 999));
  }
  // Which of them were catch-ups is not kept: the latest count as the catch-ups' share, or the
  // share would be kept free on top of a full window and nothing but catch-ups and protective
  // work would go out for a minute after a restart (the start-up sweep included).
  const auto share = static_cast<std::size_t>(limits().catch_up_share);
  const std::size_t n = std::min(share, calls_.size());
  for (std::size_t i = calls_.size() - n; i < calls_.size(); ++i) {
    catchup_calls_.push_back(calls_[i]);
    paced_catchup_calls_.push_back(calls_[i]);
  }
}

}  // namespace orderly
