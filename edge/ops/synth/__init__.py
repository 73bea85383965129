"""Generators of test and benchmark material: random-weight models of real shapes, synthetic meetings."""
