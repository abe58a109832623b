%% Reads DIR/0.txt .. DIR/(N-1).txt at once: one process each, calling
%% file:read_file and sending the size to the parent, which sums N messages.
%% Prints N and the total bytes read (the files are ASCII), then the
%% milliseconds from the first spawn to the last message. The peer of
%% bench/io/read_files.weft.
%%
%%   erlc read_files.erl && erl -noshell -run read_files main DIR N
-module(read_files).
-export([main/1]).

main([Dir, Arg]) ->
    N = list_to_integer(Arg),
    Start = erlang:monotonic_time(millisecond),
    Self = self(),
    [spawn(fun() -> Self ! {read, read(Dir, I)} end) || I <- lists:seq(0, N - 1)],
    Total = collect(N, 0),
    io:format("~b ~b~n", [N, Total]),
    io:format("elapsed_ms ~b~n", [erlang:monotonic_time(millisecond) - Start]),
    erlang:halt().

read(Dir, I) ->
    {ok, Data} = file:read_file(filename:join(Dir, integer_to_list(I) ++ ".txt")),
    byte_size(Data).

collect(0, Total) -> Total;
collect(N, Total) ->
    receive {read, Size} -> collect(N - 1, Total + Size) end.
