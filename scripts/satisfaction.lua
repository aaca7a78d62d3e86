-- Ask how it went a week after a purchase, unless the customer opened a
-- ticket since: then they have told us already, and support is on it.
local time = require("lib.time")

local DAYS_AFTER = 7

return {
  name = "satisfaction",
  description = "Satisfaction follow-up a week after a purchase, unless a ticket was opened since",
  on = { "purchase" },
  run = function(customer, event)
    if event.kind == "purchase" then
      steward.follow_up{ customer = customer, after = DAYS_AFTER * 86400,
                         key = tostring(event.id),
                         data = { purchase_id = event.id,
                                  purchased_at = event.occurred_at } }
      return
    end
    -- The follow-up, DAYS_AFTER later.
    local since = time.epoch(event.data.purchased_at) or 0
    local tickets = steward.events(customer.id, { kind = "ticket_opened",
                                                  since = since, limit = 1 })
    if #tickets > 0 then
      steward.log("info", "no survey: a ticket was opened after purchase "
                  .. event.data.purchase_id)
      return
    end
    steward.send{ customer = customer, channel = "email",
                  template = "satisfaction",
                  key = "satisfaction:" .. event.data.purchase_id }
  end,
}
