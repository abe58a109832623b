%% Counting (Savina): a producer sends 3,000,000 increments (1, 2, ...,
%% 3,000,000) to a counter process, then asks for the total and waits for
%% the reply. Prints 4500001500000, like bench/actors/counting.weft.
%%
%%   erlc counting.erl && erl -noshell +S N:N -run counting main
-module(counting).
-export([main/0]).

-define(N, 3000000).

main() ->
    Counter = spawn(fun() -> counter(0) end),
    produce(Counter, 1),
    Counter ! {get, self()},
    receive {total, Total} -> io:format("~b~n", [Total]) end,
    erlang:halt().

produce(_Counter, I) when I > ?N -> ok;
produce(Counter, I) -> Counter ! {increment, I}, produce(Counter, I + 1).

counter(Total) ->
    receive
        {increment, I} -> counter(Total + I);
        {get, From} -> From ! {total, Total}, counter(Total)
    end.
