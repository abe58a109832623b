%% N concurrent 100 ms sleeps (default 100,000): one process each, calling
%% timer:sleep and sending its index to the parent, which sums N messages.
%% Prints N and the sum of the indexes, then the milliseconds from the first
%% spawn to the last message. The peer of bench/io/sleep.weft.
%%
%%   erlc sleep.erl && erl -noshell -run sleep main [N]
-module(sleep).
-export([main/0, main/1]).

main() -> main(["100000"]).

main([Arg]) ->
    N = list_to_integer(Arg),
    Start = erlang:monotonic_time(millisecond),
    Self = self(),
    [spawn(fun() -> timer:sleep(100), Self ! {slept, I} end) || I <- lists:seq(0, N - 1)],
    Sum = collect(N, 0),
    io:format("~b ~b~n", [N, Sum]),
    io:format("elapsed_ms ~b~n", [erlang:monotonic_time(millisecond) - Start]),
    erlang:halt().

collect(0, Sum) -> Sum;
collect(N, Sum) ->
    receive {slept, I} -> collect(N - 1, Sum + I) end.
