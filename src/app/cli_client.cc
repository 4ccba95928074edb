#include "app/cli_client.h"

#include <CLI/CLI.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "app/command.h"
#include "app/config.h"
#include "core/time.h"

namespace orderly::app {

void add_client_options(CLI::App* command, ClientOptions& options) {
  command->add_option("--config", options.config_path,
                      "config file with the daemon's [api] listen and token (default: "
                      "orderly.toml when present; ORDERLY_API / ORDERLY_TOKEN override)");
  command->add_flag("--json", options.json, "print the daemon's JSON answer");
  command->add_option("--account", options.account,
                      "with several [[accounts]]: the account to act on (default: "
                      "ORDERLY_ACCOUNT; reads without it cover every account)");
}

StatusOr<ApiEndpoint> resolve_endpoint(const ClientOptions& options) {
  Config config;
  std::string path = options.config_path;
  if (path.empty() && std::filesystem::exists("orderly.toml")) path = "orderly.toml";
  if (!path.empty()) {
    auto loaded = load_config_file(path);
    if (!loaded.ok()) return loaded.status();
    config = *loaded;
  }
  std::string listen = config.api.listen;
  if (auto env = process_env("ORDERLY_API"); env && !env->empty()) {
    listen = *env;
    for (const char* scheme : {"http://", "https://"}) {
      if (listen.rfind(scheme, 0) == 0) listen = listen.substr(std::string_view(scheme).size());
    }
    while (!listen.empty() && listen.back() == '/') listen.pop_back();
  }
  auto address = parse_listen_address(listen);
  if (!address.ok()) {
    return Status::error(Status::Code::invalid_argument,
                         "daemon address: " + address.status().message());
  }
  ApiEndpoint endpoint;
  // A daemon listening on every interface is reached on loopback.
  endpoint.host = (address->host == "0.0.0.0" || address->host == "::") ? "127.0.0.1" : address->host;
  endpoint.port = address->port;
  endpoint.token = config.api.token;
  if (auto env = process_env("ORDERLY_TOKEN"); env && !env->empty()) endpoint.token = *env;
  return endpoint;
}

int call_daemon(const ClientOptions& options, const std::string& method, const std::string& target,
                const std::string& body, std::string& reply_body, const std::vector<int>& pass) {
  auto endpoint = resolve_endpoint(options);
  if (!endpoint.ok()) {
    std::cerr << "orderly: " << endpoint.status().message() << "\n";
    return kExitUsage;
  }
  std::string account = options.account;
  if (auto env = process_env("ORDERLY_ACCOUNT"); account.empty() && env) account = *env;
  std::string routed = target;
  if (!account.empty()) {
    // Names are [A-Za-z0-9_-] (config.h): anything else cannot name an account, and must not
    // reach the query string unescaped.
    if (account.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") !=
        std::string::npos) {
      std::cerr << "orderly: --account must be an account name from the config's [[accounts]]\n";
      return kExitUsage;
    }
    routed += (target.find('?') == std::string::npos ? "?account=" : "&account=") + account;
  }
  auto reply = api_call(*endpoint, method, routed, body);
  if (!reply.ok()) {
    std::cerr << "orderly: " << reply.status().message() << "\n";
    return kExitUnavailable;
  }
  if ((reply->status >= 200 && reply->status < 300) ||
      std::find(pass.begin(), pass.end(), reply->status) != pass.end()) {
    reply_body = std::move(reply->body);
    return kExitOk;
  }
  reply_body = reply->body;  // the daemon answered: the caller may tell an answer from none
  std::string message = reply->body;
  boost::system::error_code ec;
  auto v = boost::json::parse(reply->body, ec);
  if (!ec && v.is_object() && v.as_object().contains("error") &&
      v.as_object().at("error").is_string()) {
    message = std::string(v.as_object().at("error").as_string());
  }
  std::cerr << "orderly: the daemon answered " << reply->status << ": " << message << "\n";
  if (reply->status == 400 || reply->status == 401 || reply->status == 403 || reply->status == 413) {
    return kExitUsage;
  }
  if (reply->status == 503) return kExitUnavailable;
  return kExitFailure;
}

std::string format_table(const std::vector<std::string>& header,
                         const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width(header.size());
  for (std::size_t i = 0; i < header.size(); ++i) width[i] = header[i].size();
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size() && i < width.size(); ++i) {
      width[i] = std::max(width[i], row[i].size());
    }
  }
  std::ostringstream o;
  auto line = [&](const std::vector<std::string>& cells) {
    std::string text;
    for (std::size_t i = 0; i < cells.size() && i < width.size(); ++i) {
      text += cells[i];
      if (i + 1 < cells.size()) text += std::string(width[i] - cells[i].size() + 2, ' ');
    }
    o << text << "\n";
  };
  line(header);
  for (const auto& row : rows) line(row);
  return o.str();
}

std::string age_since(const std::string& rfc3339) {
  auto t = parse_rfc3339(rfc3339);
  if (!t) return "-";
  std::int64_t s = SystemClock().now().ms_since(*t) / 1000;
  if (s < 0) s = 0;
  if (s < 120) return std::to_string(s) + "s";
  if (s < 7200) return std::to_string(s / 60) + "m";
  if (s < 172800) return std::to_string(s / 3600) + "h";
  return std::to_string(s / 86400) + "d";
}

}  // namespace orderly::app
