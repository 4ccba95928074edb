// Registers the PostgreSQL backend for the generic store suites: each fresh store is a new
// database on the test binary's one temporary server (tests/store/pg_server.h). A server that
// cannot start FAILS the test (recorded before the suite's skip): CI installs the binaries.

#include <gtest/gtest.h>

#include "backends.h"
#include "store/pg_server.h"

namespace orderly::testing {
namespace {

const RegisterStoreBackend kPostgres({"postgresql", [](std::string* skip_reason) {
                                        std::string error;
                                        std::string url = new_pg_database(&error);
                                        if (url.empty()) {
                                          ADD_FAILURE() << "PostgreSQL test server: " << error;
                                          *skip_reason = error;
                                        }
                                        return url;
                                      }});

}  // namespace
}  // namespace orderly::testing
