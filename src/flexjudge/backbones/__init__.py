"""Backbones: loading, freezing, and provisioning of the small embedded default and tiny test models."""
