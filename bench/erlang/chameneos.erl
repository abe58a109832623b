%% Chameneos (Savina's chameneos-redux): 10 creature processes ask a mall
%% process for a meeting, sending their pid and colour. The mall keeps one
%% waiting creature; the next request pairs it with the requester and sends
%% each the other's colour. A creature counts the meeting, takes the
%% complement of the two colours (its own when they are equal, else the
%% third) and asks again. After 300,000 meetings the mall answers every
%% request, and the creature still waiting, with stop, and a stopped
%% creature reports how many meetings it had. Prints the sum of the
%% reports, 2 x 300,000, like bench/actors/chameneos.weft.
%%
%%   erlc chameneos.erl && erl -noshell +S N:N -run chameneos main
-module(chameneos).
-export([main/0]).

-define(CREATURES, 10).
-define(MEETINGS, 300000).

main() ->
    Main = self(),
    Mall = spawn(fun() -> mall(0, none) end),
    [spawn(fun() -> Mall ! {meet, self(), I rem 3}, creature(Mall, I rem 3, 0, Main) end)
     || I <- lists:seq(0, ?CREATURES - 1)],
    io:format("~b~n", [collect(?CREATURES, 0)]),
    erlang:halt().

collect(0, Total) -> Total;
collect(N, Total) -> receive {report, Count} -> collect(N - 1, Total + Count) end.

%% Colours are 0 (blue), 1 (red) and 2 (yellow).
complement(A, A) -> A;
complement(A, B) -> 3 - A - B.

mall(?MEETINGS, Waiting) ->
    receive
        {meet, Pid, _Color} ->
            Pid ! stop,
            case Waiting of
                {WaitingPid, _} -> WaitingPid ! stop;
                none -> ok
            end,
            mall(?MEETINGS, none)
    end;
mall(Met, none) ->
    receive {meet, Pid, Color} -> mall(Met, {Pid, Color}) end;
mall(Met, {WaitingPid, WaitingColor}) ->
    receive
        {meet, Pid, Color} ->
            WaitingPid ! {met, Color},
            Pid ! {met, WaitingColor},
            mall(Met + 1, none)
    end.

creature(Mall, Color, Count, Main) ->
    receive
        {met, Other} ->
            NewColor = complement(Color, Other),
            Mall ! {meet, self(), NewColor},
            creature(Mall, NewColor, Count + 1, Main);
        stop ->
            Main ! {report, Count}
    end.
