-- Welcome the customer when they enter onboarding.
return {
  name = "welcome",
  description = "Send the welcome message on entering onboarding",
  on = { "stage:onboarding" },
  run = function(customer, event)
    steward.send{ customer = customer, channel = "email",
                  template = "welcome", key = "welcome:" .. customer.id }
  end,
}
