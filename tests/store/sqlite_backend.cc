// Registers the SQLite backend for the generic store suites: each fresh store is a new file in
// its own temporary directory (kept until the test binary exits, so it can be reopened).

#include <memory>
#include <vector>

#include "backends.h"

namespace orderly::testing {
namespace {

const RegisterStoreBackend kSqlite({"sqlite", [](std::string*) {
                                      static std::vector<std::unique_ptr<TempDir>> dirs;
                                      dirs.push_back(std::make_unique<TempDir>());
                                      return "sqlite:" + dirs.back()->file("orderly.db");
                                    }});

}  // namespace
}  // namespace orderly::testing
