"""The plain SR fine-tune (:mod:`srseg.methods.ft_sr`) scored by a segmenter no SR method was trained through: the
PSPNet retrained on bicubic images (:mod:`srseg.methods.retrain_bicubic`). The control of
:mod:`srseg.methods.task_sr_unseen`; against its baseline, the same segmenter on bicubic images, it says whether the
fine-tuned SR images help a segmenter made for degraded input."""

from srseg.methods.base import Method, register

METHOD = register(Method("ft_sr_unseen", "SR fine-tune, scored by the bicubic-retrained PSPNet", "#BBBBBB", "p",
                         stage="finetune_sr", images="own", images_of="ft_sr", segmenter="retrain_bicubic",
                         scales="combine.scales", group="combine", baseline="retrain_bicubic"))
