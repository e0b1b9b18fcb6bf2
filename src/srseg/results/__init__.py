"""Results: summary, statistics, figures and the report."""
