// Debug switches, all in one place. Each is off in normal builds; turn one
// on with -DWEFT_<NAME>=1.
#pragma once

namespace weft::debug {

#ifdef WEFT_TRACE_EXECUTION
// Prints every instruction the interpreter runs, with its registers.
inline constexpr bool kTraceExecution = true;
#else
inline constexpr bool kTraceExecution = false;
#endif

}  // namespace weft::debug
