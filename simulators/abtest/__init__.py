"""Simulated A/B tests of ranking policies: environment, click model, statistics, reports."""
