#include "tests/lab/mockllm/record.h"

#include <Poco/JSON/Object.h>

#include "tests/lab/mockllm/json_text.h"

namespace linewatch::mockllm {
namespace {

Poco::Int64 ns(Duration d) { return static_cast<Poco::Int64>(d.count()); }

void set_stamp(Poco::JSON::Object& o, const std::string& name, const std::optional<Stamp>& s) {
  const Poco::Dynamic::Var none;
  o.set(name + "_unix_ns", s ? Poco::Dynamic::Var(ns(s->wall.time_since_epoch())) : none);
  o.set(name + "_mono_ns", s ? Poco::Dynamic::Var(ns(s->mono.time_since_epoch())) : none);
}

}  // namespace

Stamp stamp_now() { return {std::chrono::steady_clock::now(), std::chrono::system_clock::now()}; }

std::string_view to_string(End e) {
  switch (e) {
    case End::done:
      return "done";
    case End::no_end_marker:
      return "no_end_marker";
    case End::stalled:
      return "stalled";
    case End::error_event:
      return "error_event";
    case End::client_gone:
      return "client_gone";
    case End::stopping:
      return "stopping";
    case End::refused:
      break;
  }
  return "refused";
}

std::string record_json(const Record& r) {
  Poco::JSON::Object::Ptr o = ordered();
  o->set("record", "completion");
  o->set("seq", static_cast<Poco::UInt64>(r.seq));
  o->set("id", r.id);
  o->set("flavour", std::string(to_string(r.flavour)));
  o->set("model", r.model);
  o->set("stream", r.stream);
  o->set("status", r.status);
  set_stamp(*o, "received", r.received);
  set_stamp(*o, "headers", r.headers);
  set_stamp(*o, "first_content", r.first_content);
  if (r.first_content)
    o->set("ttft_ms", to_ms(r.first_content->mono - r.received.mono));
  else
    o->set("ttft_ms", Poco::Dynamic::Var());
  o->set("tokens", r.tokens);
  o->set("end", std::string(to_string(r.end)));
  return text(o);
}

}  // namespace linewatch::mockllm
