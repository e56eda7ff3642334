"""Command groups of the admin CLI, one module per concept, each exposing ``register(subparsers)``."""
