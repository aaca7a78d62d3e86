-- Churn risk: when an active customer's health falls low, raise an alert
-- for their account manager and move them to at_risk; when it recovers,
-- move them back. Two thresholds (hysteresis) so a customer near the line
-- does not flap between the stages.
local model = require("lib.health_model")

-- The model's risk levels: below 35 the odds of buying again within 90
-- days are under about a third of a typical customer's; from 55 they are
-- better than typical (lib/health_model.lua).
local ENTER_RISK = model.high_risk_below -- active -> at_risk below this
local LEAVE_RISK = model.low_risk_from   -- at_risk -> active at or above this
local RECHECK_DAYS = 60 -- look again if no purchase follows

return {
  name = "churn-risk",
  description = "Alert and move to at_risk when health falls; back to active when it recovers",
  on = { "purchase", "refund", "ticket_opened", "ticket_closed", "survey" },
  run = function(customer, event)
    if event.kind == "purchase" then
      -- Silence is the strongest sign: re-evaluate if nothing follows.
      steward.follow_up{ customer = customer, after = RECHECK_DAYS * 86400,
                         key = "recheck:" .. event.id }
    end
    local score, factors, risk = model.score(customer)
    if customer.stage == "active" and score < ENTER_RISK then
      steward.set_stage{ customer = customer, stage = "at_risk",
                         reason = string.format("health %d below %d",
                                                score, ENTER_RISK) }
      steward.alert{ customer = customer, kind = "churn_risk",
                     severity = "warning",
                     message = string.format("%s is at risk of churning (health %d)",
                                             customer.name, score),
                     data = factors }
    elseif customer.stage == "at_risk" and score >= LEAVE_RISK then
      steward.set_stage{ customer = customer, stage = "active",
                         reason = string.format("health recovered to %d", score) }
    end
  end,
}
