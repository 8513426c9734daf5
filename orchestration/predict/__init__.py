"""Predictive models fitted outside dbt (their parameters are read back as dbt sources)."""
