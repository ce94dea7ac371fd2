"""Talking head: animate one portrait image from a 6-value pose (Talking Head Anime)."""
