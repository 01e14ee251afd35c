"""Deployment tooling: dashboard generator, manifest renderer, image build helpers."""
