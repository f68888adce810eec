"""Rasa action server package: thin glue between the dialogue and the back-office services."""
