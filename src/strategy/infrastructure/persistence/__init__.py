"""Strategy state, warmup history and our tables in the database that holds vnpy's bars."""
