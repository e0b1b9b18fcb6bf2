"""The training engine shared by every trained model: the loop with DVCLive and atomic saves (:mod:`.loop`),
the criteria (:mod:`.losses`; the joint model's, with DSRL's feature affinity, in :mod:`.joint`) and the
learning-rate schedules (:mod:`.schedules`)."""
