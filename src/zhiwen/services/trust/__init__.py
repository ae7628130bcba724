"""The audit log, personal data (export, erasure, retention), sealed secrets, backup checks."""
