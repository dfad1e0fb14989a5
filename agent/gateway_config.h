// The configuration of `linewatch gateway`, the receiving side of route push
// (docs/gateway.md): one YAML map `gateway:` with
//
//   gateway:
//     id: gw1                                # names this gateway in logs and answers (required)
//     listen: 127.0.0.1:9300                 # HOST:PORT for pushes
//     listen_public: false                   # must be true for a non-loopback listen
//     secret_file: /etc/linewatch/gw1.key    # the HMAC key shared with the agent (required)
//     table: main                            # routing table the plans go into
//     max_skew: 30s                          # freshness window for X-Linewatch-Timestamp
//     data_dir: /var/lib/linewatch-gateway   # where the applied version is kept
//     reconcile: 5s                          # how often the kernel is checked for drift
//
// Loaded like the agent's config (agent/config_load.h): unknown and duplicate
// keys, wrong types and bad values are errors, all reported, one per line,
// "FILE:LINE:COL: gateway.key: message"; a file that cannot be read is an io
// error "FILE: cannot read: <errno text>". Relative paths resolve against the
// config file's directory. The secret file is read while loading, so a
// missing, empty or short key is a config error at gateway.secret_file. The
// key is the file's content without trailing blanks and line ends, and it
// never appears in a message.
//
// Thread-safety: the functions keep no state; they may run concurrently.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.h"
#include "core/time.h"

namespace linewatch {

namespace gateway_limits {
inline constexpr std::size_t kMaxFileBytes = 64 << 10;  // the config file
inline constexpr std::size_t kMinKeyBytes = 16;         // shorter keys are guessable
inline constexpr std::size_t kMaxKeyBytes = 4096;
}  // namespace gateway_limits

struct GatewayConfig {
  std::string id;                         // gateway.id; required
  std::string listen = "127.0.0.1:9300";  // gateway.listen
  std::string secret_file;                // gateway.secret_file, absolute; required
  std::string secret;                     // its content: the HMAC key. Never log or answer it.
  std::uint32_t table = 254;              // gateway.table: "main" = 254
  // gateway.max_skew: the largest |our clock - X-Linewatch-Timestamp|. Default 30s.
  Duration max_skew = std::chrono::seconds(30);
  std::string data_dir = "/var/lib/linewatch-gateway";  // gateway.data_dir, absolute
  // gateway.reconcile: interval between drift checks of the routing table. Default 5s.
  Duration reconcile = std::chrono::seconds(5);
  std::string source_path;  // the file it came from
};

// Reads and validates the file at `path`. Failure: io for a file that is
// missing, unreadable or a directory; invalid_argument for everything else
// (including a file above kMaxFileBytes), formatted as above.
Result<GatewayConfig> load_gateway_config_file(const std::string& path);

// As load_gateway_config_file, for text already in memory; `name` stands for
// the file in messages and relative paths resolve against its directory.
Result<GatewayConfig> load_gateway_config_string(std::string_view yaml, const std::string& name);

}  // namespace linewatch
