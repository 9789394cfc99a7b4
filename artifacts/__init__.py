"""The on-disk contract between the trainer (which writes it) and the service (which reads it).

Holds the registry layout (versions, manifest, checksums, the `production` pointer) and
the text analyzer whose tokens the stored TF-IDF vocabulary is made of. Nothing here
knows pandas, gRPC or the models.
"""
