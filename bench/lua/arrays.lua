-- Arrays: fill 1,000,000 integers and sum them, sort 200,000 pseudo-random
-- integers, then map and filter the big array.
-- Checksum: sum + smallest + median + largest sorted + size of the filtered array.
local n = 1000000
local a = {}
for i = 0, n - 1 do
  a[i + 1] = i * 7919 % 1000003
end

local sum = 0
for _, x in ipairs(a) do
  sum = sum + x
end

local b = {}
local seed = 42
for i = 1, 200000 do
  seed = (seed * 1103515245 + 12345) % 2147483648
  b[i] = seed
end
table.sort(b)

local doubled = {}
for i, x in ipairs(a) do
  doubled[i] = x * 2
end
local picked = {}
for _, x in ipairs(doubled) do
  if x % 3 == 0 then
    picked[#picked + 1] = x
  end
end

print(sum + b[1] + b[100001] + b[#b] + #picked)
