#pragma once
// Private to src/sim: the one class behind make_exchange(). Split over several files by concern:
//   book.cc    orders, holds, buying power, matching, fills, groups (bracket/oco/oto), positions
//   render.cc  Alpaca's JSON shapes (order, position, account, activity, stream message)
//   http.cc    handle(): routing, request parsing, auth, rate limit, HTTP faults, statistics
// Boost.JSON is allowed here because nothing outside src/sim includes this header.

#include <array>
#include <boost/json.hpp>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "core/decimal.h"
#include "core/market_hours.h"
#include "core/time.h"
#include "sim/exchange.h"
#include "sim/fault_plan.h"
#include "sim/rng.h"

namespace orderly::sim {

namespace json = boost::json;

enum class St : std::uint8_t {
  accepted, pending_new, new_, partially_filled, filled, canceled, expired, rejected, replaced,
  pending_cancel, pending_replace, held
};
std::string_view to_string(St s);
bool is_terminal(St s);

enum class OType : std::uint8_t { market, limit, stop, stop_limit, trailing_stop };
std::string_view to_string(OType t);

enum class OClass : std::uint8_t { simple, bracket, oco, oto };

// Role inside a group: the entry (or a simple order), the take-profit leg, the stop-loss leg.
// An OCO's parent is its take-profit; its only leg is the stop-loss.
enum class Role : std::uint8_t { main, take_profit, stop_loss };

struct SimOrder {
  std::uint64_t seq = 0;  // creation order; also orders the per-symbol books
  std::string id;
  std::string client_order_id;
  std::string symbol;
  bool buy = true;
  OType type = OType::market;
  OClass cls = OClass::simple;
  Role role = Role::main;
  std::string tif;  // "day", "gtc", "ioc", "fok", "opg", "cls"
  std::optional<Decimal> qty;       // null for notional orders until they fill
  std::optional<Decimal> notional;  // market buys only
  Decimal filled_qty;
  Decimal filled_value;  // sum of price * qty over executions, for filled_avg_price
  std::optional<Decimal> limit_price;
  std::optional<Decimal> stop_price;  // a trailing stop's follows its high-water mark
  std::optional<Decimal> trail_price, trail_percent, hwm;  // trailing_stop only
  St status = St::accepted;
  Timestamp created_at, updated_at, submitted_at;
  std::optional<Timestamp> filled_at, expired_at, canceled_at, failed_at, replaced_at;
  std::string replaced_by, replaces;  // "" renders as null
  std::string parent_id;              // group parent ("" for a top-level order)
  std::vector<std::string> legs;      // group children
  std::string hold_root;  // orders sharing a hold root hold their shares once (groups, replaces)
  bool extended_hours = false;
  std::string position_intent;  // "" renders as null
  bool armed = false;           // held stop-loss leg whose stop is watched
  bool stop_triggered = false;
  bool first_check_done = false;  // ioc/fok decide on their first matching pass
  bool crypto = false;            // trades 24/7: sessions neither hold nor expire it
  bool opening = true;            // opens or adds to a position: holds buying power while open
  Decimal reserve_unit;           // buying power per share this buy reserves while open
  Decimal reserved;               // buying power this open buy holds now

  Decimal remaining() const { return qty ? *qty - filled_qty : Decimal(); }
  bool open() const { return !is_terminal(status); }
};

struct SymbolBook {
  std::string symbol, asset_id, exchange, name;
  Decimal price, lastday_price;
  bool crypto = false;
  // Crypto only (its asset's fields; zero for equities): what an order's qty and prices obey.
  Decimal min_order_size, min_trade_increment, price_increment;
  // The asset's flags (POST /sim/assets sets them; all true until then): book.cc refuses what
  // Alpaca refuses by them. `shortable` is the asset's; the account's shorting comes first.
  bool tradable = true, active = true, fractionable = true, shortable = true;
  bool easy_to_borrow = true, fractional_eh = true;  // attributes: fractional_eh_enabled
  // Crypto: Alpaca's least order value, which its asset does not state (zero: none).
  Decimal min_order_value;
  std::map<std::uint64_t, SimOrder*> open_buys, open_sells;  // by seq
};

struct Position {
  Decimal qty;         // negative for a short
  Decimal cost_basis;  // qty * avg_entry_price (negative for a short)
};

struct Activity {
  std::string id;  // sorts by time: "<17-digit UTC time>::<uuid led by an 8-hex sequence>"
  Timestamp time;
  bool partial = false;
  Decimal price, qty, leaves_qty, cum_qty;
  bool buy = true;
  std::string symbol, order_id;
  St order_status = St::new_;
};

// An Alpaca-style refusal: HTTP status plus {"code","message",...extra}.
struct ApiError {
  int http = 422;
  std::int64_t code = 42210000;  // 0: no code (gateway errors such as {"message":"forbidden."})
  std::string message;
  json::object extra;  // merged into the body in key order
};

// A validated order request (POST /v2/orders, or a position close).
struct OrderRequest {
  std::string symbol;
  bool buy = true;
  OType type = OType::market;
  std::string tif = "day";
  std::optional<Decimal> qty, notional, limit_price, stop_price;
  std::optional<Decimal> trail_price, trail_percent;
  std::optional<Decimal> tp_limit, sl_stop, sl_limit;
  OClass cls = OClass::simple;
  std::string client_order_id;
  bool extended_hours = false;
  std::string position_intent;
  bool opening = true;  // decided by place() from the position
};

// A validated PATCH /v2/orders/{id} body; absent fields keep the old order's values.
struct ReplaceRequest {
  std::optional<Decimal> qty, limit_price, stop_price, trail;
  std::optional<std::string> tif, client_order_id;
};

// Points `slot` at an arena for one call, and back when the call ends.
class ScopedStorage {
 public:
  ScopedStorage(json::storage_ptr& slot, json::monotonic_resource* mr) : slot_(slot), saved_(slot) {
    slot_ = json::storage_ptr(mr);
  }
  ~ScopedStorage() { slot_ = saved_; }
  ScopedStorage(const ScopedStorage&) = delete;
  ScopedStorage& operator=(const ScopedStorage&) = delete;

 private:
  json::storage_ptr& slot_;
  json::storage_ptr saved_;
};

// The JSON arena of one call (a REST request, a stream message): a stack buffer, the monotonic
// resource over it (heap blocks beyond it), and `slot` pointed at it while this lives.
//
// Issue 3: when the arena and the reply's JSON tree were locals of one function, the tree was
// declared first, so it was destroyed after the arena had freed its heap blocks; ~array then read
// freed memory and `orderly sim` died once listings outgrew the buffer (SIGSEGV after 100-260
// orders). The rule now holds by construction: a CallArena lives in the caller's frame and every
// JSON value of the call lives in a callee's frame, so the values are gone before the arena is.
template <std::size_t N>
class CallArena {
  // The slot's storage_ptr is then flagged deallocate-trivial: destroying an arena value frees
  // nothing and reads none of its nodes (the pre-fix code passed a type-erased memory_resource*,
  // so every ~array walked its elements).
  static_assert(json::is_deallocate_trivial<json::monotonic_resource>::value);

 public:
  explicit CallArena(json::storage_ptr& slot) : mr_(buffer_, N), scoped_(slot, &mr_) {}
  CallArena(const CallArena&) = delete;
  CallArena& operator=(const CallArena&) = delete;

 private:
  unsigned char buffer_[N];  // members in this order: buffer, then resource, then slot swap
  json::monotonic_resource mr_;
  ScopedStorage scoped_;
};

class ExchangeImpl final : public Exchange {
 public:
  ExchangeImpl(const SimConfig& config, const Clock& clock);

  HttpReply handle(const HttpCall& call) override;
  void advance(Timestamp now) override;
  std::vector<StreamMessage> take_stream_messages(Timestamp now) override;
  bool stream_disconnect_due(Timestamp now) override;
  void set_prices(const std::map<std::string, Decimal>& prices) override;
  std::string set_faults_json(std::string_view json) override;
  std::string stats_json() const override;
  bool check_credentials(std::string_view key_id, std::string_view secret_key) const override;
  void session(SessionEvent event) override;
  bool market_open() const override { return equities_open(clock_.now()); }
  bool equities_open(Timestamp now) const;

  // ---- book.cc ----
  // Validates and places an order (and its legs). The order answer of POST /v2/orders.
  std::variant<SimOrder*, ApiError> place(const OrderRequest& req);
  std::optional<ApiError> cancel(SimOrder& o);  // DELETE /v2/orders/{id}
  std::variant<SimOrder*, ApiError> replace(SimOrder& o, const ReplaceRequest& req);
  void cancel_now(SimOrder& o, Timestamp now);  // DELETE /v2/positions?cancel_orders=true
  void match_now() { match(clock_.now(), equities_open(clock_.now())); }
  SimOrder* find_order(std::string_view id);
  SimOrder* find_by_client_id(std::string_view cid);
  SymbolBook* book(std::string_view symbol);
  void add_book(std::string_view symbol, Decimal price, std::string_view exchange,
                std::string_view name, bool crypto);
  const Position* position(std::string_view symbol) const;
  Decimal buying_power() const;
  // What open closing orders hold of a position: sells of a long (`sells`), covers of a short.
  Decimal held_for_orders(const SymbolBook& b, std::vector<std::string>* related,
                          std::string_view exclude_root = {}, bool sells = true) const;
  // "BTCUSD" names the pair "BTC/USD" (Alpaca's position routes use that form); else as given.
  std::string resolve_symbol(std::string_view symbol) const;
  Decimal short_market_value() const;

  // ---- render.cc ----
  json::object order_json(const SimOrder& o, bool nested) const;
  json::object position_json(const std::string& symbol, const Position& p) const;
  json::object account_json() const;
  json::object activity_json(const Activity& a) const;
  json::object asset_json(const SymbolBook& b) const;
  json::object clock_json(Timestamp now) const;
  json::array calendar_json(std::int64_t first_day, std::int64_t last_day) const;
  static json::object error_body(const ApiError& e);
  const std::string& format_time(Timestamp t) const;
  json::value time_or_null(const std::optional<Timestamp>& t) const;

  // Where the JSON trees of the current call are allocated (an arena during handle()/emit()).
  json::storage_ptr sp_;
  mutable std::array<std::pair<std::int64_t, std::string>, 4> time_cache_;
  mutable std::size_t time_cache_next_ = 0;

  // State, read by the route handlers in http.cc.
  const SimConfig config_;
  const Clock& clock_;
  Rng id_rng_, price_rng_, fill_rng_, fault_rng_;
  std::string account_id_, account_number_;
  Timestamp created_at_;
  Decimal cash_, reserved_total_;
  std::uint64_t next_seq_ = 1;
  std::unordered_map<std::string, std::unique_ptr<SimOrder>> orders_;
  std::unordered_map<std::string, SimOrder*> by_client_id_;
  // (submitted_at ns, seq): every order, and the open ones, in submission order.
  std::map<std::pair<std::int64_t, std::uint64_t>, SimOrder*> all_by_time_, open_by_time_;
  std::map<std::string, SymbolBook, std::less<>> books_;
  std::map<std::string, Position, std::less<>> positions_;
  std::vector<Activity> activities_;  // sorted by id (time, then sequence)
  std::uint64_t activity_seq_ = 0;

 private:
  // ---- book.cc ----
  enum class PendingKind { activate, cancel, replace };
  struct Pending {
    PendingKind kind;
    SimOrder* order;
    SimOrder* replacement = nullptr;
  };
  std::optional<ApiError> check_side(const SymbolBook& b, const OrderRequest& req,
                                     std::string_view exclude_root, bool& opening) const;
  std::optional<ApiError> check_closing_qty(const SymbolBook& b, bool buy, Decimal existing,
                                            Decimal qty, std::string_view exclude_root) const;
  std::optional<ApiError> check_buying_power(const SymbolBook& b, const OrderRequest& req,
                                             Decimal extra) const;
  std::optional<ApiError> check_crypto(const SymbolBook& b, const OrderRequest& req) const;
  std::optional<ApiError> opposite_opening_order(const SymbolBook& b,
                                                 const OrderRequest& req) const;
  void move_position(const std::string& symbol, Decimal delta, Decimal price);
  std::optional<ApiError> wash_trade_check(const SymbolBook& b, const OrderRequest& req) const;
  bool group_live(const SimOrder& leg) const;
  Decimal cost_of(const SymbolBook& b, const OrderRequest& req) const;
  SimOrder* create_order(const OrderRequest& req, SymbolBook& b, Role role, OType type, bool buy,
                         std::optional<Decimal> limit, std::optional<Decimal> stop, St status);
  void index_open(SimOrder& o);
  void unindex_open(SimOrder& o);
  void set_status(SimOrder& o, St s, Timestamp now);
  void update_reservation(SimOrder& o);
  void finish(SimOrder& o, St s, Timestamp now, std::string_view event);
  void process_pending(Timestamp now, bool market_open);
  void walk_prices(Timestamp now);
  void match(Timestamp now, bool equities_open);
  void try_fill(SimOrder& o, Timestamp now);
  void execute(SimOrder& o, Decimal qty, Decimal price, Timestamp now);
  void after_fill(SimOrder& o, Timestamp now);
  std::string activity_id(Timestamp now);
  void trigger_stop_leg(SimOrder& sl, Timestamp now);
  static void follow_trail(SimOrder& o, Decimal price);
  void expire_day_orders(Timestamp now);
  void expire_open_day_orders(Timestamp now);
  std::vector<SimOrder*> group_of(SimOrder& o);
  SimOrder* sibling_exit(SimOrder& o);
  void mark_dirty(const std::string& symbol) { dirty_symbols_.insert(symbol); }

  // ---- stream (book.cc) ----
  void emit(const SimOrder& o, std::string_view event, Timestamp now,
            std::optional<Decimal> price = {}, std::optional<Decimal> qty = {});
  void enqueue_stream(StreamMessage m, const SimOrder& o, std::string_view event);
  // The bodies of handle() and emit(), run inside the caller's CallArena (see CallArena).
  HttpReply handle_in_arena(const HttpCall& call);
  std::string stream_message_json(const SimOrder& o, std::string_view event, Timestamp now,
                                  std::optional<Decimal> price, std::optional<Decimal> qty);

 public:
  // ---- http.cc ----
  void count_fault(FaultAction a) { ++fault_counts_[std::string(to_string(a))]; }

  std::vector<Pending> pending_;
  std::vector<SimOrder*> to_check_;  // activated or partially filled: match on the next pass
  std::set<std::string> dirty_symbols_;
  Timestamp last_walk_{};
  bool walk_started_ = false;
  Timestamp next_close_{};  // regular_hours_only: day orders expire when it passes
  std::optional<bool> session_open_;  // set by session(): overrides the clock from then on

  std::deque<StreamMessage> stream_;
  std::optional<StreamMessage> reorder_slot_;  // held back to go out after the next message
  std::uint64_t stream_overflow_ = 0;
  static constexpr std::size_t kStreamQueueMax = 200'000;

  FaultPlan plan_;
  std::vector<Timestamp> next_disconnect_;  // per rule (only disconnect rules use it)

  // Rate limit: fixed 60 s windows of the injected clock, one per API key (Alpaca counts per
  // account); requests without a key share one.
  struct RateWindow {
    Timestamp start{};
    int count = 0;
    bool started = false;
  };
  std::map<std::string, RateWindow> rate_windows_;

  std::map<std::string, std::uint64_t> request_counts_, response_counts_, error_counts_,
      fault_counts_;
};

// ET calendar helpers (et_offset_seconds, regular_hours_open, ...): core/market_hours.h.

}  // namespace orderly::sim
