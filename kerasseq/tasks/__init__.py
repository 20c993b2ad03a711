"""End-to-end tasks (data, models, metrics) behind the command line and the quality benches."""
