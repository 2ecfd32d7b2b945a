"""The FastAPI app serving recommendation, similar-item, matching and size-fit endpoints (planned)."""
