"""Semantic segmentation with PSPNet: data pipelines (:mod:`.data`), training (:mod:`.train`),
inference (:mod:`.infer`) and the Cityscapes-protocol evaluation (:mod:`.evaluate`)."""
