-- Thank the customer after each purchase, once per purchase.
return {
  name = "thank-you",
  description = "Thank the customer after each purchase",
  on = { "purchase" },
  run = function(customer, event)
    steward.send{ customer = customer, channel = "email",
                  template = "thank_you", key = "thanks:" .. event.id,
                  data = { amount = event.amount or 0 } }
  end,
}
