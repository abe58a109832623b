#!/usr/bin/env bash
# The command line's diagnostics, checked on real runs of `weft`:
#   --stats             exact counts for small programs with known work
#   --dump-tasks-after  a dump of every live task, and the program goes on
#   kill -QUIT          the same dump on demand
#   --trace FILE        a consistent Chrome trace (tests/cli/check_trace.py)
#   option values       a bad one is refused with status 64, before any run
# Usage: diagnostics.sh WEFT_BINARY (from the source root).
set -euo pipefail
weft=$1
here=tests/cli
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

# catches PID SIGNAL_NUMBER: waits (at most 20 s) until process PID is weft
# (exec has happened) and has its handler for the signal installed (weft
# installs them on its I/O thread once it runs, so a signal sent earlier
# would kill it with the default action). False if it never does.
catches() {
  local pid=$1 number=$2 mask
  for _ in $(seq 1 400); do
    if [ "$(readlink -f "/proc/$pid/exe" 2> /dev/null)" = "$(readlink -f "$weft")" ]; then
      mask=$(awk '/^SigCgt:/ { print $2 }' "/proc/$pid/status" 2> /dev/null)
      if [ -n "$mask" ] && (((16#$mask >> (number - 1)) & 1)); then return 0; fi
    fi
    sleep 0.05
  done
  return 1
}

# expect_line FILE REGEX: some line of FILE matches the extended regex.
expect_line() {
  if ! grep -Eq -- "$2" "$1"; then
    fail "$1 has no line matching '$2'"
    sed 's/^/    /' "$1"
  fi
}

# --stats: tasks. 1 main + 10 + 1 failing + 1 cancelled = 13 spawned.
"$weft" --stats run "$here/stats_tasks.weft" > "$tmp/out" 2> "$tmp/err" || fail "stats_tasks exited $?"
expect_line "$tmp/out" '^\[0 2 4 6 8 10 12 14 16 18\]$'
expect_line "$tmp/out" '^caught$'
expect_line "$tmp/out" '^true$'
expect_line "$tmp/err" '^weft stats \([0-9]+ workers\)$'
expect_line "$tmp/err" '^  tasks +spawned 13  completed 13  failed 1  cancelled 1  abandoned 0$'
expect_line "$tmp/err" '  I/O +timers 2  files 0  processes 0  tcp 0  http sent 0  http served 0$'
expect_line "$tmp/err" '^  peak +live 1[0-9]  suspended [0-9]+$'
expect_line "$tmp/err" '^  memory +peak resident [0-9.]+ MB$'
expect_line "$tmp/err" '^  time +wall [0-9.]+ s  cpu [0-9.]+ s$'

# --stats: messages. 3 channel sends + 2 actor messages.
"$weft" --stats --threads 2 "$here/stats_messages.weft" > "$tmp/out" 2> "$tmp/err" ||
  fail "stats_messages exited $?"
expect_line "$tmp/out" '^3 30$'
expect_line "$tmp/err" '^  messages +sent 5$'

# --stats with (exit n): the table is still printed, the status kept.
echo '(println "bye") (exit 3)' > "$tmp/exit.weft"
status=0
"$weft" --stats "$tmp/exit.weft" > "$tmp/out" 2> "$tmp/err" || status=$?
[ "$status" = 3 ] || fail "exit.weft: status $status, expected 3"
expect_line "$tmp/out" '^bye$'
expect_line "$tmp/err" '^  tasks +spawned 1 '

# Without --stats nothing is added to stderr.
"$weft" "$here/stats_messages.weft" > "$tmp/out" 2> "$tmp/err" || fail "plain run exited $?"
[ ! -s "$tmp/err" ] || fail "stderr not empty without --stats: $(cat "$tmp/err")"

# --dump-tasks-after: four suspended tasks, then the program finishes.
"$weft" --dump-tasks-after 0.3 "$here/dump_waits.weft" 1500 > "$tmp/out" 2> "$tmp/err" ||
  fail "dump_waits exited $?"
expect_line "$tmp/out" '^done \[1 2 3\]$'
expect_line "$tmp/err" '^weft: task dump: 4 live tasks: 0 running or ready, 4 suspended$'
expect_line "$tmp/err" 'the main program waits for a future no task computes'
expect_line "$tmp/err" 'the task started at .*dump_waits.weft:5 waits for a receive from a channel \(unbounded, 0 queued\) \(for [0-9.]+ s\)$'
expect_line "$tmp/err" '^    at worker \(.*dump_waits.weft:4:'
[ "$(grep -c 'waits for a receive' "$tmp/err")" = 3 ] || fail "expected 3 receivers in the dump"

# --dump-tasks-after with a server: the task that keeps it running and the
# handler's task are named as such, not as the main program.
"$weft" --dump-tasks-after 0.3 "$here/dump_server.weft" 1500 > "$tmp/out" 2> "$tmp/err" ||
  fail "dump_server exited $?"
expect_line "$tmp/out" '^status 200$'
expect_line "$tmp/err" 'the task that keeps the HttpServer running waits for its \.stop \(for [0-9.]+ s\)$'
expect_line "$tmp/err" 'the task running the function at .*dump_server.weft:4 waits for '
[ "$(grep -c 'the main program' "$tmp/err")" = 1 ] || fail "expected one main program in the dump"

# kill -QUIT: the same dump, on demand, and the program goes on.
"$weft" "$here/dump_waits.weft" 3000 > "$tmp/out" 2> "$tmp/err" &
pid=$!
catches "$pid" 3 || fail "dump_waits never caught SIGQUIT"
# Wait until the workers are suspended (the script prints nothing before),
# then ask for dumps until one has all four tasks.
for _ in $(seq 1 100); do
  sleep 0.05
  kill -QUIT "$pid" 2> /dev/null || break
  if grep -q '4 suspended' "$tmp/err"; then break; fi
done
status=0
wait "$pid" || status=$?
[ "$status" = 0 ] || fail "dump_waits under kill -QUIT exited $status"
expect_line "$tmp/out" '^done \[1 2 3\]$'
expect_line "$tmp/err" '^weft: task dump: 4 live tasks: 0 running or ready, 4 suspended$'

# --trace: a Chrome trace of a mixed program, at 1, 2 and 8 workers, checked
# for consistency by check_trace.py (segments, flows, I/O slices, names).
for threads in 1 2 8; do
  if "$weft" --threads "$threads" --trace "$tmp/trace.json" "$here/trace_mixed.weft" > "$tmp/out" 2> "$tmp/err"; then
    expect_line "$tmp/out" '^64 190 5 true traced$'
    python3 "$here/check_trace.py" "$tmp/trace.json" \
      --name '^tree .*trace_mixed.weft:6$' --name '^<async> .*trace_mixed.weft:9$' \
      --name '^<main> .*trace_mixed.weft$' \
      --io '^sleep 20 ms$' --io '^io/read_async tests/cli/trace_mixed.weft$' \
      --io '^process/run_async /bin/echo$' || fail "trace at $threads workers is inconsistent"
  else
    fail "trace_mixed at $threads workers exited $?: $(cat "$tmp/err")"
  fi
done

# --trace to a file that cannot be written: status 73, the output kept.
status=0
"$weft" --trace /nonexistent-dir/trace.json "$here/trace_mixed.weft" > "$tmp/out" 2> "$tmp/err" || status=$?
[ "$status" = 73 ] || fail "unwritable trace: status $status, expected 73"
expect_line "$tmp/out" '^64 190 5 true traced$'
expect_line "$tmp/err" "^weft: cannot write trace '/nonexistent-dir/trace.json': No such file or directory$"

# Interrupted while stdout is a file: what the program printed is written
# before it dies of the signal (status 128 + 2).
# The script writes a file once "before" is printed (into stdout's buffer).
printf '(println "before")\n(io/write "%s" "")\n(loop 1)\n' "$tmp/printed" > "$tmp/busy.weft"
"$weft" "$tmp/busy.weft" > "$tmp/out" 2> "$tmp/err" &
busy=$!
catches "$busy" 2 || fail "busy.weft never caught SIGINT"
for _ in $(seq 1 400); do [ -e "$tmp/printed" ] && break; sleep 0.05; done
kill -INT "$busy"
status=0
wait "$busy" || status=$?
[ "$status" = 130 ] || fail "SIGINT: status $status, expected 130"
expect_line "$tmp/out" '^before$'

# Deadlocked tasks that wait again in their finally blocks are reported
# and left: the process still ends, status 70, the output kept.
printf '(println "start")\n(try (await (new Future)) finally (await (new Future)))\n' > "$tmp/left.weft"
status=0
timeout 60 "$weft" "$tmp/left.weft" > "$tmp/out" 2> "$tmp/err" || status=$?
[ "$status" = 70 ] || fail "tasks left: status $status, expected 70"
expect_line "$tmp/out" '^start$'
expect_line "$tmp/err" 'did not end when cancelled; they are left$'

# Standard output that cannot be written is an error (74), not a success.
status=0
"$weft" "$here/stats_messages.weft" > /dev/full 2> "$tmp/err" || status=$?
[ "$status" = 74 ] || fail "stdout on /dev/full: status $status, expected 74"
expect_line "$tmp/err" '^weft: cannot write standard output: No space left on device$'

# A directory given as the script: status 66 and why.
status=0
mkdir "$tmp/dir.weft"
"$weft" "$tmp/dir.weft" > "$tmp/out" 2> "$tmp/err" || status=$?
[ "$status" = 66 ] || fail "a directory as the script: status $status, expected 66"
expect_line "$tmp/err" "^weft: cannot run '.*dir.weft': Is a directory$"

# A failure in a built-in run as a handler is reported without the
# prelude's frame that called it.
"$weft" "$here/builtin_handler.weft" > "$tmp/out" 2> "$tmp/err" || fail "builtin_handler exited $?"
expect_line "$tmp/out" '^500$'
expect_line "$tmp/err" '^http/serve: the handler failed: TypeException: json/parse expects a String, got Map$'

# An option value that is not a number, or out of range: status 64 and why
# (not a run: nan and inf would have been taken as a number of seconds).
bad_option() {
  local message=$1
  shift
  status=0
  "$weft" "$@" "$here/stats_messages.weft" > "$tmp/out" 2> "$tmp/err" || status=$?
  [ "$status" = 64 ] || fail "weft $*: status $status, expected 64"
  expect_line "$tmp/err" "$message"
  [ ! -s "$tmp/out" ] || fail "weft $* ran the script"
}
bad_option "^--dump-tasks-after: 'nan' is not a number of seconds$" --dump-tasks-after nan
bad_option "^--dump-tasks-after: 'inf' is not a number of seconds$" --dump-tasks-after inf
bad_option "^--dump-tasks-after: '-1' is not from 0 to 1000000 seconds$" --dump-tasks-after -1
bad_option "^--threads: 'two' is not a whole number$" --threads two
bad_option "^--threads: 0 is not from 1 to 1024$" --threads 0

if [ "$failures" -gt 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "diagnostics: all checks passed"
