"""Shared identity steps: ID card, face and handwritten signature."""
