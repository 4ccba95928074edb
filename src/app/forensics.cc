#include "app/forensics.h"

#include <boost/json.hpp>

#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <sstream>

#include "core/audit.h"
#include "core/time.h"
#include "store/store.h"

namespace orderly::app {
namespace {

constexpr std::string_view kSubmitted = "Successfully submitted order to Alpaca: broker_order_id=";
constexpr std::string_view kError = "Error submitting order to Alpaca: ";
constexpr std::string_view kParameters = "[parameters: (";
constexpr std::int64_t kInsufficientQty = 40310000;

bool digits(std::string_view s, std::size_t pos, std::size_t n) {
  if (pos + n > s.size()) return false;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}
int number(std::string_view s, std::size_t pos, std::size_t n) {
  int v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) v = v * 10 + (s[i] - '0');
  return v;
}

// "YYYY-MM-DD HH:MM:SS,mmm" at the start of the line, with sane field ranges.
bool has_timestamp(std::string_view line) {
  if (line.size() < 23) return false;
  if (!digits(line, 0, 4) || line[4] != '-' || !digits(line, 5, 2) || line[7] != '-' ||
      !digits(line, 8, 2) || line[10] != ' ' || !digits(line, 11, 2) || line[13] != ':' ||
      !digits(line, 14, 2) || line[16] != ':' || !digits(line, 17, 2) || line[19] != ',' ||
      !digits(line, 20, 3)) {
    return false;
  }
  int month = number(line, 5, 2), day = number(line, 8, 2);
  return month >= 1 && month <= 12 && day >= 1 && day <= 31 && number(line, 11, 2) < 24 &&
         number(line, 14, 2) < 60 && number(line, 17, 2) < 61;
}

// The message part of "TS - Component - LEVEL - text"; nullopt when the shape is wrong.
std::optional<std::string_view> message_of(std::string_view line) {
  std::string_view rest = line.substr(23);
  for (int field = 0; field < 3; ++field) {
    if (rest.substr(0, 3) != " - ") return std::nullopt;
    rest.remove_prefix(3);
    if (field == 2) return rest;
    auto next = rest.find(" - ");
    if (next == std::string_view::npos || next == 0) return std::nullopt;
    rest.remove_prefix(next);
  }
  return std::nullopt;
}

// The second single-quoted string of "[parameters: ('STATUS', 'ID', N)]": the broker order id.
std::optional<std::string> parameters_order_id(std::string_view line) {
  auto start = line.find(kParameters);
  std::string_view rest = line.substr(start + kParameters.size());
  std::vector<std::string> quoted;
  while (quoted.size() < 2) {
    auto open = rest.find('\'');
    if (open == std::string_view::npos) return std::nullopt;
    auto close = rest.find('\'', open + 1);
    if (close == std::string_view::npos) return std::nullopt;
    quoted.emplace_back(rest.substr(open + 1, close - open - 1));
    rest.remove_prefix(close + 1);
  }
  if (quoted[1].empty()) return std::nullopt;
  return quoted[1];
}

struct ErrorBody {
  std::string symbol;
  std::vector<std::string> related_orders;
  std::optional<std::int64_t> code;
};

// The insufficient-qty body, wherever it sits: the log prints it bare, the audit log may wrap
// it ({"status":403,"body":{...}}).
std::optional<ErrorBody> error_body(const boost::json::value& v) {
  const auto* obj = v.if_object();
  if (obj == nullptr) return std::nullopt;
  ErrorBody body;
  bool found = false;
  if (const auto* code = obj->if_contains("code")) {
    if (code->is_int64()) body.code = code->as_int64();
    found = true;
  }
  if (const auto* sym = obj->if_contains("symbol"); sym != nullptr && sym->is_string()) {
    body.symbol = std::string(sym->as_string());
  }
  if (const auto* rel = obj->if_contains("related_orders"); rel != nullptr && rel->is_array()) {
    for (const auto& id : rel->as_array()) {
      if (id.is_string()) body.related_orders.emplace_back(id.as_string());
    }
    found = true;
  }
  if (found) return body;
  for (const auto& [key, inner] : *obj) {
    if (auto nested = error_body(inner)) return nested;
  }
  return std::nullopt;
}

std::optional<ErrorBody> parse_error_body(std::string_view text) {
  boost::system::error_code ec;
  auto v = boost::json::parse(text, ec);
  if (ec) return std::nullopt;
  return error_body(v);
}

struct OrderEvidence {
  std::optional<std::string> submitted;
  std::string symbol;
  std::vector<std::string> errors;
  int status_updates = 0;
};

class Collector {
 public:
  void submitted(const std::string& id, const std::string& at) {
    auto& e = orders_[id];
    if (!e.submitted) e.submitted = at;
  }
  void error(const ErrorBody& body) {
    ++total_errors_;
    if (!body.symbol.empty()) symbols_.insert(body.symbol);
  }
  void error_against(const std::string& id, const std::string& symbol, const std::string& at) {
    auto& e = orders_[id];
    if (e.symbol.empty()) e.symbol = symbol;
    e.errors.push_back(at);
  }
  void status_update(const std::string& id) { ++orders_[id].status_updates; }

  ForensicsReport report(int skipped) const {
    ForensicsReport r;
    for (const auto& [id, e] : orders_) {
      if (!e.submitted || e.errors.empty()) continue;
      auto errors = e.errors;
      std::sort(errors.begin(), errors.end());
      ForensicsRow row{id, e.symbol, *e.submitted, errors.front(), std::nullopt,
                       static_cast<int>(errors.size()), e.status_updates};
      if (errors.size() > 1) row.last_error = errors.back();
      r.rows.push_back(std::move(row));
    }
    std::sort(r.rows.begin(), r.rows.end(), [](const auto& a, const auto& b) {
      return std::tie(a.submitted, a.broker_order_id) < std::tie(b.submitted, b.broker_order_id);
    });
    r.total_errors = total_errors_;
    r.total_symbols = static_cast<int>(symbols_.size());
    r.skipped_lines = skipped;
    return r;
  }

 private:
  std::map<std::string, OrderEvidence> orders_;
  std::set<std::string> symbols_;
  int total_errors_ = 0;
};

// "YYYY-MM-DD HH:MM:SS,mmm" (UTC) for audit timestamps, so both modes print alike.
std::string log_time(Timestamp t) {
  std::string iso = format_rfc3339(t);  // 2022-04-19T17:45:05.024916716Z
  std::string out = iso.substr(0, 10) + " " + iso.substr(11, 8) + ",";
  std::string frac;
  if (iso.size() > 20 && iso[19] == '.') frac = iso.substr(20, iso.size() - 21);
  frac.resize(3, '0');
  return out + frac.substr(0, 3);
}

std::string clock_part(const std::string& log_timestamp) {
  return log_timestamp.size() >= 19 ? log_timestamp.substr(11, 8) : log_timestamp;
}

}  // namespace

ForensicsReport analyze_log(std::istream& in) {
  Collector collect;
  int skipped = 0;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::string_view view(line);
    if (view.find_first_not_of(" \t") == std::string_view::npos) continue;
    // SQLAlchemy echoes its bound parameters on a line of their own, without a timestamp.
    if (view.find(kParameters) != std::string_view::npos) {
      if (auto id = parameters_order_id(view)) {
        collect.status_update(*id);
      } else {
        ++skipped;
      }
      continue;
    }
    if (!has_timestamp(view)) {
      ++skipped;
      continue;
    }
    auto message = message_of(view);
    if (!message) {
      ++skipped;
      continue;
    }
    std::string at(view.substr(0, 23));
    if (auto pos = message->find(kSubmitted); pos != std::string_view::npos) {
      std::string_view id = message->substr(pos + kSubmitted.size());
      id = id.substr(0, id.find_first_of(" ,;)\t"));
      if (id.empty()) {
        ++skipped;
      } else {
        collect.submitted(std::string(id), at);
      }
    } else if (auto epos = message->find(kError); epos != std::string_view::npos) {
      auto body = parse_error_body(message->substr(epos + kError.size()));
      if (!body) {
        ++skipped;
      } else {
        collect.error(*body);
        for (const auto& id : body->related_orders) collect.error_against(id, body->symbol, at);
      }
    }
  }
  return collect.report(skipped);
}

StatusOr<ForensicsReport> analyze_store(Store& store) {
  Collector collect;
  std::int64_t after = 0;
  constexpr int kPage = 1000;
  for (;;) {
    auto events = store.events_since(after, kPage);
    if (!events.ok()) return events.status();
    for (const auto& event : *events) {
      after = event.seq;
      if (event.source != EventSource::error || event.payload.empty()) continue;
      auto body = parse_error_body(event.payload);
      if (!body || body->code != kInsufficientQty) continue;
      std::string at = log_time(event.at);
      collect.error(*body);
      for (const auto& id : body->related_orders) {
        auto ours = store.find_order_by_broker_id(id);
        if (!ours.ok()) return ours.status();
        if (!ours->has_value()) continue;  // not ours: an external hold, not a self-inflicted error
        collect.submitted(id, log_time((*ours)->created_at));
        collect.error_against(id, body->symbol, at);
      }
    }
    if (static_cast<int>(events->size()) < kPage) break;
  }
  return collect.report(0);
}

std::string render_table(const ForensicsReport& report) {
  std::ostringstream o;
  o << "| Broker Order ID | Symbol | Submitted | First Error | Last Error | Error Count | Status "
       "Updates |\n"
    << "|-----------------|--------|-----------|-------------|------------|-------------|------"
       "----------|\n";
  for (const auto& r : report.rows) {
    o << "| " << r.broker_order_id << " | " << r.symbol << " | " << clock_part(r.submitted)
      << " | " << clock_part(r.first_error) << " | "
      << (r.last_error ? clock_part(*r.last_error) : "-") << " | " << r.error_count << " | "
      << r.status_updates << " |\n";
  }
  o << "\nTotals: " << report.total_errors << " errors, " << report.total_symbols
    << " symbols; " << report.rows.size() << " submitted orders with errors against them\n";
  o << "Skipped lines: " << report.skipped_lines << "\n";
  return o.str();
}

std::string render_json(const ForensicsReport& report) {
  boost::json::array rows;
  for (const auto& r : report.rows) {
    boost::json::object row;
    row["broker_order_id"] = r.broker_order_id;
    row["symbol"] = r.symbol;
    row["submitted"] = r.submitted;
    row["first_error"] = r.first_error;
    if (r.last_error) {
      row["last_error"] = *r.last_error;
    } else {
      row["last_error"] = nullptr;
    }
    row["error_count"] = r.error_count;
    row["status_updates"] = r.status_updates;
    rows.push_back(std::move(row));
  }
  boost::json::object out;
  out["rows"] = std::move(rows);
  out["totals"] = {{"errors", report.total_errors}, {"symbols", report.total_symbols}};
  out["skipped_lines"] = report.skipped_lines;
  return boost::json::serialize(out);
}

}  // namespace orderly::app
