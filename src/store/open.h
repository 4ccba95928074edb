#pragma once
// Opening a store, and where the backends log: orderly_store's (the backends), not part of the
// Store interface the engine links (store.h, orderly_store_api).

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"
#include "store/store.h"

namespace orderly {

// Where a backend's own lines go (a database connection lost, restored): the daemon's logger once
// set_store_log() was called, stderr before.
void set_store_log(std::function<void(bool error, const std::string& line)> log);
void store_log(bool error, const std::string& line);

// Opens (creating and migrating as needed) the store at `url`: "sqlite:PATH" (":memory:" for a
// private in-memory database) or "postgresql://...". `account` scopes every row.
StatusOr<std::unique_ptr<Store>> open_store(std::string_view url, std::string_view account);

}  // namespace orderly
