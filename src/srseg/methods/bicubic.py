"""Bicubic LR (research task 1): the HR-trained PSPNet on the Pillow-bicubic ×s upscale of the LR image
(``degrade``), the baseline SR must beat."""

from srseg.methods.base import BICUBIC_COLOUR, Method, register

METHOD = register(Method("bicubic", "bicubic LR", BICUBIC_COLOUR, "o", stage="degrade", images="bicubic",
                         segmenter="hr", scales="scales", group="chain", quality=True))
