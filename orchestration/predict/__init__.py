"""Predictive models fitted in Python on inputs the dbt project builds; their parameters and
scores are read back as dbt sources (schema model_fits)."""
