// The interactive loop: `weft repl` (and a bare `weft`).
#pragma once

namespace weft {
class Runtime;
}

namespace weft::cli {

// Reads inputs until end of input (Ctrl-D) and gives the exit status.
// Every input is compiled into one Module, so globals declared by one input
// are seen by the next. On a terminal, lines are edited with libedit and
// kept in ~/.weft_history; otherwise standard input is read line by line
// with no prompts, so that a session can be piped in.
int run_repl(Runtime& runtime);

}  // namespace weft::cli
