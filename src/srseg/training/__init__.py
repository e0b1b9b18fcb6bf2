"""The training engine shared by every trained model: the loop with DVCLive and atomic saves (:mod:`.loop`),
the criteria (:mod:`.losses`) and the learning-rate schedules (:mod:`.schedules`)."""
