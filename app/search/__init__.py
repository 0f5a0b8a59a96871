"""Hybrid search: encoders + weights → one Qdrant query → calibrated, exactly re-ranked hits."""
