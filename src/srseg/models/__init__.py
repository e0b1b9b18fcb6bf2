"""Network definitions: DCSCN super-resolution (:mod:`.dcscn`), the PSPNet segmentation network
(:mod:`.pspnet`) and the joint SR + segmentation network (:mod:`.joint`)."""
