"""Developer and operator tools: the local stack, the demo and the admin CLI. Never deployed."""
