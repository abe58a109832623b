// An example host: a C++ program that runs a Weft script and gives it two
// functions of its own.
//
//   host/word_count  a plain function: counts the words of a string.
//   host/lookup      an async function: the script gets a future at once;
//                    one of the host's own worker threads settles it later
//                    (as a database driver or an RPC library would).
//
// The script asks for 1,000 lookups at once from 1,000 tasks; the host's
// four threads answer them in whatever order they come, and the script
// awaits all of them. Nothing blocks a Weft worker while the host works.
#include <weft/weft.h>

#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "host_pool.h"

namespace {

constexpr const char* kScript = R"weft(
(var text "the quick brown fox jumps over the lazy dog")
(println "words:" (host/word_count text))
(var lookups ((range 1000) .map (fn [i] (async (await (host/lookup i))))))
(var total 0)
(for f in lookups (total += ((await f) .get "square")))
(println "lookups:" lookups/.size "sum of squares:" total)
(try (await (host/lookup -1))
  catch HostException (println "refused:" $ex/message))
total
)weft";

}  // namespace

int main() {
  weft_example::HostPool pool(4);
  weft::embed::EngineOptions options;
  options.threads = 2;
  weft::embed::Engine engine(options);

  engine.register_function("host/word_count", 1, 1,
                           [](const std::vector<weft::embed::Value>& args) {
                             std::istringstream words(args[0].as_string());
                             std::int64_t count = 0;
                             for (std::string word; words >> word;) ++count;
                             return weft::embed::Value(count);
                           });

  engine.register_async_function(
      "host/lookup", 1, 1,
      [&pool](std::vector<weft::embed::Value> args, weft::embed::Promise promise) {
        std::int64_t key = args[0].as_int();
        pool.submit([key, promise] {
          if (key < 0) {
            promise.reject("no record for key " + std::to_string(key));
            return;
          }
          promise.resolve(weft::embed::Value::Map{{"key", key}, {"square", key * key}});
        });
      });

  weft::embed::RunResult result = engine.run_source(kScript, "embedded.weft");
  if (!result.ok()) {
    std::fprintf(stderr, "%s", result.error.c_str());
    return result.exit_code;
  }
  std::printf("the script's value, back in C++: %lld\n",
              static_cast<long long>(result.value.as_int()));
  return 0;
}
