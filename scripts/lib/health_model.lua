-- The health model shared by health.lua (which stores the score) and
-- churn_risk.lua (which acts on it).
--
-- The score says how likely the customer is to buy again within the next
-- 90 days, on a log-odds scale: 50 is a typical customer (about one chance
-- in three on the Online Retail history, docs/backtest.md) and every 10
-- points doubles the odds (40 halves them). Each factor is the points it
-- adds to or takes from 50, so the score is 50 plus the factors, kept
-- within 0..100: a person sees at once what pulls a customer down.
--
--   recency      silence measured against the customer's own rhythm: the
--                chance they are still a customer at all, as the MBG/NBD
--                model of repeat buying estimates it (0 right after a
--                purchase, down to -90 for a regular who went quiet)
--   frequency    how often they buy (purchases over their tenure): the
--                chance of at least one purchase in 90 days if they are
--                still a customer, against even odds
--   spend        revenue to date against M.reference_revenue
--   season       bought in the same 90 days of the calendar last year
--   open_tickets unresolved support cases
--   nps          the last NPS answer: promoters up, detractors down
--
-- The weights of the first four were fitted once, by logistic regression,
-- on the Online Retail history at three cut-offs (2010-12-01, 2011-03-01,
-- 2011-06-01, 90 days each) and rounded; `stewardctl report backtest`
-- checks them at any cut-off. The history has no tickets or surveys: their
-- weights are a prior, not a fit.
local time = require("lib.time")

local M = {}

local DAY = 86400

-- Points per unit of log-odds: 10 points double the odds.
local POINTS = 10 / math.log(2)

-- Risk levels; churn_risk.lua moves customers on the same lines.
M.high_risk_below = 35
M.low_risk_from = 55

-- Revenue that counts as neither high nor low (in the currency of the
-- amounts recorded): set it to a typical customer's revenue to date.
M.reference_revenue = 500

-- Log-odds of buying again within 90 days, per unit of each term.
M.weights = { recency = 0.9, frequency = 1.4, spend = 0.34, season = 0.4,
              open_ticket = 0.35, promoter = 0.5, detractor_point = 0.15 }

-- The MBG/NBD model of repeat buying (Batislam et al. 2007): purchase
-- rates vary between customers as a gamma(r, alpha) distribution (alpha
-- in days), and after each purchase a customer leaves with a probability
-- drawn from a beta(a, b). Fitted on the same history.
M.mbg = { r = 0.7, alpha = 50, a = 0.25, b = 5 }

local HORIZON_DAYS = 90

-- Chance that a customer with x repeat purchases, the last one tx days
-- after the first, is still a customer tenure days after the first.
local function p_alive(x, tx, tenure)
  local p = M.mbg
  return 1 / (1 + p.a / (p.b + x)
                  * ((p.alpha + tenure) / (p.alpha + tx)) ^ (p.r + x))
end

-- Chance of at least one purchase in the horizon for a customer still
-- there, from the rate their history suggests.
local function p_buy(x, tenure)
  local p = M.mbg
  return 1 - ((p.alpha + tenure) / (p.alpha + tenure + HORIZON_DAYS))
             ^ (p.r + x)
end

-- Whether the customer bought in the days of the calendar a year ago
-- that the horizon covers now (275 to 365 days ago).
local function bought_last_season(customer, now, first, last)
  if not first or first >= now - 275 * DAY or not last
     or last < now - 365 * DAY then
    return false
  end
  local limit = 1000
  local purchases = steward.events(customer.id, { kind = "purchase",
                                                  since = now - 365 * DAY,
                                                  limit = limit })
  for _, e in ipairs(purchases) do
    local t = time.epoch(e.occurred_at)
    if t and t < now - 275 * DAY then return true end
  end
  -- A thousand purchases in nine months: they buy every season.
  return #purchases >= limit
end

local function nps_points(nps)
  local w = M.weights
  if nps == nil then return 0 end
  if nps >= 9 then return POINTS * w.promoter end
  if nps >= 7 then return 0 end
  return -POINTS * w.detractor_point * (7 - nps)
end

function M.score(customer)
  local now = steward.now()
  local w = M.weights
  local f = {}
  local count = customer.purchase_count or 0
  local first = time.epoch(customer.first_purchase_at)
  local last = time.epoch(customer.last_purchase_at)

  -- Without a purchase there is no rhythm yet: scored as a customer whose
  -- first purchase is today (recency 0).
  local x = math.max(0, count - 1)
  local tenure, tx = 0, 0
  if count > 0 and first and last then
    tenure = math.max(0, (now - first) / DAY)
    tx = math.min(tenure, math.max(0, (last - first) / DAY))
  end

  local alive = math.max(p_alive(x, tx, tenure), 0.001)
  f.recency = POINTS * w.recency * math.log(alive)
  f.frequency = POINTS * w.frequency * math.log(p_buy(x, tenure) / 0.5)
  local revenue = math.max(customer.revenue or 0, 1)
  f.spend = POINTS * w.spend * math.log(revenue / M.reference_revenue)
  f.season = bought_last_season(customer, now, first, last)
             and POINTS * w.season or 0
  f.open_tickets = -POINTS * w.open_ticket
                   * math.min(customer.open_tickets or 0, 3)
  f.nps = nps_points(customer.last_nps)

  local total = 50
  for k, v in pairs(f) do
    total = total + v
    f[k] = math.floor(v * 10 + 0.5) / 10
  end
  local score = math.max(0, math.min(100, math.floor(total + 0.5)))
  local risk = score < M.high_risk_below and "high"
               or (score < M.low_risk_from and "medium" or "low")
  return score, f, risk
end

return M
