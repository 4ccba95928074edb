#include "app/command.h"

#include <algorithm>

namespace orderly::app {
namespace {

std::vector<CommandRegistration>& registry() {
  static std::vector<CommandRegistration> r;
  return r;
}

}  // namespace

bool register_command(CommandRegistration registration) {
  registry().push_back(std::move(registration));
  return true;
}

const std::vector<CommandRegistration>& registered_commands() {
  auto& r = registry();
  std::stable_sort(r.begin(), r.end(),
                   [](const auto& a, const auto& b) { return a.order < b.order; });
  return r;
}

}  // namespace orderly::app
