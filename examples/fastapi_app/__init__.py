"""The answer service: a FastAPI app with no tracing setup of its own (see app.py)."""
