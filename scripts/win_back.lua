-- Win-back: two weeks after a customer churned, if they are still gone,
-- send an offer to come back.
return {
  name = "win-back",
  description = "Win-back offer 14 days after churn",
  on = { "stage:churned" },
  delay = "14d",
  run = function(customer, event)
    if customer.stage ~= "churned" then return end
    steward.send{ customer = customer, channel = "email", template = "win_back",
                  key = "winback:" .. event.id }
  end,
}
