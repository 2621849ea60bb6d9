"""Dockerfile audit: multi-stage aware checks on a maintained parser (dockerfile-parse)."""

from depslim.dockerfile.audit import audit_dockerfile, load_rules

__all__ = ["audit_dockerfile", "load_rules"]
