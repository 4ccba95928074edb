#pragma once
// The Store backends the generic suites run against. Each backend registers itself from its own
// file (sqlite_backend.cc; a postgres_backend.cc adds PostgreSQL) with a static
// RegisterStoreBackend; the suites are instantiated over store_backend_names().

#include <functional>
#include <string>
#include <vector>

namespace orderly::testing {

struct StoreBackend {
  std::string name;  // gtest parameter name: letters, digits, '_'
  // A URL for open_store() naming a fresh, empty store that can be reopened (the crash test
  // reopens it from another process). Returns "" and sets *skip_reason when unavailable.
  std::function<std::string(std::string* skip_reason)> fresh_url;
};

const std::vector<StoreBackend>& store_backends();
std::vector<std::string> store_backend_names();
const StoreBackend& store_backend(const std::string& name);

struct RegisterStoreBackend {
  explicit RegisterStoreBackend(StoreBackend backend);
};

// A directory under the system temp dir, removed with everything in it when destroyed.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace orderly::testing
