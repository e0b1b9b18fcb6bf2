"""Network definitions: DCSCN super-resolution (:mod:`.dcscn`) and its authors' released weights
(:mod:`.dcscn_release`), the luma/colour layer of SR outputs (:mod:`.ycbcr`), and PSPNet (:mod:`.pspnet`)."""
