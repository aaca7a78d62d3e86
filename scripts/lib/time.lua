-- Times as Steward hands them to scripts: ISO-8601 in UTC,
-- "2026-11-24T21:13:19.123456Z". Pure arithmetic (days from the civil
-- calendar), so the daemon's own time zone never matters.
local M = {}

local function days_from_civil(y, m, d)
  y = (m <= 2) and (y - 1) or y
  local era = (y >= 0 and y or y - 399) // 400
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = (153 * mp + 2) // 5 + d - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  return era * 146097 + doe - 719468
end

-- Seconds since the epoch, or nil for nil or an unreadable text.
function M.epoch(iso)
  if type(iso) ~= "string" then return nil end
  local y, mo, d, h, mi, s = iso:match("^(%d+)-(%d+)-(%d+)T(%d+):(%d+):(%d+)")
  if not y then return nil end
  return days_from_civil(tonumber(y), tonumber(mo), tonumber(d)) * 86400
         + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(s)
end

-- Whole days between an ISO time and now (nil when the time is nil).
function M.days_since(iso, now)
  local t = M.epoch(iso)
  if not t then return nil end
  return math.max(0, (now - t) / 86400)
end

return M
