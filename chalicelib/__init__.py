"""s3-403-doctor."""
