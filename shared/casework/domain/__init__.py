"""The pure domain: no boto3, no I/O. Clock and ids are passed in."""
