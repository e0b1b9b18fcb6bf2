"""Results: the summary of every stage's metrics, statistics, the figures and the report."""
