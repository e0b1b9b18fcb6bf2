"""The HR reference: the HR-trained PSPNet (``train_seg``) on the HR val images, the level every method is measured
against."""

from srseg.methods.base import HR_COLOUR, Method, register

METHOD = register(Method("hr", "HR (no downscaling)", HR_COLOUR, "o", stage="download", images="raw", segmenter="hr",
                         scales=None, group="reference"))
