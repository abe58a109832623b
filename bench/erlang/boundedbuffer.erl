%% Bounded buffer (Savina's producer-consumer): 20 producers put 200,000
%% items each into a buffer of 50 kept by a manager process; producer p
%% puts p * 200,000 + j for j from 0 to 199,999. A put is acknowledged once
%% the item is in the buffer (or handed to a waiting consumer), so a
%% producer waits while the buffer is full. 20 consumers take items,
%% waiting while it is empty, until the manager answers closed (every
%% producer done and the buffer empty), and sum them. Prints the number of
%% items consumed and their sum, like bench/actors/boundedbuffer.weft.
%%
%%   erlc boundedbuffer.erl && erl -noshell +S N:N -run boundedbuffer main
-module(boundedbuffer).
-export([main/0]).

-define(PRODUCERS, 20).
-define(CONSUMERS, 20).
-define(ITEMS, 200000).
-define(CAPACITY, 50).

main() ->
    Main = self(),
    Buffer = spawn(fun() ->
                       manager(queue:new(), 0, queue:new(), queue:new(), ?PRODUCERS)
                   end),
    [spawn(fun() -> produce(Buffer, P * ?ITEMS, (P + 1) * ?ITEMS) end)
     || P <- lists:seq(0, ?PRODUCERS - 1)],
    [spawn(fun() -> consume(Buffer, 0, 0, Main) end) || _ <- lists:seq(1, ?CONSUMERS)],
    {Count, Sum} = collect(?CONSUMERS, 0, 0),
    io:format("~b ~b~n", [Count, Sum]),
    erlang:halt().

produce(Buffer, End, End) -> Buffer ! producer_done;
produce(Buffer, Item, End) ->
    Buffer ! {put, self(), Item},
    receive put_ok -> produce(Buffer, Item + 1, End) end.

consume(Buffer, Count, Sum, Main) ->
    Buffer ! {take, self()},
    receive
        {item, Item} -> consume(Buffer, Count + 1, Sum + Item, Main);
        closed -> Main ! {tally, Count, Sum}
    end.

collect(0, Count, Sum) -> {Count, Sum};
collect(N, Count, Sum) ->
    receive {tally, C, S} -> collect(N - 1, Count + C, Sum + S) end.

%% Items: the buffer (Size items); Puts: producers waiting to put, as
%% {Pid, Item}; Takers: consumers waiting for an item; Producing: producers
%% not yet done. Takers is non-empty only while Items is, and Puts only
%% while Items is full.
manager(Items, Size, Puts, Takers, Producing) ->
    receive
        {put, Pid, Item} ->
            case queue:out(Takers) of
                {{value, Taker}, Rest} ->
                    Taker ! {item, Item},
                    Pid ! put_ok,
                    manager(Items, Size, Puts, Rest, Producing);
                {empty, _} when Size < ?CAPACITY ->
                    Pid ! put_ok,
                    manager(queue:in(Item, Items), Size + 1, Puts, Takers, Producing);
                {empty, _} ->
                    manager(Items, Size, queue:in({Pid, Item}, Puts), Takers, Producing)
            end;
        {take, Pid} ->
            case queue:out(Items) of
                {{value, Item}, Rest} ->
                    Pid ! {item, Item},
                    case queue:out(Puts) of
                        {{value, {Putter, Next}}, Waiting} ->
                            Putter ! put_ok,
                            manager(queue:in(Next, Rest), Size, Waiting, Takers, Producing);
                        {empty, _} ->
                            manager(Rest, Size - 1, Puts, Takers, Producing)
                    end;
                {empty, _} when Producing == 0 ->
                    Pid ! closed,
                    manager(Items, Size, Puts, Takers, Producing);
                {empty, _} ->
                    manager(Items, Size, Puts, queue:in(Pid, Takers), Producing)
            end;
        producer_done when Producing == 1 ->
            [Taker ! closed || Taker <- queue:to_list(Takers)],
            manager(Items, Size, Puts, queue:new(), 0);
        producer_done ->
            manager(Items, Size, Puts, Takers, Producing - 1)
    end.
