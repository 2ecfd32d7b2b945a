"""User and creator simulators, preference-tuned on real feedback, and the simulated A/B harness (planned)."""
