"""Semantic segmentation with PSPNet: data pipelines (:mod:`.data`), the training recipe (:mod:`.train`),
inference (:mod:`.infer`), the Cityscapes-protocol evaluation (:mod:`.evaluate`) and the stages (:mod:`.pipeline`)."""
