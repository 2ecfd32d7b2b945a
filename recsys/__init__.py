"""Recommenders from interaction logs: data, models, training, evaluation, FAISS index, tracking."""
