// `weft test`: the runner for script tests (STYLE.md practice 9).
//
// A test is a .weft file carrying expectation comments:
//   # expect: TEXT         the next line of stdout is exactly TEXT
//                          (`# expect:` alone expects an empty line)
//   # expect error: TEXT   stderr contains TEXT and the status is 65 or 70
//   # expect exit: N       the exit status is N
// Without an error or exit expectation the status must be 0. Each file runs
// in a child process of this same binary (`weft run FILE`), so a crash or
// a hang fails one test instead of the runner.
#pragma once

#include <string>
#include <vector>

namespace weft::cli {

struct TestRunOptions {
  std::vector<std::string> paths;  // folders (searched recursively) or files
  bool verbose = false;            // list every file, not only failures
  int parallel_jobs = 2;
  int timeout_seconds = 60;
  int threads = 0;  // passed on as --threads to every test; 0: the default
};

// Prints one line per failure and then "N passed, N failed"; gives 0 only
// when nothing failed.
int run_tests(const TestRunOptions& options);

}  // namespace weft::cli
