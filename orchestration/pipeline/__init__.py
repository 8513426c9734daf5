"""The daily pipeline as Dagster sees it: assets, checks, resources, schedule, run recovery and logs."""
