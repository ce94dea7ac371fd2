"""Fitting the body model to photos: landmark embeddings, face fitting."""
