"""Run the stack on a laptop or in CI without Docker or AWS."""
