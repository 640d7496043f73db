"""eTest: adaptive placement and certification tests for language-learning platforms."""

__version__ = "0.1.0"
