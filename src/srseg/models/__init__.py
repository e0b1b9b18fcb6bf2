"""Network definitions: DCSCN super-resolution (:mod:`.dcscn`), its authors' released weights (:mod:`.dcscn_release`)
and its segmentation-conditioned variant (:mod:`.sft_dcscn`), the luma/colour layer of SR outputs (:mod:`.ycbcr`),
PSPNet (:mod:`.pspnet`) and the joint SR + segmentation network (:mod:`.joint`)."""
