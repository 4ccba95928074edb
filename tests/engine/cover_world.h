#pragma once
// The engine's state a CoverJudge reads, built by hand by the tests of the parts that judge or
// show a position's cover (cover_judge_test, views_test). No engine, no broker.

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/cover_judge.h"

namespace orderly::test {

struct CoverWorld {
  CoverWorld(Timestamp started, Timestamp at) : started_at(started), now(at) {}
  CoverWorld(const CoverWorld&) = delete;  // the judge holds references to the fields
  CoverWorld& operator=(const CoverWorld&) = delete;

  // A positions read asked at `asked` and answered 100 ms later with `held`.
  void read_positions(Timestamp asked, const std::vector<BrokerPosition>& held) {
    positions.ask(++read_id, asked);
    positions.answered(read_id, held, asked.plus_ms(100));
  }

  Ledger ledger;
  std::unordered_map<OrderId, OrderAux> aux;
  PositionsRead positions;
  Blindness blindness;
  Poll catchup;
  ProtectionWatch protection{5'000};
  ProtectionCheck protection_check;
  std::set<std::string> oversold;
  std::optional<Timestamp> routed_before_start;
  Timestamp started_at;
  Timestamp now;
  std::int64_t read_id = 0;
  // Idle poll interval 500 ms, grace 5 s, in-flight check 5 s.
  CoverJudge judge{{500, 5'000, 5'000},
                   {ledger, aux, positions, blindness, catchup, protection, protection_check,
                    oversold, routed_before_start, started_at, now}};
};

}  // namespace orderly::test
