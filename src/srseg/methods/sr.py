"""SR, chained (research task 2a): the pretrained DCSCN ×s (``pretrain_sr``, ``super_resolve``), then the HR-trained
PSPNet on its images, against bicubic at the same scale."""

from srseg.methods.base import SR_COLOUR, Method, register

METHOD = register(Method("sr", "SR (DCSCN)", SR_COLOUR, "s", stage="super_resolve", images="sr", segmenter="hr",
                         scales="scales", group="chain", baseline="bicubic", quality=True))
