#pragma once
// Internal to orderly_engine: the keys of the sync state the engine keeps in the store (what
// must outlive a crash besides orders and trades), and the engine's fixed intervals and caps.

#include <cstdint>
#include <string_view>

namespace orderly {
namespace engine_internal {

// ---- Sync state keys (Store::put_sync_state) ----------------------------------------------
inline constexpr std::string_view kWatermarkTime = "fill_watermark_time";
inline constexpr std::string_view kWatermarkId = "fill_watermark_id";
inline constexpr std::string_view kRateWindow = "rest_calls_last_minute";
// Engine-up ms the exits' cover has gone unconfirmed (blindness_), kept across restarts.
inline constexpr std::string_view kBlindMs = "cover_unconfirmed_ms";
// The exits a sweep missed that the broker has not answered for since ("id:ns" each, ns the
// time they went unconfirmed), kept across restarts: a gap the engine knew of survives a crash.
inline constexpr std::string_view kUnconfirmedExits = "unconfirmed_exits";
// The exit groups a modify asked the broker to cancel (placed again from the new targets once
// gone), space-separated order ids: a cancel cut by a crash or refused for a while is asked
// again, after a restart too (exit_modifier.cc).
inline constexpr std::string_view kModifyCancels = "modify_cancels";
// Trades whose exits sold beyond them (space-separated ids), kept across restarts: an ended one
// is loaded again with its orders, so the charge it left on open trades outlives a crash.
inline constexpr std::string_view kOversoldTrades = "oversold_trades";

// ---- Fixed intervals and caps -------------------------------------------------------------
// The fill catch-up reads again the executions of this long before its watermark: one that
// became visible after a later one is not missed.
inline constexpr std::int64_t kActivityOverlapMs = 1000;
// How long the orders of an ended trade stay in memory after its last change: late stream events
// and the fill catch-up's overlap come within seconds; the views (API, tests) keep showing a trade
// that just closed.
inline constexpr std::int64_t kPruneAfterMs = 300'000;
// Exits placed for one trade within a minute before orderly stops placing more (and says so):
// a broker that ends them as fast as they are placed would otherwise meet a loop.
inline constexpr int kMaxExitPlacementsPerMinute = 5;
// How often the positions touched by events are judged against their exits (ProtectionMonitor).
inline constexpr std::int64_t kProtectionCheckEveryMs = 100;

}  // namespace engine_internal

using engine_internal::kActivityOverlapMs;
using engine_internal::kBlindMs;
using engine_internal::kMaxExitPlacementsPerMinute;
using engine_internal::kModifyCancels;
using engine_internal::kOversoldTrades;
using engine_internal::kProtectionCheckEveryMs;
using engine_internal::kPruneAfterMs;
using engine_internal::kRateWindow;
using engine_internal::kUnconfirmedExits;
using engine_internal::kWatermarkId;
using engine_internal::kWatermarkTime;

}  // namespace orderly
