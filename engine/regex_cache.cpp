#include "engine/regex_cache.h"

#include <re2/re2.h>

#include "engine/exception.h"

namespace weft {

RegexCache::RegexCache() = default;
RegexCache::~RegexCache() = default;

std::shared_ptr<const re2::RE2> RegexCache::get(std::string_view pattern) {
  std::string key(pattern);
  {
    std::lock_guard guard(lock_);
    auto it = entries_.find(key);
    if (it != entries_.end()) return it->second;
  }
  // Compiled outside the lock: a slow pattern does not hold up other tasks.
  // Two tasks compiling the same new pattern both succeed; one copy is kept.
  RE2::Options options;
  options.set_log_errors(false);
  auto compiled =
      std::make_shared<const re2::RE2>(re2::StringPiece(key.data(), key.size()), options);
  if (!compiled->ok()) {
    throw_error(ExcClass::ArgumentException,
                "invalid regular expression '" + key + "': " + compiled->error());
  }
  std::lock_guard guard(lock_);
  // The simplest bound that keeps a loop over ever-new patterns from
  // growing without limit: start over.
  if (entries_.size() >= kMaxEntries) entries_.clear();
  return entries_.emplace(std::move(key), std::move(compiled)).first->second;
}

}  // namespace weft
