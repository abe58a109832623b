-- Tables with string keys: 200,000 inserts, 200,000 lookups (one in three
-- hits), 100,000 deletes, then a walk over the remaining entries.
-- Checksum: "size hits sum-of-hit-values sum-of-remaining-values".
local n = 200000
local m = {}
for i = 0, n - 1 do
  m["key" .. i] = i
end

local hits, hit_sum = 0, 0
for i = 0, n - 1 do
  local v = m["key" .. (i * 3)]
  if v ~= nil then
    hits = hits + 1
    hit_sum = hit_sum + v
  end
end

for i = 0, n - 1 do
  if i % 2 == 0 then
    m["key" .. i] = nil
  end
end

local size, rest = 0, 0
for _, v in pairs(m) do
  size = size + 1
  rest = rest + v
end

print(size .. " " .. hits .. " " .. hit_sum .. " " .. rest)
