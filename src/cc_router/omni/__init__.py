"""Omnichannel work: durable tasks (chat, e-mail, SMS, fax), offers to agent desktops,
SMS keyword campaigns, and the Asterisk glue for fax and SIP MESSAGE.

`cc_router.omni.attach`: `build` makes the parts (whose `routes()` go to the HTTP app),
`install` adds them to a service; wiring.py calls both.
"""
