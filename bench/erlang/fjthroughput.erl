%% Fork-join throughput (Savina): 60 processes receive 100,000 messages
%% each, sent round-robin by the main process: message m (0 to 99,999) to
%% every process in turn. Process k adds (m * m + k) mod 1009 for each
%% message and, after its 100,000th, reports the sum. Prints the number of
%% messages and the total, like bench/actors/fjthroughput.weft.
%%
%%   erlc fjthroughput.erl && erl -noshell +S N:N -run fjthroughput main
-module(fjthroughput).
-export([main/0]).

-define(ACTORS, 60).
-define(MESSAGES, 100000).

main() ->
    Main = self(),
    Pids = [spawn(fun() -> worker(K, 0, 0, Main) end) || K <- lists:seq(0, ?ACTORS - 1)],
    send_all(0, Pids),
    Total = collect(?ACTORS, 0),
    io:format("~b ~b~n", [?ACTORS * ?MESSAGES, Total]),
    erlang:halt().

send_all(?MESSAGES, _Pids) -> ok;
send_all(M, Pids) ->
    [Pid ! M || Pid <- Pids],
    send_all(M + 1, Pids).

worker(_K, ?MESSAGES, Sum, Main) -> Main ! {sum, Sum};
worker(K, Received, Sum, Main) ->
    receive M -> worker(K, Received + 1, Sum + (M * M + K) rem 1009, Main) end.

collect(0, Total) -> Total;
collect(N, Total) -> receive {sum, S} -> collect(N - 1, Total + S) end.
