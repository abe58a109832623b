// Registration of the built-in functions and methods written in C++.
// Each stdlib file registers its own; register_stdlib calls them all.
#pragma once

namespace weft {

class Runtime;

void register_core_builtins(Runtime& runtime);  // println print str typeof freeze exit assert ...
void register_math_builtins(
    Runtime& runtime);  // abs min max floor ceil sqrt rand now now_ms quot range
void register_string_methods(Runtime& runtime);     // .size .upper ... str/join
void register_array_methods(Runtime& runtime);      // .size .add .pop .get .sort ...
void register_map_methods(Runtime& runtime);        // .size .keys .values ...
void register_regex_builtins(Runtime& runtime);     // re/match re/find_all re/replace re/split
void register_json_builtins(Runtime& runtime);      // json/parse json/stringify
void register_file_builtins(Runtime& runtime);      // synchronous io/read io/write ...
void register_async_builtins(Runtime& runtime);     // futures, scopes, timers, atoms
void register_io_async_builtins(Runtime& runtime);  // io/*_async process/run_async
void register_http_builtins(Runtime& runtime);      // http/get_async http/post_async http/serve
void register_tcp_builtins(Runtime& runtime);       // tcp/connect_async tcp/listen, connections
void register_resource_methods(Runtime& runtime);   // .stop of servers and listeners
void register_channel_builtins(Runtime& runtime);   // chan, channel methods, select's core
void register_actor_builtins(Runtime& runtime);     // actor/spawn actor/monitor actor/supervisor
// Methods written in Weft (engine/prelude.cpp); needs the builtins above.
void register_prelude(Runtime& runtime);

inline void register_stdlib(Runtime& runtime) {
  register_core_builtins(runtime);
  register_math_builtins(runtime);
  register_string_methods(runtime);
  register_array_methods(runtime);
  register_map_methods(runtime);
  register_regex_builtins(runtime);
  register_json_builtins(runtime);
  register_file_builtins(runtime);
  register_async_builtins(runtime);
  register_io_async_builtins(runtime);
  register_http_builtins(runtime);
  register_tcp_builtins(runtime);
  register_resource_methods(runtime);
  register_channel_builtins(runtime);
  register_actor_builtins(runtime);
  register_prelude(runtime);
}

}  // namespace weft
