"""The watch side: our own LIST+WATCH of the MRs we own (mrwatch), the memory format of what is kept of each
(record), and the wake-ups and locks of the per-deployment loops (signals).

It depends on nothing in reconcile/: the reconcile wing reads the index and waits on the signals, never the other
way round.
"""
