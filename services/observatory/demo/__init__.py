"""Webshop traffic: a deterministic generator (pure) and a sender that POSTs it to ingest."""
