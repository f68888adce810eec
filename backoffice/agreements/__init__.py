"""Agreements: texts and requirement rules, H5 reading, signing with an SMS code, signed PDFs."""
