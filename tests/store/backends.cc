#include "backends.h"

#include <stdlib.h>

#include <filesystem>
#include <stdexcept>

namespace orderly::testing {
namespace {

std::vector<StoreBackend>& registry() {
  static std::vector<StoreBackend> r;
  return r;
}

}  // namespace

const std::vector<StoreBackend>& store_backends() { return registry(); }

std::vector<std::string> store_backend_names() {
  std::vector<std::string> names;
  for (const auto& b : registry()) names.push_back(b.name);
  return names;
}

const StoreBackend& store_backend(const std::string& name) {
  for (const auto& b : registry()) {
    if (b.name == name) return b;
  }
  throw std::out_of_range("no store backend " + name);
}

RegisterStoreBackend::RegisterStoreBackend(StoreBackend backend) {
  registry().push_back(std::move(backend));
}

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "orderly-store-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace orderly::testing
