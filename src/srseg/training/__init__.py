"""The training engine shared by every trained model: the loop with DVCLive and atomic saves (:mod:`.loop`),
the criteria (:mod:`.losses`; the joint model's, with DSRL's feature affinity, in :mod:`.joint`), the
learning-rate schedules (:mod:`.schedules`) and the PSPNet recipes' optimizer (:mod:`.optimizers`)."""
