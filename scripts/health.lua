-- Health: a 0-100 score per customer with the contribution of each factor,
-- recomputed on every event that can change it and kept with its history.
-- The model is lib/health_model.lua: how likely the customer is to buy
-- again within 90 days. Replace either file to score customers your own
-- way, and check the result with `stewardctl report backtest`.
local model = require("lib.health_model")

return {
  name = "health",
  description = "Recompute the customer's health score on each relevant event",
  on = { "purchase", "refund", "ticket_opened", "ticket_closed", "survey",
         "login" },
  run = function(customer, event)
    local score, factors, risk = model.score(customer)
    steward.set_health{ customer = customer, score = score,
                        factors = factors, risk = risk }
  end,
}
