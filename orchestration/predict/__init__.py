"""Predictive models fitted in Python on inputs the dbt project builds."""
