"""`sluice demo`: a whole rollout on this machine, with real processes, real traffic and real analysis."""
