-- String building: 200,000 interpolations and concatenations.
-- Each piece is made by formatting and appended to the current line;
-- every 100 pieces the line goes into a table, which is joined at the end.
-- Checksum: the length of the final text.
local parts = {}
local line = ""
for i = 0, 199999 do
  local piece = "item" .. i .. "=" .. (i % 97) .. ";"
  line = line .. piece
  if i % 100 == 99 then
    parts[#parts + 1] = line
    line = ""
  end
end
local text = table.concat(parts, "\n")
print(#text)
