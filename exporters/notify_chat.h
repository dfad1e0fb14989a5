// The chat robots' requests (WeCom, DingTalk, Feishu) for format() in
// exporters/notify.h, with each robot's length limit and signature.
//
// Every message starts with "[linewatch]", so a robot whose security setting
// asks for a keyword can be given "linewatch". The facts come first and the
// summary (the only text of unbounded length) last, so a cut for a length
// limit takes the summary's end before anything else.
//
// All functions are pure and thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "exporters/notify.h"

namespace linewatch::notify {

// WeCom: markdown.content is at most 4096 bytes of UTF-8 (the robot's documented bound).
inline constexpr std::size_t kWecomContentLimit = 4096;
// DingTalk: the robot documents no byte bound for markdown.text; 20000 bytes
// is the bound commonly given for it and far more than an alert needs.
inline constexpr std::size_t kDingtalkTextLimit = 20000;
// DingTalk: markdown.title is only the conversation list's preview.
inline constexpr std::size_t kDingtalkTitleLimit = 64;
// Feishu: a custom robot's request body is at most 20 KB; 20000 bytes is within
// that whether KB means 1000 or 1024.
inline constexpr std::size_t kFeishuBodyLimit = 20000;
// Feishu: the card's header line.
inline constexpr std::size_t kFeishuTitleLimit = 256;

HttpPost wecom_post(const Notification& n, const Secrets& s);
HttpPost dingtalk_post(const Notification& n, const Secrets& s, WallTime now);
HttpPost feishu_post(const Notification& n, const Secrets& s, WallTime now);

// DingTalk's sign for `timestamp_ms`:
// base64(HMAC-SHA256(key = secret, message = "<timestamp_ms>\n<secret>")),
// before URL encoding.
std::string dingtalk_sign(std::string_view secret, long long timestamp_ms);

// Feishu's sign for `timestamp_s`:
// base64(HMAC-SHA256(key = "<timestamp_s>\n<secret>", message = "")).
std::string feishu_sign(std::string_view secret, long long timestamp_s);

}  // namespace linewatch::notify
