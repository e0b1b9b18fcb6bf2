"""Super-resolution with luma networks: pretraining data (:mod:`.data`) and training (:mod:`.train`), tiled
inference (:mod:`.infer`), the ``super_resolve`` stage (:mod:`.pipeline`) and ``srseg sr-bench`` (:mod:`.bench`)."""
