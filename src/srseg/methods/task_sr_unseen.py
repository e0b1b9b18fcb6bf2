"""Task-driven SR (:mod:`srseg.methods.task_sr`) judged by a segmenter it was not trained through (issue 30): its
images scored by the PSPNet retrained on bicubic images instead of the frozen HR PSPNet whose loss shaped them. A
gain that holds here is a gain for segmentation, not an adaptation to one network; against the plain fine-tune
scored by the same segmenter (:mod:`srseg.methods.ft_sr_unseen`), as :mod:`srseg.methods.task_sr` is against
:mod:`srseg.methods.ft_sr`."""

from srseg.methods.base import Method, register

METHOD = register(Method("task_sr_unseen", "task-driven SR, scored by the bicubic-retrained PSPNet", "#56B4E9", "X",
                         stage="task_sr", images="own", images_of="task_sr", segmenter="retrain_bicubic",
                         scales="combine.scales", group="combine", baseline="ft_sr_unseen", reported=("ft_sr_unseen",)))
