"""End-to-end stages joined into the product's jobs (face reconstruction, later create)."""
