"""Serves one registry version over gRPC. Reads artifacts; never imports the trainer."""
