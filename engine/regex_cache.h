// Compiled RE2 patterns, kept per runtime so that a pattern used in a loop
// is compiled once. Shared by all tasks: lookups and inserts take a mutex
// (compilation happens outside it).
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace re2 {
class RE2;
}

namespace weft {

class RegexCache {
 public:
  RegexCache();
  ~RegexCache();
  // The compiled pattern; throws ArgumentException naming the pattern and
  // RE2's complaint when it does not compile.
  std::shared_ptr<const re2::RE2> get(std::string_view pattern);

 private:
  static constexpr size_t kMaxEntries = 256;
  std::mutex lock_;
  std::unordered_map<std::string, std::shared_ptr<const re2::RE2>> entries_;
};

}  // namespace weft
