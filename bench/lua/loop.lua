-- A 10,000,000-iteration integer loop: the dispatch loop and integer arithmetic.
-- Checksum: the sum of (i * 7 % 13) for i in 0 .. 9,999,999.
local sum = 0
for i = 0, 9999999 do
  sum = sum + i * 7 % 13
end
print(sum)
