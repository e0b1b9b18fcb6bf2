"""The SR-retrained PSPNet (:mod:`srseg.methods.retrain_sr`) on HR val images: what retraining on SR images costs on
the images it was not trained for, against the HR-trained PSPNet."""

from srseg.methods.base import Method, register

METHOD = register(Method("retrain_sr_on_hr", "SR ×{s}-trained PSPNet on HR val", "#CC79A7", "v", stage="retrain_seg",
                         images="raw", segmenter="retrain_sr", scales="seg.retrain_scales", group="retrain",
                         baseline="hr"))
