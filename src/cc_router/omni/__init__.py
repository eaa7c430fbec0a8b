"""Omnichannel work: durable tasks (chat, e-mail, SMS, fax), offers to agent desktops,
SMS keyword campaigns, and the Asterisk glue for fax and SIP MESSAGE.

`cc_router.omni.attach.attach(service)` wires it into a service.
"""
