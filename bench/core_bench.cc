// Core micro-benchmarks: how many state-machine judgements and decimal parses per second.
//   cmake --build BUILD --target core_bench && BUILD/bench/core_bench

#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "core/decimal.h"
#include "core/order_state.h"

namespace orderly {
namespace {

// A mix of what the synchronizer sees: forward moves, duplicates, stale and illegal evidence.
std::vector<std::pair<OrderSnapshot, StateUpdate>> evidence() {
  std::vector<std::pair<OrderSnapshot, StateUpdate>> v;
  const Decimal zero, four = Decimal::must("4"), ten = Decimal::must("10");
  for (OrderState from : kAllOrderStates) {
    for (OrderState to : kAllOrderStates) {
      v.push_back({{from, four, Timestamp{200}}, {to, ten, std::nullopt, Timestamp{300}}});
      v.push_back({{from, four, Timestamp{200}}, {to, four, std::nullopt, Timestamp{100}}});
      v.push_back({{from, ten, std::nullopt}, {to, zero, std::nullopt, std::nullopt}});
    }
  }
  return v;
}

void BM_StateMachineEvaluate(benchmark::State& state) {
  const auto cases = evidence();
  std::size_t i = 0;
  for (auto _ : state) {
    const auto& [snap, update] = cases[i];
    benchmark::DoNotOptimize(evaluate(snap, update));
    if (++i == cases.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_StateMachineEvaluate);

void BM_TransitionAllowed(benchmark::State& state) {
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(transition_allowed(kAllOrderStates[i % kOrderStateCount],
                                                kAllOrderStates[(i / kOrderStateCount) %
                                                                kOrderStateCount]));
    ++i;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TransitionAllowed);

void BM_DecimalParse(benchmark::State& state) {
  const std::vector<std::string> inputs = {"37", "0.5", "12.3456", "-3", "105.8988475",
                                           "1790.86", "0.0001", "250.00"};
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(Decimal::parse(inputs[i]));
    if (++i == inputs.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecimalParse);

void BM_DecimalPrint(benchmark::State& state) {
  const Decimal d = Decimal::must("105.8988475");
  for (auto _ : state) benchmark::DoNotOptimize(d.str());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecimalPrint);

}  // namespace
}  // namespace orderly

BENCHMARK_MAIN();
