"""Publishing for BI: the atomic swap of a read-only DuckDB file, Parquet per mart and the docs site."""
