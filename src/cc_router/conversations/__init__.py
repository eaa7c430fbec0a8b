"""Conversations on the written channels (web chat, e-mail, SMS): one transcript per
customer thread, each turn of it routed as a task, and the agent's replies sent back over
the channel the customer used."""
