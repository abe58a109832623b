%% Big (Savina): 120 processes send pings to one another; each ping is
%% answered with a pong, and a process sends its next ping when the pong of
%% the last one arrives, 5,000 pings each. Process i picks the target of
%% each ping with its own LCG, x = (1103515245 x + 12345) mod 2^31 from
%% x = i, as process (i + 1 + (x div 65536) mod 119) mod 120, never itself.
%% A pong carries the index of the process that answered; a process that
%% got all its pongs reports their count and the sum of those indexes.
%% Prints the total pongs and the total sum, like bench/actors/big.weft.
%%
%%   erlc big.erl && erl -noshell +S N:N -run big main
-module(big).
-export([main/0]).

-define(ACTORS, 120).
-define(PINGS, 5000).

main() ->
    Main = self(),
    Pids = [spawn(fun() -> receive {peers, Peers} -> start(I, Peers, Main) end end)
            || I <- lists:seq(0, ?ACTORS - 1)],
    Peers = list_to_tuple(Pids),
    [Pid ! {peers, Peers} || Pid <- Pids],
    {Pongs, Sum} = collect(?ACTORS, 0, 0),
    io:format("~b ~b~n", [Pongs, Sum]),
    erlang:halt().

collect(0, Pongs, Sum) -> {Pongs, Sum};
collect(N, Pongs, Sum) ->
    receive {report, P, S} -> collect(N - 1, Pongs + P, Sum + S) end.

%% State: {I, Peers, Main, X, Sent, Pongs, Sum}.
start(I, Peers, Main) ->
    loop(send_ping({I, Peers, Main, I, 0, 0, 0})).

send_ping({I, Peers, Main, X, Sent, Pongs, Sum}) ->
    X1 = (1103515245 * X + 12345) rem 2147483648,
    Target = (I + 1 + (X1 div 65536) rem (?ACTORS - 1)) rem ?ACTORS,
    element(Target + 1, Peers) ! {ping, I},
    {I, Peers, Main, X1, Sent + 1, Pongs, Sum}.

loop(State = {I, Peers, Main, X, Sent, Pongs, Sum}) ->
    receive
        {ping, From} ->
            element(From + 1, Peers) ! {pong, I},
            loop(State);
        {pong, From} ->
            Next = {I, Peers, Main, X, Sent, Pongs + 1, Sum + From},
            if
                Sent < ?PINGS -> loop(send_ping(Next));
                true -> Main ! {report, Pongs + 1, Sum + From}, loop(Next)
            end
    end.
