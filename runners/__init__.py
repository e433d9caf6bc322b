"""Where cells run: ``loop.train`` is the one training loop; ``local`` runs a grid here, ``ray`` on a cluster."""
