// Renders the /api/v1/status document as the aligned table of `linewatch status`.
#pragma once

#include <Poco/JSON/Object.h>

#include <ostream>
#include <string>
#include <vector>

namespace linewatch {

// Prints a header line (agent, series count, window) and one row per series;
// below, when some line has an interface for its bandwidth, one row per line
// (LINE IFACE RX TX UTIL, and why there is no rate when there is none).
// Missing figures print as "-". Throws Poco::Exception on a malformed document.
void print_status_table(const Poco::JSON::Object& status, std::ostream& out);

// Bits/s with an SI prefix and three significant digits: "950bps", "12.3Mbps".
std::string format_bps(double bits_per_second);

// Prints rows as columns two spaces apart, each as wide as its widest cell
// (the first row is usually the header). The last column is not padded.
void print_aligned(const std::vector<std::vector<std::string>>& rows, std::ostream& out);

}  // namespace linewatch
