"""Super-resolution with DCSCN: the authors' checkpoints (:mod:`.checkpoint`), inference (:mod:`.infer`),
pretraining data (:mod:`.data`) and training (:mod:`.train`), and the ``super_resolve`` stage (:mod:`.pipeline`)."""
