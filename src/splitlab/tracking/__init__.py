"""Tracking: the event model, the tracking client and the web-framework middleware."""
