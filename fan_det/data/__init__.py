"""Tiny datasets for tests and the demo: fetched raw material, deterministic builders, registration."""
