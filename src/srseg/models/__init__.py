"""Network definitions: DCSCN super-resolution (:mod:`.dcscn`) and the segmentation network."""
