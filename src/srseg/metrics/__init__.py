"""Metrics: SR image quality (:mod:`.sr`) and segmentation scores (:mod:`.seg`)."""
