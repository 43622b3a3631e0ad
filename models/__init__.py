"""Learned components: classifiers, detectors, forecasters, meta-classifier, router, registry."""
