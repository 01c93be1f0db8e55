"""Benchmarks: figures reported as ratios against a bare Bolt app measured in the same run (see README)."""
