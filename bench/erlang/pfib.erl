%% Parallel fib(32): above the cutoff of 25 each call spawns a process for
%% fib(n-1), computes fib(n-2) itself and waits for the child's message;
%% below it, plain recursion. Prints 2178309, like
%% bench/concurrency/pfib.weft.
%%
%%   erlc pfib.erl && erl -noshell +S N:N -run pfib main
-module(pfib).
-export([main/0]).

fib(N) when N < 2 -> N;
fib(N) -> fib(N - 1) + fib(N - 2).

pfib(N) when N < 25 -> fib(N);
pfib(N) ->
    Self = self(),
    Ref = make_ref(),
    spawn(fun() -> Self ! {Ref, pfib(N - 1)} end),
    B = pfib(N - 2),
    receive {Ref, A} -> A + B end.

main() ->
    io:format("~b~n", [pfib(32)]),
    erlang:halt().
