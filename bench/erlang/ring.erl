%% Thread ring: 1,000 processes in a ring pass a token that counts its hops;
%% the process that receives the token at 1,000,000 hops (1,000 laps)
%% reports it. Prints 1000000, like bench/actors/ring.weft.
%%
%%   erlc ring.erl && erl -noshell +S N:N -run ring main
-module(ring).
-export([main/0]).

-define(ACTORS, 1000).
-define(HOPS, 1000000).

main() ->
    Main = self(),
    %% Each process is spawned knowing its successor, from the last to the
    %% first; the last one learns the first (its successor) by a message.
    Last = spawn(fun() -> receive {next, First} -> node(First, Main) end end),
    First = lists:foldl(fun(_, Next) -> spawn(fun() -> node(Next, Main) end) end,
                        Last, lists:seq(2, ?ACTORS)),
    Last ! {next, First},
    First ! 0,
    receive {done, Token} -> io:format("~b~n", [Token]) end,
    erlang:halt().

node(Next, Main) ->
    receive
        ?HOPS -> Main ! {done, ?HOPS};
        Token -> Next ! Token + 1, node(Next, Main)
    end.
