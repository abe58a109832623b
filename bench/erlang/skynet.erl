%% Skynet: a 10-ary tree of 1,000,000 leaf processes (111,111 inner ones);
%% each leaf sends its number to its parent and each inner process sums its
%% ten children's messages. Prints 499999500000, like
%% bench/concurrency/skynet.weft. The written form of
%% github.com/atemerev/skynet's Erlang version.
%%
%%   erlc skynet.erl && erl -noshell +S N:N -run skynet main
-module(skynet).
-export([main/0]).

skynet(Parent, Num, 1, _Div) ->
    Parent ! Num;
skynet(Parent, Num, Size, Div) ->
    Self = self(),
    Sub = Size div Div,
    [spawn(fun() -> skynet(Self, Num + I * Sub, Sub, Div) end)
     || I <- lists:seq(0, Div - 1)],
    Parent ! collect(Div, 0).

collect(0, Sum) -> Sum;
collect(N, Sum) ->
    receive Child -> collect(N - 1, Sum + Child) end.

main() ->
    Self = self(),
    spawn(fun() -> skynet(Self, 0, 1000000, 10) end),
    receive Result -> io:format("~b~n", [Result]) end,
    erlang:halt().
