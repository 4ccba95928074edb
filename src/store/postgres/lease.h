#pragma once
// The PostgreSQL account lease: one row per account in account_leases (owner, fencing token,
// expiry by the database's clock), on its own connection so a long write never delays a renewal.

#include <memory>
#include <string_view>

#include "store/lease.h"

namespace orderly {

// Connects and migrates the schema (the lease table is part of it). Does not acquire.
StatusOr<std::unique_ptr<AccountLease>> open_postgres_lease(std::string_view url,
                                                            std::string_view account,
                                                            LeaseOptions options);

}  // namespace orderly
