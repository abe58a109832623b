// The runtime's own events, counted for --stats in the scheduler's
// per-worker client counters (Scheduler::count_client_event): a count is a
// load and a store on the worker's own cache line, summed only at exit.
#pragma once

namespace weft {

enum class RuntimeEvent : unsigned {
  TaskFailed,         // a task ended by an uncaught exception
  TaskCancelled,      // a task's future was cancelled
  PromiseSettled,     // any future settled (tasks, I/O, promises, replies)
  CallbackRun,        // a .then/.catch/.finally callback was run
  MessageSent,        // an actor message or a channel send delivered
  TimerStarted,       // sleep, await ^timeout, handler deadlines
  FileOperation,      // a file read, write, append, listing, delete
  ProcessStarted,     // process/run_async
  TcpOperation,       // a TCP connect, listen, read or write
  HttpRequestSent,    // an HTTP client request
  HttpRequestServed,  // a request handed to an http/serve handler
  Count,
};

}  // namespace weft
