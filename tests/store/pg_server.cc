#include "store/pg_server.h"

#include <mutex>

namespace orderly::testing {
namespace {

std::mutex g_mu;
std::unique_ptr<PgServer> g_server;  // destroyed at exit: stops the server, removes its files
std::string g_error;

}  // namespace

PgServer* shared_pg_server(std::string* error) {
  std::lock_guard lock(g_mu);
  if (!g_server && g_error.empty()) {
    g_server = PgServer::start({}, &g_error);
    if (!g_server && g_error.empty()) g_error = "PostgreSQL test server failed to start";
  }
  if (!g_server) *error = g_error;
  return g_server.get();
}

std::string new_pg_database(std::string* error) {
  PgServer* server = shared_pg_server(error);
  if (server == nullptr) return "";
  return server->create_database(error);
}

}  // namespace orderly::testing
