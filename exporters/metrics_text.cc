#include "exporters/metrics_text.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <string_view>

namespace linewatch {

void put_number(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
    return;
  }
  if (std::isinf(v)) {
    out += v < 0 ? "-Inf" : "+Inf";
    return;
  }
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void put_count(std::string& out, std::uint64_t v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void put_escaped(std::string& out, std::string_view s, bool quote) {
  const bool plain = std::none_of(s.begin(), s.end(), [quote](char c) {
    return c == '\\' || c == '\n' || (quote && c == '"');
  });
  if (plain) {
    out += s;  // the usual case: nothing to escape
    return;
  }
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quote) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

// name="value",... of `m`, escaped, without braces.
std::string label_text(const ClientMetric& m) {
  std::string text;
  for (const auto& l : m.label) {
    if (!text.empty()) text += ',';
    text += l.name;
    text += "=\"";
    put_escaped(text, l.value, true);
    text += '"';
  }
  return text;
}

// name + suffix + {labels[,extra="bound"]} + ' '; `extra` is le or quantile.
// `labels` is label_text() of the sample's metric, built once per metric.
void put_head(std::string& out, const MetricFamily& f, std::string_view labels,
              std::string_view suffix, std::string_view extra = {}, double bound = 0) {
  out += f.name;
  out += suffix;
  if (!labels.empty() || !extra.empty()) {
    out += '{';
    out += labels;
    if (!extra.empty()) {
      if (!labels.empty()) out += ',';
      out += extra;
      out += "=\"";
      put_number(out, bound);
      out += '"';
    }
    out += '}';
  }
  out += ' ';
}

void put_tail(std::string& out, const ClientMetric& m) {
  if (m.timestamp_ms != 0) {
    out += ' ';
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, m.timestamp_ms);
    out.append(buf, r.ptr);
  }
  out += '\n';
}

void put_histogram(std::string& out, const MetricFamily& f, const ClientMetric& m) {
  const std::string labels = label_text(m);
  const auto& h = m.histogram;
  put_head(out, f, labels, "_count");
  put_count(out, h.sample_count);
  put_tail(out, m);
  put_head(out, f, labels, "_sum");
  put_number(out, h.sample_sum);
  put_tail(out, m);
  double last = -INFINITY;
  for (const auto& b : h.bucket) {
    put_head(out, f, labels, "_bucket", "le", b.upper_bound);
    put_count(out, b.cumulative_count);
    put_tail(out, m);
    last = b.upper_bound;
  }
  if (last != INFINITY) {
    put_head(out, f, labels, "_bucket", "le", INFINITY);
    put_count(out, h.sample_count);
    put_tail(out, m);
  }
}

void put_summary(std::string& out, const MetricFamily& f, const ClientMetric& m) {
  const std::string labels = label_text(m);
  const auto& s = m.summary;
  put_head(out, f, labels, "_count");
  put_count(out, s.sample_count);
  put_tail(out, m);
  put_head(out, f, labels, "_sum");
  put_number(out, s.sample_sum);
  put_tail(out, m);
  for (const auto& q : s.quantile) {
    put_head(out, f, labels, "", "quantile", q.quantile);
    put_number(out, q.value);
    put_tail(out, m);
  }
}

std::string_view type_name(MetricType t) {
  switch (t) {
    case MetricType::Counter:
      return "counter";
    case MetricType::Gauge:
      return "gauge";
    case MetricType::Summary:
      return "summary";
    case MetricType::Histogram:
      return "histogram";
    default:
      return "untyped";
  }
}

double plain_value(const ClientMetric& m, MetricType t) {
  switch (t) {
    case MetricType::Counter:
      return m.counter.value;
    case MetricType::Gauge:
      return m.gauge.value;
    default:
      return m.untyped.value;
  }
}

// Bytes a family will take, roughly, so the string grows once or twice.
std::size_t estimate(const MetricFamily& f) {
  if (f.metric.empty()) return 0;
  const ClientMetric& m = f.metric.front();
  std::size_t line = f.name.size() + 40;
  for (const auto& l : m.label) line += l.name.size() + l.value.size() + 4;
  const std::size_t lines = f.type == MetricType::Histogram ? m.histogram.bucket.size() + 3 : 1;
  return f.help.size() + 64 + f.metric.size() * lines * line;
}

}  // namespace

void write_exposition(const std::vector<MetricFamily>& families, std::string& out) {
  std::size_t size = out.size();
  for (const MetricFamily& f : families) size += estimate(f);
  out.reserve(size);
  for (const MetricFamily& f : families) {
    if (!f.help.empty()) {
      out += "# HELP ";
      out += f.name;
      out += ' ';
      put_escaped(out, f.help, false);
      out += '\n';
    }
    out += "# TYPE ";
    out += f.name;
    out += ' ';
    out += type_name(f.type);
    out += '\n';
    for (const ClientMetric& m : f.metric) {
      if (f.type == MetricType::Histogram) {
        put_histogram(out, f, m);
      } else if (f.type == MetricType::Summary) {
        put_summary(out, f, m);
      } else {
        put_head(out, f, label_text(m), "");
        put_number(out, plain_value(m, f.type));
        put_tail(out, m);
      }
    }
  }
}

}  // namespace linewatch
