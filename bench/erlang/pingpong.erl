%% Ping-pong: two processes pass a number back and forth N times (default
%% 1,000,000 round trips, or the first argument); pong answers each number
%% with the number plus one, and ping stops once the answer reaches N.
%% Prints N, like bench/actors/pingpong.weft.
%%
%%   erlc pingpong.erl && erl -noshell +S N:N -run pingpong main [ROUND_TRIPS]
-module(pingpong).
-export([main/0, main/1]).

main() -> main(["1000000"]).

main([Arg]) ->
    N = list_to_integer(Arg),
    Main = self(),
    Pong = spawn(fun pong/0),
    spawn(fun() -> ping(Pong, 0, N, Main) end),
    receive {done, V} -> io:format("~b~n", [V]) end,
    erlang:halt().

pong() ->
    receive {Ping, V} -> Ping ! V + 1, pong() end.

ping(_Pong, V, N, Main) when V >= N -> Main ! {done, V};
ping(Pong, V, N, Main) ->
    Pong ! {self(), V},
    receive Answer -> ping(Pong, Answer, N, Main) end.
