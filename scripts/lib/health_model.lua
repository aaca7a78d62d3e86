-- The health model shared by health.lua (which stores the score) and
-- churn_risk.lua (which acts on it). A 0-100 score as the sum of five
-- factors, each with its contribution kept so a person can see why.
local time = require("lib.time")

local M = {}

M.weights = { recency = 35, frequency = 25, spend_trend = 15,
              open_tickets = 10, nps = 15 }

local DAY = 86400

-- Revenue in [from, to) from the purchase events the script can read.
local function revenue_between(purchases, from, to)
  local total = 0
  for _, e in ipairs(purchases) do
    local t = time.epoch(e.occurred_at)
    if t and t >= from and t < to then total = total + (e.amount or 0) end
  end
  return total
end

function M.score(customer)
  local now = steward.now()
  local w = M.weights
  local f = {}

  -- Recency: full marks for a purchase today, halving every 45 days.
  local days = time.days_since(customer.last_purchase_at, now)
  f.recency = days and w.recency * 0.5 ^ (days / 45) or 0

  -- Frequency: diminishing returns, a dozen purchases is full marks.
  local count = customer.purchase_count or 0
  f.frequency = w.frequency * math.min(1, math.log(1 + count) / math.log(13))

  -- Spend trend: the last 90 days against the 90 before.
  local purchases = steward.events(customer.id, { kind = "purchase",
                                                  since = now - 180 * DAY,
                                                  limit = 1000 })
  local recent = revenue_between(purchases, now - 90 * DAY, now + DAY)
  local before = revenue_between(purchases, now - 180 * DAY, now - 90 * DAY)
  local base = math.max(recent, before)
  local trend = base > 0 and (recent - before) / base or 0
  f.spend_trend = w.spend_trend * (0.5 + 0.5 * trend)

  -- Open tickets: each one open costs half.
  local open = customer.open_tickets or 0
  f.open_tickets = w.open_tickets * math.max(0, 1 - open / 2)

  -- NPS: promoters full, passives two thirds, detractors little; unknown
  -- is neutral.
  local nps = customer.last_nps
  if nps == nil then f.nps = w.nps / 2
  elseif nps >= 9 then f.nps = w.nps
  elseif nps >= 7 then f.nps = w.nps * 2 / 3
  else f.nps = w.nps * nps / 20 end

  local total = 0
  for k, v in pairs(f) do
    f[k] = math.floor(v * 10 + 0.5) / 10
    total = total + v
  end
  local score = math.max(0, math.min(100, math.floor(total + 0.5)))
  local risk = score < 35 and "high" or (score < 60 and "medium" or "low")
  return score, f, risk
end

return M
