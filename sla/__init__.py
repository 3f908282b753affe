"""SLA policies, business-hours calendars, durable timers and escalations."""
