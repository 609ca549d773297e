"""What a finished run is turned into for other tools: flat CSV and Parquet tables (`tables`)."""
