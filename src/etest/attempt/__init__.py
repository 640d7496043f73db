"""Test delivery: attempts, engines behind one interface, answer scoring and outcomes."""
