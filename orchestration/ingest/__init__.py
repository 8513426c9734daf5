"""Landing files into the warehouse's raw tables (DuckDB: load.py; Spark: spark.py)."""
