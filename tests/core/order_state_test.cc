// The order state machine. The expected matrix below is written out by hand from Alpaca's status
// documentation (alpaca-api.md section 3) and the local states' meaning, not derived from the
// table in order_state.cc: every (from, to) pair of kAllOrderStates is checked against it.

#include "core/order_state.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

namespace orderly {
namespace {

using S = OrderState;

Decimal D(std::string_view s) { return Decimal::must(s); }

const std::set<std::string> kBroker = {
    "pending_new",    "accepted",        "accepted_for_bidding", "pending_review", "held", "new",
    "partially_filled", "filled",        "done_for_day",         "canceled",       "expired",
    "replaced",       "pending_cancel",  "pending_replace",      "stopped",        "rejected",
    "suspended",      "calculated"};

std::set<std::string> with(std::set<std::string> a, const std::set<std::string>& b) {
  a.insert(b.begin(), b.end());
  return a;
}

// Where an order may go next. Stream events can be lost (the incident), so a later status may
// skip intermediate ones; nothing goes back to an earlier stage except a refused cancel/replace
// restoring the working status, a next-day done_for_day -> new, and a fill racing a cancel or an
// expiry (canceled/expired -> filled).
std::map<std::string, std::set<std::string>> expected_matrix() {
  // Everything a working order (received by the broker, not yet done) may become.
  const std::set<std::string> working_next = {
      "new",      "partially_filled", "filled",  "done_for_day", "canceled",
      "expired",  "replaced",         "pending_cancel", "pending_replace", "stopped",
      "rejected", "suspended",        "calculated",     "held"};
  std::map<std::string, std::set<std::string>> m;
  m["created"] = {"submitting", "canceled"};
  m["submitting"] = with({"created", "unknown", "submit_failed", "parked"}, kBroker);
  m["unknown"] = with({"created", "submitting", "submit_failed", "parked"}, kBroker);
  m["submit_failed"] = {};
  m["parked"] = with({"created"}, kBroker);
  m["pending_new"] = with({"accepted"}, working_next);
  m["accepted"] = with({"pending_new"}, working_next);
  m["accepted_for_bidding"] = with({"pending_new", "accepted"}, working_next);
  m["pending_review"] = with({"pending_new", "accepted"}, working_next);
  m["held"] = with({"pending_new", "accepted"}, working_next);
  m["new"] = {"partially_filled", "filled", "done_for_day", "canceled", "expired",
              "replaced", "pending_cancel", "pending_replace", "stopped", "rejected",
              "suspended", "calculated", "held"};
  m["partially_filled"] = {"filled", "done_for_day", "canceled", "expired", "replaced",
                           "pending_cancel", "pending_replace", "stopped", "suspended",
                           "calculated"};
  m["filled"] = {};
  m["done_for_day"] = {"new", "partially_filled", "filled", "canceled", "expired",
                       "pending_cancel", "pending_replace", "replaced"};
  m["canceled"] = {"filled"};
  m["expired"] = {"filled"};
  m["replaced"] = {};
  m["pending_cancel"] = {"canceled", "filled", "partially_filled", "new", "accepted",
                         "expired", "replaced", "done_for_day", "held"};
  m["pending_replace"] = {"replaced", "filled", "partially_filled", "new", "accepted",
                          "canceled", "pending_cancel", "expired", "rejected", "held"};
  m["stopped"] = {"partially_filled", "filled", "canceled", "expired"};
  m["rejected"] = {};
  m["suspended"] = {"new", "partially_filled", "filled", "canceled", "expired", "pending_cancel"};
  m["calculated"] = {"filled", "partially_filled", "canceled", "expired"};
  for (auto& [from, tos] : m) tos.erase(from);  // staying put is not a transition
  return m;
}

TEST(OrderStateNames, RoundTripAndUnknownRefused) {
  std::set<std::string_view> seen;
  for (S s : kAllOrderStates) {
    auto name = to_string(s);
    EXPECT_TRUE(seen.insert(name).second) << name;
    EXPECT_EQ(parse_order_state(name), s);
  }
  EXPECT_EQ(seen.size(), kOrderStateCount);
  EXPECT_EQ(parse_order_state("new"), S::new_);
  EXPECT_FALSE(parse_order_state("new_").has_value());
  EXPECT_FALSE(parse_order_state("FILLED").has_value());
  EXPECT_FALSE(parse_order_state("").has_value());
  for (const auto& b : kBroker) EXPECT_TRUE(parse_order_state(b).has_value()) << b;
}

TEST(OrderStateClasses, TerminalLocalOpen) {
  const std::set<std::string> terminal = {"filled", "canceled", "expired", "rejected", "replaced",
                                          "submit_failed"};
  const std::set<std::string> local = {"created", "submitting", "unknown", "submit_failed",
                                       "parked"};
  for (S s : kAllOrderStates) {
    std::string n(to_string(s));
    EXPECT_EQ(is_terminal(s), terminal.count(n) == 1) << n;
    EXPECT_EQ(is_local(s), local.count(n) == 1) << n;
    EXPECT_EQ(is_known_to_broker(s), kBroker.count(n) == 1) << n;
    EXPECT_EQ(is_open_at_broker(s), kBroker.count(n) == 1 && terminal.count(n) == 0) << n;
  }
}

TEST(OrderStateTable, EveryPairMatchesTheExpectedMatrix) {
  const auto m = expected_matrix();
  ASSERT_EQ(m.size(), kOrderStateCount);
  int allowed = 0;
  for (S from : kAllOrderStates) {
    const auto& tos = m.at(std::string(to_string(from)));
    for (S to : kAllOrderStates) {
      const bool want = tos.count(std::string(to_string(to))) == 1;
      EXPECT_EQ(transition_allowed(from, to), want) << to_string(from) << " -> " << to_string(to);
      allowed += want;
    }
  }
  EXPECT_GT(allowed, 0);
}

// Every refused pair is reported (stale or illegal) and never applied by evaluate().
TEST(OrderStateTable, EveryRefusedPairIsRefusedByEvaluate) {
  const auto m = expected_matrix();
  for (S from : kAllOrderStates) {
    const auto& tos = m.at(std::string(to_string(from)));
    for (S to : kAllOrderStates) {
      if (from == to) continue;
      const Decision d = evaluate({from, D("0"), std::nullopt}, {to, D("0"), std::nullopt, {}});
      if (tos.count(std::string(to_string(to)))) {
        EXPECT_EQ(d.verdict, Verdict::applied) << to_string(from) << " -> " << to_string(to);
      } else {
        EXPECT_TRUE(d.verdict == Verdict::stale || d.verdict == Verdict::illegal)
            << to_string(from) << " -> " << to_string(to) << ": " << to_string(d.verdict);
        EXPECT_FALSE(d.ok());
        EXPECT_FALSE(d.reason.empty());
      }
    }
  }
}

TEST(Evaluate, TerminalStatesRefuseEverythingButARacingFill) {
  for (S from : kAllOrderStates) {
    if (!is_terminal(from)) continue;
    for (S to : kAllOrderStates) {
      if (to == from) continue;
      const bool racing_fill = to == S::filled && (from == S::canceled || from == S::expired);
      const Decision d = evaluate({from, D("1"), Timestamp{100}}, {to, D("1"), {}, Timestamp{200}});
      EXPECT_EQ(d.ok(), racing_fill) << to_string(from) << " -> " << to_string(to);
    }
  }
}

TEST(Evaluate, CanceledThenFilledIsApplied) {
  const Decision d = evaluate({S::canceled, D("3"), Timestamp{100}},
                              {S::filled, D("10"), D("12.5"), Timestamp{90}});
  EXPECT_EQ(d.verdict, Verdict::applied);
}

TEST(Evaluate, FillRegressionRefused) {
  const Decision d = evaluate({S::partially_filled, D("5"), Timestamp{100}},
                              {S::filled, D("4"), {}, Timestamp{200}});
  EXPECT_EQ(d.verdict, Verdict::fill_regressed);
  EXPECT_NE(d.reason.find("5"), std::string::npos);
  EXPECT_EQ(evaluate({S::partially_filled, D("5"), {}}, {S::partially_filled, D("4.999"), {}, {}})
                .verdict,
            Verdict::fill_regressed);
}

// The answer to our own submit (accepted at t=100, filled 0) after the stream's fill (t=150):
// old evidence, refused quietly; so is one stamped with the fill's own instant (earlier in
// it: a filled qty never decreases); a lower filled qty stamped later stays an anomaly.
TEST(Evaluate, AnOlderSnapshotWithLessFilledIsStaleNotARegression) {
  const Decision d = evaluate({S::filled, D("10"), Timestamp{150}},
                              {S::new_, D("0"), {}, Timestamp{100}});
  EXPECT_EQ(d.verdict, Verdict::stale);
  EXPECT_NE(d.reason.find("older"), std::string::npos);
  EXPECT_EQ(evaluate({S::filled, D("10"), Timestamp{150}}, {S::new_, D("0"), {}, Timestamp{150}})
                .verdict,
            Verdict::stale);
  EXPECT_EQ(evaluate({S::filled, D("10"), Timestamp{150}}, {S::new_, D("0"), {}, Timestamp{151}})
                .verdict,
            Verdict::fill_regressed);
}

TEST(Evaluate, OlderBrokerTimeIsStale) {
  const Decision d = evaluate({S::new_, D("0"), Timestamp{200}},
                              {S::pending_cancel, D("0"), {}, Timestamp{100}});
  EXPECT_EQ(d.verdict, Verdict::stale);
  EXPECT_FALSE(d.reason.empty());
  // Same evidence with a newer (or equal, or missing) time is applied.
  EXPECT_TRUE(evaluate({S::new_, D("0"), Timestamp{200}}, {S::pending_cancel, D("0"), {}, Timestamp{200}}).ok());
  EXPECT_TRUE(evaluate({S::new_, D("0"), Timestamp{200}}, {S::pending_cancel, D("0"), {}, Timestamp{300}}).ok());
  EXPECT_TRUE(evaluate({S::new_, D("0"), Timestamp{200}}, {S::pending_cancel, D("0"), {}, {}}).ok());
}

TEST(Evaluate, BackwardsMoveIsStale) {
  EXPECT_EQ(evaluate({S::partially_filled, D("2"), {}}, {S::new_, D("2"), {}, {}}).verdict,
            Verdict::stale);
  EXPECT_EQ(evaluate({S::filled, D("2"), {}}, {S::new_, D("2"), {}, {}}).verdict, Verdict::stale);
  EXPECT_EQ(evaluate({S::new_, D("0"), {}}, {S::submitting, D("0"), {}, {}}).verdict,
            Verdict::stale);
}

TEST(Evaluate, SameStateMoreFilledApplied) {
  const Decision d = evaluate({S::partially_filled, D("2"), Timestamp{100}},
                              {S::partially_filled, D("3"), D("10.01"), Timestamp{150}});
  EXPECT_EQ(d.verdict, Verdict::applied);
  // A fill is evidence even when its timestamp is older than the last status change.
  EXPECT_TRUE(evaluate({S::partially_filled, D("2"), Timestamp{100}},
                       {S::partially_filled, D("3"), {}, Timestamp{50}})
                  .ok());
}

TEST(Evaluate, SameStateSameFillIsDuplicate) {
  EXPECT_EQ(evaluate({S::new_, D("0"), Timestamp{100}}, {S::new_, D("0"), {}, Timestamp{100}}).verdict,
            Verdict::duplicate);
  EXPECT_EQ(evaluate({S::partially_filled, D("2"), {}}, {S::partially_filled, {}, {}, {}}).verdict,
            Verdict::duplicate);
  EXPECT_EQ(evaluate({S::filled, D("2"), {}}, {S::filled, D("2.000"), {}, {}}).verdict,
            Verdict::duplicate);
}

TEST(Evaluate, IllegalSameStageMoveIsIllegal) {
  // created -> unknown skips the request itself: impossible evidence, not old evidence.
  const Decision d = evaluate({S::created, D("0"), {}}, {S::unknown, D("0"), {}, {}});
  EXPECT_EQ(d.verdict, Verdict::illegal);
  EXPECT_NE(d.reason.find("created"), std::string::npos);
  EXPECT_EQ(to_string(Verdict::illegal), "illegal");
  EXPECT_EQ(to_string(Verdict::fill_regressed), "fill_regressed");
}

}  // namespace
}  // namespace orderly
