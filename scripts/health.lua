-- Health: a 0-100 score per customer with the contribution of each factor,
-- recomputed on every event that can change it and kept with its history.
-- Replace this file to score customers your own way.
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
