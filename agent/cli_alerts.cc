// `linewatch alerts`: the running agent's alerts pending or firing (and a
// line about the notifier outbox when notifications wait), and with
// --history the stored alert events, as aligned tables.
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>

#include <optional>
#include <ostream>

#include "agent/cli.h"
#include "agent/cli_tables.h"
#include "agent/status_table.h"

namespace linewatch {
namespace {

using Poco::JSON::Object;

struct Fetched {
  std::string body;
  Object::Ptr doc;
};

// GETs `target` and parses the JSON answer; on failure writes why to `err`
// (exit code 2 for the caller).
std::optional<Fetched> fetch(const std::string& url, const std::string& target, Duration timeout,
                             std::ostream& err) {
  auto answer = agent_get(url, target, timeout);
  if (!answer) {
    err << "linewatch: no agent answering at " << url << " (" << answer.error().message
        << ").\nIs `linewatch run` running? Point at it with --agent URL or -c CONFIG.\n";
    return std::nullopt;
  }
  try {
    auto doc = Poco::JSON::Parser().parse(answer->body).extract<Object::Ptr>();
    if (answer->status == 200) return Fetched{std::move(answer->body), doc};
    err << "linewatch: the agent at " << url << " refused the query: "
        << (doc->has("error") ? doc->getValue<std::string>("error")
                              : "HTTP " + std::to_string(answer->status))
        << "\n";
  } catch (const Poco::Exception& e) {
    err << "linewatch: the agent at " << url << " sent an answer this CLI cannot read (HTTP "
        << answer->status << "): " << e.displayText() << "\n";
  }
  return std::nullopt;
}

// "3412 ms" of a {"text","number"} figure; "-" when null.
std::string figure_text(const Object& alert, const char* name) {
  if (alert.isNull(name)) return "-";
  return alert.getObject(name)->getValue<std::string>("text");
}

// A receiver's last error, cut for one line.
std::string short_error(const std::string& e) {
  constexpr std::size_t kMax = 160;
  return e.size() <= kMax ? e : e.substr(0, kMax) + "...";
}

// "outbox: ops 3 pending, failing (http_5xx: 127.0.0.1:9400 answered HTTP
// 503); am 1 parked" when a receiver has notifications waiting or parked;
// "" when none has (or the agent has no receivers).
std::string outbox_line(const Object& doc) {
  if (!doc.has("outbox") || doc.isNull("outbox")) return "";
  auto outbox = doc.getObject("outbox");
  if (!outbox->isNull("error"))
    return "outbox: cannot be read: " + short_error(outbox->getValue<std::string>("error"));
  auto receivers = outbox->getArray("receivers");
  std::string parts;
  for (std::size_t i = 0; i < receivers->size(); ++i) {
    auto r = receivers->getObject(static_cast<unsigned>(i));
    const auto pending = r->getValue<std::int64_t>("pending");
    const auto parked = r->getValue<std::int64_t>("parked");
    if (pending == 0 && parked == 0) continue;
    std::string part = r->getValue<std::string>("id");
    if (pending > 0) part += " " + std::to_string(pending) + " pending";
    if (parked > 0) part += (pending > 0 ? ", " : " ") + std::to_string(parked) + " parked";
    if (r->getValue<bool>("failing")) part += ", failing";
    if (const auto e = r->getValue<std::string>("last_error"); !e.empty())
      part += " (" + r->getValue<std::string>("last_reason") + ": " + short_error(e) + ")";
    parts += (parts.empty() ? "" : "; ") + part;
  }
  return parts.empty() ? "" : "outbox: " + parts;
}

// An alert event's detail is "RULE SCOPE: what happened" (rules/alert_state.h).
struct DetailParts {
  std::string rule, scope, rest;
};
DetailParts split_detail(const std::string& detail) {
  const std::size_t space = detail.find(' ');
  if (space == std::string::npos) return {detail, "", ""};
  const std::size_t colon = detail.find(": ", space);
  if (colon == std::string::npos) return {detail.substr(0, space), detail.substr(space + 1), ""};
  return {detail.substr(0, space), detail.substr(space + 1, colon - space - 1),
          detail.substr(colon + 2)};
}

}  // namespace

std::size_t alerts_firing(const Object& doc) {
  auto alerts = doc.getArray("alerts");
  std::size_t firing = 0;
  for (std::size_t i = 0; i < alerts->size(); ++i)
    firing +=
        alerts->getObject(static_cast<unsigned>(i))->getValue<std::string>("state") == "firing";
  return firing;
}

std::size_t print_alerts_table(const Object& doc, std::ostream& out) {
  auto alerts = doc.getArray("alerts");
  std::vector<std::vector<std::string>> rows{
      {"STATE", "RULE", "SCOPE", "SINCE", "VALUE", "THRESHOLD"}};
  std::size_t firing = 0;
  for (std::size_t i = 0; i < alerts->size(); ++i) {
    auto a = alerts->getObject(static_cast<unsigned>(i));
    std::string state = a->getValue<std::string>("state");
    if (state == "firing") ++firing;
    if (a->getValue<bool>("held")) state += " (held)";
    rows.push_back({state, a->getValue<std::string>("rule"), a->getValue<std::string>("key"),
                    a->getValue<std::string>("since"), figure_text(*a, "value"),
                    figure_text(*a, "threshold")});
  }
  out << "agent " << doc.getValue<std::string>("agent") << "  " << firing << " firing, "
      << alerts->size() - firing << " pending";
  if (doc.isNull("evaluated"))
    out << "  (no evaluation yet)";
  else
    out << "  evaluated " << doc.getValue<std::string>("evaluated");
  out << "\n";
  if (alerts->size() > 0) print_aligned(rows, out);
  if (const std::string line = outbox_line(doc); !line.empty()) out << line << "\n";
  return firing;
}

void print_alert_history_table(const Object& doc, std::ostream& out) {
  auto events = doc.getArray("events");
  std::vector<std::vector<std::string>> rows{
      {"TIME", "EVENT", "RULE", "SCOPE", "REASON", "DETAIL"}};
  for (std::size_t i = 0; i < events->size(); ++i) {
    auto e = events->getObject(static_cast<unsigned>(i));
    std::string kind = e->getValue<std::string>("kind");
    if (kind.starts_with("alert_")) kind.erase(0, 6);
    const DetailParts d = split_detail(e->getValue<std::string>("detail"));
    rows.push_back({e->getValue<std::string>("time"), kind, d.rule, d.scope.empty() ? "-" : d.scope,
                    e->getValue<std::string>("reason"), d.rest});
  }
  out << events->size() << " alert events, newest first (at most " << doc.getValue<int>("limit")
      << ")\n";
  print_aligned(rows, out);
}

int cmd_alerts(const AlertsArgs& args, std::ostream& out, std::ostream& err) {
  const auto url = agent_url(args.agent_url, args.config_path);
  if (!url) {
    err << url.error().message << "\n";
    return config_exit_code(url.error());
  }
  std::string target = args.history ? "/api/v1/alerts/history" : "/api/v1/alerts";
  if (args.history) {
    add_param(target, "since", args.since.empty() ? "" : since_param(args.since));
    add_param(target, "line", args.line);
    add_param(target, "limit", std::to_string(args.limit));
  }
  const auto fetched = fetch(*url, target, args.timeout, err);
  if (!fetched) return 2;
  try {
    if (args.history) {
      if (args.json)
        out << fetched->body << "\n";
      else
        print_alert_history_table(*fetched->doc, out);
      return 0;
    }
    std::size_t firing = 0;
    if (args.json) {
      out << fetched->body << "\n";
      firing = alerts_firing(*fetched->doc);
    } else {
      firing = print_alerts_table(*fetched->doc, out);
    }
    return firing > 0 ? 1 : 0;
  } catch (const Poco::Exception& e) {
    err << "linewatch: the agent at " << *url
        << " sent alerts this CLI cannot read: " << e.displayText() << "\n";
    return 2;
  }
}

}  // namespace linewatch
